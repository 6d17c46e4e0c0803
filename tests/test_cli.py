"""The `mod-users` command's small subcommands (serve is in test_serve.py)."""

from __future__ import annotations

import subprocess
import sys

from mod_users.config import PROJECT_ROOT


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "mod_users.cli", *args], capture_output=True, text=True, cwd=PROJECT_ROOT
    )


def test_cql_prints_the_translation_with_a_tables_indexes():
    out = _run("cql", "name==Max* sortby name", "--table", "patron_block_conditions")
    assert out.returncode == 0
    assert "left(lower(public.f_unaccent(jsonb->>'name')), 600) LIKE" in out.stdout  # the b-tree's form
    assert "$1 = 'Max%'" in out.stdout


def test_cql_reports_a_bad_query_with_its_column():
    out = _run("cql", "name==")
    assert out.returncode == 2
    assert "column 7" in out.stderr


def test_cql_refuses_an_unknown_table_and_other_commands_unknown_options():
    assert _run("cql", "x", "--table", "nope").returncode == 2
    assert _run("descriptor", "--bogus").returncode == 2


def _readme_commands() -> list[str]:
    """The fenced one-line commands at the top of the README, before its first section."""
    top = (PROJECT_ROOT / "README.md").read_text().split("\n## ", 1)[0]
    blocks = top.split("```")[1::2]
    return [block.strip() for block in blocks]


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    serve, tests = _readme_commands()
    assert serve.endswith("mod-users serve") and "pip install" in serve
    assert tests.endswith("-m pytest") and "'.[test]'" in tests
    assert "-c constraints.txt" in serve and "-c constraints.txt" in tests  # both install the locked versions
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests, "the CI runs something else than the README's test command"
    assert not [line for line in ci[:-1] if line and not line.startswith(("#", "set ", "cd "))]


def test_the_console_script_is_installed_beside_this_python():
    from pathlib import Path

    script = Path(sys.executable).parent / "mod-users"
    assert script.exists(), "pip install did not create the mod-users command"
    out = subprocess.run([str(script), "cql", "name==x"], capture_output=True, text=True)
    assert out.returncode == 0 and "WHERE" in out.stdout.upper()


def test_version_is_the_projects():
    import tomllib

    out = _run("--version")
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (out.returncode, out.stdout.strip()) == (0, f"mod-users {version}")


def test_every_option_of_every_command_has_help():
    from mod_users.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"mod-users {name} {'/'.join(action.option_strings) or action.dest} has no help"
    tenant = _run("tenant", "--help").stdout
    for option in ("--module-to", "--load-reference", "--load-sample", "--data-dir", "init", "purge"):
        assert option in tenant


def test_data_where_and_clean_name_the_folder_serve_uses():
    import os
    import tempfile
    from pathlib import Path

    from mod_users.storage.embedded import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="mod-users-data-"))  # the postgres user (as root) can reach it
    env = {**os.environ, "MOD_USERS_DATA_DIR": str(folder)}

    def data(*args):
        return subprocess.run(
            [sys.executable, "-m", "mod_users.cli", "data", *args], capture_output=True, text=True, env=env
        )

    assert data("where").stdout.strip() == str(folder)
    assert data("clean").stdout.strip() == f"removed {folder}"  # an empty folder
    assert "nothing to clean" in data("clean").stdout
    cluster = EmbeddedPostgres(folder, durable=False)
    cluster.start()  # used by this process, which goes on running
    try:
        listed = data("list").stdout
        assert f"{folder}\t" in listed and f"in use by process {os.getpid()}" in listed
        refused = data("clean")
        assert refused.returncode == 1 and f"in use by mod-users process {os.getpid()}; stop it first" in refused.stderr
        assert (folder / "pgdata" / "PG_VERSION").exists()
    finally:
        cluster.stop()
    assert "not in use" in data("list").stdout
    assert data("clean").stdout.strip() == f"removed {folder}"
    assert not folder.exists()
