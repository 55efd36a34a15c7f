"""The backward() call: which tensor, its gradient argument, retain_graph; and what
follows it (backward again, .grad.zero_())."""

from __future__ import annotations

import math

import streamlit as st

from autoviz.lesson.study import BACKWARD, ZERO, Study
from ui.state import reset_run
from ui.text import error_box


def backward_section(study: Study) -> None:
    """Which tensor to call backward on, its gradient argument, retain_graph."""
    roots = list(study.roots)
    if roots:
        index = roots.index(study.root) if study.root in roots else 0
        st.selectbox("Call backward on", roots, index=index, key="root_pick",
                     on_change=_pick_root)
        shape = study.root_shape
        if shape is not None and math.prod(shape) != 1:
            st.text_input("gradient= (non-scalar root)", key="gradient",
                          placeholder=f"torch.ones({', '.join(map(str, shape))})",
                          on_change=reset_run,
                          help="Leave empty to see torch's own error for a non-scalar root.")
    st.checkbox("Show saved tensors (_saved_*)", key="show_saved")
    st.checkbox("retain_graph=True", key="retain", on_change=reset_run,
                help="Off: the first backward frees the graph's buffers, and a second "
                     "backward fails with torch's own error.")


def _pick_root() -> None:
    st.session_state.root = st.session_state.root_pick
    st.session_state.gradient = ""
    reset_run()


def accumulation_section(study: Study) -> None:
    """Backward again (accumulates, or torch's error without retain_graph); zero_()."""
    if study.trace is None or not study.ran:
        return
    row = st.container(horizontal=True)
    row.button("Backward again", on_click=_add_action, args=(BACKWARD,), key="again")
    row.button(".grad.zero_()", on_click=_add_action, args=(ZERO,), key="zero")
    row.button("Clear", on_click=reset_run, key="clear_actions", disabled=not study.passes)
    lines = [f"# after the recorded backward: {_grads(study.first_grads)}"]
    for p in study.passes:
        lines.append(p.code)
        lines.append(f"# {p.error}" if p.error else f"#   -> {_grads(p.grads)}")
    st.code("\n".join(lines), language="python", wrap_lines=True)
    for p in study.passes:
        if p.error:
            error_box("torch refused the second backward", p.error)


def _add_action(action: str) -> None:
    st.session_state.actions = (*st.session_state.actions, action)


def _grads(grads: dict[str, str]) -> str:
    return ", ".join(f"{n}.grad = {g}" for n, g in grads.items()) or "(no leaves)"
