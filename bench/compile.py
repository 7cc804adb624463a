"""Validate + compile 1,000 generated pipeline manifests, as a ratio to plain yaml.safe_load.

Run: .venv/bin/python bench/compile.py [--pipelines N] [--repeat R]
Prints one JSON line with the timings and ratios (best of R runs each).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from barecount.deploy.compile import compile_manifests, render_prefect_yaml
from barecount.manifest import load_manifests
from barecount.manifest.loader import manifest_files

REPO = Path(__file__).resolve().parents[1]

PIPELINE = """\
apiVersion: barecount/v1
kind: Pipeline
metadata:
  name: {name}
  owner: finance-data
  description: Generated pipeline {i} for the compile benchmark
spec:
  partition: {{calendar: daily, timezone: Europe/Berlin, offset: -1}}
  schedule:
    cron: "{minute} {hour} * * *"
    timezone: Europe/Berlin
    window: {{start: "00:00", end: "06:00", late: skip}}
  triggers:
    - {{on: source-updated, source: erp.source{i}}}
    - {{on: contract-approved, contract: invoices}}
{upstream}  retries: {{max: 3, backoff: exponential, base_seconds: 10, max_seconds: 600}}
  alerts: {{team: finance-data, after_failed_runs: 1, escalate_after: 3}}
  stages:
    - name: ingest
      kind: ingestion
      run: barecount.examples.finance:ingest_invoices
      contract: invoices
      params: {{source: erp.source{i}, invoices_per_day: 100}}
    - {{name: gdp, kind: transform, needs: [ingest], run: "{gdp}"}}
    - {{name: gdp-extra, kind: transform, needs: [ingest], run: "{gdp}"}}
    - name: kpis
      kind: kpi
      needs: [gdp, gdp-extra]
      run: barecount.examples.finance:materialize_kpis
      publishes: [revenue_daily, dso_days, overdue_ratio]
"""


def generate(root: Path, count: int) -> None:
    shutil.copytree(REPO / "manifests" / "teams", root / "teams")
    shutil.copytree(REPO / "manifests" / "contracts", root / "contracts")
    (root / "pipelines").mkdir()
    for i in range(count):
        # every tenth pipeline is triggered by the previous one's publication
        upstream = f"    - {{on: pipeline-published, pipeline: p{i - 1:04d}}}\n" if i % 10 else ""
        text = PIPELINE.format(
            name=f"p{i:04d}",
            i=i,
            minute=i % 60,
            hour=i % 24,
            upstream=upstream,
            gdp="barecount.examples.finance:build_invoice_gdp",
        )
        (root / "pipelines" / f"p{i:04d}.yaml").write_text(text)


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "manifests"
        generate(root, args.pipelines)
        files = manifest_files(root)

        def plain() -> None:
            for f in files:
                list(yaml.safe_load_all(f.read_text()))

        def plain_c() -> None:
            for f in files:
                list(yaml.load_all(f.read_text(), Loader=yaml.CSafeLoader))

        def ours() -> None:
            render_prefect_yaml(compile_manifests(load_manifests(root)))

        ours()  # warm imports (stage code) so both sides measure steady-state work
        baseline = best_of(args.repeat, plain)
        baseline_c = best_of(args.repeat, plain_c)
        measured = best_of(args.repeat, ours)
    print(
        json.dumps(
            {
                "benchmark": "validate+compile",
                "pipelines": args.pipelines,
                "files": len(files),
                "yaml_safe_load_s": round(baseline, 4),
                "yaml_csafe_load_s": round(baseline_c, 4),
                "validate_compile_s": round(measured, 4),
                "ratio_vs_safe_load": round(measured / baseline, 3),
                "ratio_vs_csafe_load": round(measured / baseline_c, 3),
                "target_ratio": 3.0,
            }
        )
    )


if __name__ == "__main__":
    main()
