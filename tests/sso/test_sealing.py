"""OIDC client secrets are stored encrypted, open only with the configured keys, and old rows are migrated."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import InvalidToken

from screening import create_app
from screening.core import migrations
from screening.core.extensions import db
from screening.sso import sealing, service
from screening.sso.identity import SsoUnavailable
from screening.sso.models import IdentityProvider
from tests.web.conftest import base_config, scratch_database

from .conftest import SCOPE_A

CLIENT_SECRET = "oidc-client-secret-" + "q" * 24
BEFORE_SEALING = "708b8d5fb1ca"


def test_the_client_secret_is_stored_encrypted_and_opens_again(institution):
    provider = service.configure_oidc_provider(
        db.session, None, institution, slug="uni-a-oidc", display_name="Universität A", issuer="https://op.uni-a.example",
        client_id="screening", client_secret=CLIENT_SECRET, mapping={"scopes": [SCOPE_A]})
    stored = db.session.execute(sa.text("SELECT client_secret_sealed FROM identity_provider WHERE id = :id"),
                                {"id": provider.id}).scalar_one()
    assert CLIENT_SECRET not in stored and stored.startswith("gAAAAA")  # a Fernet token
    assert sealing.unseal(stored) == CLIENT_SECRET


def test_another_secret_key_cannot_open_it(app):
    with app.app_context():
        token = sealing.seal(CLIENT_SECRET)
    other = {"SECRET_KEY": "another-" + "k" * 40}
    with pytest.raises(InvalidToken):
        sealing.keys_of(other).decrypt(token.encode())


def test_a_dedicated_key_seals_new_secrets_and_still_opens_the_old_ones(app, monkeypatch):
    with app.app_context():
        sealed_before = sealing.seal(CLIENT_SECRET)
        monkeypatch.setitem(app.config, "SSO_SECRET_KEY", "dedicated-" + "d" * 40)
        assert sealing.unseal(sealed_before) == CLIENT_SECRET
        sealed_after = sealing.seal(CLIENT_SECRET)
    assert sealing.keys_of({"SSO_SECRET_KEY": "dedicated-" + "d" * 40}).decrypt(sealed_after.encode()).decode() \
        == CLIENT_SECRET


def test_an_unreadable_secret_makes_sign_in_unavailable_with_a_clear_reason(app, monkeypatch):
    with app.app_context():
        sealed = sealing.seal(CLIENT_SECRET)
        monkeypatch.setitem(app.config, "SECRET_KEY", "rotated-" + "r" * 40)
        with pytest.raises(SsoUnavailable, match="enter it again"):
            sealing.unseal(sealed)


def test_a_short_dedicated_key_is_refused():
    with pytest.raises(SsoUnavailable, match="shorter than 32"):
        sealing.keys_of({"SSO_SECRET_KEY": "short", "SECRET_KEY": "s" * 40})


@pytest.mark.no_isolation
def test_the_migration_seals_plaintext_secrets_and_the_downgrade_opens_them(tmp_path_factory):
    with scratch_database(tmp_path_factory, "sealing") as url:
        application = create_app(base_config(url, tmp_path_factory.mktemp("sealing-files")))
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            command.upgrade(migrations.alembic_config(url, app=application), BEFORE_SEALING)
            now = datetime.now(UTC)
            with engine.begin() as conn:
                institution_id = conn.execute(sa.text(
                    "INSERT INTO institution (slug, name, created_at) VALUES ('uni-a', 'Universität A', :now) "
                    "RETURNING id"), {"now": now}).scalar_one()
                conn.execute(sa.text(
                    "INSERT INTO identity_provider (institution_id, slug, display_name, protocol, entity_id, enabled,"
                    " client_id, client_secret, attribute_mapping, created_at, updated_at) VALUES (:i, 'uni-a-oidc',"
                    " 'Universität A', 'oidc', 'https://op.uni-a.example', true, 'screening', :secret, '{}', :now,"
                    " :now)"), {"i": institution_id, "secret": CLIENT_SECRET, "now": now})
            migrations.upgrade(application)
            with engine.connect() as conn:
                sealed = conn.execute(sa.select(IdentityProvider.client_secret_sealed)).scalar_one()
            assert CLIENT_SECRET not in sealed
            with application.app_context():
                assert sealing.unseal(sealed) == CLIENT_SECRET
            command.downgrade(migrations.alembic_config(url, app=application), BEFORE_SEALING)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT client_secret FROM identity_provider")).scalar_one() \
                    == CLIENT_SECRET
        finally:
            engine.dispose()
            with application.app_context():
                for app_engine in db.engines.values():
                    app_engine.dispose()
