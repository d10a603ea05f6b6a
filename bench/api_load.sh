#!/usr/bin/env bash
# Load test of the JSON API: gunicorn (2 gthread workers) on 127.0.0.1 with PostgreSQL and Redis,
# wrk against POST /api/v1/screen (a researcher's token), GET /api/v1/portfolio (the international
# office's portfolio query, its token), GET /api/v1/proposals and the floor GET /api/v1/ping (a
# trivial route of the same app and server). Prints requests/s, p50, p99, the workers' CPU time per
# request and ratios to the floor; fails (exit 1) on any non-2xx answer or socket error (connect,
# read, write, timeout), or when /screen is below 50% of the floor's requests/s.
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
THREADS=${THREADS:-4}                  # per gunicorn worker (2 workers)
# wrk connections. gunicorn spreads kept-alive connections over its workers only when there are
# many: each worker has its own listening socket (--reuse-port) and the kernel hashes connections
# onto them, so with 32 both workers get a fair share (with 8 and one shared socket, all of them
# often landed on one worker, which then served every request with one CPU while the other idled).
CONNECTIONS=${CONNECTIONS:-32}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}        # a reply slower than this counts as a socket error
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
{ read -r TOKEN; read -r OFFICE_TOKEN; } < <("$PY" bench/api_seed.py 200)
export TOKEN

# Keep-alive well above any pause between the warm-up and the wrk runs, so that gunicorn never
# closes a connection wrk is about to reuse (a "read" socket error); the worker timeout well above
# any stall of this shared machine.
.venv/bin/gunicorn --workers 2 --worker-class gthread --threads "$THREADS" --bind "127.0.0.1:$PORT" \
  --keep-alive 30 --timeout 60 --backlog 2048 --reuse-port --log-level warning wsgi:app &
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
  curl -fsS "$BASE/api/v1/portfolio?limit=50" -H "Authorization: Bearer $OFFICE_TOKEN" >/dev/null
  curl -fsS "$BASE/api/v1/screen" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    -d '{"title": "Warm up", "research_fields": ["1.5"], "partners": [{"name": "DTU", "country": "DK"}]}' >/dev/null
done

worker_ticks() {  # CPU clock ticks (user + system) used so far by each gunicorn worker, space-separated
  local pid
  for pid in $(pgrep -P "$GUNICORN_PID" | sort -n); do
    echo -n "$(awk '{print $14 + $15}' "/proc/$pid/stat") "
  done
}

run() {  # name, wrk arguments...
  local name=$1; shift
  local before after
  before=$(worker_ticks)
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency "$@" >"$WORK/$name.txt"
  after=$(worker_ticks)
  "$PY" - "$name" "$WORK/$name.txt" "$before" "$after" "$(getconf CLK_TCK)" >>"$WORK/results.tsv" <<'PYEOF'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
used = [int(b) - int(a) for a, b in zip(sys.argv[3].split(), sys.argv[4].split(), strict=True)]
cpu_ms = sum(used) * 1000 / int(sys.argv[5])
share = min(used) / max(sum(used), 1)  # the less busy worker's share of the CPU time: 50% = even
def ms(label):
    m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
kinds = dict((k, int(v)) for k, v in re.findall(r"(connect|read|write|timeout) (\d+)",
                                                  text.split("Socket errors:")[1].splitlines()[0])) \
    if "Socket errors:" in text else {}
sock = sum(kinds.values())
if sock:
    sys.stderr.write(f"{name}: socket errors {kinds}\n")
print(f"{name}\t{rps:.1f}\t{ms('50'):.2f}\t{ms('99'):.2f}\t{total}\t{bad}\t{sock}\t{cpu_ms / max(total, 1):.3f}"
      f"\t{share:.2f}")
PYEOF
}

: >"$WORK/results.tsv"
run floor "$BASE/api/v1/ping"
run screen -s bench/api_screen.lua "$BASE/api/v1/screen"
run portfolio -H "Authorization: Bearer $OFFICE_TOKEN" "$BASE/api/v1/portfolio?limit=50"
run proposals -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/proposals?limit=20"

"$PY" - "$WORK/results.tsv" "$MIN_RATIO" "$DURATION" "$CONNECTIONS" "$THREADS" <<'PYEOF'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, total, bad, sock, cpu, share = line.split("\t")
    rows[name] = dict(rps=float(rps), p50=float(p50), p99=float(p99), total=int(total), bad=int(bad),
                      sock=int(sock), cpu=float(cpu), share=float(share))
floor = rows["floor"]
print(f"gunicorn 2 gthread workers x {sys.argv[5]} threads, PostgreSQL + Redis, "
      f"wrk 2 threads x {sys.argv[4]} connections, {sys.argv[3]} each")
print(f"{'endpoint':<32}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'requests':>10}{'non-2xx':>8}{'sock err':>9}"
      f"{'vs floor':>9}{'cpu ms/req':>11}{'cpu vs floor':>13}{'split':>7}")
labels = {"floor": "GET /api/v1/ping (floor)", "screen": "POST /api/v1/screen",
          "portfolio": "GET /api/v1/portfolio?limit=50", "proposals": "GET /api/v1/proposals"}
for name, r in rows.items():
    cpu_ratio = floor["cpu"] / r["cpu"] if r["cpu"] else float("nan")
    print(f"{labels[name]:<32}{r['rps']:>9.1f}{r['p50']:>8.2f}{r['p99']:>8.2f}{r['total']:>10}{r['bad']:>8}"
          f"{r['sock']:>9}{r['rps'] / floor['rps']:>9.2f}{r['cpu']:>11.3f}{cpu_ratio:>13.2f}"
          f"{r['share']:>7.0%}")
print("(cpu ms/req: user + system time of the gunicorn workers over the run / requests; "
      "cpu vs floor: the floor's cpu per request / this one's, a load-independent ratio; "
      "split: the less busy worker's share of that CPU time, 50% = both workers equally busy)")
errors = sum(r["bad"] + r["sock"] for r in rows.values())
empty = [name for name, r in rows.items() if r["total"] == 0]
ratio = rows["screen"]["rps"] / floor["rps"]
ok = errors == 0 and not empty and ratio >= float(sys.argv[2])
print(f"errors: {errors}; POST /screen at {ratio:.0%} of the floor (target >= {float(sys.argv[2]):.0%}): "
      f"{'OK' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PYEOF
