"""What a worker reads off the live run for the page: the manual calls of every step."""

import re

from autoviz.lesson.lab import CALLED_STEPS, make_study
from autoviz.lesson.presets import PRESETS


def test_every_step_of_a_long_chain_gets_its_call_and_the_first_ones_are_run():
    study = make_study(PRESETS["chain"].code, "y")
    steps = study.trace.steps
    assert len(study.calls) == len(steps) == 5_001
    shallow = study.manual_call(3)
    assert steps[2].path == "y.grad_fn.next_functions[0][0].next_functions[0][0]"
    assert shallow.code == f"{steps[2].path}(torch.tensor({steps[2].grad_outputs[0].text}))"
    deep = study.manual_call(100)
    assert deep.code.startswith("node = y.grad_fn\nfor i in range(99):")
    assert deep.code.count("next_functions[0][0]") == 1 and deep.called
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
