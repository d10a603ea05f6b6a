"""Command-line interface of the rules engine: screen, rules check/explain, lists show/import.

Registered on the `screening` console script by screening/cli.py. Input problems exit with
status 2 and one line on standard error; rule-data problems found by `rules check` exit 1.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from rules.affiliations import load_current_graph
from rules.conditions import RuleSyntaxError
from rules.engine import Screener
from rules.importers import import_list
from rules.lists import SHIPPED_LISTS_DIR, ListError, load_current_lists, store_new_version
from rules.ruleset import load_ruleset
from rules.selfcheck import check_all
from rules.validation import ProposalError

INPUT_ERROR = 2


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: what every bad input gets."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(INPUT_ERROR)


def _read_text(source: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{source} is not UTF-8 text (byte {exc.start})")


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError(f"{where} is nested too deeply") from None


def _load_screener() -> Screener:
    try:
        return Screener.default()
    except (RuleSyntaxError, ListError) as exc:
        click.echo(f"error: the rule data is broken: {exc}", err=True)
        sys.exit(1)


def _dump(result: dict, pretty: bool) -> str:
    if pretty:
        return json.dumps(result, ensure_ascii=False, indent=2)
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


@click.command("screen")
@click.argument("source", metavar="FILE|-")
@click.option("--batch", is_flag=True, help="Read JSON Lines (one proposal a line), write one result a line.")
@click.option("--language", type=click.Choice(["en", "de"]), default="en", show_default=True)
def screen_command(source: str, batch: bool, language: str) -> None:
    """Screen a proposal (JSON) and print the screening result as JSON."""
    text = _read_text(source)
    screener = _load_screener()
    if not batch:
        try:
            proposal = _parse_json(text, source)
            result = screener.screen(proposal, language=language)
        except ProposalError as exc:
            fail(f"invalid proposal: {exc}")
        except ValueError as exc:
            fail(str(exc))
        click.echo(_dump(result, pretty=True))
        return
    out = sys.stdout
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result = screener.screen(_parse_json(line, f"line {number}"), language=language)
        except ProposalError as exc:
            result = {"error": {"line": number, "path": exc.path, "reason": exc.reason, "message": str(exc)}}
        except ValueError as exc:
            result = {"error": {"line": number, "path": "", "reason": str(exc), "message": str(exc)}}
        out.write(_dump(result, pretty=False) + "\n")


@click.group("rules")
def rules_group() -> None:
    """Inspect and check the rule set."""


@rules_group.command("check")
def rules_check() -> None:
    """Validate rule and list files and run every rule's own test cases."""
    screener, count, problems = check_all()
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if screener is not None:
        click.echo(
            f"rule set {screener.ruleset.version} ({screener.ruleset.hash}): {len(screener.ruleset.rules)} rules, "
            f"{len(screener.ruleset.combinations)} combinations, {count} rule tests, "
            f"{len(screener.lists)} lists ({sum(len(pl.entries) for pl in screener.lists)} entries)"
        )
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("ok")


@rules_group.command("explain")
@click.argument("rule_id")
def rules_explain(rule_id: str) -> None:
    """Print a rule: what it checks, its severity, sources, mitigations and test cases."""
    ruleset = load_ruleset()
    try:
        rule = ruleset.rule(rule_id.upper())
    except KeyError:
        fail(f"no rule {rule_id!r}; known: {', '.join(r.id for r in ruleset.rules)}")
    click.echo(f"# {rule.id} ({rule.file}, rule set {ruleset.version})")
    click.echo(yaml.safe_dump(rule.spec, allow_unicode=True, sort_keys=False, width=110))


@click.group("lists")
def lists_group() -> None:
    """Show and import partner lists."""


@lists_group.command("show")
def lists_show() -> None:
    """Print the loaded lists: name, version, entry count, publisher's date and source."""
    try:
        lists = load_current_lists()
        graph = load_current_graph()
    except ListError as exc:
        fail(str(exc))
    for partner_list in lists:
        click.echo(
            f"{partner_list.name}\t{partner_list.version}\t{len(partner_list.entries)} entries"
            f"\tpublished {partner_list.published or 'undated'}\t{partner_list.publisher or '-'}\t{partner_list.source}"
        )
    click.echo(f"affiliations\t{graph.version}\t{len(graph.units)} sub-units\t{graph.title}")


@lists_group.command("import")
@click.option("--format", "fmt", type=click.Choice(["misp-galaxy", "csl", "csv"]), required=True)
@click.option("--name", help="List name (default: from the file or the format).")
@click.option("--version", "version", help="New version (default: today's date, ISO).")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of lists (default: $SCREENING_LISTS_DIR, else the shipped lists).",
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def lists_import(fmt: str, name: str | None, version: str | None, into: Path | None, file: Path) -> None:
    """Import a list file into a new list version; print and store what changed since the last one."""
    target_dir = into or Path(os.environ.get("SCREENING_LISTS_DIR") or SHIPPED_LISTS_DIR)
    try:
        partner_list = import_list(fmt, file, name=name, version=version)
        path, diff = store_new_version(partner_list, target_dir)
    except ListError as exc:
        fail(str(exc))
    click.echo(
        f"imported {len(partner_list.entries)} entries as {partner_list.name} version {partner_list.version}: {path}"
    )
    for line in diff.lines():
        click.echo(line)


COMMANDS = (screen_command, rules_group, lists_group)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)


@click.group()
def main() -> None:
    """Rules engine only (no web application)."""


register(main)
