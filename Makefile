# docs-proxy: `make run` serves docs, `make test` runs every test. Both build .venv themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help run publish reset test test-unit test-fast lint bench system-deps settings-doc clean
.DEFAULT_GOAL := help

## help: this list (the default target)
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

$(VENV)/.core: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# moto's server, for make run's embedded S3 endpoint only: production installs never need it.
$(VENV)/.embedded: $(VENV)/.core requirements-embedded.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-embedded.txt
	touch $@

$(VENV)/.test: $(VENV)/.core requirements-test.txt requirements-embedded.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

## run: serve docs at http://127.0.0.1:8000/docs/ (with S3_BUCKET unset: a local S3 bucket of sample projects)
## run SRC=build/html [PROJECT=preview VERSION=1.0]: publish your build into the local bucket and serve it
run: $(VENV)/.core
	@if [ -z "$$S3_BUCKET" ]; then $(MAKE) --no-print-directory --silent $(VENV)/.embedded; fi
	$(PY) -m app.devserver $(if $(SRC),--src "$(SRC)") $(if $(PROJECT),--project "$(PROJECT)") $(if $(VERSION),--version "$(VERSION)")

## system-deps: Debian packages the tests need (tests/system-deps.sh); installed when missing and root
system-deps:
	bash tests/system-deps.sh

## test: install what the tests need, lint, then run all of them (two pytest-xdist workers: most tests wait on servers)
test: $(VENV)/.test system-deps lint
	$(PY) -m pytest -n 2

## test-unit: lint, then the tests that start no real server (no moto server, gunicorn, nginx, Chromium): under 2 minutes
test-unit: $(VENV)/.test lint
	$(PY) -m pytest -n 2 -m "not server"

## lint: ruff (pinned in requirements-test.txt) with the rules in ruff.toml
lint: $(VENV)/.test
	$(VENV)/bin/ruff check .

## test-fast: the suite without the browser and load tests
test-fast: $(VENV)/.test
	$(PY) -m pytest -n 2 -m "not browser and not slow"

$(VENV)-bench/.installed: requirements-bench.txt
	$(PYTHON) -m venv $(VENV)-bench
	$(VENV)-bench/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

## bench: serving (app vs nginx), slow readers (app vs nginx), cache, publish (vs aws s3 sync), ops cost, portal and search latency, the hub's cost per page
bench: $(VENV)/.test $(VENV)-bench/.installed
	bash bench/system-deps.sh
	$(PY) bench/serve_bench.py
	$(PY) bench/slow_bench.py
	$(PY) bench/cache_bench.py
	$(PY) bench/publish_bench.py
	$(PY) bench/ops_bench.py
	$(PY) bench/portal_bench.py
	$(PY) bench/search_bench.py
	$(PY) bench/hub_bench.py

## publish SRC=build/html PROJECT=payments VERSION=2.4.0: publish a build (into make run's local bucket when S3_BUCKET is unset)
publish: $(VENV)/.core
	@if [ -z "$(SRC)" ] || [ -z "$(PROJECT)$(PREFIX)" ]; then echo "usage: make publish SRC=build/html PROJECT=payments VERSION=2.4.0 [ARGS=...]" >&2; exit 2; fi
	@if [ -z "$$S3_BUCKET" ]; then $(MAKE) --no-print-directory --silent $(VENV)/.embedded; fi
	$(if $(S3_BUCKET),$(PY) -m flask --app wsgi docs publish "$(SRC)" $(if $(PREFIX),--prefix "$(PREFIX)",--project "$(PROJECT)" --version "$(VERSION)") $(ARGS),$(PY) -m app.devserver --publish "$(SRC)" --project "$(PROJECT)" --version "$(VERSION)" $(ARGS))

## reset: empty make run's local bucket (DOCS_EMBEDDED_DATA, by default .embedded-s3/); the next run starts with the samples
reset:
	rm -rf "$(or $(DOCS_EMBEDDED_DATA),.embedded-s3)"

## settings-doc: regenerate docs/configuration.md from the packages' SETTINGS tables
settings-doc: $(VENV)/.core
	$(PY) -c "from app.settings import render_reference; print(render_reference(), end='')" > docs/configuration.md

## clean: remove the virtual environment
clean:
	rm -rf $(VENV) .pytest_cache
