"""Where everything the live service accepts is kept.

The pipeline, the delivery side and the web app talk only to the
:class:`~assistant.store.sqlite.SqliteStore` methods, never to SQL, so that a
PostgreSQL store with the same methods can replace it.
"""

from .records import HostItem, RoomEvent, StoredComment, WorkOrder
from .sqlite import SqliteStore, StoreError

__all__ = ["HostItem", "RoomEvent", "SqliteStore", "StoreError", "StoredComment", "WorkOrder", "open_store"]


def open_store(settings) -> SqliteStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteStore(settings.database_path, dedupe_window_seconds=settings.dedupe_window_seconds)
