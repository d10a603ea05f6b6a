"""Seed the load test's database: one institution, a researcher with drafts and submitted
proposals, and an international office member.

Prints two tokens on standard output, one per line, nothing else: the researcher's write token
(POST /screen, GET /proposals) and the international office's read token (GET /portfolio).
Uses the app's own services.
"""

import sys

from rules import Screener
from screening import create_app
from screening.extensions import db
from screening.services import accounts, tokens
from screening.services import proposals as svc

COUNTRIES = ("DK", "CN", "DE", "US", "IN", "FR", "JP", "BR")


def main(count: int = 200) -> None:
    app = create_app()
    screener = Screener.default()
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "bench-uni", "Bench University")
        user = accounts.create_user(db.session, None, inst, "bench@example.org", "Bench Researcher",
                                    "bench-password-long-enough", ["researcher"])
        actor = accounts.Actor(user=user, institution_id=inst.id, roles=accounts.roles_in(db.session, user, inst.id))
        for i in range(count):
            proposal = svc.save_draft(db.session, actor, {
                "title": f"Bench proposal {i}", "research_fields": ["1.5", "2.3"][: 1 + i % 2],
                "duration_months": 12,
                "partners": [{"name": f"Partner University {i % 17}", "country": COUNTRIES[i % len(COUNTRIES)],
                              "type": "university"}],
            }, creation_token=f"bench-{i}")
            if i % 2:  # half of them submitted (screened and routed): the portfolio leaves drafts out
                svc.submit(db.session, actor, proposal, f"bench-submit-{i}", screener)
        _, token = tokens.create(db.session, actor, "bench", "write", 7)
        office = accounts.create_user(db.session, None, inst, "office@example.org", "Bench Office",
                                      "bench-password-long-enough", ["international_office"])
        office_actor = accounts.Actor(user=office, institution_id=inst.id,
                                      roles=accounts.roles_in(db.session, office, inst.id))
        _, office_token = tokens.create(db.session, office_actor, "bench portfolio", "read", 7)
        db.session.commit()
    sys.stdout.write(token + "\n" + office_token + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
