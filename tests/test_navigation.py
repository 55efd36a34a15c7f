"""Big graphs navigable (issue 13, item 7): Current and an opened summary box land at a
readable scale, an overview shows the whole graph, a drag moves the picture and writes the
viewBox once. Measured in a real chromium against the real server (tests/test_browser.py's
fixtures)."""

import time
from urllib.parse import urlencode

import pytest
import test_browser
from test_browser import GRAPH, VIEW

pytestmark = pytest.mark.browser
server = test_browser.server  # the fixtures: one server and one chromium per module
browser = test_browser.browser

READABLE = {False: 14, True: 18}  # on-screen label height, px (projector: True)

# where things are on screen, measured in the page (the view lives in a shadow root)
GEOMETRY = """root => {
    const rect = e => { const r = e.getBoundingClientRect();
                        return {x: r.x, y: r.y, w: r.width, h: r.height}; };
    const nodes = {};
    for (const g of root.querySelectorAll('svg g.node')) {
        const texts = [...g.querySelectorAll('text')].filter(t => t.textContent.trim())
            .map(t => t.getBoundingClientRect().height);
        nodes[g.id] = {...rect(g), text: Math.min(...texts),
                       current: g.classList.contains('current')};
    }
    const mini = root.querySelector('.av-mini');
    return {canvas: rect(root.querySelector('.av-canvas')),
            graph: rect(root.querySelector('svg g.graph > polygon')),  // the whole layout
            viewBox: root.querySelector('svg').getAttribute('viewBox'),
            key: root.dataset.ready, nodes,
            mini: mini && !mini.hidden && getComputedStyle(mini).display !== 'none'
                ? rect(mini.querySelector('canvas')) : null};
}"""


def _deep(server, **view):
    from autoviz.lesson.presets import PRESETS
    from autoviz.lesson.share import View, to_params

    deep = PRESETS["deep"]
    return server + "/?" + urlencode(to_params(View(code=deep.code, root=deep.root, **view)))


def _open(browser, url, width=1280, height=800, **context):
    ctx = browser.new_context(viewport={"width": width, "height": height}, **context)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector(GRAPH, timeout=90_000)
    page.wait_for_function("document.body.innerText.includes('Step ')", timeout=60_000)
    time.sleep(0.5)  # the first view settles (fit, follow)
    return page


def _geometry(page):
    return page.locator(VIEW).evaluate(GEOMETRY)


def _until(read, ok, seconds=10.0):
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _inside(box, canvas, slack=1.0):
    return (box["x"] >= canvas["x"] - slack and box["y"] >= canvas["y"] - slack
            and box["x"] + box["w"] <= canvas["x"] + canvas["w"] + slack
            and box["y"] + box["h"] <= canvas["y"] + canvas["h"] + slack)


def _viewbox(text):
    return [float(v) for v in text.split()]


@pytest.mark.parametrize("projector", [False, True], ids=["page", "projector"])
def test_current_centres_the_step_at_a_readable_scale(server, browser, projector):
    """On a Fit of the deep graph the current box is specks; Current brings it to the middle
    at labels of 14 px (18 px in projector mode), whatever the zoom was."""
    size = (1920, 1080) if projector else (1280, 800)
    page = _open(browser, _deep(server, step=400, projector=projector), *size)
    page.get_by_role("button", name="Fit").click()
    fitted = _until(lambda: _geometry(page), lambda g: _viewbox(g["viewBox"])[2] > 5000)
    current = [i for i, n in fitted["nodes"].items() if n["current"]]
    assert len(current) == 1
    assert fitted["nodes"][current[0]]["text"] < 5  # specks
    page.get_by_role("button", name="Current").click()
    shown = _until(lambda: _geometry(page), lambda g: g["viewBox"] != fitted["viewBox"])
    node, canvas = shown["nodes"][current[0]], shown["canvas"]
    assert node["text"] >= READABLE[projector], node
    assert _inside(node, canvas), (node, canvas)
    # in the middle of the view
    assert abs(node["x"] + node["w"] / 2 - (canvas["x"] + canvas["w"] / 2)) < 2
    assert abs(node["y"] + node["h"] / 2 - (canvas["y"] + canvas["h"] / 2)) < 2
    page.context.close()


def _mini_click(page, geometry, box):
    """Click the overview where ``box`` (on screen, in the picture) is."""
    graph, mini = geometry["graph"], geometry["mini"]
    cx = (box["x"] + box["w"] / 2 - graph["x"]) / graph["w"]
    cy = (box["y"] + box["h"] / 2 - graph["y"]) / graph["h"]
    page.mouse.click(mini["x"] + cx * mini["w"], mini["y"] + cy * mini["h"])


def test_an_opened_summary_box_stays_in_view_at_a_readable_scale(server, browser):
    page = _open(browser, _deep(server))
    before = _geometry(page)
    root = min(before["nodes"], key=lambda i: before["nodes"][i]["y"])  # the top box
    assert _inside(before["nodes"][root], before["canvas"])  # the first view: at the root
    # the deepest summary box, far from the root: the overview takes the view there
    deepest = max((i for i in before["nodes"] if i.startswith("s")),
                  key=lambda i: before["nodes"][i]["y"])
    _mini_click(page, before, before["nodes"][deepest])
    there = _until(lambda: _geometry(page), lambda g: g["viewBox"] != before["viewBox"])
    assert _inside(there["nodes"][deepest], there["canvas"])
    page.locator(f"{VIEW} g#{deepest}").click()
    page.locator(f"{VIEW} g#n{deepest[1:]}").wait_for(timeout=60_000)  # laid out again
    time.sleep(0.3)
    after = _geometry(page)
    assert after["key"] != before["key"] and deepest not in after["nodes"]
    held = [i for i in after["nodes"] if i not in before["nodes"] and not i.startswith("s")]
    assert len(held) > 10  # what the box held, drawn now
    canvas = after["canvas"]
    seen = [i for i in held if _inside(after["nodes"][i], canvas)]
    # the view is on them, not back at the root, and they read
    assert f"n{deepest[1:]}" in seen and len(seen) >= 3, seen
    assert not _inside(after["nodes"][root], canvas)
    assert all(after["nodes"][i]["text"] >= READABLE[False] for i in seen)
    # every node on screen is one the box held (or touches it)
    on_screen = [i for i, n in after["nodes"].items() if _inside(n, canvas)]
    assert len(set(on_screen) & set(held)) >= len(on_screen) / 2, (on_screen, held)
    page.context.close()


def test_the_overview_shows_a_big_graph_and_moves_the_view(server, browser):
    small = _open(browser, server)  # the landing page's 3 nodes: no overview
    assert _geometry(small)["mini"] is None
    small.context.close()

    page = _open(browser, _deep(server))
    g = _geometry(page)
    mini, canvas = g["mini"], g["canvas"]
    assert mini is not None
    assert 20 <= mini["w"] <= 160 and 20 <= mini["h"] <= 120, mini
    assert _inside(mini, canvas)  # in the view's corner
    # a click: the view's middle goes to that point of the graph (same zoom)
    x, y = mini["x"] + mini["w"] * 0.5, mini["y"] + mini["h"] * 0.8
    page.mouse.click(x, y)
    moved = _until(lambda: _geometry(page), lambda v: v["viewBox"] != g["viewBox"])
    assert _viewbox(moved["viewBox"])[2] == _viewbox(g["viewBox"])[2]
    graph = moved["graph"]  # the picture's point now in the middle of the view
    mid_x = (canvas["x"] + canvas["w"] / 2 - graph["x"]) / graph["w"]
    mid_y = (canvas["y"] + canvas["h"] / 2 - graph["y"]) / graph["h"]
    assert abs(mid_x - 0.5) < 0.02 and abs(mid_y - 0.8) < 0.02, (mid_x, mid_y)
    # a drag on it moves the view along, and the rectangle in view follows
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, mini["y"] + mini["h"] * 0.3, steps=8)
    page.mouse.up()
    dragged = _until(lambda: _geometry(page), lambda v: v["viewBox"] != moved["viewBox"])
    graph = dragged["graph"]
    mid_y = (canvas["y"] + canvas["h"] / 2 - graph["y"]) / graph["h"]
    assert abs(mid_y - 0.3) < 0.02, mid_y
    frame = page.locator(f"{VIEW} .av-mini-view").bounding_box()
    assert frame and abs(frame["y"] + frame["height"] / 2 - (mini["y"] + mini["h"] * 0.3)) < 3
    # Fit shows the whole graph: no overview then
    page.get_by_role("button", name="Fit").click()
    assert _until(lambda: _geometry(page)["mini"], lambda m: m is None) is None
    page.context.close()


COUNT_VIEWBOX = """root => {
    const svg = root.querySelector('svg');
    window.__writes = 0;
    new MutationObserver(ms => { window.__writes += ms.filter(
        m => m.attributeName === 'viewBox').length; }).observe(svg, {attributes: true});
}"""


WHEEL_BURST = """(root, [x, y]) => {
    const canvas = root.querySelector('.av-canvas');
    for (let i = 0; i < 6; i++)  // as a mouse wheel's notches come: one after another
        canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: 120, clientX: x, clientY: y,
                                                      bubbles: true, cancelable: true}));
    return {writes: window.__writes,
            viewBox: root.querySelector('svg').getAttribute('viewBox')};
}"""


def test_a_drag_moves_the_picture_and_writes_the_viewbox_once_at_the_end(server, browser):
    page = _open(browser, _deep(server, budget=0))  # every one of the 1,003 nodes drawn
    assert page.locator(GRAPH).count() > 1000
    page.locator(VIEW).evaluate(COUNT_VIEWBOX)
    start = _geometry(page)
    canvas = start["canvas"]
    x0, y0, w0, h0 = _viewbox(start["viewBox"])
    scale = page.locator(VIEW).evaluate(
        "root => root.querySelector('.av-canvas').clientWidth") / w0
    probe = next(i for i, n in start["nodes"].items() if _inside(n, canvas))
    x, y = canvas["x"] + canvas["w"] / 2, canvas["y"] + canvas["h"] / 2
    moves, dx, dy = 40, -120, -200
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, moves + 1):
        page.mouse.move(x + dx * i / moves, y + dy * i / moves)
    during = _geometry(page)
    assert page.evaluate("window.__writes") == 0  # nothing written while dragging...
    assert during["viewBox"] == start["viewBox"]
    # ...yet the picture moved with the pointer (a transform)
    assert abs(during["nodes"][probe]["x"] - start["nodes"][probe]["x"] - dx) < 1.5
    assert abs(during["nodes"][probe]["y"] - start["nodes"][probe]["y"] - dy) < 1.5
    page.mouse.up()
    end = _until(lambda: _geometry(page), lambda g: g["viewBox"] != start["viewBox"])
    assert page.evaluate("window.__writes") == 1  # once, at the end
    x1, y1, w1, h1 = _viewbox(end["viewBox"])
    # where writing it on every move would have got: the drag's whole delta
    assert (w1, h1) == (w0, h0)
    assert abs(x1 - (x0 - dx / scale)) < 0.02 and abs(y1 - (y0 - dy / scale)) < 0.02
    # and the picture is where it was at the end of the drag, now without a transform
    assert abs(end["nodes"][probe]["x"] - during["nodes"][probe]["x"]) < 1.5
    assert abs(end["nodes"][probe]["y"] - during["nodes"][probe]["y"]) < 1.5
    # a burst of wheel events: one write too, a short while after the last
    burst = page.locator(VIEW).evaluate(WHEEL_BURST, [x, y])
    assert burst["writes"] == 1 and burst["viewBox"] == end["viewBox"]
    zoomed = _until(lambda: _geometry(page), lambda g: g["viewBox"] != end["viewBox"])
    assert _viewbox(zoomed["viewBox"])[2] > w1  # zoomed out
    assert page.evaluate("window.__writes") == 2
    page.context.close()


KEY_HINTS = ("(+)", "(−)", "(-)", "←", "→", "key", "Arrow", "Ctrl", "Shift")

HINTS = """root => [...root.querySelectorAll('*')]
    .filter(e => !e.closest('svg'))  // the graph's own labels are no hints
    .flatMap(e => [e.getAttribute('title'), e.getAttribute('aria-label'),
                   e.children.length ? null : e.textContent])
    .filter(Boolean)"""


def test_no_key_hints_from_the_view_on_a_touch_screen(server, browser):
    desk = _open(browser, server)
    hints = desk.locator(VIEW).evaluate(HINTS)
    assert any("(+)" in h for h in hints)  # a keyboard: the zoom keys are said
    desk.wait_for_selector(".st-key-keys", timeout=60_000)
    assert desk.locator(".st-key-keys").is_visible()  # "Keys: → next · ← back …"
    assert desk.locator(".st-key-stepper kbd").first.is_visible()  # Home / End
    desk.context.close()

    page = _open(browser, server, 390, 844, has_touch=True, is_mobile=True)
    assert page.evaluate("matchMedia('(hover: none) and (pointer: coarse)').matches")
    hints = page.locator(VIEW).evaluate(HINTS)
    assert hints and not [h for h in hints if any(k in h for k in KEY_HINTS)], hints
    page.wait_for_selector(".st-key-stepper kbd", state="attached", timeout=60_000)
    assert not page.locator(".st-key-stepper kbd").first.is_visible()  # no Home / End
    assert page.locator(".st-key-keys").count() == 0 or not page.locator(
        ".st-key-keys").is_visible()  # no "Keys: → next …" either
    page.context.close()


def test_the_zoom_keys_zoom(server, browser):
    page = _open(browser, server)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    start = _geometry(page)["viewBox"]
    page.keyboard.press("+")
    zoomed = _until(lambda: _geometry(page)["viewBox"], lambda v: v != start)
    assert _viewbox(zoomed)[2] < _viewbox(start)[2]
    page.keyboard.press("-")
    back = _until(lambda: _geometry(page)["viewBox"], lambda v: v != zoomed)
    assert abs(_viewbox(back)[2] - _viewbox(start)[2]) < 0.05
    page.context.close()
