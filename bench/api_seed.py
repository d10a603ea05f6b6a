"""Seed the load test's database: one institution, one researcher, a write token, some drafts.

Prints the token on standard output (nothing else). Uses the app's own services.
"""

import sys

from screening import create_app
from screening.extensions import db
from screening.services import accounts, tokens
from screening.services import proposals as svc


def main(count: int = 200) -> None:
    app = create_app()
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "bench-uni", "Bench University")
        user = accounts.create_user(db.session, None, inst, "bench@example.org", "Bench Researcher",
                                    "bench-password-long-enough", ["researcher"])
        actor = accounts.Actor(user=user, institution_id=inst.id, roles=accounts.roles_in(db.session, user, inst.id))
        for i in range(count):
            svc.save_draft(db.session, actor, {
                "title": f"Bench proposal {i}", "research_fields": ["1.5"], "duration_months": 12,
                "partners": [{"name": "University of Copenhagen", "country": "DK", "type": "university"}],
            }, creation_token=f"bench-{i}")
        _, token = tokens.create(db.session, actor, "bench", "write", 7)
        db.session.commit()
    sys.stdout.write(token + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
