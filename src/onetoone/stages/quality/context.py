"""The GX file Data Context under ``paths().gx_root``, brought up to date on every run.

Suites, validation definitions, checkpoints and each layer's datasource are (re)written by name,
so a run always validates what the code in ``expectations/`` says and reruns are harmless.
The warehouse URL is never written to disk: the config names a variable that is filled from
``warehouse_url()`` when the context is opened.
"""

from __future__ import annotations

import fcntl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from onetoone.foundation.config import paths, private_dir, warehouse_url
from onetoone.stages.quality.report import SAMPLE_SIZE
from onetoone.stages.quality.spec import TableSuite

if TYPE_CHECKING:
    from great_expectations import Checkpoint
    from great_expectations.data_context import FileDataContext

DOCS_SITE = "onetoone"
URL_VARIABLE = "onetoone_warehouse_sqlalchemy_url"
BATCH_DEFINITION = "rows"
# Tables without personal columns: COMPLETE, the only format in which UnexpectedRowsExpectation
# keeps its failing rows (the log and the audit need samples). GX caps what it keeps at 200
# values or rows per expectation on SQL, and it must be set on the checkpoint: the checkpoint's
# format overrides an expectation's own. Tables with personal columns: masked_result_format.
RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_SIZE}
# The docs index reads every listed result on each rebuild; older pages stay on disk, and every
# result is in audit.* with its page's path.
INDEX_RESULTS_LIMIT = 300


def sqlalchemy_url(libpq_url: str) -> str:
    """``postgresql://...`` (libpq, maybe ``?host=/socket/dir``) -> SQLAlchemy's psycopg2 URL.

    psycopg2 passes ``host`` from the query string to libpq, so socket URLs keep working.
    """
    scheme, separator, rest = libpq_url.partition("://")
    if not separator or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://...")
    return f"postgresql+psycopg2://{rest}"


@contextmanager
def gx_lock() -> Iterator[Path]:
    """The GX project folder, locked so that concurrent tasks don't interleave their writes
    (config, results, Data Docs)."""
    root = private_dir(paths().gx_root)  # GX writes inside with the process's umask
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield root


@contextmanager
def open_context(warehouse: str | None = None) -> Iterator[FileDataContext]:
    """Open the project, locked (``gx_lock``).

    ``warehouse`` is a libpq URI (default: the configured warehouse)."""
    with gx_lock() as root, warnings.catch_warnings():
        # Deliberate: GX's Postgres datasource rejects Unix-socket URLs, the generic one works.
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        yield _load(root, warehouse or warehouse_url())


def _load(root: Path, warehouse: str) -> FileDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(
        mode="file",
        project_root_dir=root,
        runtime_environment={URL_VARIABLE: sqlalchemy_url(warehouse)},
    )
    context.variables.data_docs_sites = {
        DOCS_SITE: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(paths().data_docs),
            },
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": INDEX_RESULTS_LIMIT,
            },
        }
    }
    # tqdm bars would flood the Airflow task log.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    return context


def layer_checkpoints(
    context: FileDataContext,
    layer: str,
    suites: list[TableSuite],
    batch_ids: list[int] | None,
    masked: dict[str, tuple[str, ...]],
) -> list[Checkpoint]:
    """A query asset per table (scoped to the run's batches) and the checkpoints validating
    them: one for the tables without personal columns, and one per table with some (``masked``:
    table -> its locator columns), since a checkpoint's result format holds for all it runs.

    Data Docs are built by the caller once all checkpoints ran (``build_data_docs``)."""
    import great_expectations as gx

    # Replacing the datasource drops last run's assets, whose queries named other batches.
    datasource = context.data_sources.add_or_update_sql(
        f"warehouse_{layer}", connection_string="${" + URL_VARIABLE + "}"
    )
    plain, checkpoints = [], []
    for table_suite in suites:
        asset = datasource.add_query_asset(table_suite.table, query=table_suite.query(batch_ids))
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=table_suite.suite.name,
                data=asset.add_batch_definition_whole_table(BATCH_DEFINITION),
                suite=table_suite.suite,
            )
        )
        if table_suite.table not in masked:
            plain.append(validation)
            continue
        checkpoints.append(context.checkpoints.add_or_update(gx.Checkpoint(
            name=f"{table_suite.suite.name}.masked",
            validation_definitions=[validation],
            result_format=masked_result_format(masked[table_suite.table]),
        )))
    if plain:
        checkpoints.insert(0, context.checkpoints.add_or_update(
            gx.Checkpoint(name=layer, validation_definitions=plain, result_format=RESULT_FORMAT)
        ))
    return checkpoints


def masked_result_format(locator: tuple[str, ...]) -> dict[str, object]:
    """GX keeps counts and the locators of failing rows, never their values (nor, for
    unexpected-rows rules, the rows): SUMMARY without values."""
    result_format: dict[str, object] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_SIZE,
        "exclude_unexpected_values": True,
    }
    if locator:
        result_format["unexpected_index_column_names"] = list(locator)
    return result_format
