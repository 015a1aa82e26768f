#!/usr/bin/env bash
# make upgrade: resolve the newest versions pyproject.toml admits into a candidate lock, install it in
# .venv-upgrade, run the suite and the fidelity check against bench/fidelity_baseline.json, and only when
# both pass replace requirements.lock (and the baseline). Prints the packages whose versions change.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS="${CORPUS:-../shared/corpus}"
candidate=".venv-upgrade.lock"
if [ ! -f "$CORPUS/score.py" ]; then
  echo "upgrade: the fidelity check needs the evaluation corpus (CORPUS=$CORPUS is absent); lock unchanged" >&2
  exit 2
fi
bash scripts/lock.sh --upgrade -o "$candidate"
versions() { grep -E '^[A-Za-z0-9._-]+==' "$1" | sed 's/ .*//' | sort; }
changes="$(diff <(versions requirements.lock) <(versions "$candidate") | grep '^[<>]' || true)"
if [ -z "$changes" ]; then
  echo "upgrade: requirements.lock already holds the newest versions"
  rm -f "$candidate"
  exit 0
fi
echo "upgrade: candidate versions (< locked, > newest):"
echo "$changes"
rm -rf .venv-upgrade
VENV=.venv-upgrade LOCK="$candidate" bash scripts/setup.sh
make --no-print-directory setup-bench >/dev/null
if ! make --no-print-directory suite VENV=.venv-upgrade; then
  echo "upgrade: the suite fails on the newest versions; requirements.lock unchanged" >&2
  exit 1
fi
if ! .venv-upgrade/bin/python bench/fidelity.py --corpus "$CORPUS" --quiet-table \
     --check bench/fidelity_baseline.json --write-baseline .venv-upgrade.fidelity.json; then
  echo "upgrade: fidelity regresses on the newest versions; requirements.lock unchanged" >&2
  exit 1
fi
mv "$candidate" requirements.lock
mv .venv-upgrade.fidelity.json bench/fidelity_baseline.json
echo "upgrade: requirements.lock and bench/fidelity_baseline.json rewritten; the changes:"
echo "$changes"
echo "upgrade: run 'make test' (it reinstalls .venv from the new lock) and commit both files"
