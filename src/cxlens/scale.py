"""Scale-out helpers: run the same analytics on Spark (or any Ibis backend).

The analytics are Ibis expressions, so any backend whose tables follow the canonical schema
works through :func:`cxlens.connect`. :func:`to_spark` copies a local workspace's tables into
a Spark session as temporary views — handy to try a cluster, and what the parity tests use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from cxlens.errors import MissingExtraError
from cxlens.schema.tables import FLOAT, INT, JSON, STRING, TABLES, TIMESTAMP

if TYPE_CHECKING:
    from cxlens.store import Store

_SPARK_TYPES = {STRING: "string", JSON: "string", FLOAT: "double", INT: "bigint", TIMESTAMP: "timestamp"}


def spark_schema(name: str) -> str:
    """The Spark DDL schema string of canonical table ``name``.

    >>> spark_schema("order_items")
    'order_id string, item_id string, product_id string, quantity double, price double, properties string'
    """
    return ", ".join(f"{c.name} {_SPARK_TYPES[c.type]}" for c in TABLES[name].columns)


def to_spark(ws: Store, spark: Any, tables: list[str] | None = None) -> Any:
    """Copy canonical tables of ``ws`` into ``spark`` as temp views; return the Ibis backend.

    Parameters
    ----------
    ws
        A DuckDB workspace.
    spark
        A ``pyspark.sql.SparkSession`` (its session time zone should be UTC: cxlens stores
        UTC timestamps without a zone).
    tables
        Which tables (default: all canonical tables).

    Returns
    -------
    ibis backend
        ``ibis.pyspark.connect(spark)``; pass it to :func:`cxlens.connect`.
    """
    try:
        import ibis
        from pyspark.sql.types import _parse_datatype_string
    except ImportError:  # pragma: no cover - depends on the extra
        raise MissingExtraError("pyspark", "spark") from None
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    for name in tables or list(TABLES):
        table = TABLES[name]
        frame = ws.table(name).to_pandas()[table.column_names]
        for c in table.columns:
            if c.type == TIMESTAMP:
                frame[c.name] = pd.to_datetime(frame[c.name]).astype("datetime64[us]")
            elif c.type == INT:
                frame[c.name] = frame[c.name].astype("Int64")
            elif c.type in (STRING, JSON):
                frame[c.name] = frame[c.name].astype(object).where(frame[c.name].notna(), None)
        schema = _parse_datatype_string(spark_schema(name))
        spark.createDataFrame(frame, schema).createOrReplaceTempView(name)
    return ibis.pyspark.connect(spark)
