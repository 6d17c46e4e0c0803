"""The `mod-users` command's small subcommands (serve is in test_serve.py)."""

from __future__ import annotations

import subprocess
import sys

from mod_users.config import PROJECT_ROOT


def _run(*args):
    return subprocess.run([sys.executable, "-m", "mod_users.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT)


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
