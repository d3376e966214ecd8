"""Identity layer: the linker's output, ``identity.customer_keys``, before dbt builds on it.

The whole table is checked (one row per source record, rewritten by each identity run). A
giant cluster is the classic failure of probabilistic linkage: one weak link chains thousands
of people into one "customer", so cluster size has a hard ceiling and a soft average.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from onetoone.foundation import config
from onetoone.stages.quality.spec import TableSuite, critical, warning

MAX_CLUSTER_SIZE = 50  # no real person has this many records across our three sources
MAX_MEAN_CLUSTER_SIZE = 3  # per source record; above it, matching is probably too loose
SOURCES = list(config.SOURCES)

CUSTOMER_KEYS = TableSuite(
    table="identity.customer_keys",
    suite=gx.ExpectationSuite(
        name="identity.customer_keys",
        expectations=[
            gxe.ExpectTableColumnsToMatchSet(
                column_set=[
                    "source",
                    "source_record_id",
                    "customer_key",
                    "cluster_size",
                    "model_version",
                    "assigned_at",
                ],
                exact_match=False,
                meta=critical("dbt reads these columns as a source"),
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["source", "source_record_id"],
                meta=critical("a source record with two keys would be two customers at once"),
            ),
            gxe.ExpectColumnValuesToNotBeNull(
                column="customer_key",
                meta=critical("every source record must belong to a customer"),
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="source",
                value_set=SOURCES,
                meta=critical("only the three contracted sources feed identity"),
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="cluster_size",
                min_value=1,
                max_value=MAX_CLUSTER_SIZE,
                meta=critical(
                    f"a cluster above {MAX_CLUSTER_SIZE} records means chained matches"
                    " merging different people"
                ),
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select customer_key, max(cluster_size) as cluster_size,"
                    " count(*) as records from {batch} group by customer_key"
                    " having count(*) <> max(cluster_size) or count(*) <> min(cluster_size)"
                ),
                meta=critical("cluster_size must equal the records sharing the key"),
            ),
            gxe.ExpectColumnMeanToBeBetween(
                column="cluster_size",
                min_value=1,
                max_value=MAX_MEAN_CLUSTER_SIZE,
                meta=warning(
                    "the average record sits in a cluster of 1-3 records; more suggests"
                    " over-merging, review the model's thresholds"
                ),
            ),
        ],
    ),
)

SUITES = [CUSTOMER_KEYS]
