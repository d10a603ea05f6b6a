# The two commands of the README's quick start: `make run` and `make test`.
# Both install what they need first, so they work on a fresh clone.
.PHONY: install run test lint bench bench-million

install:
	bash scripts/install.sh

run: install
	.venv/bin/screening demo --serve

test: install
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

# The portfolio bench seeds 100,000 proposals on PostgreSQL (SCREENING_BENCH_PG_URL) and SQLite;
# `make bench-million` is the opt-in run at 1,000,000 (PostgreSQL, about half an hour).
bench: install
	.venv/bin/python bench/screening_bench.py
	.venv/bin/python bench/matching_bench.py
	.venv/bin/python bench/pdf_bench.py
	.venv/bin/python bench/import_bench.py
	.venv/bin/python bench/portfolio_bench.py
	.venv/bin/python bench/api_bench.py

bench-million: install
	.venv/bin/python bench/portfolio_bench.py --million
