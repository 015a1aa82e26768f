# The two commands of the README:  make demo  and  make test.
# Both install what is missing first (system packages, .venv with the versions of requirements.lock).
SHELL  := /bin/bash
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= out
CORPUS ?= ../shared/corpus

.PHONY: demo test suite setup setup-slicers test-latest lock upgrade setup-bench bench fidelity clean

setup:
	@VENV=$(VENV) bash scripts/setup.sh

# Optional: the slicer and the CAD program that tests open the colour 3MF and STEP with (large; the tests
# that need them skip without them).
setup-slicers:
	@command -v prusa-slicer >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prusa-slicer
	@command -v freecadcmd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends freecad-python3

demo: setup
	$(VENV)/bin/tracecad convert sample_images -o $(OUT) --formats step,stl,3mf,svg
	$(VENV)/bin/tracecad check $(OUT)/*.stl $(OUT)/*.3mf $(OUT)/*.step

test: setup
	@$(MAKE) --no-print-directory suite VENV=$(VENV)

# The suite in an installed virtualenv (VENV=...): lint and import order, types, tests.
suite:
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy
	$(PY) -m pytest -q -n 2 tests

# The suite on the newest versions that pyproject.toml's ranges admit, in .venv-latest; the lock is untouched.
test-latest:
	@VENV=.venv-latest LATEST=1 bash scripts/setup.sh
	@.venv-latest/bin/python -m pip list --format=freeze --disable-pip-version-check | grep -v "^tracecad\|^pip==" \
	  | diff <(grep -E '^[A-Za-z0-9._-]+==' requirements.lock | sed 's/ .*//' | tr 'A-Z_' 'a-z-' | sort) \
	         <(tr 'A-Z_' 'a-z-' | sort) | grep '^[<>]' || echo "test-latest: the newest versions are the locked ones"
	@$(MAKE) --no-print-directory suite VENV=.venv-latest

# Re-resolve requirements.lock with the same ranges (after editing pyproject.toml).
lock:
	bash scripts/lock.sh

# Newest versions in .venv-upgrade; the lock is rewritten only when the suite and the fidelity check pass.
upgrade:
	CORPUS=$(CORPUS) bash scripts/upgrade.sh

setup-bench: setup
	@command -v openscad >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openscad >/dev/null)
	@dpkg-query -W -f='$${Status}' libcairo2 2>/dev/null | grep -q "install ok installed" || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libcairo2 >/dev/null)

fidelity: setup-bench
	$(PY) bench/fidelity.py --corpus $(CORPUS)

bench: setup-bench
	$(PY) bench/speed.py --corpus $(CORPUS)

clean:
	rm -rf $(OUT) bench/out .pytest_cache
