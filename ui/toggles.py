"""The toggles: no_grad, .detach(), requires_grad and retain_grad() as program rewrites —
the menu over the editor, and the buttons beside a selected node's details."""

from __future__ import annotations

import streamlit as st

from autoviz.lesson.edits import Toggles, statement_lines
from autoviz.lesson.study import Study
from ui.state import current_toggles, reset_run

ToggleOptions = tuple[list[str], list[str], list[tuple[int, str]]]


def toggle_options(study: Study) -> ToggleOptions:
    """What the toggles can name in ``study``: intermediates, leaves to freeze, lines."""
    intermediates = list(study.intermediates)
    frozen_options = sorted(set(study.leaves) | set(st.session_state.frozen))
    return intermediates, frozen_options, statement_lines(study.source)


def settle_toggles(study: Study) -> tuple[Toggles, ToggleOptions]:
    """The toggles in force for ``study``, and what they can name there: choices it does
    not offer (a link's, or the last program's) are dropped from the state first, as the
    widgets drawn later (:func:`toggles_section`, given the same options) will show."""
    options = toggle_options(study)
    intermediates, frozen_options, lines = options
    if st.session_state.no_grad == "line" and lines:
        if st.session_state.no_grad_line not in dict(lines):
            st.session_state.no_grad_line = lines[0][0]
    _keep_options("detach", intermediates)
    _keep_options("retain_grad", intermediates)
    _keep_options("frozen", frozen_options)
    return current_toggles(), options


def toggles_section(options: ToggleOptions) -> Toggles:
    """no_grad / detach / requires_grad / retain_grad, as program rewrites (the state and
    the options as :func:`settle_toggles` left and found them); returns what they say."""
    intermediates, frozen_options, lines = options
    st.radio("torch.no_grad()", ["off", "all", "line"], key="no_grad", horizontal=True,
             on_change=reset_run, help="Around the whole computation, or around one line.")
    if st.session_state.no_grad == "line" and lines:
        st.selectbox("no_grad around line", [n for n, _ in lines],
                     format_func=lambda n: f"{n}: {dict(lines)[n][:40]}",
                     key="no_grad_line", on_change=reset_run)
    st.multiselect(".detach() at", intermediates, key="detach", on_change=reset_run)
    st.multiselect("requires_grad off (frozen)", frozen_options, key="frozen",
                   on_change=reset_run)
    st.multiselect("retain_grad() on", intermediates, key="retain_grad", on_change=reset_run)
    return current_toggles()


def _keep_options(key: str, options: list[str]) -> None:
    st.session_state[key] = [v for v in st.session_state[key] if v in options]


# the toggles a node's tensor can take: (state key, label when off, label when on)
_NODE_TOGGLES = (("detach", ".detach() here", "undo .detach()"),
                 ("retain_grad", "retain_grad()", "undo retain_grad()"),
                 ("frozen", "requires_grad off", "requires_grad on again"))


def node_toggles(name: str, options: ToggleOptions) -> None:
    """Buttons that toggle this tensor (the same lists the Toggles menu edits)."""
    intermediates, frozen_options, _ = options
    offered = {"detach": name in intermediates, "retain_grad": name in intermediates,
               "frozen": name in frozen_options}
    row = st.container(horizontal=True)
    for key, off, on in _NODE_TOGGLES:
        if offered[key]:
            active = name in st.session_state[key]
            row.button(on if active else off, key=f"node_{key}", on_click=_toggle_name,
                       args=(key, name), type="secondary", icon=":material/tune:")


def _toggle_name(key: str, name: str) -> None:
    held = list(st.session_state[key])
    st.session_state[key] = [n for n in held if n != name] if name in held else held + [name]
    reset_run()
