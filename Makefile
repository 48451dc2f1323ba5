# Everything a fresh machine with Python 3.11+ needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: demo test test-fast serve bench lint migrate seed clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# auto: the replay measures the stack for a few seconds and takes the largest scale this
# machine replays at its planned peak (a number, e.g. DOUBLE11_SCALE=0.001, fixes it).
DOUBLE11_SCALE ?= auto

demo: $(STAMP)
	$(BIN)/python manage.py double11 --scale $(DOUBLE11_SCALE)

serve: $(STAMP)
	$(BIN)/python manage.py serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The edit loop: everything but the tests marked slow (processes, seconds) and the browser,
# on one pytest-xdist worker per core (each with its own database and embedded Redis).
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto -m "not slow and not browser"

# Uses wrk as the load generator where it is installed (apt-get install wrk), else gevent's,
# which costs the shared cores several times more per request (BENCHMARKS.md).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/flashsale_bench

bench: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} $(BIN)/python manage.py bench

lint: $(STAMP)
	$(BIN)/ruff check .

migrate: $(STAMP)
	$(BIN)/python manage.py migrate

seed: $(STAMP)
	$(BIN)/python manage.py seed

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3
