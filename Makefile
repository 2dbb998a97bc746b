# docs-proxy: `make run` serves docs, `make test` runs every test. Both build .venv themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast bench publish clean

$(VENV)/.core: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test: $(VENV)/.core requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

## run: serve docs at http://127.0.0.1:8000/docs/ (the embedded sample site when S3_BUCKET is unset)
run: $(VENV)/.core
	$(PY) -m app.devserver

## test: install what the tests need, then run all of them
test: $(VENV)/.test
	$(PY) -m pytest

## test-fast: the suite without the browser and load tests
test-fast: $(VENV)/.test
	$(PY) -m pytest -m "not browser and not slow"

clean:
	rm -rf $(VENV) .pytest_cache
