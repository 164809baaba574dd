"""Debian's Chromium for the browser tests, installed by the test setup when it is missing.

Playwright drives /usr/bin/chromium (`executable_path`); its own browser downloads are never
used (they cannot be fetched here). When Chromium is absent and we are root, `apt-get
install chromium` installs it (after `apt-get update` when the package lists lack it). If it
still cannot be had, CI (env CI set) fails saying why and a developer's run skips with the
reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Known to work as root on the closed network: without the background-networking flags
# Chromium's own connections (updates, sync, safe browsing) are refused and logged as errors.
# Playwright gives every launch a fresh empty --user-data-dir itself.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APT_TIMEOUT_SECONDS = 900


def _apt_install() -> str | None:
    """Install Debian's chromium; None on success, else why it could not be."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install Debian's chromium package"
    if os.geteuid() != 0:
        return "not root, so `apt-get install -y chromium` cannot run (run it once as root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    outcome = subprocess.run(install, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_SECONDS)
    if outcome.returncode != 0:  # a fresh machine's package lists may not know chromium yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=APT_TIMEOUT_SECONDS)
        outcome = subprocess.run(install, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_SECONDS)
    if outcome.returncode != 0:
        return f"`{' '.join(install)}` failed (exit {outcome.returncode}): {outcome.stderr.strip()[-500:]}"
    return None


def chromium_executable() -> Path:
    """The Chromium binary, installed first if needed; fails in CI, skips elsewhere, when
    there is none."""
    problem = None if CHROMIUM.is_file() else _apt_install()
    if problem is None and not CHROMIUM.is_file():
        problem = f"the chromium package installed but {CHROMIUM} is missing"
    if problem is not None:
        message = f"the browser tests need Debian's Chromium at {CHROMIUM}: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM
