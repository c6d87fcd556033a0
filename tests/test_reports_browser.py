"""report.html opened in headless Chromium: the page renders (a screenshot with
text, tables and plots), so a broken layout is seen. Skipped only when
Chromium is not installed (.ci/run installs Debian's ``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from reports_support import baseline_results

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1280, 2000


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"
)
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    # The report `killswitch sim run` rendered into its out folder.
    page = (baseline_results().parent / "report.html").resolve()
    shot = tmp_path / "screenshot.png"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), done.stderr[-2000:]
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (HEIGHT, WIDTH)
    grey = image[..., :3].mean(axis=2)
    ink = grey < 0.5
    # Text and tables across the page, not a blank or error page: dark pixels in
    # many rows, spread over the width, and the colours of badges and plots.
    assert ink.mean() > 0.01
    assert ink.any(axis=1).mean() > 0.2
    assert ink.any(axis=0).mean() > 0.5
    rgb = (image[..., :3] * 255).astype(np.uint32)
    assert len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])) > 200
    # The page fits the window's width: no content pushed past the right edge.
    assert not ink[:, -30:].any()
