"""The CQL parser alone: grammar, escapes, precedence, modifiers, sortBy, errors with their columns."""

from __future__ import annotations

import pytest

from mod_users.cql import CQLError, parse
from mod_users.cql.lexer import Kind, tokenize
from mod_users.cql.nodes import BooleanNode, Modifier, PrefixNode, SearchClause, SortKey
from mod_users.cql.parser import MAX_BOOLEANS, MAX_MODIFIERS, MAX_NESTING

# The parser recurses through at most this many frames per level of nesting (clauses, term, and
# parenthesised or prefix); the tests give it a stack with room for exactly the bound and a margin.
_FRAMES_PER_LEVEL = 3
_MARGIN = 60


def _with_stack_for_nesting(run):
    """Run ``run()`` with a recursion limit just above what MAX_NESTING levels need."""
    import inspect
    import sys

    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + _FRAMES_PER_LEVEL * MAX_NESTING + _MARGIN)
    try:
        return run()
    finally:
        sys.setrecursionlimit(previous)


def clause(query: str) -> SearchClause:
    root = parse(query).root
    assert isinstance(root, SearchClause)
    return root


def shape(node: object) -> object:
    """A compact view of a tree: ('op', left, right) or 'index relation term'."""
    if isinstance(node, BooleanNode):
        return (node.op, shape(node.left), shape(node.right))
    assert isinstance(node, SearchClause)
    return f"{node.index} {node.relation.base} {node.term}"


class TestTokens:
    def test_kinds_and_columns(self) -> None:
        tokens = tokenize('title=="a b" AND (x<>y) sortBy t/sort.descending')
        assert [(t.kind, t.text, t.position) for t in tokens] == [
            (Kind.WORD, "title", 1),
            (Kind.RELATION, "==", 6),
            (Kind.STRING, "a b", 8),
            (Kind.AND, "AND", 14),
            (Kind.LPAREN, "(", 18),
            (Kind.WORD, "x", 19),
            (Kind.RELATION, "<>", 20),
            (Kind.WORD, "y", 22),
            (Kind.RPAREN, ")", 23),
            (Kind.SORTBY, "sortBy", 25),
            (Kind.WORD, "t", 32),
            (Kind.SLASH, "/", 33),
            (Kind.WORD, "sort.descending", 34),
            (Kind.EOF, "", 49),
        ]

    @pytest.mark.parametrize("symbol", ["=", "==", "<>", "<", ">", "<=", ">="])
    def test_relation_symbols(self, symbol: str) -> None:
        assert clause(f"a{symbol}b").relation.base == symbol

    def test_quoted_string_keeps_escapes(self) -> None:
        assert clause(r'a="x\"y\*z\\"').term == r"x\"y\*z\\"

    def test_unquoted_word_keeps_quotes_and_backslashes(self) -> None:
        assert clause(r'lang == ["en"]').term == '["en"]'
        assert clause(r"email==\\\"").term == r"\\\""

    def test_words_stop_at_special_characters(self) -> None:
        texts = [t.text for t in tokenize("a<b>=c(d)e/f")]
        assert texts == ["a", "<", "b", ">=", "c", "(", "d", ")", "e", "/", "f", ""]


class TestGrammar:
    def test_bare_term_is_server_choice(self) -> None:
        node = clause("Long")
        assert (node.index, node.relation.base, node.term) == ("cql.serverChoice", "=", "Long")

    def test_search_clause_positions(self) -> None:
        node = clause('name == "Lea Long"')
        assert (node.index, node.relation.base, node.term, node.quoted) == ("name", "==", "Lea Long", True)
        assert (node.position, node.relation.position, node.term_position) == (1, 6, 9)

    def test_left_to_right_without_precedence(self) -> None:
        assert shape(parse("a or b and c").root) == (
            "and",
            ("or", "cql.serverChoice = a", "cql.serverChoice = b"),
            "cql.serverChoice = c",
        )
        assert shape(parse("a and b or c").root) == (
            "or",
            ("and", "cql.serverChoice = a", "cql.serverChoice = b"),
            "cql.serverChoice = c",
        )

    def test_parentheses_group(self) -> None:
        assert shape(parse("x=a or (y=b and z=c)").root) == ("or", "x = a", ("and", "y = b", "z = c"))

    @pytest.mark.parametrize("keyword", ["AND", "and", "And", "aNd"])
    def test_keywords_ignore_case(self, keyword: str) -> None:
        node = parse(f"a=1 {keyword} b=2").root
        assert isinstance(node, BooleanNode) and node.op == "and"

    def test_not_and_prox(self) -> None:
        assert shape(parse("a=1 NOT b=2").root) == ("not", "a = 1", "b = 2")
        node = parse("a=1 prox/unit=word/distance>3 b=2").root
        assert isinstance(node, BooleanNode) and node.op == "prox"
        assert node.modifiers == (Modifier("unit", 9, "=", "word"), Modifier("distance", 19, ">", "3"))

    def test_context_is_inherited_inside_parentheses(self) -> None:
        assert shape(parse("name==(a or b)").root) == ("or", "name == a", "name == b")
        assert shape(parse("name==(a or c=d)").root) == ("or", "name == a", "c = d")

    def test_several_words_form_one_term(self) -> None:
        assert clause("lang = au dk").term == "au dk"
        assert clause("Lea Long").term == "Lea Long"
        assert clause("title = Jo example.com").term == "Jo example.com"

    @pytest.mark.parametrize("name", ["adj", "all", "any", "ADJ", "Any", "cql.all", "within", "encloses"])
    def test_named_relations(self, name: str) -> None:
        assert clause(f"title {name} x").relation.base == name.lower().removeprefix("cql.")

    def test_keywords_are_terms_after_a_relation_or_when_quoted(self) -> None:
        assert clause("title = and").term == "and"
        assert clause('"and"').term == "and"
        assert clause('"sortby" = x').index == "sortby"
        assert parse('a sortBy "and"').sort_keys == (SortKey("and", 10),)

    def test_dotted_index(self) -> None:
        assert clause("personal.lastName==Smith").index == "personal.lastName"

    def test_relation_modifiers(self) -> None:
        node = clause("city ==/ignoreCase/respectAccents/@type=home x")
        assert node.relation.modifiers == (
            Modifier("ignorecase", 8),
            Modifier("respectaccents", 19),
            Modifier("@type", 34, "=", "home"),
        )

    def test_modifier_value_may_be_quoted(self) -> None:
        node = clause('c =/@id="2b94" terry')
        assert node.relation.modifiers == (Modifier("@id", 4, "=", "2b94"),) and node.term == "terry"

    def test_sortby_keys_and_modifiers(self) -> None:
        query = parse("cql.allRecords=1 sortBy name/sort.descending age/number id")
        assert query.sort_keys == (
            SortKey("name", 25, (Modifier("sort.descending", 29),)),
            SortKey("age", 46, (Modifier("number", 49),)),
            SortKey("id", 57),
        )

    def test_sortby_keyword_ignores_case(self) -> None:
        assert parse("a SORTBY b").sort_keys == (SortKey("b", 10),)

    def test_prefix_assignment(self) -> None:
        node = parse('> dc = "http://purl.org/dc" dc.title=x').root
        assert isinstance(node, PrefixNode) and (node.prefix, node.uri) == ("dc", "http://purl.org/dc")


class TestErrors:
    @pytest.mark.parametrize(
        ("query", "column", "message"),
        [
            ("", 1, "the query is empty"),
            ("   ", 1, "the query is empty"),
            ("name==", 7, "expected a term after '==', got end of query"),
            ("name== ", 8, "expected a term after '=='"),
            ("name==/respectCase", 19, "expected a term after '==' and its modifiers"),
            ('name="abc', 6, "unterminated quoted string"),
            ('name="abc\\"', 6, "unterminated quoted string"),
            ("a and", 6, "expected a search clause after 'and'"),
            ("(a", 3, "expected ')' to close the '(' at column 1"),
            ("a)", 2, "unbalanced ')'"),
            ("a = b = c", 7, "expected a boolean operator"),
            ("a=b c=d", 6, "expected a boolean operator"),
            ("a sortBy", 9, "expected a sort key after 'sortBy'"),
            ("a sortBy x (", 12, "expected a sort key"),
            ("a=/(b)", 4, "expected a modifier name after '/', got '('"),
            ("a=/x=) b", 6, "expected a modifier value after 'x='"),
            ("(", 2, "expected a search term or an index"),
            ("=x", 1, "expected a search term or an index, got '='"),
            ("a\x00b", 2, "U+0000"),
            # an unquoted keyword cannot start a search clause or be a sort key
            ("or name=a", 1, "expected a search term or an index, got the keyword 'or'"),
            ("and", 1, "got the keyword 'and' (quote it"),
            ("name=a not not name=b", 12, "expected a search clause after 'not', got the keyword 'not'"),
            ("a and (or b)", 8, "got the keyword 'or'"),
            ("sortBy = x", 1, "got the keyword 'sortBy'"),
            ("name=a sortby name sortby email", 20, "'sortby' may appear only once"),
            ("name=a sortby name and b=c", 20, "expected a sort key, got the keyword 'and'"),
            # only a single word can be an index
            ("lea name=x", 9, "unexpected relation '=' after the words 'lea name'"),
            ("a or b c any d", 10, "unexpected relation 'any' after the words 'b c'"),
        ],
    )
    def test_syntax_errors_name_the_column(self, query: str, column: int, message: str) -> None:
        with pytest.raises(CQLError) as raised:
            parse(query)
        assert raised.value.position == column
        assert raised.value.kind == "syntax error"
        assert message in raised.value.message
        assert str(raised.value).startswith(f"syntax error at column {column}: ")

    def test_nesting_is_bounded(self) -> None:
        parse("(" * 100 + "a" + ")" * 100)
        with pytest.raises(CQLError, match="nested deeper than 100"):
            parse("(" * 101 + "a" + ")" * 101)

    def test_long_chains_parse_without_recursion(self) -> None:
        # A chain as long as the bound parses even when the stack has room for little more than the
        # deepest nesting allowed: booleans are read in a loop, not by recursion.
        query = " or ".join(f"t{i}" for i in range(MAX_BOOLEANS + 1))
        root = _with_stack_for_nesting(lambda: parse(query)).root
        assert isinstance(root, BooleanNode)

    @pytest.mark.parametrize(
        ("kind", "build"),
        [
            ("parentheses", lambda n: "(" * n + "a" + ")" * n),
            ("prefixes", lambda n: ">p=x " * n + "a"),
            ("prefixes without a name", lambda n: ">x " * n + "a"),
            ("mixed", lambda n: "(>p=x " * (n // 2) + ("(" if n % 2 else "") + "a" + ")" * ((n + 1) // 2)),
            ("boolean operands", lambda n: "a and (" * n + "b" + ")" * n),
            ("prefixed operands", lambda n: "a or >x " * n + "b"),
        ],
    )
    def test_every_way_of_nesting_is_bounded(self, kind: str, build) -> None:
        # Up to the bound the parser stays within a stack that only just holds the bound's recursion
        # (so it cannot recurse past it); one level more is a CQLError naming the bound, and so is a
        # nesting far beyond it (issue 12: 330 prefixes were a RecursionError, a 500).
        _with_stack_for_nesting(lambda: parse(build(MAX_NESTING)))
        with pytest.raises(CQLError, match=f"nested deeper than {MAX_NESTING} levels"):
            _with_stack_for_nesting(lambda: parse(build(MAX_NESTING + 1)))
        with pytest.raises(CQLError, match=f"nested deeper than {MAX_NESTING} levels"):
            parse(build(20_000))

    def test_the_issue_query_is_a_syntax_error(self) -> None:
        query = ">a " * 330 + "x"
        assert len(query) == 991
        with pytest.raises(CQLError) as raised:
            parse(query)
        assert raised.value.position == 3 * MAX_NESTING + 1

    def test_boolean_chains_are_bounded(self) -> None:
        with pytest.raises(CQLError, match=f"more than {MAX_BOOLEANS} boolean operators") as raised:
            parse(" or ".join(["t"] * (MAX_BOOLEANS + 2)))
        assert raised.value.position == 5 * (MAX_BOOLEANS + 1) - 2  # the column of the operator past the bound

    def test_modifier_lists_are_bounded(self) -> None:
        parse("a =" + "/m" * MAX_MODIFIERS + " b")
        for query in ("a =" + "/m" * (MAX_MODIFIERS + 1) + " b", "a and" + "/m" * 10_000 + " b"):
            with pytest.raises(CQLError, match=f"more than {MAX_MODIFIERS} modifiers"):
                parse(query)
        with pytest.raises(CQLError, match=f"more than {MAX_MODIFIERS} modifiers"):
            parse("a sortBy b" + "/m" * (MAX_MODIFIERS + 1))

    def test_not_a_string(self) -> None:
        with pytest.raises(TypeError):
            parse(b"a=b")  # type: ignore[arg-type]
