"""The interactive graph view: server-laid-out SVG in a Streamlit component (v2, no build).

Pan and zoom (wheel, drag, pinch, buttons), click a node to select it, click a summary to
expand it. The SVG goes to the page once per layout (by its key); a step sends new node
states only, and only styles change.
"""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path

import streamlit as st

from autoviz.drawing.collapse import DEFAULT_BUDGET
from autoviz.drawing.layout import MAX_LAYOUT_NODES, layout_svg
from autoviz.drawing.scene import Scene, current_id, make_scene, neighbours, step_state
from autoviz.lesson.study import Study
from ui import programview
from ui.loading import want_rest

_HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component(
    "autoviz_graph", js=(_HERE / "graphview.js").read_text(),
    css=(_HERE / "graphview.css").read_text())

_scenes: dict[tuple, tuple[weakref.ref, Scene, str, str]] = {}
_SCENES = 32


def budget() -> int:
    """The node budget in force: the user's, capped at what the server lays out."""
    chosen = int(st.session_state.get("budget", DEFAULT_BUDGET))
    return MAX_LAYOUT_NODES if chosen <= 0 else min(chosen, MAX_LAYOUT_NODES)


def pinned(study: Study) -> frozenset[str]:
    """Nodes the user expanded, for this program only (ids mean nothing in another)."""
    held = st.session_state.get("expanded") or {}
    return frozenset(held.get("ids", ())) if held.get("source") == study.source else frozenset()


def scene_for(study: Study, large: bool, saved: bool) -> tuple[Scene, str, str]:
    """The study's scene, its laid-out SVG and the SVG's key (a hash), built once per
    (study, choices)."""
    assert study.graph is not None
    key = (id(study), budget(), pinned(study), saved, large)
    hit = _scenes.get(key)
    if hit is not None and hit[0]() is study:
        return hit[1], hit[2], hit[3]
    scene = make_scene(study.graph, study.trace, budget(), pinned(study), saved, large)
    svg = layout_svg(scene.dot)
    svg_key = hashlib.sha1(svg.encode()).hexdigest()[:16]
    _scenes[key] = (weakref.ref(study), scene, svg, svg_key)
    while len(_scenes) > _SCENES:
        _scenes.pop(next(iter(_scenes)))
    return scene, svg, svg_key


def _failed() -> None:
    value = st.session_state.get("graph_view")
    message = getattr(value, "failed", None) if value is not None else None
    if message:
        st.session_state.view = "classic"
        st.session_state.view_error = str(message)[:300]
        want_rest()  # the classic chart is drawn in this rerun: the rest may follow


def _step_to() -> None:
    """←/→ in the browser: the step the presses so far reached (the stepper bounds it)."""
    value = st.session_state.get("graph_view")
    target = getattr(value, "step_to", None) if value is not None else None
    if isinstance(target, (int, float)) and not isinstance(target, bool):
        st.session_state.step = max(0, int(target))


def _clicked(study: Study, scene: Scene) -> None:
    value = st.session_state.get("graph_view")
    node_id = getattr(value, "clicked", None) if value is not None else None
    if not node_id:
        return
    fold = scene.collapsed.fold(node_id)
    if fold is not None:
        # open at most half a budget's worth at a time, from the end nearest the root: the
        # rest folds again, so one click never hands Graphviz 10,000 nodes
        opened = fold.members[: max(1, budget() // 2)]
        ids = set(pinned(study)) | set(opened)
        st.session_state.expanded = {"source": study.source, "ids": sorted(ids)}
        # the view keeps these in sight once the new layout comes (key: that layout's)
        st.session_state.graph_opened = {"ids": list(opened), "key": None}
    elif study.graph is not None and node_id in study.graph.by_id:
        st.session_state.selected = node_id
        st.session_state.selected_line = None  # the node's own line shows instead


def show(study: Study, k: int, height: int, large: bool, saved: bool,
         fill: bool = False) -> Scene:
    """Mount the view for step ``k``; raises ``LayoutError`` if Graphviz fails."""
    scene, svg, key = scene_for(study, large, saved)
    s = st.session_state
    selected = s.get("selected")
    state = step_state(scene, study.trace, k)
    picture = None if s.get("svg_sent") == key else svg
    data = {
        # the picture goes once per session and layout (up to ~1.4 MB at 1,000 nodes);
        # a step sends only states. A view that lacks it asks (need_svg).
        "svg": picture,
        # with the picture a summary's click made, the nodes it opened (kept in view)
        "opened": _opened(scene, key) if picture is not None else [],
        "key": key,
        "state": state,
        # steps k-1 and k+1, shown at once on ←/→ or Prev/Next, before the rerun lands
        "ahead": neighbours(scene, study.trace, k, state),
        "slots": list(scene.slots),
        "selected": selected if selected in scene.graph.by_id else None,
        # the nodes of the line clicked in the program view
        "marked": [n for n in programview.nodes_of(study, s.get("selected_line"))
                   if n in scene.graph.by_id],
        "current": current_id(scene, study.trace, k),
        "roots": list(scene.graph.roots),
        "step": k,
        "last": len(study.trace.steps) if study.trace else 0,
        "follow": True,
        "height": height,
        "large": large,
        "fill": fill or large,  # as tall as the screen below it
        "first": bool(s.get("graph_first")),  # say "drawn": the rest of the page waits
    }
    fail = st.query_params.get("fail_view")  # tests: a view that fails in the browser,
    if fail == "1":
        data["fail"] = "failing on purpose"
    elif fail == "silent":  # or one whose script never gets to run
        data["fail"] = "silent"
    # projector: as tall as the view makes itself (the screen below it); else a fixed box
    _COMPONENT(key="graph_view", data=data, height="content" if fill or large else height + 8,
               on_clicked_change=lambda: _clicked(study, scene), on_failed_change=_failed,
               on_step_to_change=_step_to,
               on_drawn_change=want_rest, on_need_svg_change=_resend)
    s.svg_sent = key
    return scene


def _opened(scene: Scene, key: str) -> list[str]:
    """The drawn nodes the last click on a summary opened, if ``key`` is the layout that
    click made (the first one laid out after it)."""
    opened = st.session_state.get("graph_opened")
    if not opened:
        return []
    if opened["key"] is None:
        opened["key"] = key
    if opened["key"] != key:
        return []
    return [i for i in opened["ids"] if i in scene.graph.by_id]


def _resend() -> None:
    """The view has no picture for the key it was sent (it was mounted again)."""
    st.session_state.svg_sent = None
