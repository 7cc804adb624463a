"""Debian's headless Chromium for browser tests, driven by Playwright (never a browser that
Playwright downloads): the console's test and the Prefect UI approval test share it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> Path:
    """/usr/bin/chromium, installed by scripts/ensure-chromium.sh where that can; else skip."""
    if not CHROMIUM.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "ensure-chromium.sh")], check=False)
    if not CHROMIUM.exists():
        pytest.skip(
            "no /usr/bin/chromium and scripts/ensure-chromium.sh could not install it "
            "(needs root and apt-get); install Debian's chromium to run the browser tests"
        )
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    return CHROMIUM


def browser_page(viewport: tuple[int, int], timeout_ms: int | None = None) -> Iterator:
    """A page of a fresh headless Chromium profile (a generator for a pytest fixture)."""
    executable = chromium()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bc-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        if timeout_ms is not None:
            context.set_default_timeout(timeout_ms)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
