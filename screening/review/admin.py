"""The institution admin's set-up: committees, members, routing rules and condition templates."""

from typing import Any

from sqlmodel import Session, select

from screening.accounts import service as accounts
from screening.accounts.models import Membership, User
from screening.accounts.service import Actor
from screening.core import audit
from screening.core.errors import Forbidden, ValidationFailed
from screening.review.cases import clean_text, committee_members, deny
from screening.review.decisions import condition_templates
from screening.review.models import ROUTING_KINDS, Committee, CommitteeMember, ConditionTemplate, RoutingRule
from screening.review.routing import ensure_setup


def _admin(actor: Actor) -> None:
    if not actor.has("institution_admin"):
        raise Forbidden("institution administrators only")


def admin_overview(session: Session, actor: Actor) -> dict[str, Any]:
    _admin(actor)
    committees = list(session.exec(select(Committee).where(Committee.institution_id == actor.institution_id)
                                   .order_by(Committee.is_default.desc(), Committee.name)).all())
    return {
        "committees": [(c, committee_members(session, c.id)) for c in committees],
        "rules": list(session.exec(select(RoutingRule).where(RoutingRule.institution_id == actor.institution_id)
                                   .order_by(RoutingRule.kind, RoutingRule.value)).all()),
        "templates": condition_templates(session, actor.institution_id, active_only=False),
    }


def create_committee(session: Session, actor: Actor, name: str, due_days: int) -> Committee:
    _admin(actor)
    ensure_setup(session, actor.user, actor.institution_id)
    if not 1 <= due_days <= 365:
        raise ValidationFailed({"due_days": "1 to 365 days"})
    committee = Committee(institution_id=actor.institution_id, name=clean_text(name, "name", limit=200),
                          due_days=due_days)
    session.add(committee)
    session.flush()
    audit.record(session, actor.user, "committee.created", "committee", committee.id, actor.institution_id,
                 {"name": committee.name})
    return committee


def _own_committee(session: Session, actor: Actor, committee_id: int) -> Committee:
    committee = session.get(Committee, committee_id)
    if committee is None or committee.institution_id != actor.institution_id:
        raise deny(actor, f"committee {committee_id}", "other institution")
    return committee


def add_committee_member(session: Session, actor: Actor, committee_id: int, email: str, role: str
                         ) -> CommitteeMember:
    _admin(actor)
    committee = _own_committee(session, actor, committee_id)
    if role not in ("member", "chair"):
        raise ValidationFailed({"role": "member or chair"})
    user = session.exec(select(User).where(User.email == accounts.normalise_email(email))).first()
    needed = "committee_chair" if role == "chair" else "committee_member"
    roles = accounts.roles_in(session, user, actor.institution_id) if user else frozenset()
    if user is None or not roles & {"committee_member", "committee_chair"} or (role == "chair" and needed not in roles):
        raise ValidationFailed({"email": f"no user of this institution with the role {needed}"})
    row = session.exec(select(CommitteeMember).where(CommitteeMember.committee_id == committee.id,
                                                     CommitteeMember.user_id == user.id)).first()
    if row is None:
        row = CommitteeMember(committee_id=committee.id, user_id=user.id, role=role)
    row.role = role
    session.add(row)
    session.flush()
    audit.record(session, actor.user, "committee.member_added", "committee", committee.id, actor.institution_id,
                 {"user_id": user.id, "role": role})
    return row


def add_routing_rule(session: Session, actor: Actor, committee_id: int, kind: str, value: str) -> RoutingRule:
    _admin(actor)
    committee = _own_committee(session, actor, committee_id)
    if kind not in ROUTING_KINDS:
        raise ValidationFailed({"kind": "unknown kind"})
    value = clean_text(value, "value", limit=100)
    if session.exec(select(RoutingRule).where(RoutingRule.institution_id == actor.institution_id,
                                              RoutingRule.kind == kind, RoutingRule.value == value)).first():
        raise ValidationFailed({"value": "a rule for this value exists"})
    rule = RoutingRule(institution_id=actor.institution_id, committee_id=committee.id, kind=kind, value=value)
    session.add(rule)
    session.flush()
    audit.record(session, actor.user, "routing.rule_added", "routing_rule", rule.id, actor.institution_id,
                 {"committee_id": committee.id, "kind": kind, "value": value})
    return rule


def delete_routing_rule(session: Session, actor: Actor, rule_id: int) -> None:
    _admin(actor)
    rule = session.get(RoutingRule, rule_id)
    if rule is None or rule.institution_id != actor.institution_id:
        raise deny(actor, f"routing rule {rule_id}", "other institution")
    session.delete(rule)
    session.flush()
    audit.record(session, actor.user, "routing.rule_deleted", "routing_rule", rule_id, actor.institution_id,
                 {"kind": rule.kind, "value": rule.value})


def save_condition_template(session: Session, actor: Actor, key: str, text_en: str, text_de: str,
                            active: bool = True) -> ConditionTemplate:
    """Create a template or change the one with this key (decisions keep their own copy of the text)."""
    _admin(actor)
    ensure_setup(session, actor.user, actor.institution_id)
    key = clean_text(key, "key", limit=64)
    row = session.exec(select(ConditionTemplate).where(ConditionTemplate.institution_id == actor.institution_id,
                                                       ConditionTemplate.key == key)).first()
    if row is None:
        row = ConditionTemplate(institution_id=actor.institution_id, key=key, text_en="", text_de="")
    row.text_en, row.text_de = clean_text(text_en, "text_en", limit=2000), clean_text(text_de, "text_de", limit=2000)
    row.active = active
    session.add(row)
    session.flush()
    audit.record(session, actor.user, "condition_template.saved", "condition_template", row.id,
                 actor.institution_id, {"key": key, "active": active})
    return row


def institution_members(session: Session, institution_id: int, role: str) -> list[User]:
    return list(session.exec(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.institution_id == institution_id, Membership.role == role)).all())
