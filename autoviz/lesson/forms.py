"""Forms -> program text. The program stays the single source of truth for the graph."""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass

DTYPES = ("float32", "float64")
INITS = ("value", "randn", "rand", "ones", "zeros")
ACTIVATIONS = ("none", "relu", "tanh", "sigmoid")
STYLES = ("tensors", "module")
_MODULES = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()"}
_LOSS_MODULES = {"bce_with_logits": "nn.BCEWithLogitsLoss()", "mse": "nn.MSELoss()",
                 "cross_entropy": "nn.CrossEntropyLoss()"}
LOSSES = ("bce_with_logits", "mse", "cross_entropy")
_SHAPE = re.compile(r"^\s*\d+\s*(,\s*\d+\s*)*,?\s*$")
_NUMBERS = re.compile(r"^[\s\d.eE+\-\[\],]+$")


class FormError(ValueError):
    """A form value that cannot become a program; the message names the field."""


@dataclass(frozen=True)
class Leaf:
    """One leaf tensor of the expression form."""

    name: str
    init: str = "value"  # "value": ``value`` is a number or nested list; else a shape
    value: str = "1."
    requires_grad: bool = True
    dtype: str = "float32"


def _check_name(name: str, field: str) -> str:
    name = name.strip()
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise FormError(f"{field}: {name!r} is not a usable variable name (letters, digits "
                        "and _, not starting with _ or a digit)")
    if name in ("torch", "F"):
        raise FormError(f"{field}: {name!r} would hide the torch module")
    return name


def _leaf_line(leaf: Leaf, row: int) -> str:
    name = _check_name(leaf.name, f"leaf {row}")
    if leaf.dtype not in DTYPES:
        raise FormError(f"leaf {name}: dtype must be one of {', '.join(DTYPES)}")
    if leaf.init not in INITS:
        raise FormError(f"leaf {name}: init must be one of {', '.join(INITS)}")
    text = leaf.value.strip()
    if leaf.init == "value":
        if not text or not _NUMBERS.match(text):
            raise FormError(f"leaf {name}: the value {text!r} must be a number like 3. or a "
                            "list like [1., 2.]")
        args = text
    else:
        if not _SHAPE.match(text):
            raise FormError(f"leaf {name}: the shape {text!r} must be sizes like 3 or 3, 2")
        args = ", ".join(part.strip() for part in text.split(",") if part.strip())
    extras = []
    if leaf.dtype != "float32":
        extras.append(f"dtype=torch.{leaf.dtype}")
    if leaf.requires_grad:
        extras.append("requires_grad=True")
    func = "tensor" if leaf.init == "value" else leaf.init
    return f"{name} = torch.{func}({', '.join([args, *extras])})"


def expression_program(leaves: list[Leaf], expression: str, output: str = "out",
                       seed: int | None = 0) -> str:
    """A program defining each leaf, then ``output = expression``."""
    if not leaves:
        raise FormError("add at least one leaf tensor")
    names = [_check_name(leaf.name, f"leaf {i + 1}") for i, leaf in enumerate(leaves)]
    if len(set(names)) != len(names):
        raise FormError("two leaves have the same name")
    output = _check_name(output, "output name")
    if output in names:
        raise FormError(f"output name: {output!r} is already a leaf's name")
    expression = _check_expression(expression, names)
    lines = ["import torch", ""]
    if seed is not None and any(leaf.init in ("randn", "rand") for leaf in leaves):
        lines.append(f"torch.manual_seed({int(seed)})")
    lines += [_leaf_line(leaf, i + 1) for i, leaf in enumerate(leaves)]
    lines.append(f"{output} = {expression}")
    return "\n".join(lines) + "\n"


def _check_expression(expression: str, names: list[str]) -> str:
    """The expression, checked here so that its error names the field, not a line of a
    program the user never typed: one line, Python syntax, only the leaves' names (and
    ``torch``, ``F``) as variables."""
    expression = expression.strip()
    if not expression or "\n" in expression or "\r" in expression:
        raise FormError("expression: must be one line, e.g. (a * b + c).sum()")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise FormError(f"expression: {exc.msg}{where} of {expression!r}") from None
    known = {*names, "torch", "F"}
    unknown = sorted({node.id for node in ast.walk(tree)
                      if isinstance(node, ast.Name) and node.id not in known})
    if unknown:
        raise FormError(f"expression: {', '.join(map(repr, unknown))} "
                        f"{'is not a leaf' if len(unknown) == 1 else 'are not leaves'} of the "
                        f"form (its leaves: {', '.join(names)})")
    return expression


def field_of_line(code: str, lineno: int) -> str | None:
    """Which field of the expression form wrote line ``lineno`` of its ``code``: "leaf
    NAME" or "expression" (None: a line the form always writes)."""
    lines = code.splitlines()
    if not 1 <= lineno <= len(lines):
        return None
    if lineno == len(lines):
        return "expression"
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*) = torch\.", lines[lineno - 1])
    return f"leaf {match.group(1)}" if match else None


@dataclass(frozen=True)
class Network:
    """The one-layer network form: z = x @ w + b, activation, loss."""

    inputs: int = 3
    outputs: int = 2
    batch: int = 4
    activation: str = "none"
    loss: str = "bce_with_logits"
    seed: int = 0
    style: str = "tensors"  # "tensors": x @ w + b; "module": nn.Linear and nn's losses


def network_program(spec: Network) -> str:
    """A program for one layer ``x @ w + b``, an activation and a loss."""
    for field, value, top in (("inputs", spec.inputs, 512), ("outputs", spec.outputs, 512),
                              ("batch size", spec.batch, 1024)):
        if not isinstance(value, int) or not 1 <= value <= top:
            raise FormError(f"{field} must be a whole number from 1 to {top}")
    if spec.activation not in ACTIVATIONS:
        raise FormError(f"activation must be one of {', '.join(ACTIVATIONS)}")
    if spec.loss not in LOSSES:
        raise FormError(f"loss must be one of {', '.join(LOSSES)}")
    if spec.loss == "cross_entropy" and spec.outputs < 2:
        raise FormError("cross-entropy needs at least 2 outputs (classes)")
    if spec.style not in STYLES:
        raise FormError(f"style must be one of {', '.join(STYLES)}")
    if spec.style == "module":
        return _module_program(spec)
    n, i, o = spec.batch, spec.inputs, spec.outputs
    lines = [
        "import torch",
        "import torch.nn.functional as F",
        "",
        f"torch.manual_seed({int(spec.seed)})",
        f"x = torch.randn({n}, {i})  # a batch of {n} inputs",
        f"w = torch.randn({i}, {o}, requires_grad=True)",
        f"b = torch.randn({o}, requires_grad=True)",
        "z = x @ w + b",
    ]
    out = "z"
    if spec.activation != "none":
        lines.append(f"a = torch.{spec.activation}(z)")
        out = "a"
    if spec.loss == "bce_with_logits":
        lines += [f"y = torch.randint(0, 2, ({n}, {o})).float()  # targets 0 or 1",
                  f"loss = F.binary_cross_entropy_with_logits({out}, y)"]
    elif spec.loss == "mse":
        lines += [f"y = torch.randn({n}, {o})  # targets",
                  f"loss = F.mse_loss({out}, y)"]
    else:
        lines += [f"y = torch.randint(0, {o}, ({n},))  # class labels",
                  f"loss = F.cross_entropy({out}, y)"]
    return "\n".join(lines) + "\n"


def _module_program(spec: Network) -> str:
    """The same layer as most courses write it: ``nn.Linear``, an activation module, a loss
    module (the layer's weight and bias are its parameters, named ``layer.weight``…)."""
    n, i, o = spec.batch, spec.inputs, spec.outputs
    layers = [f"nn.Linear({i}, {o})"] + (
        [_MODULES[spec.activation]] if spec.activation != "none" else [])
    model = layers[0] if len(layers) == 1 else f"nn.Sequential({', '.join(layers)})"
    lines = [
        "import torch",
        "import torch.nn as nn",
        "",
        f"torch.manual_seed({int(spec.seed)})",
        f"x = torch.randn({n}, {i})  # a batch of {n} inputs",
        f"layer = {model}",
    ]
    if spec.loss == "bce_with_logits":
        lines.append(f"y = torch.randint(0, 2, ({n}, {o})).float()  # targets 0 or 1")
    elif spec.loss == "mse":
        lines.append(f"y = torch.randn({n}, {o})  # targets")
    else:
        lines.append(f"y = torch.randint(0, {o}, ({n},))  # class labels")
    lines += [f"loss_fn = {_LOSS_MODULES[spec.loss]}", "loss = loss_fn(layer(x), y)"]
    return "\n".join(lines) + "\n"
