"""FOLIO's API linters, as its CI runs them on a module (folio-org/folio-tools):

- api-lint: AMF (``amf-client-js`` 5.10.2, pinned in tools/api-lint/package-lock.json) parses and validates
  every RAML file and the OpenAPI document the module serves at ``/_/openapi``; warnings are fatal (``-w``).
- api-schema-lint: every JSON schema, and every property of it, has a description of 3 or more characters
  (``id metadata resultInfo tags totalRecords`` exempt).

The AMF tool is installed from the npm registry by this module's fixture (``npm ci`` in tools/api-lint),
so the README's test command needs nothing else; without npm the fixture fails, saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mod_users.config import PROJECT_ROOT, DatabaseSettings
from mod_users.state import OPENAPI

LINT_DIR = PROJECT_ROOT / "tools" / "api-lint"
# api-lint skips these folders (fragments, examples, schemas) and files without a "#%RAML x.y" line.
RAML_SKIPPED_DIRS = {"raml-util", "raml-storage", "acq-models", "schemas", "schema", "rtypes", "traits"}
RAML_SKIPPED_DIRS |= {"bindings", "examples", "headers", "parameters", "node_modules", ".git"}
RAML_VERSION = re.compile(r"^#%RAML (\d+)\.(\d+)", re.MULTILINE)
# api-schema-lint's exemptions.
UNDESCRIBED_PROPERTIES = {"id", "metadata", "resultInfo", "tags", "totalRecords"}


def _pinned_amf_version() -> str:
    return json.loads((LINT_DIR / "package.json").read_text())["dependencies"]["amf-client-js"]


def _installed_amf_version() -> str | None:
    installed = LINT_DIR / "node_modules" / "amf-client-js" / "package.json"
    return json.loads(installed.read_text())["version"] if installed.exists() else None


@pytest.fixture(scope="session")
def amf() -> Path:
    """tools/api-lint with its locked node_modules installed (``npm ci`` when missing or stale)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "FOLIO's api-lint needs Node.js and npm on PATH (Debian: apt-get install nodejs npm); "
            "the tests install amf-client-js with them"
        )
    if _installed_amf_version() != _pinned_amf_version():
        done = subprocess.run([npm, "ci"], cwd=LINT_DIR, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci in {LINT_DIR} failed:\n{done.stdout}\n{done.stderr}"
    assert _installed_amf_version() == _pinned_amf_version()
    return LINT_DIR / "lint.js"


def _lint(amf: Path, api_type: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(amf), "-w", "-t", api_type, *map(str, files)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def api_lint_raml_files(root: Path) -> Iterator[Path]:
    """The RAML files api-lint assesses under ``root``: not in a skipped folder, with a version line."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in RAML_SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            if name.endswith(".raml") and RAML_VERSION.search(path.read_text(encoding="utf-8")):
                yield path


def test_every_raml_passes_amf_with_warnings_fatal(amf):
    files = list(api_lint_raml_files(PROJECT_ROOT / "ramls"))
    assert {f.name for f in files} >= {p.name for p in (PROJECT_ROOT / "ramls").glob("*.raml")}
    result = _lint(amf, "RAML 1.0", files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(files)} of {len(files)} conform" in result.stdout


def test_the_served_openapi_passes_amf_with_warnings_fatal(amf, settings, tmp_path):
    from mod_users.app import init_app

    served = init_app(settings, DatabaseSettings())[OPENAPI]  # what GET /_/openapi answers
    assert json.loads(served)["openapi"].startswith("3.0.")
    document = tmp_path / "openapi.json"
    document.write_bytes(served)
    result = _lint(amf, "OAS 3.0", [document])
    assert result.returncode == 0, result.stdout + result.stderr


def test_amf_warnings_fail_the_lint(amf, tmp_path):
    # The OpenAPI shape the served document had before: a typed enum listing null warns "should be integer".
    document = tmp_path / "warned.json"
    schema = {"type": "integer", "nullable": True, "enum": [0, 1, None]}
    document.write_text(
        json.dumps(
            {
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1"},
                "paths": {},
                "components": {"schemas": {"answer": schema}},
            }
        )
    )
    result = _lint(amf, "OAS 3.0", [document])
    assert result.returncode == 1 and "should be integer" in result.stdout


def _properties_maps(node: object) -> Iterator[dict]:
    """Every ``properties`` object anywhere in a schema (api-schema-lint's jq ``.. | .properties? | objects``)."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield node["properties"]
        for value in node.values():
            yield from _properties_maps(value)
    elif isinstance(node, list):
        for value in node:
            yield from _properties_maps(value)


def _described(node: object) -> bool:
    return isinstance(node, dict) and isinstance(node.get("description"), str) and len(node["description"]) >= 3


def schema_lint_problems(schema: object) -> list[str]:
    """What api-schema-lint reports for one schema: a missing or short top-level description, and each
    property without one (looked for only when the schema has top-level properties, as the tool does)."""
    if not isinstance(schema, dict):
        return []
    problems = [] if _described(schema) else ["top-level description"]
    if "properties" in schema:
        for properties in _properties_maps(schema):
            problems += [
                name for name, prop in properties.items() if name not in UNDESCRIBED_PROPERTIES and not _described(prop)
            ]
    return problems


def test_every_schema_and_property_is_described():
    # Stricter than api-schema-lint, which skips raml-util/: every schema this module serves is checked.
    files = sorted(p for p in (PROJECT_ROOT / "schemas").rglob("*") if p.suffix in (".json", ".schema"))
    assert len(files) > 20
    problems = {
        str(f.relative_to(PROJECT_ROOT)): found
        for f in files
        if (found := schema_lint_problems(json.loads(f.read_text(encoding="utf-8"))))
    }
    assert problems == {}


def test_the_schema_lint_finds_what_the_tool_finds():
    schema = {
        "description": "ok",  # too short
        "properties": {
            "id": {"type": "string"},
            "name": {"description": "The name", "type": "string"},
            "nested": {
                "description": "A nested object",
                "allOf": [{"properties": {"NameLast": {"type": "string"}}}],
            },
        },
    }
    assert schema_lint_problems(schema) == ["top-level description", "NameLast"]
    assert schema_lint_problems({"description": "No top-level properties", "allOf": [{"properties": {"x": {}}}]}) == []
