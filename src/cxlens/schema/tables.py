"""Canonical tables: the column contract every workspace and backend follows.

The names here are the contract of DESIGN.md; extra columns are allowed in source files and
kept in ``properties`` where a table has one. Timestamps are stored as UTC ``TIMESTAMP``
(without zone), ids as strings, JSON as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRING, TIMESTAMP, FLOAT, INT, JSON = "string", "timestamp", "float", "int", "json"

_SQL_TYPES = {STRING: "VARCHAR", TIMESTAMP: "TIMESTAMP", FLOAT: "DOUBLE", INT: "BIGINT", JSON: "VARCHAR"}

#: Valid score range per feedback metric (inclusive). Metrics not listed accept any number.
SCORE_RANGES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),
    "enps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "rating": (1, 5),
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    type: str
    required: bool = False
    pii: bool = False
    doc: str = ""
    #: allowed values (lower-case) for categorical columns
    choices: tuple[str, ...] | None = None
    #: inclusive bounds for numbers
    min: float | None = None
    max: float | None = None

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns and the columns that identify a row."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""
    #: columns hashed into the key when the source has no id column
    derive_key_from: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self) -> str:
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" ({cols})'


C = Column

CUSTOMERS = Table(
    "customers",
    (
        C("customer_id", STRING, required=True),
        C("created_at", TIMESTAMP),
        C("email", STRING, pii=True),
        C("name", STRING, pii=True),
        C("segment", STRING, doc="business segment (a common trait promoted to a column)"),
        C("plan", STRING),
        C("country", STRING),
        C("churned_at", TIMESTAMP, doc="when the customer was lost, if known"),
        C("traits", JSON, doc="every other trait as a JSON object"),
    ),
    key=("customer_id",),
    doc="a person or account",
)

EVENTS = Table(
    "events",
    (
        C("event_id", STRING, required=True),
        C("customer_id", STRING),
        C("anonymous_id", STRING),
        C("session_id", STRING),
        C("ts", TIMESTAMP, required=True),
        C("type", STRING, choices=("track", "page", "identify", "screen", "group", "alias")),
        C("name", STRING, required=True),
        C("channel", STRING),
        C("touchpoint", STRING),
        C("stage", STRING),
        C("url", STRING),
        C("properties", JSON),
        C("revenue", FLOAT),
    ),
    key=("event_id",),
    derive_key_from=("customer_id", "anonymous_id", "session_id", "ts", "type", "name", "touchpoint", "url"),
    doc="something a customer did at a touchpoint",
)

FEEDBACK = Table(
    "feedback",
    (
        C("feedback_id", STRING, required=True),
        C("customer_id", STRING),
        C("ts", TIMESTAMP, required=True),
        C("metric", STRING, required=True),
        C("score", FLOAT, required=True),
        C("comment", STRING),
        C("touchpoint", STRING),
        C("channel", STRING),
        C("stage", STRING),
        C("survey_id", STRING),
        C("properties", JSON),
    ),
    key=("feedback_id",),
    derive_key_from=("customer_id", "ts", "metric", "score", "comment", "touchpoint", "survey_id"),
    doc="a scored answer with an optional comment",
)

ORDERS = Table(
    "orders",
    (
        C("order_id", STRING, required=True),
        C("customer_id", STRING, required=True),
        C("ts", TIMESTAMP, required=True),
        C("amount", FLOAT, required=True),
        C("currency", STRING),
        C("status", STRING),
        C("channel", STRING),
        C("properties", JSON, doc="anything else the source carries (payment type, number of items…)"),
    ),
    key=("order_id",),
)

ORDER_ITEMS = Table(
    "order_items",
    (
        C("order_id", STRING, required=True),
        C("item_id", STRING, required=True, doc="line within the order; derived when absent"),
        C("product_id", STRING, required=True),
        C("quantity", FLOAT, min=0),
        C("price", FLOAT),
        C("properties", JSON),
    ),
    key=("order_id", "item_id"),
)

TICKETS = Table(
    "tickets",
    (
        C("ticket_id", STRING, required=True),
        C("customer_id", STRING),
        C("created_at", TIMESTAMP, required=True),
        C("first_response_at", TIMESTAMP),
        C("resolved_at", TIMESTAMP),
        C("channel", STRING),
        C("subject", STRING),
        C("body", STRING, pii=True),
        C("status", STRING),
        C("agent", STRING),
        C("team", STRING),
        C("contacts", INT, min=0, doc="number of contacts it took to resolve"),
        C("touchpoint", STRING),
        C("properties", JSON),
    ),
    key=("ticket_id",),
)

REVIEWS = Table(
    "reviews",
    (
        C("review_id", STRING, required=True),
        C("source", STRING),
        C("customer_id", STRING),
        C("ts", TIMESTAMP, required=True),
        C("rating", FLOAT, min=0, max=10),
        C("title", STRING),
        C("body", STRING),
        C("product_id", STRING),
        C("touchpoint", STRING),
        C("properties", JSON),
    ),
    key=("review_id",),
    derive_key_from=("source", "customer_id", "ts", "rating", "title", "body", "product_id"),
)

TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, EVENTS, FEEDBACK, ORDERS, ORDER_ITEMS, TICKETS, REVIEWS)}
