# The two commands of the README's quick start: `make run` and `make test`.
# Both install what they need first, so they work on a fresh clone.
.PHONY: install run test lint bench

install:
	bash scripts/install.sh

run: install
	.venv/bin/screening demo --serve

test: install
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

bench: install
	.venv/bin/python bench/screening_bench.py
	.venv/bin/python bench/matching_bench.py
	.venv/bin/python bench/api_bench.py
