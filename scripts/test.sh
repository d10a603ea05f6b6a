#!/usr/bin/env bash
# The whole test suite: lint, rule data check, contract examples, pytest on SQLite,
# then the database-backed tests again on PostgreSQL with Redis.
# Everything the run puts in the temporary directory goes to a fresh folder that must be empty at
# the end (pytest's own tmp_path folders are removed first): tests clean up after themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

run_tmp="$(mktemp -d "${TMPDIR:-/tmp}/screening-test-run.XXXXXX")"
trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR="$run_tmp"

ruff check .
screening rules check
if [ -f ../shared/contract/check-examples ]; then
  python3 ../shared/contract/check-examples .
fi
pytest -q -p no:cacheprovider --basetemp="$run_tmp/pytest"
if [ -d tests/web ]; then
  SCREENING_TEST_DATABASE_URL="${SCREENING_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}" \
  SCREENING_TEST_REDIS_URL="${SCREENING_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
    pytest -q -p no:cacheprovider --basetemp="$run_tmp/pytest" tests/web tests/operations tests/sso -m "not browser"
fi

rm -rf "$run_tmp/pytest"
if [ -n "$(ls -A "$run_tmp")" ]; then
  echo "error: the tests left these behind in the temporary directory:" >&2
  ls -lA "$run_tmp" >&2
  exit 1
fi
