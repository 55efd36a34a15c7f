"""One real browser (Debian chromium + playwright) against the real server."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
GRAPH = "[data-testid=stGraphVizChart] svg g.node"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
         "--server.headless=true", "--server.address=127.0.0.1", f"--server.port={port}",
         "--browser.gatherUsageStats=false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("streamlit did not become healthy")
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is missing: ./run-tests installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _node_texts(page):
    return page.locator(GRAPH).evaluate_all("nodes => nodes.map(n => n.textContent)")


def test_landing_page_steps_to_the_leaf_gradient_30(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(server)
    page.wait_for_selector(GRAPH, timeout=90_000)
    labels = _node_texts(page)
    assert any("MulBackward0" in t for t in labels)
    assert any("AccumulateGrad" in t for t in labels)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "landing.png"))
    # the keyboard steps (→), and the Next button does too
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.body.innerText.includes('Step 1 of 3')", timeout=30_000)
    page.get_by_role("button", name="Next").click()
    page.wait_for_function("document.body.innerText.includes('Step 2 of 3')", timeout=30_000)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.body.innerText.includes('Step 3 of 3')", timeout=30_000)
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=stGraphVizChart] svg g.node')]"
        ".some(n => n.textContent.includes('grad [30.]'))", timeout=30_000)
    leaf = [t for t in _node_texts(page) if "AccumulateGrad" in t]
    assert len(leaf) == 1 and "grad [30.]" in leaf[0]
    page.screenshot(path=str(ARTIFACTS / "landing_end.png"))
    page.close()
