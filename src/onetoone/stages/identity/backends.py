"""Where the model scores: DuckDB in this process (the default) or Spark (one machine's cores
or a cluster). Only the scoring of every blocked pair moves; training, the bookkeeping of an
incremental run and the clustering stay in DuckDB.

``ONETOONE_IDENTITY_BACKEND`` (``duckdb`` | ``spark``) picks the backend of the pipeline's
identity step; ``onetoone dedupe --backend`` overrides it. ``ONETOONE_SPARK_MASTER`` is the
Spark master URL (default ``local[2]``); executor memory and cores are Spark's own settings
(``spark-defaults.conf`` under ``SPARK_CONF_DIR``, or ``PYSPARK_SUBMIT_ARGS``).
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

DUCKDB = "duckdb"
SPARK = "spark"
BACKENDS = (DUCKDB, SPARK)
BACKEND_ENV = "ONETOONE_IDENTITY_BACKEND"
SPARK_MASTER_ENV = "ONETOONE_SPARK_MASTER"
DEFAULT_SPARK_MASTER = "local[2]"
# Splink's fuzzy functions under their DuckDB names -> the names Splink's Spark jar registers.
_SPLINK_FUNCTIONS = ("levenshtein", "damerau_levenshtein", "jaro", "jaro_winkler", "jaccard")


class BackendError(Exception):
    """A backend that cannot be used here; the message says which setting to change."""


def configured_backend(requested: str | None = None) -> str:
    """``requested`` if given, else ``ONETOONE_IDENTITY_BACKEND``, else DuckDB."""
    backend = (requested or os.environ.get(BACKEND_ENV) or DUCKDB).strip().lower()
    if backend not in BACKENDS:
        raise BackendError(f"{BACKEND_ENV}={backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


def spark_master() -> str:
    return os.environ.get(SPARK_MASTER_ENV, "").strip() or DEFAULT_SPARK_MASTER


def _function_names() -> dict[str, str]:
    from splink.internals.dialects import DuckDBDialect, SparkDialect

    duckdb, spark = DuckDBDialect(), SparkDialect()
    return {getattr(duckdb, f"{name}_function_name").lower():
            getattr(spark, f"{name}_function_name") for name in _SPLINK_FUNCTIONS}


def to_spark_sql(sql: str) -> str:
    """A DuckDB-dialect condition (a comparison level, a blocking rule) in Spark SQL, with
    Splink's similarity functions under the names its Spark jar registers."""
    renames = _function_names()

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Func) and not isinstance(node, exp.Connector):
            name = node.sql(DUCKDB).split("(", 1)[0].strip().lower()
            if name in renames:
                arguments = (node.expressions if isinstance(node, exp.Anonymous)
                             else [a for a in node.args.values() if a is not None])
                return exp.Anonymous(this=renames[name], expressions=arguments)
        return node

    tree = sqlglot.parse_one(sql, read=DUCKDB).transform(rename)
    return tree.sql(SPARK)


def spark_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A stored model's Splink settings (DuckDB dialect) for a Spark linker: same parameters,
    the SQL translated."""
    comparisons = [{**comparison, "comparison_levels": [
        {**level, "sql_condition": level["sql_condition"] if level["sql_condition"] == "ELSE"
         else to_spark_sql(level["sql_condition"])}
        for level in comparison["comparison_levels"]]} for comparison in settings["comparisons"]]
    rules = [{**rule, "blocking_rule": to_spark_sql(rule["blocking_rule"]), "sql_dialect": SPARK}
             for rule in settings["blocking_rules_to_generate_predictions"]]
    return {**settings, "sql_dialect": SPARK, "comparisons": comparisons,
            "blocking_rules_to_generate_predictions": rules}


def spark_session():
    """The Spark session to score in (``ONETOONE_SPARK_MASTER``), with Splink's similarity jar
    on its classpath so that jaro_winkler and the others run in the JVM."""
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as err:
        raise BackendError("the Spark backend needs pyspark (the `spark` dependency group:"
                           " `make install`)") from err
    builder = (SparkSession.builder.appName("onetoone-identity").master(spark_master())
               .config("spark.jars", similarity_jar_location())
               # Splink's plans are deep; the default shuffle width is for far larger inputs
               .config("spark.sql.shuffle.partitions", os.environ.get(
                   "ONETOONE_SPARK_SHUFFLE_PARTITIONS", "8"))
               .config("spark.ui.showConsoleProgress", "false"))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # py4j logs its INFO lines at interpreter exit, when the console may already be closed
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return session


def predict_on_spark(records_std: pd.DataFrame, settings: dict[str, Any], threshold: float,
                     columns: list[str]) -> pa.Table:
    """Every blocked pair scoring at least ``threshold``, scored by Splink on Spark: ``columns``
    of Splink's predictions, as an Arrow table for the DuckDB bookkeeping."""
    from splink import Linker
    from splink.backends.spark import SparkAPI

    session = spark_session()
    records = session.createDataFrame(pa.Table.from_pandas(records_std, preserve_index=False))
    checkpoints = os.path.join(os.environ.get("TMPDIR", "/tmp"), "onetoone-spark-checkpoints")
    session.sparkContext.setCheckpointDir(checkpoints)
    db_api = SparkAPI(spark_session=session)
    # a name of its own: the session (and its temporary views) outlives one scoring
    table_name = f"customer_records_{uuid.uuid4().hex[:12]}"
    linker = Linker(db_api.register(records, table_name=table_name),
                    spark_settings(settings), log_level=None)
    predictions = linker.inference.predict(threshold_match_probability=threshold,
                                           warning_mode="never")
    frame = predictions.as_spark_dataframe().select(*columns)
    table = frame.toArrow()
    predictions.drop_table_from_database_and_remove_from_cache()
    return table
