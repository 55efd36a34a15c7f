"""The autograd graph on the page: the interactive view or the classic chart, its legend,
and how it is drawn (the view, the node budget)."""

from __future__ import annotations

import weakref
from typing import Callable

import streamlit as st

from autoviz import worker
from autoviz.data import Graph
from autoviz.drawing import layout
from autoviz.drawing.render import to_dot
from autoviz.drawing.scene import Scene, step_frame, timeline_scene
from autoviz.lesson.study import Study
from ui import graphview
from ui.text import code, plain

GRAPH_HEIGHT = 420  # px: the landing graph at its full size, and the program below it at 1280x800


PROJECTOR_HEIGHT = 560


LEGEND = ("**Legend** — grey: `grad_fn` node · blue: leaf (`AccumulateGrad`) · thick border: "
          "the root · amber: the step now · green: done · dashed: gradient arriving · "
          "`None`: an input that needs no grad · arrows follow `next_functions`")


INTERACTIVE_HELP = (" · drag to pan, wheel or pinch to zoom, double-click to fit · click a node "
                    "for its details, a folded box to expand it")


def display_section() -> None:
    """How the graph is drawn: the view, and the node budget above which it folds."""
    with st.expander("Graph display"):
        st.radio("View", ["interactive", "classic"], key="view", horizontal=True,
                 format_func=lambda v: {"interactive": "Interactive",
                                        "classic": "Classic"}[v],
                 help="Interactive: laid out once on the server; pan, zoom, click. "
                      "Classic: Streamlit's graphviz chart, laid out in your browser.")
        st.number_input("Node budget", min_value=0, max_value=layout.MAX_LAYOUT_NODES,
                        step=50, key="budget",
                        help="Above this many boxes, chains and deep stretches fold into "
                             "summary boxes (click one to expand it). 0: draw everything.")


def graph_section(study: Study, k: int, large: bool = False,
                  fill: bool = False) -> Callable[[], str] | None:
    """The autograd graph with the replay's state at step ``k``: the interactive view
    (server layout, pan/zoom/click, folded above the node budget), or Streamlit's
    graphviz chart when the server cannot lay it out or the user picked it. Returns a
    function giving the DOT of what is drawn (for the exports)."""
    assert study.graph is not None
    if not study.graph.nodes:
        st.info(no_graph(study), icon="ℹ️")
        return None
    saved = bool(st.session_state.get("show_saved"))
    height = PROJECTOR_HEIGHT if large else GRAPH_HEIGHT
    graph = study.graph
    if st.session_state.get("view") != "classic" and layout.available():
        try:
            scene = graphview.show(study, k, height, large, saved, fill)
        except (layout.LayoutError, worker.JobFailed) as exc:
            st.caption(f"Interactive view unavailable ({code(str(exc))}); "
                       "showing the classic view.")
        else:
            graph = scene.graph
            if scene.collapsed.folds:
                _folded_note(study, scene.collapsed.describe())
            return lambda: _step_dot(study, graph, k, saved, large)
    if st.session_state.get("view_error"):
        st.caption("The interactive view failed in this browser "
                   f"({code(st.session_state.view_error)}); showing the classic view.")
    dot = _step_dot(study, graph, k, saved, large)
    st.graphviz_chart(dot, width="stretch", height=height)
    return lambda: dot


def legend() -> None:
    """What the graph's colours and borders mean (and, interactive, what a click does)."""
    interactive = st.session_state.get("view") != "classic" and layout.available()
    st.caption(LEGEND + (INTERACTIVE_HELP if interactive else ""))


def _step_dot(study: Study, graph: Graph, k: int, saved: bool, large: bool) -> str:
    """DOT of ``graph`` (the study's, or its folded picture) with step ``k``'s state."""
    if study.trace is None:
        return to_dot(graph, saved=saved, large=large)
    if graph is not study.graph:
        scene = graphview.scene_for(study, large, saved)[0]
    else:
        scene = _timeline_scene(study)
    status, notes = step_frame(scene, study.trace, k)
    return to_dot(graph, status, notes, saved=saved, large=large)


_timelines: dict[int, tuple[weakref.ref, Scene]] = {}


def _timeline_scene(study: Study) -> Scene:
    """The study's unfolded timeline, made once per study (the classic view's steps)."""
    assert study.graph is not None and study.trace is not None
    hit = _timelines.get(id(study))
    if hit is not None and hit[0]() is study:
        return hit[1]
    scene = timeline_scene(study.graph, study.trace)
    _timelines[id(study)] = (weakref.ref(study), scene)
    while len(_timelines) > 32:
        _timelines.pop(next(iter(_timelines)))
    return scene


def _folded_note(study: Study, text: str) -> None:
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(text)
    if study.graph is not None and len(study.graph.nodes) <= layout.MAX_LAYOUT_NODES:
        row.button("Show all", key="show_all", on_click=_show_all, type="tertiary",
                   help=f"Draw every node (up to {layout.MAX_LAYOUT_NODES:,}); slower to lay out.")


def _show_all() -> None:
    st.session_state.budget = 0


def no_graph(study: Study) -> str:
    root = study.root or "The root"
    if study.root_note:  # the program made it under no_grad: say so, with the line
        return f"{code(root)} has no `grad_fn`: {plain(study.root_note)}."
    return (f"{code(root)} has no `grad_fn` and does not require grad: nothing in its history "
            "requires grad, so autograd recorded no graph.")
