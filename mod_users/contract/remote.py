"""The contract as a running instance serves it (``/_/ramls``, ``/_/jsonSchemas``), mirrored into a folder.

An instance serves each file with its ``!include``s and ``$ref``s rewritten into links back to those two
routes (see :mod:`mod_users.contract.serving`); the mirror turns each link into the relative path it was,
so that :func:`mod_users.contract.load_contract` reads the copy as it reads ``ramls/`` and ``schemas/``.
That lets ``mod-users contract`` check an instance against the contract it publishes, without a copy of
our files.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from mod_users.contract.serving import INCLUDE


class ContractNotServed(Exception):
    """The instance does not serve its contract, or serves a file that cannot be mirrored."""


async def mirror_contract(base_url: str, headers: Mapping[str, str], into: Path) -> Path:
    """Fetch every schema and every RAML file (with what they include) from the instance at
    ``base_url`` into ``into/schemas`` and ``into/ramls``; return ``into``."""
    base = base_url.rstrip("/")
    async with aiohttp.ClientSession(headers=dict(headers), timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def fetch(api: str, rel: str | None = None) -> str:
            params = {} if rel is None else {"path": rel}
            async with session.get(f"{base}/_/{api}", params=params) as resp:
                text = await resp.text()
                if resp.status != 200:
                    where = f"/_/{api}" + (f"?path={rel}" if rel else "")
                    raise ContractNotServed(f"GET {where} answered {resp.status}: {text[:200]}")
                return text

        for rel in json.loads(await fetch("jsonSchemas")):
            schema = _local_refs(json.loads(await fetch("jsonSchemas", rel)), posixpath.dirname(rel))
            _write(into / "schemas", rel, json.dumps(schema, indent=2))
        pending = list(json.loads(await fetch("ramls")))
        done: set[str] = set()
        while pending:
            rel = pending.pop()
            if rel in done:
                continue
            done.add(rel)
            text = await fetch("ramls", rel)
            if rel.endswith(".raml"):
                text, included = _local_includes(text, posixpath.dirname(rel))
                pending += included
            _write(into / "ramls", rel, text)
    return into


def _link_target(link: str) -> tuple[str, str] | None:
    """``(api, path)`` of a served link (``…/_/ramls?path=x``), or None for anything else."""
    parts = urlsplit(link)
    api = parts.path.rsplit("/_/", 1)[-1] if "/_/" in parts.path else ""
    paths = parse_qs(parts.query).get("path")
    if api not in ("ramls", "jsonSchemas") or not paths:
        return None
    return api, paths[0]


def _local_refs(node: Any, here: str) -> Any:
    """A served schema with its ``$ref`` links made relative to the schema's folder again."""
    if isinstance(node, list):
        return [_local_refs(v, here) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        target = _link_target(value) if key == "$ref" and isinstance(value, str) else None
        if target is not None and target[0] == "jsonSchemas":
            fragment = urlsplit(value).fragment
            out[key] = posixpath.relpath(target[1], here or ".") + (f"#{fragment}" if fragment else "")
        else:
            out[key] = _local_refs(value, here)
    return out


def _local_includes(text: str, here: str) -> tuple[str, list[str]]:
    """A served RAML with its ``!include`` links made relative again, and the RAML files it includes."""
    included: list[str] = []

    def replace(match: re.Match[str]) -> str:
        target = _link_target(match.group(1))
        if target is None:
            return match.group(0)
        api, rel = target
        if api == "ramls":
            included.append(rel)
            return "!include " + posixpath.relpath(rel, here or ".")
        # schemas/ sits beside ramls/: up from this file's folder to ramls/, then over
        return "!include " + posixpath.relpath(posixpath.join("..", "schemas", rel), here or ".")

    return INCLUDE.sub(replace, text), included


def _write(root: Path, rel: str, text: str) -> None:
    """Write ``root/rel``, refusing a served path that would land outside ``root``."""
    normal = posixpath.normpath(rel)
    if normal.startswith(("..", "/")) or normal == ".":
        raise ContractNotServed(f"the instance serves a file outside its contract folders: {rel!r}")
    target = root / normal
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
