# Two commands on a fresh machine:
#   make demo   installs everything (Debian packages, venv, Python packages) and runs the
#               main job on the built-in phantom
#   make test   installs everything and runs the test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system demo test bench lint clean

system:
	./scripts/setup-system.sh

$(STAMP): setup.cfg setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: system $(STAMP)

demo: setup
	$(VENV)/bin/vtkdicom-app demo

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_load.py

lint: setup
	$(VENV)/bin/ruff check vtkdicom_app tests benchmarks examples
	$(VENV)/bin/mypy vtkdicom_app
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
