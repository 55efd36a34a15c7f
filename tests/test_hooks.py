"""Hooks: tensor.register_hook and grad_fn.register_hook / register_prehook with a def or a
lambda, run by torch's engine through the interpreter. torch (the program run natively)
is the oracle for what they print and what the gradients end as; the recorded backward
says when each fired, what it received and what it returned."""

from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from autoviz.lesson.lab import make_study
from autoviz.lesson.share import View, to_params
from autoviz.runner.errors import ProgramError
from autoviz.runner.program import run_program

HOOKS = textwrap.dedent("""\
    import torch
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = x * 2
    h = y.register_hook(lambda g: g * 10)
    def show(g):
        print("x got", g)
    x.register_hook(show)
    z = (y ** 2).sum()
    z.grad_fn.register_prehook(lambda go: print("pre", go))
    z.backward()
    print(x.grad)
    h.remove()
    x.grad = None
    z2 = (x * 2).sum()
    z2.backward()
    print(x.grad)
    """)


def native(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<native>", "exec"), {})  # noqa: S102 - our own test program
    return out.getvalue()


def test_hooks_run_as_torch_runs_them():
    assert run_program(HOOKS).output == native(HOOKS)


def test_each_firing_is_kept_with_its_step_what_it_got_and_what_it_gave():
    program = run_program(HOOKS)
    first = program.traces[0]
    steps = [s.name.rpartition("::")[2] for s in first.steps]
    assert steps == ["SumBackward0", "PowBackward0", "MulBackward0", "AccumulateGrad"]
    fired = [(f.kind, f.target, f.step, f.line, f.received, f.returned) for f in first.hooks]
    assert fired == [
        ("prehook", "SumBackward0", 1, 9, "(1.,)", "None"),
        ("tensor", "y", 3, 4, "[4., 8., 12.]", "[40., 80., 120.]"),  # before y's MulBackward0
        ("tensor", "x", 4, 7, "[80., 160., 240.]", "None"),  # before x's AccumulateGrad
    ]
    second = program.traces[1]  # the handle removed y's hook; x's stays
    assert [(f.target, f.received) for f in second.hooks] == [("x", "[2., 2., 2.]")]


def test_the_studys_own_backward_runs_the_programs_hooks_and_removes_them_after():
    source = ("import torch\nw = torch.ones(2, requires_grad=True)\n"
              "w.register_hook(lambda g: g * 3)\nloss = (w * w).sum()\n")
    study = make_study(source, "loss")
    (fire,) = study.trace.hooks
    assert fire.target == "w" and fire.returned == "[6., 6.]" and fire.step == 3
    assert study.first_grads["w"] == "[6., 6.]"  # torch's: 2w, tripled by the hook


@pytest.mark.parametrize("source, said", [
    ("x.register_hook(print)", "can only be called here"),
    ("x.register_hook(1)", "takes a function of the program"),
    ("h = x.register_hook(lambda g: g)\nh.id", "has .remove() only"),
    ("def f(g):\n    while True:\n        pass\nx.register_hook(f)\n(x * 2).sum().backward()",
     "statements"),
    ("def f(g):\n    return torch.ones(10**5, 10**4)\nx.register_hook(f)\n"
     "(x * 2).sum().backward()", "would take"),
    ("def f(g):\n    f(g)\nx.register_hook(f)\n(x * 2).sum().backward()", "deep"),
])
def test_hostile_hooks_are_refused(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nx = torch.ones(3, requires_grad=True)\n" + source + "\n")
    assert caught.value.refused and said in str(caught.value), str(caught.value)


def test_a_hook_that_fails_gives_torchs_error_at_its_line():
    source = ("import torch\nx = torch.ones(3, requires_grad=True)\n"
              "x.register_hook(lambda g: g.view(5))\n(x * 2).sum().backward()\n")
    with pytest.raises(RuntimeError) as natively:
        native(source)
    with pytest.raises(ProgramError) as caught:
        run_program(source)
    assert not caught.value.refused and str(natively.value) in str(caught.value)
    assert caught.value.lineno == 3  # in the hook, where it fails


def test_the_step_panel_says_a_hook_fired_and_changed_the_gradient():
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "page.py"),
                           default_timeout=60)
    at.session_state["view"] = "classic"
    first = "".join(HOOKS.splitlines(keepends=True)[:11])  # up to the first backward
    for key, value in to_params(View(code=first, step=3)).items():
        at.query_params[key] = value
    at.run()
    warned = [w.value for w in at.warning if "Hook" in w.value]
    assert warned and "The hook on y" in warned[0] and "returned" in warned[0], warned
    assert "The steps that follow use what it returned" in warned[0]


FORWARD_HOOKS = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    seen = {}
    def keep(name):
        def hook(module, inputs, output):
            seen[name] = output.detach()
        return hook
    model[1].register_forward_hook(keep("relu"))
    m = model[2]
    h = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))
    h2 = m.register_forward_hook(lambda mod, inp, out: out + 1)
    x = torch.randn(2, 3)
    print(model(x), m.forward(torch.ones(1, 4)))
    h.remove()
    h2.remove()
    print(model(x), seen["relu"])
    """)


def test_forward_hooks_run_as_torch_runs_them():
    assert run_program(FORWARD_HOOKS).output == native(FORWARD_HOOKS)


def test_a_forward_hook_takes_a_function_of_the_program():
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\nimport torch.nn as nn\nm = nn.ReLU()\n"
                    "m.register_forward_hook(print)\n")
    assert caught.value.refused and caught.value.lineno == 4
