"""Sidebar: presets, the expression form, the one-layer network form."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from autoviz import worker
from autoviz.lesson.forms import (
    ACTIVATIONS,
    DTYPES,
    INITS,
    LOSSES,
    STYLES,
    FormError,
    Leaf,
    Network,
    expression_program,
    field_of_line,
    network_program,
)
from autoviz.lesson.presets import PRESETS
from ui.state import set_program
from ui.studies import cached_study
from ui.text import code_block

_LEAVES = pd.DataFrame([
    {"name": "a", "init": "value", "value": "2.", "requires_grad": True, "dtype": "float32"},
    {"name": "b", "init": "value", "value": "-3.", "requires_grad": True, "dtype": "float32"},
    {"name": "c", "init": "value", "value": "10.", "requires_grad": False, "dtype": "float32"},
])


def _load_preset() -> None:
    preset = PRESETS[st.session_state.preset]
    set_program(preset.code, preset.root)


def _load_fix() -> None:
    preset = PRESETS[st.session_state.preset]
    if preset.fix:
        set_program(preset.fix, "loss")


def presets_section() -> None:
    """Preset picker; loading one replaces the program (which the user can then edit)."""
    st.selectbox("Preset", list(PRESETS), key="preset", on_change=_load_preset,
                 format_func=lambda key: PRESETS[key].title)
    preset = PRESETS[st.session_state.preset]
    if st.session_state.get("code", preset.code) != preset.code and \
            st.session_state.get("code") != preset.fix:
        # the editor, a form or a link changed the program: the preset's note is not its own
        st.caption("The program no longer matches this preset (edited, or from a form or a "
                   "link); pick a preset to load it again.")
        return
    st.caption(preset.note)
    if preset.fix:
        st.button("Show the fix", on_click=_load_fix, key="load_fix")


def _submit_expression(table: pd.DataFrame) -> None:
    s = st.session_state
    s.form_error = None
    try:
        leaves = [Leaf(str(r["name"]), str(r["init"]), str(r["value"]),
                       bool(r["requires_grad"]), str(r["dtype"]))
                  for r in table.to_dict("records") if str(r.get("name") or "").strip()]
        code = expression_program(leaves, s.expr_text, s.expr_out)
        _check_runs(code, s.expr_out.strip())
    except FormError as exc:
        s.form_error = ("expression", str(exc))  # shown in the form; the program stays
        return
    set_program(code, s.expr_out.strip())


def _check_runs(code: str, root: str) -> None:
    """Run the form's program first: torch's error on a line the form wrote from a field
    (a value torch refuses, an expression whose shapes do not fit) names that field."""
    try:
        study = cached_study(code, root, "", True, ())
    except worker.JobFailed:
        return  # the server is busy: the page runs it, and says what it says
    error = study.error
    if error is not None and error.lineno:
        field = field_of_line(code, error.lineno)
        if field:
            raise FormError(f"{field}: {error.message}")


def expression_section() -> None:
    """Leaves and one expression -> a program."""
    with st.expander("Expression form"):
        table = st.data_editor(
            _LEAVES, num_rows="dynamic", key="expr_leaves", hide_index=True,
            column_config={
                "init": st.column_config.SelectboxColumn(options=list(INITS), required=True),
                "dtype": st.column_config.SelectboxColumn(options=list(DTYPES), required=True),
                "value": st.column_config.TextColumn(
                    help="value: a number or list like [1., 2.]; other inits: a shape, 3, 2"),
            })
        st.text_input("Expression", value="(a * b + c) ** 2", key="expr_text")
        st.text_input("Output name", value="out", key="expr_out")
        st.button("Write program", key="expr_go", on_click=_submit_expression, args=(table,))
        _form_error("expression")


def _form_error(form: str) -> None:
    """This form's last error, under its button (the program was left as it was)."""
    error = st.session_state.get("form_error")
    if isinstance(error, tuple) and error[0] == form:
        st.error(f"**Not written:** your program was left as it was.\n\n"
                 f"{code_block(error[1])}", icon="⚠️")


def _submit_network() -> None:
    s = st.session_state
    try:
        code = network_program(Network(int(s.net_in), int(s.net_out), int(s.net_batch),
                                       s.net_act, s.net_loss, int(s.net_seed),
                                       s.get("net_style", "tensors")))
    except FormError as exc:
        s.form_error = ("network", str(exc))
        return
    set_program(code, "loss")


def network_section() -> None:
    """One-layer network x @ w + b, activation, loss -> a program."""
    with st.expander("One-layer network form"):
        st.radio("Style", STYLES, key="net_style", horizontal=True, format_func={
            "tensors": "x @ w + b", "module": "nn.Linear"}.__getitem__,
                 help="The same layer written with tensors, or with torch.nn modules.")
        cols = st.columns(3)
        cols[0].number_input("Inputs", 1, 512, 3, key="net_in")
        cols[1].number_input("Outputs", 1, 512, 2, key="net_out")
        cols[2].number_input("Batch", 1, 1024, 4, key="net_batch")
        st.selectbox("Activation", ACTIVATIONS, key="net_act")
        st.selectbox("Loss", LOSSES, key="net_loss", format_func=lambda v: {
            "bce_with_logits": "BCE with logits", "mse": "MSE",
            "cross_entropy": "cross-entropy"}[v])
        st.number_input("Seed", 0, 2**31 - 1, 0, key="net_seed")
        st.button("Write program", key="net_go", on_click=_submit_network)
        _form_error("network")
