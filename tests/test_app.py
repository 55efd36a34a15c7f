"""The page, driven without a browser (streamlit.testing.v1.AppTest)."""

import ast
from pathlib import Path

import pagetest
import pytest
import torch
from pagetest import editor_text
from streamlit.testing.v1 import AppTest

from autoviz import worker
from autoviz.lesson.share import View, to_params
from autoviz.runner.limits import Limits
from ui import studies

APP = str(Path(__file__).resolve().parents[1] / "page.py")


@pytest.fixture
def app():
    """The page in the classic view, whose DOT (with the step's colours) AppTest can read;
    tests/test_view.py covers the interactive view."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["view"] = "classic"
    at.run()
    assert not at.exception
    return at


def dot(at, index=0):
    return at.get("graphviz_chart")[index].proto.spec


def errors(at):
    return [e.value for e in at.error]


def markdown(at):
    return "\n".join(m.value for m in at.markdown)


def table(at, column):
    """The first dataframe on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def set_code(at, code):
    pagetest.set_code(at, code)
    assert not at.exception


def test_landing_page_shows_the_scalar_graph_without_a_click(app):
    spec = dot(app)
    for text in ("O = 5*a**2", "MulBackward0", "PowBackward0", "AccumulateGrad", "None",
                 "[45.]"):
        assert text in spec
    assert not errors(app)
    assert "Step 0 of 3: before backward" in markdown(app)


def test_stepping_forward_back_reset_and_to_the_end(app):
    app.button(key="next").click().run()
    assert app.session_state.step == 1
    assert "Step 1 of 3: `MulBackward0`" in markdown(app)
    assert 'fillcolor="#ffca28"' in dot(app)  # the current node
    app.button(key="next").click().run()
    assert "O.grad_fn.next_functions[0][0](torch.tensor([5.0]))" in "\n".join(
        c.value for c in app.code)
    assert "# returns\ntensor([30.])\n" in "\n".join(c.value for c in app.code)
    app.button(key="prev").click().run()
    assert app.session_state.step == 1
    app.button(key="end").click().run()
    assert app.session_state.step == 3
    spec = dot(app)
    assert "grad [30.]" in spec
    grads = table(app, "leaf")
    assert list(grads["leaf"]) == ["a"] and list(grads["grad"]) == ["[30.]"]
    app.button(key="reset").click().run()
    assert app.session_state.step == 0
    app.slider[0].set_value(2).run()
    assert "Step 2 of 3: `PowBackward0`" in markdown(app)


def test_stepping_replays_without_running_the_program_again(app):
    """Stepping starts no worker job: no program run, no layout, no manual call."""
    studies.clear()
    pool = worker.pool()
    app.run()
    first = pool.started
    assert first >= 1
    for key in ("next", "next", "prev", "end", "reset"):
        app.button(key=key).click().run()
    assert pool.started == first


@pytest.mark.parametrize("key,root,node", [
    ("seed_network", "loss", "BinaryCrossEntropyWithLogitsBackward0"),
    ("tutorial_network", "loss", "BinaryCrossEntropyWithLogitsBackward0"),
    ("neuron", "o", "TanhBackward0"),
    ("mlp", "loss", "NllLossBackward0"),
])
def test_presets_draw_their_graph(app, key, root, node):
    app.selectbox(key="preset").set_value(key).run()
    assert not app.exception and not errors(app)
    assert node in dot(app)
    assert app.session_state.code.strip().splitlines()[-1].startswith(f"{root} = ")


@pytest.mark.parametrize("key,message,line", [
    ("mistake_typo", "TypeError: randn() received an invalid combination of arguments", 8),
    ("mistake_shapes", "ValueError: Target size (torch.Size([3])) must be the same as input "
                       "size (torch.Size([5]))", 12),
    ("mistake_detach", "TypeError: 'bool' object is not callable", 14),
])
def test_common_mistakes_show_torchs_error_and_the_fix(app, key, message, line):
    app.selectbox(key="preset").set_value(key).run()
    (error,) = errors(app)
    assert message in error and f"Line {line}" in error
    app.button(key="load_fix").click().run()
    assert not errors(app)
    assert "AccumulateGrad" in dot(app)


def test_fixed_detach_mistake_leaves_w_and_b_without_grad(app):
    app.selectbox(key="preset").set_value("mistake_detach").run()
    app.button(key="load_fix").click().run()
    app.button(key="end").click().run()
    tensors = table(app, "is_leaf").set_index("name")
    assert tensors.loc["w", "grad"] == "None" and tensors.loc["b", "grad"] == "None"


def test_expression_form_writes_the_program(app):
    app.text_input(key="expr_text").set_value("(a * b + c) ** 2")
    app.button(key="expr_go").click().run()
    code = app.session_state.code
    assert "a = torch.tensor(2., requires_grad=True)" in code
    assert "c = torch.tensor(10.)" in code
    assert "out = (a * b + c) ** 2" in code
    assert editor_text(app) == code
    spec = dot(app)
    assert "PowBackward0" in spec and "out = (a * b + c) ** 2" in spec
    app.button(key="end").click().run()
    grads = table(app, "leaf").set_index("leaf")["grad"]
    # d/da (ab+c)^2 = 2(ab+c)b = 2*4*(-3) = -24; d/db = 2*4*2 = 16
    assert grads["a"] == "-24." and grads["b"] == "16."


@pytest.mark.parametrize("field, value, said", [
    ("expr_out", "2out", "output name: '2out' is not a usable variable name"),
    ("expr_out", "a", "output name: 'a' is already a leaf's name"),
    ("expr_text", "(a * b +", "expression: "),
    ("expr_text", "a * d", "expression: 'd' is not a leaf of the form (its leaves: a, b, c)"),
    ("expr_text", "a\nimport os", "expression: must be one line"),
    # torch's own error, on the line the expression became, names the field
    ("expr_text", "a @ b", "expression: RuntimeError: both arguments to matmul need to be "
                           "at least 1D"),
])
def test_expression_form_checks_its_input_and_names_the_field(app, field, value, said):
    app.text_input(key=field).set_value(value)
    app.button(key="expr_go").click().run()
    (error,) = [e.value for e in app.sidebar.error]
    assert said in error and "Not written" in error, error
    assert not [e for e in app.main.error]  # said in the form, not over the graph
    assert "O = 5*a**2" in dot(app)  # what the user had stays
    assert app.session_state.code.endswith("O = 5*a**2\n")


def test_a_leaf_value_torch_refuses_is_traced_to_the_leaf_field():
    """A value the form's pattern lets through but torch refuses: torch's error is on the
    line that leaf became, and that line is the leaf's field."""
    from autoviz.lesson.forms import Leaf, expression_program, field_of_line
    from autoviz.lesson.lab import make_study

    code = expression_program([Leaf("a", value="[1., [2.]]"), Leaf("b", value="2.")], "a * b")
    study = make_study(code, "out")
    assert study.error is not None and study.error.lineno
    assert field_of_line(code, study.error.lineno) == "leaf a"
    assert field_of_line(code, len(code.splitlines())) == "expression"
    assert field_of_line(code, 1) is None  # import torch: no field wrote it


def test_network_form_writes_the_program(app):
    app.selectbox(key="net_act").set_value("relu")
    app.selectbox(key="net_loss").set_value("cross_entropy")
    app.number_input(key="net_out").set_value(3)
    app.button(key="net_go").click().run()
    code = app.session_state.code
    assert "z = x @ w + b" in code and "a = torch.relu(z)" in code
    assert "loss = F.cross_entropy(a, y)" in code
    spec = dot(app)
    assert "ReluBackward0" in spec and "AddmmBackward0" not in spec


def test_bad_program_names_the_line_and_keeps_the_last_graph(app):
    set_code(app, "import torch\na = torch.tensor([3.], requires_grad=True)\nimport os\n")
    (error,) = errors(app)
    assert "Line 3 is not allowed" in error and "only torch and math can be imported" in error
    assert "O = 5*a**2" in dot(app)
    set_code(app, "import torch\nx = torch.ones(2, 3)\ny = x.view(5)\n")
    (error,) = errors(app)
    assert "Line 3 fails" in error and "RuntimeError: shape '[5]' is invalid" in error
    assert "O = 5*a**2" in dot(app)


def test_no_grad_around_everything_shows_torchs_backward_error(app):
    app.radio(key="no_grad").set_value("all").run()
    code = "\n".join(c.value for c in app.code)
    assert "with torch.no_grad():" in code
    assert any("element 0 of tensors does not require grad" in e for e in errors(app))


def test_no_grad_around_one_line(app):
    app.selectbox(key="preset").set_value("seed_network").run()
    app.radio(key="no_grad").set_value("line").run()
    app.selectbox(key="no_grad_line").set_value(7).run()  # z = torch.matmul(x, w)+b
    code = "\n".join(c.value for c in app.code)
    assert "with torch.no_grad():  # autoviz: no_grad\n    z = torch.matmul(x, w)+b" in code
    assert "Leaves that now get `None`: `w`, `b`" in markdown(app)


def test_detach_toggle_cuts_the_graph_and_compares(app):
    app.selectbox(key="preset").set_value("seed_network").run()
    app.multiselect(key="detach").select("z").run()
    code = "\n".join(c.value for c in app.code)
    assert "z = z.detach()  # autoviz: cut the graph here" in code
    text = markdown(app)
    assert "Before / after" in "\n".join(s.value for s in app.subheader)
    assert "Nodes gone:" in text and "AccumulateGrad (w)" in text
    assert any("element 0 of tensors does not require grad" in e for e in errors(app))
    assert any("`loss` has no `grad_fn`" in i.value for i in app.info)


def test_frozen_parameter_gets_no_grad(app):
    app.selectbox(key="preset").set_value("seed_network").run()
    app.multiselect(key="frozen").select("w").run()
    code = "\n".join(c.value for c in app.code)
    assert "w = torch.randn(3, 2, requires_grad=False)" in code
    assert "Leaves that now get `None`: `w`" in markdown(app)
    assert "AccumulateGrad (w)" in markdown(app)  # the vanished node


def test_retain_grad_toggle_keeps_an_intermediate_grad(app):
    app.selectbox(key="preset").set_value("seed_network").run()
    tensors = table(app, "is_leaf").set_index("name")
    assert "UserWarning: The .grad attribute of a Tensor that is not a leaf" in \
        tensors.loc["z", "grad"]
    app.multiselect(key="retain_grad").select("z").run()
    tensors = table(app, "is_leaf").set_index("name")
    assert tensors.loc["z", "retains_grad"]
    assert not tensors.loc["z", "grad"].startswith("None")


def test_backward_again_accumulates_and_zero_resets(app):
    app.button(key="again").click().run()
    code = "\n".join(c.value for c in app.code)
    assert "O.backward(retain_graph=True)" in code and "a.grad = [60.]" in code
    app.button(key="zero").click().run()
    assert "a.grad = [0.]" in "\n".join(c.value for c in app.code)
    app.button(key="again").click().run()
    assert code.count("a.grad = [60.]") == 1
    assert "#   -> a.grad = [30.]" in "\n".join(c.value for c in app.code)


def test_second_backward_without_retain_graph_shows_torchs_error(app):
    app.checkbox(key="retain").uncheck().run()
    app.button(key="again").click().run()
    assert any("Trying to backward through the graph a second time" in e
               for e in errors(app))


def test_non_scalar_root_needs_a_gradient(app):
    set_code(app, "import torch\nx = torch.tensor([1., 2., 3.], requires_grad=True)\n"
                  "y = x * 2\n")
    app.selectbox(key="root_pick").set_value("y").run()
    assert any("grad can be implicitly created only for scalar outputs" in e
               for e in errors(app))
    app.text_input(key="gradient").set_value("torch.tensor([1., 10., 100.])").run()
    assert not errors(app)
    app.button(key="end").click().run()
    grads = table(app, "leaf").set_index("leaf")["grad"]
    assert grads["x"] == "[2., 20., 200.]"


def test_bad_gradient_is_reported(app):
    set_code(app, "import torch\nx = torch.tensor([1., 2.], requires_grad=True)\ny = x * 2\n")
    app.selectbox(key="root_pick").set_value("y").run()
    app.text_input(key="gradient").set_value("open('x')").run()
    assert any("gradient:" in e and "not available" in e for e in errors(app))


def test_program_that_calls_backward_itself_is_stepped_as_it_ran(app):
    set_code(app, "import torch\na = torch.tensor([2.], requires_grad=True)\nO = 5*a**2\n"
                  "O.backward()\nprint(a.grad)\n")
    assert "tensor([20.])" in "\n".join(c.value for c in app.code)
    app.button(key="end").click().run()
    assert "grad [20.]" in dot(app)


def test_a_program_its_worker_had_to_stop_names_the_line_and_keeps_the_last_graph(
        app, monkeypatch):
    # ~4 s of work within every cap of the runner (its own clock allows 10 s)
    monkeypatch.setattr(worker, "_pool", worker.Pool(limits=Limits(job_seconds=1)))
    set_code(app, "import torch\ny = torch.ones(2)\n"
                  "for i in range(99000): z = (y * 2).exp().sum()\n")
    (error,) = errors(app)
    assert "Line 3 fails" in error and "the program was stopped after 1 s on line 3" in error
    assert "O = 5*a**2" in dot(app)  # the last program that ran


def test_a_link_to_a_failing_program_says_so_once():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["view"] = "classic"
    for key, value in to_params(View(code="import torch\nq = undefined\n")).items():
        at.query_params[key] = value
    at.run()
    (error,) = errors(at)
    assert "Line 2 fails" in error and "NameError: name 'undefined' is not defined" in error


def test_a_busy_server_keeps_the_last_program_and_runs_the_new_one_when_free(
        app, monkeypatch):
    pool = worker.Pool(workers=1, waiting=0)
    monkeypatch.setattr(worker, "_pool", pool)
    before = app.session_state.last_good
    code = "import torch\nb = torch.tensor([2.], requires_grad=True)\nB = b * 7\n"
    pool._slots.acquire()  # every worker is taken (by other sessions)
    try:
        set_code(app, code)
        (error,) = errors(app)
        assert "Busy" in error and "the server is busy; try again in a moment" in error
        assert "Still showing the last program that ran." in [c.value for c in app.caption]
        assert "O = 5*a**2" in dot(app) and app.session_state.last_good == before
    finally:
        pool._slots.release()
    app.run()  # the next rerun (any click) finds a free worker
    assert not errors(app) and "B = b * 7" in dot(app)
    assert app.session_state.last_good == code


def test_kept_studies_are_bounded_by_their_weight_and_shared(monkeypatch):
    from autoviz.lesson.presets import PRESETS

    studies.clear()
    monkeypatch.setattr(studies, "BUDGET", 15_005)  # one Long chain (15,003) and no more
    pool = worker.pool()
    chain = PRESETS["chain"]
    first = studies.cached_study(chain.code, None, "", True, ())
    assert studies.cached_study(chain.code, None, "", True, ()) is first  # kept
    started = pool.started
    small = [studies.cached_study(f"import torch\nx = torch.ones(1, requires_grad=True)\n"
                                  f"y = x * {i}\n", None, "", True, ()) for i in range(3)]
    assert all(s.ok for s in small) and pool.started == started + 3
    assert studies.weight(first) > 15_000  # so it went first, the small ones stay
    assert studies._lookup((chain.code, None, "", True, ())) is None
    assert studies.cached_study(small[0].source, None, "", True, ()) is small[0]


def test_a_program_asked_for_by_many_sessions_at_once_runs_once():
    import threading

    studies.clear()
    pool = worker.pool()
    started = pool.started
    code = "import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * 3).sum()\n"
    got = []
    threads = [threading.Thread(target=lambda: got.append(
        studies.cached_study(code, None, "", True, ()))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 6 and all(s is got[0] for s in got) and pool.started == started + 1


def test_a_link_to_a_program_nested_too_deeply_to_parse_gets_its_error_and_the_editor():
    at = AppTest.from_file(APP, default_timeout=60)
    code = "import torch\nx = torch.ones(2, 2)\ny = x" + ".T" * 9000 + "\n"
    for key, value in to_params(View(code=code)).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    (error,) = errors(at)
    assert "nested too deeply" in error, error
    assert editor_text(at).startswith("import torch")


@pytest.mark.parametrize("quoted", [
    "[login](https://evil.example/login) ![](http://host.example/b.png)",
    "```\n[login](https://evil.example/login)\n```",
])
def test_user_text_in_an_error_is_shown_as_text_not_markdown(app, quoted):
    set_code(app, f"import torch\nx = int({quoted!r})\n")
    (error,) = errors(app)
    title, body = error.split("\n\n", 1)
    assert title == "**Line 2 fails**"
    fence = body.split("\n", 1)[0]
    assert set(fence) == {"`"} and len(fence) >= 3 and body.endswith("\n" + fence)
    inner = body[len(fence) + 1:-len(fence) - 1]
    assert "https://evil.example/login" in inner and fence not in inner


def test_inline_code_holds_any_backticks():
    from ui.text import code

    assert code("x") == "`x`"
    assert code("a ` b") == "`` a ` b ``" and code("``") == "``` `` ```"


def test_a_leaf_that_no_longer_requires_grad_is_said_to_keep_nothing(app):
    set_code(app, "import torch\nw = torch.tensor([1., 2.], requires_grad=True)\n"
                  "b = torch.tensor([3., 4.], requires_grad=True)\ny = (w * b).sum()\n"
                  "b.requires_grad_(False)\ny.backward()\n")
    texts = []
    for _ in range(4):
        app.button(key="next").click().run()
        texts.append(markdown(app))
    assert "**Keeps nothing**: `b` no longer requires grad" in "\n".join(texts)
    assert "Accumulates** into `b.grad`" not in "\n".join(texts)
    assert "Accumulates** into `w.grad`" in "\n".join(texts)


def test_a_root_kept_from_the_last_program_gives_way_to_the_new_programs_own(app):
    app.selectbox(key="preset").set_value("seed_network").run()
    assert app.session_state.root == "loss"
    set_code(app, "import torch\nx = torch.tensor(0.5, requires_grad=True)\n"
                  "y = torch.tanh(x * 2)\ny.backward()\nprint(x.grad)\n")
    assert not errors(app), errors(app)
    assert "backward() fails" not in markdown(app)
    assert "Step 0 of 3: before backward" in markdown(app)
    app.button(key="end").click().run()
    assert "AccumulateGrad" in markdown(app)


def test_the_landing_pages_local_rule_reads_its_numbers(app):
    app.button(key="next").click().run()
    app.button(key="next").click().run()
    text = markdown(app)
    assert "**Local rule:**" in text and "`to a: grad · 2 · a = 5 · 2 · 3 = 30`" in text


def test_a_leaf_cut_off_by_detach_is_named_with_its_line(app):
    set_code(app, "import torch\nx = torch.ones(3)\nW1 = torch.ones(3, 2, requires_grad=True)\n"
                  "b1 = torch.zeros(2, requires_grad=True)\nh = (x @ W1 + b1).detach()\n"
                  "W2 = torch.ones(2, requires_grad=True)\nloss = (h * W2).sum()\n")
    (box,) = [i.value for i in app.info if "Not every leaf got a gradient" in i.value]
    assert "`W1.grad` is None: what was made from it was detached at line 5" in box
    assert "`b1.grad` is None" in box and "W2" not in box


def test_the_preset_box_says_when_the_program_no_longer_matches_it(app):
    captions = lambda: "\n".join(c.value for c in app.sidebar.caption)  # noqa: E731
    assert "dO/da = 10·a = 30" in captions()
    set_code(app, "import torch\nb = torch.tensor([2.], requires_grad=True)\nB = b * 7\n")
    assert "no longer matches this preset" in captions() and "dO/da" not in captions()
    app.selectbox(key="preset").set_value("neuron").run()
    assert "no longer matches" not in captions()


def test_a_last_good_graph_after_an_error_is_marked_stale(app):
    assert "**Stale:**" not in markdown(app)
    set_code(app, "import torch\nq = undefined\n")
    assert errors(app) and "**Stale:** the graph and steps below are the last program" in \
        markdown(app)
    assert "O = 5*a**2" in dot(app)  # still drawn, dimmed
    set_code(app, "import torch\nb = torch.tensor([2.], requires_grad=True)\nB = b * 7\n")
    assert "**Stale:**" not in markdown(app)


CHAIN = ("import torch\na = torch.tensor([2.], requires_grad=True)\nb = a * 3\n"
         "c = b * b\n")


def test_a_selected_nodes_tensor_takes_its_toggles_beside_it(app):
    """Beside a node's details: .detach() here / retain_grad() for an intermediate, and
    requires_grad off for a leaf; each edits the same list the Toggles menu does, and
    the graph and gradients follow (torch's own: c = (3a)², dc/da = 18a = 36)."""
    set_code(app, CHAIN)
    app.button(key="end").click().run()
    a = torch.tensor([2.], requires_grad=True)
    ((a * 3) * (a * 3)).backward()  # torch, natively: the oracle
    assert table(app, "leaf").set_index("leaf")["grad"]["a"] == f"[{a.grad.item():g}.]"
    b = next(n for n in ("n0", "n1", "n2", "n3") if _select_node(app, n) == "b")
    labels = {btn.key: btn.label for btn in app.button if btn.key and btn.key.startswith("node_")}
    assert labels == {"node_detach": ".detach() here", "node_retain_grad": "retain_grad()"}
    app.button(key="node_detach").click().run()
    assert app.session_state.detach == ["b"] and app.multiselect(key="detach").value == ["b"]
    assert "Leaves that now get `None`: `a`" in markdown(app)
    assert "Toggles (1 on)" in [p.proto.popover.label for p in app.get("popover")]
    app.multiselect(key="detach").set_value([]).run()  # undone in the menu
    assert _select_node(app, b) == "b" and app.button(key="node_detach").label == (
        ".detach() here")
    app.button(key="node_retain_grad").click().run()
    assert app.session_state.retain_grad == ["b"]
    _select_node(app, b)
    assert app.button(key="node_retain_grad").label == "undo retain_grad()"
    app.button(key="node_retain_grad").click().run()
    assert app.session_state.retain_grad == [] and "Before / after" not in markdown(app)
    assert any(_select_node(app, n) == "a" for n in ("n0", "n1", "n2", "n3", "n4"))
    assert {btn.key for btn in app.button if btn.key and btn.key.startswith("node_")} == {
        "node_frozen"}
    app.button(key="node_frozen").click().run()
    assert app.session_state.frozen == ["a"]
    assert "requires_grad=False" in "\n".join(c.value for c in app.code)


def _select_node(at, node_id):
    """Click node ``node_id``; the name of the tensor its details show (None: none)."""
    at.session_state["selected"] = node_id
    at.run()
    head = next((m.value for m in at.markdown if m.value.startswith("**Selected:**")), "")
    return head.rpartition("— `")[2].rstrip("`") if "— `" in head else None


def test_retain_grad_shows_the_intermediates_grad_on_its_node_in_its_details_and_compared(app):
    """retain_grad() on b: torch keeps b.grad (= dc/db = 2b = 12, torch's own number); the
    page shows it after backward, in b's node note and details, and in the comparison."""
    set_code(app, CHAIN)
    app.multiselect(key="retain_grad").set_value(["b"]).run()
    app.button(key="end").click().run()
    a = torch.tensor([2.], requires_grad=True)
    b = a * 3
    b.retain_grad()
    (b * b).backward()
    kept = f"[{b.grad.item():g}.]"
    assert f"- `b.grad` = `{kept}`" in markdown(app)
    assert f"got {kept}, kept in .grad" in dot(app)
    grads = table(app, "grad before").set_index("leaf")
    assert grads.loc["b (retain_grad)", "grad before"] == "None"
    assert grads.loc["b (retain_grad)", "grad after"] == kept
    assert any(_select_node(app, n) == "b" for n in ("n0", "n1", "n2", "n3"))
    assert f"`.grad` (kept by `retain_grad()`) after backward: `{kept}`" in markdown(app)


def test_network_form_says_in_the_form_what_it_cannot_write(app):
    app.number_input(key="net_out").set_value(1)
    app.selectbox(key="net_loss").set_value("cross_entropy")
    app.button(key="net_go").click().run()
    (error,) = [e.value for e in app.sidebar.error]
    assert "cross-entropy needs at least 2 outputs" in error and "Not written" in error
    assert "O = 5*a**2" in dot(app)


def test_at_the_last_step_the_page_checks_autograd_against_finite_differences(app):
    """Beside the leaf gradients: the finite-difference check of the landing program,
    d(5a²)/da at a = 3 both ways (torch's autograd as the oracle: 30)."""
    app.button(key="end").click().run()
    app.button(key="numeric_check").click().run()
    a = torch.tensor([3.], dtype=torch.float64, requires_grad=True)
    (5 * a ** 2).sum().backward()
    check = table(app, "numerical").set_index("leaf")
    assert check.loc["a", "autograd"] == f"{a.grad.item():g}"
    assert abs(float(check.loc["a", "numerical"]) - a.grad.item()) < 1e-4
    assert check.loc["a", "check"] == "✓"
    assert any("agree for every leaf" in s.value for s in app.success)


TRAINING = ("import torch\ntorch.manual_seed(0)\nw = torch.randn(3, requires_grad=True)\n"
            "x = torch.randn(5, 3)\ny = torch.randn(5)\n"
            "for i in range(4):\n    loss = ((x @ w - y) ** 2).mean()\n    loss.backward()\n"
            "    with torch.no_grad():\n        w -= 0.1 * w.grad\n        w.grad.zero_()\n")


def test_a_training_loop_picks_its_backward_call_and_shows_the_loss_per_call(app):
    """Four backward() calls: the last is stepped first; picking call 1 steps that one
    (torch's own gradient then, as a native run of the same loop gives it), and the curve
    and the table hold each call's loss and gradient."""
    set_code(app, TRAINING)
    assert app.select_slider(key="which_pick").value == 4
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    x, y = torch.randn(5, 3), torch.randn(5)
    native = []
    for _ in range(4):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        native.append((loss.item(), w.grad.clone()))
        with torch.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
    app.select_slider(key="which_pick").set_value(1).run()
    assert app.session_state.which == 1 and app.session_state.step == 0
    app.button(key="end").click().run()
    shown = table(app, "leaf").set_index("leaf")["grad"]["w"]
    assert torch.allclose(torch.tensor(ast.literal_eval(shown)), native[0][1], atol=1e-3)
    calls = table(app, "value before")
    assert list(calls["backward"].unique()) == [1, 2, 3, 4]
    assert [float(v) for v in calls["root"]] == pytest.approx(
        [round(value, 4) for value, _ in native], rel=1e-3)
    (chart,) = app.get("vega_lite_chart")  # the loss curve, its points torch's losses
    assert '"root value"' in chart.proto.spec or "root value" in str(chart.proto)
    assert "4 backward() calls" in "\n".join(m.value for m in app.markdown)


def test_network_form_in_the_nn_linear_style_names_the_layers_parameters(app):
    app.radio(key="net_style").set_value("module")
    app.selectbox(key="net_act").set_value("tanh")
    app.button(key="net_go").click().run()
    code = app.session_state.code
    assert "layer = nn.Sequential(nn.Linear(3, 2), nn.Tanh())" in code
    spec = dot(app)
    assert "layer.0.weight" in spec and "layer.0.bias" in spec and "AddmmBackward0" in spec
    app.button(key="end").click().run()
    space: dict = {}
    exec(compile(code, "<form>", "exec"), space)  # noqa: S102 - the form's own program
    space["loss"].backward()
    weight = space["layer"][0].weight.grad
    shown = table(app, "leaf").set_index("leaf")["grad"]["layer.0.weight"]
    assert torch.allclose(torch.tensor(ast.literal_eval(shown)), weight, atol=1e-3)
