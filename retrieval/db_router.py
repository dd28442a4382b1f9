"""Route search reads to the read replica (``DATABASE_REPLICA_URL``) when one is configured.

Only reads made inside :func:`search_reads` go to the replica, so pages that write and then
read (read-your-writes) keep using the primary; everything else is left to Django's default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

_in_search: ContextVar[bool] = ContextVar("mmsec_search_reads", default=False)


def search_alias() -> str:
    """The database alias search reads use now: the replica inside :func:`search_reads`, if configured."""
    alias = getattr(settings, "MMSEC_SEARCH_REPLICA_ALIAS", "")
    if _in_search.get() and alias and alias in settings.DATABASES:
        return alias
    return "default"


@contextmanager
def search_reads() -> Iterator[str]:
    """Within this block ORM reads (and the search SQL via the yielded alias) go to the replica."""
    token = _in_search.set(True)
    try:
        yield search_alias()
    finally:
        _in_search.reset(token)


class SearchReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        alias = search_alias()
        return alias if alias != "default" else None

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == "default"
