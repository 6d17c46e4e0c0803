"""The ``mod-users cql`` debugging command."""

from __future__ import annotations

import pytest

from mod_users.cql.explain import main


def test_prints_where_order_by_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["name==abc* and id=1* sortBy name/sort.descending", "--index", "name:btree"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("WHERE    (left(lower(public.f_unaccent(jsonb->>'name')), 600) LIKE ")
    assert out[1] == (
        "ORDER BY left(lower(public.f_unaccent(jsonb->>'name')), 600) DESC, "
        "lower(public.f_unaccent(jsonb->>'name')) DESC"
    )
    assert out[2:] == [
        "PARAMS   $1 = 'abc%' (str)",
        "         $2 = 10000000-0000-0000-0000-000000000000 (UUID)",
        "         $3 = 1fffffff-ffff-ffff-ffff-ffffffffffff (UUID)",
    ]


def test_server_choice_and_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["Lea", "--server-choice", "name,email", "--json-column", "u.data"]) == 0
    out = capsys.readouterr().out
    assert "u.data->>'name'" in out and "u.data->>'email'" in out and "ORDER BY (none)" in out


def test_bad_query_prints_the_error_and_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["name=="]) == 2
    assert capsys.readouterr().err.strip() == (
        "CQL syntax error at column 7: expected a term after '==', got end of query"
    )


@pytest.mark.parametrize(
    "argv",
    [["x=1", "--index", "name:nonsense"], ["x=1", "--index", "name:btree:loud"], ["x=1", "--json-column", "a;b"], []],
)
def test_bad_options_return_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err
