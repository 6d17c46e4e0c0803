"""Reading RAML 1.0 API files into endpoints: the routes, their parameters, bodies and responses.

Only the part of RAML that FOLIO modules use is understood: ``!include``, ``types`` naming JSON Schema
files, ``traits`` and ``resourceTypes`` with ``<<parameters>>`` (and the ``!singularize``/``!pluralize``
family of transforms), optional methods (``get?``) in resource types, nested resources, query and URI
parameters, request bodies and responses per status code.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class RamlError(ValueError):
    """A RAML file cannot be read or refers to something that does not exist."""


@dataclass(frozen=True)
class Include:
    """A non-RAML file pulled in with ``!include`` (a JSON Schema, an example)."""

    path: Path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def json(self) -> Any:
        try:
            return json.loads(self.text())
        except json.JSONDecodeError as exc:
            raise RamlError(f"{self.path} is not valid JSON: {exc}") from exc


# libyaml's parser when PyYAML was built with it: the contract is read at every start-up (and by every
# test's app), and the pure-Python parser is several times slower.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML loader that knows ``!include`` relative to the including file."""

    base: Path


def _include(loader: _Loader, node: yaml.Node) -> Any:
    target = (loader.base / loader.construct_scalar(node)).resolve()  # type: ignore[arg-type]
    if not target.exists():
        raise RamlError(f"!include of missing file {target}")
    if target.suffix in (".raml", ".yaml", ".yml"):
        return load_yaml(target)
    return Include(target)


_Loader.add_constructor("!include", _include)


def load_yaml(path: Path) -> Any:
    """Parse one RAML/YAML file, resolving its ``!include`` tags."""
    text = path.read_text(encoding="utf-8")
    loader = _Loader(text)
    loader.base = path.parent
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise RamlError(f"{path}: {exc}") from exc
    finally:
        loader.dispose()


@dataclass(frozen=True)
class Param:
    """A query or URI parameter with the constraints the RAML gives it."""

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    description: str = ""
    # A value the contract's own examples use (one that exists in the sample data, for the checker).
    example: Any = None


@dataclass(frozen=True)
class Body:
    """A body of one media type: its JSON Schema file (if any) and its example."""

    media_type: str
    schema: Path | None = None
    example: Any = None
    has_example: bool = False
    # RAML's named ``examples`` (name -> value), when the body has several; ``example`` is the first.
    examples: dict[str, Any] = field(default_factory=dict)

    def all_examples(self) -> list[Any]:
        """Every example of the body: the named ones, or the single one."""
        if self.examples:
            return list(self.examples.values())
        return [self.example] if self.has_example else []


@dataclass(frozen=True)
class Header:
    """A response header the RAML declares (RAML: required unless named ``X?`` or ``required: false``)."""

    name: str
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Response:
    status: int
    description: str = ""
    bodies: dict[str, Body] = field(default_factory=dict)
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """One method on one resource path, fully expanded from traits and resource types."""

    path: str
    method: str
    raml_file: Path
    description: str = ""
    query_params: dict[str, Param] = field(default_factory=dict)
    uri_params: dict[str, Param] = field(default_factory=dict)
    bodies: dict[str, Body] = field(default_factory=dict)
    responses: dict[int, Response] = field(default_factory=dict)
    traits: tuple[str, ...] = ()

    @property
    def json_body(self) -> Body | None:
        return self.bodies.get("application/json")


# -- parameter substitution -----------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"<<\s*([A-Za-z0-9_]+)\s*((?:\|\s*![A-Za-z]+\s*)*)>>")


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


_TRANSFORMS = {
    "singularize": _singular,
    "pluralize": _plural,
    "uppercase": str.upper,
    "lowercase": str.lower,
    "uppercamelcase": lambda s: "".join(p[:1].upper() + p[1:] for p in re.split(r"[-_ ]", s)),
    "lowercamelcase": lambda s: (lambda u: u[:1].lower() + u[1:])(
        "".join(p[:1].upper() + p[1:] for p in re.split(r"[-_ ]", s))
    ),
}


def _substitute(value: Any, params: dict[str, Any]) -> Any:
    """Replace ``<<name | !transform>>`` in every string of ``value``; a whole-string placeholder keeps
    the parameter's own type (so an ``!include``d example stays an Include)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole and not whole.group(2) and whole.group(1) in params:
            return params[whole.group(1)]

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in params:
                raise RamlError(f"no value for parameter <<{name}>>")
            text = str(params[name])
            for transform in re.findall(r"!([A-Za-z]+)", m.group(2)):
                fn = _TRANSFORMS.get(transform.lower())
                if fn is None:
                    raise RamlError(f"unknown parameter transform !{transform}")
                text = fn(text)
            return text

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two RAML nodes; ``override`` (the more specific declaration) wins."""
    out = copy.copy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _refs(node: Any) -> list[tuple[str, dict[str, Any]]]:
    """``is:``/``type:`` values as (name, parameters) pairs."""
    if node is None:
        return []
    items = node if isinstance(node, list) else [node]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            out.append((name, dict(params or {})))
        else:
            raise RamlError(f"cannot read trait or type reference {item!r}")
    return out


def _example_value(node: Any) -> Any:
    """An example as RAML writes it: the value itself, ``{value: ...}``, or an ``!include``d file."""
    if isinstance(node, dict) and "value" in node:
        node = node["value"]
    return node.json() if isinstance(node, Include) else node


# -- the API reader -------------------------------------------------------------------------------
class RamlApi:
    """One RAML API file, expanded into :class:`Endpoint` objects."""

    def __init__(self, path: Path, schemas_dir: Path) -> None:
        self.path = path
        self.schemas_dir = schemas_dir.resolve()
        root = load_yaml(path)
        if not isinstance(root, dict):
            raise RamlError(f"{path}: not a RAML document")
        self.title = str(root.get("title", ""))
        self.version = str(root.get("version", ""))
        self.types: dict[str, Any] = dict(root.get("types") or root.get("schemas") or {})
        self.traits: dict[str, Any] = dict(root.get("traits") or {})
        self.resource_types: dict[str, Any] = dict(root.get("resourceTypes") or {})
        self.endpoints: list[Endpoint] = []
        for key, node in root.items():
            if isinstance(key, str) and key.startswith("/"):
                self._walk(key, node or {}, {})

    # resources ------------------------------------------------------------------------------
    def _walk(self, path: str, node: dict[str, Any], inherited_uri: dict[str, Param]) -> None:
        uri_params = dict(inherited_uri)
        uri_params.update(self._params(node.get("uriParameters")))
        # RAML: the rightmost path segment that is not a URI parameter.
        plain = [s for s in path.split("/") if s and not s.startswith("{")]
        context = {"resourcePath": path, "resourcePathName": plain[-1] if plain else ""}
        node = self._apply_resource_type(node, context)
        for method in METHODS:
            if method in node:
                self._endpoint(path, method, node[method] or {}, node, uri_params, context)
        for key, child in node.items():
            if isinstance(key, str) and key.startswith("/"):
                self._walk(path + key, child or {}, uri_params)

    def _apply_resource_type(self, node: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        for name, params in _refs(node.get("type")):
            if name not in self.resource_types:
                raise RamlError(f"{self.path}: unknown resource type {name!r}")
            rtype = _substitute(self.resource_types[name] or {}, {**context, **params})
            merged = dict(node)
            for key, value in rtype.items():
                optional = key.endswith("?")
                method = key.rstrip("?")
                if method in METHODS:
                    if optional and method not in node:
                        continue
                    merged[method] = _merge(value or {}, node.get(method) or {})
                elif key in ("is",):
                    merged["is"] = _refs(value) + _refs(node.get("is"))
            node = merged
        return node

    def _endpoint(
        self,
        path: str,
        method: str,
        node: dict[str, Any],
        resource: dict[str, Any],
        uri_params: dict[str, Param],
        context: dict[str, Any],
    ) -> None:
        trait_refs = _refs(resource.get("is")) + _refs(node.get("is"))
        for name, params in trait_refs:
            if name not in self.traits:
                raise RamlError(f"{self.path}: unknown trait {name!r}")
            trait = _substitute(self.traits[name] or {}, {**context, "methodName": method, **params})
            trait = {k: v for k, v in trait.items() if k not in ("usage", "description")}
            node = _merge(trait, node)
        responses = {
            int(code): Response(
                status=int(code),
                description=str((spec or {}).get("description", "")).strip(),
                bodies=self._bodies((spec or {}).get("body")),
                headers=self._headers((spec or {}).get("headers")),
            )
            for code, spec in (node.get("responses") or {}).items()
        }
        self.endpoints.append(
            Endpoint(
                path=path,
                method=method.upper(),
                raml_file=self.path,
                description=str(node.get("description", "")).strip(),
                query_params=self._params(node.get("queryParameters")),
                uri_params=uri_params,
                bodies=self._bodies(node.get("body")),
                responses=responses,
                traits=tuple(name for name, _ in trait_refs),
            )
        )

    # pieces ---------------------------------------------------------------------------------
    def _params(self, node: Any) -> dict[str, Param]:
        out: dict[str, Param] = {}
        for name, spec in (node or {}).items():
            required = not str(name).endswith("?")
            name = str(name).rstrip("?")
            if not isinstance(spec, dict):
                spec = {"type": spec or "string"}
            enum = spec.get("enum")
            out[name] = Param(
                name=name,
                type=str(spec.get("type", "string")),
                required=bool(spec.get("required", required)),
                default=spec.get("default"),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                pattern=spec.get("pattern"),
                enum=tuple(enum) if enum else None,
                min_length=spec.get("minLength"),
                max_length=spec.get("maxLength"),
                description=str(spec.get("description", "")).strip(),
                example=spec.get("example"),
            )
        return out

    def _headers(self, node: Any) -> tuple[Header, ...]:
        out = []
        for name, spec in (node or {}).items():
            spec = spec if isinstance(spec, dict) else {}
            optional = str(name).endswith("?")
            out.append(
                Header(
                    name=str(name).rstrip("?"),
                    required=bool(spec.get("required", not optional)),
                    description=str(spec.get("description", "")).strip(),
                )
            )
        return tuple(out)

    def _bodies(self, node: Any) -> dict[str, Body]:
        out: dict[str, Body] = {}
        for media_type, spec in (node or {}).items():
            spec = spec or {}
            type_ref = spec.get("type", spec.get("schema"))
            named = {str(name): _example_value(value) for name, value in (spec.get("examples") or {}).items()}
            example = _example_value(spec.get("example")) if "example" in spec else next(iter(named.values()), None)
            out[str(media_type)] = Body(
                media_type=str(media_type),
                schema=self._schema_path(type_ref),
                example=example,
                has_example="example" in spec or bool(named),
                examples=named,
            )
        return out

    def _schema_path(self, type_ref: Any) -> Path | None:
        if type_ref is None or type_ref in ("string", "any", "object"):
            return None
        if isinstance(type_ref, str):
            if type_ref not in self.types:
                raise RamlError(f"{self.path}: unknown type {type_ref!r}")
            type_ref = self.types[type_ref]
        if isinstance(type_ref, Include):
            path = type_ref.path.resolve()
            if self.schemas_dir not in path.parents:
                raise RamlError(f"{self.path}: schema {path} lies outside {self.schemas_dir}")
            return path
        raise RamlError(f"{self.path}: unsupported type declaration {type_ref!r}")


def load_apis(ramls_dir: Path, schemas_dir: Path) -> list[RamlApi]:
    """Every top-level ``*.raml`` API in ``ramls_dir`` (raml-util fragments are pulled in by them)."""
    apis = []
    for path in sorted(ramls_dir.glob("*.raml")):
        first_line = path.read_text(encoding="utf-8").split("\n", 1)[0].strip()
        if first_line == "#%RAML 1.0":
            apis.append(RamlApi(path, schemas_dir))
    return apis
