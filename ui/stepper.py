"""The stepper: Reset / Prev / Next / Run to end and a slider over the recorded steps."""

from __future__ import annotations

import streamlit as st

from autoviz.drawing import layout


def step_to(k: int) -> None:
    st.session_state.step = k


def stepper_section(n: int) -> int:
    """Reset / Prev / Next / Run to end, keyboard ←/→, and a slider. Step 0: before."""
    k = max(0, min(int(st.session_state.step), n))
    st.session_state.step = k
    # key "stepper": on a phone it is a bar fixed at the bottom of the screen (page CSS)
    row = st.container(horizontal=True, vertical_alignment="center", key="stepper")
    row.button("", on_click=step_to, args=(0,), disabled=k == 0, shortcut="Home",
               key="reset", icon=":material/first_page:", help="Reset: step 0, before backward")
    # in the interactive view the graph counts ←/→ itself (no press lost in a burst)
    keys = st.session_state.get("view") == "classic" or not layout.available()
    row.button("Prev", on_click=step_to, args=(k - 1,), disabled=k == 0,
               shortcut="Left" if keys else None, key="prev", icon=":material/chevron_left:")
    row.button("Next", on_click=step_to, args=(k + 1,), disabled=k >= n,
               shortcut="Right" if keys else None,
               key="next", type="primary", icon=":material/chevron_right:",
               icon_position="right")
    row.button("", on_click=step_to, args=(n,), disabled=k >= n, shortcut="End",
               key="end", icon=":material/last_page:", help="Run to end")
    if n:
        st.slider("Step", 0, n, key="step", label_visibility="collapsed",
                  help="Step 0 is before backward.")
    return int(st.session_state.step)
