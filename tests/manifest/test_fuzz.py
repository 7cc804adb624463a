"""1,000 hostile manifest folders through ``barecount validate``: no traceback, none over
5 s or 256 MiB, no invalid manifest accepted, every problem at the right 'file:line'.

The cases are the first 1,000 of seed 0 from fuzzgen/fuzzmutate (bench/fuzz.py runs 10,000
and replays one with ``--only INDEX``); fuzzrun runs them in two forked workers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzmutate import MUTATIONS, generate
from fuzzrun import COUNTERS, failures, run_cases, summarize

CASES = 1000
SEED = 0


def test_generator_is_deterministic_and_knows_its_cases() -> None:
    first = [(c.kind, c.files, c.links, c.invalid, c.where) for c in generate(SEED, 50)]
    again = [(c.kind, c.files, c.links, c.invalid, c.where) for c in generate(SEED, 50)]
    assert first == again
    alone = next(generate(SEED, 1, start=37))
    assert (alone.kind, alone.files, alone.where) == (*first[37][0:2], first[37][4])
    for case in generate(SEED, 200):
        assert case.invalid is not True or case.where, case.describe()


def test_validate_survives_hostile_manifests() -> None:
    outcomes = run_cases(generate(SEED, CASES), workers=2)
    assert len(outcomes) == CASES
    mutations = {m.__name__.removeprefix("m_").split("_")[0] for _, m in MUTATIONS}
    assert mutations <= {o.case.kind.split("_")[0] for o in outcomes}  # every mutation ran
    summary = summarize(outcomes)
    report = json.dumps(summary, sort_keys=True) + "\n" + failures(outcomes)
    assert all(summary[name] == 0 for name in COUNTERS), report
    assert summary["rejected"] > CASES // 2, report  # the mutations did break things
