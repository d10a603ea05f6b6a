"""A real SAML identity provider for the tests: pysaml2's ``Server`` with freshly generated keys.

It reads our SP's metadata, answers the AuthnRequests our app redirects to with signed
responses, and can be told to misbehave (another audience, an assertion that has expired).
"""

import base64
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask import Flask, request
from markupsafe import escape
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

from screening.sso.saml import write_self_signed_pair

from .loopback import LoopbackServer

PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


class SamlIdentityProvider:
    def __init__(self, folder: Path, entity_id: str, sp_metadata: str, lifetime_minutes: int = 15,
                 endpoint_base: str | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        key, cert = folder / "idp-key.pem", folder / "idp-cert.pem"
        write_self_signed_pair(key, cert, common_name=entity_id.split("/")[2])
        self.entity_id = entity_id
        endpoint_base = endpoint_base or entity_id  # an impostor listens where the real IdP does
        self.config = IdPConfig()
        self.config.load({
            "entityid": entity_id,
            "key_file": str(key),
            "cert_file": str(cert),
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"inline": [sp_metadata]},
            "service": {"idp": {
                "endpoints": {
                    "single_sign_on_service": [(f"{endpoint_base}/sso", BINDING_HTTP_REDIRECT)],
                    "single_logout_service": [(f"{endpoint_base}/slo", BINDING_HTTP_REDIRECT)],
                },
                "policy": {"default": {"lifetime": {"minutes": lifetime_minutes}, "name_form": NAME_FORMAT_URI,
                                       "attribute_restrictions": None}},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "sign_assertion": True,
                "sign_response": False,
            }},
        })
        self.server = Server(config=self.config)

    def metadata(self) -> str:
        return create_metadata_string(None, config=self.config, valid=24).decode()

    def answer(self, login_url: str, attributes: dict, *, audience: str | None = None,
               subject: str = "opaque-persistent-id") -> dict:
        """The form our app's ACS receives: a signed response to the AuthnRequest in ``login_url``."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(login_url).query).items()}
        return self.respond(query["SAMLRequest"], query["RelayState"], attributes, audience=audience,
                            subject=subject)[1]

    def respond(self, saml_request: str, relay_state: str, attributes: dict, *, audience: str | None = None,
                subject: str = "opaque-persistent-id") -> tuple[str, dict]:
        """(the requesting SP's assertion consumer address, the signed response form to post there)."""
        request = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
        acs = self.server.config.metadata.assertion_consumer_service(request.issuer.text, BINDING_HTTP_POST)
        response = self.server.create_authn_response(
            identity=attributes, in_response_to=request.id, destination=acs[0]["location"],
            sp_entity_id=audience or request.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=subject, name_qualifier=self.entity_id),
            authn={"class_ref": PASSWORD_CONTEXT, "authn_auth": self.entity_id},
            sign_assertion=True, sign_response=False)
        return acs[0]["location"], {"SAMLResponse": base64.b64encode(str(response).encode()).decode(),
                                    "RelayState": relay_state}


class IdpLoginPage(LoopbackServer):
    """The identity provider as a browser meets it: its own login page over HTTP on 127.0.0.1.

    ``GET /sso`` (the SingleSignOnService our AuthnRequest is redirected to) shows a username and
    password form; a right password answers with the signed response in a form that posts
    itself to our ACS (the HTTP-POST binding), a wrong one shows the form again.
    """

    def __init__(self, folder: Path, entity_id: str, sp_metadata: str, people: dict[str, tuple[str, dict]]):
        self.people = people
        super().__init__(self._build_app())
        self.idp = SamlIdentityProvider(folder, entity_id, sp_metadata, endpoint_base=self.url)

    def _build_app(self) -> Flask:
        page = self
        app = Flask("test-saml-idp-login-page")

        def login_form(error: str = "") -> str:
            hidden = "".join(f'<input type="hidden" name="{name}" value="{escape(request.values.get(name, ""))}">'
                             for name in ("SAMLRequest", "RelayState"))
            return (f"<!doctype html><title>Universität A - Login</title><h1>Universität A</h1>"
                    f'<p role="alert">{escape(error)}</p><form method="post" action="/sso">{hidden}'
                    '<label>Username <input name="username" autocomplete="username"></label>'
                    '<label>Password <input name="password" type="password"></label>'
                    "<button>Sign in</button></form>")

        @app.get("/sso")
        def show_login():
            return login_form()

        @app.post("/sso")
        def check_login():
            password, attributes = page.people.get(request.form.get("username", ""), (None, None))
            if password is None or not secrets.compare_digest(request.form.get("password", ""), password):
                return login_form("Wrong username or password."), 401
            acs, form = page.idp.respond(request.form["SAMLRequest"], request.form["RelayState"], attributes)
            fields = "".join(f'<input type="hidden" name="{name}" value="{escape(value)}">'
                             for name, value in form.items())
            return (f'<!doctype html><title>Signing in</title><form method="post" action="{escape(acs)}">{fields}'
                    "<noscript><button>Continue</button></noscript></form>"
                    "<script>document.forms[0].submit()</script>")

        return app


def tamper(form: dict, old: str, new: str) -> dict:
    """The same response with ``old`` replaced by ``new`` inside the signed assertion."""
    xml = base64.b64decode(form["SAMLResponse"]).decode()
    assert old in xml
    return {**form, "SAMLResponse": base64.b64encode(xml.replace(old, new).encode()).decode()}


def researcher_attributes(eppn: str = "alice@uni-a.example", mail: str = "alice@uni-a.example",
                          affiliations: tuple[str, ...] = ("faculty@uni-a.example", "member@uni-a.example"),
                          entitlements: tuple[str, ...] = ()) -> dict:
    attributes = {
        "eduPersonPrincipalName": [eppn],
        "mail": [mail],
        "displayName": ["Alice Example"],
        "eduPersonScopedAffiliation": list(affiliations),
    }
    if entitlements:
        attributes["eduPersonEntitlement"] = list(entitlements)
    return attributes


def logout_request_url(idp: SamlIdentityProvider, sp_entity_id: str, name_id: str, session_index: str) -> str:
    """The IdP starts single logout: our SLO address with its signed LogoutRequest."""
    from saml2.saml import name_id_from_string

    destination = idp.server.metadata.single_logout_service(sp_entity_id, BINDING_HTTP_REDIRECT, "spsso")[0]
    _, request = idp.server.create_logout_request(destination["location"], sp_entity_id,
                                                  name_id=name_id_from_string(name_id),
                                                  session_indexes=[session_index], sign=False)
    info = idp.server.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination["location"], "",
                                    sign=True, sigalg=idp.server.signing_algorithm)
    return dict(info["headers"])["Location"]
