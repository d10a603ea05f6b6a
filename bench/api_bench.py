"""POST /api/v1/screen against a bare Flask POST route, both under the production recipe.

Both run at once under gunicorn with the production recipe (2 gthread workers x 4 threads, the
operations config, PostgreSQL + Redis): (a) ``bench/api_floor.py``, a Flask route that parses the
JSON body and answers a JSON document of the screening result's size, and (b) the real app's
``POST /api/v1/screen`` with a valid token and 500 varied proposals (``screening_bench``'s
generator, 1-5 partners). A load generator of this file (kept-alive connections, threads in two
processes; no wrk on these machines) drives them in interleaved rounds and prints requests/s, the
ratio (median of the per-round ratios), the workers' CPU time per request (steadier than requests/s
on a shared machine), the error count, and how long a revoked token was still served by any worker.

Where the time went (December 2026, 2 cores shared with other engineers' test runs, load 6-17):

- cProfile of one worker with one thread under gunicorn, before this work, steady state per
  request: screening 31 %, authentication 18 % (a token cache miss is a 3-table query; the lease
  of the per-token rate limit is one Redis call in 16), the access log line and request metrics
  12 %, security headers 5 %, request context with the session cookie 8 %, the rest werkzeug.
- Per call, measured in-process (loaded machine): the JSON access log line 201 us -> 97 us
  (orjson instead of ``json.dumps``), request metrics 49 -> 23 us (the labelled children looked up
  once instead of ``labels()`` each time), security headers 138 -> 35 us (appended instead of
  werkzeug's search-and-replace for each). Under ``/api/`` the session cookie is no longer opened
  or saved (no ``Vary: Cookie``); the token cache answers without the database or Redis.
- In-process with the test client, CPU per request over 200 varied proposals (best of 3, two
  interleaved runs): the app 1.30 / 1.03 ms before, 1.10 / 0.86 ms after; the floor 0.24-0.40 ms;
  the screening alone (engine + orjson) 0.22-0.34 ms.
- Under gunicorn: the floor costs 0.51-0.56 ms of worker CPU per request (gunicorn's gthread
  worker and Flask); ``/screen`` 2.3 ms before, 1.3-1.8 ms after. Requests/s ratio before 0.14
  (rounds 0.15, 0.11, 0.14), after 0.28 (rounds 0.28, 0.44, 0.11); by CPU per request 0.24 before,
  0.29 after. The rounds swing with the other work on the machine.
- The screening of a varied proposal alone costs about half the floor's whole request, so even
  with no machinery at all the ratio by CPU would be about 0.52 / (0.52 + 0.28) = 0.65: the 0.6
  target leaves the API ~0.05 ms per request for authentication, limits, logs and metrics.
- Revocation: a revoked token was served by some worker up to 73-152 ms after the commit (the
  refresh interval is 0.25 s; ``tests/web/test_api_token_cache.py`` holds it under 1 s).

On a quiet machine (load average about 1, December 2026), three runs: ratio 0.33 (rounds 0.33,
0.34, 0.32), 0.39 (0.32, 0.41, 0.39) and, with 1 thread per worker instead of 4, 0.39; worker CPU
per request 0.91-1.05 ms for ``/screen`` against 0.28-0.33 ms for the floor. Where it goes:

- In-process, the WSGI app called directly with the same bodies (no server): the floor 0.07-0.09
  ms, ``/screen`` 0.48-0.60 ms, the screening alone (engine + orjson) 0.16-0.19 ms. Per hook (CPU,
  thread time): token authentication with the rate-limit lease 54 us, the access log line and
  request metrics 61 us, the request id 13 us, input checks 10 us, CSRF and session hooks 9 us,
  security headers 12 us, request context 20 us; the view besides the screening (JSON in and out,
  response) 54 us.
- Under gunicorn (py-spy, samples holding the GIL): the app 79 % (the screening 30 %, the access log
  11 %, the before-request hooks 11 %), gunicorn's request parsing and writing 15 %. CPU is user time
  (0.88 of 0.98 ms); the floor's 0.31 ms splits into 0.26 user and 0.05 system.
- Hence the arithmetic then: gunicorn alone costs about 0.25 ms of the floor's 0.31 ms, and the
  screening of a varied proposal 0.16-0.30 ms (more under the server than in a tight loop). With
  Flask's request cycle kept, even no hooks at all would leave ``/screen`` near 0.53 of the floor.

The round after (December 2026, quiet machine) therefore left Flask's cycle out of the plain case:

- ``screening/api/lean_screen.py`` answers ``POST /api/v1/screen`` with a cached token and a JSON
  body as a WSGI middleware, with the route's body, headers, log line and metrics; everything else
  goes to the route. A prototype that did only token, limit, screening and JSON reached 0.55: the
  0.6 needed the machinery left to cost next to nothing.
- In-process per call: the app 0.44 -> 0.19 ms (the floor 0.07, the screening with orjson 0.10-0.12).
  The access-log line was then the largest piece: 16 us as a log record, 54 us of worker time under
  gunicorn (11 % of ``/screen``; with the log level at WARNING the ratio was 0.66 against 0.59 in
  the same minute). It is now written straight to production's one JSON handler (8.6 us in-process).
  No app context is pushed (5 us); request ids come from ``os.urandom`` (2.5 -> 0.6 us); a lease
  holds up to 64 calls of a high per-token limit instead of 16 (a Redis call every 64th request).
- Ratio, three rounds each: 0.36 before; 0.50 with the lean path; 0.56 without the app context and
  with larger leases; with the direct log line 0.62, 0.60, 0.60, 0.61, 0.59, 0.60, 0.57 in seven
  runs (worker CPU 0.41-0.55 ms against the floor's 0.24-0.32). Under gunicorn the screening is now
  35 % of ``/screen``'s worker time, gunicorn's parsing and writing about 30 %, the log line 6 %,
  the JSON answer 5 %. In-process, the lean path besides the screening costs about what the
  floor's whole Flask request does, so the ratio now follows the engine: it would need about a
  quarter less time per varied proposal (0.1 ms in a tight loop) to hold 0.65.

The round after that (December 2026, quiet machine) made the engine cheaper. py-spy of a worker
(samples holding the GIL) had the screening at 38 % of ``/screen``, the access line at 7 %; in a
tight loop over the 500 bench proposals the screening's time split into facts 45 % (merging a
partner's listings 18 %), rule firing 27 % (building flags 18 %), validation 20 %. Changed, each
checked byte for byte on 6,018 screenings:

- each rule's flag is built by one generated function per language (``flag_builder``): title,
  explanation, evidence and cited sources read the facts' common prefixes once;
- a partner's listings merge without copying the lead listing, the evidence rows are dict
  displays, the project's area sets are made once per proposal;
- combinations read each category's most severe flag (one pass over the flags);
- ``screened_at`` is formatted once a second (3.4 % of the screening before);
- the hidden-character check searches the proposal's JSON bytes for the four bytes those
  characters begin with before running its pattern (5 % before);
- keyword hints skip words that start no phrase with two lookups;
- the access line no longer asks Celery for a current task (an answer is written after its view).

Per proposal in a tight loop, best of 15, alternating old and new: 75-81 us -> 65-67 us (-15 %);
``bench/screening_bench.py`` 10,400-10,500 -> 14,300-14,700 proposals/s. Ratio 0.66 (rounds 0.66,
0.64, 0.70) and 0.67 (0.65, 0.70, 0.67) standalone, worker CPU 0.49-0.50 ms against the floor's
0.32 ms.

    .venv/bin/python bench/api_bench.py [--rounds 3] [--seconds 4] [--connections 16]

Needs PostgreSQL and Redis: ``BENCH_DATABASE_URL`` (else ``SCREENING_TEST_DATABASE_URL``, else
postgresql+psycopg://root@127.0.0.1:5432/root) and ``BENCH_REDIS_URL`` (else
``SCREENING_TEST_REDIS_URL``, else redis://127.0.0.1:6379/15). The bench works in a schema of its
own, dropped afterwards. Exit 1 when an answer is not 2xx, a socket fails, /screen is below
``--min-ratio`` of the floor or a revoked token is served for longer than ``--max-revocation``.
"""

import argparse
import multiprocessing
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import orjson
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BIN = Path(sys.executable).parent
PROPOSALS = 500
GUNICORN_THREADS = 4
_CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


# ----------------------------------------------------------------- load generator

def _read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 answer with a Content-Length body: (status, bytes of the next answer read early)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = int(_CONTENT_LENGTH.search(head).group(1))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        rest += chunk
    return int(head[9:12]), rest[length:]


def _connection(port: int, requests: list[bytes], start: int, deadline: float, counts: list[int]) -> None:
    """Send requests over one kept-alive connection until ``deadline``; counts = [ok, failed]."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        counts[1] += 1
        return
    buffer, index = b"", start
    with sock:
        while time.perf_counter() < deadline:
            try:
                sock.sendall(requests[index % len(requests)])
                status, buffer = _read_response(sock, buffer)
            except (OSError, ConnectionError, AttributeError, ValueError):
                counts[1] += 1
                return
            counts[0 if 200 <= status < 300 else 1] += 1
            index += 1


def _load_process(job: tuple[int, list[bytes], int, float, int]) -> tuple[int, int]:
    port, requests, connections, seconds, offset = job
    deadline = time.perf_counter() + seconds
    counts = [[0, 0] for _ in range(connections)]
    threads = [threading.Thread(target=_connection, args=(port, requests, offset + 97 * i, deadline, counts[i]))
               for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def encode_requests(path: str, token: str, bodies: list[bytes]) -> list[bytes]:
    return [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            for body in bodies]


# ----------------------------------------------------------------- servers

def worker_cpu_seconds(master: subprocess.Popen) -> float:
    """User + system CPU time used so far by the gunicorn master's workers."""
    total = 0
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    """The production recipe (docs/operations.md): 2 gthread workers, the operations config."""
    with log.open("w") as out:
        return subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:screening.operations.gunicorn_config", "--workers", "2",
             "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS), "--reuse-port", "--keep-alive", "30",
             "--timeout", "60", "--backlog", "2048", "--bind", f"127.0.0.1:{port}", app],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def wait_until_serving(port: int, request: bytes, proc: subprocess.Popen, log: Path) -> None:
    """Until several requests at once (so both workers, each building its screener once) answer fast."""

    def answer() -> tuple[int, float]:
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=180) as sock:
            sock.sendall(request)
            status, _ = _read_response(sock, b"")
        return status, time.perf_counter() - started

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: answer(), range(8)))
        except OSError:
            time.sleep(0.2)
            continue
        if any(status != 200 for status, _ in answers):
            sys.exit(f"warm-up answered {[s for s, _ in answers]}: {log.read_text()[-2000:]}")
        if max(seconds for _, seconds in answers) < 0.5:
            return
    sys.exit(f"gunicorn did not answer on port {port} within 300 s")


@contextmanager
def scratch_schema(database_url: str):
    """A schema of the bench's own in ``database_url``, dropped afterwards; yields its URL."""
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    sep = "&" if "?" in database_url else "?"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
        finally:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


# ----------------------------------------------------------------- revocation

def revocation_delay(port: int, token: str, body: bytes, connections: int) -> float:
    """Seconds from the commit of a revocation to the last request sent after it that was still served.

    ``connections`` kept-alive connections (spread over both workers by the kernel) keep using the
    token, so every worker holds it in its cache; then the token is revoked through the service
    in this process, as the token page does.
    """
    from screening import create_app
    from screening.accounts.models import User
    from screening.accounts.service import Actor, roles_in
    from screening.api import tokens
    from screening.api.models import ApiToken
    from screening.core.extensions import db

    app = create_app()
    request = encode_requests("/api/v1/screen", token, [body])[0]
    served_after: list[float] = []
    revoked_at: list[float] = []
    stop = time.perf_counter() + 4.0

    def use_token() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            buffer = b""
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                sock.sendall(request)
                status, buffer = _read_response(sock, buffer)
                if status == 200 and revoked_at and sent > revoked_at[0]:
                    served_after.append(sent - revoked_at[0])
                time.sleep(0.005)

    threads = [threading.Thread(target=use_token) for _ in range(connections)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    with app.app_context():
        row = db.session.exec(sa.select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(token))).scalar_one()
        user = db.session.get(User, row.user_id)
        tokens.revoke(db.session, Actor(user=user, institution_id=row.institution_id,
                                        roles=roles_in(db.session, user, row.institution_id)), row.id)
        db.session.commit()
        revoked_at.append(time.perf_counter())
    for thread in threads:
        thread.join()
    return max(served_after, default=0.0)


# ----------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="per target and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--min-ratio", type=float, default=0.6)
    parser.add_argument("--max-revocation", type=float, default=1.0, help="seconds")
    args = parser.parse_args()
    database_url = (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("SCREENING_TEST_DATABASE_URL")
                    or "postgresql+psycopg://root@127.0.0.1:5432/root")
    redis_url = (os.environ.get("BENCH_REDIS_URL") or os.environ.get("SCREENING_TEST_REDIS_URL")
                 or "redis://127.0.0.1:6379/15")

    from screening_bench import make_proposals

    from rules import Screener

    bodies = [orjson.dumps(p) for p in make_proposals(PROPOSALS, Screener.default())]
    with scratch_schema(database_url) as schema_url:
        env = {**os.environ, "SCREENING_ENV": "production", "SCREENING_SECRET_KEY": secrets.token_hex(32),
               "SCREENING_DATABASE_URL": schema_url, "SCREENING_REDIS_URL": redis_url,
               "SCREENING_API_RATE_LIMIT": "[100000000, 60]", "PYTHONPATH": str(ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        os.environ.update({k: v for k, v in env.items() if k.startswith("SCREENING_")})
        subprocess.run([str(BIN / "screening"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        seeded = subprocess.run([sys.executable, str(ROOT / "bench" / "api_seed.py"), "2"], env=env, cwd=ROOT,
                                check=True, capture_output=True, text=True)
        token, second_token = seeded.stdout.split()
        return run(args, env, bodies, token, second_token)


def run(args, env: dict, bodies: list[bytes], token: str, second_token: str) -> int:
    import tempfile

    logs = Path(tempfile.mkdtemp(prefix="api-bench-"))
    targets = {
        "floor": ("bench.api_floor:app", "/screen"),
        "screen": ("wsgi:app", "/api/v1/screen"),
    }
    servers, requests = {}, {}
    try:
        for name, (module, path) in targets.items():
            port = free_port()
            servers[name] = (port, start_gunicorn(module, port, env, logs / f"{name}.log"))
            requests[name] = encode_requests(path, token, bodies)
        for name, (port, proc) in servers.items():
            wait_until_serving(port, requests[name][0], proc, logs / f"{name}.log")
        rates: dict[str, list[float]] = {name: [] for name in targets}
        cpu: dict[str, list[float]] = {name: [] for name in targets}
        errors = 0
        processes = 2
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for round_ in range(args.rounds + 1):  # round 0 warms both servers up and is not counted
                order = list(targets) if round_ % 2 else list(reversed(targets))
                for name in order:
                    port, proc = servers[name]
                    cpu_before = worker_cpu_seconds(proc)
                    started = time.perf_counter()
                    seconds = args.seconds if round_ else 1.0
                    jobs = [(port, requests[name], args.connections // processes, seconds, 1000 * i)
                            for i in range(processes)]
                    results = pool.map(_load_process, jobs)
                    elapsed = time.perf_counter() - started
                    ok, failed = sum(r[0] for r in results), sum(r[1] for r in results)
                    if round_:
                        rates[name].append(ok / elapsed)
                        cpu[name].append((worker_cpu_seconds(proc) - cpu_before) * 1000 / max(ok, 1))
                        errors += failed
                        print(f"round {round_} {name:<7} {ok / elapsed:8.1f} requests/s  {failed} errors", flush=True)
        delay = revocation_delay(servers["screen"][0], second_token, bodies[0], connections=8)
    finally:
        for _, proc in servers.values():
            proc.terminate()
        for _, proc in servers.values():
            proc.wait(timeout=30)

    floor, screen = statistics.median(rates["floor"]), statistics.median(rates["screen"])
    floor_cpu, screen_cpu = statistics.median(cpu["floor"]), statistics.median(cpu["screen"])
    ratios = [s / f for s, f in zip(rates["screen"], rates["floor"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"gunicorn 2 gthread workers x {GUNICORN_THREADS} threads (production recipe), PostgreSQL + Redis; "
          f"{args.connections} kept-alive connections, {PROPOSALS} varied proposals, {args.rounds} interleaved "
          f"rounds of {args.seconds:g} s")
    print(f"floor  (bare Flask POST route)  {floor:8.1f} requests/s  {floor_cpu:6.3f} CPU ms/request")
    print(f"POST /api/v1/screen             {screen:8.1f} requests/s  {screen_cpu:6.3f} CPU ms/request")
    print(f"ratio /screen : floor  {ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"by CPU per request {floor_cpu / screen_cpu:.2f})")
    print(f"errors {errors}; revoked token served up to {delay * 1000:.0f} ms after the revocation's commit")
    ok = errors == 0 and ratio >= args.min_ratio and delay <= args.max_revocation
    print(f"target: ratio >= {args.min_ratio:.2f}, 0 errors, revocation <= {args.max_revocation:g} s: "
          f"{'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
