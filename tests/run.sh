#!/usr/bin/env bash
# Every check and every test, on a fresh Debian machine too: this installs what the tests need
# (Debian's chromium for the browser tests, docker-compose for the deployment check) when it is
# missing, then the project with its test extras, then ruff, strict mypy and pytest. The browser
# and drill tests run in parallel with the rest (pytest-xdist), and a missing browser fails
# rather than skips. CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v docker-compose >/dev/null || need+=(docker-compose)
if ((${#need[@]})); then
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  echo "installing ${need[*]} from Debian (needed by the browser and deployment tests)"
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
export SUPPORTBOT_REQUIRE_BROWSER=1 # a missing browser is a failure, never a skip
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest -n 2 "$@"
