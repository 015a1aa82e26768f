# The two commands of the README:  make demo  and  make test.
# Both install what is missing first (system packages, .venv, the package).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
OUT   ?= out
CORPUS ?= ../shared/corpus

.PHONY: demo test setup setup-bench bench fidelity clean

setup:
	@bash scripts/setup.sh test,dask

demo: setup
	$(VENV)/bin/tracecad convert sample_images -o $(OUT) --formats step,stl,3mf,svg
	$(VENV)/bin/tracecad check $(OUT)/*.stl $(OUT)/*.3mf $(OUT)/*.step

test: setup
	$(PY) -m pytest -q -n 2 tests

setup-bench: setup
	@command -v openscad >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openscad >/dev/null)

fidelity: setup
	$(PY) bench/fidelity.py --corpus $(CORPUS)

bench: setup-bench
	$(PY) bench/speed.py --corpus $(CORPUS)

clean:
	rm -rf $(OUT) bench/out .pytest_cache
