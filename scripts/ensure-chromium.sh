#!/usr/bin/env bash
# Make Debian's chromium available for the console's browser test (tests/console/test_browser.py).
# Installs it with apt-get when /usr/bin/chromium is missing and we are root; otherwise does
# nothing. Always exits 0: the browser test skips with a reason when chromium is absent.
set -u

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: /usr/bin/chromium missing and not root with apt-get; the browser test will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 \
    && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
    echo "ensure-chromium: apt-get could not install chromium; the browser test will skip" >&2
fi
exit 0
