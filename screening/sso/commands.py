"""``screening sso ...``: configure identity providers and the password-login switch."""

import json
import sys

import click
import requests
from flask.cli import AppGroup

from screening.accounts import service as accounts
from screening.core.errors import DomainError
from screening.core.extensions import db
from screening.sso import service

sso_cli = AppGroup("sso", help="Single sign-on: identity providers per institution (docs/sso.md).")

MAX_METADATA_BYTES = 64 * 1024 * 1024  # a whole federation aggregate fits; only one entity is stored


def _mapping_options(scopes: tuple[str, ...], affiliations: tuple[str, ...], entitlements: tuple[str, ...],
                     mapping_json: str | None) -> dict:
    mapping = json.loads(mapping_json) if mapping_json else {}
    if not isinstance(mapping, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--mapping")
    if scopes:
        mapping["scopes"] = list(scopes)
    if affiliations:
        mapping["researcher_affiliations"] = list(affiliations)
    if entitlements:
        roles = mapping.setdefault("entitlement_roles", {})
        for item in entitlements:
            value, sep, role = item.rpartition("=")
            if not sep or not value:
                raise click.BadParameter(f"{item!r}: use VALUE=ROLE", param_hint="--entitlement")
            roles[value] = role
    return mapping


def _read_metadata(metadata_file, metadata_url: str | None) -> str:
    if bool(metadata_file) == bool(metadata_url):
        raise click.UsageError("give exactly one of --metadata-file and --metadata-url")
    if metadata_file:
        return metadata_file.read()
    service.check_https_url(metadata_url, "metadata_url")
    try:
        with requests.get(metadata_url, timeout=30, stream=True) as response:
            response.raise_for_status()
            body = response.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot fetch the metadata: {type(exc).__name__}") from exc
    if len(body) > MAX_METADATA_BYTES:
        raise click.ClickException("the metadata is larger than 64 MiB")
    return body.decode("utf-8", errors="strict")


def _commit_or_fail(action) -> object:
    try:
        result = action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    return result


mapping_options = [
    click.option("--scope", "scopes", multiple=True, help="Domain the provider vouches for (repeat)."),
    click.option("--researcher-affiliation", "affiliations", multiple=True,
                 help="Affiliation that makes a researcher (default: faculty, staff)."),
    click.option("--entitlement", "entitlements", multiple=True, metavar="VALUE=ROLE",
                 help="eduPersonEntitlement value granting a role, e.g. urn:...:committee=committee_member."),
    click.option("--mapping", "mapping_json", help="The whole attribute mapping as JSON (see docs/sso.md)."),
]


def with_mapping_options(command):
    for option in reversed(mapping_options):
        command = option(command)
    return command


@sso_cli.command("add-saml")
@click.argument("institution_slug")
@click.option("--slug", required=True, help="Short name used in URLs, e.g. uni-a-saml.")
@click.option("--name", "display_name", required=True, help="Button text, e.g. 'Universität A (DFN-AAI)'.")
@click.option("--metadata-file", type=click.File("r", encoding="utf-8"), help="IdP or federation metadata XML.")
@click.option("--metadata-url", help="Fetch the metadata from this https:// address.")
@click.option("--entity-id", help="The IdP's entity id (needed when the metadata is a federation aggregate).")
@with_mapping_options
def add_saml(institution_slug, slug, display_name, metadata_file, metadata_url, entity_id, scopes, affiliations,
             entitlements, mapping_json):
    """Add or replace the SAML identity provider of INSTITUTION_SLUG."""
    metadata = _read_metadata(metadata_file, metadata_url)
    mapping = _mapping_options(scopes, affiliations, entitlements, mapping_json)
    provider = _commit_or_fail(lambda: service.configure_saml_provider(
        db.session, None, accounts.get_institution(db.session, institution_slug), slug=slug,
        display_name=display_name, metadata_xml=metadata, entity_id=entity_id, metadata_url=metadata_url,
        mapping=mapping))
    click.echo(f"SAML provider {provider.slug} ({provider.entity_id}) configured for {institution_slug}")


@sso_cli.command("add-oidc")
@click.argument("institution_slug")
@click.option("--slug", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--issuer", required=True, help="The issuer; discovery is read from ISSUER/.well-known/...")
@click.option("--client-id", required=True)
@click.option("--client-secret", envvar="SCREENING_OIDC_CLIENT_SECRET", prompt=True, hide_input=True,
              help="Prompted, or from SCREENING_OIDC_CLIENT_SECRET.")
@with_mapping_options
def add_oidc(institution_slug, slug, display_name, issuer, client_id, client_secret, scopes, affiliations,
             entitlements, mapping_json):
    """Add or replace the OpenID Connect provider of INSTITUTION_SLUG."""
    mapping = _mapping_options(scopes, affiliations, entitlements, mapping_json)
    provider = _commit_or_fail(lambda: service.configure_oidc_provider(
        db.session, None, accounts.get_institution(db.session, institution_slug), slug=slug,
        display_name=display_name, issuer=issuer, client_id=client_id, client_secret=client_secret,
        mapping=mapping))
    click.echo(f"OIDC provider {provider.slug} ({provider.entity_id}) configured for {institution_slug}")


@sso_cli.command("list")
def list_providers():
    """Identity providers, their institution, protocol, state and mapping."""
    from screening.accounts.models import Institution

    providers = service.list_providers(db.session)
    if not providers:
        click.echo("no identity providers configured")
    for provider in providers:
        institution = db.session.get(Institution, provider.institution_id)
        click.echo(f"{provider.slug}\t{institution.slug}\t{provider.protocol}\t"
                   f"{'enabled' if provider.enabled else 'disabled'}\t{provider.entity_id}\t"
                   f"{json.dumps(provider.attribute_mapping, sort_keys=True)}")


@sso_cli.command("password-login")
@click.argument("institution_slug")
@click.argument("state", type=click.Choice(["on", "off"]))
def password_login(institution_slug, state):
    """Switch password login ON or OFF for INSTITUTION_SLUG (its admins keep it either way)."""
    _commit_or_fail(lambda: service.set_password_login(
        db.session, None, accounts.get_institution(db.session, institution_slug), state == "on"))
    click.echo(f"password login {state} for {institution_slug}")


@sso_cli.command("sp-metadata")
def sp_metadata():
    """Print our SAML service provider metadata (also served at /sso/saml/metadata)."""
    from screening.sso import saml

    try:
        sys.stdout.write(saml.sp_metadata().decode())
    except service.SsoError as exc:
        raise click.ClickException(exc.reason) from exc
