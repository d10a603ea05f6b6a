"""Authorisation expectations for the undelivered-notifications page (issue 14, item 7).

Institution admins only; the page lists their own institution's failures (tenant isolation is
tested in test_mail_failures.py), so an admin of either institution gets 200.
"""

SPEC = {
    "notifications.failed": ("GET", lambda ids: "/admin/notifications/",
                             lambda a, s: 200 if a == "institution_admin" else 403),
}
