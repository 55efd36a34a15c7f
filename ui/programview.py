"""The program editor beside the graph: the user's program, numbered and coloured, edited in
place. The current step's forward line is marked (the line that made the tensor whose node
runs), so is the failing line, and a click on a line marks that line's nodes in the graph
(a click on a node, its line). Ctrl+Enter, Run or leaving the editor runs the text."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from autoviz.lesson.study import Study
from ui.loading import whole_page

_HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component(
    "autoviz_program", js=(_HERE / "programview.js").read_text(),
    css=(_HERE / "programview.css").read_text())
KEY = "program_view"


def line_of(study: Study, node_id: str | None) -> int | None:
    """The line that made the tensor behind node ``node_id`` (None: not known)."""
    if study.graph is None or not node_id or node_id not in study.graph.by_id:
        return None
    tensor = study.graph.node(node_id).tensor
    return tensor.lineno if tensor is not None else None


def nodes_of(study: Study, line: int | None) -> list[str]:
    """The graph's nodes whose tensor line ``line`` made."""
    if study.graph is None or not line:
        return []
    return [n.id for n in study.graph.nodes if n.tensor is not None and n.tensor.lineno == line]


def _event(name: str) -> object:
    value = st.session_state.get(KEY)
    return getattr(value, name, None) if value is not None else None


def _line_clicked() -> None:
    line = _event("line")
    if isinstance(line, int) and not isinstance(line, bool):
        s = st.session_state
        s.selected_line = None if s.get("selected_line") == line else line


def _code_sent() -> None:
    """The editor's text, to run: the whole page follows it (not only this fragment)."""
    text = _event("code")
    if not isinstance(text, str):
        return
    s = st.session_state
    s.code = text
    s.step = 0
    s.actions = ()
    s.selected_line = None
    whole_page()  # the fragment that holds the editor reruns the whole page


def show(study: Study, k: int, code: str, failing: int | None = None,
         height: int = 300) -> None:
    """The editor holding ``code`` (the user's program). When ``study`` (what the graph
    shows) is that program, step ``k``'s forward line and the selected line are marked;
    ``failing``: the line ``code`` fails on."""
    trace = study.trace
    s = st.session_state
    current = selected = None
    if study.source == code:
        if trace is not None and 1 <= k <= len(trace.steps):
            current = line_of(study, trace.steps[k - 1].node_id)
        selected = s.get("selected_line") or line_of(study, s.get("selected"))
    _COMPONENT(key=KEY, data={"source": code, "current": current, "failing": failing,
                              "selected": selected, "height": height},
               on_line_change=_line_clicked, on_code_change=_code_sent)
