"""What every command shares: reaching a ready warehouse, and errors a user can act on."""

from __future__ import annotations

from onetoone.foundation import config
from onetoone.operations.migrate import migrate_warehouse
from onetoone.runtime import warehouse


class CommandError(Exception):
    """An expected failure: ``main`` prints its message as one line and exits with ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def started_warehouse() -> str:
    """The warehouse's libpq URI, the embedded server started if it is the one in use."""
    if config.uses_embedded_warehouse():
        warehouse.start()
    return config.warehouse_url()


def ready_warehouse() -> str:
    """The warehouse's libpq URI, started and migrated to this version's tables."""
    url = started_warehouse()
    migrate_warehouse(url)
    return url
