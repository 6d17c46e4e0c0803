"""translate(): the SQL it produces, the errors it raises, and what the SQL finds in a real table."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from mod_users.cql import CQLError, Index, index_expression, quote, translate
from mod_users.cql.fulltext import MAX_WORDS
from mod_users.cql.translator import MAX_CONDITIONS, MAX_SORT_KEYS

from .dbutil import drop_schema, load_table

SCHEMA = "cql_translate"
TABLE = f"{SCHEMA}.people"
ID = [uuid.UUID(f"{n}{n}{n}{n}{n}{n}{n}{n}-0000-4000-8000-00000000000{n}") for n in range(1, 7)]
RECORDS = [
    {
        "name": "Jo Jane",
        "email": "jo@example.com",
        "active": True,
        "age": 30,
        "city": "Søvang",
        "code": "a*b",
        "personal": {"lastName": "Jane"},
        "tags": ["red", "blue"],
        "phones": [{"type": "home", "number": "111"}, {"type": "mobile", "number": "222"}],
    },
    {
        "name": "ka keller",
        "email": "KA@example.com",
        "active": False,
        "age": 5,
        "city": "Sovang",
        "code": "a?b",
        "personal": {"lastName": "Keller"},
        "phones": [{"type": "mobile", "number": "111"}],
    },
    {
        "name": "Lea Long",
        "email": "",
        "age": "12",
        "city": "SØVANG",
        "code": "x'y",
        "personal": {"lastName": "O'Neil"},
        "phones": {"type": "home"},
    },
    {"name": "Zoë Ärger", "age": "old", "code": "50%", "personal": {}, "active": None},
    {"name": "^caret^", "email": None, "age": 100.5, "code": "back\\slash"},
    {"name": "Ω", "age": 1e3, "code": "_"},
]
INDEXES = (
    Index("name", "btree"),
    Index("name", "fulltext"),
    Index("email", "gin"),
    Index("phones", "gin", array_subfield="number", array_modifiers=("type",)),
)
ALL = sorted(record["name"] for record in RECORDS)


@pytest.fixture(scope="module")
def people(cql_db: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """cql_translate.people with the RECORDS and the INDEXES."""

    load_table(cql_db, SCHEMA, TABLE, [(ID[n], r) for n, r in enumerate(RECORDS)], INDEXES, "people")
    yield cql_db
    drop_schema(cql_db, SCHEMA)


async def find(db: dict[str, Any], query: str, *, ordered: bool = False, **options: Any) -> list[str]:
    """Names of the records the query finds (in the query's order if ``ordered``)."""
    options.setdefault("indexes", INDEXES)
    translation = translate(query, **options)
    sql = f"SELECT jsonb->>'name' FROM {TABLE} WHERE {translation.where}"
    if translation.order_by:
        sql += f" ORDER BY {translation.order_by}"
    con = await asyncpg.connect(**db)
    try:
        names = [row[0] for row in await con.fetch(sql, *translation.params)]
    finally:
        await con.close()
    return names if ordered else sorted(names)


def error(query: str, **options: Any) -> CQLError:
    with pytest.raises(CQLError) as raised:
        translate(query, **options)
    return raised.value


class TestOutput:
    def test_all_records(self) -> None:
        translation = translate("cql.allRecords=1")
        assert (translation.where, translation.order_by, translation.params) == ("TRUE", "", [])

    def test_placeholders_have_casts_and_params_their_python_types(self) -> None:
        translation = translate("name==x and age>/number 4 and id=11111111-1111-1111-1111-111111111111")
        assert "$1::text" in translation.where and "$2::numeric" in translation.where
        assert "$3::uuid" in translation.where
        assert translation.params == ["x", Decimal(4), uuid.UUID("11111111-1111-1111-1111-111111111111")]

    def test_equal_values_share_a_placeholder(self) -> None:
        translation = translate("Lea", server_choice=("name", "email"))
        assert translation.params == ["'Lea'"]
        assert translation.where.count("$1::text") == 2

    def test_order_by_without_keyword(self) -> None:
        translation = translate("cql.allRecords=1 sortBy name/sort.descending age/number id")
        assert translation.order_by == ("lower(public.f_unaccent(jsonb->>'name')) DESC, jsonb->'age', id")

    def test_sort_uses_the_btree_index_expression(self) -> None:
        index = Index("personal.lastName", "btree")
        translation = translate("cql.allRecords=1 sortBy personal.lastName", indexes=[index])
        assert translation.order_by.startswith(index_expression(index) + ", ")

    def test_json_and_id_columns(self) -> None:
        translation = translate(
            "name==x and id==11111111-1111-1111-1111-111111111111 sortBy id", "u.data", id_column="u.id"
        )
        assert "u.data->>'name'" in translation.where and "u.id = $2::uuid" in translation.where
        assert translation.order_by == "u.id"

    def test_constant_folding(self) -> None:
        assert translate("name=* or age==5").where == "TRUE"
        assert translate("cql.allRecords=1 not name=*").where == "FALSE"
        assert translate("id==not-a-uuid").where == "FALSE"
        assert translate("name==x and id<>zz").params == ["x"]

    def test_or_lists_become_in_lists(self) -> None:
        translation = translate(
            "name==(a or b or c*) or id==(11111111-1111-1111-1111-111111111111 or 22222222-2222-2222-2222-222222222222)"
        )
        assert translation.where.count(" IN (") == 2
        assert translation.params[:2] == ["a", "b"]


class TestSafety:
    @pytest.mark.parametrize(
        "term",
        [
            "x') OR 1=1 --",
            "a'b",
            "'; DROP TABLE people; --",
            "$$ dollar $$",
            "\\'; select pg_sleep(10); --",
            'x" OR "1"="1',
            "%'||(select version())||'",
            "x::regclass",
            "é'\u2019\u02bc",
        ],
    )
    @pytest.mark.parametrize("relation", ["==", "=", "<>", "<", "all", "any", "adj"])
    def test_terms_never_reach_the_sql_text(self, term: str, relation: str) -> None:
        quoted = '"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'
        translation = translate(f"name {relation} {quoted}", indexes=INDEXES)
        assert term not in translation.where
        assert set(re.findall(r"'[^']*'", translation.where)) <= {"'name'", "'simple'", "'number'"}

    @pytest.mark.parametrize(
        "index",
        [
            "name;drop",
            '"name\'"',
            '"a b"',
            "name--",
            "\"x->>'y'\"",
            "a..b",
            ".a",
            "a.",
            "a-b",
            "naïve",
            '"name)"',
            '"na/**/me"',
            "\"field'))@@to_tsquery(('english\"",
        ],
    )
    def test_bad_index_names_are_refused(self, index: str) -> None:
        err = error(f"{index}==x")
        assert (err.kind, err.position) == ("invalid query", 1)
        assert "invalid index name" in err.message

    def test_bad_index_names_in_sortby_are_refused(self) -> None:
        err = error('a=b sortBy "name;x"')
        assert err.position == 12 and "cannot sort by" in err.message

    @pytest.mark.parametrize(
        "option",
        [
            {"json_column": "jsonb; drop"},
            {"json_column": "j'b"},
            {"id_column": "id)--"},
            {"server_choice": ["name'"]},
            {"server_choice": ["a b"]},
        ],
    )
    def test_bad_configuration_is_a_value_error(self, option: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            translate("a=b", **option)

    async def test_injection_attempts_find_nothing_and_harm_nothing(self, people: dict[str, Any]) -> None:
        for query in [
            'name=="x\') OR 1=1 --"',
            "name==\"x' OR '1'='1\"",
            'name=="\\"; DROP TABLE x; --"',
            'name="x\')) OR true --"',
            'name<"\' OR 1=1 --"',
        ]:
            assert await find(people, query) == [], query
        assert await find(people, "cql.allRecords=1") == ALL


class TestExact:
    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("name==jo*", ["Jo Jane"]),
            ("name==JO JANE", ["Jo Jane"]),
            ('name=="zoe arger"', ["Zoë Ärger"]),
            ('name==/respectCase "jo jane"', []),
            ('name==/respectCase "Jo Jane"', ["Jo Jane"]),
            ('name==/respectAccents "Zoe Arger"', []),
            ('name==/respectAccents "zoë ärger"', ["Zoë Ärger"]),
            ("name==*ll*", ["ka keller"]),
            ("name==?a*", ["ka keller"]),
            ("name<>jo*", ["Lea Long", "Zoë Ärger", "^caret^", "ka keller", "Ω"]),
            ("name==^jo*", ["Jo Jane"]),
            ('name=="^jo jane^"', ["Jo Jane"]),
            ('name=="\\^caret\\^"', ["^caret^"]),
            ("code==a*b", ["Jo Jane", "ka keller"]),
            ("code==a\\*b", ["Jo Jane"]),
            ("code==a\\?b", ["ka keller"]),
            ("code==/unmasked a*b", ["Jo Jane"]),
            ("code==/unmasked a?b", ["ka keller"]),
            ("code==50%", ["Zoë Ärger"]),
            ("code==5_%", []),
            ("code==_", ["Ω"]),
            ('code=="x\'y"', ["Lea Long"]),
            ('code=="back\\\\slash"', ["^caret^"]),
            ("personal.lastName==o'neil", ["Lea Long"]),
            ('email==""', ["Lea Long"]),
            ('email=""', ["Jo Jane", "Lea Long", "ka keller"]),
            ("email==*", ["Jo Jane", "Lea Long", "ka keller"]),
            ("email<>*", []),
            ('cql.allRecords=1 not email=""', ["Zoë Ärger", "^caret^", "Ω"]),
            ("active==true", ["Jo Jane"]),
            ("active==FALSE", ["ka keller"]),
            ("active=true", ["Jo Jane"]),
            ("tags==*blue*", ["Jo Jane"]),
            ('name==(jo jane or "Lea Long" or zz)', ["Jo Jane", "Lea Long"]),
            ("city==sovang", ["Jo Jane", "Lea Long", "ka keller"]),
            ("city==/respectAccents sovang", ["ka keller"]),
            ("city==\uff3c", []),
            ("code==\uff3f", ["Ω"]),
        ],
    )
    async def test_matches(self, people: dict[str, Any], query: str, names: list[str]) -> None:
        assert await find(people, query) == sorted(names)

    def test_inner_caret_is_an_error(self) -> None:
        err = error("name==jo^ne")
        assert err.position == 7 and "only allowed at the start or the end" in err.message

    def test_case_sensitive_index_decides_folding(self) -> None:
        index = Index("name", "gin", case_sensitive=True)
        translation = translate("name==x", indexes=[index])
        assert translation.where.startswith(index_expression(index) + " = ")
        assert translate("name==/ignoreCase x", indexes=[index]).where.startswith("lower(")


class TestWords:
    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("name=jo", ["Jo Jane"]),
            ('name="jane jo"', []),
            ('name all "jane jo"', ["Jo Jane"]),
            ('name any "jane xyz"', ["Jo Jane"]),
            ('name adj "jo jane"', ["Jo Jane"]),
            ("name=jo*", ["Jo Jane"]),
            ('name="j* l*"', []),
            ('name="le* lo*"', ["Lea Long"]),
            ("name=zoe", ["Zoë Ärger"]),
            # case and accent modifiers are ignored (as RMB): the fulltext index on name folds accents
            ("name=/respectAccents zoe", ["Zoë Ärger"]),
            ("name=/respectAccents zoë", ["Zoë Ärger"]),
            ("name=/respectCase JO", ["Jo Jane"]),
            ('name all/respectCase/respectAccents "JANE JO"', ["Jo Jane"]),
            ("name any/respectCase ZOE", ["Zoë Ärger"]),
            ('name adj/respectAccents "zoe arger"', ["Zoë Ärger"]),
            ("city=/ignoreAccents sovang", ["Jo Jane", "Lea Long", "ka keller"]),
            ("personal.lastName=neil", ["Lea Long"]),
            ("name=*", ALL),
            ('name=""', ALL),
            # text search keeps an e-mail address as one word, as in CQL2PgJSON
            ("email=example.com", []),
            ("email=jo@example.com", ["Jo Jane"]),
            ("name=\u2018quoted\u2019", []),
            ("name=-", []),
            ("age=30", ["Jo Jane"]),
            # a literal "*" is a word separator for the text search parser: "jo*" unmasked is the word "jo"
            ("name=/unmasked jo*", ["Jo Jane"]),
        ],
    )
    async def test_matches(self, people: dict[str, Any], query: str, names: list[str]) -> None:
        assert await find(people, query) == sorted(names)

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("name=j*e", "only supported at the end of a word"),
            ("name=j?", "single-character wildcard"),
            ("name=^jo", "anchoring"),
            ("name all/number 4", "/number does not work with 'all'"),
        ],
    )
    def test_errors(self, query: str, message: str) -> None:
        assert message in error(query).message

    def test_too_many_words(self) -> None:
        translate('name="' + " ".join(["w"] * MAX_WORDS) + '"')
        assert "at most" in error('name="' + " ".join(["w"] * (MAX_WORDS + 1)) + '"').message

    def test_uses_the_fulltext_index_expression(self) -> None:
        index = Index("title", "fulltext")
        assert translate("title=x", indexes=[index]).where.startswith(index_expression(index) + " @@ ")

    @pytest.mark.parametrize(
        "modifiers",
        [
            "/respectCase",
            "/respectAccents",
            "/ignoreAccents",
            "/respectCase/respectAccents",
            "/ignoreCase/ignoreAccents",
        ],
    )
    @pytest.mark.parametrize("remove_accents", [True, False])
    def test_case_and_accent_modifiers_follow_the_index(self, modifiers: str, remove_accents: bool) -> None:
        index = Index("title", "fulltext", remove_accents=remove_accents)
        plain = translate("title=x", indexes=[index])
        assert translate(f"title={modifiers} x", indexes=[index]) == plain
        assert plain.where.startswith(index_expression(index) + " @@ ")

    async def test_accents_follow_a_fulltext_index_that_keeps_them(self, people: dict[str, Any]) -> None:
        keeps = (Index("city", "fulltext", remove_accents=False),)
        assert await find(people, "city=/ignoreAccents sovang", indexes=keeps) == ["ka keller"]
        assert await find(people, "city=søvang", indexes=keeps) == ["Jo Jane", "Lea Long"]

    def test_ignored_modifiers_are_logged_at_debug(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG, logger="mod_users.cql.fields"):
            translate("title=/respectCase/respectAccents x")
            translate("title=/ignoreCase/ignoreAccents x")  # what the default does: nothing to say
        assert [r.getMessage() for r in caplog.records] == [
            "ignoring /respectCase /respectAccents in a word search on title: text search folds case, and "
            "accents as the field's fulltext index does"
        ]


class TestNumbersAndRanges:
    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("age>/number 10", ["Jo Jane", "Lea Long", "^caret^", "Ω"]),
            ("age==/number 12", ["Lea Long"]),
            ("age=/number 1e3", ["Ω"]),
            ("age</number 6", ["ka keller"]),
            ("age<>/number 5", ["Jo Jane", "Lea Long", "^caret^", "Ω"]),
            ("age>10", ["Jo Jane", "Lea Long", "Zoë Ärger", "^caret^", "Ω"]),
            ("age<9", ["Lea Long", "ka keller"]),
            ("name<k", ["Jo Jane", "^caret^"]),
            ("name>=ka", ["Lea Long", "Zoë Ärger", "ka keller", "Ω"]),
            ("name>/respectCase K", ["Lea Long", "Zoë Ärger", "^caret^", "ka keller", "Ω"]),
            ("city>=sovang", ["Jo Jane", "Lea Long", "ka keller"]),
        ],
    )
    async def test_matches(self, people: dict[str, Any], query: str, names: list[str]) -> None:
        assert await find(people, query) == sorted(names)

    @pytest.mark.parametrize("query", ["age=/number abc", "age>/number 1e5000", "age</number ''", "age==/number 1,5"])
    def test_number_needs_a_number(self, query: str) -> None:
        assert "/number needs a number" in error(query).message

    async def test_number_never_fails_on_other_values(self, people: dict[str, Any]) -> None:
        for field in ("name", "code", "tags", "personal", "active", "nothing"):
            await find(people, f"{field}>/number 1")
            await find(people, f"{field}>1")
            await find(people, f"cql.allRecords=1 sortBy {field}/number")


class TestSort:
    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("cql.allRecords=1 sortBy name", ["^caret^", "Jo Jane", "ka keller", "Lea Long", "Zoë Ärger", "Ω"]),
            (
                "cql.allRecords=1 sortBy name/sort.descending",
                ["Ω", "Zoë Ärger", "Lea Long", "ka keller", "Jo Jane", "^caret^"],
            ),
            (
                "cql.allRecords=1 sortBy name/respectCase",
                ["Jo Jane", "Lea Long", "Zoë Ärger", "^caret^", "ka keller", "Ω"],
            ),
            # jsonb order: strings before numbers
            (
                "cql.allRecords=1 sortBy age/number name",
                ["Lea Long", "Zoë Ärger", "ka keller", "Jo Jane", "^caret^", "Ω"],
            ),
            (
                "cql.allRecords=1 sortBy active/sort.descending name",
                ["^caret^", "Lea Long", "Zoë Ärger", "Ω", "Jo Jane", "ka keller"],
            ),
            (
                "cql.allRecords=1 sortBy id/sort.descending",
                ["Ω", "^caret^", "Zoë Ärger", "Lea Long", "ka keller", "Jo Jane"],
            ),
        ],
    )
    async def test_order(self, people: dict[str, Any], query: str, names: list[str]) -> None:
        assert await find(people, query, ordered=True) == names

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("a=b sortBy name/sort.sideways", "unsupported sort modifier /sort.sideways"),
            ("a=b sortBy cql.serverChoice", "cannot sort by"),
            ("a=b sortBy name/number=1", "takes no value"),
        ],
    )
    def test_errors(self, query: str, message: str) -> None:
        assert message in error(query).message

    def test_sort_key_limit(self) -> None:
        keys = [f"f{n}" for n in range(1100)]
        translate("cql.allRecords=1 sortBy " + " ".join(keys[:MAX_SORT_KEYS]))
        query = "cql.allRecords=1 sortBy " + " ".join(keys)
        err = error(query)
        assert (err.kind, err.position) == ("invalid query", query.index(f" {keys[MAX_SORT_KEYS]} ") + 2)
        assert f"at most {MAX_SORT_KEYS} sort keys, got 1100" in err.message


class TestIdsAndServerChoice:
    async def test_ids(self, people: dict[str, Any]) -> None:
        assert await find(people, f"id=={ID[0]}") == ["Jo Jane"]
        assert await find(people, f"id=={str(ID[1]).upper()}") == ["ka keller"]
        assert await find(people, "id=3333*") == ["Lea Long"]
        assert await find(people, "id==nonsense") == []
        assert await find(people, "id<>nonsense") == ALL
        assert await find(people, f"id<{ID[1]}") == ["Jo Jane"]
        assert await find(people, f"id==({ID[0]} or {ID[2]} or nonsense)") == ["Jo Jane", "Lea Long"]

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("id>bad", "needs a complete UUID"),
            ("id=*1", "only right truncation supported for id"),
            ("id==/ignoreCase x", "UUID searches take no modifiers"),
            ("id any x", "relation 'any' is not supported"),
        ],
    )
    def test_id_errors(self, query: str, message: str) -> None:
        assert message in error(query).message

    async def test_server_choice(self, people: dict[str, Any]) -> None:
        assert await find(people, "jo", server_choice=("name", "email")) == ["Jo Jane"]
        assert await find(people, "ka*", server_choice=("name", "email")) == ["ka keller"]
        err = error("jo")
        assert (err.kind, err.position) == ("invalid query", 1) and "server-choice" in err.message


class TestBooleans:
    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("name=jo or name=lea and active==true", ["Jo Jane"]),
            ("name=jo or (name=lea and active==true)", ["Jo Jane"]),
            ("name=lea or (name=jo and active==true)", ["Jo Jane", "Lea Long"]),
            ("cql.allRecords=1 not active==true", ["Lea Long", "Zoë Ärger", "^caret^", "ka keller", "Ω"]),
            ("name==* not email==*example*", ["Lea Long", "Zoë Ärger", "^caret^", "Ω"]),
            ("name=jo AND email==jo* OR name=lea NOT age>/number 20", ["Lea Long"]),
        ],
    )
    async def test_matches(self, people: dict[str, Any], query: str, names: list[str]) -> None:
        assert await find(people, query) == sorted(names)


class TestArrayModifiers:
    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("phones==/@type=home 111", ["Jo Jane"]),
            ("phones==/@type=mobile 111", ["ka keller"]),
            ("phones==/@type=mobile 2*", ["Jo Jane"]),
            ("phones==/@type 111", []),
            ("phones==/@type home", ["Jo Jane"]),
        ],
    )
    async def test_matches(self, people: dict[str, Any], query: str, names: list[str]) -> None:
        assert await find(people, query) == sorted(names)

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("phones==/@color=red 1", "Unsupported relation modifier @color"),
            ("phones==/@type<1 1", "Unsupported comparison for relation modifier @type"),
            ("tags==/@x=1 1", "Unsupported relation modifier @x"),
            ("phones>/@type=home 1", "do not work with '>'"),
        ],
    )
    def test_errors(self, query: str, message: str) -> None:
        assert message in error(query, indexes=INDEXES).message


class TestUnsupported:
    @pytest.mark.parametrize(
        ("query", "column", "message"),
        [
            ("a=1 prox b=2", 5, "prox (proximity) is not supported"),
            ('> dc = "x" a=1', 1, "prefix assignments"),
            ("a within 1", 3, "relation 'within' is not supported"),
            ("a encloses 1", 3, "relation 'encloses' is not supported"),
            ("a=/regexp x", 3, "/regexp is not supported"),
            ("a=/substring x", 3, "/substring is not supported"),
            ("a=/sort.descending x", 3, "belongs to a sortBy key"),
            ("a=/ignoreCase=1 x", 3, "takes no value"),
            ("a=1 and/rel.x b=2", 8, "boolean modifier /rel.x is not supported"),
            ("name=x and foo;bar=y", 12, "invalid index name"),
        ],
    )
    def test_errors_name_the_column(self, query: str, column: int, message: str) -> None:
        err = error(query)
        assert err.position == column
        assert message in err.message
        assert str(err).startswith(f"{err.kind} at column {column}: ")

    def test_condition_limit(self) -> None:
        translate(" or ".join(f"name=w{n}" for n in range(MAX_CONDITIONS)))
        translate(" or ".join(f"name==w{n}" for n in range(5 * MAX_CONDITIONS)))  # one IN list
        assert "more than" in error(" or ".join(f"name=w{n}" for n in range(MAX_CONDITIONS + 1))).message


class TestStorageUsage:
    async def test_paging_and_counting_append_parameters(self, people: dict[str, Any]) -> None:
        translation = translate("name==*a* sortBy name", indexes=INDEXES)
        n = len(translation.params)
        con = await asyncpg.connect(**people)
        try:
            rows = await con.fetch(
                f"SELECT jsonb->>'name' FROM {TABLE} WHERE {translation.where} "
                f"ORDER BY {translation.order_by} LIMIT ${n + 1} OFFSET ${n + 2}",
                *translation.params,
                2,
                1,
            )
            total = await con.fetchval(f"SELECT count(*) FROM {TABLE} WHERE {translation.where}", *translation.params)
        finally:
            await con.close()
        assert [row[0] for row in rows] == ["Jo Jane", "ka keller"]
        assert total == 5


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("a*b", "Jo Jane"),
        ("a?b", "ka keller"),
        ("x'y", "Lea Long"),
        ("50%", "Zoë Ärger"),
        ("back\\slash", "^caret^"),
        ("_", "Ω"),
    ],
)
async def test_quote_matches_a_value_literally(people: dict[str, Any], code: str, name: str) -> None:
    assert await find(people, f"code=={quote(code)}") == [name]
    if len(code) > 1:
        assert await find(people, f"code=={quote(code[:-1], prefix=True)}") == [name]


async def test_quote_masks_every_special_character(people: dict[str, Any]) -> None:
    assert quote('^a*?"\\') == '"\\^a\\*\\?\\"\\\\"'
    assert await find(people, f"name=={quote('^caret^')}") == ["^caret^"]
    assert await find(people, f"name=={quote('*')}") == []
