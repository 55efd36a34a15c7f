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
