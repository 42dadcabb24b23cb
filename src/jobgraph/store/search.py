"""Full-text search over entities: SQLite FTS5 or PostgreSQL tsvector, ranked.

Migration 0005 builds the index: on SQLite an FTS5 table ``entity_search`` over the title and
``search_text`` columns of ``entities`` (external content, kept in step by triggers on every
insert and update, whoever writes); on PostgreSQL a generated ``search_vector`` column with a
GIN index. Both stem English words (Porter), so ``charging`` finds ``charges``; every word of a
query of three letters or more must match the start of a word in the entity (``bill`` finds
``billing``, not ``rebill``); shorter ones must match a whole word. Titles weigh more than
other fields.

Neither object is declared in :mod:`jobgraph.store.tables` (SQLAlchemy cannot describe them
on both backends); :func:`include_name` tells Alembic's comparison to leave them alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    select,
    table,
)

from jobgraph.store.tables import EntityRow

FTS_TABLE = "entity_search"
VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_entities_search_vector"
TITLE_WEIGHT = 10.0
PREFIX_FROM = 3

# a run of letters or digits, the unit both backends index: "job.pay-a-bill" gives job, pay,
# a, bill; "100%_" gives 100
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The words of a query, lower-cased, each once, in order."""
    return list(dict.fromkeys(_WORD.findall(text.lower())))


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic: whether a database object is one the models describe (the full-text
    table, its shadow tables, the vector column and its index are not)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(FTS_TABLE)
    return name not in (VECTOR_COLUMN, VECTOR_INDEX)


def _star(word: str, star: str = "*") -> str:
    """Prefix matching for words of three letters or more: "bil" finds "billing", while "a"
    stays the word "a" instead of every word starting with an a."""
    return star if len(word) >= PREFIX_FROM else ""


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_params(text: str, dialect: str) -> dict[str, str]:
    """The bind parameters of :func:`matching` for ``text`` (at least one word)."""
    found = words(text)
    if not found:
        raise ValueError("a full-text query needs at least one word")
    if dialect == "sqlite":
        # FTS5 query syntax: each word quoted (no operators), * for a prefix match
        expression = " AND ".join(f'"{w}"{_star(w)}' for w in found)
    else:
        # tsquery syntax: word:* for a prefix match, & for and; the words carry no operators
        expression = " & ".join(f"{w}{_star(w, ':*')}" for w in found)
    phrase = f"%{_escape_like(' '.join(text.lower().split()))}%"
    return {"fts_query": expression, "phrase": phrase}


def matching(
    query: Select[*tuple[Any, ...]], dialect: str
) -> tuple[Select[*tuple[Any, ...]], list[Any]]:
    """``query`` (over ``entities``) narrowed to the entities that match every word of the
    search (bind parameters from :func:`search_params`), and the order that ranks them: the
    whole query in the title first, then in the id (each by id, as before full-text search),
    then the other matches, more relevant first; live before retired within each."""
    relevance: ColumnElement[Any]
    if dialect == "sqlite":
        fts: ColumnElement[Any] = literal_column(FTS_TABLE)
        # bm25() works only next to its MATCH: rank in a subquery of the FTS table alone
        hits = (
            select(
                literal_column("rowid").label("rowid"),
                func.bm25(fts, TITLE_WEIGHT, 1.0).label("rank"),  # lower is better
            )
            .select_from(table(FTS_TABLE))
            .where(fts.op("MATCH")(bindparam("fts_query")))
            .subquery("hits")
        )
        query = query.join(hits, hits.c.rowid == literal_column("entities.rowid"))
        relevance = hits.c.rank
    elif dialect == "postgresql":
        tsquery = func.to_tsquery(literal_column("'english'"), bindparam("fts_query"))
        vector: ColumnElement[Any] = literal_column(f"entities.{VECTOR_COLUMN}")
        query = query.where(vector.op("@@")(tsquery))
        relevance = -func.ts_rank(vector, tsquery)
    else:
        raise ValueError(f"no full-text search for the {dialect} backend")
    phrase: BindParameter[str] = bindparam("phrase")
    tier = case(
        (func.lower(EntityRow.title).like(phrase, escape="\\"), 0),
        (EntityRow.id.like(phrase, escape="\\"), 1),
        else_=2,
    )
    # relevance orders the word matches; whole-phrase matches keep their order by id
    ranked = case((tier == 2, relevance), else_=literal(0.0))
    return query, [tier, EntityRow.status == "retired", ranked, EntityRow.id]


def page_query(
    columns: Sequence[Any], dialect: str, *, kind: bool, status: bool, owner: bool
) -> Select[*tuple[Any, ...]]:
    """One page of search results in one statement: ``columns`` of the matching entities
    (filtered by the bind parameters ``kind``, ``status``, ``owner`` when asked), ranked, then
    the total number of matches; bind ``limit`` and ``offset`` too. Only the ids are sorted:
    the columns are read for the page's rows alone."""
    conditions = [
        column == bindparam(name)
        for column, name, wanted in (
            (EntityRow.kind, "kind", kind),
            (EntityRow.status, "status", status),
            (EntityRow.owner, "owner", owner),
        )
        if wanted
    ]
    ranked, order = matching(select(EntityRow.id).where(*conditions), dialect)
    keys = [o.label(f"k{i}") for i, o in enumerate(order[:3])]
    hits = (
        ranked.add_columns(*keys, func.count().over().label("total"))
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    return (
        select(*columns, hits.c.total)
        .select_from(hits.join(EntityRow, EntityRow.id == hits.c.id))
        .order_by(hits.c.k0, hits.c.k1, hits.c.k2, hits.c.id)
    )
