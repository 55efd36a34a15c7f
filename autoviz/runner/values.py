"""The values the interpreter works with: module and function references (callable,
never stored), user functions, control flow, operator tables, lazy iterators."""


from __future__ import annotations

import ast
import operator
import os
import random
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from autoviz.runner import allowlist as al
from autoviz.runner.errors import ProgramError

_SEEDS = random.Random()  # seeded from the system's entropy at import (and in a forked child)
os.register_at_fork(after_in_child=_SEEDS.seed)
_LOCK = threading.RLock()  # guards torch's global print options and the warnings filters
_Node = torch.autograd.graph.Node
_VALUE_TYPES = (torch.Tensor, _Node, int, float, bool, str, complex, type(None), list, tuple,
                torch.dtype, torch.device, slice, range, type(Ellipsis), torch.Size)


@dataclass(frozen=True)
class _Module:
    path: str


class _Function:
    """A callable the program may call: ``kind`` torch | method | builtin | grad_mode |
    state; ``short``: the name after the last dot (``torch.sum`` -> ``sum``)."""

    __slots__ = ("kind", "name", "target", "category", "short")

    def __init__(self, kind: str, name: str, target: Any = None,
                 category: str = al.SAME) -> None:
        self.kind = kind
        self.name = name
        self.target = target
        self.category = category
        self.short = name.rpartition(".")[2]


@dataclass(frozen=True, eq=False)
class UserFunction:
    """A function the program defined with ``def`` or ``lambda`` (interpreted, never
    compiled). ``defaults`` are the values of the last parameters, evaluated when the
    ``def`` ran; ``enclosing``: the scopes (names -> values, and the names each assigns)
    it reads its free names from, innermost last; ``expression``: a lambda's body."""

    name: str
    params: tuple[str, ...]
    body: tuple[ast.stmt, ...]
    local_names: frozenset[str] = frozenset()  # assigned in the body: local throughout
    defaults: tuple[Any, ...] = ()
    kwonly: tuple[str, ...] = ()
    kwdefaults: tuple[tuple[str, Any], ...] = ()
    vararg: str | None = None
    kwarg: str | None = None
    enclosing: tuple[tuple[dict[str, Any], frozenset[str]], ...] = ()
    expression: ast.expr | None = None
    qualname: str = ""
    decorator: ast.expr | None = None  # @torch.no_grad(): the mode its body runs in


@dataclass(frozen=True)
class TypeOf:
    """``type(x)`` or ``x.__class__``: a class, for its ``__name__``, for printing and for
    comparing (nothing else of it is reachable)."""

    cls: type

    def __repr__(self) -> str:
        return repr(self.cls)

    __str__ = __repr__


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Failure(Exception):
    """A Python/torch exception raised by the program itself, to be reported as such."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.MatMult: operator.matmul,
}
_IOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul,
    ast.Div: operator.itruediv, ast.FloorDiv: operator.ifloordiv, ast.Mod: operator.imod,
    ast.Pow: operator.ipow, ast.MatMult: operator.imatmul,
}
_BINOP_NAMES = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                ast.Mod: "%", ast.Pow: "**", ast.MatMult: "@"}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
}
_FORMAT_NUMBER = re.compile(r"\d+")
_SHAPE_METHODS = frozenset("repeat view reshape expand permute tile new_zeros new_ones new_empty "
                           "new_full flip".split())
# Names _check_method looks at; other calls skip it.
_CHECKED_METHODS = _SHAPE_METHODS | {"tolist", "unbind", "split", "chunk", "norm"}
# Tensor attributes whose getters never warn (.grad of a non-leaf and .T of a non-matrix do).
_SILENT_ATTRIBUTES = frozenset("grad_fn is_leaf requires_grad retains_grad shape dtype device "
                               "ndim output_nr".split())
_PRINT_FIELDS = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")
_PRINT_CAPS = {"precision": 20, "threshold": 10_000, "edgeitems": 50, "linewidth": 1_000}


def _describe(value: Any) -> str:
    if isinstance(value, _Module):
        return f"the module {value.path}"
    if isinstance(value, _Function):
        return f"the function {value.name}"
    if isinstance(value, _GradModeCall):
        return "a grad-mode switch (torch.no_grad() and friends)"
    if isinstance(value, _Lazy):
        return "an enumerate/zip/reversed object"
    if value.__class__.__name__ == "BoundMethod":  # (defined below)
        return f"the method {value.function.name}() (functions here are called, not used as values)"
    if isinstance(value, UserFunction):
        return f"the function {value.name}()"
    return getattr(type(value), "described_as", None) or f"a {type(value).__name__}"



class _Lazy:
    """An iterator from enumerate/zip/reversed: consumed with a cap, never stored whole."""

    def __init__(self, iterator: Iterator[Any], depth: int = 1) -> None:
        self.iterator = iterator
        self.depth = depth  # how many of them are nested in it, itself included

    def __iter__(self) -> Iterator[Any]:
        return self.iterator

    def __repr__(self) -> str:  # Python's, without the address (or autoviz's own names)
        return f"<{type(self.iterator).__name__} object>"

    def take(self, cap: int, refuse: Callable[[str], ProgramError]) -> list[Any]:
        items = []
        for item in self.iterator:
            items.append(item)
            if len(items) > cap:
                raise refuse(f"more than {cap:,} items")
        return items


@dataclass(frozen=True)
class _GradModeCall:
    """``torch.no_grad()`` and friends, evaluated but not yet entered."""

    manager: Any



def zeroed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (``torch.empty`` and friends) with its tensor filled with zeros: empty
    returns whatever the allocator held, and a program must not read memory it did not
    write. torch's own function runs (its errors, its leaf), then the zeros."""

    def call(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        out.data.zero_()  # .data: its own version counter, so out._version stays 0
        return out

    return call


UNINITIALISED = frozenset({"empty", "empty_like", "new_empty"})


@dataclass(frozen=True)
class BoundMethod:
    """A program's own method, taken from its module object (``self.helper``)."""

    function: UserFunction
    owner: Any


# Values a program may call but never store, pass or print.
_CALL_ONLY = frozenset({_Module, _Function, _GradModeCall, UserFunction, BoundMethod})
