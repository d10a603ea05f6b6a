#!/usr/bin/env bash
# Load test of the JSON API: gunicorn (2 gthread workers) on 127.0.0.1 with PostgreSQL and Redis,
# wrk against POST /api/v1/screen, GET /api/v1/proposals and the floor GET /api/v1/ping (a trivial
# route of the same app and server). Prints requests/s, p50, p99 and ratios to the floor; fails on
# any non-2xx answer or socket error, or when /screen is below 50% of the floor.
#
#   bench/api_load.sh                 # 10 s per endpoint
#   DURATION=5s bench/api_load.sh
#
# Needs: PostgreSQL (PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test), Redis
# (REDIS_URL, default redis://127.0.0.1:6379/15), wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL=${PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
PORT=${PORT:-8765}
MIN_RATIO=${MIN_RATIO:-0.5}
SCHEMA="bench_api_$$"
WORK=$(mktemp -d)
GUNICORN_PID=""

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }

schema_sql() {
  "$PY" - "$PG_URL" "$1" <<'PYEOF'
import sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1], poolclass=sa.pool.NullPool)
with engine.begin() as conn:
    conn.execute(sa.text(sys.argv[2]))
PYEOF
}

cleanup() {
  set +e
  if [ -n "$GUNICORN_PID" ]; then kill "$GUNICORN_PID" 2>/dev/null; wait "$GUNICORN_PID" 2>/dev/null; fi
  schema_sql "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE"
  "$PY" -c "import redis,sys; r=redis.Redis.from_url(sys.argv[1]); [r.delete(k) for k in r.scan_iter('screening:rl:api:*')]" "$REDIS_URL"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

schema_sql "CREATE SCHEMA \"$SCHEMA\""
export SCREENING_ENV=production
export SCREENING_SECRET_KEY="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SCREENING_DATABASE_URL="${PG_URL}?options=-csearch_path%3D${SCHEMA}"
export SCREENING_REDIS_URL="$REDIS_URL"
export SCREENING_API_RATE_LIMIT='[100000000, 60]'

.venv/bin/screening db upgrade >/dev/null
TOKEN=$("$PY" bench/api_seed.py 200)
export TOKEN

.venv/bin/gunicorn --workers 2 --worker-class gthread --threads 4 --bind "127.0.0.1:$PORT" \
  --log-level warning wsgi:app &
GUNICORN_PID=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$PORT/api/v1/ping" >/dev/null 2>&1 && break
  sleep 0.2
done
BASE="http://127.0.0.1:$PORT"
# Warm both workers (screener, connection pools) and check each endpoint answers 2xx once.
for _ in 1 2 3 4; do
  curl -fsS "$BASE/api/v1/ping" >/dev/null
  curl -fsS "$BASE/api/v1/proposals?limit=20" -H "Authorization: Bearer $TOKEN" >/dev/null
  curl -fsS "$BASE/api/v1/screen" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    -d '{"title": "Warm up", "research_fields": ["1.5"], "partners": [{"name": "DTU", "country": "DK"}]}' >/dev/null
done

run() {  # name, wrk arguments...
  local name=$1; shift
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" >"$WORK/$name.txt"
  "$PY" - "$name" "$WORK/$name.txt" >>"$WORK/results.tsv" <<'PYEOF'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
def ms(label):
    m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
sock = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text.split("Socket errors:")[1].splitlines()[0])) if "Socket errors:" in text else 0
print(f"{name}\t{rps:.1f}\t{ms('50'):.2f}\t{ms('99'):.2f}\t{total}\t{bad}\t{sock}")
PYEOF
}

: >"$WORK/results.tsv"
run floor "$BASE/api/v1/ping"
run screen -s bench/api_screen.lua "$BASE/api/v1/screen"
run proposals -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/proposals?limit=20"

"$PY" - "$WORK/results.tsv" "$MIN_RATIO" "$DURATION" "$CONNECTIONS" <<'PYEOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, total, bad, sock = line.split("\t")
    rows[name] = dict(rps=float(rps), p50=float(p50), p99=float(p99), total=int(total), bad=int(bad), sock=int(sock))
floor = rows["floor"]["rps"]
print(f"gunicorn 2 gthread workers x 4 threads, PostgreSQL + Redis, wrk 2 threads x {sys.argv[4]} connections, {sys.argv[3]} each")
print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'non-2xx':>9}{'sock err':>9}{'vs floor':>10}")
labels = {"floor": "GET /api/v1/ping (floor)", "screen": "POST /api/v1/screen", "proposals": "GET /api/v1/proposals"}
for name, r in rows.items():
    print(f"{labels[name]:<28}{r['rps']:>10.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['total']:>10}{r['bad']:>9}{r['sock']:>9}{r['rps'] / floor:>10.2f}")
errors = sum(r["bad"] + r["sock"] for r in rows.values())
ratio = rows["screen"]["rps"] / floor
ok = errors == 0 and ratio >= float(sys.argv[2])
print(f"errors: {errors}; POST /screen at {ratio:.0%} of the floor (target >= {float(sys.argv[2]):.0%}): {'OK' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PYEOF
