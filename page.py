"""autoviz: the Streamlit page (served by app.py). Wiring only: read widgets -> call the
core -> draw."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from autoviz import worker
from autoviz.drawing import layout
from autoviz.drawing.render import EDGE_ATTRS, LARGE_EDGE_ATTRS, LARGE_NODE_ATTRS, NODE_ATTRS
from autoviz.lesson.edits import Toggles, apply_toggles
from autoviz.lesson.study import Study, compare
from ui import (
    backward,
    build,
    comparison,
    graph,
    history,
    loading,
    programview,
    share,
    state,
    step,
    stepper,
    tables,
    toggles,
)
from ui.numeric import numeric_section
from ui.studies import cached_study
from ui.text import code, code_block, error_box, one_line, plain

# Streamlit styles graph text at a fixed small size; use the sizes the DOT asks for, so
# labels fill the boxes Graphviz laid out for them.
_GRAPH_TEXT = ("[data-testid='stGraphVizChart'] svg g.node text{{font-size:{0}px !important}}"
               "[data-testid='stGraphVizChart'] svg g.edge text{{font-size:{1}px !important}}")
PAGE_CSS = ("<style>[data-testid='stMainBlockContainer']{padding-top:1.6rem}"
            + _GRAPH_TEXT.format(NODE_ATTRS["fontsize"], EDGE_ATTRS["fontsize"])
            + ".av-title{font-size:1.6rem;font-weight:700;margin:0;padding:0.2rem 0}"
            ".av-title small{font-size:0.78em;font-weight:600}"
            ".st-key-stale_view{opacity:.55;filter:grayscale(.8)}"
            "@media (max-width:640px){.av-title{font-size:1.35rem}"
            ".st-key-stepper{position:fixed;bottom:0;left:0;right:0;z-index:1000;"
            "background:var(--background-color,#fff);padding:.4rem .6rem;gap:.4rem;"
            "box-shadow:0 -2px 8px rgba(0,0,0,.18);justify-content:center}"
            "[data-testid='stMainBlockContainer']{padding-bottom:5rem}"
            "[data-testid='stMainBlockContainer']{padding-top:3.5rem}}"
            # no keyboard hints on a touch screen
            "@media (hover:none) and (pointer:coarse){.st-key-keys,.st-key-stepper kbd"
            "{display:none}}</style>")
SLIDE_CSS = ("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
             "[data-testid='stExpandSidebarButton']{display:none}"
             "[data-testid='stMainBlockContainer']{padding:0.6rem 1rem;max-width:100%}</style>")
TITLE = "<h3 class='av-title'>autoviz <small>— PyTorch's autograd, node by node</small></h3>"
PROJECTOR_CSS = "<style>" + _GRAPH_TEXT.format(
    LARGE_NODE_ATTRS["fontsize"], LARGE_EDGE_ATTRS["fontsize"]) + """
[data-testid='stMainBlockContainer']{padding-top:4.5rem;max-width:100%}
[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li{font-size:1.3rem}
[data-testid='stMarkdownContainer'] h4{font-size:1.7rem}
</style>"""


def _show_error(study: Study) -> None:
    error = study.error
    assert error is not None
    where = f"Line {error.lineno}" if error.lineno else "The program"
    kind = "is not allowed" if error.refused else "fails"
    error_box(f"{where} {kind}", error.message)


def run() -> None:
    state.init()
    state.load_link()
    s = st.session_state
    loading.started()
    # slide mode (embedded in slides): the graph, the stepper and the step, nothing else
    slide = state.slide_mode()
    st.set_page_config(page_title="autoviz — autograd, node by node", layout="wide",
                       page_icon="🔁",
                       initial_sidebar_state="collapsed" if s.projector or slide else "auto")
    large = bool(s.projector)
    # The title goes in with the page's CSS: one st.html, and no markdown with raw HTML
    # (whose renderer is ~190 kB more for a first visitor's browser to fetch and run).
    st.html((PROJECTOR_CSS if large else PAGE_CSS + ("" if slide else TITLE))
            + (SLIDE_CSS if slide else ""))
    if s.link_error:
        error_box("That link can't become a program", s.link_error)
    if s.link_problems:
        # each names its parameter's value in a code span: on one line, so that no blank
        # line in a value can end the span
        st.warning("Parts of this link were left out: "
                   + "; ".join(one_line(p) for p in s.link_problems) + ".", icon="🔗")

    try:
        base = cached_study(s.code, s.root, s.gradient, s.retain, s.actions, which=s.which)
        ran = True
    except worker.JobFailed as exc:  # nothing is known of this program yet
        error_box("Busy" if exc.busy else "The server could not run the program",
                       exc.message)
        base, ran = _last_good_or_stop(s), False
    shown = base
    if not ran:
        st.caption("Still showing the last program that ran.")
    elif base.ok:
        s.last_good = s.code
    else:
        _show_error(base)
        if s.last_good != s.code:
            st.caption("Still showing the last program that ran.")
            shown = _last_good_or_stop(s)
    # the graph and stepper are the last good program's, not the editor's: they say so
    s.stale_view = not ran or shown is not base
    s.failing = base.error.lineno if ran and base.error is not None else None

    if large:
        chosen, options = state.current_toggles(), None
    else:
        chosen, options = toggles.settle_toggles(shown)
    study, notes = _toggled(shown, base, chosen)
    first = loading.take_graph_first(
        study.error is None and study.graph is not None and bool(study.graph.nodes)
        and layout.available())
    if slide:
        stepping(study, large)
        return
    if first:
        st.sidebar.caption("Loading…")  # the sidebar's room, so nothing moves when it fills
    else:
        _sidebar()
    top = st.container()
    if first:
        loading.rest_soon()  # before the graph: should drawing it fail, the rest still comes
        with top:
            stepping(study, large, shown, options)
        return
    loading.rest_here()
    bottom_left, bottom_right = st.columns([3, 2], gap="large")
    extras = bottom_right.container()
    for note in notes:
        st.caption(note)
    with top:
        stepping(study, large, shown, options)
    if large:
        return
    with extras:
        if study.trace is not None:
            backward.accumulation_section(study)
        for lineno, text in study.warnings:
            st.warning(f"line {lineno}:\n\n{code_block(text)}")
        if study.output:
            st.markdown("**Printed**")
            st.code(study.output, language=None)
    with bottom_left:
        if study is not shown:
            st.markdown("**The program with your toggles** (this is what is drawn):")
            st.code(study.source, language="python", line_numbers=True)
    if study is not shown:
        comparison.comparison_section(shown, study, compare(shown, study))
    history.history_section(study)
    st.divider()
    tables.tables_section(study)


def _sidebar() -> None:
    with st.sidebar:
        st.toggle("Projector mode", key="projector",
                  help="Big type, thick lines, the graph and the step only.")
        graph.display_section()
        st.header("Build")
        build.presets_section()
        build.expression_section()
        build.network_section()


def _toggled(shown: Study, base: Study, toggles: Toggles) -> tuple[Study, list[str]]:
    """The study drawn: ``shown`` with the toggles' rewrites applied, if any, and the notes
    on what they changed (as Markdown: what they quote is shown as written)."""
    if not (toggles.active() and base.ok):
        return shown, []
    s = st.session_state
    edited, notes = apply_toggles(s.code, toggles)
    try:
        study = cached_study(edited, s.root or base.root, s.gradient, s.retain, s.actions,
                             which=s.which)
    except worker.JobFailed as exc:
        return shown, [f"The toggles are not applied yet: {code(exc.message)}."]
    return study, [plain(note) for note in notes]  # they quote the names toggled


def _last_good_or_stop(s: st.runtime.state.SessionStateProxy) -> Study:
    """The last program that ran, if the server can give it now (no second wait in the
    queue); else the page stops after the message already shown."""
    try:
        return cached_study(s.last_good, s.root, s.gradient, s.retain, s.actions, wait=False,
                            which=s.which)
    except worker.JobFailed:
        st.stop()
        raise


@st.fragment
def stepping(study: Study, large: bool, shown: Study | None = None,
             options: toggles.ToggleOptions | None = None) -> None:
    """The graph, the program, the stepper and the step: a step reruns only this part of
    the page. ``shown``/``options``: the program without toggles and what the toggles can
    name in it (their menu sits over the editor); None in projector and slide mode."""
    s = st.session_state
    # the view drew the graph, or the editor or a toggle changed the program: the whole page
    loading.follow_through()
    holder = st.container(key="stale_view") if s.get("stale_view") else st
    if holder is not st:
        st.markdown("**Stale:** the graph and steps below are the last program that ran, "
                    "not the one in the editor.")
    top_left, top_right = holder.columns([2.4, 1] if large else [3, 2], gap="medium")
    n = len(study.trace.steps) if study.trace else 0
    with top_right:
        if not large:
            history.which_section(study)
        k = stepper.stepper_section(n) if study.trace else 0
    dot = None
    with top_left:
        if study.error is not None and study.source != s.code:
            error_box("With the toggles, the program fails", str(study.error))
        elif study.graph is not None:
            dot = graph.graph_section(study, k, large=large, fill=state.slide_mode())
    link = state.write_link()
    full = not (large or state.slide_mode())
    with top_left:
        if full and shown is not None and options is not None and not s.get("graph_first"):
            _tools_row(shown, options, study, dot, link)
        if full:  # the program under its graph, then what the colours mean
            programview.show(study, k, s.code, s.get("failing"))
            if study.graph is not None and study.graph.nodes:
                graph.legend()
        if study.backward_error:
            error_box("backward() fails", study.backward_error)
        step.no_gradient_section(study)
        step.gradient_notes_section(study)
    with top_right:
        if study.trace is not None:
            step.step_panel(study, k, compact=large)
            step.node_details(study, s.get("selected"), options)
            if k == n:
                st.markdown("**Leaf gradients** (what `.backward()` leaves in `.grad`)")
                st.dataframe(tables.study_table(study, "leaf_grads"), hide_index=True)
                step.retained_section(study)
                if not (large or state.slide_mode()):  # autograd's beside the numbers
                    numeric_section(study.source, study.root, study.gradient_code)


def _tools_row(shown: Study, options: toggles.ToggleOptions, study: Study,
              dot: Callable[[], str] | None, link: str) -> None:
    """Over the editor, next to what they change: the toggles (program rewrites), the
    backward() call's arguments, and share / export."""
    count = state.current_toggles().count()
    row = st.container(horizontal=True, key="tools")
    with row.popover(f"Toggles ({count} on)" if count else "Toggles",
                     icon=":material/tune:", help="no_grad, .detach(), requires_grad, "
                     "retain_grad(): each rewrites the program, and the graph follows"):
        toggles.toggles_section(options)
    with row.popover("backward()", icon=":material/undo:",
                     help="Which tensor to call backward on, and its arguments"):
        backward.backward_section(shown)
    with row.popover("Share and export", icon=":material/share:"):
        share.share_section(link)
        share.export_section(study, dot)


if __name__ == "__main__":
    run()
