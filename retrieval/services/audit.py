"""Recording audit events (append-only; see ``retrieval.models.audit``)."""

from __future__ import annotations

from typing import Any

from retrieval.models import AuditEvent


def client_ip(request: Any) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def storable(value: Any) -> Any:
    """``value`` with NUL characters replaced (PostgreSQL text and JSON cannot hold U+0000), recursively."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def record(
    action: str,
    *,
    actor: Any = None,
    target: Any = None,
    case_id: int | None = None,
    details: dict[str, Any] | None = None,
    request: Any = None,
) -> AuditEvent:
    """Append one audit event. ``target`` is a model instance (type and id are taken from it) or None."""
    actor_id = getattr(actor, "pk", None) if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor_id=actor_id,
        actor_name=getattr(actor, "get_username", lambda: "")() if actor_id else "",
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        case_id=case_id,
        ip=client_ip(request),
        details=storable(details or {}),
    )
