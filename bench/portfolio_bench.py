"""Portfolio and dashboard timing at 100,000 proposals (2 institutions), on PostgreSQL and SQLite.

Seeds proposals and their search facets with multi-row INSERT batches (not the ORM per row),
then measures through the Flask test client, logged in as an international-office user:

- the portfolio's first page, and the page filtered by partner country + tier;
- the dashboard (all aggregates and the SVG charts).

PostgreSQL runs in a schema of its own, created and dropped here. Targets (PostgreSQL): p95 at
most 150 ms for the portfolio page, 300 ms for the dashboard.

    .venv/bin/python bench/portfolio_bench.py [--proposals 100000] [--runs 30] [--only sqlite|postgresql]
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_URL = os.environ.get("SCREENING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COUNTRIES = ["CN"] * 40 + ["US"] * 15 + ["FR"] * 10 + ["RU"] * 6 + ["JP"] * 8 + ["IR"] * 3 + ["GB"] * 8 + \
    ["NL"] * 5 + ["IN"] * 5
TIERS = ["low"] * 45 + ["medium"] * 30 + ["high"] * 18 + ["critical"] * 7
STATUSES = ["fast_tracked"] * 45 + ["in_review"] * 25 + ["decided"] * 22 + ["information_requested"] * 5 + \
    ["withdrawn"] * 3
FIELDS = ["1.2", "1.3", "1.4", "1.5", "2.2", "2.3", "2.5", "2.10", "3.1", "3.2", "5.2", "6.1"]
CATEGORIES = ["partner", "country", "field", "funding", "data_transfer", "export_control"]
SEVERITIES = ["info", "low", "medium", "high", "critical"]
LISTED = ["Harbin Institute of Technology", "Beihang University", "Northwestern Polytechnical University",
          "National University of Defense Technology", "Sharif University of Technology"]


def seed(engine, n: int) -> dict:
    from screening.models import Institution, Membership, Proposal, User
    from screening.portfolio_models import ProposalField, ProposalFlag, ProposalPartner, ProposalScreening
    from screening.services.accounts import hash_password

    rnd = random.Random(1)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        insts = []
        for slug in ("bench-a", "bench-b"):
            insts.append(conn.execute(sa.insert(Institution.__table__).values(
                slug=slug, name=slug.upper(), created_at=now).returning(Institution.__table__.c.id)).scalar_one())
        pw = hash_password("bench-password-123")
        users = {}
        for inst in insts:
            for role in ("researcher", "international_office"):
                uid = conn.execute(sa.insert(User.__table__).values(
                    email=f"{role}-{inst}@bench.example", name=f"{role} {inst}", password_hash=pw, is_active=True,
                    multi_institution=False, created_at=now).returning(User.__table__.c.id)).scalar_one()
                conn.execute(sa.insert(Membership.__table__).values(user_id=uid, institution_id=inst, role=role))
                users[(inst, role)] = uid
        batch = 5000
        pid = 0
        for start in range(0, n, batch):
            proposals, partners, fields, flags, screenings = [], [], [], [], []
            for _ in range(min(batch, n - start)):
                pid += 1
                inst = insts[pid % 2]
                tier = rnd.choice(TIERS)
                created = now - timedelta(days=rnd.randint(0, 1500), seconds=rnd.randint(0, 86400))
                proposals.append({"id": pid, "institution_id": inst, "owner_id": users[(inst, "researcher")],
                                  "title": f"Collaboration {pid} on topic {rnd.randint(1, 5000)}",
                                  "status": rnd.choice(STATUSES), "data": {}, "tier": tier,
                                  "route": "fast_track" if tier == "low" else "committee",
                                  "created_at": created, "updated_at": created})
                for pos in range(rnd.choice([1, 1, 1, 2, 3])):
                    listed = rnd.choice(LISTED) if rnd.random() < 0.08 else None
                    partners.append({"proposal_id": pid, "institution_id": inst, "position": pos,
                                     "name": listed or f"University {rnd.randint(1, 3000)}",
                                     "country": "CN" if listed else rnd.choice(COUNTRIES), "listed_entry": listed})
                for code in set(rnd.sample(FIELDS, rnd.choice([1, 1, 2]))):
                    fields.append({"proposal_id": pid, "institution_id": inst, "code": code})
                for cat in rnd.sample(CATEGORIES, rnd.randint(0, 3)):
                    flags.append({"proposal_id": pid, "institution_id": inst, "category": cat,
                                  "max_severity": rnd.choice(SEVERITIES), "count": 1})
                screenings.append({"proposal_id": pid, "institution_id": inst, "version_number": 1,
                                   "screened_at": created, "tier": tier, "flag_keys": [], "flags": [], "lists": [],
                                   "ruleset_version": "bench", "ruleset_hash": None, "cause": "bench"})
            conn.execute(sa.insert(Proposal.__table__), proposals)
            conn.execute(sa.insert(ProposalPartner.__table__), partners)
            conn.execute(sa.insert(ProposalField.__table__), fields)
            conn.execute(sa.insert(ProposalFlag.__table__), flags)
            conn.execute(sa.insert(ProposalScreening.__table__), screenings)
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('proposal', 'id'), :n)"), {"n": pid})
            conn.execute(sa.text("ANALYZE"))
        else:
            conn.execute(sa.text("ANALYZE"))
    return {"office": users[(insts[0], "international_office")], "inst": insts[0]}


def measure(client, url: str, runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs + 2):
        started = time.perf_counter()
        r = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert r.status_code == 200, (url, r.status_code)
        if i >= 2:  # two warm-up requests
            times.append(elapsed)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)]


def run(backend: str, url: str, n: int, runs: int) -> None:
    from screening import create_app
    from screening import db as migrations
    from screening.extensions import db
    from screening.models import User
    from screening.services import accounts

    app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                      "WTF_CSRF_ENABLED": False})
    migrations.upgrade(app)
    with app.app_context():
        engine = db.engine
    started = time.perf_counter()
    ids = seed(engine, n)
    print(f"[{backend}] seeded {n:,} proposals in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    with app.app_context():
        user = db.session.get(User, ids["office"])
        token = accounts.start_session(db.session, user, ids["inst"])
        db.session.commit()
    with client.session_transaction() as sess:
        sess["sid"] = token
    for label, path, target in (
        ("portfolio, first page", "/portfolio/", 150),
        ("portfolio, country=CN + tier=high", "/portfolio/?country=CN&tier=high", 150),
        ("portfolio, free text 'topic 42'", "/portfolio/?q=topic+42", 150),
        ("dashboard (aggregates + SVG)", "/portfolio/dashboard", 300),
    ):
        p50, p95 = measure(client, path, runs)
        print(f"[{backend}] {label:<36} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (target p95 ≤ {target} ms)")
    with app.app_context():
        for eng in db.engines.values():
            eng.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "sqlite":
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in PG_URL else "?"
            run("postgresql", f"{PG_URL}{sep}options=-csearch_path%3D{schema}", args.proposals, args.runs)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.proposals, args.runs)


if __name__ == "__main__":
    main()
