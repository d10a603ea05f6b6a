#!/usr/bin/env bash
# The whole test suite: lint, rule data check, contract examples, pytest on SQLite,
# then the database-backed tests again on PostgreSQL with Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

ruff check .
screening rules check
if [ -f ../shared/contract/check-examples ]; then
  python3 ../shared/contract/check-examples .
fi
pytest -q -p no:cacheprovider
if [ -d tests/web ]; then
  SCREENING_TEST_DATABASE_URL="${SCREENING_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}" \
  SCREENING_TEST_REDIS_URL="${SCREENING_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}" \
    pytest -q -p no:cacheprovider tests/web tests/operations -m "not browser"
fi
