"""The program beside the graph: numbered and coloured, the current step's forward line
marked (the line that made the tensor whose node runs), the failing line marked, and a
click on a line marks that line's nodes in the graph (a click on a node, its line)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from autoviz.lesson.study import Study

_HERE = Path(__file__).parent
_COMPONENT = st.components.v2.component(
    "autoviz_program", js=(_HERE / "programview.js").read_text(),
    css=(_HERE / "programview.css").read_text())


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


def _line_clicked() -> None:
    value = st.session_state.get("program_view")
    line = getattr(value, "line", None) if value is not None else None
    if isinstance(line, int) and not isinstance(line, bool):
        s = st.session_state
        s.selected_line = None if s.get("selected_line") == line else line


def show(study: Study, k: int, failing: tuple[str, int] | None = None,
         height: int = 240) -> None:
    """The numbered program of ``study`` with step ``k``'s line marked; ``failing``: the
    editor's program and the line it fails on, shown instead while the graph is stale."""
    trace = study.trace
    current = None
    if failing is None and trace is not None and 1 <= k <= len(trace.steps):
        current = line_of(study, trace.steps[k - 1].node_id)
    source = failing[0] if failing else study.source
    selected = st.session_state.get("selected_line") or line_of(
        study, st.session_state.get("selected"))
    _COMPONENT(key="program_view", data={"source": source.rstrip("\n"),
                                         "current": current,
                                         "failing": failing[1] if failing else None,
                                         "selected": None if failing else selected,
                                         "height": height},
               on_line_change=_line_clicked)
