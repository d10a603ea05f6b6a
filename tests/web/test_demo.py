"""`screening demo --serve`: demo data once, then a server that can write to the database."""

import pytest
import sqlalchemy as sa

from screening.core import commands
from screening.core.extensions import db


@pytest.mark.no_isolation
def test_demo_serve_leaves_no_transaction_open_for_the_server(app, monkeypatch):
    seen = {}

    def fake_run_simple(host, port, application, **kwargs):
        seen["in_transaction"] = db.session.in_transaction()

    monkeypatch.setattr("werkzeug.serving.run_simple", fake_run_simple)
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))  # as the demo loader's queries do
        assert db.session.in_transaction()
        commands.serve("127.0.0.1", 0)
    assert seen == {"in_transaction": False}
