"""Bulk import through the web against its direct floor, on SQLite and PostgreSQL.

What is measured. "web import": the 1,400-row portfolio (tests/data/collaborations_1400.csv)
uploaded to POST /portfolio/import by an international-office user of a fresh institution, until
the last row is screened: parse and validate, store the rows, then the outbox task screens,
versions, routes, audits and indexes them (Celery is eager in this embedded set-up, so all of it
runs inside the request, one transaction per chunk). "direct floor": the least any import does,
on the same database: parse and validate the same bytes, screen every row with the same
screener, insert the proposals and their versions with one multi-row INSERT each in one
transaction. Rounds are interleaved (web, floor, floor, web, ...) on both databases; medians are
printed, and the ratio is what counts on a shared machine. Finally 20,000 generated rows are
imported on PostgreSQL while another connection watches the job's progress.

Where the time went (cProfile, one web import of the 1,400 rows, on the shared two-core machine
while other suites ran; times are inflated by the profiler, the shares are what matter):

- Before (main at a4b98c1): 56.7 s on SQLite, 89.9 s on PostgreSQL under cProfile; without the
  profiler, medians of 3 rounds: SQLite 101.8 s against a floor of 5.1 s (20x), PostgreSQL
  124.5 s against 8.4 s (15x) at a load average of 10-12. Screening was 6.3 s of the 56.7 s
  (11 %) and parsing 2.2 s (4 %). The rest was per-row ORM work: 2,800 `workflow.transition`
  calls (35.6 s cumulative, each an ORM flush plus an audit event), 4,548 `audit.record` calls
  (33.9 s: per event a lock, a read of the chain's last row, an ORM insert and flush), 1,400
  `routing.open_case` calls (33.8 s; per row `ensure_setup` 7.8 s, the routing rules read again,
  the committee's members read again for each notice, 3.9 s), in total 8,764 ORM flushes
  (28.4 s) and 22,069 SQL statements for 1,400 rows.
- After: the chunk screens its rows in memory, then writes each table once: versions, the
  proposals' new status (one executemany UPDATE), cases (one multi-row INSERT ... RETURNING),
  audit events (hash chain computed in Python, `audit.record_many`), search facets. On
  PostgreSQL the plain inserts use COPY (`screening.core.bulk.insert_rows`). Under cProfile:
  SQLite 12.0 s, of which screening 4.1 s and parsing 1.5 s (the floor's own work, 48 %),
  `open_cases` 2.2 s, `audit.record_many` 1.1 s for 4,500 events. PostgreSQL with executemany
  (pipeline mode) everywhere: 22.8 s, of which screening 6.6 s, parsing 1.9 s and 8.1 s waiting
  for the server; with COPY for the versions, items, audit events and facets: 16.5 s, of which
  screening 4.4 s, parsing 1.9 s, storing the rows at upload 1.9 s, all COPYs together 2.0 s and
  `open_cases` 3.2 s, most of it its INSERT ... RETURNING, after which the cases went through
  COPY as well (their ids read back by proposal).

- The round after (December 2026, SQLite at 3.0-3.1x once the faster rules engine shrank the
  floor): timed per step over five imports, the web import spent beyond its floor's own work
  (parsing, screening, inserting proposals and versions) on the search facets with their count and
  FTS5 triggers (116-138 ms), the audit chain (88-106 ms for 4,500 events, of which hashing about
  half), opening the cases (67-80 ms), loading each chunk (about 77 ms), the facet summaries (48-58
  ms) and the status change (28-33 ms). Changed: the audit hash's canonical JSON is written by orjson
  where it is byte-for-byte json's (85 -> 47 ms for 4,500 events); SQLite's bulk rows go through one
  compiled INSERT with the column types' bind processors instead of SQLAlchemy's per-row parameter
  handling; the status change is one UPDATE over a JSON array (20 -> 12 ms per 500 rows); JSON
  columns are read by orjson where its values are json.loads' own. SQLite 3.0x -> 2.7-2.8x.
- The round after (December 2026): the engine got 12-15 % faster, which shrank the floor again
  (SQLite 2.9-3.0x for the same code, then 3.2x with the faster engine, three runs each). py-spy
  of the web import showed 7 % in SQLAlchemy's change tracking of the chunk's proposals' JSON
  data (a mutable JSON column wraps each loaded value and keeps weak references to its parents),
  read only to be screened: it is now loaded as plain rows beside the objects. Full garbage
  collections, which walk the screener's 200,000 objects (45 ms each), fell in either part of a
  round and moved the ratio both ways (a floor of 0.52 s instead of 0.35 s in one run): the
  installed screener is now frozen out of the collector's sight (``core.engine.install_screener``).
  SQLite 3.2x -> 2.5-2.6x (0.93-0.98 s / 0.36-0.39 s).

Figures of this version: see docs/portfolio.md ("Test data and figures").

    .venv/bin/python bench/import_bench.py [--rounds 5] [--large 20000] [--only sqlite|postgresql] [--profile]

SCREENING_BENCH_PG_URL names the PostgreSQL server (a schema of its own is created and dropped).
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "collaborations_1400.csv"
PG_URL = os.environ.get("SCREENING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Backend:
    """One migrated database and a web app on it; each import goes to a fresh institution."""

    def __init__(self, name: str, url: str):
        from screening import create_app
        from screening.core import migrations
        from screening.core.engine import get_screener
        from screening.core.extensions import db

        self.name = name
        self.app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                               "WTF_CSRF_ENABLED": False})
        migrations.upgrade(self.app)
        with self.app.app_context():
            self.engine = db.engine
            self.screener = get_screener()  # built once, as in a running server

    def office_client(self):
        """A test client logged in as the international office of a new institution."""
        from screening.accounts import service as accounts
        from screening.accounts.models import Membership, User
        from screening.core.extensions import db

        with self.app.app_context():
            inst = accounts.create_institution(db.session, None, f"bench-{uuid.uuid4().hex[:8]}", "Bench University")
            user = User(email=f"office-{uuid.uuid4().hex[:8]}@bench.example", name="Office", password_hash="x")
            db.session.add(user)
            db.session.flush()
            db.session.add(Membership(user_id=user.id, institution_id=inst.id, role="international_office"))
            token = accounts.start_session(db.session, user, inst.id)
            db.session.commit()
            ids = (inst.id, user.id)
        client = self.app.test_client()
        with client.session_transaction() as sess:
            sess["sid"] = token
        return client, ids

    def web_import(self, data: bytes, name: str = "collaborations.csv") -> float:
        """Seconds from the upload to the last row screened (eager Celery: all in the request)."""
        return self.watched_import(data, name, watch=False)[0]

    def watched_import(self, data: bytes, name: str = "collaborations.csv",
                       watch: bool = True) -> tuple[float, list[tuple[float, int]]]:
        """:meth:`web_import`, and the progress another connection saw meanwhile: (seconds, rows done) pairs.

        The watcher reads the job's row every 0.1 s (on PostgreSQL; on SQLite every transaction of
        the app takes the write lock, so a watcher would compete with the import for it).
        """
        client, (inst_id, user_id) = self.office_client()
        celery = self.app.extensions["celery"]  # each create_app makes its own Celery app the current one
        celery.set_current()
        celery.set_default()
        seen: list[tuple[float, int]] = []
        finished = threading.Event()
        started = time.perf_counter()

        def poll() -> None:
            query = sa.text("SELECT done FROM import_job WHERE institution_id = :i")
            while not finished.wait(0.1):
                with self.engine.connect() as conn:
                    done = conn.execute(query, {"i": inst_id}).scalar()
                if done is not None and (not seen or seen[-1][1] != done):
                    seen.append((time.perf_counter() - started, done))

        watcher = threading.Thread(target=poll)
        if watch:
            watcher.start()
        try:
            response = client.post("/portfolio/import", data={"file": (io.BytesIO(data), name),
                                                               "owner": str(user_id)},
                                   content_type="multipart/form-data")
            elapsed = time.perf_counter() - started
        finally:
            finished.set()
            if watch:
                watcher.join()
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        with self.engine.connect() as conn:
            status, done, total = conn.execute(sa.text(
                "SELECT status, done, total FROM import_job WHERE institution_id = :i"), {"i": inst_id}).one()
        assert (status, done) == ("done", total), (status, done, total)
        return elapsed, seen

    def direct_floor(self, data: bytes, name: str = "collaborations.csv") -> float:
        """Parse and validate, screen every row, insert proposals and their versions: the least any import does."""
        from screening.core.database import utcnow
        from screening.portfolio.import_parsing import parse_upload
        from screening.proposals.models import Proposal, ProposalVersion

        _client, (inst_id, user_id) = self.office_client()
        started = time.perf_counter()
        proposals = parse_upload(name, data).importable()
        results = [self.screener.screen(p, language="en") for p in proposals]
        now, tag = utcnow(), uuid.uuid4().hex[:8]
        screened = list(zip(proposals, results, strict=True))
        with self.engine.begin() as conn:
            ids = conn.execute(sa.insert(Proposal).returning(Proposal.id, sort_by_parameter_order=True), [
                {"institution_id": inst_id, "owner_id": user_id, "title": p["title"], "status": "in_review",
                 "data": p, "creation_token": f"floor-{tag}-{n}", "tier": r["tier"], "route": r["route"],
                 "created_at": now, "updated_at": now} for n, (p, r) in enumerate(screened)]).scalars()
            conn.execute(sa.insert(ProposalVersion), [
                {"proposal_id": pid, "institution_id": inst_id, "number": 1, "submission_token": f"floor-{tag}-{pid}",
                 "submitted_by_id": user_id, "submitted_at": now, "proposal_json": p, "result_json": r,
                 "language": "en", "tier": r["tier"], "route": r["route"], "ruleset_version": r["ruleset_version"],
                 "ruleset_hash": r.get("ruleset_hash"), "lists_json": r.get("lists", [])}
                for pid, p, r in zip(ids.all(), proposals, results, strict=True)])
        return time.perf_counter() - started

    def profile_import(self, data: bytes, top: int = 25) -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        elapsed = self.web_import(data)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"screening/|rules/", top)
        stats.sort_stats("tottime").print_stats(top)
        print(f"[{self.name}] profiled web import: {elapsed:.2f} s (under cProfile)\n{out.getvalue()}")

    def close(self) -> None:
        from screening.core.extensions import db

        with self.app.app_context():
            for engine in db.engines.values():
                engine.dispose()


@contextmanager
def postgres_schema():
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def large_fixture(rows: int) -> bytes:
    from bench.make_collaborations import main as make

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "large.csv"
        make(["--rows", str(rows), "--out", str(out)])
        return out.read_bytes()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--large", type=int, default=20000, help="rows of the PostgreSQL-only large import (0: skip)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--profile", action="store_true", help="cProfile one web import per backend, then stop")
    args = parser.parse_args(argv)
    data = FIXTURE.read_bytes()
    with ExitStack() as stack:
        backends = []
        if args.only != "postgresql":
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            backends.append(Backend("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}"))
        if args.only != "sqlite":
            backends.append(Backend("postgresql", stack.enter_context(postgres_schema())))
        for backend in backends:
            stack.callback(backend.close)
        if args.profile:
            for backend in backends:
                backend.profile_import(data)
            return
        for backend in backends:  # warm-up: caches, first-use imports, the JIT of the database's plans
            backend.web_import(data)
            backend.direct_floor(data)
        times = {(b.name, kind): [] for b in backends for kind in ("web", "floor")}
        for round_number in range(args.rounds):
            for backend in backends if round_number % 2 == 0 else reversed(backends):
                order = ("web", "floor") if round_number % 2 == 0 else ("floor", "web")
                for kind in order:
                    run = backend.web_import if kind == "web" else backend.direct_floor
                    times[(backend.name, kind)].append(run(data))
        print(f"1,400-row import, medians of {args.rounds} interleaved rounds:")
        for backend in backends:
            web, floor = (statistics.median(times[(backend.name, k)]) for k in ("web", "floor"))
            print(f"  {backend.name:<10} web import {web:6.2f} s   direct floor {floor:5.2f} s   "
                  f"ratio {web / floor:4.1f}x   (target <= 3x)")
        large = [b for b in backends if b.name == "postgresql"]
        if args.large and large:
            big = large_fixture(args.large)
            elapsed, seen = large[0].watched_import(big)
            gaps = [later[0] - earlier[0] for earlier, later in zip([(0.0, 0), *seen], seen, strict=False)]
            print(f"  postgresql {args.large:,}-row web import {elapsed:.1f} s (target < 30 s); progress seen by "
                  f"another connection {len(seen)} times, first after {seen[0][0]:.1f} s, "
                  f"at most {max(gaps):.1f} s apart")

if __name__ == "__main__":
    main()
