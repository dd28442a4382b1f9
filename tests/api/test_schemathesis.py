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
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.generation import GenerationMode

from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("MMSEC_SCHEMATHESIS_EXAMPLES", "8"))


def _real_ids(api: Any, personas: dict[str, Any]) -> dict[str, object]:
    media_id = upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes()).json()[0]["media"]["id"]
    media = process_inline(media_id)
    from retrieval.models import Person, ReferenceCollection, ReferenceRecording, Subject
    from retrieval.services import embeddings, watchlists

    case = personas["case"]
    watchlist = watchlists.create_watchlist(actor=personas["alice"], case=case, name="words", kind="keyword")
    watchlists.add_entry(actor=personas["alice"], watchlist=watchlist, label="bank")
    embeddings.store_findings(media, "speech_translation", "v1", [
        embeddings.NewFinding(key="audio:0:0", text="the bank", start_s=0.0, end_s=1.0)])
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v1")
    space = embeddings.get_or_create_space("schemathesis", "vec", "v1", 4)
    collection = ReferenceCollection.objects.create(case=case, name="refs")
    return {
        "case": case.pk, "media": media_id, "username": "bob", "alert": alert.pk, "watchlist": watchlist.pk,
        "person": Person.objects.create(case=case, space=space, number=1).pk,
        "subject": Subject.objects.create(case=case, name="s").pk, "reference-collection": collection.pk,
        "reference-recording": ReferenceRecording.objects.create(collection=collection, title="r.wav",
                                                                 sha256=media.sha256, size=media.size).pk,
    }


#: API path prefix -> which real object a ``{pk}`` there names.
PK_BY_PREFIX = {"/api/v1/media/": "media", "/api/v1/fingerprints/": "media", "/api/v1/alerts/": "alert",
                "/api/v1/watchlists/": "watchlist", "/api/v1/persons/": "person", "/api/v1/subjects/": "subject",
                "/api/v1/reference-collections/": "reference-collection",
                "/api/v1/reference-recordings/": "reference-recording"}


def _fill_real_ids(case: Any, ids: dict[str, object]) -> None:
    params = case.path_parameters or {}
    path = case.operation.path
    for name in ("id", "pk"):  # drf-spectacular names the router's lookup "id"
        if name in params:
            key = next((v for prefix, v in PK_BY_PREFIX.items() if path.startswith(prefix)), "case")
            params[name] = ids[key]
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
    assert not errors, f"{len(errors)} server error(s):\n" + "\n".join(sorted(set(errors))[:50])
    assert sum(n for code, n in statuses.items() if code < 300) > operations, "few requests got past validation"


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

            try:
                run()
            except Unsatisfiable:
                if mode == GenerationMode.POSITIVE:
                    raise
                # an operation whose inputs admit no invalid value (e.g. no parameters) has no negative cases
    return errors, operations, statuses
