"""Every curl example of docs/api.md runs, in order, with real curl against a live server."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .live_api import live_api

pytestmark = [pytest.mark.no_isolation,
              pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK_RE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def blocks() -> list[str]:
    return BLOCK_RE.findall(GUIDE.read_text(encoding="utf-8"))


def test_guide_has_examples():
    found = blocks()
    assert len(found) >= 8 and all("curl" in b for b in found)


def test_every_curl_example_runs(tmp_path):
    with live_api(tmp_path) as server:
        # The examples write their downloads to $TMPDIR: here, the test's own folder.
        env = {**os.environ, "BASE": server.base, "TOKEN": server.token, "TMPDIR": str(tmp_path)}
        for block in blocks():
            m = re.search(r"^# expect (\d{3})$", block, re.M)
            expected = int(m.group(1)) if m else None
            script = block.rstrip() + (" -o /dev/stdout -w '\\n%{http_code}'" if expected else "")
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True,
                                  text=True, timeout=30)
            assert done.returncode == 0, (block, done.stdout, done.stderr)
            out = done.stdout
            if expected:
                body, _, status = out.rpartition("\n")
                assert int(status) == expected, (block, out)
                problem = json.loads(body)
                assert problem["status"] == expected and problem.get("errors"), problem
                continue
            answer = json.loads(out)
            if answer.get("status") == "draft" and "PROPOSAL_ID" not in env:
                env["PROPOSAL_ID"] = str(answer["id"])
            items = answer.get("items") or [{}]
            if "committee" in items[0] and "CASE_ID" not in env:  # the committee queue
                env["CASE_ID"] = str(items[0]["id"])
            if "lock_version" in answer and "FLAG_KEY" not in env:  # one case
                env["FLAG_KEY"] = next(f["key"] for f in answer["flags"] if f["category"] == "partner")
        assert {"PROPOSAL_ID", "CASE_ID", "FLAG_KEY"} <= set(env)
