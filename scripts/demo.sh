#!/usr/bin/env bash
# The main job: the finance KPI example end to end on the embedded default
# (local Prefect server on SQLite under BARECOUNT_HOME, SQLite ledger and warehouse).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
partition="${1:-2026-11-26}"
barecount validate manifests
# The example team requires signed approvals; its alice and bob use published DEMO keys
# (see the README's governance section). Idempotent: keys already there are left alone.
barecount keys demo
barecount run finance-kpi --partition "$partition"
