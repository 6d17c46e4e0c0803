"""A non-editable install ships the contract and finds it (pyproject's data-files, mod_users.config).

Building a wheel needs a build environment from the package index, so the tests check what decides it
instead: every tracked contract file is matched by exactly one data-files entry that puts it at the same
place under share/mod-users/, and the settings find a contract folder in the documented order.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from mod_users import config
from mod_users.config import PROJECT_ROOT, ConfigError, find_contract_dir, load_settings

CONTRACT_FOLDERS = ("ramls", "schemas", "descriptors", "reference-data", "sample-data")


def _tracked_contract_files() -> set[str]:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    out = subprocess.run(
        ["git", "ls-files", "--", *CONTRACT_FOLDERS], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    ).stdout
    return set(out.split())


def _installed_files() -> list[str]:
    """Where each data-files entry installs each file it matches (relative to the prefix)."""
    data_files = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    installed = []
    for dest, patterns in data_files.items():
        for pattern in patterns:
            matches = sorted(glob.glob(pattern, root_dir=PROJECT_ROOT))
            assert matches, f"{pattern} matches nothing"
            for match in matches:
                assert (PROJECT_ROOT / match).is_file(), f"{pattern} matches the folder {match}"
                installed.append(f"{dest}/{Path(match).name}")
    return installed


def test_every_contract_file_is_shipped_where_the_checkout_has_it():
    installed = _installed_files()
    assert len(installed) == len(set(installed)), "a file is installed twice"
    expected = {f"share/mod-users/{path}" for path in _tracked_contract_files()}
    assert set(installed) == expected


def _contract(folder: Path) -> Path:
    for part in ("ramls", "schemas", "descriptors"):
        (folder / part).mkdir(parents=True)
    return folder


def test_the_contract_folder_named_by_the_environment_comes_first(tmp_path):
    chosen = _contract(tmp_path / "mine")
    assert find_contract_dir({"MOD_USERS_CONTRACT_DIR": str(chosen)}) == chosen
    assert load_settings({"MOD_USERS_CONTRACT_DIR": str(chosen)}).contract_dir == chosen
    with pytest.raises(ConfigError, match=r"MOD_USERS_CONTRACT_DIR=.*empty has no ramls/, schemas/, descriptors/"):
        find_contract_dir({"MOD_USERS_CONTRACT_DIR": str(tmp_path / "empty")})


def test_the_checkout_comes_before_the_installed_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "installed_contract_dir", lambda: _contract(tmp_path / "installed"))
    assert find_contract_dir({}) == PROJECT_ROOT


def test_without_a_checkout_the_installed_copy_is_used(tmp_path, monkeypatch):
    installed = _contract(tmp_path / "prefix" / "share" / "mod-users")
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(config, "installed_contract_dir", lambda: installed)
    assert find_contract_dir({}) == installed


def test_without_any_contract_the_error_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(config, "installed_contract_dir", lambda: None)
    with pytest.raises(ConfigError) as error:
        find_contract_dir({})
    message = str(error.value)
    assert "MOD_USERS_CONTRACT_DIR is not set" in message
    assert str(tmp_path / "site-packages") in message and "share/mod-users" in message


# -- the lock, the wheel and the image ------------------------------------------------------------------
CONSTRAINTS = PROJECT_ROOT / "constraints.txt"
NOT_LOCKED = {"pip", "setuptools", "wheel", "mod-users"}  # the installer itself, and this project


def _pins() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version.strip()
    return pins


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_the_installed_environment_is_the_locked_one():
    from importlib import metadata

    pins = _pins()
    installed = {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unlocked = {n: v for n, v in installed.items() if n not in NOT_LOCKED and pins.get(n) != v}
    assert unlocked == {}, "installed but not at a locked version: update constraints.txt (see its header)"


def test_the_lock_satisfies_the_declared_dependencies():
    from packaging.requirements import Requirement

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for spec in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(spec)
        locked = pins.get(_canonical(requirement.name))
        assert locked is not None and requirement.specifier.contains(locked), spec


def test_the_lock_pins_the_build_backend_and_the_image_builds_with_it():
    from packaging.requirements import Requirement

    pins = _pins()
    for spec in tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]:
        requirement = Requirement(spec)
        locked = pins.get(_canonical(requirement.name))
        assert locked is not None and requirement.specifier.contains(locked), spec
    builds = [" ".join(w) for s in _dockerfile_stages().values() for w in s["lines"] if w[0] == "RUN" and "wheel" in w]
    assert builds and all("PIP_CONSTRAINT=/src/constraints.txt" in build for build in builds), builds


def test_the_package_metadata():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and (PROJECT_ROOT / "LICENSE").exists()  # SPDX, PEP 639
    assert project["urls"] and all(url.startswith("https://") for url in project["urls"].values())
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # PEP 639 forbids them


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from the checkout as the image builds it (an isolated build of pyproject's backend)."""
    import os
    import sys

    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_CONSTRAINT": str(CONSTRAINTS)},  # the locked build backend, as the image
    )
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("mod_users-*.whl")
    return found


def test_the_wheel_carries_its_metadata_and_license(wheel):
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta and "Project-URL: " in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert any(n.endswith("share/mod-users/descriptors/ModuleDescriptor-template.json") for n in names)


def test_the_installed_wheel_runs_from_its_own_files(wheel, tmp_path):
    import os
    import sys
    import sysconfig

    prefix = tmp_path / "prefix"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",
            "--prefix",
            str(prefix),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix)}))
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("MOD_USERS_CONTRACT_DIR", None)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "mod_users.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )

    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert run("--version").stdout.strip() == f"mod-users {version}"
    checked = run("descriptor", "--check")
    assert checked.returncode == 0 and checked.stdout.strip() == f"mod-users-{version}: passes", checked.stderr
    located = subprocess.run(
        [sys.executable, "-c", "import mod_users.config as c; print(c.load_settings({}).contract_dir)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert Path(located.stdout.strip()) == prefix / "share" / "mod-users"  # not this checkout


def _dockerfile_stages() -> dict[str, dict]:
    """Each stage of the Dockerfile: what it is built FROM and its instructions (continuations joined)."""
    text = (PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, dict] = {}
    current: dict | None = None
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "FROM":
            current = {"from": words[1], "lines": []}
            stages[words[3] if len(words) > 3 else f"stage{len(stages)}"] = current
        elif current is not None:
            current["lines"].append(words)
    return stages


def _lineage(stages: dict[str, dict], name: str) -> list[dict]:
    chain = []
    while name in stages:
        chain.append(stages[name])
        name = stages[name]["from"]
    return chain


def test_the_dockerfile_copies_only_what_the_checkout_has():
    tracked = _tracked_contract_files() | set(
        subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT).stdout.split()
    )
    for stage in _dockerfile_stages().values():
        for words in stage["lines"]:
            if words[0] == "COPY" and not any(w.startswith("--from") for w in words):
                for source in words[1:-1]:
                    assert source in tracked or any(t.startswith(source.rstrip("/") + "/") for t in tracked), source


def test_the_default_image_is_the_module_alone_as_an_unprivileged_user():
    stages = _dockerfile_stages()
    default = list(stages)[-1]  # docker builds the last stage unless told otherwise
    chain = _lineage(stages, default)
    instructions = [words for stage in chain for words in stage["lines"]]
    users = [words[1] for words in instructions if words[0] == "USER"]
    assert users and users[0] not in ("root", "0")  # the stage's own USER is the last said, listed first
    assert not [w for w in instructions if w[0] == "RUN" and "postgresql" in w]  # no database server
    checks = [" ".join(w) for w in instructions if w[0] == "HEALTHCHECK"]
    assert checks and "/admin/health" in checks[0]
    installs = [" ".join(w) for w in instructions if w[0] == "RUN" and "install" in w]
    assert any("--constraint" in i and ".whl" in i for i in installs)  # the built wheel, from the lock
    assert not [i for i in installs if " -e " in i]
    assert "demo" in stages and any("postgresql" in w for w in stages["demo"]["lines"] if w[0] == "RUN")
