"""Partitioning the findings table by embedding space: the scale path for very large deployments (opt-in).

``partition_findings`` turns ``retrieval_finding`` into a table ``PARTITION BY LIST (space_id)`` whose default
partition is the existing table (renamed ``retrieval_finding_default``; it keeps every row, index and
constraint, so nothing is copied); ``move_space`` then gives one large space its own partition
(``retrieval_finding_space_<id>``), which builds, VACUUMs and is dropped on its own, and which the planner
alone scans for that space because every search filters ``space_id = <id>``. The search SQL does not change.

What the partitioned layout needs, and gets here (PostgreSQL's rules for partitioned tables):

* every unique index must contain the partition key: the upsert key of ``store_findings`` becomes
  ``(media_id, plugin, model_version, key, space_id) NULLS NOT DISTINCT`` (vector-less findings have no space)
  and ``store_findings`` names ``space`` in its conflict target when ``is_partitioned()``;
* ``id`` stays unique by its sequence, but cannot be a primary key of the parent (NULL ``space_id``): the foreign
  keys that point at ``Finding.id`` (alerts, face assignments, persons, face tracks) are dropped, and Django's
  collector keeps applying their CASCADE / SET NULL, as it does for every deletion through the ORM;
* the parent gets its own identity sequence, restarted after the highest id;
* an index cannot be built ``CONCURRENTLY`` on a partitioned table: ``rebuild_space_index`` builds it plainly
  (writes wait during the build; searches go on).

Run it in a maintenance window (``manage.py partition_findings``); it is one transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from retrieval.models import Finding

TABLE = Finding._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
#: The upsert key of the partitioned layout (``store_findings`` names ``space`` too).
UPSERT_INDEX = "uniq_finding_space_key"

_partitioned: dict[str, bool] = {}


def is_partitioned(alias: str = "default") -> bool:
    """Whether the findings table is partitioned on ``alias`` (read once per process and database)."""
    if alias not in _partitioned:
        from django.db import connections

        with connections[alias].cursor() as cur:
            cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
            row = cur.fetchone()
        _partitioned[alias] = bool(row) and row[0] == "p"
    return _partitioned[alias]


def forget() -> None:
    """Drop the cached layout (after converting, and in tests)."""
    _partitioned.clear()


def partition_name(space_pk: int) -> str:
    return f"{TABLE}_space_{int(space_pk)}"


def _rows(cur: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    cur.execute(sql, params or [])
    return cur.fetchall()


def partition_findings() -> dict[str, Any]:
    """Convert the findings table into a partitioned table with the existing table as its default partition."""
    if is_partitioned():
        raise ValueError(f"{TABLE} is partitioned already")
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # DDL below cannot run with deferred checks pending
        incoming = _rows(cur, "SELECT conname, conrelid::regclass::text FROM pg_constraint "
                              "WHERE confrelid = %s::regclass AND contype = 'f'", [TABLE])
        for name, table in incoming:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        indexes = _rows(cur, "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i "
                             "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass", [TABLE])
        outgoing = _rows(cur, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                              "WHERE conrelid = %s::regclass AND contype = 'f'", [TABLE])
        next_id = _rows(cur, f'SELECT coalesce(max(id), 0) + 1 FROM "{TABLE}"')[0][0]
        cur.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{DEFAULT_PARTITION}"')
        cur.execute(f'CREATE TABLE "{TABLE}" (LIKE "{DEFAULT_PARTITION}" INCLUDING DEFAULTS INCLUDING GENERATED '
                    f"INCLUDING IDENTITY INCLUDING CONSTRAINTS) PARTITION BY LIST (space_id)")
        cur.execute(f'ALTER TABLE "{TABLE}" ALTER COLUMN id RESTART WITH {int(next_id)}')
        cur.execute(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{DEFAULT_PARTITION}" DEFAULT')
        for name, definition, unique in indexes:
            if unique:  # the primary key and the upsert key: not possible without space_id (see the docstring)
                continue
            # The parent index takes the name (what the services and migrations refer to); the partition's own
            # index, same definition, attaches to it: nothing is rebuilt. Definitions were read before the
            # rename, so they already say "ON public.<TABLE>", i.e. the parent.
            cur.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_default"')
            cur.execute(definition)
        cur.execute(f'CREATE INDEX "{TABLE}_id_p" ON "{TABLE}" (id)')
        cur.execute(f'CREATE UNIQUE INDEX "{UPSERT_INDEX}" ON "{TABLE}" '
                    f"(media_id, plugin, model_version, key, space_id) NULLS NOT DISTINCT")
        for name, definition in outgoing:
            cur.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}_p" {definition}')
    forget()
    return {"dropped_foreign_keys": [f"{t}.{n}" for n, t in incoming], "indexes": len(indexes),
            "next_id": int(next_id)}


def move_space(space_pk: int) -> int:
    """Move one space's findings out of the default partition into their own; returns the rows moved."""
    if not is_partitioned():
        raise ValueError(f"{TABLE} is not partitioned: run partition_findings first")
    part = partition_name(space_pk)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        columns = [r[0] for r in _rows(
            cur, "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                 "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", [TABLE])]
        cols = ", ".join(f'"{c}"' for c in columns)
        cur.execute(f'CREATE TABLE "{part}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING GENERATED '
                    "INCLUDING CONSTRAINTS)")
        cur.execute(f'INSERT INTO "{part}" ({cols}) SELECT {cols} FROM "{DEFAULT_PARTITION}" WHERE space_id = %s',
                    [int(space_pk)])
        moved = cur.rowcount
        cur.execute(f'DELETE FROM "{DEFAULT_PARTITION}" WHERE space_id = %s', [int(space_pk)])
        cur.execute(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{part}" FOR VALUES IN ({int(space_pk)})')
    return int(moved)


def partitions() -> list[tuple[str, str]]:
    """(partition, bound) of the findings table, e.g. ``("retrieval_finding_space_3", "FOR VALUES IN ('3')")``."""
    with connection.cursor() as cur:
        return [(str(n), str(b)) for n, b in _rows(
            cur, "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                 "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass ORDER BY 1", [TABLE])]
