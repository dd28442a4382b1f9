"""The embedded PostgreSQL is the real thing: pgvector present, audit rows immutable in SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from retrieval.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_has_the_vector_extension() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cur.fetchone()[0] == "0.6.2"


def test_it_refuses_to_update_or_delete_audit_rows_even_in_raw_sql() -> None:
    event = AuditEvent.objects.create(action="test.event")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM retrieval_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"
