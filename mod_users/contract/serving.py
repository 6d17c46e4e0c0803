"""The contract files as other modules fetch them (RMB's ``/_/jsonSchemas`` and ``/_/ramls``).

A served file points at its neighbours through the gateway: every ``$ref`` of a schema and every
``!include`` of a RAML becomes ``<okapi url>/_/jsonSchemas?path=…`` or ``<okapi url>/_/ramls?path=…``,
so a client can follow them without knowing our folder layout.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mod_users.contract.schemas import SchemaRegistry

# An !include of a RAML file, whose target is rewritten when files are served (and mirrored back).
INCLUDE = re.compile(r"!include\s+(\S+)")


class NotServed(LookupError):
    """The asked-for path is not a contract file (unknown, or outside the contract folders)."""


def _inside(root: Path, rel: str) -> Path:
    """``root/rel`` if it is a file inside ``root``; refuses ``..`` escapes and absolute paths."""
    if not rel or len(rel) > 512 or "\x00" in rel or rel.startswith("/"):
        raise NotServed(rel)
    target = (root / rel).resolve()
    if root.resolve() not in target.parents or not target.is_file():
        raise NotServed(rel)
    return target


def _link(base: str, api: str, rel: str) -> str:
    return f"{base}/_/{api}?path={quote(rel, safe='/-_.')}"


def schema_document(schemas: SchemaRegistry, rel: str, base: str) -> Any:
    """The schema at ``rel`` with every external ``$ref`` pointing at ``/_/jsonSchemas?path=``."""
    try:
        doc = schemas.document(rel)
    except KeyError:
        raise NotServed(rel) from None
    here = posixpath.dirname(rel)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str) and not value.startswith(("#", "http:", "https:")):
                    target, _, fragment = value.partition("#")
                    link = _link(base, "jsonSchemas", posixpath.normpath(posixpath.join(here, target)))
                    out[key] = link + (f"#{fragment}" if fragment else "")
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(doc)


def raml_document(ramls_dir: Path, schemas_dir: Path, rel: str, base: str) -> tuple[str, str]:
    """The text of a file under ``ramls/`` with its ``!include``s rewritten; and its media type."""
    path = _inside(ramls_dir, rel)
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".raml":
        return text, "application/json"
    here = path.parent
    ramls_root, schemas_root = ramls_dir.resolve(), schemas_dir.resolve()

    def replace(match: re.Match[str]) -> str:
        target = (here / match.group(1)).resolve()
        if schemas_root in target.parents:
            return "!include " + _link(base, "jsonSchemas", target.relative_to(schemas_root).as_posix())
        if ramls_root in target.parents:
            return "!include " + _link(base, "ramls", target.relative_to(ramls_root).as_posix())
        return match.group(0)

    return INCLUDE.sub(replace, text), "application/raml+yaml"


def raml_list(ramls_dir: Path) -> list[str]:
    """The module's RAML APIs (the top-level ``*.raml`` files)."""
    return sorted(p.name for p in ramls_dir.glob("*.raml"))
