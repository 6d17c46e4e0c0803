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


# -- the rules FOLIO's tools apply to a descriptor ------------------------------------------------------
# The permission-name grammar of folio-org/applications-poc-tools (folio-permission-utils,
# PermissionUtils.extractPermissionData), with which folio-module-descriptor-validator checks backend
# permission names and Eureka maps a permission to a Keycloak capability (resource, type, action).
_ACTION_WORDS = {
    "view": ("get", "view", "read", "get-all", "read-all", "search"),
    "create": ("post", "create", "write"),
    "edit": ("put", "edit", "update", "patch"),
    "delete": ("delete", "delete-all"),
    "manage": ("all", "manage", "allops"),
}
_ACTIONS = {word: action for action, words in _ACTION_WORDS.items() for word in words}
_DATA_WORDS = ("item", "collection", "items")
_DATA_SUFFIXES = (".item.post", ".collection.post")
_SETTINGS_WORDS = ("module", "settings")
_PROCEDURAL_WORDS = (
    "post download export assign restore approve reopen start unopen validate resend run-jobs stop-jobs generate "
    "reset test import cancel exportCSV showHidden updateEncumbrances execute move"
)
_PROCEDURAL_VERBS = frozenset(_PROCEDURAL_WORDS.split())


@dataclass(frozen=True)
class PermissionData:
    """What a permission name says: its type (data, settings, procedural), resource and action; a name
    without a resource or an action is refused by FOLIO's validator and has no Keycloak capability."""

    type: str
    resource: str | None
    action: str | None

    @property
    def valid(self) -> bool:
        return self.resource is not None and self.action is not None


def _resource(parts: list[str], end: int) -> str:
    """The capability's resource name: the parts up to ``end``, split at "_", each kebab word capitalised."""
    pieces = [piece for part in parts[: end + 1] for piece in part.split("_") if piece]
    name = " ".join("-".join(w[:1].upper() + w[1:] for w in piece.split("-") if w) for piece in pieces)
    return "UI" + name[2:] if name.startswith("Ui") else name


def permission_data(name: str) -> PermissionData:
    """The type, resource and action FOLIO reads from a permission name (the last dot-separated part is the
    action, unless the name is a settings or a procedural one)."""
    parts = [p for p in name.split(".") if p]
    if any(p in _SETTINGS_WORDS for p in parts) or name.startswith(_SETTINGS_WORDS):
        kind = "settings"
    elif name.endswith(tuple(_PROCEDURAL_VERBS)) and not any(p in _DATA_WORDS for p in parts):
        kind = "procedural"
    elif name.endswith(_DATA_SUFFIXES) or not any(p in _PROCEDURAL_VERBS for p in parts):
        kind = "data"
    else:
        kind = "procedural"
    if len(parts) <= 1:
        return PermissionData(kind, None, None)
    last = parts[-1]
    if kind == "procedural":
        end = len(parts) - 2 if last in _PROCEDURAL_VERBS else len(parts) - 1
        return PermissionData(kind, _resource(parts, end), "execute")
    action = _ACTIONS.get(last)
    if action is None and kind == "settings":
        return PermissionData(kind, _resource(parts, len(parts) - 1), "view")
    return PermissionData(kind, _resource(parts, len(parts) - 2), action)


# Interface types Okapi accepts (InterfaceDescriptor.validateGeneral), and HTTP methods its RoutingEntry knows.
_INTERFACE_TYPES = (None, "proxy", "system", "multiple")
_METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "*"])
# Interface ids and versions as Eureka's mgr-applications refuses them when an application is registered
# (InterfaceNameValidator: ID_PATTERN, VERSION_PATTERN). Okapi checks no id, and takes X.Y or X.Y.Z (warning
# on a third part); Eureka's major.minor is the stricter, so both accept what passes here.
_INTERFACE_ID = re.compile(r"[A-Za-z0-9._-]+")
_INTERFACE_VERSION = re.compile(r"\d+\.\d+")


def descriptor_problems(descriptor: dict[str, Any]) -> list[str]:
    """Everything FOLIO's tools would refuse in a ModuleDescriptor, as messages; empty when it passes.

    The four rules of folio-org/folio-module-descriptor-validator: every permission name passes the name
    grammar; a handler requires at most one permission, and none with sub-permissions; a required permission
    protects one endpoint (path and methods) only; every required permission is defined. Okapi's refusals
    on registration: a pathPattern it cannot read, an unknown method or interface type, a handler of a
    non-system interface without ``permissionsRequired``, a ``_tenant`` interface that is not
    ``interfaceType: system`` (Okapi would never call it). And Eureka's (mgr-applications): interface ids of
    letters, digits, ``._-`` and versions ``major.minor``.

    Like the validator, which reads only ``permissionsRequired``, a permission that a handler both requires
    and desires is no problem (the sidecar puts only desired ones in X-Okapi-Permissions), and a desired one
    counts for no endpoint."""
    problems: list[str] = []
    sets = descriptor.get("permissionSets") or []
    defined = {p.get("permissionName") for p in sets}
    with_subs = {p.get("permissionName") for p in sets if p.get("subPermissions")}
    for permission in sets:
        name = permission.get("permissionName")
        if not isinstance(name, str) or not permission_data(name).valid:
            problems.append(f"Permission name is not valid: {name}")
    endpoints_of: dict[str, set[str]] = {}
    for interface in descriptor.get("provides") or ():
        iid, itype = interface.get("id", ""), interface.get("interfaceType")
        if itype not in _INTERFACE_TYPES:
            problems.append(f"Bad interface type '{itype}' of interface {iid}")
        if iid == "_tenant" and itype != "system":
            # Okapi's TenantManager calls only the handlers of a _tenant interface of interfaceType system
            # (1.0 alone falls back to POST /_/tenant, logging "Define InterfaceType=system").
            problems.append(
                'Interface _tenant must be "interfaceType": "system": Okapi calls the handlers of no other '
                "_tenant interface, so the tenant API would never be called on install, upgrade or disable"
            )
        version = interface.get("version")
        if not (
            isinstance(iid, str)
            and _INTERFACE_ID.fullmatch(iid)
            and isinstance(version, str)
            and _INTERFACE_VERSION.fullmatch(version)
        ):
            problems.append(
                f"Invalid provided interface name or version: {iid} {version} (Eureka takes an id of letters, "
                "digits, '.', '_', '-' and a version major.minor)"
            )
        for entry in interface.get("handlers") or ():
            pattern, methods = entry.get("pathPattern", ""), entry.get("methods") or []
            endpoint = f"{pattern} {methods}"
            try:
                path_pattern_regex(pattern)
            except InvalidPathPattern as exc:
                problems.append(str(exc))
            problems += [f"Unknown method {m} in {endpoint}" for m in methods if m not in _METHODS]
            required = entry.get("permissionsRequired")
            if required is None:
                if not iid.startswith("_") and itype != "system":
                    problems.append(f"Missing field permissionsRequired: {endpoint}")
                continue
            if len(required) > 1:
                problems.append(f"Single permission is required for endpoint: {endpoint}")
            for name in required:
                if name in with_subs:
                    problems.append(f"Permission with sub-permissions is not allowed for endpoint: {endpoint} {name}")
                if name not in defined:
                    problems.append(f"Permission is not defined in module descriptor: {name}")
                endpoints_of.setdefault(name, set()).add(endpoint)
    for name, endpoints in endpoints_of.items():
        if len(endpoints) > 1:
            problems.append(f"Permission protects more than one endpoint: {name} {sorted(endpoints)}")
    return problems


def sample_path(template: str) -> str:
    """A concrete path for a RAML path template (each ``{param}`` becomes a plain segment)."""
    return re.sub(r"\{[^}]+\}", "x1", template)
