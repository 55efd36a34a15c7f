"""Shared links, projector mode and exports: the lecture features."""

import ast
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from autoviz.drawing.export import HEADER
from autoviz.drawing.layout import render
from autoviz.lesson.lab import make_study
from autoviz.lesson.presets import NEURON, PRESETS, SEED_NETWORK
from autoviz.lesson.share import (
    LinkError,
    View,
    from_params,
    pack_program,
    to_params,
    unpack_program,
)

APP = str(Path(__file__).resolve().parents[1] / "page.py")


def test_program_round_trips_through_a_short_url_safe_text():
    packed = pack_program(SEED_NETWORK)
    assert unpack_program(packed) == SEED_NETWORK
    assert set(packed) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(packed) < len(SEED_NETWORK)


def test_view_round_trips_through_query_params():
    view = View(code=NEURON, root="o", gradient="", retain=False, step=3, no_grad="line",
                no_grad_line=9, detach=("n",), frozen=("w1", "b"), retain_grad=("n",),
                projector=True, classic=True, budget=0)
    params = to_params(view)
    assert all(isinstance(v, str) for v in params.values())
    assert from_params(params) == view


@pytest.mark.parametrize("text,message", [
    ("!!!notbase64", "not valid base64"),
    ("Z2FyYmFnZSEh", "damaged"),  # base64 of b"garbage!!"
    (pack_program("import torch\n")[:-4], "damaged"),  # cut short
    ("A" * 50_000, "too long"),
])
def test_bad_links_are_refused_with_a_reason(text, message):
    with pytest.raises(LinkError, match=message):
        unpack_program(text)


def test_a_decompression_bomb_is_refused_before_it_inflates():
    import base64

    bomb = base64.urlsafe_b64encode(zlib.compress(b"a" * 50_000_000, 9)).decode().rstrip("=")
    assert len(bomb) < 100_000
    with pytest.raises(LinkError, match="too long"):
        unpack_program(bomb)


def test_link_params_are_sanitised():
    view = from_params({"p": pack_program("import torch\n"), "root": "__class__;x",
                        "step": "99999999999", "detach": "a,__x__,b c,d"})
    assert view.root is None and view.step == 0
    assert view.detach == ("a", "__x__", "d")  # names only; the runner refuses '_' names


def _drawn(at):
    """The graph's text as the page sends it: the interactive view's SVG, or the DOT of
    the classic chart."""
    views = [e for e in at.get("bidi_component") if e.key == "graph_view"]
    if views:
        return json.loads(views[0].proto.json)["svg"]
    return at.get("graphviz_chart")[0].proto.spec


def test_a_link_carries_the_graph_display_choices():
    at = _app(to_params(View(code=NEURON, root="o", classic=True)))
    assert at.session_state.view == "classic" and at.get("graphviz_chart")
    at = _app({**to_params(View(code=NEURON, root="o")), "budget": "6"})
    assert at.session_state.budget == 6
    captions = "\n".join(c.value for c in at.caption)
    assert "Showing 6 boxes for 10 nodes: 1 deep stretch (5 nodes) is folded" in captions
    at.button(key="show_all").click().run()
    assert "budget=0" in next(c.value for c in at.code if "?p=" in c.value)


def _app(params=None):
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def test_opening_a_link_restores_program_root_toggles_and_step():
    view = View(code=NEURON, root="o", step=2, frozen=("w2",))
    at = _app(to_params(view))
    assert at.session_state.code == NEURON
    assert at.session_state.frozen == ["w2"]
    assert "Step 2 of" in "\n".join(m.value for m in at.markdown)
    assert "TanhBackward0" in _drawn(at)
    assert "w2 = torch.tensor(1.0, dtype=torch.float64, requires_grad=False)" in "\n".join(
        c.value for c in at.code)


def test_the_address_bar_follows_the_view():
    at = _app()
    at.button(key="next").click().run()
    assert at.query_params["step"] == "1"
    assert unpack_program(at.query_params["p"]) == at.session_state.code
    link = next(c.value for c in at.code if "?p=" in c.value)
    assert "step=1" in link


def test_a_damaged_link_says_so_and_shows_the_default():
    at = _app({"p": "%%%"})
    assert any("This link could not be read" in e.value for e in at.error)
    assert "O = 5*a**2" in _drawn(at)


def _editors(at):
    return [e for e in at.get("bidi_component") if e.key == "program_view"]


def test_projector_mode_has_big_type_and_minimal_controls():
    at = _app({"p": pack_program(SEED_NETWORK), "projector": "1"})
    svg = _drawn(at)  # laid out on the server with the projector's DOT attributes
    assert 'font-size="22.00"' in svg and 'stroke-width="2.5"' in svg
    assert not _editors(at)  # no editor, toggles or tables on the projector
    assert not at.multiselect
    at.button(key="next").click().run()
    assert "Step 1 of 6" in "\n".join(m.value for m in at.markdown)


def test_exported_program_runs_unchanged_in_plain_python(tmp_path):
    study = make_study(SEED_NETWORK)
    path = tmp_path / "program.py"
    path.write_text(study.program_file)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "w.grad = tensor([[0.1055, 0.2145]," in out
    assert "b.grad = tensor([0.1055, 0.2145])" in out


def test_exported_program_with_its_own_backward_is_left_as_written():
    source = "import torch\na = torch.tensor([3.], requires_grad=True)\nO = 5*a**2\nO.backward()\n"
    assert make_study(source).program_file.count("backward(") == 1


def test_graph_exports_as_svg_and_png():
    study = make_study(SEED_NETWORK)
    from autoviz.drawing.render import to_dot

    dot = to_dot(study.graph)
    svg = ET.fromstring(render(dot, "svg"))
    texts = "".join(svg.itertext())
    assert "BinaryCrossEntropyWithLogitsBackward0" in texts and "AccumulateGrad" in texts
    png = Image.open(io.BytesIO(render(dot, "png")))
    png.load()
    assert png.format == "PNG" and png.size[0] > 200


@pytest.mark.parametrize("key,value", [
    ("nograd", "²"), ("step", "²"), ("budget", "³"), ("nograd", "9" * 5000), ("step", "-1"),
    ("budget", "１２"), ("retain", "maybe"), ("view", "fancy"), ("projector", "yes"),
    ("root", "a.b"), ("detach", "a,1b"), ("g", "x" * 600),
])
def test_a_bad_parameter_is_named_and_the_rest_of_the_link_opens(key, value):
    params = {**to_params(View(code=NEURON, root="o", step=2)), key: value}
    view = from_params(params)
    assert view.code == NEURON and len(view.problems) == 1
    assert view.problems[0].startswith(f"`{key}") and view.problems[0].count("`") == 2
    at = _app(params)
    (warning,) = [w.value for w in at.warning if "left out" in w.value]
    assert warning.startswith("Parts of this link were left out: `" + key)
    assert at.session_state.code == NEURON


def test_a_parameters_text_cannot_end_its_code_span():
    view = from_params({**to_params(View(code=NEURON)), "root": "`[x](http://evil.example)`"})
    (problem,) = view.problems
    assert problem.count("`") == 2 and "http://evil.example" in problem


ROOT = Path(__file__).resolve().parents[1]
_GRADS = ("\nimport json as _json\nfrom autoviz.autograd.graph import preview as _preview\n"
          "print('@@' + _json.dumps({_n: _preview(_v.grad) for _n, _v in list(globals().items())"
          " if isinstance(_v, torch.Tensor) and _v.is_leaf and (_v.requires_grad or "
          "_v.grad is not None)}))\n")
_EXPORTS = [pytest.param(p.code, p.root, None, id=key) for key, p in PRESETS.items()
            if not key.startswith("mistake")] + [  # the mistakes fail on purpose
    pytest.param("import torch\nx = torch.ones(3, requires_grad=True)\ny = x * 2  # twice\n",
                 "y", "torch.tensor([1., 2., 3.])", id="gradient"),
    pytest.param("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 3\n", "y",
                 "torch.ones(2) \\\n* 2", id="gradient-continued-line"),
    pytest.param("# -*- coding: utf-7 -*-\nimport torch\ns = 'a+AAo-b'\n"
                 "x = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\n", "y", None,
                 id="coding-cookie"),
    pytest.param("import torch\ns = 'one\\rtwo'\nx = torch.ones(2, requires_grad=True)\n"
                 "y = (x ** 3).sum()\nprint(s)\n", "y", None, id="carriage-return-in-string"),
]


@pytest.mark.parametrize(("source", "root", "gradient"), _EXPORTS)
def test_every_export_parses_runs_and_gives_the_pages_gradients(tmp_path, source, root,
                                                                gradient):
    """The exported file is written back from the parse: it parses, runs in plain Python,
    and leaves every leaf the gradient the page shows."""
    study = make_study(source, root, gradient)
    assert study.ok, study.error
    text = study.program_file
    ast.parse(text)
    # our own two header lines come first, so no coding cookie of the program can count
    assert text.startswith(HEADER) and "# twice" not in text
    path = tmp_path / "program.py"
    path.write_text(text + _GRADS)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("@@")]
    assert json.loads(line[2:]) == dict(study.grads)


def test_an_export_can_hold_only_what_the_runner_accepted():
    """A gradient with a statement break, or a program the runner refuses, exports nothing
    that would run: the gradient is refused, the program shows an error and no file."""
    bad = make_study("import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\n", "y",
                     "torch.ones(2)\r__import__('os').system('touch /tmp/pwned')")
    assert "one expression" in str(bad.backward_error), bad.backward_error
    assert "__import__" not in bad.program_file and "backward(" not in bad.program_file


def test_a_link_without_a_program_opens_the_landing_program_with_its_view():
    at = _app({"projector": "1", "step": "2"})
    assert at.session_state.projector and at.session_state.step == 2
    assert "Step 2 of 3" in "\n".join(m.value for m in at.markdown)
    assert from_params({"step": "2"}) is None  # without a default: no view
    assert from_params({"embed": "true"}, default="x = 1\n") is None  # Streamlit's own


def test_slide_mode_shows_the_graph_the_stepper_and_the_step_only():
    at = _app({"p": pack_program(SEED_NETWORK), "slide": "1", "step": "2"})
    assert not _editors(at) and not at.multiselect  # no editor, no toggles
    assert not [m for m in at.markdown if "Share and export" in m.value]
    assert not at.sidebar.selectbox  # no presets
    assert "Step 2 of 6" in "\n".join(m.value for m in at.markdown)
    assert at.button(key="next") is not None
    at.button(key="next").click().run()
    assert "Step 3 of 6" in "\n".join(m.value for m in at.markdown)


def test_a_link_opens_the_backward_call_it_names():
    from test_app import TRAINING

    at = _app({"p": pack_program(TRAINING), "call": "2", "step": "1"})
    assert at.session_state.which == 2 and at.select_slider(key="which_pick").value == 2
    assert at.query_params["call"] == "2"
    bad = _app({"p": pack_program(TRAINING), "call": "x"})
    assert any("`call" in w.value for w in bad.warning)
