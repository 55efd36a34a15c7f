"""How the page loads: a browser's first run draws the graph, the stepper and the step
alone, and the rest of the page follows as soon as the view says it has drawn (or on a
timer, should it never say); and how a widget inside the stepping fragment asks for the
whole page (a new program, a toggle) rather than only its fragment.

The flags live in session state: ``graph_first`` (this run is the graph-only one),
``rest_wanted`` (the next fragment run reruns the whole page), ``rest_timer`` (the timer
has the rest of the page to send)."""

from __future__ import annotations

import streamlit as st


def take_graph_first(drawable: bool) -> bool:
    """Whether this run draws only the graph, the stepper and the step (the rest of the page
    follows at once): a browser's first run of a session, in the interactive view, with a
    graph to draw (``drawable``; a failing program gets its editor at once). Decided on the
    session's first run and spent on the next. The rest is most of what a browser must
    fetch and render before anything shows (every kind of widget's code, the tables), so
    the graph comes about a second sooner. A protocol client (no "Mozilla/" user agent,
    e.g. the load tests) and AppTest get the whole page."""
    s = st.session_state
    if "graph_first" not in s:
        agent = st.context.headers.get("User-Agent") or ""
        s.graph_first = drawable and agent.startswith("Mozilla/") and s.view != "classic"
    elif s.graph_first:
        s.graph_first = False
    return bool(s.graph_first)


def want_rest() -> None:
    """The view has drawn the graph: the next rerun sends the rest of the page."""
    if st.session_state.get("graph_first"):
        whole_page()


def whole_page() -> None:
    """A widget in the stepping fragment changed what the whole page shows: its rerun
    reruns the app (see :func:`follow_through`)."""
    st.session_state.rest_wanted = True


def started() -> None:
    """A run of the whole page: nothing is left for a fragment to ask for."""
    st.session_state.rest_wanted = False


def follow_through() -> None:
    """At the top of the stepping fragment: rerun the whole page if it was asked for."""
    if st.session_state.get("rest_wanted"):
        st.session_state.rest_wanted = False
        st.rerun(scope="app")


def rest_soon() -> None:
    """In the graph-only run: should the view never say it drew the graph or failed (its
    script never ran), the rest of the page comes on a timer's first tick instead."""
    _rest_timer()
    st.session_state.rest_timer = True


def rest_here() -> None:
    """The whole page is here: the timer has nothing left to do."""
    st.session_state.pop("rest_timer", None)


@st.fragment(run_every=5)
def _rest_timer() -> None:
    # the call inline in the first run finds no ``rest_timer`` yet and does nothing; the
    # tick finds it
    if st.session_state.pop("rest_timer", False):
        st.rerun(scope="app")


