"""Polaris permission names and the FOLIO permissions that stand for them.

Behind the gateway a Polaris-style route desires FOLIO permissions (the ModuleDescriptor says which); a staff
user of Polaris clients' own listener holds Polaris permissions by their Polaris names
(``PatronStatus_DisplayPatronBlocks``). The descriptor is the one place that pairs them: each FOLIO
permission of a Polaris call names its Polaris permission, and Polaris' numeric ID where Polaris documents
one, in its displayName ("Polaris: PatronStatus_DisplayPatronBlocks (ID 71) - display patron blocks").
Reading the pairs from there means a FOLIO permission can be renamed without touching this module.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mod_users.descriptor import module_version, render_descriptor

# A Polaris permission name (Word_Word...), optionally followed by its numeric ID: "(Name, 71)", "(Name, ID 71)",
# "Name (ID 71)", "(Name, ID: 71)".
_NAMED = re.compile(r"\b([A-Z][A-Za-z]*_[A-Za-z][A-Za-z_]*)\b(?:\s*[,(]\s*(?:ID:?\s*)?(\d+))?")


@dataclass(frozen=True)
class PolarisPermissions:
    """The Polaris permissions the module knows, each with the FOLIO permission that stands for it."""

    folio_of: Mapping[str, str]
    ids: Mapping[str, int | None]

    @classmethod
    def from_descriptor(cls, descriptor: Mapping[str, Any]) -> PolarisPermissions:
        """Pair every FOLIO permission whose displayName names exactly one Polaris permission with it. Only
        the displayName: a description may mention the Polaris permissions a call also needs (an endpoint
        permission's does), and a set (with subPermissions) stands for none."""
        folio_of: dict[str, str] = {}
        ids: dict[str, int | None] = {}
        for entry in descriptor.get("permissionSets", ()):
            found = dict(_NAMED.findall(entry.get("displayName", "")))
            if entry.get("subPermissions") or len(found) != 1:
                continue
            [(name, number)] = found.items()
            folio_of[name] = entry["permissionName"]
            ids[name] = int(number) if number else None
        return cls(folio_of, ids)

    @functools.cached_property
    def polaris_of(self) -> Mapping[str, str]:
        """The Polaris name of each FOLIO permission that stands for one."""
        return {folio: name for name, folio in self.folio_of.items()}

    def granted(self, polaris_names: Iterable[str]) -> frozenset[str]:
        """The FOLIO permissions that a staff user holding ``polaris_names`` is granted."""
        return frozenset(self.folio_of[name] for name in polaris_names if name in self.folio_of)

    def label(self, polaris_name: str) -> str:
        """``PatronStatus_DisplayPatronBlocks (ID 71)``, or the bare name where Polaris gives no ID."""
        number = self.ids.get(polaris_name)
        return polaris_name if number is None else f"{polaris_name} (ID {number})"


@functools.cache
def permissions_for(contract_dir: Path) -> PolarisPermissions:
    """The Polaris permissions of the descriptor in ``contract_dir`` (read once per folder)."""
    template = contract_dir / "descriptors" / "ModuleDescriptor-template.json"
    return PolarisPermissions.from_descriptor(render_descriptor(template, module_version(contract_dir)))


__all__ = ["PolarisPermissions", "permissions_for"]
