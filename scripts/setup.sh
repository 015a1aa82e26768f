#!/usr/bin/env bash
# Install everything tracecad needs on a fresh Debian machine (run as root or with sudo): the system
# libraries it builds against, a virtualenv, and the exact package versions of requirements.lock.
# Idempotent: a second run only checks, in about a second.
#
#   scripts/setup.sh                               .venv from requirements.lock (make demo, make test)
#   VENV=.venv-latest LATEST=1 scripts/setup.sh    the newest versions pyproject.toml admits (make test-latest)
#   VENV=DIR LOCK=FILE scripts/setup.sh            DIR from another lock file (make upgrade)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
LOCK="${LOCK:-requirements.lock}"
LATEST="${LATEST:-}"
PYTHON="${PYTHON:-python3}"
# libpotrace-dev, gcc: potracecffi compiles against potracelib. potrace: the C command line, for benchmarks.
# libgl1, libxrender1, libxext6, libx11-6, libglu1-mesa: shared libraries that OCP's VTK module links to.
# chromium: the headless browser of the web app's page tests (Playwright drives it; it downloads none).
# fonts-dejavu-core, fontconfig: the default font of `tracecad text` (DejaVu Sans Bold) and fc-match for --font NAME.
SYS_PKGS=(libpotrace-dev potrace gcc libgl1 libxrender1 libxext6 libx11-6 libglu1-mesa chromium fonts-dejavu-core fontconfig)
missing=()
for p in "${SYS_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
if [ -n "$LATEST" ]; then
  echo "setup: installing the newest versions of tracecad[test,dask,dev,bench,web] into $VENV"
  "${pip[@]}" --upgrade pip setuptools wheel
  "${pip[@]}" --upgrade --upgrade-strategy eager -e ".[test,dask,dev,bench,web]"
  exit 0
fi
stamp="$VENV/.tracecad-installed"
want="$(cat "$LOCK" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing the locked versions of $LOCK into $VENV (first run takes a minute or two)"
  "${pip[@]}" --require-hashes --no-deps -r "$LOCK"
  "${pip[@]}" --no-deps --no-build-isolation -e .
  "$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check; exit 1; }
  echo "$want" > "$stamp"
fi
