"""The `screening` console script as the contract checker and shell users see it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rules.factories import ROBOTICS_WITH_HIT, proposal

CLI = str(Path(sys.executable).with_name("screening"))
SHARED_ASPI = Path("rules/data/sources/china-defence-universities.misp-galaxy.json")


def run(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [CLI, *args], input=stdin, capture_output=True, timeout=120, env={**os.environ, **(env or {})}
    )


def test_screen_prints_one_result_as_json(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(ROBOTICS_WITH_HIT))
    proc = run("screen", str(path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["tier"] == "critical"
    assert any(f["category"] == "partner" for f in result["flags"])


def test_screen_reads_standard_input_and_speaks_german():
    proc = run("screen", "-", "--language", "de", stdin=json.dumps(ROBOTICS_WITH_HIT).encode())
    assert proc.returncode == 0
    assert "Gelisteter Partner" in proc.stdout.decode()


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"this is not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (json.dumps(proposal(title=42)).encode(), "title"),
        (json.dumps(proposal(colour="blue")).encode(), "colour"),
        (json.dumps(proposal(duration_months=-1)).encode(), "duration_months"),
        (
            json.dumps(proposal(partners=[{"name": "Nankai University", "country": "cn"}])).encode(),
            "partners[0].country",
        ),
        (json.dumps(proposal(partners=[])).encode(), "partners"),
        (
            json.dumps(
                proposal(
                    data_transfers=[
                        {
                            "direction": "inbound",
                            "country": "CN",
                            "categories": ["personal"],
                            "data_subjects": -5,
                        }
                    ]
                )
            ).encode(),
            "data_transfers[0].data_subjects",
        ),
        (b"[" * 100000, "nested too deeply"),
    ],
)
def test_malformed_input_exits_2_with_one_line_naming_the_problem(tmp_path, content, field):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    proc = run("screen", str(path))
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert len(stderr.strip().splitlines()) == 1
    assert field in stderr
    assert "Traceback" not in stderr


def test_a_missing_file_exits_2():
    proc = run("screen", "/nonexistent/proposal.json")
    assert proc.returncode == 2 and b"cannot read" in proc.stderr


def test_batch_writes_one_line_per_proposal_in_order_with_errors_in_place(tmp_path):
    lines = [json.dumps(proposal(reference="a")), "{broken", json.dumps(proposal(reference="c", partners=[]))]
    lines.append(json.dumps(dict(ROBOTICS_WITH_HIT, reference="d")))
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    proc = run("screen", "--batch", str(path))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(out) == 4
    assert out[0]["reference"] == "a" and out[3]["reference"] == "d"
    assert out[1]["error"]["line"] == 2
    assert out[2]["error"]["path"] == "partners"


def test_rules_check_passes_on_the_shipped_data():
    proc = run("rules", "check")
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"rule tests" in proc.stdout


def test_rules_explain_shows_sources_and_tests():
    proc = run("rules", "explain", "FUNDING-CSC-WITHOUT-COSELECTION")
    text = proc.stdout.decode()
    assert proc.returncode == 0
    assert "sources:" in text and "tests:" in text and "deny:" in text


def test_rules_explain_of_an_unknown_rule_exits_2():
    assert run("rules", "explain", "NO-SUCH-RULE").returncode == 2


def test_lists_show_names_versions_and_counts():
    proc = run("lists", "show")
    text = proc.stdout.decode()
    assert "aspi-china-defence-universities\t2026-08-06\t159 entries" in text
    assert "canada-named-research-organizations\t2026-12-06.2\t" in text
    assert "published 2024-01-16" in text
    assert "us-entity-list-research" in text and "us-dod-1260h" in text


def test_lists_import_creates_a_new_version_that_screening_then_uses(tmp_path):
    csv = tmp_path / "extra.csv"
    csv.write_text(
        "name,aliases,country,category,risk_level,topics,reason,sources\n"
        "Institute of Imaginary Hypersonics,IIH,CN,military,very_high,weapons;aerospace,"
        "Test entry,https://example.org/listing\n"
    )
    env = {"SCREENING_LISTS_DIR": str(tmp_path / "lists")}
    import_args = ("lists", "import", "--format", "csv", "--name", "local-watchlist", "--version", "2026-12-01")
    proc = run(*import_args, str(csv), env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "lists" / "local-watchlist" / "2026-12-01.yaml").exists()
    again = run(*import_args, str(csv), env=env)
    assert again.returncode == 2 and b"already exists" in again.stderr
    prop = proposal(partners=[{"name": "Institute of Imaginary Hypersonics", "country": "CN"}])
    screened = run("screen", "-", stdin=json.dumps(prop).encode(), env=env)
    result = json.loads(screened.stdout)
    assert {"name": "local-watchlist", "version": "2026-12-01", "entries": 1} in result["lists"]
    assert any(f["evidence"].get("list") == "local-watchlist" for f in result["flags"])


def test_lists_import_of_a_malformed_file_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    proc = run("lists", "import", "--format", "misp-galaxy", str(bad), env={"SCREENING_LISTS_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert len(proc.stderr.decode().strip().splitlines()) == 1
