"""What a worker reads off the live run for the page: the manual calls of every step."""

import ast
import re

import pytest
import torch

from autoviz.lesson.lab import CALLED_STEPS, make_study
from autoviz.lesson.presets import PRESETS


def test_every_step_of_a_long_chain_gets_its_call_and_the_first_ones_are_run():
    study = make_study(PRESETS["chain"].code, "y")
    steps = study.trace.steps
    assert len(study.calls) == len(steps) == 5_001
    shallow = study.manual_call(3)
    assert steps[2].path == "y.grad_fn.next_functions[0][0].next_functions[0][0]"
    literal = re.fullmatch(re.escape(steps[2].path) + r"\(torch\.tensor\(\[([0-9.]+)\]\)\)",
                           shallow.code)
    assert literal and shallow.exact  # every digit of what the node got, not 4 of them
    assert len(literal[1]) > 8 and abs(float(literal[1]) -
                                       float(steps[2].grad_outputs[0].text.strip("[]"))) < 1e-3
    deep = study.manual_call(100)
    assert deep.code.startswith("node = y.grad_fn\nfor _ in range(99):\n"
                                "    node = node.next_functions[0][0]\nnode(torch.tensor([")
    assert deep.called and deep.exact
    # the node called with what the engine handed it: a MulBackward0 by a constant
    received = float(steps[99].grad_outputs[0].text.strip("[]"))
    returned = re.fullmatch(r"\(tensor\(\[([0-9.]+)\]\), None\)", deep.result)
    assert returned and abs(float(returned[1]) - received * 1.0001) < 1e-3
    late = study.manual_call(CALLED_STEPS + 1)
    assert not late.called and f"first {CALLED_STEPS:,} steps" in late.result
    leaf = study.manual_call(len(steps))
    assert not leaf.called and "AccumulateGrad adds what it gets to" in leaf.result
    assert study.manual_call(0) is None and study.manual_call(len(steps) + 1) is None


def test_a_loop_of_warnings_is_shown_once_with_its_count():
    code = ("import torch\nimport torch.nn.functional as F\nx = torch.ones(3)\n"
            "for i in range(500):\n    y = F.softmax(x)\n")
    study = make_study(code)
    ((line, text),) = study.warnings
    assert line == 5 and "dim" in text and text.endswith("(raised 500 times)")


def test_no_more_than_twenty_distinct_warnings_are_listed():
    from autoviz.lesson.lab import SHOWN_WARNINGS, shown_warnings

    found = [(i, f"UserWarning: number {i}") for i in range(1, 60)]
    shown = shown_warnings(found)
    assert len(shown) == SHOWN_WARNINGS == 20 and shown[:19] == tuple(found[:19])
    assert shown[-1][1] == "... and 40 other warnings"


@pytest.mark.parametrize("gradient", [
    "torch.ones(3)\rfor i in range(9): pass", "torch.ones(3); x = 1", "torch.ones(3)\fy = 2",
    "torch.ones(3)\nprint(1)", "x = torch.ones(3)", "",
])
def test_the_gradient_is_one_expression_or_refused(gradient):
    code = "import torch\nx = torch.ones(3, requires_grad=True)\ny = x * 2\n"
    study = make_study(code, "y", gradient or " ")
    assert study.trace is None
    assert study.backward_error == ("gradient: the gradient must be one expression, e.g. "
                                    "torch.ones(2)"), study.backward_error


def test_the_gradient_runs_and_is_exported_as_its_parsed_expression():
    code = "import torch\nx = torch.ones(3, requires_grad=True)\ny = x * 2\n"
    study = make_study(code, "y", "  torch.tensor([1.,  10., 100.])  ")
    assert study.gradient_code == "torch.tensor([1.0, 10.0, 100.0])"
    assert study.trace.leaf_grads and "y.backward(gradient=torch.tensor([1.0, 10.0, 100.0])" \
        in study.program_file


def test_empty_tensors_hold_zeros_not_what_the_allocator_had():
    code = ("import torch\na = torch.empty(100000)\nb = torch.ones(4).new_empty(50000)\n"
            "c = torch.empty_like(torch.ones(30000))\nw = torch.empty(3, requires_grad=True)\n"
            "s = a.abs().sum() + b.abs().sum() + c.abs().sum()\nloss = (w * 2).sum()\n")
    study = make_study(code, "loss")
    rows = {r[0]: r for r in study.tables["tensors"].rows}
    assert rows["s"][7] == "0." and rows["w"][7] == "[0., 0., 0.]"
    assert rows["w"][3] is True and rows["w"][4] is True  # still torch's own leaf
    assert study.tables["leaf_grads"].rows == (("w", "(3,)", "[2., 2., 2.]"),)


LEAF_FLAGS = {
    "own-backward": ("import torch\nw = torch.tensor([1., 2.], requires_grad=True)\n"
                     "b = torch.tensor([3., 4.], requires_grad=True)\ny = (w * b).sum()\n"
                     "b.requires_grad_(False)\ny.backward()\n", None),
    "autoviz-backward": ("import torch\nw = torch.tensor([1., 2.], requires_grad=True)\n"
                         "b = torch.tensor([3., 4.], requires_grad=True)\ny = (w * b).sum()\n"
                         "b.requires_grad_(False)\n", "y"),
    "accumulates": ("import torch\nw = torch.tensor([1., 2.], requires_grad=True)\n"
                    "w.grad = torch.ones(2)\ny = (w * w).sum()\n", "y"),
}


@pytest.mark.parametrize(("source", "root"), LEAF_FLAGS.values(), ids=LEAF_FLAGS.keys())
def test_leaf_notes_say_what_torch_left_in_grad(source, root):
    """Every sentence about a leaf's .grad is true of the .grad torch left (read natively)."""
    from autoviz.drawing.scene import done_note

    native: dict = {}
    exec(compile(source + (f"{root}.backward()\n" if root else ""), "<leaf>", "exec"), native)
    study = make_study(source, root)
    steps = [s for s in study.trace.steps if study.trace.graph.node(s.node_id).kind == "leaf"]
    assert steps
    for step in steps:
        name = study.trace.graph.node(step.node_id).tensor.name
        note, call = done_note(study.trace, step), study.calls[study.trace.steps.index(step)]
        if native[name].grad is None:
            assert "kept none" in note and "adds" not in call.result, (name, note, call)
        else:
            assert note.startswith("grad"), (name, note)
            assert f"adds what it gets to {name}.grad" in call.result


REACH = {
    "unnamed-root": ("import torch\nx = torch.ones(2, requires_grad=True)\n"
                     "(x * 2).sum().backward()\n", False),
    "root-in-a-def": ("import torch\nx = torch.ones(2, requires_grad=True)\ndef f(a):\n"
                      "    y = (a * 3).sum()\n    y.backward()\n    return 1\nr = f(x)\n", False),
    "root-rebound": ("import torch\na = torch.tensor([2.], requires_grad=True)\nO = a * 5\n"
                     "O.backward()\nO = a * 3 + 1\n", False),
    "alias-kept": ("import torch\nx = torch.ones(2, requires_grad=True)\n"
                   "loss = (x * 5).sum()\nbest = loss\nloss.backward()\n"
                   "best = (x * 3).sum()\n", True),
}


@pytest.mark.parametrize(("source", "reached"), REACH.values(), ids=REACH.keys())
def test_a_hand_call_reaches_the_node_that_ran_or_says_it_cannot(source, reached):
    from autoviz.lesson.lab import manual_call, run_study

    live = run_study(source)
    for k, step in enumerate(live.trace.steps, 1):
        call = manual_call(live, k)
        if not reached:
            assert not call.reach and "no variable of the program reaches" in call.code
            continue
        scope = {**live.program.namespace}
        exec(call.reach, scope)
        assert scope["node"] is live.trace.nodes[step.node_id]


def test_hand_calls_run_as_written_with_every_digit_and_odd_numbers():
    source = ("import torch\nx = torch.tensor([float('inf'), 1.5, 0.1], requires_grad=True)\n"
              "y = torch.randn(5, 5, requires_grad=True)\n"
              "z = (x.exp() * 3).sum() + (y * 0.3).sum()\n")
    study = make_study(source, "z")
    codes = [c.code for c in study.calls]
    assert not any("shape only" in c for c in codes)
    for code in codes:
        ast.parse(code)
    assert any("torch.inf" in c for c in codes), codes


@pytest.mark.parametrize(("source", "broadcast"), [
    ("y = torch.cat([a, b]).sum()", False), ("y = torch.stack([a, b]).sum()", False),
    ("y = (a.reshape(3, 1) @ b.reshape(1, 3)).sum()", False),
    ("y = a.repeat(2).sum()", False), ("y = (a * m).sum()", True),
    ("y = (m + b).sum()", True),
])
def test_summed_over_broadcast_only_where_the_engine_summed(source, broadcast):
    code = ("import torch\na = torch.ones(3, requires_grad=True)\n"
            "b = torch.ones(3, requires_grad=True)\nm = torch.ones(2, 3, requires_grad=True)\n"
            + source + "\n")
    study = make_study(code, "y")
    notes = [n for c in study.calls for n in c.slot_notes if n]
    assert bool(notes) == broadcast, notes
    if broadcast:
        assert all(n.startswith("summed over broadcast: (2, 3) → (3,)") for n in notes)
        assert any(".sum_to_size(3)" in c.code for c in study.calls)


def test_hand_calls_of_a_backward_that_freed_its_graph_were_taken_while_it_was_there():
    study = make_study("import torch\nx = torch.tensor([1., 2.], requires_grad=True)\n"
                       "y = (x.exp() * 2).sum()\ny.backward()\n")
    called = [c for c in study.calls if c.called]
    assert called and not any("second time" in c.result for c in called), called
    exp = next(c for c in called if "ExpBackward0" in c.code or "[0][0]" in c.code)
    assert "tensor([" in exp.result and "freed the saved tensors" in exp.note


def test_a_leaf_keeps_its_own_name_when_an_alias_moves_on():
    study = make_study("import torch\nx = torch.ones(2, requires_grad=True)\ny = x\n"
                       "y = y * 1.0001\nz = y.sum()\n")
    leaf = next(n for n in study.graph.nodes if n.kind == "leaf")
    assert leaf.tensor.name == "x"
    assert "x.grad" in study.calls[-1].result


@pytest.mark.parametrize("source", [
    "import torch\na = torch.tensor([3.], requires_grad=True)\nO = (5 * a ** 2).sum()\n",
    "import torch\na = torch.tensor([3.], requires_grad=True)\nO = (5 * a ** 2).sum()\n"
    "O.backward()\n",
])
def test_a_gradient_kept_from_another_program_gives_way(source):
    """The page asks for gradient= only for a non-scalar root; one left from an earlier
    program is not applied to a scalar root, nor to a backward the program ran itself."""
    study = make_study(source, None, "torch.ones(3)")
    assert study.backward_error is None and study.trace is not None
    assert study.first_grads.get("a") == "[30.]" or study.grads.get("a") == "[30.]"


def test_the_local_rule_is_written_with_the_programs_numbers():
    from autoviz.lesson.rules import INTERNAL

    scalar = make_study(PRESETS["scalar"].code, "O")
    assert scalar.local_rule(1) == ("to (a**2): grad · 5 = 1 · 5 = 5",)
    assert scalar.local_rule(2) == ("to a: grad · 2 · a = 5 · 2 · 3 = 30",)
    assert scalar.local_rule(3) == ()  # a leaf's AccumulateGrad
    neuron = make_study(PRESETS["neuron"].code)
    rules = [line for k in range(1, len(neuron.trace.steps) + 1)
             for line in neuron.local_rule(k)]
    assert "to n: grad · (1 − result²) = 1 · (1 − 0.7071²) = 0.5" in rules
    assert "to w1: grad · x1 = 0.5 · 2 = 1" in rules
    network = make_study(PRESETS["seed_network"].code, "loss")
    assert (INTERNAL,) in [network.local_rule(k) for k in range(1, 7)]  # SqueezeBackward4


@pytest.mark.parametrize("expression", [
    "x + y", "x - y", "x * y", "x / y", "x ** 2", "x ** 3", "x.exp()", "x.log()",
    "x.sqrt()", "x.tanh()", "x.sigmoid()", "x.relu()", "-x", "x * 5", "x / 4", "2 * x - y",
])
def test_the_numbers_of_a_local_rule_give_what_the_step_passed_on(expression):
    """The rule's numbers, computed, are what torch passed on (to 4 significant digits)."""
    study = make_study(f"import torch\nx = torch.tensor(1.7, requires_grad=True)\n"
                       f"y = torch.tensor(0.6, requires_grad=True)\nz = (({expression}) * 1.3)"
                       ".sum()\n", "z")
    checked = 0
    for k in range(1, len(study.trace.steps) + 1):
        for line in study.local_rule(k):
            parts = line.split(" = ")
            if len(parts) < 3:
                continue  # a rule in words
            numbers, passed = parts[-2], parts[-1]
            python = (numbers.replace("·", "*").replace("−", "-").replace("²", "**2")
                      .replace("^", "**"))
            value = eval(python, {})  # the test's own reading of the rule's arithmetic
            assert abs(float(value) - float(passed)) <= 1e-3 * max(1.0, abs(float(passed))), (
                line, value)
            checked += 1
    assert checked >= 1


NO_GRADIENT = {
    "detach-of-leaf": ("import torch\nw = torch.ones(2, requires_grad=True)\nv = w.detach()\n"
                       "u = torch.ones(2, requires_grad=True)\nloss = (v * u).sum()\n",
                       {"w": "it was detached at line 3"}),
    "no-grad-use": ("import torch\nw = torch.ones(2, requires_grad=True)\n"
                    "u = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n"
                    "    v = w * 2\nloss = (v * u).sum()\n",
                    {"w": "it was used under torch.no_grad() at line 5"}),
    "flag-off": ("import torch\nw = torch.ones(2, requires_grad=True)\n"
                 "b = torch.ones(2, requires_grad=True)\ny = (w * b).sum()\n"
                 "b.requires_grad_(False)\ny.backward()\n",
                 {"b": "requires_grad was turned off at line 5"}),
    "flag-assigned-off": ("import torch\nw = torch.ones(2, requires_grad=True)\n"
                          "b = torch.ones(2, requires_grad=True)\ny = (w * b).sum()\n"
                          "b.requires_grad = False\n",
                          {"b": "requires_grad was turned off at line 5"}),
    "unused": ("import torch\nw = torch.ones(2, requires_grad=True)\n"
               "k = torch.ones(2, requires_grad=True)\nloss = (w * 3).sum()\n",
               {"k": "loss does not depend on it"}),
}


@pytest.mark.parametrize(("source", "expected"), NO_GRADIENT.values(), ids=NO_GRADIENT.keys())
def test_every_leaf_without_a_gradient_is_named_with_its_cause(source, expected):
    """Exactly the leaves torch left without .grad (run natively), each with its cause."""
    native: dict = {}
    root = "y" if "\ny = " in source else "loss"
    exec(compile(source + ("" if "backward()" in source else f"{root}.backward()\n"),
                 "<no-grad>", "exec"), native)
    study = make_study(source, root)
    found = dict(study.no_gradient)
    assert set(found) == {n for n, v in native.items() if hasattr(v, "grad_fn") and v.grad_fn
                          is None and v.grad is None and (v.requires_grad or n in expected)}
    for name, words in expected.items():
        assert found[name].startswith(words), found[name]


def test_a_root_made_under_no_grad_says_where():
    study = make_study("import torch\nx = torch.ones(2, requires_grad=True)\n"
                       "with torch.no_grad():\n    y = (x * 2).sum()\n", "y")
    assert study.root_note.startswith("it was computed under torch.no_grad() at line 4")


def test_saved_tensors_are_marked_freed_after_a_backward_that_freed_them():
    code = PRESETS["scalar"].code
    kept = make_study(code, "O", None, True)
    freed = make_study(code, "O", None, False)
    def saved(study):
        return [item for node in study.graph.nodes for item in node.saved]
    assert saved(kept) and not any(item.freed for item in saved(kept))
    assert saved(freed) and all(item.freed for item in saved(freed))


def test_the_hand_result_is_what_the_node_gave_even_if_the_program_changes_it_later():
    study = make_study("import torch\nx = torch.ones(2, requires_grad=True)\ny = x + 1\n"
                       "g = torch.ones(2)\ny.backward(g)\ng.mul_(5)\n")
    assert study.calls[0].result == "(tensor([1., 1.]), None)"


def test_a_local_rule_says_where_the_engine_summed_a_broadcast():
    study = make_study("import torch\ny = torch.ones(2, requires_grad=True)\n"
                       "z = (y + torch.ones(3, 2)).sum()\n", "z")
    assert "to y: grad = [[1., 1.], [1., 1.], [1., 1.]], summed to (2,) = [3., 3.]" in \
        study.local_rule(2)


def test_a_leaf_left_out_by_backward_inputs_is_said_to_be():
    study = make_study("import torch\nw = torch.ones(2, requires_grad=True)\n"
                       "a = torch.ones(2, requires_grad=True)\nloss = (w * a).sum()\n"
                       "loss.backward(inputs=[w])\n")
    assert dict(study.no_gradient) == {"a": "the engine did not reach it: backward's inputs= "
                                            "left it out"}


@pytest.mark.parametrize("values", [
    "torch.zeros(0, 3)", "torch.tensor([0., -0.])", "torch.zeros(3, dtype=torch.float64)",
    "torch.tensor([1.5, 1.5])", "torch.tensor([float('inf'), -1e-30, 1/3])",
    "torch.tensor([[1, 2], [3, 4]])", "torch.tensor(2.5, dtype=torch.float16)",
    "torch.tensor([True, False])", "torch.full((2000,), 0.1)", "torch.arange(12.).reshape(3, 4)",
])
def test_a_gradient_literal_rebuilds_the_tensor_exactly(values):
    import torch

    from autoviz.lesson.lab import tensor_literal

    tensor = eval(values)
    literal = tensor_literal(tensor)
    rebuilt = eval(literal, {"torch": torch})
    assert rebuilt.dtype == tensor.dtype and rebuilt.shape == tensor.shape, literal
    assert torch.equal(rebuilt, tensor) and torch.equal(rebuilt.signbit(), tensor.signbit())


@pytest.mark.parametrize("backward", ["", "loss.backward()\n"])
def test_leaves_kept_only_in_a_list_are_named_after_it(backward):
    study = make_study("import torch\nparams = []\nfor i in range(3):\n"
                       "    params.append(torch.ones(2, requires_grad=True))\n"
                       "loss = (params[0] * params[1] * params[2]).sum()\n" + backward)
    names = sorted(n.tensor.name for n in study.graph.nodes if n.kind == "leaf")
    assert names == ["params[0]", "params[1]", "params[2]"]
    assert "params[0].grad" in " ".join(c.result for c in study.calls)


def test_tensors_made_in_a_loop_are_named_with_the_loops_index():
    """Each pass's ``h`` and ``w`` are named after the variable and the index (the last
    pass's keep their own names), the unnamed leaf inside ``w = randn(...) / 3`` after
    the variable it went into; torch's graph (walked natively) is the oracle for which
    node is which pass."""
    code = ("import torch\ntorch.manual_seed(0)\nh = torch.randn(2, 3)\n"
            "for i in range(3):\n"
            "    w = torch.randn(3, 3, requires_grad=True) / 3\n"
            "    h = torch.tanh(h @ w)\n"
            "loss = h.sum()\n")
    study = make_study(code, "loss")
    labels = {n.id: n.tensor.name for n in study.graph.nodes if n.tensor is not None}
    tanhs = [n for n in study.graph.nodes if n.name == "TanhBackward0"]
    assert [labels[n.id] for n in tanhs] == ["h", "h (i=1)", "h (i=0)"]
    divs = [n for n in study.graph.nodes if n.name == "DivBackward0"]
    assert [labels[n.id] for n in divs] == ["w", "w (i=1)", "w (i=0)"]
    leaves = [n for n in study.graph.nodes if n.kind == "leaf"]
    assert [labels[n.id] for n in leaves] == [
        "leaf of w (i=2)", "leaf of w (i=1)", "leaf of w (i=0)"]
    assert {n.tensor.lineno for n in leaves} == {5}  # the line that made them
    # native torch: the nodes in the same order, the passes from the root down
    torch.manual_seed(0)
    h = torch.randn(2, 3)
    made = []
    for _ in range(3):
        w = torch.randn(3, 3, requires_grad=True)
        made.append(w)
        h = torch.tanh(h @ (w / 3))
    h.sum().backward()
    by_leaf = {row[0]: row[2] for row in study.tables["leaf_grads"].rows}
    for i, w in enumerate(made):  # each pass's leaf got that pass's gradient
        shown = torch.tensor(ast.literal_eval(by_leaf[f"leaf of w (i={i})"]))
        assert torch.allclose(shown, w.grad, rtol=1e-3, atol=1e-4), i
    # a list's names still win where the list is all that keeps them
    listed = make_study("import torch\nparams = []\nfor i in range(2):\n"
                        "    w = torch.ones(2, requires_grad=True)\n    params.append(w)\n"
                        "loss = (params[0] * params[1]).sum()\n", "loss")
    assert sorted(n.tensor.name for n in listed.graph.nodes if n.kind == "leaf") == [
        "params[0]", "w"]
