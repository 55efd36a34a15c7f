"""Session state: the program text, the choices and the step index. Nothing derived.

Widgets write here through callbacks; everything on screen is derived from it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from autoviz.drawing.collapse import DEFAULT_BUDGET
from autoviz.drawing.layout import MAX_LAYOUT_NODES
from autoviz.lesson.edits import Toggles
from autoviz.lesson.presets import DEFAULT, PRESETS
from autoviz.lesson.share import LinkError, View, from_params, to_params
from ui.loading import whole_page

# left alone in the address bar: Streamlit's own parameters, and slide mode
_FOREIGN = ("embed", "embed_options", "slide")


def slide_mode() -> bool:
    """The page embedded in slides: ``embed=true`` (Streamlit keeps that one out of
    st.query_params, so it is read from the page's address) or ``slide=1``."""
    if st.query_params.get("slide") == "1":
        return True
    url = st.context.url or ""
    query = url.partition("?")[2]
    return "embed=true" in query.split("&")

DEFAULTS: dict[str, object] = {
    "code": PRESETS[DEFAULT].code,
    "preset": DEFAULT,
    "root": None,
    "gradient": "",
    "retain": True,
    "actions": (),
    "which": 0,  # of the program's own backward calls, the one stepped through (0: last)
    "step": 0,
    "no_grad": "off",
    "no_grad_line": None,
    "detach": [],
    "frozen": [],
    "retain_grad": [],
    "last_good": PRESETS[DEFAULT].code,
    "form_error": None,  # (form, message): the form's input could not become a program
    "link_error": None,  # the link could not be read at all
    "show_saved": False,
    "projector": False,
    "view": "interactive",  # or "classic": Streamlit's graphviz chart, laid out in the browser
    "budget": DEFAULT_BUDGET,  # boxes drawn before folding; 0: all
    "expanded": None,  # {"source": program, "ids": nodes unfolded by a click}
    "selected": None,  # node id clicked for details
    "link_problems": (),  # parameters of the link that opened the program, left out
}


def init() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value


def set_program(code: str, root: str | None = None) -> None:
    """A new program: forget everything derived from the old one's choices."""
    st.session_state.code = code
    st.session_state.root = root
    st.session_state.gradient = ""
    st.session_state.selected_line = None
    st.session_state.actions = ()
    st.session_state.step = 0
    st.session_state.which = 0
    st.session_state.detach = []
    st.session_state.frozen = []
    st.session_state.retain_grad = []
    st.session_state.no_grad = "off"
    st.session_state.form_error = None
    st.session_state.expanded = None
    st.session_state.selected = None
    st.session_state.link_problems = ()


def session_id() -> str | None:
    """This browser session's id (the worker pool runs one job per session at a time)."""
    ctx = st.runtime.scriptrunner.get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def reset_run() -> None:
    """Choices that change the recorded backward send the replay back to step 0, and the
    whole page reruns (from a widget in the stepping fragment too)."""
    st.session_state.actions = ()
    st.session_state.step = 0
    whole_page()


def _view() -> View:
    s = st.session_state
    return View(code=s.code, root=s.root, gradient=s.gradient, retain=s.retain, step=s.step,
                no_grad=s.no_grad, no_grad_line=s.no_grad_line, detach=tuple(s.detach),
                frozen=tuple(s.frozen), retain_grad=tuple(s.retain_grad),
                projector=bool(s.projector), classic=s.view == "classic",
                budget=None if s.budget == DEFAULT_BUDGET else int(s.budget),
                call=int(s.which))


def load_link() -> None:
    """On a session's first run, restore the view a shared link describes."""
    s = st.session_state
    if s.get("link_loaded"):
        return
    s.link_loaded = True
    try:
        view = from_params(st.query_params.to_dict(), default=PRESETS[DEFAULT].code)
    except LinkError as exc:
        s.link_error = f"This link could not be read ({exc}); showing the default program."
        return
    if view is None:
        return
    set_program(view.code, view.root)
    s.link_problems = view.problems
    s.last_good = view.code
    s.gradient, s.retain, s.step = view.gradient, view.retain, view.step
    s.no_grad, s.no_grad_line = view.no_grad, view.no_grad_line
    s.detach, s.frozen = list(view.detach), list(view.frozen)
    s.retain_grad, s.projector = list(view.retain_grad), view.projector
    s.view = "classic" if view.classic else "interactive"
    s.which = view.call
    if view.budget is not None:
        s.budget = min(view.budget, MAX_LAYOUT_NODES)


def write_link() -> str:
    """Put the current view in the address bar; return the link that reopens it."""
    params = to_params(_view())
    for key in [k for k in st.query_params if k not in params and k not in _FOREIGN]:
        del st.query_params[key]
    st.query_params.update(params)
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{urlencode(params)}"


def current_toggles() -> Toggles:
    """The toggles as the state holds them (the widgets write them there)."""
    s = st.session_state
    no_grad: str | int = s.no_grad
    if no_grad == "line":
        no_grad = int(s.no_grad_line) if s.no_grad_line else "off"
    return Toggles(no_grad, tuple(s.detach), tuple(s.frozen), tuple(s.retain_grad))
