"""``mod-users cql "QUERY"``: print the SQL a CQL query translates to, for debugging a query.

Usage::

    python -m mod_users.cql.explain 'name==abc* sortBy name' --server-choice name,email \\
        --index name:btree --index name:fulltext --index personal.lastName:gin:respect-case

``--index FIELD:KIND[:respect-case][:respect-accents]`` declares an index the way the storage layer does;
without declarations the translation uses the defaults (case- and accent-insensitive, no index forms).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mod_users.cql.errors import CQLError
from mod_users.cql.indexes import KINDS, Index
from mod_users.cql.translator import Translation, translate


def main(argv: list[str]) -> int:
    """Print where, order by and params of the query in ``argv``; 2 for a bad query, 0 otherwise."""
    try:
        args = _argument_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse already printed
        return int(exit_.code or 0)
    try:
        indexes = [_index(spec) for spec in args.index]
        server_choice = [field for field in args.server_choice.split(",") if field]
        translation = translate(
            args.query, args.json_column, indexes=indexes, server_choice=server_choice, id_column=args.id_column
        )
    except CQLError as err:
        print(f"CQL {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"bad option: {err}", file=sys.stderr)
        return 2
    print(format_translation(translation))
    return 0


def format_translation(translation: Translation) -> str:
    """The translation as readable text: WHERE, ORDER BY and one line per parameter."""
    lines = [f"WHERE    {translation.where}", f"ORDER BY {translation.order_by or '(none)'}"]
    if not translation.params:
        lines.append("PARAMS   (none)")
    for number, value in enumerate(translation.params, start=1):
        label = "PARAMS  " if number == 1 else "        "
        lines.append(f"{label} ${number} = {_show(value)} ({type(value).__name__})")
    return "\n".join(lines)


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _index(spec: str) -> Index:
    field, _, rest = spec.partition(":")
    kind, *flags = rest.split(":") if rest else ("btree",)
    unknown = set(flags) - {"respect-case", "respect-accents"}
    if unknown:
        raise ValueError(f"unknown index flag(s) {', '.join(sorted(unknown))} in {spec!r}")
    return Index(field, kind, case_sensitive="respect-case" in flags, remove_accents="respect-accents" not in flags)


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mod-users cql", description="Show the SQL for a CQL query.")
    parser.add_argument("query", help="the CQL query, e.g. 'name==abc* sortBy name'")
    parser.add_argument("--json-column", default="jsonb", help="the JSONB column (default: jsonb)")
    parser.add_argument("--id-column", default="id", help="the uuid primary-key column (default: id)")
    parser.add_argument("--server-choice", default="", help="comma-separated fields that bare terms search")
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="FIELD:KIND[:FLAGS]",
        help=f"declare an index; KIND is one of {', '.join(KINDS)}; FLAGS respect-case, respect-accents (repeatable)",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    raise SystemExit(main(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    run()
