"""The graph view, old (Streamlit's graphviz chart, laid out in the browser) against new
(server layout + the interactive component), on graphs of ~10 / ~100 / ~1,000 nodes.

1. Server: what one click on Next costs the server (one rerun of the page, AppTest, the
   same process), median of interleaved rounds.
2. Browser (Debian chromium + playwright, one real server): page load -> graph visible,
   and a press of → -> the new step's highlight on screen.
3. Cold start: ``streamlit run`` -> the first graph visible in a browser.

    python bench/bench_view.py            # ~4 minutes
    python bench/bench_view.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autoviz.drawing.collapse import DEFAULT_BUDGET  # noqa: E402
from autoviz.drawing.scene import make_scene  # noqa: E402
from autoviz.lesson.lab import make_study  # noqa: E402
from autoviz.lesson.share import View, to_params  # noqa: E402

APP = str(ROOT / "app.py")
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
OLD = "[data-testid=stGraphVizChart] svg g.node"
NEW = ".av-root[data-ready] svg g.node"
# In the page itself: the first animation frame in which graph nodes are in the DOM (the
# frame that paints them), in ms from navigation start. Playwright's own wait for a selector
# polls from outside and can answer hundreds of ms late while the page's main thread is busy
# (seen here: the graph painted at 1.04 s, the wait returned at 1.5 s).
FIRST_FRAME = """
window.__roots = [];
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  const root = attach.call(this, init);
  window.__roots.push(root);
  return root;
};
window.__graphAt = null;
const look = () => {
  const found = document.querySelector('[data-testid=stGraphVizChart] svg g.node') ||
    window.__roots.some((r) => r.querySelector('.av-root[data-ready] svg g.node'));
  if (found) window.__graphAt = performance.now();
  else requestAnimationFrame(look);
};
requestAnimationFrame(look);
"""


def program(layers: int) -> str:
    return ("import torch\n\ntorch.manual_seed(0)\nh = torch.randn(4, 8)\n"
            f"for i in range({layers}):\n"
            "    w = torch.randn(8, 8, requires_grad=True) / 3\n"
            "    h = torch.tanh(h @ w)\n"
            "loss = h.pow(2).mean()\n")


SIZES = {10: 2, 100: 20, 1000: 200}  # ~nodes: layers (5 nodes a layer, + 3)
VARIANTS = {  # name: (classic, budget)
    "old: graphviz_chart": (True, None),
    "new: interactive": (False, None),
    "new: all nodes": (False, 0),
}


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f}"


# --- 1. server -------------------------------------------------------------------------------

SCRIPT_TIMES: list[float] = []  # filled by TIMED, the page run under a stopwatch
TIMED = f"""
import sys, time
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "bench")!r}]
import app
import bench_view
start = time.perf_counter()
app.run()
bench_view.SCRIPT_TIMES.append(time.perf_counter() - start)
"""


def server_step(rounds: int) -> None:
    """The page's script time for a click on Next (AppTest's own polling left out)."""
    from streamlit.testing.v1 import AppTest

    print("\n1. Server cost of one step (a click on Next: the page's script run), median ms")
    print(f"{'nodes':>6} " + " ".join(f"{v:>22}" for v in VARIANTS))
    for layers in SIZES.values():
        code = program(layers)
        apps = {}
        for name, (classic, budget) in VARIANTS.items():
            at = AppTest.from_string(TIMED, default_timeout=120)
            for key, value in to_params(View(code=code, root="loss", classic=classic,
                                             budget=budget)).items():
                at.query_params[key] = value
            at.run()
            assert not at.exception, at.exception
            apps[name] = at
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        n = len(make_study(code, "loss").trace.steps)
        for _ in range(rounds):
            for name, at in apps.items():  # interleaved: every variant sees the same load
                key = "next" if at.session_state.step < n else "reset"
                at.button(key=key).click().run()
                assert not at.exception, at.exception
                times[name].append(sys.modules["bench_view"].SCRIPT_TIMES[-1])
        nodes = len(make_study(code, "loss").graph.nodes)
        print(f"{nodes:>6} " + " ".join(f"{_median_ms(times[v]):>22}" for v in VARIANTS))


# --- 2. browser ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str, float]:
    port = _free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}",
         "--browser.gatherUsageStats=false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url, start
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited") from None
            time.sleep(0.1)


def _current_selector(code: str, classic: bool, budget: int | None, k: int,
                      attr: str = "step") -> str:
    study = make_study(code, "loss")
    node_id = study.trace.steps[k - 1].node_id
    if classic:
        return f"{OLD}:has(title:text-is('{node_id}')) path[fill='#ffca28']"
    scene = make_scene(study.graph, study.trace, DEFAULT_BUDGET if budget is None else
                       (10**9 if budget == 0 else budget))
    return f".av-root[data-{attr}='{k}'] g#{scene.collapsed.shown_as(node_id)}.current"


def browser(url: str, rounds: int) -> None:
    from playwright.sync_api import sync_playwright

    print("\n2. In chromium: page load -> graph visible, and → -> the next step's highlight, "
          "median ms")
    print("   (graph frame: navigation -> the first animation frame with graph nodes, read in "
          "the page; graph wait: the same seen by playwright's wait from outside; page: -> the "
          "whole page (the editor); step: the new highlight on screen; confirmed: the "
          "server's rerun has landed in the view; the old view has no early highlight)")
    print(f"{'nodes':>6} {'variant':>22} {'graph frame':>12} {'graph wait':>10} {'page':>10} "
          f"{'step':>8} {'confirmed':>10} {'svg nodes':>10}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        warm = b.new_page()
        warm.goto(url)
        warm.wait_for_selector(f"{NEW}, {OLD}", timeout=120_000)
        warm.close()
        for size, layers in SIZES.items():
            code = program(layers)
            for name, (classic, budget) in VARIANTS.items():
                link = url + "/?" + urlencode(to_params(View(
                    code=code, root="loss", classic=classic, budget=budget)))
                loads, frames, pages, steps, confirmed = [], [], [], [], []
                for _ in range(rounds):
                    page = b.new_page(viewport={"width": 1280, "height": 800})
                    page.add_init_script(FIRST_FRAME)
                    start = time.perf_counter()
                    page.goto(link)
                    page.wait_for_selector(OLD if classic else NEW, timeout=120_000)
                    loads.append(time.perf_counter() - start)
                    page.wait_for_function("window.__graphAt !== null", timeout=60_000)
                    frames.append(page.evaluate("window.__graphAt") / 1000)
                    page.wait_for_selector("textarea", timeout=120_000)  # the rest of the page
                    pages.append(time.perf_counter() - start)
                    page.wait_for_function(
                        "document.body.innerText.includes('Step 0 of')", timeout=60_000)
                    time.sleep(0.5)  # step a page at rest
                    for k in (1, 2):
                        shown = _current_selector(code, classic, budget, k, "shown")
                        target = _current_selector(code, classic, budget, k)
                        start = time.perf_counter()
                        page.keyboard.press("ArrowRight")
                        if not classic:
                            page.wait_for_selector(shown, timeout=120_000)
                            steps.append(time.perf_counter() - start)
                        page.wait_for_selector(target, timeout=120_000)
                        confirmed.append(time.perf_counter() - start)
                        if classic:
                            steps.append(confirmed[-1])
                    drawn = page.locator(OLD if classic else NEW).count()
                    page.close()
                print(f"{size:>6} {name:>22} {_median_ms(frames):>12} {_median_ms(loads):>10} "
                      f"{_median_ms(pages):>10} "
                      f"{_median_ms(steps):>8} {_median_ms(confirmed):>10} {drawn:>10}")
        b.close()


def cold_start() -> None:
    from playwright.sync_api import sync_playwright

    proc, url, start = start_server()
    healthy = time.perf_counter() - start
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(FIRST_FRAME)
        navigated = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(NEW, timeout=120_000)
        seen = time.perf_counter() - start
        page.wait_for_function("window.__graphAt !== null", timeout=60_000)
        painted = navigated - start + page.evaluate("window.__graphAt") / 1000
        b.close()
    proc.terminate()
    proc.wait(timeout=20)
    print(f"\n3. Cold start: `streamlit run` -> server healthy {healthy:.1f} s -> first graph "
          f"in a frame {painted:.1f} s, seen by playwright {seen:.1f} s (chromium's own "
          "start-up included)")


def main() -> None:
    sys.modules.setdefault("bench_view", sys.modules[__name__])  # TIMED imports it by name
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    server_step(rounds=6 if args.quick else 15)
    cold_start()
    proc, url, _ = start_server()
    try:
        browser(url, rounds=1 if args.quick else 3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
