#!/usr/bin/env bash
# The dependency floors of pyproject.toml, tested: a fresh .venv-floors gets barecount with
# every direct dependency (all extras) at its lowest allowed release, the script fails unless
# each one landed exactly on the floor pyproject.toml declares (a floor that cannot be
# installed beside the others is a floor nobody has tested), then runs the fast tests of
# .github/workflows/ci.yml (the files that need no Prefect server and no PostgreSQL) there.
# Extra arguments go to pytest instead of that list. Not part of scripts/test.sh: CI runs
# it as its own job (floors). Needs PyPI (uv resolves there, not from a local wheel folder).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv-floors
PY="$VENV/bin/python"

rm -rf "$VENV"  # nothing left from an earlier run may stand in for a floor
"${BARECOUNT_PYTHON:-python3.11}" -m venv "$VENV"
"$PY" -m pip install --quiet uv
# lowest-direct: our own requirements at their lowest, what they pull in at its newest,
# as a user who pins our floors would get
"$VENV/bin/uv" pip install --quiet --python "$PY" --resolution lowest-direct \
    -e ".[dev,postgres,dask]"

"$PY" - <<'EOF'
"""Fails unless every direct dependency is installed at the floor pyproject.toml declares."""
import sys
import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement
from packaging.version import Version

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
# the extras repeat some requirements (dev has the postgres and dask ones): each once
extras = sum(project["optional-dependencies"].values(), [])
declared = list(dict.fromkeys(project["dependencies"] + extras))
off = {}
for req in map(Requirement, declared):
    floors = [s.version for s in req.specifier if s.operator == ">="]
    if len(floors) != 1:
        sys.exit(f"pyproject.toml: {req} needs one '>=' floor")
    got = version(req.name)
    if Version(got) != Version(floors[0]):
        off[req.name] = f"{req.name}: >={floors[0]} declared, the lowest that installs is {got}"
    print(f"  {req.name:<30} floor {floors[0]:<10} installed {got}")
if off:
    sys.exit("floors that cannot be installed (raise them):\n" + "\n".join(off.values()))
print(f"{len(declared)} direct dependencies at their floors")
EOF

if [ "$#" -eq 0 ]; then
    # one list of fast tests, kept in ci.yml's fast job
    mapfile -t tests < <("$PY" - <<'EOF'
import yaml

jobs = yaml.safe_load(open(".github/workflows/ci.yml"))["jobs"]
(command,) = [s["run"] for s in jobs["fast"]["steps"] if "pytest" in s.get("run", "")]
print("\n".join(word for word in command.split() if word.startswith("tests")))
EOF
    )
    set -- "${tests[@]}"
fi
exec "$PY" -m pytest -n "${BARECOUNT_TEST_WORKERS:-2}" --dist loadgroup "$@"
