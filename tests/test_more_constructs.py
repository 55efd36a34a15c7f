"""More of the Python and torch people write: type(x).__name__, x.__class__.__name__,
``if __name__ == "__main__":``, @torch.no_grad() functions, enumerate(zip(...)), a
state_dict's methods, torch functions given a name (loss_func = F.cross_entropy),
tensor._version, anomaly mode, torch.autograd.gradcheck. torch (the program run natively)
is the oracle; what is refused says so at its line."""

from __future__ import annotations

import contextlib
import io
import textwrap
import warnings
from pathlib import Path

import pytest

from autoviz.runner.errors import ProgramError
from autoviz.runner.program import run_program

PROGRAM = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.autograd import gradcheck

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    for layer in model:
        print(type(layer).__name__, layer.__class__.__name__)
    x = torch.randn(4, 2)
    print(type(x), type(x).__name__, isinstance(x, type(x)), F.relu.__name__)
    sd = model.state_dict()
    print(list(sd.keys()))
    for name, value in sd.items():
        print(name, tuple(value.shape))

    @torch.no_grad()
    def evaluate(inputs):
        return model(inputs).sum()

    print(evaluate(x).requires_grad, model(x).sum().requires_grad)
    loss_func = F.mse_loss
    act = torch.tanh
    loss = loss_func(act(model(x)), torch.zeros(4, 3))
    loss.backward()
    for i, (name, p) in enumerate(zip(["w", "b"], model.parameters())):
        print(i, name, tuple(p.grad.shape))
    t = torch.ones(2)
    before = t._version
    t.add_(1)
    print(before, t._version)

    def f(a, b):
        return (a * b.sin()).sum(dim=0)

    a = torch.randn(3, 2, dtype=torch.double, requires_grad=True)
    b = torch.randn(3, 2, dtype=torch.double, requires_grad=True)
    print(gradcheck(f, (a, b), eps=1e-6, atol=1e-4))
    if __name__ == "__main__":
        print("main")
    """)


def native(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, "<native>", "exec"), {"__name__": "__main__"})  # noqa: S102
    return out.getvalue()


def test_the_program_runs_as_torch_runs_it():
    assert run_program(PROGRAM).output == native(PROGRAM)


ANOMALY = textwrap.dedent("""\
    import torch
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with torch.autograd.detect_anomaly():
        y = (x / x).sum()
        try:
            y.backward()
        except RuntimeError as e:
            print("caught:", e)
    """)


def test_anomaly_mode_gives_torchs_error_and_the_forward_line_it_points_to():
    import torch

    program = run_program(ANOMALY)
    assert program.output == native(ANOMALY)
    assert "returned nan values" in program.output
    said = [text for line, text in program.warnings if "Error detected in" in text]
    assert said == ["UserWarning: Error detected in DivBackward0. Anomaly mode traced it to "
                    "the forward operation made at line 4."]
    assert not torch.is_anomaly_enabled()  # the program's mode ends with the program
    on = run_program("import torch\ntorch.autograd.set_detect_anomaly(True)\n"
                     "print(torch.is_anomaly_enabled())\n")
    assert on.output == "True\n" and not torch.is_anomaly_enabled()


def test_a_warning_from_a_builtin_on_a_tensor_is_the_programs():
    """In a fresh process (torch gives this warning once per process)."""
    import subprocess
    import sys

    script = ("from autoviz.runner.program import run_program\n"
              "p = run_program('import torch\\nx = torch.ones(1, requires_grad=True) * 2\\n"
              "f = float(x)\\n')\nprint(p.warnings)\n")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=root, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(3, 'UserWarning: Converting a tensor with requires_grad=True to a scalar" \
        in out.stdout, out.stdout
    assert "Converting" not in out.stderr  # not escaped to the process


@pytest.mark.parametrize("source, said", [
    ("@staticmethod\ndef f():\n    return 1", "decorators here are @torch.no_grad()"),
    ("@torch.no_grad\ndef f():\n    return 1", "decorators here are @torch.no_grad()"),
    ("@torch.no_grad(1)\ndef f():\n    return 1", "decorators here are @torch.no_grad()"),
    ("@torch.no_grad()\n@torch.no_grad()\ndef f():\n    return 1", "decorators here"),
    ("x = torch.ones(1)\nm = x.__class__.__mro__", "names starting with '_'"),
    ("x = torch.ones(1)\nm = type(x).__dict__", "names starting with '_'"),
    ("x = torch.ones(1)\nm = type(x)(3)", "not for calling"),
    ("x = torch.ones(1)\nm = type(x).mro", "only .__name__ is available"),
    ("f = torch.relu\nprint(f)", "can only be called here"),
    ("f = torch.relu\nL = [f]", "can only be called here"),
    ("f = torch.relu\ns = f\"{f}\"", "can only be called here"),
    ("m = torch.relu.__class__", "are not available"),
    ("z = zip([1])\nfor i in range(9):\n    z = enumerate(z)\nlist(z)", "nested more than 8"),
    ("torch.autograd.gradcheck(torch.sin, (torch.ones(2000, dtype=torch.double, "
     "requires_grad=True),))", "over 2,000 input elements"),
    ("torch.autograd.gradcheck(1, (torch.ones(2, dtype=torch.double),))", "a function"),
])
def test_refusals_name_their_line(source, said):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\n" + source + "\n")
    assert said in str(caught.value), str(caught.value)
    assert caught.value.lineno is not None and caught.value.lineno >= 2


STARRED = textwrap.dedent("""\
    import torch
    first, *rest = [1, 2, 3, 4]
    *init, last = (1, 2, 3)
    a, *mid, b = range(5)
    h, *t = torch.ones(3, 2)
    x, *y = "ab"
    print(first, rest, init, last, a, mid, b, h, len(t), x, y)
    """)


def test_starred_assignment_runs_as_python_runs_it():
    assert run_program(STARRED).output == native(STARRED)


@pytest.mark.parametrize("source, said, refused", [
    ("a, *b, *c = [1, 2]", "multiple starred expressions", True),
    ("*a = [1]", "a starred target is a name inside a tuple or list", True),
    ("a, *b = range(10**9)", "unpacking more than", True),
    ("a, b, *c = [1]", "ValueError: not enough values to unpack (expected at least 2, got 1)",
     False),
])
def test_starred_assignment_errors(source, said, refused):
    with pytest.raises(ProgramError) as caught:
        run_program("import torch\n" + source + "\n")
    assert said in str(caught.value) and caught.value.refused is refused
    assert caught.value.lineno == 2
