"""The finite-difference check on the page: a button, then per leaf autograd's gradient
beside the numerical one (:mod:`autoviz.lesson.numeric`, run in a worker on demand, so a
study costs nothing more until it is asked for)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from autoviz import worker
from autoviz.lesson.numeric import LeafCheck, NumericCheck
from ui.studies import cached_numeric
from ui.text import code, code_block, plain

BUTTON = "Check numerically (finite differences)"
SHOWN_NUMBERS = 3  # a cell shows a leaf's first few checked elements
SHOWN_UNCHECKED = 10  # leaves not checked get a row each up to this many, then one line
_ASKED = "numeric_asked"  # the (program, root, gradient) whose check this session asked for


def numeric_section(source: str, root: str | None, gradient: str | None) -> None:
    """The button and, once pressed for this program, root and gradient, the check."""
    key = (source, root, gradient or None)
    state = st.session_state
    if st.button(BUTTON, key="numeric_check",
                 help="Runs the program again in float64, nudging each element of each leaf "
                      "by ±ε, and compares (f(x+ε) − f(x−ε)) / 2ε with autograd's gradient."):
        state[_ASKED] = key
    if state.get(_ASKED) != key:
        return
    try:
        with st.spinner("Running the program again, one nudged element at a time…"):
            check = cached_numeric(*key)
    except worker.JobFailed as exc:  # busy: nothing kept, the button asks again
        state[_ASKED] = None
        st.warning(f"**{'Busy' if exc.busy else 'Not checked'}:** {plain(exc.message)}",
                   icon="⏳")
        return
    show(check)


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def number(value: float) -> str:
    """A number in a few characters: 6 significant digits."""
    if math.isnan(value):
        return "nan"
    return f"{value:.6g}"


def numbers(values: tuple[float, ...], leaf: LeafCheck) -> str:
    """A leaf's checked elements, compactly: ``30`` or ``[0.105, 0.215, …]``."""
    if not values:
        return "—"
    if leaf.numel == 1:
        return number(values[0])
    shown = ", ".join(number(v) for v in values[:SHOWN_NUMBERS])
    return f"[{shown}{', …' if len(values) > SHOWN_NUMBERS or leaf.checked < leaf.numel else ''}]"


def epsilon(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-")


def error(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1e}"


def verdict(leaf: LeafCheck) -> str:
    if not leaf.checked:
        return "not checked"
    return "✓" if leaf.ok else "⚠ beyond tolerance"


def table(check: NumericCheck) -> pd.DataFrame:
    """One row per leaf checked (and per leaf not checked, up to a few): leaf, autograd,
    numerical, ε, max abs error, and whether it is within tolerance."""
    unchecked = [leaf for leaf in check.leaves if not leaf.checked]
    rows = [leaf for leaf in check.leaves
            if leaf.checked or len(unchecked) <= SHOWN_UNCHECKED]
    return pd.DataFrame(
        [{"leaf": leaf.name,
          "elements": f"{leaf.checked:,} of {leaf.numel:,}",
          "autograd": "None" if leaf.grad_none else numbers(leaf.autograd, leaf),
          "numerical": numbers(leaf.numeric, leaf),
          "ε": epsilon(leaf.eps),
          "max abs error": error(leaf.max_abs_error) if leaf.checked else "—",
          "max rel error": error(leaf.max_rel_error) if leaf.checked else "—",
          "check": verdict(leaf)} for leaf in rows],
        columns=["leaf", "elements", "autograd", "numerical", "ε", "max abs error",
                 "max rel error", "check"])


def show(check: NumericCheck) -> None:
    """What the check found: a verdict, the table, and what the reader must know."""
    if check.error:
        st.warning("**The finite-difference check could not be made**\n\n"
                   + code_block(check.error), icon="⚠️")
        return
    checked = [leaf for leaf in check.leaves if leaf.checked]
    off = [leaf for leaf in checked if not leaf.ok]
    elements = sum(leaf.checked for leaf in checked)
    done = (f"{_count(len(checked), 'leaf', 'leaves')}, {_count(elements, 'element')}, "
            f"{_count(check.runs, 'run')} of the program in {check.seconds:.2g} s")
    if not checked:
        st.warning("No element could be checked (see the notes below).", icon="⚠️")
    elif off:
        names = ", ".join(code(leaf.name) for leaf in off)
        st.warning(f"**Autograd and the finite differences disagree** for {names}: beyond "
                   f"the tolerance, the numerical derivative of the root is not the gradient "
                   f"autograd gave ({plain(done)}).", icon="⚠️")
        st.caption("Where the function has a kink there (relu at 0, abs at 0, max at a tie) "
                   "both can be right; a history cut by .detach() or torch.no_grad() shows "
                   "here too: autograd follows only the graph it recorded.")
    else:
        st.success(f"Autograd and the finite differences agree for every leaf checked "
                   f"({plain(done)}).", icon="✅")
    st.caption(f"The numerical derivative of {code(check.objective)}: central differences "
               "(f(x+ε) − f(x−ε)) / 2ε, one element at a time; ✓ within atol + "
               "rtol·|autograd| (in float64: 1e-5 + 1e-3·|autograd|).")
    if check.leaves:
        st.dataframe(table(check), hide_index=True)
    for leaf in check.leaves:
        if leaf.note and (leaf.checked or len(check.leaves) - len(checked) <= SHOWN_UNCHECKED):
            st.caption(f"{code(leaf.name)}: {plain(leaf.note)}")
    unchecked = len(check.leaves) - len(checked)
    if unchecked > SHOWN_UNCHECKED:
        st.caption(plain(f"{unchecked:,} more leaves were not checked: the caps were spent "
                         "on the leaves above."))
    for note in check.notes:
        st.caption(plain(note[0].upper() + note[1:] + "."))
