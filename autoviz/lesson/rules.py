"""The local rule of a step, with this program's numbers: what each common node does to
the gradient it received, written from the tensors it saved (read while the step ran).

``PowBackward0`` with exponent 2 at ``a = 3``, receiving 5: ``to a: grad · 2 · a = 5 · 2 ·
3 = 30``. Other nodes get a plain sentence: torch computes their backward internally.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from autoviz.autograd.graph import preview
from autoviz.data import brief

INTERNAL = "torch computes this node's backward internally"


def number(value: Any) -> str:
    """A value as the rule writes it: a number, or a tensor's brief preview."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.numel() != 1:
            return brief(preview(value), tuple(value.shape))
        value = value.item()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# A rule: (saved values, the inputs' names, the gradient received) -> a line per input
# slot (None: nothing to say): "to <input>: <formula> = <the formula with numbers>"; the
# caller adds "= <what it passed on>".
Rule = Callable[[dict[str, Any], list[str], Any], list[Any]]


def _line(name: str, template: str, **values: Any) -> str:
    """``template`` with words (``grad``, the names) and again with numbers."""
    words = template.format(**{k: (w if isinstance(w, str) else k) for k, (w, _) in
                               values.items()})
    numbers = template.format(**{k: number(v) for k, (_, v) in values.items()})
    return f"to {name}: {words} = {numbers}"


def _named(names: list[str | None], i: int, default: str) -> str:
    """The program's name for input ``i``, else torch's (``self``, ``other``…)."""
    name = names[i] if i < len(names) else None
    return name if name else default


def _plus(sign: str) -> Rule:
    """``self + alpha · other`` (``sign`` ""), or ``self − alpha · other`` (``sign`` "−")."""
    def rule(saved: dict[str, Any], names: list[str], g: Any) -> list[str]:
        alpha = saved.get("_saved_alpha", 1)
        other = _named(names, 1, "other")
        return [_line(_named(names, 0, "self"), "{g}", g=("grad", g)),
                _line(other, sign + "{g}", g=("grad", g)) if alpha == 1 else
                _line(other, sign + "{g} · {a}", g=("grad", g), a=("alpha", alpha))]
    return rule


_add, _sub = _plus(""), _plus("−")


def _mul(saved: dict[str, Any], names: list[str], g: Any) -> list[str | None]:
    this, other = _named(names, 0, "self"), _named(names, 1, "other")
    if len(names) > 1 and names[1] is None and "_saved_other" in saved:
        other = number(saved["_saved_other"])  # a constant: called by its value
    return [_line(this, "{g} · {o}", g=("grad", g), o=(other, saved["_saved_other"]))
            if "_saved_other" in saved else None,
            _line(other, "{g} · {s}", g=("grad", g), s=(this, saved["_saved_self"]))
            if "_saved_self" in saved else None]


def _div(saved: dict[str, Any], names: list[str], g: Any) -> list[str | None]:
    this, other = _named(names, 0, "self"), _named(names, 1, "other")
    if "_saved_other" not in saved:
        return []
    return [_line(this, "{g} / {o}", g=("grad", g), o=(other, saved["_saved_other"])),
            _line(other, "−{g} · {s} / {o}²", g=("grad", g), s=(this, saved["_saved_self"]),
                  o=(other, saved["_saved_other"])) if "_saved_self" in saved else None]


def _pow(saved: dict[str, Any], names: list[str], g: Any) -> list[str]:
    if "_saved_exponent" not in saved or "_saved_self" not in saved:
        return []
    e, x = saved["_saved_exponent"], saved["_saved_self"]
    name = _named(names, 0, "self")
    if isinstance(e, (int, float)) and e == 2:  # the textbook case: grad · 2 · x
        return [_line(name, "{g} · 2 · {x}", g=("grad", g), x=(name, x))]
    return [_line(name, "{g} · {e} · {x}^({e} − 1)", g=("grad", g), e=("n", e), x=(name, x))]


def _unary(template: str, key: str, word: str = "") -> Rule:
    """A one-input rule in ``grad`` and one saved value: the result (``r``) or the input
    (``x``, written with the input's name)."""
    def rule(saved: dict[str, Any], names: list[str], g: Any) -> list[str]:
        if key not in saved:
            return []
        name = _named(names, 0, "self")
        return [_line(name, template, g=("grad", g), v=(word or name, saved[key]))]
    return rule


def _words(*formulas: str) -> Rule:
    """Rules without numbers of their own: a sentence per input."""
    def rule(saved: dict[str, Any], names: list[str], g: Any) -> list[str]:
        return [f"to {_named(names, i, f'input {i}')}: {f}" for i, f in enumerate(formulas)]
    return rule


def _mm(saved: dict[str, Any], names: list[str], g: Any) -> list[str]:
    a, b = _named(names, 0, "self"), _named(names, 1, "mat2")
    return [f"to {a}: grad @ {b}ᵀ", f"to {b}: {a}ᵀ @ grad"]


def _addmm(saved: dict[str, Any], names: list[str], g: Any) -> list[str]:
    bias, a, b = (_named(names, i, d) for i, d in enumerate(("self", "mat1", "mat2")))
    return [f"to {bias}: grad, summed to {bias}'s shape", f"to {a}: grad @ {b}ᵀ",
            f"to {b}: {a}ᵀ @ grad"]


_RESHAPED = _words("grad, reshaped to the input's shape")
RULES: dict[str, Rule] = {
    "AddBackward0": _add, "AddBackward1": _add, "SubBackward0": _sub, "SubBackward1": _sub,
    "MulBackward0": _mul, "MulBackward1": _mul, "DivBackward0": _div, "DivBackward1": _div,
    "NegBackward0": lambda s, n, g: [_line(_named(n, 0, "self"), "−{g}", g=("grad", g))],
    "PowBackward0": _pow,
    "ExpBackward0": _unary("{g} · {v}", "_saved_result", "result"),
    "LogBackward0": _unary("{g} / {v}", "_saved_self"),
    "SqrtBackward0": _unary("{g} / (2 · {v})", "_saved_result", "result"),
    "TanhBackward0": _unary("{g} · (1 − {v}²)", "_saved_result", "result"),
    "SigmoidBackward0": _unary("{g} · {v} · (1 − {v})", "_saved_result", "result"),
    "ReluBackward0": _unary("{g} · ({v} > 0)", "_saved_result", "result"),
    "SumBackward0": _words("grad, copied to every element of the input"),
    "SumBackward1": _words("grad, copied along the summed dimensions"),
    "MeanBackward0": _words("grad / n, copied to every element (n: the input's size)"),
    "MeanBackward1": _words("grad / n, copied along the averaged dimensions"),
    "MmBackward0": _mm, "MvBackward0": _mm, "DotBackward0": _mm, "AddmmBackward0": _addmm,
    "TBackward0": _words("gradᵀ"), "TransposeBackward0": _words("grad, transposed back"),
    "PermuteBackward0": _words("grad, permuted back"), "ViewBackward0": _RESHAPED,
    "ReshapeAliasBackward0": _RESHAPED, "UnsafeViewBackward0": _RESHAPED,
    "ExpandBackward0": _words("grad, summed back over the expanded dimensions"),
    "MseLossBackward0": _words("2 · (input − target) · grad / n (mean)",
                               "−2 · (input − target) · grad / n"),
    "BinaryCrossEntropyWithLogitsBackward0": _words("(σ(input) − target) · grad / n (mean)"),
    "NllLossBackward0": _words("−grad / n at each sample's target class, 0 elsewhere"),
    "LogSoftmaxBackward0": _words("grad − softmax(input) · Σ grad (along dim)"),
}


def _ending(line: str, out: Any, summed: bool) -> str:
    """``line`` ending in what the slot passed on: after "summed to" where the engine
    summed a broadcast gradient down to the input's shape (else the equation is false)."""
    if out is None:
        return line
    if summed and isinstance(out, torch.Tensor):
        return f"{line}, summed to {tuple(out.shape)} = {number(out)}"
    if line.endswith(f"= {number(out)}"):
        return line
    return f"{line} = {number(out)}"


def local_rule(name: str, saved: dict[str, Any], inputs: list[str | None], received: Any,
               passed: tuple, edges: list[bool],
               summed: list[bool] | None = None) -> tuple[str, ...]:
    """The rule of node ``name`` (torch's class name) as lines, one per input slot that
    leads somewhere (``edges``), each ending in what that slot passed on. ``inputs``: the
    names the rule calls the node's inputs (the program's names where it has them);
    ``received``: the gradient it got; ``summed``: per slot, whether the engine summed
    what the node returned down to the input's shape."""
    rule = RULES.get(name)
    try:
        lines = rule(saved, inputs, received) if rule is not None else []
    except (RuntimeError, TypeError, ValueError, IndexError, KeyError):
        lines = []
    pad = [None] * len(lines)
    shown = tuple(_ending(line, out, bool(sum_))
                  for line, out, edge, sum_ in zip(lines, (*passed, *pad),
                                                   (*edges, *([True] * len(lines))),
                                                   (*(summed or ()), *pad))
                  if line is not None and edge)
    return shown or (INTERNAL,)
