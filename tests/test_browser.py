"""One real browser (Debian chromium + playwright) against the real server."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# the interactive view (playwright's CSS selectors pierce its shadow root)
GRAPH = ".av-root[data-ready] svg g.node"
VIEW = ".av-root[data-ready]"

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
    page.locator(GRAPH, has_text="grad [30.]").wait_for(timeout=30_000)
    leaf = [t for t in _node_texts(page) if "AccumulateGrad" in t]
    assert len(leaf) == 1 and "grad [30.]" in leaf[0]
    page.screenshot(path=str(ARTIFACTS / "landing_end.png"))
    page.close()


def _link(server, **extra):
    from autoviz.lesson.presets import NEURON
    from autoviz.lesson.share import View, to_params

    params = {**to_params(View(code=NEURON, root="o", step=2)), **extra}
    return server + "/?" + urlencode(params)


WHOLE = ".st-key-table"  # the tables, last on the page: the whole page is in
# the program editor's textarea (in its component's shadow root)
EDITOR_INPUT = ("[...document.querySelectorAll('*')].map(e => e.shadowRoot && "
                "e.shadowRoot.querySelector('.pv-input')).find(Boolean)")

FIRST_LOAD = """
window.__first = {};
const graphNow = () => {
  for (const e of document.querySelectorAll('*')) {
    const svg = e.shadowRoot && e.shadowRoot.querySelector('.av-root[data-ready] svg');
    if (svg && svg.querySelector('g.node')) return svg;
  }
  return null;
};
document.addEventListener('DOMContentLoaded', () => new MutationObserver(() => {
  const f = window.__first;
  const side = document.querySelector('[data-testid=stSidebar]');
  if (side && side.innerText.includes('Loading…')) f.loadingSeen = true;
  if (!f.restAt && document.querySelector('.st-key-table')) {
    f.restAt = performance.now();
    f.svgThen = graphNow();  // the graph, when the rest (the tables) first shows
  }
}).observe(document.body, {subtree: true, childList: true}));
"""


def test_the_graph_is_drawn_first_and_the_rest_of_the_page_follows(server, browser):
    """A browser's first load: the graph, the stepper and the step come alone; once the view
    has drawn, the rest (sidebar, editor, toggles, tables) follows, and the graph stays put
    (the same SVG element, every box where it was)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(FIRST_LOAD)
    page.goto(_link(server))
    page.wait_for_selector(WHOLE, timeout=90_000)
    page.get_by_text("Expression form").wait_for(timeout=30_000)  # the sidebar's
    page.get_by_text("Toggles").first.wait_for(timeout=30_000)
    page.wait_for_function("document.body.innerText.includes('Share and export')",
                           timeout=30_000)
    assert page.evaluate("window.__first.loadingSeen === true")  # the sidebar came later
    assert page.evaluate("!!window.__first.svgThen"), "the rest showed before the graph"
    assert page.locator(VIEW).evaluate(
        "root => root.querySelector('svg') === window.__first.svgThen")
    assert page.locator(GRAPH).count() > 0
    page.close()


def test_a_link_to_a_failing_program_gets_the_whole_page_at_once(server, browser):
    from autoviz.lesson.share import View, to_params

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(FIRST_LOAD)
    code = "import torch\na = torch.tensor([3.], require_grad=True)\n"
    page.goto(server + "/?" + urlencode(to_params(View(code=code))))
    page.get_by_text("Line 2 fails").wait_for(timeout=90_000)
    page.wait_for_selector(".pv-input", timeout=30_000)  # the editor, to fix it
    page.get_by_text("Expression form").wait_for(timeout=30_000)
    assert page.evaluate("!window.__first.loadingSeen")
    page.close()


def test_a_shared_link_restores_the_view(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(_link(server))
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_function("document.body.innerText.includes('Step 2 of')", timeout=30_000)
    assert any("TanhBackward0" in t for t in _node_texts(page))
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.body.innerText.includes('Step 3 of')", timeout=30_000)
    page.wait_for_function("location.search.includes('step=3')", timeout=30_000)
    page.close()


def test_embedded_in_a_cross_origin_iframe_with_projector_mode(server, browser):
    """Slides on another origin embed the app; the keyboard steps inside the frame."""
    import http.server
    import threading

    src = _link(server, embed="true", projector="1")
    deck = (f'<html><body style="margin:0"><h1>Lecture 4</h1><iframe src="{src}" '
            'width="1200" height="700" style="border:0"></iframe></body></html>').encode()

    class Slides(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(deck)

        def log_message(self, *args):
            pass

    # another port and host name: a different origin from the app (127.0.0.1:<port>)
    slides = http.server.HTTPServer(("127.0.0.1", 0), Slides)
    threading.Thread(target=slides.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"http://localhost:{slides.server_address[1]}/deck.html")
    frame = page.frame_locator("iframe")
    frame.locator(GRAPH).first.wait_for(timeout=90_000)
    texts = frame.locator(GRAPH).evaluate_all("ns => ns.map(n => n.textContent)")
    assert any("TanhBackward0" in t for t in texts)
    # big type: graphviz wrote 22pt labels (said once on the SVG's root, inherited)
    sizes = frame.locator(f"{GRAPH} text").evaluate_all(
        "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))")
    assert max(sizes) >= 22
    frame.get_by_text("Step 2 of").wait_for(timeout=30_000)
    frame.locator(".av-canvas").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")
    frame.get_by_text("Step 3 of").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "embedded_projector.png"))
    page.close()
    slides.shutdown()


def test_graph_downloads_as_svg_and_png(server, browser, tmp_path):
    import io
    import xml.etree.ElementTree as ET

    from PIL import Image

    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(server)
    page.wait_for_selector(GRAPH, timeout=90_000)
    files = {}
    page.get_by_role("button", name="Share and export").click()  # the menu over the editor
    for name in ("graph.svg", "graph.png", "program.py"):
        button = page.get_by_role("button", name=name)
        button.scroll_into_view_if_needed()
        with page.expect_download(timeout=60_000) as info:
            button.click()
        target = tmp_path / name
        info.value.save_as(target)
        files[name] = target.read_bytes()
    svg = ET.fromstring(files["graph.svg"])
    assert "MulBackward0" in "".join(svg.itertext())
    image = Image.open(io.BytesIO(files["graph.png"]))
    image.load()
    assert image.format == "PNG" and image.size[0] > 100
    assert b"O = 5 * a ** 2" in files["program.py"]
    page.close()


# --- the interactive view ------------------------------------------------------------------

BOXES = """root => [...root.querySelectorAll('g.node')].map(g => {
    const b = g.getBBox(); return [g.id, b.x, b.y, b.width, b.height]; })"""


def _until(read, ok, seconds=10):
    """Poll ``read()`` until ``ok`` holds (the view's state lives in a shadow root)."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _state(page):
    return page.locator(VIEW).evaluate("""root => ({
        svgMarked: !!root.querySelector('svg').__marked,
        step: root.dataset.step,
        viewBox: root.querySelector('svg').getAttribute('viewBox'),
        classes: Object.fromEntries([...root.querySelectorAll('g.node')].map(
            g => [g.id, [...g.classList].filter(c => c !== 'node').sort().join(' ')])),
        texts: Object.fromEntries([...root.querySelectorAll('g.node')].map(
            g => [g.id, g.textContent])),
    })""")


def test_a_step_restyles_the_graph_without_laying_it_out_again(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_link(server))  # the neuron, at step 2
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_function("document.body.innerText.includes('Step 2 of')", timeout=30_000)
    before_boxes = page.locator(VIEW).evaluate(BOXES)
    page.locator(VIEW).evaluate("root => { root.querySelector('svg').__marked = true; }")
    before = _state(page)
    assert "current" in before["classes"].values()
    for k in (3, 4):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"document.body.innerText.includes('Step {k} of')",
                               timeout=30_000)
        page.locator(f"{VIEW}[data-step='{k}']").wait_for(timeout=30_000)
    after = _state(page)
    # the same SVG element (never replaced), every box exactly where it was
    assert after["svgMarked"]
    assert page.locator(VIEW).evaluate(BOXES) == before_boxes
    # ...but the styles and notes moved on: a node that was pending is done or current now
    assert after["classes"] != before["classes"]
    changed = [i for i in before["classes"] if before["classes"][i] != after["classes"][i]]
    assert any("pending" in before["classes"][i] for i in changed)
    assert sum("current" in c for c in after["classes"].values()) == 1
    assert any(before["texts"][i] != after["texts"][i] for i in changed)  # "got …" notes
    page.close()


STEP_NOW = """(root, act) => {
    // act in the page, then read the view in the same task: no rerun can have landed
    if (act === 'next') document.querySelector('.st-key-next button').click();
    else if (act === 'prev') document.querySelector('.st-key-prev button').click();
    else for (const type of ['keydown', 'keyup'])  // a whole key press, as a keyboard sends
        act.target().dispatchEvent(
            new KeyboardEvent(type, {key: act.key, bubbles: true, cancelable: true,
                                        composed: true}));
    return {shown: root.dataset.shown, step: root.dataset.step,
            classes: Object.fromEntries([...root.querySelectorAll('g.node')].map(
                g => [g.id, [...g.classList].filter(c => c !== 'node').sort().join(' ')])),
            texts: Object.fromEntries([...root.querySelectorAll('g.node')].map(
                g => [g.id, g.textContent]))};
}"""


def _step_now(page, act):
    if isinstance(act, str) and act in ("next", "prev"):
        return page.locator(VIEW).evaluate(STEP_NOW, act)
    key, where = act
    script = STEP_NOW.replace("act.target()", where).replace("act.key", repr(key))
    return page.locator(VIEW).evaluate(script, None)


def _confirmed(page, k):
    page.locator(f"{VIEW}[data-step='{k}']").wait_for(timeout=30_000)
    page.wait_for_function(f"document.body.innerText.includes('Step {k} of')", timeout=30_000)
    state = _state(page)
    return {"classes": state["classes"], "texts": state["texts"]}


def test_a_step_shows_on_the_graph_before_the_server_answers(server, browser):
    """→ and Next restyle the graph in the same task as the key press (from the neighbours
    Python sent along), and what the server then confirms is exactly that."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_link(server))  # the neuron, at step 2
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(WHOLE, timeout=60_000)  # the whole page is in
    page.evaluate("document.activeElement && document.activeElement.blur()")
    seen = {2: _confirmed(page, 2)}  # step -> the state the server confirmed
    before = 2
    for act, k in ((("ArrowRight", "document.body"), 3), ("next", 4),
                   ("prev", 3), (("ArrowLeft", "document.body"), 2)):
        early = _step_now(page, act)
        # on screen: step k; the server: still at the step before
        assert (early["shown"], early["step"]) == (str(k), str(before)), act
        assert sum("current" in c for c in early["classes"].values()) == 1
        seen[k] = _confirmed(page, k)
        assert {"classes": early["classes"], "texts": early["texts"]} == seen[k], act
        before = k
    # arrows typed into the program editor move the cursor, not the step
    typed = _step_now(page, ("ArrowRight", EDITOR_INPUT))
    assert typed["shown"] == "2" and typed["step"] == "2"
    # a stray key held down does not swallow the next arrow (the graph counts arrows itself)
    page.evaluate("document.body.dispatchEvent(new KeyboardEvent('keydown', "
                  "{key: 'x', bubbles: true}))")
    passed = _step_now(page, ("ArrowRight", "document.body"))
    assert (passed["shown"], passed["step"]) == ("3", "2")
    _confirmed(page, 3)
    page.close()


def test_a_burst_of_key_presses_loses_none(server, browser):
    """Five → presses 50 ms apart move five steps, as a lecturer's clicker sends them."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_link(server))  # the neuron, at step 2
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(WHOLE, timeout=60_000)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    _confirmed(page, 2)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        time.sleep(0.05)
    _confirmed(page, 7)
    time.sleep(1.0)  # and it stays there: no late press moves it on
    assert "Step 7 of" in page.evaluate("document.body.innerText")
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
        time.sleep(0.05)
    _confirmed(page, 4)
    page.close()


def test_click_a_node_for_its_details_and_pan_and_zoom(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server)
    page.wait_for_selector(GRAPH, timeout=90_000)
    # click PowBackward0 (n1): selection goes back to Python, the details panel opens
    page.locator(f"{VIEW} g#n1").click()
    page.get_by_text("Selected:").wait_for(timeout=30_000)
    page.wait_for_function("document.body.innerText.includes('O.grad_fn.next_functions[0][0]')",
                           timeout=30_000)
    page.locator(f"{VIEW} g#n1.selected").wait_for(timeout=30_000)
    page.get_by_role("button", name="Go to step 2").click()
    page.locator(VIEW).scroll_into_view_if_needed()  # the step column may have scrolled
    page.wait_for_function("document.body.innerText.includes('Step 2 of 3')", timeout=30_000)
    # wheel zooms in around the pointer, drag pans: the viewBox changes, the layout not
    boxes = page.locator(VIEW).evaluate(BOXES)
    canvas = page.locator(f"{VIEW} .av-canvas").bounding_box()
    x, y = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    start = _state(page)["viewBox"]
    page.mouse.move(x, y)
    page.mouse.wheel(0, -300)
    zoomed = _until(lambda: _state(page)["viewBox"], lambda v: v != start)
    assert zoomed != start and float(zoomed.split()[2]) < float(start.split()[2])
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 60, steps=6)
    page.mouse.up()
    panned = _until(lambda: _state(page)["viewBox"], lambda v: v != zoomed)
    (x0, y0, w0, _), (x1, y1, w1, _) = (map(float, v.split()) for v in (zoomed, panned))
    assert w1 == w0 and x1 < x0 and y1 < y0  # dragged right/down: the view moved left/up
    page.get_by_role("button", name="Fit").click()
    assert page.locator(VIEW).evaluate(BOXES) == boxes
    assert page.get_by_text("Step 2 of 3").count() >= 1  # a drag is not a click: no rerun
    page.close()


def test_a_big_graph_is_folded_and_a_summary_opens_on_click(server, browser):
    from autoviz.lesson.presets import PRESETS
    from autoviz.lesson.share import View, to_params

    deep = PRESETS["deep"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server + "/?" + urlencode(to_params(View(code=deep.code, root=deep.root))))
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.get_by_text("Showing 300 boxes for 1,003 nodes").wait_for(timeout=30_000)
    assert page.locator(GRAPH).count() == 300
    summaries = page.locator(f"{VIEW} g.node.summary")
    first = summaries.first.get_attribute("id")
    assert summaries.count() >= 2 and first.startswith("s")
    held = summaries.first.text_content()
    summaries.first.click()  # expand it: its nodes come back, the rest folds again
    page.locator(f"{VIEW} g#n{first[1:]}").wait_for(timeout=60_000)
    assert page.locator(f"{VIEW} g#{first}").count() == 0
    assert "nodes" in held
    # stepping still works on the big graph: End puts the current step on a drawn box
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("End")
    page.wait_for_function("document.body.innerText.includes('Step 802 of 802')",
                           timeout=30_000)
    page.locator(f"{VIEW} g.node.current").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "deep_folded.png"))
    page.close()


def test_a_step_does_not_send_the_picture_again_and_a_new_mount_gets_it(server, browser):
    from autoviz.lesson.presets import PRESETS
    from autoviz.lesson.share import View, to_params

    deep = PRESETS["deep"]  # 300 boxes: a ~400 kB SVG
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(len(payload))))
    page.goto(server + "/?" + urlencode(to_params(View(code=deep.code, root=deep.root))))
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(WHOLE, timeout=60_000)  # the whole page is in
    assert max(frames) > 300_000  # the picture came once
    page.evaluate("document.activeElement && document.activeElement.blur()")
    frames.clear()
    page.keyboard.press("ArrowRight")
    page.locator(f"{VIEW}[data-step='1']").wait_for(timeout=30_000)
    assert frames and max(frames) < 100_000, frames  # states only
    # the classic view, then the interactive one again: a new mount asks for the picture
    page.get_by_text("Graph display").click()
    page.get_by_text("Classic", exact=True).click()
    page.wait_for_selector("[data-testid=stGraphVizChart] svg g.node", timeout=60_000)
    page.get_by_text("Interactive", exact=True).click()
    page.wait_for_selector(GRAPH, timeout=60_000)
    assert page.locator(GRAPH).count() == 300
    page.close()


def test_a_view_whose_script_never_runs_still_gets_the_rest_of_the_page(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server + "/?fail_view=silent")
    page.get_by_text("Loading…").wait_for(timeout=90_000)  # the first, graph-only run
    # nothing says "drawn": the server's timer sends the rest
    page.wait_for_selector(WHOLE, timeout=30_000)
    page.get_by_text("Expression form").wait_for(timeout=30_000)
    page.close()


def test_when_the_interactive_view_fails_the_classic_chart_takes_over(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server + "/?fail_view=1")
    page.wait_for_selector("[data-testid=stGraphVizChart] svg g.node", timeout=90_000)
    page.get_by_text("The interactive view failed in this browser (failing on purpose)").wait_for(
        timeout=30_000)
    texts = page.locator("[data-testid=stGraphVizChart] svg g.node").all_text_contents()
    assert any("MulBackward0" in t for t in texts)
    page.keyboard.press("ArrowRight")  # stepping goes on in the classic view
    page.wait_for_function("document.body.innerText.includes('Step 1 of 3')", timeout=30_000)
    # the view said "failed" instead of "drawn": the rest of the page came all the same
    page.wait_for_selector(WHOLE, timeout=30_000)
    page.get_by_text("Expression form").wait_for(timeout=30_000)
    page.close()


def test_on_a_phone_the_stepper_is_a_bar_at_the_bottom_of_the_screen(server, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(_link(server))
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(WHOLE, timeout=60_000)
    bar = page.locator(".st-key-stepper").bounding_box()
    graph = page.locator(VIEW).bounding_box()
    assert bar and graph and bar["y"] + bar["height"] <= 844 and bar["y"] > 700, bar
    assert graph["y"] < 844  # the graph and the Next button on one screen
    page.locator(".st-key-next button").click()
    _confirmed(page, 3)
    page.close()


def test_projector_mode_fills_the_screen_and_the_mlp_reads_from_the_back_row(server, browser):
    from autoviz.lesson.presets import PRESETS
    from autoviz.lesson.share import View, to_params

    mlp = PRESETS["mlp"]
    query = urlencode(to_params(View(code=mlp.code, root=mlp.root, step=3, projector=True)))
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server}/?{query}")
    page.wait_for_selector(GRAPH, timeout=90_000)
    time.sleep(1.0)
    found = page.locator(VIEW).evaluate("""root => {
        const hs = [...root.querySelectorAll('svg g.node text')]
            .map(t => t.getBoundingClientRect().height).filter(h => h > 0);
        return {min: Math.min(...hs), box: root.getBoundingClientRect().height,
                bottom: root.getBoundingClientRect().bottom};
    }""")
    assert found["min"] >= 18, found  # on-screen label height, px
    assert found["box"] >= 900 and found["bottom"] <= 1080, found  # the screen, not 560 px
    page.close()


def test_the_program_is_on_screen_with_the_graph_and_the_step_and_they_point_at_each_other(
        server, browser):
    """At 1280x800: the graph, the numbered program and the step panel in one view; the
    current step's forward line is marked; a line's click marks its nodes, a node's click
    its line."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_link(server))  # the neuron, at step 2
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(".pv-root[data-ready] .pv-line", timeout=60_000)
    for selector in (VIEW, ".pv-root", "text=Step 2 of"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] < 800 and box["x"] + box["width"] <= 1280, selector
    current = page.locator(".pv-line.current")
    assert current.count() == 1 and "x1*w1 + x2*w2" in current.inner_text()  # n's line
    line = page.locator(".pv-line", has_text="torch.tanh(n)").first
    line.scroll_into_view_if_needed()  # within the editor's box, if it scrolls
    box = page.locator(".pv-root").bounding_box()
    tanh = line.bounding_box()
    assert box["y"] + box["height"] <= 800 and tanh["y"] + tanh["height"] <= 800  # on screen
    page.mouse.click(tanh["x"] + 40, tanh["y"] + tanh["height"] / 2)  # the caret, on that line
    page.wait_for_function("() => [...document.querySelectorAll('*')].some(e => e.shadowRoot"
                           " && e.shadowRoot.querySelector('g.node.marked'))", timeout=30_000)
    marked = page.locator("g.node.marked")
    assert marked.count() == 1 and "TanhBackward0" in marked.first.text_content()
    page.locator(GRAPH, has_text="MulBackward0").first.click()
    page.wait_for_function("() => [...document.querySelectorAll('*')].some(e => e.shadowRoot"
                           " && (e.shadowRoot.querySelector('.pv-line.selected') || {})"
                           ".textContent?.includes('x1*w1'))", timeout=30_000)
    assert "x1*w1" in page.locator(".pv-line.selected").inner_text()  # the Mul's line
    page.close()


def test_the_editor_runs_what_is_typed_and_marks_the_line_that_fails(server, browser):
    """Typing marks the editor "edited"; Ctrl+Enter runs it (the graph follows); a line that
    fails is marked in the editor, and the graph of the last program that ran is stale."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server + "/")
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(WHOLE, timeout=60_000)
    editor = page.locator(".pv-input")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nP = O * a")
    assert page.locator(".pv-root.edited").count() == 1
    assert "edited: not run yet" in page.locator(".pv-state").inner_text()
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => [...document.querySelectorAll('*')].some(e => e.shadowRoot"
                           " && [...e.shadowRoot.querySelectorAll('g.node')].some("
                           "g => g.textContent.includes('P = O * a')))", timeout=60_000)
    assert page.locator(".pv-root.edited").count() == 0
    lines = page.locator(".pv-line").all_inner_texts()
    assert page.locator(".pv-no").count() == len(lines)  # a number per line
    assert lines[-1].strip() == "P = O * a"
    page.keyboard.type("\nQ = P.nope()")
    page.keyboard.press("Control+Enter")
    page.get_by_text(f"Line {len(lines) + 1} fails").wait_for(timeout=60_000)
    failing = page.locator(".pv-line.failing")
    failing.wait_for(timeout=30_000)
    assert "Q = P.nope()" in failing.inner_text()
    assert page.locator(".pv-no.failing").inner_text() == str(len(lines) + 1)
    page.get_by_text("Stale:").wait_for(timeout=30_000)
    assert page.locator(GRAPH, has_text="P = O * a").count() == 1  # the last good graph
    page.close()


def test_arrow_keys_step_after_a_toggle_multiselect_was_used(server, browser):
    """A toggle picked in the Toggles menu leaves the focus in its multiselect: → still
    steps (the list is closed, its filter empty)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_link(server))  # the neuron, at step 2
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_selector(WHOLE, timeout=60_000)
    page.get_by_role("button", name="Toggles").click()
    box = page.locator(".st-key-retain_grad input")
    box.click()
    page.get_by_role("option", name="n", exact=True).click()
    page.keyboard.press("Escape")  # the list closes; the focus stays in the input
    page.wait_for_function("document.body.innerText.includes('Toggles (1 on)')",
                           timeout=60_000)
    page.wait_for_function("document.body.innerText.includes('Step 0 of')", timeout=30_000)
    focused = page.evaluate("document.activeElement && document.activeElement.getAttribute("
                            "'role')")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.body.innerText.includes('Step 1 of')", timeout=30_000)
    assert focused in ("combobox", None)
    page.close()


def test_slide_mode_fills_the_frame_with_the_graph_the_stepper_and_the_step(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_link(server, slide="1"))
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_function("document.body.innerText.includes('Step 2 of')", timeout=30_000)
    box = page.locator(VIEW).bounding_box()
    assert box["height"] >= 700 and box["y"] + box["height"] <= 800, box  # the frame's height
    assert page.locator("[data-testid=stSidebar]").count() == 0 or not page.locator(
        "[data-testid=stSidebar]").is_visible()
    assert page.locator(".pv-root").count() == 0  # no editor
    assert page.locator(".st-key-next button").is_visible()
    page.close()
