"""A real werkzeug server on 127.0.0.1 serving a fresh app and database, with a demo token.

Used by the curl examples test (docs/api.md) and the schemathesis run. The server has its own
SQLite file, so nothing crosses the per-test transaction of the in-process tests.
"""

import threading
from contextlib import contextmanager
from types import SimpleNamespace

from werkzeug.serving import make_server

from screening import create_app
from screening.accounts import service as accounts
from screening.api import tokens
from screening.core import migrations
from screening.core.extensions import db

from .conftest import base_config
from .helpers import PASSWORD, minimal_proposal


def _seed_case(inst, chair) -> None:
    """The default committee chaired by ``chair`` and one case in review: another researcher's
    proposal with a listed partner."""
    from screening.core.engine import get_screener
    from screening.proposals import service as proposals
    from screening.review import routing
    from screening.review.models import CommitteeMember

    committee = routing.ensure_setup(db.session, None, inst.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
    other = accounts.create_user(db.session, None, inst, "live-researcher2@example.org", "Second Researcher",
                                 PASSWORD, ["researcher"])
    actor = accounts.Actor(user=other, institution_id=inst.id, roles=frozenset({"researcher"}))
    draft = proposals.save_draft(db.session, actor, minimal_proposal(
        title="Legged robots with HIT", research_fields=["2.2"],
        partners=[{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]),
        creation_token="live-case")
    proposals.submit(db.session, actor, draft, "live-case-submit", get_screener())


@contextmanager
def live_api(directory, **config):
    app = create_app(base_config(f"sqlite:///{directory / 'live.db'}", directory, API_RATE_LIMIT=(100000, 60),
                                 **config))
    migrations.upgrade(app)
    with app.app_context():
        inst = accounts.create_institution(db.session, None, "live-uni", "Live University")
        # The demo user files proposals and chairs the committee, so that /cases has data, and is in
        # the international office, so that /portfolio answers with data too.
        user = accounts.create_user(db.session, None, inst, "live-researcher@example.org", "Live Researcher",
                                    PASSWORD, ["researcher", "committee_chair", "international_office"])
        actor = accounts.Actor(user=user, institution_id=inst.id,
                               roles=accounts.roles_in(db.session, user, inst.id))
        _, write_token = tokens.create(db.session, actor, "live write", "write", 30)
        _, read_token = tokens.create(db.session, actor, "live read", "read", 30)
        _seed_case(inst, user)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-api", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(base=f"http://127.0.0.1:{server.server_port}", token=write_token,
                              read_token=read_token, app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
