"""Share and export: the link that reopens this view, and the downloads (graph, steps,
program)."""

from __future__ import annotations

import functools
from functools import partial
from typing import Callable

import streamlit as st

from autoviz import worker
from autoviz.lesson.study import Study
from ui.state import session_id
from ui.tables import study_table


def share_section(link: str) -> None:
    """The link that reopens exactly this view (copy it with the code block's button)."""
    st.code(link, language=None, wrap_lines=True)
    st.caption("For slides add `&slide=1&embed=true`: the graph, the stepper and the step "
               "only, without Streamlit's chrome; `&projector=1` opens it in projector mode.")


def export_section(study: Study, dot: Callable[[], str] | None) -> None:
    """Downloads: the graph (DOT, SVG, PNG), the steps (CSV), the program (.py)."""
    row = st.container(horizontal=True)
    if dot is not None:
        session = session_id()
        row.download_button("graph.svg", lambda: _export(dot(), "svg", session),
                            file_name="graph.svg",
                            mime="image/svg+xml", key="export_svg", on_click="ignore",
                            icon=":material/download:")
        row.download_button("graph.png", lambda: _export(dot(), "png", session),
                            file_name="graph.png",
                            mime="image/png", key="export_png", on_click="ignore",
                            icon=":material/download:")
        row.download_button("graph.dot", dot, file_name="graph.dot", mime="text/vnd.graphviz",
                            key="export_dot", on_click="ignore", icon=":material/download:")
    if study.trace is not None:
        steps = study_table(study, "steps")
        row.download_button("steps.csv", partial(steps.to_csv, index=False),
                            file_name="steps.csv", mime="text/csv", key="export_steps",
                            on_click="ignore", icon=":material/download:")
    row.download_button("program.py", study.program_file, file_name="program.py",
                        mime="text/x-python", key="export_py", on_click="ignore",
                        icon=":material/download:")


@functools.lru_cache(maxsize=8)  # thread-safe; Streamlit calls it from its download threads
def _rendered(dot: str, fmt: str, session: str | None) -> bytes:
    return worker.render(dot, fmt, session)


def _export(dot: str, fmt: str, session: str | None) -> bytes:
    """The graph laid out as a file, in a worker (this session's turn). A failure raises:
    Streamlit then says the file could not be made, rather than handing over its text."""
    return _rendered(dot, fmt, session)
