"""Fuzz ``barecount validate`` with hostile manifests and print what went wrong.

    .venv/bin/python bench/fuzz.py --cases 10000            # the full set
    .venv/bin/python bench/fuzz.py --seed 7 --only 1234 -v  # replay one case

Cases come from tests/manifest/fuzzgen.py (shared with tests/manifest/test_fuzz.py, which
runs the first 1,000 of seed 0): the shipped manifests, each mutated once, run through
validate with a 5 s and 256 MiB limit (see tests/manifest/fuzzrun.py). The last line is one
JSON object: the counters (all must be 0), the slowest case and the largest peak memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "manifest"))

from fuzzmutate import generate
from fuzzrun import COUNTERS, failures, run_cases, summarize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", type=int, default=None, help="run this case index alone")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="a new interpreter per case")
    parser.add_argument("-v", "--verbose", action="store_true", help="print failing cases")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.only is not None:
        cases = generate(args.seed, 1, start=args.only)
    else:
        cases = generate(args.seed, args.cases)
    outcomes = run_cases(cases, workers=args.workers, fresh=args.fresh)
    summary = summarize(outcomes)
    summary.update(
        seed=args.seed,
        fresh=args.fresh,
        workers=args.workers,
        seconds=round(time.monotonic() - started, 1),
    )
    if args.verbose or args.only is not None:
        print(failures(outcomes, limit=50) or "no failures")
        if args.only is not None:
            print(outcomes[0].case.describe(), outcomes[0].rc, outcomes[0].output[:3000])
    print(json.dumps(summary, sort_keys=True))
    return 1 if any(summary[name] for name in COUNTERS) else 0


if __name__ == "__main__":
    sys.exit(main())
