"""autoviz: the Streamlit page. Wiring only: read widgets -> call the core -> draw."""

from __future__ import annotations

import streamlit as st

from autoviz.edits import apply_toggles
from autoviz.study import Study, compare, make_study
from autoviz.tables import leaf_grads_table
from autoviz.ui import build, state, view


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_study(source: str, root: str | None, gradient: str, retain: bool,
                 actions: tuple[str, ...]) -> Study:
    """Derived from the state, never stored in it; shared only as read-only data."""
    return make_study(source, root, gradient or None, retain, actions)


def run() -> None:
    st.set_page_config(page_title="autoviz — autograd, node by node", layout="wide",
                       page_icon="🔁")
    state.init()
    s = st.session_state
    with st.sidebar:
        st.header("Build")
        build.presets_section()
        build.expression_section()
        build.network_section()
    st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.2rem}</style>")
    st.markdown("### autoviz <small>— PyTorch's autograd, node by node</small>",
                unsafe_allow_html=True)
    if s.form_error:
        view.error_box("That form value can't become a program", s.form_error)

    base = cached_study(s.code, s.root, s.gradient, s.retain, s.actions)
    shown = base
    if base.ok:
        s.last_good = s.code
    else:
        error = base.error
        assert error is not None
        where = f"Line {error.lineno}" if error.lineno else "The program"
        kind = "is not allowed" if error.refused else "fails"
        view.error_box(f"{where} {kind}", error.message)
        if s.last_good != s.code:
            st.caption("Still showing the last program that ran.")
            shown = cached_study(s.last_good, s.root, s.gradient, s.retain, s.actions)

    top_left, top_right = st.columns([3, 2], gap="large")
    bottom_left, bottom_right = st.columns([3, 2], gap="large")
    with bottom_right:
        st.markdown("#### Backward")
        view.backward_section(shown)
        st.markdown("#### Toggles")
        toggles = view.toggles_section(shown)
    study = shown
    if toggles.active() and base.ok:
        edited, notes = apply_toggles(s.code, toggles)
        study = cached_study(edited, s.root or base.root, s.gradient, s.retain, s.actions)
        for note in notes:
            st.caption(note)
    with bottom_left:
        view.editor_section()
        if study is not shown:
            st.markdown("**The program with your toggles** (this is what is drawn):")
            st.code(study.source, language="python", line_numbers=True)
    n = len(study.trace.steps) if study.trace else 0
    with top_right:
        k = view.stepper_section(n) if study.trace else 0
    with top_left:
        if study.error is not None:
            view.error_box("With the toggles, the program fails", str(study.error))
        elif study.graph is not None:
            view.graph_section(study, k)
        if study.backward_error:
            view.error_box("backward() fails", study.backward_error)
    with top_right:
        if study.trace is not None:
            view.step_panel(study, k)
            if k == n:
                st.markdown("**Leaf gradients** (what `.backward()` leaves in `.grad`)")
                st.dataframe(leaf_grads_table(study.trace), hide_index=True)
            view.accumulation_section(study)
        for lineno, text in (study.program.warnings if study.program else []):
            st.warning(f"line {lineno}: {text}")
        if study.program is not None and study.program.output:
            st.markdown("**Printed**")
            st.code(study.program.output, language=None)
    if study is not shown:
        view.comparison_section(shown, study, compare(shown, study))
    st.divider()
    view.tables_section(study)


if __name__ == "__main__":
    run()
