#!/usr/bin/env bash
# All tests, against real parts: a Prefect server per session, SQLite, and the
# PostgreSQL at 127.0.0.1:5432 where one answers. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
# The console's browser test drives Debian's Chromium; as root this installs it once.
bash scripts/ensure-chromium.sh || echo "Chromium could not be installed: the browser test will skip" >&2
# Two test processes share one Prefect server (tests/conftest.py); BARECOUNT_TEST_WORKERS=0
# runs everything in this process.
exec python -m pytest -n "${BARECOUNT_TEST_WORKERS:-2}" --dist loadgroup "$@"
