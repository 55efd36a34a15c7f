"""The finite-difference check per leaf (autoviz.lesson.numeric, its worker job and its page
section): torch is the oracle, autograd's gradient and central differences taken natively
in float64 beside what the check says."""

import math
import textwrap
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

from autoviz import worker
from autoviz.lesson.lab import make_study
from autoviz.lesson.numeric import EPSILON, MAX_ELEMENTS, NumericCheck, finite_differences
from autoviz.runner.interp import Rerun
from autoviz.runner.limits import Limits
from autoviz.runner.program import run_program
from ui import studies
from ui.text import plain

LANDING = "import torch\na = torch.tensor([3.], requires_grad=True)\nO = 5 * a ** 2\n"
MLP = textwrap.dedent("""\
    import torch
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    W1 = torch.randn(3, 5, requires_grad=True)
    b1 = torch.zeros(5, requires_grad=True)
    W2 = torch.randn(5, 1, requires_grad=True)
    b2 = torch.zeros(1, requires_grad=True)
    h = torch.tanh(x @ W1 + b1)
    loss = ((h @ W2 + b2) ** 2).mean()
    """)


def leaf(check, name):
    return next(item for item in check.leaves if item.name == name)


def native_numeric(f, params, eps=1e-6):
    """Central differences of ``f(*params)`` in float64, one element at a time (what
    gradcheck's numerical Jacobian does for a scalar output)."""
    found = []
    for i, p in enumerate(params):
        grad = torch.zeros_like(p)
        for j in range(p.numel()):
            ends = []
            for sign in (1, -1):
                moved = [q.detach().clone() for q in params]
                moved[i].view(-1)[j] += sign * eps
                ends.append(float(f(*moved)))
            grad.view(-1)[j] = (ends[0] - ends[1]) / (2 * eps)
        found.append(grad)
    return found


# ---- the library ---------------------------------------------------------------------


def test_the_landing_program_gets_thirty_both_ways():
    check = finite_differences(LANDING)
    a = torch.tensor([3.], dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(5 * a ** 2, [a])
    (found,) = check.leaves
    assert check.ok and not check.error and check.root == "O" and check.objective == "O"
    assert found.name == "a" and found.shape == (1,) and found.dtype == "float64"
    assert found.eps == EPSILON["float64"] == 1e-6 and found.checked == found.numel == 1
    assert found.autograd == (float(expected),) == (30.0,)
    assert abs(found.numeric[0] - 30.0) < 1e-6 and found.max_abs_error < 1e-6
    assert found.max_abs_error == abs(found.numeric[0] - found.autograd[0])
    assert found.max_rel_error == found.max_abs_error / max(30.0, abs(found.numeric[0]))
    assert found.ok and not found.note
    assert check.runs == 4  # the first run, the same again, then +ε and -ε
    assert "float64" in check.notes[0]


def test_a_seeded_two_layer_mlp_matches_autograd_and_central_differences_done_natively():
    check = finite_differences(MLP)
    g = torch.Generator().manual_seed(0)  # the runner seeds its own generator as natively
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    W1 = torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    b1 = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    W2 = torch.randn(5, 1, generator=g, dtype=torch.float64, requires_grad=True)
    b2 = torch.zeros(1, dtype=torch.float64, requires_grad=True)

    def f(W1, b1, W2, b2):
        return ((torch.tanh(x @ W1 + b1) @ W2 + b2) ** 2).mean()

    params = [W1, b1, W2, b2]
    assert torch.autograd.gradcheck(f, params)  # torch's own check agrees it is right
    grads = torch.autograd.grad(f(*params), params)
    numeric = native_numeric(f, params)
    assert check.ok and check.root == "loss" and not check.error
    assert [item.name for item in check.leaves] == ["W1", "b1", "W2", "b2"]
    for name, grad, num in zip(["W1", "b1", "W2", "b2"], grads, numeric):
        found = leaf(check, name)
        assert found.checked == found.numel == grad.numel() and found.ok
        assert found.shape == tuple(grad.shape)
        assert torch.allclose(torch.tensor(found.autograd, dtype=torch.float64),
                              grad.reshape(-1), rtol=0, atol=1e-12)
        assert torch.allclose(torch.tensor(found.numeric, dtype=torch.float64),
                              num.reshape(-1), rtol=0, atol=1e-8)
        assert found.max_abs_error < 1e-6
    assert not any("random numbers without" in note for note in check.notes)  # it seeds


def test_a_non_scalar_root_is_checked_through_its_gradient_argument():
    source = "import torch\nw = torch.tensor([1., 2., 3.], requires_grad=True)\ny = w ** 3\n"
    check = finite_differences(source, "y", "torch.tensor([1., 10., 100.])")
    w = torch.tensor([1., 2., 3.], dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([1., 10., 100.], dtype=torch.float64)
    (expected,) = torch.autograd.grad(w ** 3, [w], weights)
    (found,) = check.leaves
    assert check.ok and check.gradient == "torch.tensor([1.0, 10.0, 100.0])"
    assert check.objective == "(torch.tensor([1.0, 10.0, 100.0]) * y).sum()"
    assert found.autograd == tuple(expected.tolist())  # 3w² times the weights
    assert all(abs(n - a) < 1e-4 for n, a in zip(found.numeric, found.autograd))


def test_a_stale_gradient_for_a_scalar_root_is_dropped_as_the_study_drops_it():
    check = finite_differences(LANDING, "O", "torch.ones(2)")
    assert check.ok and check.gradient is None and check.objective == "O"


def test_a_leaf_with_more_elements_than_the_cap_says_how_many_were_checked():
    source = textwrap.dedent("""\
        import torch
        torch.manual_seed(0)
        W = torch.randn(10, 10, requires_grad=True)
        b = torch.randn(10, requires_grad=True)
        L = torch.tanh(W @ b).sum()
        """)
    check = finite_differences(source)
    W, b = leaf(check, "W"), leaf(check, "b")
    assert MAX_ELEMENTS == 64 and b.checked == 10 and W.checked == 54  # b whole, W the rest
    assert W.numel == 100 and "54 of 100 elements checked" in W.note
    assert any("at most 64 elements are nudged in all" in n and "64 of 110" in n
               for n in check.notes)
    assert check.ok and check.runs == 2 + 2 * 64
    g = torch.Generator().manual_seed(0)
    Wn = torch.randn(10, 10, generator=g, dtype=torch.float64, requires_grad=True)
    bn = torch.randn(10, generator=g, dtype=torch.float64, requires_grad=True)
    gW, _ = torch.autograd.grad(torch.tanh(Wn @ bn).sum(), [Wn, bn])
    assert W.autograd == tuple(gW.reshape(-1)[:54].tolist())  # the first, row by row
    small = finite_differences(source, max_elements=5)
    assert [leaf(small, n).checked for n in ("W", "b")] == [2, 3]  # shared: 5 / 2, rounded up
    # for the smaller


def test_a_program_without_leaves_says_there_is_nothing_to_check():
    check = finite_differences("import torch\nx = torch.ones(3)\ny = x * 2\n")
    assert not check.ok and not check.leaves
    assert check.error == ("no tensor here requires grad, so there is no gradient to check "
                           "(set requires_grad=True on a leaf)")


def test_a_failing_program_names_its_error_and_line():
    check = finite_differences("import torch\na = torch.ones(2, requires_grad=True)\n"
                               "b = undefined * a\n")
    assert not check.ok and check.error == ("run in float64, the program fails on line 3: "
                                            "NameError: name 'undefined' is not defined")


def test_a_backward_that_fails_is_named_as_torch_says_it():
    source = "import torch\nw = torch.tensor([1., 2.], requires_grad=True)\ny = w * 2\n"
    check = finite_differences(source)  # a non-scalar root and no gradient
    with pytest.raises(RuntimeError) as native:
        (torch.tensor([1., 2.], requires_grad=True) * 2).backward()
    assert check.error == f"backward() fails: RuntimeError: {native.value}"
    bad = finite_differences(source, "y", "torch.ones(2")
    assert bad.error == "gradient: the gradient must be one expression, e.g. torch.ones(2)"


def test_a_complex_root_is_refused_and_complex_leaves_are_left_out():
    root = finite_differences("import torch\nc = torch.tensor([1+2j], requires_grad=True)\n"
                              "O = c * 2\n")
    assert root.error == "O is complex: the check takes a real root"
    mixed = finite_differences("import torch\nc = torch.tensor([1+2j], requires_grad=True)\n"
                               "w = torch.tensor([2.], requires_grad=True)\n"
                               "O = (c * w).abs().sum()\n")
    assert [item.name for item in mixed.leaves] == ["w"] and mixed.ok
    assert "1 complex leaf is not checked (the check nudges real numbers)" in mixed.notes
    assert leaf(mixed, "w").autograd == (math.sqrt(5),)  # |c|


def test_a_leaf_changed_after_it_was_made_is_not_checked_and_says_why():
    source = ("import torch\nw = torch.zeros(2, requires_grad=True)\nwith torch.no_grad():\n"
              "    w += 1\nL = (w * w).sum()\n")
    check = finite_differences(source)
    (found,) = check.leaves
    assert found.checked == 0 and not found.ok and not check.ok
    assert found.note.startswith("not checked: its values changed after it was made (it was "
                                 "made on line 2), in place under torch.no_grad()")


def test_a_leaf_whose_history_was_cut_shows_autograds_none_against_the_real_slope():
    source = ("import torch\nw = torch.tensor([1., 2.], requires_grad=True)\n"
              "v = torch.tensor([3.], requires_grad=True)\nL = (w.detach() * 2).sum() + v.sum()\n")
    check = finite_differences(source)
    w, v = leaf(check, "w"), leaf(check, "v")
    assert w.grad_none and w.autograd == (0.0, 0.0) and not w.ok
    assert all(abs(n - 2.0) < 1e-6 for n in w.numeric)  # L does change with w: slope 2
    assert "autograd gave it no gradient (None)" in w.note and "was cut" in w.note
    assert v.ok and v.autograd == (1.0,) and not check.ok


def test_a_float32_leaf_gets_a_larger_epsilon_and_says_so():
    source = ("import torch\nw = torch.tensor([0.5, 2.], dtype=torch.float32, "
              "requires_grad=True)\nL = (w.exp() * 3).sum()\n")
    check = finite_differences(source)
    (found,) = check.leaves
    assert found.dtype == "float32" and found.eps == EPSILON["float32"] == 1e-3
    assert "w is float32 (an explicit dtype), so ε is 1e-3" in found.note
    expected = (3 * torch.tensor([0.5, 2.], dtype=torch.float32).exp()).tolist()
    assert found.autograd == tuple(expected) and found.ok
    assert all(abs(n - a) < 1e-2 * abs(a) for n, a in zip(found.numeric, found.autograd))
    root = finite_differences("import torch\nw = torch.tensor([0.5], requires_grad=True)\n"
                              "L = (w.exp() * 3).sum().float()\n")
    assert leaf(root, "w").eps == 1e-3 and "the root L is float32" in leaf(root, "w").note


def test_a_program_whose_path_depends_on_a_leaf_says_the_check_cannot_be_taken_there():
    source = textwrap.dedent("""\
        import torch
        a = torch.tensor([1.], requires_grad=True)
        if a.item() > 1:
            b = torch.ones(1, requires_grad=True)
        else:
            b = torch.ones(2, requires_grad=True)
        O = (a * b).sum()
        """)
    check = finite_differences(source)
    a, b = leaf(check, "a"), leaf(check, "b")
    assert a.checked == 0 and a.note == (
        "not checked: with element 0 nudged by +1e-6, the program makes other leaves: what "
        "it does depends on this value, so finite differences cannot be taken here")
    assert b.ok and b.autograd == (1.0, 1.0)


def test_a_nudge_that_makes_the_program_fail_is_named():
    source = ("import torch\na = torch.tensor([1.], requires_grad=True)\n"
              "x = torch.ones(1)[1 - int(a.item())]\nO = a * x\n")
    (found,) = finite_differences(source).leaves
    assert found.checked == 0 and found.note == (
        "not checked: with element 0 nudged by -1e-6, the program fails on line 3: "
        "IndexError: index 1 is out of bounds for dimension 0 with size 1")


def test_an_epsilon_below_the_spacing_of_the_numbers_is_named():
    (found,) = finite_differences("import torch\nw = torch.tensor([1e12], requires_grad=True)\n"
                                  "O = w * 2\n").leaves
    assert 1e12 + 1e-6 == 1e12 and found.checked == 0  # float64 cannot hold the nudge
    assert found.note == ("not checked: ε is below the spacing of float64 numbers near "
                          "element 0 (1000000000000.0)")


def test_an_unseeded_program_is_one_fixed_draw_in_every_run_and_says_so():
    source = "import torch\nw = torch.randn(4, requires_grad=True)\nL = w.sin().sum()\n"
    first, second = finite_differences(source), finite_differences(source)
    assert first.ok and first.leaves == second.leaves  # the same draw each time
    w = torch.randn(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert leaf(first, "w").autograd == tuple(w.cos().tolist())
    assert any(n.startswith("the program draws random numbers without torch.manual_seed")
               for n in first.notes)


def test_a_program_that_calls_backward_itself_is_checked_with_its_own_gradient():
    source = ("import torch\na = torch.tensor([1., 2.], requires_grad=True)\ny = a ** 3\n"
              "y.backward(torch.tensor([1., 10.]))\n")
    check = finite_differences(source)
    (found,) = check.leaves
    a = torch.tensor([1., 2.], dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(a ** 3, [a], torch.tensor([1., 10.], dtype=torch.float64))
    assert check.ok and check.root == "y" and found.autograd == tuple(expected.tolist())
    assert check.objective == "(gradient * y).sum()"
    assert "the gradient is the one the program's own backward() was given" in check.notes


def test_a_root_rebound_after_its_own_backward_is_refused():
    source = ("import torch\na = torch.tensor([1., 2.], requires_grad=True)\n"
              "y = (a ** 3).sum()\ny.backward()\ny = y * 2\n")
    assert make_study(source).trace.root_name == "y"  # the page steps through the old y
    assert finite_differences(source).error == (
        "y was given another tensor after its backward(): the check cannot nudge the y that "
        "backward() differentiated")


def test_leaves_made_every_way_are_nudged_where_they_are_made():
    source = textwrap.dedent("""\
        import torch
        x = torch.tensor([1., 2., 3.])
        p = x.detach().requires_grad_()
        q = torch.tensor([4., 5.])
        q.requires_grad = True
        ws = []
        for i in range(2):
            ws.append(torch.full((1,), 2.0 + i, requires_grad=True))
        L = (p * x).sum() + (q ** 2).sum() + ws[0] * ws[1]
        """)
    check = finite_differences(source)
    assert [item.name for item in check.leaves] == ["p", "q", "ws[0]", "ws[1]"]
    # p shares x's memory, but the nudge goes to p alone: dL/dp is x, not 2x
    assert leaf(check, "p").autograd == (1.0, 2.0, 3.0) and check.ok
    assert leaf(check, "q").autograd == (8.0, 10.0)
    assert leaf(check, "ws[0]").autograd == (3.0,) and leaf(check, "ws[1]").autograd == (2.0,)
    loop = finite_differences("import torch\nfor i in range(2):\n"
                              "    w = torch.ones(1, requires_grad=True) * 2\nL = w.sum()\n")
    assert [item.name for item in loop.leaves] == ["leaf of w (i=0)", "leaf of w (i=1)"]
    assert [item.autograd for item in loop.leaves] == [(0.0,), (2.0,)]
    assert loop.leaves[0].grad_none and loop.leaves[0].ok  # not on the way to L: both 0


def test_the_check_fits_its_time_and_shares_it_among_the_leaves():
    slow = ("import torch\nw = torch.ones(40, requires_grad=True)\n"
            "v = torch.ones(40, requires_grad=True)\nfor i in range(400):\n"
            "    z = (w * 2).sum()\nO = (w * w).sum() + (v * 3).sum()\n")
    start = time.monotonic()
    check = finite_differences(slow, limits=Limits(job_seconds=2))  # its half: 1 s
    assert time.monotonic() - start < 1.5
    w, v = check.leaves
    assert v.checked <= w.checked <= v.checked + 1 < 32  # round the leaves, in turn
    # (a loaded machine may leave v none: then it says so, and w is still right)
    assert all(leaf.ok for leaf in (w, v) if leaf.checked)
    assert w.autograd == (2.0,) * w.checked and v.autograd == (3.0,) * v.checked
    assert w.note == f"{w.checked} of 40 elements checked (the check's time ran out)"
    done = w.checked + v.checked
    assert any(n.startswith(f"the check's 1 s ran out after {done} of 64 elements (one run "
                            "takes ") for n in check.notes)
    assert check.runs == 2 + 2 * done
    hopeless = finite_differences(slow, limits=Limits(job_seconds=0.02))
    assert hopeless.error.startswith("one run of the program takes ")
    assert hopeless.error.endswith("s: the check needs at least three runs in its 0.01 s")


def test_the_pages_run_is_untouched():
    before = make_study(MLP)
    finite_differences(MLP)
    assert torch.get_default_dtype() is torch.float32
    after = make_study(MLP)
    assert after.root_value == before.root_value and after.grads == before.grads
    program = run_program(MLP)
    assert program.namespace["W1"].dtype is torch.float32


def test_the_runners_rerun_hook_seeds_and_sees_each_new_leaf():
    made = []
    rerun = Rerun(seed=7, on_leaf=lambda tensor, line: made.append((tuple(tensor.shape), line)))
    program = run_program("import torch\nx = torch.randn(3)\nw = x.requires_grad_()\n"
                          "w.requires_grad_()\nv = torch.zeros(2, requires_grad=True)\n"
                          "u = torch.ones(1)\nu.requires_grad = True\n", rerun=rerun)
    assert made == [((3,), 3), ((2,), 5), ((1,), 7)]  # w once: the second call made nothing
    assert rerun.unseeded
    assert torch.equal(program.namespace["x"], torch.randn(3, generator=torch.Generator()
                                                           .manual_seed(7)))
    seeded = Rerun()
    run_program("import torch\ntorch.manual_seed(1)\nx = torch.randn(3)\n", rerun=seeded)
    assert not seeded.unseeded


# ---- the worker job ------------------------------------------------------------------


def test_the_check_runs_in_a_worker_and_comes_back_as_plain_data():
    pool = worker.Pool()
    check = pool.run("numeric", MLP, None, None)
    assert isinstance(check, NumericCheck) and check.ok
    assert check.leaves == finite_differences(MLP).leaves
    failed = pool.run("numeric", "import torch\nq = undefined\n", None, None)
    assert failed.error.endswith("NameError: name 'undefined' is not defined")


# ---- the page section ----------------------------------------------------------------

SCRIPT = """
import streamlit as st
from ui.numeric import numeric_section

numeric_section(st.session_state.source, st.session_state.get("root"),
                st.session_state.get("gradient"))
"""


def page(source, root=None, gradient=None):
    at = AppTest.from_string(SCRIPT, default_timeout=30)
    at.session_state["source"] = source
    at.session_state["root"] = root
    at.session_state["gradient"] = gradient
    at.run(timeout=30)
    assert not at.exception
    return at


@pytest.fixture(autouse=True)
def fresh_checks():
    studies.clear()
    yield
    studies.clear()


def press(at):
    at.button(key="numeric_check").click().run(timeout=30)
    assert not at.exception
    return at


def test_the_section_shows_a_button_then_the_table():
    at = page(LANDING)
    assert at.button(key="numeric_check").label == "Check numerically (finite differences)"
    assert not at.dataframe  # nothing is run until asked
    press(at)
    table = at.dataframe[0].value
    assert list(table.columns) == ["leaf", "elements", "autograd", "numerical", "ε",
                                   "max abs error", "max rel error", "check"]
    row = table.iloc[0].to_dict()
    found = leaf(finite_differences(LANDING), "a")
    assert row["leaf"] == "a" and row["autograd"] == "30" and row["ε"] == "1e-6"
    assert row["numerical"] == f"{found.numeric[0]:.6g}" and row["check"] == "✓"
    assert row["max abs error"] == f"{found.max_abs_error:.1e}"
    assert "agree for every leaf checked" in at.success[0].value
    at.run(timeout=30)  # a rerun (a step, say) keeps the check shown, from the cache
    assert at.dataframe and at.dataframe[0].value.equals(table)


def test_the_section_shows_many_elements_compactly():
    at = press(page(MLP))
    table = at.dataframe[0].value
    w1 = table[table["leaf"] == "W1"].iloc[0]
    assert w1["elements"] == "15 of 15" and w1["autograd"].startswith("[")
    assert w1["autograd"].endswith(", …]") and w1["autograd"].count(",") == 3


def test_the_section_warns_where_the_two_disagree_and_quotes_names_as_code():
    source = ("import torch\nw__x__ = torch.tensor([1., 2.], requires_grad=True)\n"
              "v = torch.tensor([3.], requires_grad=True)\n"
              "L = (w__x__.detach() * 2).sum() + v.sum()\n")
    at = press(page(source))
    (warning,) = at.warning
    assert "disagree" in warning.value and "`w__x__`" in warning.value
    assert at.dataframe[0].value.iloc[0]["check"] == "⚠ beyond tolerance"
    captions = [c.value for c in at.caption]
    assert any(c.startswith("`w__x__`: autograd") for c in captions)


def test_the_section_shows_why_a_check_could_not_be_made():
    at = press(page("import torch\nq = undefined\n"))
    (warning,) = at.warning
    assert "could not be made" in warning.value
    assert "```\nrun in float64, the program fails on line 2: NameError: name 'undefined' " \
           "is not defined\n```" in warning.value  # literally, never as Markdown
    assert not at.dataframe


def test_the_section_forgets_the_check_for_another_program():
    at = press(page(LANDING))
    assert at.dataframe
    at.session_state["source"] = MLP
    at.run(timeout=30)
    assert not at.dataframe  # the button again, for this program


def test_a_busy_server_says_so_and_the_button_asks_again(monkeypatch):
    pool = worker.Pool(workers=1, waiting=0)
    monkeypatch.setattr(worker, "_pool", pool)
    at = page(LANDING)
    pool._slots.acquire()  # every worker is taken (by other sessions)
    try:
        press(at)
        (warning,) = at.warning
        assert warning.value == "**Busy:** " + plain("the server is busy; try again in a moment")
        assert not at.dataframe
    finally:
        pool._slots.release()
    at.run(timeout=30)
    assert not at.dataframe  # not asked again yet
    press(at)
    assert at.dataframe[0].value.iloc[0]["check"] == "✓"


def test_a_check_its_worker_had_to_stop_is_shown_and_kept(monkeypatch):
    monkeypatch.setattr(worker, "_pool", worker.Pool(limits=Limits(job_seconds=1)))
    slow = ("import torch\ny = torch.ones(2, requires_grad=True)\n"
            "for i in range(99000): z = (y * 2).exp().sum()\n")
    at = press(page(slow))
    (warning,) = at.warning
    assert "the finite-difference check was stopped after 1 s on line 3" in warning.value
    assert studies.cached_numeric(slow, None, None).error.startswith(
        "the finite-difference check was stopped")  # kept: not run again
