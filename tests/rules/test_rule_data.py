"""The rule data: each rule's own allow/deny cases, sources, languages, and what loading rejects."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from rules import RuleSyntaxError, Screener
from rules.ruleset import DATA_DIR, load_ruleset
from rules.selfcheck import check_all, mitigation_problems, run_rule_tests

SCREENER = Screener.default()
RULE_IDS = [rule.id for rule in SCREENER.ruleset.rules]
SHARED_CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contract"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_each_rule_passes_its_own_allow_and_deny_cases(rule_id):
    rule = SCREENER.ruleset.rule(rule_id)
    assert rule.tests["allow"] and rule.tests["deny"]
    single = Screener(
        SCREENER.ruleset.__class__(**{**SCREENER.ruleset.__dict__, "rules": (rule,)}),
        SCREENER.lists,
        SCREENER.matcher,
    )
    count, problems = run_rule_tests(single)
    assert count == len(rule.tests["allow"]) + len(rule.tests["deny"])
    assert [str(p) for p in problems] == []


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_each_rule_cites_public_sources_and_speaks_both_languages(rule_id):
    rule = SCREENER.ruleset.rule(rule_id)
    assert all(source.startswith("https://") for source in rule.sources)
    assert set(rule.title) == set(rule.explanation) == {"en", "de"}
    assert "{" in rule.explanation["en"].text, "an explanation names the facts that triggered it"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_each_mitigation_is_one_whole_sentence(rule_id):
    assert [str(p) for p in mitigation_problems(SCREENER.ruleset.rule(rule_id))] == []


def test_the_whole_check_passes():
    screener, count, problems = check_all()
    assert screener is not None and count >= 2 * len(RULE_IDS)
    assert [str(p) for p in problems] == []


@pytest.mark.skipif(not SHARED_CONTRACT.exists(), reason="shared contract not beside the repository")
@pytest.mark.parametrize("name", ["proposal.schema.json", "screening-result.schema.json"])
def test_the_bundled_schemas_are_the_shared_contract(name):
    bundled = json.loads((DATA_DIR / "schema" / name).read_text())
    assert bundled == json.loads((SHARED_CONTRACT / name).read_text())


@pytest.fixture
def data_copy(tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target, ignore=shutil.ignore_patterns("lists", "sources"))
    return target


def _edit_rule(data_dir: Path, rule_id: str, change) -> None:
    for path in (data_dir / "rules").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        for spec in doc["rules"]:
            if spec["id"] == rule_id:
                change(spec)
                path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
                return
    raise AssertionError(rule_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda spec: spec.pop("sources"), "source"),
        (lambda spec: spec["tests"].pop("allow"), "allow"),
        (
            lambda spec: spec.update(when={"fact": "item.source", "op": "eval", "value": "__import__('os')"}),
            "unknown operator",
        ),
        (lambda spec: spec.update(severity="catastrophic"), "severity"),
        (
            lambda spec: spec.update(when={"fact": "item.country", "op": "in", "value": "$no_such_set"}),
            "no_such_set",
        ),
        (lambda spec: spec["explanation"].pop("de"), "languages"),
        (lambda spec: spec.update(category="astrology"), "category"),
    ],
)
def test_a_broken_rule_is_refused_at_load_naming_the_rule(data_copy, change, message):
    _edit_rule(data_copy, "FUNDING-GOVERNMENT-OF-CONCERN", change)
    with pytest.raises(RuleSyntaxError, match=message) as caught:
        load_ruleset(data_copy)
    assert "FUNDING-GOVERNMENT-OF-CONCERN" in str(caught.value) or message == "no_such_set"


def test_duplicate_rule_ids_are_refused(data_copy):
    _edit_rule(data_copy, "FUNDING-GOVERNMENT-OF-CONCERN", lambda spec: spec.update(id="FUNDING-MILITARY-SPONSOR"))
    with pytest.raises(RuleSyntaxError, match="duplicate rule ids"):
        load_ruleset(data_copy)


def test_editing_a_threshold_in_data_changes_behaviour_and_the_hash(data_copy):
    def lower_threshold(spec):
        spec["severity"][3]["when"]["value"] = 50_000  # the 100,000-people line of the PIPL rule

    _edit_rule(data_copy, "DATA-PIPL-EXPORT-FROM-CHINA", lower_threshold)
    edited = Screener(load_ruleset(data_copy), SCREENER.lists, SCREENER.matcher)
    prop = {
        "title": "Cohort study",
        "research_fields": ["3.3"],
        "partners": [{"name": "Sorbonne Université", "country": "FR"}],
        "data_transfers": [
            {"direction": "inbound", "country": "CN", "categories": ["personal"], "data_subjects": 60_000}
        ],
    }
    severity = {f["rule"]: f["severity"] for f in edited.screen(prop)["flags"]}
    assert severity["DATA-PIPL-EXPORT-FROM-CHINA"] == "medium"
    assert {f["rule"]: f["severity"] for f in SCREENER.screen(prop)["flags"]}["DATA-PIPL-EXPORT-FROM-CHINA"] == "info"
    assert edited.ruleset.hash != SCREENER.ruleset.hash


def test_a_keyword_added_in_data_is_found(data_copy, monkeypatch):
    keywords = yaml.safe_load((data_copy / "keywords.yaml").read_text())
    keywords["areas"]["weapons"].append("railgun projectile")
    (data_copy / "keywords.yaml").write_text(yaml.safe_dump(keywords, allow_unicode=True))
    assert load_ruleset(data_copy).hash != SCREENER.ruleset.hash
