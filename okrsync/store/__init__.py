"""The history store (okrsync.store.history), its tables (schema), where it lives (database)
and the leases that let several workers share it (leases)."""

from okrsync.store.history import HEALTH_UNKNOWN, Store
from okrsync.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["HEALTH_UNKNOWN", "MIGRATIONS", "SCHEMA_VERSION", "Store"]
