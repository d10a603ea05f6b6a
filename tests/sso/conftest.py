"""Fixtures for single sign-on: the web fixtures, our SP's keys, a real SAML IdP and OIDC provider."""

import pytest

from screening import create_app
from screening.core import migrations
from screening.core.extensions import db
from screening.sso import saml, service
from screening.sso.saml import write_self_signed_pair
from tests.web.conftest import (  # noqa: F401 - fixtures and the marker hook
    _isolation,
    base_config,
    client,
    csrf_enabled,
    database_url,
    factory,
    pytest_configure,
)

from .idp import SamlIdentityProvider
from .op import OpenIDProvider

BASE_URL = "https://screening.test"
IDP_A = "https://idp.uni-a.example/idp/shibboleth"
SCOPE_A = "uni-a.example"
COMMITTEE_ENTITLEMENT = "urn:mace:uni-a.example:screening:committee"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):  # noqa: F811 - this package's app has SP keys and a base URL
    folder = tmp_path_factory.mktemp("sp-keys")
    write_self_signed_pair(folder / "sp-key.pem", folder / "sp-cert.pem", common_name="screening.test")
    application = create_app(base_config(database_url, folder, BASE_URL=BASE_URL,
                                         SAML_SP_KEY_FILE=str(folder / "sp-key.pem"),
                                         SAML_SP_CERT_FILE=str(folder / "sp-cert.pem")))
    migrations.upgrade(application)
    yield application
    with application.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def sp_metadata(app) -> str:
    with app.app_context():
        return saml.sp_metadata().decode()


@pytest.fixture(scope="session")
def idp(tmp_path_factory, sp_metadata) -> SamlIdentityProvider:
    return SamlIdentityProvider(tmp_path_factory.mktemp("idp-a"), IDP_A, sp_metadata)


@pytest.fixture
def institution(factory):  # noqa: F811 - the imported fixture
    return factory.institution(slug="uni-a", name="Universität A")


@pytest.fixture
def saml_provider(institution, idp):
    provider = service.configure_saml_provider(
        db.session, None, institution, slug="uni-a-saml", display_name="Universität A", metadata_xml=idp.metadata(),
        mapping={"scopes": [SCOPE_A], "entitlement_roles": {COMMITTEE_ENTITLEMENT: "committee_member"}})
    db.session.commit()
    return provider


@pytest.fixture
def op():
    with OpenIDProvider("screening-client", "s3cret-" + "x" * 20, f"{BASE_URL}/sso/oidc/callback") as provider:
        yield provider


@pytest.fixture
def oidc_provider(institution, op):
    provider = service.configure_oidc_provider(
        db.session, None, institution, slug="uni-a-oidc", display_name="Universität A (OIDC)", issuer=op.issuer,
        client_id=op.client.client_id, client_secret=op.client.client_secret, mapping={"scopes": [SCOPE_A]})
    db.session.commit()
    return provider
