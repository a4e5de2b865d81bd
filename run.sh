#!/usr/bin/env bash
# The developer's and the self-hoster's one entry point. Each command installs what it needs
# into ./.venv first (only when pyproject.toml changed since the last install), so that
# `./run.sh serve` and `./run.sh test` work on a fresh machine with nothing but Python 3.11+.
#
#   ./run.sh serve [ARGS]     run liseuse (SQLite in ./data, http://127.0.0.1:8000)
#   ./run.sh test [ARGS]      the whole test suite (pytest ARGS); LISEUSE_DATABASE_URL=postgresql://…
#                             runs it on PostgreSQL
#   ./run.sh liseuse ARGS     any liseuse command (user add, opml import, refresh…)
#   ./run.sh lint             ruff check + format check
#   ./run.sh typing           mypy --strict
#   ./run.sh coverage         the tests with branch coverage
#   ./run.sh bench NAME       a benchmark from bench/ (see docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [[ -n $candidate ]] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "run.sh: liseuse needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 1
}

# install MODE: "app" for running liseuse, "dev" for tests and tools.
install() {
  local mode=$1 stamp="$VENV/.installed-$1"
  if [[ ! -x $VENV/bin/python ]]; then
    local python
    python=$(find_python)
    "$python" -m venv "$VENV" || {
      echo "run.sh: could not create a virtual environment; on Debian: apt-get install python3-venv" >&2
      exit 1
    }
  fi
  if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    local target="."
    [[ $mode == dev ]] && target=".[dev]"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --editable "$target"
    if [[ $mode == dev ]]; then
      # A real Google Reader client for the API tests. It declares Python >= 3.12 but runs on
      # 3.11 as it is (tests/greader/test_google_reader_client.py proves it), and pip cannot
      # express that in pyproject.toml.
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --ignore-requires-python "google-reader==0.0.3"
    fi
    touch "$stamp"
  fi
  # axe-core, injected into pages by the browser tests to check accessibility (from npm).
  if [[ $mode == dev && ! -f tests/ui/.axe/node_modules/axe-core/axe.min.js ]] &&
    command -v npm >/dev/null 2>&1; then
    npm install --prefix tests/ui/.axe --no-audit --no-fund --silent axe-core@4
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  serve)
    install app
    exec "$VENV/bin/liseuse" serve "$@"
    ;;
  liseuse)
    install app
    exec "$VENV/bin/liseuse" "$@"
    ;;
  test)
    install dev
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  coverage)
    install dev
    "$VENV/bin/python" -m coverage run -m pytest "$@"
    exec "$VENV/bin/python" -m coverage report --skip-covered
    ;;
  lint)
    install dev
    "$VENV/bin/ruff" check .
    exec "$VENV/bin/ruff" format --check .
    ;;
  typing)
    install dev
    exec "$VENV/bin/mypy" liseuse tests bench
    ;;
  bench)
    install dev
    name=${1:?usage: ./run.sh bench NAME [ARGS] (see bench/)}
    shift
    exec "$VENV/bin/python" "bench/$name.py" "$@"
    ;;
  help | -h | --help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "run.sh: unknown command $cmd (try ./run.sh help)" >&2
    exit 2
    ;;
esac
