"""schemathesis against /api/schema/: every operation, positive and negative inputs, as an authenticated member.

Bounded for the suite (``MMSEC_SCHEMATHESIS_EXAMPLES`` examples per operation and mode, default 8);
the long run is ``MMSEC_SCHEMATHESIS_EXAMPLES=300 pytest tests/api/test_schemathesis.py`` (docs/reliability.md).
Half of the generated cases get real object ids (Alice's case and media) so the detail paths are exercised
past the 404; the only assertion is the issue's: no server error on any input.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.generation import GenerationMode

from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("MMSEC_SCHEMATHESIS_EXAMPLES", "8"))


def _real_ids(api: Any, personas: dict[str, Any]) -> dict[str, object]:
    media_id = upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes()).json()[0]["media"]["id"]
    process_inline(media_id)
    return {"case": personas["case"].pk, "media": media_id, "username": "bob"}


def _fill_real_ids(case: Any, ids: dict[str, object]) -> None:
    params = case.path_parameters or {}
    path = case.operation.path
    if "pk" in params:
        params["pk"] = ids["media"] if path.startswith("/api/v1/media/") else ids["case"]
    if "username" in params:
        params["username"] = ids["username"]


@contextmanager
def wsgi_app() -> Iterator[Any]:
    """The real WSGI application, without closing the test transaction's connection at each request
    (what Django's test client does too; its requests reconnect the signal, so none may run inside)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_no_operation_answers_a_server_error(api, personas) -> None:
    ids = _real_ids(api, personas)
    token = Token.objects.create(user=personas["alice"]).key
    headers = {"Authorization": f"Token {token}"}
    with wsgi_app() as app:
        errors, operations, statuses = _run(app, headers, ids)
    print(f"schemathesis: {operations} operations, statuses {sorted(statuses.items())}")
    assert operations >= 10, "the schema lists too few operations"
    assert sum(n for code, n in statuses.items() if code < 300) > operations, "few requests got past validation"
    assert not errors, f"{len(errors)} server error(s):\n" + "\n".join(sorted(set(errors))[:50])


def _run(wsgi_app: Any, headers: dict[str, str], ids: dict[str, object]) -> tuple[list[str], int, Counter[int]]:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=headers)
    errors: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy, real=st.booleans())
            def run(case: Any, real: bool) -> None:
                if real:
                    _fill_real_ids(case, ids)
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    errors.append(f"{case.method.upper()} {case.formatted_path} -> {response.status_code}: "
                                  f"query={case.query} body={str(case.body)[:200]}")

            run()
    return errors, operations, statuses
