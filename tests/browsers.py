"""Headless Chromium for the tests that check pages in a real browser (report, explorer)."""

import shutil

import pytest

CHROMIUM_HELP = ("the browser tests need headless Chromium and its driver: the Debian packages "
                 "chromium and chromium-driver (scripts/test installs them) and the pip package "
                 "selenium (the test extra)")


def headless_chromium(width: int = 1280, height: int = 2000):
    """A headless Chromium through selenium; the test fails with how to install it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: {CHROMIUM_HELP}")
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail(f"{'chromium' if binary is None else 'chromedriver'} not found: "
                    f"{CHROMIUM_HELP}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary   # both paths given: selenium downloads nothing
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)
