"""``screening institutions ...`` and ``screening users ...``: accounts from the command line."""

import getpass
import secrets
import sys
from typing import NoReturn

import click
from flask.cli import AppGroup

from screening.core.errors import DomainError
from screening.core.extensions import db

institutions_cli = AppGroup("institutions", help="Institutions hosted by this installation.")
users_cli = AppGroup("users", help="User accounts and roles.")


@institutions_cli.command("create")
@click.argument("slug")
@click.argument("name")
def institutions_create(slug, name):
    """Create an institution with a short SLUG and a display NAME."""
    from screening.accounts import service as accounts

    try:
        inst = accounts.create_institution(db.session, None, slug, name)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"institution {inst.slug} created (id {inst.id})")


def _password_option(password: str | None, generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(12)
    if password:
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat: "):
        raise click.ClickException("passwords do not match")
    return first


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--institution", "slug", required=True, help="Institution slug.")
@click.option("--role", "roles", multiple=True, required=True,
              help="researcher, committee_member, committee_chair, external_advisor, "
                   "international_office or institution_admin (repeatable).")
@click.option("--password", envvar="SCREENING_NEW_PASSWORD", help="Else prompted (or read from stdin).")
@click.option("--generate-password", is_flag=True, help="Generate and print a password.")
def users_create(email, name, slug, roles, password, generate_password):
    """Create a user with roles in one institution."""
    from screening.accounts import service as accounts

    secret = _password_option(password, generate_password)
    try:
        inst = accounts.get_institution(db.session, slug)
        user = accounts.create_user(db.session, None, inst, email, name, secret, list(roles))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {user.email} created in {inst.slug} with roles {', '.join(roles)}")
    if generate_password:
        click.echo(f"password: {secret}")


@users_cli.command("grant")
@click.argument("email")
@click.option("--institution", "slug", required=True)
@click.option("--role", required=True)
@click.option("--allow-other-institution", is_flag=True,
              help="Administrator's decision to let this user hold roles in more than one institution.")
def users_grant(email, slug, role, allow_other_institution):
    """Give an existing user a role."""
    from screening.accounts import service as accounts

    try:
        user = accounts.get_user_by_email(db.session, email)
        if allow_other_institution:
            user.multi_institution = True
        accounts.grant_role(db.session, None, user, accounts.get_institution(db.session, slug), role)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc) or type(exc).__name__) from exc
    click.echo(f"{email}: {role} in {slug}")


@users_cli.command("reset-password")
@click.argument("email")
@click.option("--password", envvar="SCREENING_NEW_PASSWORD")
@click.option("--generate-password", is_flag=True)
def users_reset_password(email, password, generate_password):
    """Set a new password; ends every session of the user."""
    from screening.accounts import service as accounts

    secret = _password_option(password, generate_password)
    try:
        user = accounts.get_user_by_email(db.session, email)
        accounts.set_password(db.session, None, user, secret)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc) or "no such user") from exc
    click.echo(f"password of {user.email} reset; sessions ended")
    if generate_password:
        click.echo(f"password: {secret}")


@users_cli.command("disable")
@click.argument("email")
def users_disable(email):
    """Disable an account and end its sessions."""
    from screening.accounts import service as accounts

    try:
        user = accounts.get_user_by_email(db.session, email)
        accounts.set_active(db.session, None, user, False)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException("no such user") from exc
    click.echo(f"{user.email} disabled")


def _refuse(reason: str) -> NoReturn:
    """One line on stderr, exit status 2 (bad input, nothing changed)."""
    db.session.rollback()
    click.echo("error: " + " ".join(reason.split()), err=True)
    sys.exit(2)


def _set_installation_admin(email: str, grant: bool) -> None:
    from screening.accounts import service as accounts
    from screening.core.errors import NotFound

    try:
        user = accounts.set_installation_admin(db.session, email, grant)
    except NotFound:
        _refuse(f"no account with the address {email!r}")
    db.session.commit()
    click.echo(f"{user.email} {'is' if grant else 'is no longer'} an installation administrator")


@users_cli.command("grant-installation-admin")
@click.argument("email")
def users_grant_installation_admin(email):
    """Let an existing account manage the installation's institutions at /admin/installation/.

    It grants no role inside any institution; the account signs in as before (it needs a role in
    some institution to sign in).
    """
    _set_installation_admin(email, True)


@users_cli.command("revoke-installation-admin")
@click.argument("email")
def users_revoke_installation_admin(email):
    """Take the installation administration away from an account."""
    _set_installation_admin(email, False)
