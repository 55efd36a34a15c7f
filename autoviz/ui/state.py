"""Session state: the program text, the choices and the step index. Nothing derived.

Widgets write here through callbacks; everything on screen is derived from it.
"""

from __future__ import annotations

import streamlit as st

from autoviz.presets import DEFAULT, PRESETS

DEFAULTS: dict[str, object] = {
    "code": PRESETS[DEFAULT].code,
    "editor": PRESETS[DEFAULT].code,
    "preset": DEFAULT,
    "root": None,
    "gradient": "",
    "retain": True,
    "actions": (),
    "step": 0,
    "no_grad": "off",
    "no_grad_line": None,
    "detach": [],
    "frozen": [],
    "retain_grad": [],
    "last_good": PRESETS[DEFAULT].code,
    "form_error": None,
    "show_saved": False,
}


def init() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value


def set_program(code: str, root: str | None = None) -> None:
    """A new program: forget everything derived from the old one's choices."""
    st.session_state.code = code
    st.session_state.editor = code
    st.session_state.root = root
    st.session_state.gradient = ""
    st.session_state.actions = ()
    st.session_state.step = 0
    st.session_state.detach = []
    st.session_state.frozen = []
    st.session_state.retain_grad = []
    st.session_state.no_grad = "off"
    st.session_state.form_error = None


def reset_run() -> None:
    """Choices that change the recorded backward send the replay back to step 0."""
    st.session_state.actions = ()
    st.session_state.step = 0
