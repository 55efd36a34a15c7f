"""The interactive view's library side: folding under a node budget, the per-step state
(held equal to study.frame, the reference), server-side layout; and the page wiring."""

import re
from pathlib import Path

import pytest
import torch
from pagetest import set_code
from reference import fold_status, folded_frame, frame
from streamlit.testing.v1 import AppTest

from autoviz.autograd.graph import extract_graph
from autoviz.drawing import layout
from autoviz.drawing.collapse import collapse
from autoviz.drawing.render import to_dot
from autoviz.drawing.scene import (
    current_id,
    make_scene,
    neighbours,
    step_frame,
    step_state,
    timeline_scene,
)
from autoviz.lesson.lab import make_study
from autoviz.lesson.presets import PRESETS

APP = str(Path(__file__).resolve().parents[1] / "page.py")


@pytest.fixture(scope="module")
def deep():
    return make_study(PRESETS["deep"].code, "loss")


@pytest.fixture(scope="module")
def chain():
    return make_study(PRESETS["chain"].code, "y")


def _accounted(graph, folded):
    """Every node is drawn or held by exactly one summary; edges map onto drawn edges."""
    drawn = {n.id for n in folded.graph.nodes}
    held = [m for f in folded.folds for m in f.members]
    assert len(held) == len(set(held))
    assert drawn.isdisjoint(held)
    assert drawn | set(held) == {f.id for f in folded.folds} | {n.id for n in graph.nodes}
    pairs = {(e.src, e.dst) for e in folded.graph.edges}
    for edge in graph.edges:
        src, dst = folded.shown_as(edge.src), folded.shown_as(edge.dst)
        assert src == dst or (src, dst) in pairs


def test_under_the_budget_nothing_is_folded():
    study = make_study(PRESETS["mlp"].code, "loss")
    folded = collapse(study.graph, 300)
    assert folded.graph is study.graph and not folded.folds and folded.describe() == ""
    assert collapse(study.graph, 0).graph is study.graph  # 0: no budget


def test_a_long_chain_folds_into_one_summary_keeping_root_and_leaf(chain):
    graph = chain.graph
    assert len(graph.nodes) == 10_001  # 5,000 MulBackward0, their 5,000 None inputs, ...
    folded = collapse(graph, 300)
    _accounted(graph, folded)
    assert len(folded.graph.nodes) <= 300
    (fold,) = folded.folds
    assert fold.kind == "chain" and fold.runnable == 4_999
    kept = {n.id for n in folded.graph.nodes}
    assert set(graph.roots) <= kept and {n.id for n in graph.leaves()} <= kept
    summary = folded.graph.node(fold.id)
    assert summary.kind == "summary"
    assert "⋯ chain of 9,998 nodes" in summary.name and "4,999× MulBackward0" in summary.name
    assert "1 chain (9,998 nodes) is folded into a summary box" in folded.describe()


def test_a_deep_network_folds_deep_stretches_to_the_budget(deep):
    graph = deep.graph
    for budget in (300, 120, 40):
        folded = collapse(graph, budget)
        _accounted(graph, folded)
        assert len(folded.graph.nodes) <= budget
        assert set(graph.roots) <= {n.id for n in folded.graph.nodes}
        assert any(f.kind == "band" for f in folded.folds)
        assert f"for {len(graph.nodes):,} nodes" in folded.describe()


def test_pinned_nodes_stay_drawn_and_their_fold_opens(deep):
    folded = collapse(deep.graph, 300)
    fold = folded.folds[-1]
    opened = fold.members[:50]
    again = collapse(deep.graph, 300, pinned=opened)
    _accounted(deep.graph, again)
    drawn = {n.id for n in again.graph.nodes}
    assert set(opened) <= drawn
    assert again.fold(fold.id) is None  # the summary that held them is gone


def test_leaves_stay_when_they_fit_in_half_the_budget():
    code = ("import torch\nx = torch.ones(3, requires_grad=True)\ny = x\n"
            "for i in range(400):\n    y = torch.sin(y)\nloss = y.sum()\n")
    study = make_study(code, "loss")
    folded = collapse(study.graph, 50)
    assert [n.id for n in study.graph.leaves()] == [
        n.id for n in folded.graph.nodes if n.kind == "leaf"]


@pytest.mark.parametrize("key", ["scalar", "neuron", "mlp", "deep", "chain"])
@pytest.mark.parametrize("budget", [0, 300, 30])
def test_step_state_is_the_reference_frame_folded(key, budget):
    """The view's per-step lookup gives exactly study.frame's status and notes, folded."""
    preset = PRESETS[key]
    study = make_study(preset.code, preset.root)
    trace = study.trace
    scene = make_scene(study.graph, trace, budget)
    n = len(trace.steps)
    for k in sorted({0, 1, 2, n // 3, n // 2, n - 1, n} | set(range(0, n + 1, max(1, n // 40)))):
        status, notes = folded_frame(scene, trace, k)
        expected = {i: [status.get(i), notes.get(i)] for i in set(status) | set(notes)}
        assert step_state(scene, trace, k) == expected, (key, budget, k)
        if not scene.collapsed.folds:
            shown = frame(trace, k)
            assert status == shown.status and notes == shown.notes
        # the current node is drawn, or the summary holding it is "current" and names it
        if k:
            holder = current_id(scene, trace, k)
            assert status[holder] == "current"
            if holder.startswith("s"):
                assert notes[holder].startswith(f"▶ step {k}: ")


@pytest.mark.parametrize("key", ["neuron", "mlp", "deep"])
@pytest.mark.parametrize("budget", [0, 30])
def test_the_neighbouring_steps_sent_ahead_are_exactly_those_steps(key, budget):
    """What the page shows on ←/→ before the rerun: step k's state with the change applied
    is step k±1's, and its current node is the one the server will name."""
    preset = PRESETS[key]
    study = make_study(preset.code, preset.root)
    trace = study.trace
    scene = make_scene(study.graph, trace, budget)
    n = len(trace.steps)
    for k in sorted({0, 1, n // 2, n - 1, n}):
        state = step_state(scene, trace, k)
        ahead = neighbours(scene, trace, k, state)
        assert set(ahead) == {str(j) for j in (k - 1, k + 1) if 0 <= j <= n}
        for j_text, sent in ahead.items():
            j = int(j_text)
            shown = {**state, **sent["change"]}
            assert {i: v for i, v in shown.items() if v != [None, None]} == step_state(
                scene, trace, j), (key, budget, k, j)
            assert sent["current"] == current_id(scene, trace, j)
            assert len(sent["change"]) < len(scene.graph.nodes)  # a change, not a picture


def test_a_summary_is_done_only_when_all_its_nodes_ran(chain):
    scene = make_scene(chain.graph, chain.trace, 300)
    (fold,) = scene.collapsed.folds
    n = len(chain.trace.steps)
    assert step_state(scene, chain.trace, n)[fold.id] == ["done", "all 4,999 ran"]
    assert step_state(scene, chain.trace, 100)[fold.id] == ["current",
                                                            "▶ step 100: MulBackward0"]
    assert fold.id not in step_state(scene, chain.trace, 0)
    status, _ = fold_status(scene.collapsed, {fold.members[0]: "pending"}, {})
    assert status == {fold.id: "pending"}


@pytest.mark.parametrize("key", ["scalar", "neuron", "mlp", "deep"])
def test_every_note_fits_the_line_laid_out_for_it(key):
    """Each drawn node is laid out with its longest note, so no step overflows a box."""
    preset = PRESETS[key]
    study = make_study(preset.code, preset.root)
    scene = make_scene(study.graph, study.trace, 300)
    labels = dict(re.findall(r'\t(\w+) \[label="((?:[^"\\]|\\.)*)"', scene.dot))
    for k in range(len(study.trace.steps) + 1):
        for node_id, (_, note) in step_state(scene, study.trace, k).items():
            if note:
                assert node_id in scene.slots, (k, node_id, note)
                room = labels[node_id].split("\\n")[-1]
                assert len(note) <= len(room), (k, node_id, note, room)


def test_the_layout_dot_has_no_step_state(deep):
    """Laid out once: the DOT given to Graphviz is the same whatever the step."""
    scene = make_scene(deep.graph, deep.trace, 300)
    assert "#ffca28" not in scene.dot and "dashed" not in scene.dot.split("->")[0]
    assert scene.dot == make_scene(deep.graph, deep.trace, 300).dot


def test_server_layout_has_stable_ids_and_is_cached():
    study = make_study(PRESETS["neuron"].code, "o")
    scene = make_scene(study.graph, study.trace, 300)
    svg = layout.layout_svg(scene.dot)
    assert svg.startswith("<svg") and "<?xml" not in svg
    ids = re.findall(r'<g id="([^"]+)" class="node">', svg)
    assert ids == [n.id for n in study.graph.nodes]
    assert re.findall(r'<g id="(e-n\d+-n\d+)" class="edge">', svg)
    assert layout.layout_svg(scene.dot) is svg  # the cache
    positions = layout.node_positions(svg)
    assert set(positions) == set(ids) and all(positions.values())


def _drawn_texts(svg: str) -> list[tuple]:
    """Every text as drawn: its content and position and the attributes it ends up with
    (its own, or inherited from its ancestors, as SVG does)."""
    import xml.etree.ElementTree as ET

    space = "{http://www.w3.org/XML/1998/namespace}space"
    names = ("text-anchor", "font-family", "font-size", "fill", space)
    out = []

    def walk(element, inherited):
        here = {**inherited, **{n: element.get(n) for n in names if element.get(n)}}
        if element.tag.endswith("}text"):
            out.append((element.text, element.get("x"), element.get("y"),
                        *(here.get(n) for n in names)))
        for child in element:
            walk(child, here)

    walk(ET.fromstring(svg), {})
    return out


@pytest.mark.parametrize("key,large", [("neuron", False), ("neuron", True), ("deep", False)])
def test_the_compacted_svg_draws_every_text_as_graphviz_did(key, large):
    import pygraphviz

    study = make_study(PRESETS[key].code, PRESETS[key].root)
    scene = make_scene(study.graph, study.trace, 300, large=large)
    raw = pygraphviz.AGraph(string=scene.dot).draw(format="svg", prog="dot").decode()
    raw = raw[raw.index("<svg"):]
    compact = layout.compact_svg(raw)
    assert len(compact) < 0.8 * len(raw)
    assert "<title>" not in compact and "<!--" not in compact
    texts = _drawn_texts(raw)
    assert texts and _drawn_texts(compact) == texts
    shapes = re.compile(r' (?:points|d|x|y|cx|cy)="[^"]*"')
    assert shapes.findall(compact) == shapes.findall(raw) and shapes.findall(raw)


def test_layout_errors_are_layout_errors():
    with pytest.raises(layout.LayoutError, match="Graphviz could not lay out"):
        layout.layout_svg("digraph { a -> }")
    big = "digraph {" + ";".join(f"n{i}" for i in range(layout.MAX_LAYOUT_NODES + 1)) + "}"
    with pytest.raises(layout.LayoutError, match="laid out on the server"):
        layout.layout_svg(big)


def test_user_text_in_labels_cannot_become_markup():
    """Names and values reach the SVG only as escaped text: no element, no attribute."""
    x = torch.ones(2, requires_grad=True)
    y = (x * 2).sum()
    names = {'<script>alert(1)</script>': x, '" onload="alert(1)': y}
    svg = layout.layout_svg(to_dot(extract_graph(y, names=names)))
    assert "<script" not in svg and 'onload="' not in svg
    assert "&lt;script&gt;" in svg


# --- the page ------------------------------------------------------------------------------

def _graph_views(at):
    """The page's graph views (the program view beside it is a component too)."""
    return [e for e in at.get("bidi_component") if e.key == "graph_view"]


def _view(at):
    import json

    (element,) = _graph_views(at)
    return json.loads(element.proto.json)


@pytest.fixture
def page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_the_page_sends_the_laid_out_svg_and_steps_by_state_only(page):
    data = _view(page)
    assert "MulBackward0" in data["svg"] and data["step"] == 0
    assert data["state"] == {"n0": ["pending", None]}
    key = data["key"]
    page.button(key="next").click().run()
    data = _view(page)
    assert data["key"] == key and data["step"] == 1  # same SVG: no new layout
    assert data["svg"] is None  # ...and it is not sent again
    assert data["state"]["n0"] == ["current", "got [1.]"] and data["current"] == "n0"
    assert not page.get("graphviz_chart")


def test_a_selected_node_shows_its_details_and_its_step(page):
    page.session_state["selected"] = "n2"  # what a click on the None input sends back
    page.run()
    text = "\n".join(m.value for m in page.markdown)
    assert "`O.grad_fn.next_functions[1][0]`, which is `(None, 0)`" in text
    page.session_state["selected"] = "n3"  # the leaf
    page.run()
    text = "\n".join(m.value for m in page.markdown)
    assert "**Selected:** `AccumulateGrad` — `a`" in text
    assert "O.grad_fn.next_functions[0][0].next_functions[0][0]" in text
    page.button(key="goto_selected").click().run()
    assert page.session_state.step == 3
    page.button(key="unselect").click().run()
    assert "Selected:" not in "\n".join(m.value for m in page.markdown)


def test_a_big_program_is_folded_and_show_all_lifts_the_budget(page):
    set_code(page, PRESETS["deep"].code)
    captions = "\n".join(c.value for c in page.caption)
    assert "Showing 300 boxes for 1,003 nodes" in captions
    assert _view(page)["svg"].count('class="node"') == 300
    page.button(key="show_all").click().run()
    assert page.session_state.budget == 0
    assert _view(page)["svg"].count('class="node"') == 1_003
    assert "Showing" not in "\n".join(c.value for c in page.caption)


def test_the_classic_view_is_the_fallback(page):
    page.session_state["view"] = "classic"
    page.run()
    assert not _graph_views(page)
    assert "MulBackward0" in page.get("graphviz_chart")[0].proto.spec


@pytest.mark.parametrize("key", ["scalar", "neuron", "mlp", "deep"])
def test_the_classic_views_state_is_the_reference_frame(key):
    """The classic view restyles the unfolded graph from the same timeline as the
    interactive one: at every step, exactly the reference replay's status and notes."""
    preset = PRESETS[key]
    study = make_study(preset.code, preset.root)
    scene = timeline_scene(study.graph, study.trace)
    for k in range(len(study.trace.steps) + 1):
        shown = frame(study.trace, k)
        assert step_frame(scene, study.trace, k) == (shown.status, shown.notes), (key, k)


def test_a_node_shows_at_most_six_numbers_and_its_details_all_of_them():
    from autoviz.data import brief
    from autoviz.drawing.render import to_dot
    from autoviz.lesson.lab import make_study

    study = make_study("import torch\nb2 = torch.arange(10.0, requires_grad=True)\n"
                       "y = (b2 * 2).sum()\n", "y")
    dot = to_dot(study.graph)
    assert "(10,) [0., 1., 2., 3., 4., 5., …]" in dot
    assert "6., 7." not in dot  # the rest is in the node's details
    leaf = next(n for n in study.graph.nodes if n.kind == "leaf")
    assert leaf.tensor.value == "[0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]"
    assert brief("(100, 100) float32", (100, 100)) == "(100, 100) float32"
    assert brief("[[1., 2.], [3., 4.]]", (2, 2)) == "[[1., 2.], [3., 4.]]"
