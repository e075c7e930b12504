"""The report as a person first sees it: a headless-browser screenshot of its first screens.

    python scripts/screenshot_report.py [--page report/index.html] [--out report/first-screen.png]
                                        [--width 1280] [--height 2000]

Needs Chromium (Debian: `apt-get install chromium`). Checks that the picture is not blank and that
the page opens with what it should: the runs just trained (if any), then the overview.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--log-level=3"]


def screenshot(page: Path, out: Path, width: int, height: int, timeout: float = 120) -> np.ndarray:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        sys.exit("no Chromium found: apt-get install chromium (or put chromium on PATH)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                               f"--screenshot={out}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
    if done.returncode or not out.is_file():
        sys.exit(f"chromium failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return mpimg.imread(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--page", default="report/index.html", type=Path)
    p.add_argument("--out", default="report/first-screen.png", type=Path)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=2000)
    args = p.parse_args()
    text = args.page.read_text()
    overview = text.find("id='overview'")
    if overview < 0:
        sys.exit(f"{args.page} has no overview section")
    fresh = text.find("id='fresh'")
    if 0 <= fresh and not fresh < overview:
        sys.exit(f"{args.page}: the runs just trained come after the overview")
    first_family = text.find("id='family-")
    if not overview < first_family:
        sys.exit(f"{args.page}: the overview does not come before the families' sections")
    image = screenshot(args.page, args.out, args.width, args.height)
    colours = len(np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    if colours < 16:
        sys.exit(f"{args.out} looks blank ({colours} colours)")
    print(f"{args.out}: {image.shape[1]}×{image.shape[0]} pixels, {colours} colours")


if __name__ == "__main__":
    main()
