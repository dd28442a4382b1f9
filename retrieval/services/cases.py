"""Creating cases and managing who belongs to them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from retrieval.models import Case, CaseMembership, CaseRole
from retrieval.services import audit


def require_role(case: Case, user: Any, roles: frozenset[str] | set[str]) -> str:
    """Return the user's role in ``case`` or raise ``PermissionDenied`` if it is not one of ``roles``."""
    role = case.role_of(user)
    if role not in roles:
        raise PermissionDenied("your role in this case does not allow this")
    return role


@transaction.atomic
def create_case(*, actor: Any, title: str, description: str = "", request: Any = None) -> Case:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "A case needs a title."})
    case = Case.objects.create(title=title[:200], description=description or "", created_by=actor)
    CaseMembership.objects.create(case=case, user=actor, role=CaseRole.OWNER)
    audit.record("case.create", actor=actor, target=case, case_id=case.pk, details={"title": case.title},
                 request=request)
    return case


@transaction.atomic
def update_case(*, actor: Any, case: Case, request: Any = None, **fields: Any) -> Case:
    require_role(case, actor, {CaseRole.OWNER, CaseRole.INVESTIGATOR})
    changed = {}
    for name in ("title", "description", "status"):
        if name in fields and fields[name] is not None and getattr(case, name) != fields[name]:
            setattr(case, name, fields[name])
            changed[name] = fields[name]
    if changed:
        case.full_clean()
        case.save()
        audit.record("case.update", actor=actor, target=case, case_id=case.pk, details=changed, request=request)
    return case


@transaction.atomic
def set_member(*, actor: Any, case: Case, user: Any, role: str, request: Any = None) -> CaseMembership:
    """Add a member or change their role. Only owners may do this."""
    require_role(case, actor, {CaseRole.OWNER})
    if role not in CaseRole.values:
        raise ValidationError({"role": f"role must be one of {', '.join(CaseRole.values)}"})
    membership, created = CaseMembership.objects.get_or_create(case=case, user=user, defaults={"role": role})
    if not created and membership.role != role:
        if membership.role == CaseRole.OWNER and role != CaseRole.OWNER:
            _ensure_other_owner(case, user)
        membership.role = role
        membership.save(update_fields=["role"])
    audit.record("case.member.set", actor=actor, target=membership, case_id=case.pk,
                 details={"user": user.get_username(), "role": role, "created": created}, request=request)
    return membership


@transaction.atomic
def remove_member(*, actor: Any, case: Case, user: Any, request: Any = None) -> None:
    require_role(case, actor, {CaseRole.OWNER})
    membership = CaseMembership.objects.filter(case=case, user=user).first()
    if membership is None:
        return
    if membership.role == CaseRole.OWNER:
        _ensure_other_owner(case, user)
    membership.delete()
    audit.record("case.member.remove", actor=actor, target=case, case_id=case.pk,
                 details={"user": user.get_username()}, request=request)


def _ensure_other_owner(case: Case, leaving_user: Any) -> None:
    others = CaseMembership.objects.filter(case=case, role=CaseRole.OWNER).exclude(user=leaving_user)
    if not others.exists():
        raise ValidationError({"role": "a case must keep at least one owner"})
