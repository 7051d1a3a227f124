"""docs/explorer.png: the explorer's page in headless Chromium after a change of its top
driver (the README's screenshot). Run from the repository: python scripts/explorer_screenshot.py
[--port 5077]; it starts `simcore explore --no-browser`, drags the first control's slider, waits
for the fresh run and saves the window."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "faces"))


def main() -> None:
    from browsers import headless_chromium
    from test_explorer_page import _drag, _first_control, _slider_handle, _text

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "explorer.png")
    args = parser.parse_args()
    child = subprocess.Popen([sys.executable, "-m", "simcore", "explore", "--no-browser",
                              "--port", str(args.port)], cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{args.port}/"
    browser = None
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10):
                    break
            except OSError:
                time.sleep(1)
        browser = headless_chromium(1500, 1500)
        browser.get(url)
        while not (_text(browser, "answer") or "").startswith("Q5"):
            time.sleep(0.5)
        driver, field, _ = _first_control(browser)
        _drag(_slider_handle(browser, driver, field), 40)
        while not (_text(browser, "view-label") or "").startswith("fresh run"):
            time.sleep(0.5)
        time.sleep(2)
        browser.save_screenshot(str(args.out))
        print(args.out)
    finally:
        if browser is not None:
            browser.quit()
        os.killpg(child.pid, signal.SIGTERM)
        child.wait()


if __name__ == "__main__":
    main()
