"""The Okapi ModuleDescriptor: filling the template, and matching paths the way Okapi does.

The descriptor is part of the contract: the service reads each route's desired permissions from it,
so what Okapi is told and what the module enforces cannot drift apart.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

ARTIFACT_ID = "mod-users"


def module_version(project_root: Path) -> str:
    """The version in pyproject.toml (the installed package's version when there is no checkout)."""
    pyproject = project_root / "pyproject.toml"
    if pyproject.exists():
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
    return metadata.version(ARTIFACT_ID)


def render_descriptor(template_path: Path, version: str, artifact_id: str = ARTIFACT_ID) -> dict[str, Any]:
    """The ModuleDescriptor with ``${artifactId}`` and ``${version}`` filled in."""
    text = template_path.read_text(encoding="utf-8")
    text = text.replace("${artifactId}", artifact_id).replace("${version}", version)
    return json.loads(text)


# Characters Okapi refuses in a pathPattern, outside and (with "/") inside a {name} (its RoutingEntry).
OKAPI_INVALID_PATH_CHARS = "\\%+{}()[].;:=?@#^$\"' "


class InvalidPathPattern(ValueError):
    """A pathPattern that Okapi would refuse when the descriptor is registered."""


@lru_cache(maxsize=512)
def path_pattern_regex(pattern: str) -> re.Pattern[str]:
    """Okapi's pathPattern rules: ``{x}`` is one or more characters but no slash, ``*`` is anything
    (slashes and nothing included), every other character literal; the whole path must match. A pattern
    Okapi would refuse (one of its reserved characters, or a ``{name}`` unclosed or with a slash) raises
    :class:`InvalidPathPattern`; a dot is reserved, which is why the Polaris routes' first segment is a
    ``{placeholder}``."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "{":
            end = pattern.find("}", i)
            if end < 0:
                raise InvalidPathPattern(f"Missing }}-character for {{}}-construct in pathPattern {pattern}")
            bad = [c for c in pattern[i + 1 : end] if c in OKAPI_INVALID_PATH_CHARS or c == "/"]
            if bad:
                raise InvalidPathPattern(f"Invalid character {bad[0]} inside {{}}-construct in pathPattern {pattern}")
            out.append("[^/]+")
            i = end + 1
            continue
        if ch in OKAPI_INVALID_PATH_CHARS:
            raise InvalidPathPattern(f"Invalid character {ch} for pathPattern {pattern}")
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out))


@dataclass(frozen=True)
class Handler:
    """One routing entry of a provided interface."""

    interface: str
    methods: tuple[str, ...]
    path_pattern: str
    permissions_required: tuple[str, ...]
    permissions_desired: tuple[str, ...]

    def matches(self, method: str, path: str) -> bool:
        if method not in self.methods and "*" not in self.methods:
            return False
        return path_pattern_regex(self.path_pattern).fullmatch(path.split("?", 1)[0]) is not None


def handlers(descriptor: dict[str, Any]) -> list[Handler]:
    """Every handler of every provided interface (a pathPattern Okapi would refuse raises
    :class:`InvalidPathPattern`, so such a descriptor stops start-up as it would stop its registration)."""
    out = []
    for interface in descriptor.get("provides") or ():
        for entry in interface.get("handlers") or ():
            path_pattern_regex(entry.get("pathPattern", ""))  # raises for a pattern Okapi refuses
            out.append(
                Handler(
                    interface=interface["id"],
                    methods=tuple(entry.get("methods") or ()),
                    path_pattern=entry.get("pathPattern", ""),
                    permissions_required=tuple(entry.get("permissionsRequired") or ()),
                    permissions_desired=tuple(entry.get("permissionsDesired") or ()),
                )
            )
    return out


def handler_for(all_handlers: list[Handler], method: str, path: str) -> Handler | None:
    """The handler Okapi would route ``method path`` to, or None."""
    for handler in all_handlers:
        if handler.matches(method, path):
            return handler
    return None


def sample_path(template: str) -> str:
    """A concrete path for a RAML path template (each ``{param}`` becomes a plain segment)."""
    return re.sub(r"\{[^}]+\}", "x1", template)
