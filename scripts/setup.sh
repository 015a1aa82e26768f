#!/usr/bin/env bash
# Install everything tracecad needs on a fresh Debian machine (run as root or with sudo):
# the system libraries it builds against, a virtualenv at .venv, and the package itself.
# Idempotent: a second run only checks, in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-test}"
PYTHON="${PYTHON:-python3}"
# libpotrace-dev: potracecffi compiles against potracelib. potrace: the C command line, for benchmarks.
# libgl1, libxrender1, libxext6, libx11-6: shared libraries that OCP's VTK module links to.
SYS_PKGS=(libpotrace-dev potrace gcc libgl1 libxrender1 libxext6 libx11-6 libglu1-mesa)
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

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.tracecad-installed-$EXTRAS"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing tracecad[$EXTRAS] into .venv (first run takes a minute or two)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
