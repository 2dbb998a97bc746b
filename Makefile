# docs-proxy: `make run` serves docs, `make test` runs every test. Both build .venv themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast bench publish system-deps settings-doc clean

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

## run: serve docs at http://127.0.0.1:8000/docs/ (the embedded sample site when S3_BUCKET is unset)
## run SRC=build/html: preview your own build the way the proxy serves it (embedded endpoint)
run: $(VENV)/.core
	@if [ -z "$$S3_BUCKET" ]; then $(MAKE) --no-print-directory $(VENV)/.embedded; fi
	$(PY) -m app.devserver $(if $(SRC),--src "$(SRC)")

## system-deps: Debian packages the tests need (tests/system-deps.sh); installed when missing and root
system-deps:
	bash tests/system-deps.sh

## test: install what the tests need, then run all of them (two pytest-xdist workers: most tests wait on servers)
test: $(VENV)/.test system-deps
	$(PY) -m pytest -n 2

## test-fast: the suite without the browser and load tests
test-fast: $(VENV)/.test
	$(PY) -m pytest -n 2 -m "not browser and not slow"

$(VENV)-bench/.installed: requirements-bench.txt
	$(PYTHON) -m venv $(VENV)-bench
	$(VENV)-bench/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

## bench: serving (app vs nginx), cache, publish (vs aws s3 sync), ops cost, portal and search latency, the hub's cost per page
bench: $(VENV)/.test $(VENV)-bench/.installed
	bash bench/system-deps.sh
	$(PY) bench/serve_bench.py
	$(PY) bench/cache_bench.py
	$(PY) bench/publish_bench.py
	$(PY) bench/ops_bench.py
	$(PY) bench/portal_bench.py
	$(PY) bench/search_bench.py
	$(PY) bench/hub_bench.py

## publish: make publish SRC=path/to/built/site PREFIX=project/1.0/ (uses S3_BUCKET etc.)
publish: $(VENV)/.core
	$(PY) -m flask --app wsgi docs publish "$(SRC)" --prefix "$(PREFIX)" $(ARGS)

## settings-doc: regenerate docs/configuration.md from the packages' SETTINGS tables
settings-doc: $(VENV)/.core
	$(PY) -c "from app.settings import render_reference; print(render_reference(), end='')" > docs/configuration.md

clean:
	rm -rf $(VENV) .pytest_cache
