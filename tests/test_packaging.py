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
