#!/usr/bin/env bash
# Set up and run the whole test suite on a fresh machine:
#   Debian's Chromium (the browser tests drive it), PostgreSQL server (the DATABASE_URL tests start throwaway
#   clusters with its initdb) and faketime (a worker run with a fast clock), a virtualenv with
#   requirements-dev.txt, then pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -k login -x
set -euo pipefail
cd "$(dirname "$0")/.."

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing="$missing faketime"
if [ -n "$missing" ]; then
  echo "installing Debian's$missing for the tests..." >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
