#!/usr/bin/env bash
# The main job: the finance KPI example end to end on the embedded default
# (local Prefect server on SQLite under BARECOUNT_HOME, SQLite ledger and warehouse).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh
partition="${1:-2026-11-26}"
barecount validate manifests
barecount run finance-kpi --partition "$partition"
