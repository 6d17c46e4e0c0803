"""The contract files: RAML reading, examples against schemas, code and RAML agreeing."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from mod_users.app import ROUTES, ContractMismatch, add_routes
from mod_users.config import PROJECT_ROOT
from mod_users.contract import Param, ParamError, load_contract, parse_params
from mod_users.contract.raml import RamlApi, RamlError
from mod_users.resources.polaris import LISTENER_ROUTES
from mod_users.routing import Route

CONTRACT = load_contract(PROJECT_ROOT / "ramls", PROJECT_ROOT / "schemas")


def _examples():
    for endpoint in CONTRACT.endpoints():
        bodies = [("request", endpoint.bodies)] + [(str(code), r.bodies) for code, r in endpoint.responses.items()]
        for where, by_media in bodies:
            for body in by_media.values():
                if body.schema is None:
                    continue
                for n, example in enumerate(body.all_examples()):
                    yield pytest.param(body, example, id=f"{endpoint.method} {endpoint.path} {where} {n}")


EXAMPLES = list(_examples())


def test_there_are_examples_to_check():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize(("body", "example"), EXAMPLES)
def test_every_raml_example_validates_against_its_schema(body, example):
    key = CONTRACT.schema_key(body)
    assert CONTRACT.schemas.errors(key, example) == []


def test_every_schema_file_is_loaded_and_compiles():
    paths = CONTRACT.schemas.paths()
    for required in (
        "patron-block-condition.json",
        "patron-block-conditions.json",
        "raml-util/schemas/uuid.schema",
        "raml-util/schemas/metadata.schema",
        "raml-util/schemas/error.schema",
        "raml-util/schemas/errors.schema",
        "raml-util/schemas/parameters.schema",
    ):
        assert required in paths
    for path in paths:
        CONTRACT.schemas.validator(path).check_schema(CONTRACT.schemas.document(path))


def test_patron_block_conditions_parameters_come_from_the_traits():
    listing = CONTRACT.endpoint("GET", "/patron-block-conditions")
    offset, limit, lang = (listing.query_params[n] for n in ("offset", "limit", "lang"))
    assert (offset.default, offset.minimum, offset.maximum) == (0, 0, 2147483647)
    assert (limit.default, limit.minimum, limit.maximum) == (10, 0, 2147483647)
    assert (lang.default, lang.pattern) == ("en", "[a-zA-Z]{2}")
    assert "query" in listing.query_params and not listing.query_params["query"].required
    assert set(listing.responses) >= {200, 400, 500}
    post = CONTRACT.endpoint("POST", "/patron-block-conditions")
    assert set(post.responses) >= {201, 400, 422, 500}
    assert CONTRACT.schema_key(post.json_body) == "patron-block-condition.json"
    put = CONTRACT.endpoint("PUT", "/patron-block-conditions/{patronBlockConditionId}")
    assert set(put.responses) >= {204, 400, 404, 422, 500}


def test_resource_type_parameters_are_substituted():
    item = CONTRACT.endpoint("GET", "/patron-block-conditions/{patronBlockConditionId}")
    assert "patron-block-condition item" in item.description
    assert CONTRACT.schema_key(item.responses[200].bodies["application/json"]) == "patron-block-condition.json"


def test_every_served_route_is_in_the_raml_and_back():
    declared = {(e.method, e.path) for e in CONTRACT.endpoints()}
    served = {(r.method, r.path) for r in (*ROUTES, *LISTENER_ROUTES)}  # the Polaris listener's own too
    assert declared == served


async def _noop(call):  # pragma: no cover - never called
    return web.Response()


def test_startup_refuses_a_route_missing_from_the_raml():
    routes = [*ROUTES, Route("GET", "/not-in-raml", _noop)]
    with pytest.raises(ContractMismatch, match="not-in-raml"):
        add_routes(web.Application(), CONTRACT, routes)


def test_startup_refuses_a_raml_endpoint_without_a_route():
    routes = [r for r in ROUTES if not (r.method == "DELETE" and r.path.startswith("/patron-block-conditions"))]
    with pytest.raises(ContractMismatch, match="DELETE"):
        add_routes(web.Application(), CONTRACT, routes)


def test_raml_reader_rejects_unknown_traits(tmp_path: Path):
    (tmp_path / "api.raml").write_text("#%RAML 1.0\ntitle: t\n/x:\n  get:\n    is: [nope]\n")
    with pytest.raises(RamlError, match="unknown trait"):
        RamlApi(tmp_path / "api.raml", tmp_path)


def test_raml_reader_rejects_missing_includes(tmp_path: Path):
    (tmp_path / "api.raml").write_text("#%RAML 1.0\ntitle: t\ntypes:\n  a: !include missing.json\n")
    with pytest.raises(RamlError, match="missing"):
        RamlApi(tmp_path / "api.raml", tmp_path)


def test_raml_reader_transforms_and_optional_methods(tmp_path: Path):
    (tmp_path / "api.raml").write_text(
        "#%RAML 1.0\ntitle: t\n"
        "resourceTypes:\n"
        "  rt:\n"
        "    get?:\n      description: list <<resourcePathName|!singularize>> as <<kind|!uppercase>>\n"
        "    delete?:\n      description: never used\n"
        "/libraries:\n  type: {rt: {kind: json}}\n  get:\n"
    )
    api = RamlApi(tmp_path / "api.raml", tmp_path)
    assert [(e.method, e.description) for e in api.endpoints] == [("GET", "list library as JSON")]


@pytest.mark.parametrize(
    ("param", "raw", "expected"),
    [
        (Param("n", "integer", minimum=0, maximum=5), "5", 5),
        (Param("n", "integer"), "-7", -7),
        (Param("n", "integer", minimum=0), "007", 7),
        (Param("b", "boolean"), "TRUE", True),
        (Param("s", "string", pattern="[a-z]{2}"), "en", "en"),
        (Param("e", "string", enum=("a", "b")), "b", "b"),
        (Param("x", "number"), "1.5", 1.5),
    ],
)
def test_parameters_convert(param, raw, expected):
    assert parse_params({param.name: param}, {param.name: raw}) == {param.name: expected}


@pytest.mark.parametrize(
    ("param", "raw"),
    [
        (Param("n", "integer", minimum=0), "-1"),
        (Param("n", "integer", maximum=5), "6"),
        (Param("n", "integer"), "1e3"),
        (Param("n", "integer"), "9" * 40),
        (Param("b", "boolean"), "yes"),
        (Param("s", "string", pattern="[a-z]{2}"), "eng"),
        (Param("e", "string", enum=("a", "b")), "c"),
        (Param("x", "number"), "nan"),
        # only ASCII digits and a leading minus: int() and float() read all of these as numbers
        (Param("n", "integer"), "+7"),
        (Param("n", "integer"), " 7"),
        (Param("n", "integer"), "7\n"),
        (Param("n", "integer"), "\u0667"),
        (Param("n", "integer"), "\uff17"),
        (Param("n", "integer", minimum=0), "-0"),
        (Param("x", "number"), " 1.5"),
        (Param("x", "number"), "1_5"),
        (Param("x", "number"), "\u0661.5"),
        (Param("x", "number"), "infinity"),
        (Param("s", "string", max_length=3), "abcd"),
    ],
)
def test_parameters_reject(param, raw):
    with pytest.raises(ParamError, match=f"'{param.name}'"):
        parse_params({param.name: param}, {param.name: raw})


def test_required_parameter_and_defaults():
    declared = {"a": Param("a", "integer", required=True), "b": Param("b", "integer", default=3)}
    with pytest.raises(ParamError, match="required"):
        parse_params(declared, {})
    assert parse_params(declared, {"a": "1"}) == {"a": 1, "b": 3}


@pytest.mark.parametrize(
    "body",
    [
        {"name": 1},
        {"name": "n", "blockBorrowing": "yes", "blockRenewals": False, "blockRequests": False, "valueType": "Integer"},
        {"name": "n", "blockBorrowing": True, "blockRenewals": False, "blockRequests": False, "valueType": "X"},
        {
            "name": "n",
            "blockBorrowing": True,
            "blockRenewals": False,
            "blockRequests": False,
            "valueType": "Integer",
            "metadata": {"createdDate": "2020-01-01T00:00:00"},
        },
        {
            "name": "n",
            "blockBorrowing": True,
            "blockRenewals": False,
            "blockRequests": False,
            "valueType": "Integer",
            "id": "00000000-0000-0000-0000-000000000000",
        },
        [],
    ],
)
def test_fast_and_full_validators_agree_on_invalid_bodies(body):
    import fastjsonschema

    with pytest.raises(fastjsonschema.JsonSchemaException):
        CONTRACT.schemas.compile("patron-block-condition.json")(body)
    assert CONTRACT.schemas.errors("patron-block-condition.json", body)


def test_fast_validator_accepts_what_the_full_one_accepts():
    body = {
        "name": "n",
        "blockBorrowing": True,
        "blockRenewals": False,
        "blockRequests": False,
        "valueType": "Integer",
        "metadata": {"createdDate": "2020-01-01T00:00:00.000+00:00"},
    }
    CONTRACT.schemas.compile("patron-block-condition.json")(body)
    assert list(CONTRACT.schemas.validator("patron-block-condition.json").iter_errors(body)) == []


def test_validating_leaves_the_schema_documents_as_they_were():
    # The documents are shared: /_/openapi and jsonschema read them after the fast validator compiled.
    import json

    contract = load_contract(PROJECT_ROOT / "ramls", PROJECT_ROOT / "schemas")
    before = json.dumps([contract.schemas.document(p) for p in contract.schemas.paths()])
    for path in contract.schemas.paths():
        contract.schemas.errors(path, {})
    assert json.dumps([contract.schemas.document(p) for p in contract.schemas.paths()]) == before


def test_a_broken_ref_fails_loading_the_contract_not_a_request(tmp_path):
    schemas = tmp_path / "schemas"
    ramls = tmp_path / "ramls"
    schemas.mkdir()
    ramls.mkdir()
    (schemas / "thing.json").write_text('{"type": "object", "properties": {"x": {"$ref": "missing.json"}}}')
    (ramls / "api.raml").write_text(
        "#%RAML 1.0\ntitle: t\ntypes:\n  thing: !include ../schemas/thing.json\n"
        "/things:\n  post:\n    body:\n      application/json:\n        type: thing\n"
    )
    with pytest.raises(ValueError, match=r"thing\.json"):
        load_contract(ramls, schemas)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (None, "", "null is not of type object"),
        ({"name": "n", "blockBorrowing": None}, "blockBorrowing", "null is not of type boolean"),
        ({"name": True}, "name", "true is not of type string"),
        ({"name": "n", "valueType": "X"}, "valueType", '"X" is not one of ["Integer", "Double"]'),
        ({"name": "n" * 1025}, "name", "must have at most 1024 characters"),
        ({"name": "n", "_version": -1}, "_version", "-1 must be >= 0"),
    ],
)
def test_422_messages_write_values_as_json(body, field, message):
    # A client sends JSON and should read its values back as JSON, not as Python prints them.
    found = {e.field: e.message for e in CONTRACT.schemas.errors("patron-block-condition.json", body)}
    assert message in found[field], found
    assert not any(word in text for text in found.values() for word in ("None", "True", "False", "['"))
