"""CQL (Contextual Query Language) for JSONB records in PostgreSQL, with FOLIO's CQL2PgJSON semantics.

``translate(query)`` turns a CQL query into a parameterised WHERE condition and ORDER BY list;
``parse(query)`` gives the syntax tree alone; ``Index`` declarations tell the translator which
expressions the table's indexes are built on, and ``index_ddl`` creates those indexes. Every search term
reaches SQL as a bind parameter; index names become JSON paths only after a strict check. Any problem
with a query raises :class:`CQLError` naming the column where it is.
"""

from mod_users.cql.errors import CQLError
from mod_users.cql.indexes import KINDS, Index, index_ddl, index_expression
from mod_users.cql.parser import parse
from mod_users.cql.terms import quote
from mod_users.cql.translator import Translation, translate

__all__ = ["KINDS", "CQLError", "Index", "Translation", "index_ddl", "index_expression", "parse", "quote", "translate"]
