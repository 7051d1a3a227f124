"""simcore explore in a real headless browser (issue 19): the server started as a child
process on a free port, a driver's slider moved, the headline numbers, charts and the label
moving from the reweighted preview to the fresh run, the quality tier switched, the scenario
saved and ``simcore run`` of it giving the numbers the page showed; a bad value's one-line
message, after which the page still works. No wall times are asserted: every wait is bounded
only so a hang fails."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browsers import headless_chromium

ROOT = Path(__file__).resolve().parents[2]
DRAWS, SEED = 20_000, 5
PATIENCE = 300      # seconds before a step that never comes fails the test

# Panel draws each widget inside shadow roots: find elements through all of them.
DEEP = """
const deep = (selector, root = document) => {
  const found = [];
  const walk = (node) => {
    node.querySelectorAll(selector).forEach(e => found.push(e));
    node.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(root);
  return found;
};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explore-page")
    shutil.copytree(ROOT / "priors", folder / "priors")
    port = _free_port()
    log = (folder / "server.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-m", "simcore", "explore", "priors/baseline.toml", "--port", str(port),
         "--no-browser", "--draws", str(DRAWS), "--seed", str(SEED)],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + PATIENCE
    try:
        while True:
            assert child.poll() is None, (folder / "server.log").read_text()
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the explorer never answered"
            time.sleep(0.5)
        yield folder, url, child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    chromium = headless_chromium(1400, 2400)
    yield chromium
    chromium.quit()


def _text(browser, element_id: str) -> str:
    return browser.execute_script(DEEP + f"const e = deep('#{element_id}')[0];"
                                  "return e ? e.textContent : null;")


def _wait(browser, condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"the page never showed {what}; label {_text(browser, 'view-label')!r}, "
                f"message {_text(browser, 'message')!r}")


def _input(browser, css_class: str, tag: str = "input"):
    return browser.execute_script(DEEP + f"const host = deep('.{css_class}')[0];"
                                  f"return host ? (host.shadowRoot || host).querySelector("
                                  f"'{tag}') : null;")


def _type(element, text: str) -> None:
    """Replace what the box holds by ``text``, typed, and press Enter."""
    from selenium.webdriver.common.keys import Keys
    element.parent.execute_script("arguments[0].value = '';", element)
    element.send_keys(text + Keys.ENTER)


def _first_control(browser) -> tuple[str, str, float]:
    """The top-ranked driver's first field (its class control-DRIVER-FIELD) and value."""
    name = browser.execute_script(DEEP + """
        const host = deep('[class*="control-"]')[0];
        return Array.from(host.classList).find(c => c.startsWith('control-'));""")
    _, driver, field = name.split("-", 2)
    value = float(_input(browser, name).get_attribute("value"))
    return driver, field, value


def _slider_handle(browser, driver: str, field: str):
    """The handle of a control's slider (noUiSlider, inside the widget's shadow roots)."""
    return browser.execute_script(DEEP + f"const host = deep('.slider-{driver}-{field}')[0];"
                                  "return host ? deep('.noUi-handle', host.shadowRoot || host)"
                                  "[0] : null;")


def _drag(handle, pixels: int) -> None:
    from selenium.webdriver import ActionChains
    ActionChains(handle.parent).drag_and_drop_by_offset(handle, pixels, 0).perform()


def _images(browser) -> list[str]:
    return browser.execute_script(DEEP + "return deep('img').map(i => i.src);")


def _settled_images(browser, accept, what: str) -> list[str]:
    """The page's images once ``accept`` holds for them and they stop changing (the same in
    reads a second apart): under load the charts reach the browser after the label that
    announces them, one by one."""
    reads: list[list[str]] = []

    def settled():
        reads.append(_images(browser))
        time.sleep(0.75)
        return len(reads) > 1 and reads[-1] == reads[-2] and accept(reads[-1]) and reads[-1]
    return _wait(browser, settled, what)


def test_change_preview_fresh_save_and_the_cli_reproduces_the_page(server, browser):
    folder, url, child = server
    browser.get(url)
    _wait(browser, lambda: (_text(browser, "answer") or "").startswith("Q5"), "the answer")
    assert _text(browser, "view-label").startswith("base: baseline.toml")
    base_answer = _text(browser, "answer")
    base_headline = _text(browser, "headline")
    images = browser.execute_script(DEEP + "return deep('img').filter(i => i.naturalWidth > 0)"
                                    ".length;")
    assert images >= 3

    base_images = _images(browser)
    driver, field, value = _first_control(browser)
    # Moving the slider sets the value box (what the saved scenario holds) and runs.
    _drag(_slider_handle(browser, driver, field), 40)
    box = _input(browser, f"control-{driver}-{field}")
    moved = float(_wait(browser, lambda: box.get_attribute("value") != f"{value:g}"
                        and box.get_attribute("value"), "the slider's value in its box"))
    assert moved > value
    # First a reweighted preview or the reason there is none, then the fresh run.
    _wait(browser, lambda: "preview: reweighted" in (_text(browser, "view-label") or "")
          or "no preview" in (_text(browser, "message") or ""), "a preview")
    # A drag can send the page several values, each starting a run: the answer to compare with
    # later is the one that stays, the fresh run of the last value (under load an earlier
    # value's fresh run was once read here, then replaced).
    fresh_label = f"fresh run of {DRAWS:,} draws"
    answers: list[str] = []

    def settled_fresh_answer():
        label = _text(browser, "view-label") or ""
        answers.append(_text(browser, "answer") if label.startswith(fresh_label) else "")
        time.sleep(1.5)
        return len(answers) > 1 and answers[-1] and answers[-1] == answers[-2] and answers[-1]

    fresh_answer = _wait(browser, settled_fresh_answer, "the fresh run, settled")
    assert fresh_answer != base_answer and _text(browser, "headline") != base_headline
    fresh_images = _settled_images(
        browser, lambda now: len(now) == len(base_images) >= 4
        and sum(a != b for a, b in zip(now, base_images, strict=True)) >= 3,
        "the fresh run's charts")

    # The quality tier switches the cost chart and its headline numbers, nothing else.
    assert "draft tier" in _text(browser, "headline")
    browser.execute_script(DEEP + "const host = deep('.tier')[0];"
                           "deep('button', host.shadowRoot || host).find("
                           "b => b.textContent.trim() === 'festival').click();")
    _wait(browser, lambda: "festival tier" in (_text(browser, "headline") or ""),
          "the festival tier's numbers")
    festival_images = _settled_images(browser, lambda now: now != fresh_images,
                                      "the festival tier's chart")
    assert sum(a != b for a, b in zip(festival_images, fresh_images, strict=True)) == 1
    assert "draft tier" not in _text(browser, "headline")
    assert _text(browser, "answer") == fresh_answer

    _type(_input(browser, "scenario-name"), "from-the-page")
    _input(browser, "scenario-rationale", "textarea").send_keys("A test: <b>not markup</b>")
    _input(browser, "save-scenario", "button").click()
    saved = _wait(browser, lambda: "scenario written to" in (_text(browser, "saved") or "")
                  and _text(browser, "saved"), "the saved scenario")
    path = folder / "priors" / "scenarios" / "from-the-page.toml"
    assert str(path.name) in saved and path.is_file()
    assert "not markup" in path.read_text()

    cli = subprocess.run([sys.executable, "-m", "simcore", "run", str(path), "-n", str(DRAWS),
                          "-s", str(SEED), "--no-charts", "--no-observations", "-o",
                          str(folder / "runs" / "from-the-page")], cwd=folder,
                         capture_output=True, text=True, timeout=PATIENCE)
    assert cli.returncode == 0, cli.stderr
    assert fresh_answer.strip() in cli.stdout


def test_a_bad_value_shows_the_cli_line_and_the_page_still_works(server, browser):
    folder, url, child = server
    browser.get(url)
    _wait(browser, lambda: (_text(browser, "answer") or "").startswith("Q5"), "the answer")
    driver, field, value = _first_control(browser)
    box = _input(browser, f"control-{driver}-{field}")
    _type(box, "fast")
    message = _wait(browser, lambda: "is not a number" in (_text(browser, "message") or "")
                    and _text(browser, "message"), "the bad value's message")
    assert message == f"--set: drivers.{driver}.{field}: 'fast' is not a number"
    assert child.poll() is None
    _type(box, f"{value * 0.8:g}")
    _wait(browser, lambda: (_text(browser, "view-label") or "").startswith("fresh run of"),
          "a fresh run after the bad value")
    assert _text(browser, "message") in ("", None) or "no preview" in _text(browser, "message")
