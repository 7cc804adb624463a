#!/usr/bin/env bash
# All tests, against real parts: a Prefect server per session, SQLite, and the
# PostgreSQL at 127.0.0.1:5432 where one answers. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
exec python -m pytest "$@"
