"""What GX validates of a table: all of it, or only the batches this run loaded."""

from __future__ import annotations

import great_expectations as gx
import pytest

from onetoone.stages.quality.spec import TableSuite


@pytest.fixture(scope="module")
def suite():
    return gx.ExpectationSuite(name="raw.erp_customers")


def test_a_table_suite_validates_the_whole_table_unless_batch_scoped(suite):
    assert TableSuite("raw.erp_customers", suite).query([3, 4]) == "select * from raw.erp_customers"
    scoped = TableSuite("raw.erp_customers", suite, batch_scoped=True)
    assert scoped.query(None) == "select * from raw.erp_customers"


def test_a_batch_scoped_suite_validates_only_this_runs_batches(suite):
    scoped = TableSuite("raw.erp_customers", suite, batch_scoped=True)
    assert scoped.query([3, 41]) == ("select * from raw.erp_customers"
                                     " where _batch_id = any(array[3, 41]::bigint[])")
    # ids are bound as integers, never as text spliced into SQL
    with pytest.raises(ValueError):
        scoped.query(["1; drop table raw.erp_customers"])
