"""The tree-walking interpreter behind :func:`autoviz.run_program`.

Only values a program may hold ever reach its namespace: tensors, autograd nodes,
numbers, strings, ``None``, lists/tuples/dicts/sets of those, dtypes, sizes and slices,
generators (drawn only by the interpreter) and the program's own functions (named, passed
and returned, never printed or put in a container). Modules and the allowlist's functions
exist only as :class:`_Module`/:class:`_Function` references, which can be called or
looked into but never stored, passed or printed.
"""


from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

import torch

from autoviz.runner.calls import Calls
from autoviz.runner.costs import Budget
from autoviz.runner.expressions import Expressions
from autoviz.runner.hooks import Hooks
from autoviz.runner.nn import Modules
from autoviz.runner.output import Output
from autoviz.runner.pycode import PythonCode
from autoviz.runner.statements import Statements
from autoviz.runner.values import _SEEDS, _Module


@dataclass
class Rerun:
    """How a check that runs a program again and again (the finite differences of
    :mod:`autoviz.lesson.numeric`) keeps every run the same but for what it changes.

    ``seed`` starts the program's random generator instead of fresh entropy (a program's
    own ``torch.manual_seed`` still reseeds it), so every run draws the same numbers.
    ``on_leaf(tensor, lineno)`` is called each time a tensor becomes a leaf that requires
    grad (made with ``requires_grad=True``, or by ``.requires_grad_()`` or
    ``.requires_grad = True``), before the program can use it; it may change the tensor's
    values. The run sets ``unseeded`` when the program drew random numbers before seeding
    its generator itself (its numbers on the page were another draw)."""

    seed: int = 0
    on_leaf: Callable[[torch.Tensor, int | None], None] | None = None
    unseeded: bool = False


class Interpreter(Statements, Expressions, PythonCode, Calls, Modules, Hooks, Output):
    """Interprets one checked program tree into a :class:`~autoviz.runner.program.Program`."""

    def __init__(self, program: Any, limits: Any, where: Any = None,
                 rerun: Rerun | None = None) -> None:
        self.program = program
        self.limits = limits
        self.where = where  # .value: the line being run (see run_program)
        self.rerun = rerun
        self.seeded = False  # the program called torch.manual_seed
        self.budget = Budget(limits)
        self.globals: dict[str, Any] = program.namespace
        self.modules: dict[str, _Module] = {}
        self.frames: list[dict[str, Any]] = []
        self.classes: dict[type, Any] = {}  # a program's own nn.Module classes
        self.running: list[Any] = []  # the program's functions being run, innermost last
        self.handles = program.handles  # the hooks it registered (removed after the study)
        self.handles = program.handles  # the hooks it registered (removed after the study)
        self.loops: list[tuple[str, int]] = []  # (name, index) of each loop over ints we are in
        self.local_names: list[frozenset[str]] = []
        self.enclosing: list[tuple] = []  # per frame: the scopes its free names are read from
        self.calls = 0  # calls of the program's functions in progress (capped)
        self.qualnames: list[str] = []  # the functions running, for Python's messages
        self.handling: list[Any] = []  # the errors the except blocks running have caught
        self.made: tuple[Any, int, int] | None = None  # the last list a comprehension made
        self.output: list[str] = []
        self.output_len = 0
        self._generator: torch.Generator | None = None
        self.print_options: dict[str, Any] = {}
        self.lines: list[str] | None = None
        self.texts: dict[int, str | None] = {}

    @property
    def generator(self) -> torch.Generator:
        """The program's own random generator, seeded afresh (made on first use; 64 random
        bits as ``Generator.seed()`` takes, without a read of the system's entropy each
        time; a rerun's own seed, see :class:`Rerun`)."""
        if self._generator is None:
            self._generator = torch.Generator()
            self._generator.manual_seed(_SEEDS.getrandbits(64) if self.rerun is None
                                        else self.rerun.seed)
        return self._generator


# Each syntax node class -> the method that runs (statements) or evaluates (expressions) it.
Interpreter.STATEMENTS: dict[type, Callable[[Interpreter, Any], None]] = {
    ast.Expr: Interpreter._expr_statement,
    ast.Assign: Interpreter._assign_statement,
    ast.AnnAssign: Interpreter._annassign_statement,
    ast.AugAssign: Interpreter._augassign,
    ast.Import: Interpreter._import,
    ast.ImportFrom: Interpreter._import,
    ast.With: Interpreter._with,
    ast.For: Interpreter._for,
    ast.If: Interpreter._if_statement,
    ast.FunctionDef: Interpreter._def_statement,
    ast.ClassDef: Interpreter._classdef,
    ast.Return: Interpreter._return_statement,
    ast.Break: Interpreter._break_statement,
    ast.Continue: Interpreter._continue_statement,
    ast.Pass: Interpreter._pass_statement,
    ast.While: Interpreter._while,
    ast.Try: Interpreter._try,
    ast.Raise: Interpreter._raise,
    ast.Assert: Interpreter._assert,
    ast.Delete: Interpreter._delete,
}
Interpreter.EXPRESSIONS: dict[type, Callable[[Interpreter, Any], Any]] = {
    ast.Constant: Interpreter._constant,
    ast.Name: Interpreter._lookup,
    ast.Attribute: Interpreter._attribute_expr,
    ast.Call: Interpreter._call,
    ast.BinOp: Interpreter._binop_expr,
    ast.UnaryOp: Interpreter._unaryop_expr,
    ast.BoolOp: Interpreter._boolop_expr,
    ast.Compare: Interpreter._compare,
    ast.IfExp: Interpreter._ifexp_expr,
    ast.Tuple: Interpreter._sequence_expr,
    ast.List: Interpreter._sequence_expr,
    ast.Subscript: Interpreter._subscript_expr,
    ast.JoinedStr: Interpreter._joinedstr_expr,
    ast.Slice: Interpreter._index,
    ast.ListComp: Interpreter._listcomp_expr,
    ast.SetComp: Interpreter._setcomp_expr,
    ast.DictComp: Interpreter._dictcomp_expr,
    ast.GeneratorExp: Interpreter._genexp_expr,
    ast.Dict: Interpreter._dict_expr,
    ast.Set: Interpreter._set_expr,
    ast.Lambda: Interpreter._lambda_expr,
}
