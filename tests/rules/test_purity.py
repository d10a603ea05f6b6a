"""rules/ is pure Python: it must never import Flask, the database layer or Celery."""

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("flask", "sqlalchemy", "sqlmodel", "celery", "redis", "wtforms", "flask_wtf", "screening")


def test_no_module_in_rules_imports_the_web_or_database_stack():
    offenders = []
    for path in Path("rules").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_and_screening_loads_none_of_them():
    code = (
        "import sys, rules, rules.cli; from rules import Screener; Screener.default()\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
