"""A program that calls backward more than once (a training loop): which call to step
through, the root's value at each call (a loss curve), and how each leaf and its gradient
changed from call to call."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from autoviz.lesson.study import Study
from ui.state import reset_run


def _pick() -> None:
    st.session_state.which = int(st.session_state.which_pick)
    reset_run()


def which_section(study: Study) -> None:
    """Over the stepper: the program's own backward call to step through."""
    n = study.backward_calls
    if n < 2 or not study.which:
        return
    st.select_slider("The program's backward() calls: step through call", list(range(1, n + 1)),
                     value=study.which, key="which_pick", on_change=_pick,
                     help="The program called backward() once per pass of its loop; each "
                          "call is torch's own run, recorded as it happened.")


def history_section(study: Study) -> None:
    """The loss curve and the per-call table (a program with two or more backward calls)."""
    if study.history is None:
        return
    st.markdown(f"#### {study.backward_calls} backward() calls")
    left, right = st.columns([2, 3], gap="medium")
    values = [v for v in study.losses if v is not None]
    with left:
        if len(values) == len(study.losses):
            frame = pd.DataFrame({"backward() call": range(1, len(values) + 1),
                                  "root value": values})
            st.line_chart(frame, x="backward() call", y="root value", height=240)
            st.caption("The root's value (the loss) when each backward() ran.")
        else:
            st.caption("The root is not one number at every call: no curve to draw.")
    with right:
        table = pd.DataFrame(list(study.history.rows), columns=list(study.history.columns))
        st.dataframe(table, hide_index=True, height=240, width="stretch")
        st.caption("Per call: each leaf's value when that backward() ran (before any step "
                   "that followed it) and the gradient that call gave it.")
