"""The administration pages' mail event (templates in ``templates/mail/``)."""

from screening.notifications.events import MailEvent, register_event

register_event(MailEvent(
    "account_invited", audience="invited person",
    required=("inviter_name", "institution_name"), optional=("expires_at",),
    example={"inviter_name": "Dr. Ada Admin", "institution_name": "University of Example",
             "expires_at": "2026-12-24T12:00:00+00:00"},
))
