#!/usr/bin/env bash
# The test suite's wall time, before and after a change, side by side on this machine
# (issue 13): the suite at BEFORE run serially, then HEAD serially and on every core.
# SQLite only (no CSKH_TEST_* URLs), so the figures do not depend on the services.
#
#   bench/suite_time.sh [BEFORE]      (default BEFORE: c62f905, main before issue 13)
#
# Each revision runs from a detached worktree under ./var/bench-suite with this
# checkout's .venv (the test dependencies must be installed: pip install -e '.[test]').
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:-c62f905}
python=$PWD/.venv/bin/python
work=$PWD/var/bench-suite
mkdir -p "$work"

checkout() {  # a clean worktree of revision $1 at $2
  git worktree remove --force "$2" 2>/dev/null || true
  git worktree add --quiet --detach "$2" "$1"
}

run() {  # label, directory, pytest options
  local label=$1 dir=$2
  shift 2
  echo "== $label"
  (cd "$dir" && /usr/bin/time -f "wall %e s" env PYTHONPATH="$dir" \
    "$python" -m pytest -q -p no:cacheprovider --durations=10 "$@" 2>&1 | tail -16)
}

checkout "$before" "$work/before"
checkout HEAD "$work/after"
run "before ($(git rev-parse --short "$before")), serial" "$work/before" -p no:xdist
run "after ($(git rev-parse --short HEAD)), serial" "$work/after" -n 0
run "after ($(git rev-parse --short HEAD)), -n auto" "$work/after" -n auto
git worktree remove --force "$work/before"
git worktree remove --force "$work/after"
