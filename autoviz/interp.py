"""The tree-walking interpreter behind :func:`autoviz.run_program`.

Only values a program may hold ever reach its namespace: tensors, autograd nodes,
numbers, strings, ``None``, lists/tuples of those, dtypes, sizes and slices. Modules and
functions exist only as :class:`_Module`/:class:`_Function` references, which can be
called or looked into but never stored, passed or printed.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import math
import operator
import os
import random
import re
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from autoviz import allowlist as al
from autoviz.backward import TraceTooBig, record_backward
from autoviz.checks import source_lines
from autoviz.costs import MAX_DIMS, Budget, grad_fn_of, python_size, tensors_in
from autoviz.errors import ProgramError

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


@dataclass(frozen=True)
class UserFunction:
    """A function the program defined with ``def`` (interpreted, never compiled)."""

    name: str
    params: tuple[str, ...]
    body: tuple[ast.stmt, ...]
    local_names: frozenset[str] = frozenset()  # assigned in the body: local throughout


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
_SUM_TERMS = 1_000
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
    return f"a {type(value).__name__}"


class Interpreter:
    """Interprets one checked program tree into a :class:`~autoviz.program.Program`."""

    def __init__(self, program: Any, limits: Any) -> None:
        self.program = program
        self.limits = limits
        self.budget = Budget(limits)
        self.globals: dict[str, Any] = program.namespace
        self.modules: dict[str, _Module] = {}
        self.frames: list[dict[str, Any]] = []
        self.local_names: list[frozenset[str]] = []
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
        time)."""
        if self._generator is None:
            self._generator = torch.Generator()
            self._generator.manual_seed(_SEEDS.getrandbits(64))
        return self._generator

    # ---- running -------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        if torch.get_num_threads() > self.limits.torch_threads:
            torch.set_num_threads(self.limits.torch_threads)
        # texts of the tree's expressions, kept with the (cached, never changed) tree
        self.texts = tree.__dict__.setdefault("autoviz_texts", {})
        grad_mode = torch.is_grad_enabled()
        try:
            self._block(tree.body)
        except _Failure as failure:
            exc = failure.exc
            raise ProgramError(f"{type(exc).__name__}: {exc}", self.budget.lineno,
                               refused=False, error_type=type(exc).__name__) from None
        except (_Return, _Break, _Continue):
            raise ProgramError("'return'/'break'/'continue' outside its block",
                               self.budget.lineno) from None
        finally:
            if torch.is_grad_enabled() != grad_mode:
                torch.set_grad_enabled(grad_mode)
            self.program.output = "".join(self.output)

    def _block(self, body: list[ast.stmt] | tuple[ast.stmt, ...]) -> None:
        budget = self.budget
        statements = _STATEMENTS
        for stmt in body:
            budget.lineno = stmt.lineno
            budget.tick()
            statements.get(stmt.__class__, Interpreter._unsupported_statement)(self, stmt)

    def _stmt(self, node: ast.stmt) -> None:
        _STATEMENTS.get(node.__class__, Interpreter._unsupported_statement)(self, node)

    def _expr_statement(self, node: ast.Expr) -> None:
        self._eval(node.value)  # result dropped: torch.set_grad_enabled(False) is fine

    def _assign_statement(self, node: ast.Assign) -> None:
        value = self._value(node.value)
        for target in node.targets:
            self._assign(target, value)

    def _annassign_statement(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assign(node.target, self._value(node.value))

    def _if_statement(self, node: ast.If) -> None:
        self._block(node.body if self._truth(self._value(node.test)) else node.orelse)

    def _def_statement(self, node: ast.FunctionDef) -> None:
        params = tuple(a.arg for a in node.args.args)
        assigned = {n.id for stmt in node.body for n in ast.walk(stmt)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        assigned |= {(a.asname or a.name.split(".")[0]) for stmt in node.body
                     for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom)
                     for a in n.names}
        self._bind(node.name, UserFunction(node.name, params, tuple(node.body),
                                           frozenset(assigned) | frozenset(params)))

    def _return_statement(self, node: ast.Return) -> None:
        raise _Return(None if node.value is None else self._value(node.value))

    def _break_statement(self, node: ast.Break) -> None:
        raise _Break()

    def _continue_statement(self, node: ast.Continue) -> None:
        raise _Continue()

    def _pass_statement(self, node: ast.Pass) -> None:
        return None

    def _unsupported_statement(self, node: ast.stmt) -> None:
        raise self._refuse(f"{type(node).__name__} is not supported")

    def _refuse(self, message: str) -> ProgramError:
        return ProgramError(message, self.budget.lineno)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self._bind_module(alias.asname, _Module(alias.name))
                else:
                    self._bind_module(alias.name.split(".")[0], _Module("torch"))
        else:
            for alias in node.names:
                self._bind_module(alias.asname or alias.name,
                                  _Module(f"{node.module}.{alias.name}"))

    def _bind_module(self, name: str, module: _Module) -> None:
        if self.frames:  # an import inside a function binds a local name, as in Python
            self.frames[-1][name] = module
            return
        self.globals.pop(name, None)
        self.modules[name] = module

    def _with(self, node: ast.With) -> None:
        with contextlib.ExitStack() as stack:
            for item in node.items:
                if item.optional_vars is not None:
                    raise self._refuse("'with ... as name' is not supported")
                manager = self._eval(item.context_expr)
                if not isinstance(manager, _GradModeCall):
                    raise self._refuse("'with' takes torch.no_grad(), torch.enable_grad(), "
                                       "torch.set_grad_enabled(b) or torch.inference_mode()")
                stack.enter_context(manager.manager)
            self._block(node.body)

    def _for(self, node: ast.For) -> None:
        iterable = self._value(node.iter)
        if not isinstance(iterable, (range, list, tuple, torch.Tensor, torch.Size, _Lazy)):
            raise self._refuse(f"a for loop cannot iterate over {_describe(iterable)}")
        for item in self._fail_safe(iter, iterable):
            self.budget.tick()
            self._assign(node.target, item)
            try:
                self._block(node.body)
            except _Break:
                break
            except _Continue:
                continue

    # ---- names -----------------------------------------------------------------------
    def _scope(self) -> dict[str, Any]:
        return self.frames[-1] if self.frames else self.globals

    def _bind(self, name: str, value: Any) -> None:
        if not self.frames:
            self.modules.pop(name, None)
        self._scope()[name] = value
        if isinstance(value, torch.Tensor):
            self.program.catalog.bind(name, value, self.budget.lineno)
            if not self.frames:
                self.program.assigned.append(name)

    def _lookup(self, node: ast.Name) -> Any:
        name = node.id
        if self.frames:
            if name in self.frames[-1]:
                return self.frames[-1][name]
            if name in self.local_names[-1]:
                raise _Failure(UnboundLocalError(
                    f"cannot access local variable '{name}' where it is not associated with "
                    "a value"))
        value = self.globals.get(name, _MISSING)
        if value is not _MISSING:
            return value
        if name in self.modules:
            return self.modules[name]
        if name in _BUILTIN_FUNCTIONS:
            return _BUILTIN_FUNCTIONS[name]
        if hasattr(builtins, name):
            raise self._refuse(f"the built-in {name}() is not available in autoviz programs")
        raise _Failure(NameError(f"name '{name}' is not defined"))

    # ---- assignment --------------------------------------------------------------------
    def _assign(self, target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = self._fail_safe(self._unpack, value, len(target.elts))
            for sub, item in zip(target.elts, items):
                self._assign(sub, item)
        elif isinstance(target, ast.Subscript):
            obj = self._value(target.value)
            index = self._index(target.slice)
            if isinstance(obj, torch.Tensor):
                self.budget.before(al.SAME, (obj, index, value), {}, "item assignment",
                                   _no_meta)
                with self._capture():
                    self._fail_safe(operator.setitem, obj, index, value)
                if grad_fn_of(obj) is not None:
                    self.program.catalog.produce(obj, self.budget.lineno, self._text(target))
            elif isinstance(obj, list):
                self._fail_safe(operator.setitem, obj, index, value)
                if python_size(obj, self.limits.container_items) > self.limits.container_items:
                    raise self._refuse("the list is too long")
            else:
                raise self._refuse(f"cannot assign items of {_describe(obj)}")
        elif isinstance(target, ast.Attribute):
            obj = self._value(target.value)
            if not isinstance(obj, torch.Tensor):
                raise self._refuse(f"cannot set .{target.attr} on {_describe(obj)}")
            with self._capture():
                self._fail_safe(setattr, obj, target.attr, value)
        else:
            raise self._refuse(f"cannot assign to {type(target).__name__}")

    def _unpack(self, value: Any, count: int) -> list[Any]:
        if not isinstance(value, (list, tuple, torch.Tensor, torch.Size, range, _Lazy)):
            raise TypeError(f"cannot unpack non-iterable {type(value).__name__} object")
        if isinstance(value, _Lazy):
            items = value.take(count + 1, self._refuse)
        elif len(value) > count:
            raise ValueError(f"too many values to unpack (expected {count})")
        else:
            items = list(value)
        if len(items) > count:
            raise ValueError(f"too many values to unpack (expected {count})")
        if len(items) < count:
            raise ValueError(f"not enough values to unpack (expected {count}, got "
                             f"{len(items)})")
        return items

    def _augassign(self, node: ast.AugAssign) -> None:
        op = type(node.op)
        right = self._value(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            left = self._lookup(target)
            self._bind(target.id, self._binop(op, left, right, node, inplace=True))
        elif isinstance(target, ast.Subscript):
            obj = self._value(target.value)
            index = self._index(target.slice)
            left = self._subscript(obj, index, target)
            self._assign(target, self._binop(op, left, right, node, inplace=True))
        else:
            obj = self._value(target.value)
            left = self._attribute(obj, target.attr)
            self._assign(target, self._binop(op, left, right, node, inplace=True))

    # ---- expressions -------------------------------------------------------------------
    def _value(self, node: ast.AST) -> Any:
        """Evaluate ``node`` to a value a program may hold."""
        value = _EXPRESSIONS.get(node.__class__, Interpreter._unsupported)(self, node)
        if value.__class__ in _CALL_ONLY:
            raise self._refuse(f"{_describe(value)} can only be called here, not stored, "
                               "passed or printed")
        return value

    def _eval(self, node: ast.AST) -> Any:
        return _EXPRESSIONS.get(node.__class__, Interpreter._unsupported)(self, node)

    def _unsupported(self, node: ast.AST) -> Any:
        raise self._refuse(f"{type(node).__name__} is not supported")

    def _constant(self, node: ast.Constant) -> Any:
        return node.value

    def _attribute_expr(self, node: ast.Attribute) -> Any:
        return self._attribute(self._eval(node.value), node.attr)

    def _binop_expr(self, node: ast.BinOp) -> Any:
        left, right = self._value(node.left), self._value(node.right)
        return self._binop(type(node.op), left, right, node)

    def _unaryop_expr(self, node: ast.UnaryOp) -> Any:
        operand = self._value(node.operand)
        if isinstance(node.op, ast.Not):
            return not self._truth(operand)
        symbol = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(node.op)]
        return self._op(_UNARY[type(node.op)], (operand,), {}, al.SAME, node, symbol)

    def _boolop_expr(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for operand in node.values:
            result = self._value(operand)
            if self._truth(result) == isinstance(node.op, ast.Or):
                return result
        return result

    def _ifexp_expr(self, node: ast.IfExp) -> Any:
        test = self._truth(self._value(node.test))
        return self._value(node.body if test else node.orelse)

    def _sequence_expr(self, node: ast.Tuple | ast.List) -> Any:
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                items.extend(self._starred(element))
            else:
                items.append(self._value(element))
        result = tuple(items) if isinstance(node, ast.Tuple) else items
        if any(isinstance(i, (list, tuple, range)) for i in items):
            self._check_size(result)
        return result

    def _subscript_expr(self, node: ast.Subscript) -> Any:
        obj = self._value(node.value)
        return self._subscript(obj, self._index(node.slice), node)

    def _joinedstr_expr(self, node: ast.JoinedStr) -> Any:
        return self._check_python("".join(self._fstring_part(p) for p in node.values))

    def _starred(self, node: ast.Starred) -> list[Any]:
        value = self._value(node.value)
        if not isinstance(value, (list, tuple, torch.Size, range)):
            raise self._refuse(f"cannot unpack {_describe(value)} with *")
        if python_size(value, self.limits.container_items) > self.limits.container_items:
            raise self._refuse("the sequence is too long to unpack")
        return list(value)

    def _truth(self, value: Any) -> bool:
        return self._fail_safe(bool, value)

    def _compare(self, node: ast.Compare) -> Any:
        left = self._value(node.left)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators):
            right = self._value(right_node)
            result = self._op(_CMPOPS[type(op)], (left, right), {}, al.BROADCAST, node,
                              type(op).__name__)
            if len(node.ops) > 1 and not self._truth(result):
                return result
            left = right
        return result

    def _index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self._value(p)
                     for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self._index(e) for e in node.elts)
        return self._value(node)

    def _subscript(self, obj: Any, index: Any, node: ast.AST) -> Any:
        if isinstance(obj, torch.Tensor):
            parts = index if isinstance(index, tuple) else (index,)
            if len(parts) > MAX_DIMS:
                raise self._refuse(f"an index with {len(parts):,} parts: tensors here have at "
                                   f"most {MAX_DIMS} dimensions")
            advanced = [p for p in parts if isinstance(p, (torch.Tensor, list))]
            if any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in advanced):
                category = al.SAME  # a mask picks at most every element
            elif advanced:
                category = al.META
            else:
                category = al.SAME  # a view: no new memory
            return self._op(operator.getitem, (obj, index), {}, category, node, "indexing")
        if isinstance(obj, (list, tuple, str, torch.Size, range)):
            return self._fail_safe(operator.getitem, obj, index)
        raise _Failure(TypeError(f"'{type(obj).__name__}' object is not subscriptable"))

    def _fstring_part(self, node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            return str(node.value)
        assert isinstance(node, ast.FormattedValue)
        value = self._value(node.value)
        spec = "" if node.format_spec is None else self._value(node.format_spec)
        if any(int(n) > 1000 for n in _FORMAT_NUMBER.findall(spec)):
            raise self._refuse("format widths and precisions above 1000 are not allowed")
        with self._printing():
            convert = {ord("r"): repr, ord("s"): str, ord("a"): ascii}.get(node.conversion)
            if convert is not None:
                value = convert(value)
            return self._fail_safe(format, value, spec)

    # ---- attributes ---------------------------------------------------------------------
    def _attribute(self, obj: Any, attr: str) -> Any:
        if obj.__class__ is _Module:
            return self._module_attribute(obj, attr)
        if isinstance(obj, torch.Tensor):
            if attr in al.TENSOR_ATTRIBUTES:
                if attr in _SILENT_ATTRIBUTES:
                    return self._fail_safe(getattr, obj, attr)
                with self._capture():
                    return self._fail_safe(getattr, obj, attr)
            category = al.TENSOR_METHODS.get(attr)
            if category is not None:
                return _Function("method", attr, obj, category)
            raise self._refuse(f"the tensor attribute .{attr} is not in autoviz's allowlist")
        if isinstance(obj, _Node):
            if attr in al.NODE_ATTRIBUTES:
                return self._fail_safe(getattr, obj, attr)
            if attr in al.NODE_METHODS:
                return _Function("method", attr, obj)
            raise self._refuse(f"the grad_fn attribute .{attr} is not in autoviz's allowlist")
        if isinstance(obj, tuple) and type(obj).__module__ == "torch.return_types":
            if attr in al.RETURN_TYPE_ATTRIBUTES:
                return getattr(obj, attr)
        if isinstance(obj, list) and attr == "append":
            return _Function("method", attr, obj)
        if isinstance(obj, (_Function, _GradModeCall)):
            raise self._refuse(f"attributes of {_describe(obj)} are not available")
        if hasattr(obj, attr):
            raise self._refuse(f"the attribute .{attr} of {_describe(obj)} is not in "
                               "autoviz's allowlist")
        raise _Failure(AttributeError(f"'{type(obj).__name__}' object has no attribute "
                                      f"'{attr}'"))

    def _module_attribute(self, module: _Module, attr: str) -> Any:
        key = (module.path, attr)
        found = _MODULE_ATTRIBUTES.get(key)
        if found is None:  # what an allowed name resolves to never changes: kept once found
            found = _MODULE_ATTRIBUTES[key] = self._resolve(module, attr)
        return found

    def _resolve(self, module: _Module, attr: str) -> Any:
        path = f"{module.path}.{attr}"
        if path in al.IMPORTABLE:
            return _Module(path)
        module_object = torch if module.path == "torch" else (
            torch.nn.functional if module.path == "torch.nn.functional" else torch.nn)
        if not hasattr(module_object, attr):
            raise _Failure(AttributeError(f"module '{module.path}' has no attribute '{attr}'"))
        if module.path == "torch":
            if attr in al.TORCH_FUNCTIONS:
                return _Function("torch", f"torch.{attr}", getattr(torch, attr),
                                 al.TORCH_FUNCTIONS[attr])
            if attr in al.GRAD_MODES:
                return _Function("grad_mode", attr, getattr(torch, attr))
            if attr in al.PROGRAM_STATE_CALLS:
                return _Function("state", attr)
            values = al.torch_values()
            if attr in values:
                return values[attr]
        elif module.path == "torch.nn.functional" and attr in al.F_FUNCTIONS:
            return _Function("torch", f"F.{attr}", getattr(torch.nn.functional, attr),
                             al.F_FUNCTIONS[attr])
        raise self._refuse(f"{path} is not in autoviz's allowlist of torch functions")

    # ---- calls ---------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> Any:
        func = self._eval(node.func)
        args: list[Any] = []
        for arg in node.args:
            if arg.__class__ is ast.Starred:
                args.extend(self._starred(arg))
            else:
                args.append(self._value(arg))
        kwargs = {kw.arg: self._value(kw.value) for kw in node.keywords} if node.keywords \
            else {}
        if func.__class__ is _Function:
            return self._call_function(func, tuple(args), kwargs, node)
        if isinstance(func, _Node):
            self._check_node_call(func, args, kwargs)
            return self._op(func, tuple(args), kwargs, al.SAME, node, func.name())
        if isinstance(func, UserFunction):
            return self._call_user(func, args, kwargs)
        if isinstance(func, _Module):
            raise _Failure(TypeError("'module' object is not callable"))
        raise _Failure(TypeError(f"'{type(func).__name__}' object is not callable"))

    def _check_node_call(self, node: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
        """A grad_fn is called with what the engine would give it: one gradient per output,
        of that output's shape (other shapes could cost far more than the forward op)."""
        expected = [tuple(m.shape) for m in node._input_metadata]
        shapes = ["None" if a is None else tuple(a.shape) if isinstance(a, torch.Tensor)
                  else type(a).__name__ for a in args]
        if kwargs or len(args) != len(expected) or any(
                s != "None" and s != e for s, e in zip(shapes, expected)):
            want = ", ".join(f"a tensor of shape {e}" for e in expected)
            raise self._refuse(f"{node.name()} takes one gradient per output of the op: "
                               f"{want} (got {', '.join(map(str, shapes)) or 'nothing'})")

    def _call_function(self, func: _Function, args: tuple, kwargs: dict[str, Any],
                       node: ast.Call) -> Any:
        if func.kind == "torch":
            if func.short in _CHECKED_METHODS and args and isinstance(args[0], torch.Tensor):
                self._check_method(args[0], func.short, args[1:], kwargs)
            if func.category != al.RANDOM:
                return self._op(func.target, args, kwargs, func.category, node, func.name)
            try:
                return self._op(func.target, args, {**kwargs, "generator": self.generator},
                                func.category, node, func.name)
            except _Failure as failure:
                if not isinstance(failure.exc, TypeError):
                    raise
                # the message must name the user's own arguments, not our generator=
                self._fail_safe(func.target, *args, **kwargs)
                raise
        if func.kind == "method":
            return self._call_method(func, args, kwargs, node)
        if func.kind == "builtin":
            return self._call_builtin(func.name, args, kwargs, node)
        if func.kind == "grad_mode":
            # torch.set_grad_enabled(b) switches the mode as soon as it is called, as in torch
            return _GradModeCall(self._fail_safe(func.target, *args, **kwargs))
        if func.kind == "state":
            return self._call_state(func.name, args, kwargs)
        raise self._refuse(f"{func.name} cannot be called here")

    def _call_method(self, func: _Function, args: tuple, kwargs: dict[str, Any],
                     node: ast.Call) -> Any:
        obj, name = func.target, func.name
        if obj.__class__ is torch.Tensor:  # the common case first: a tensor method
            if name == "backward":
                return self._backward(obj, args, kwargs)
            if name in _CHECKED_METHODS:
                self._check_method(obj, name, args, kwargs)
            call, label = _METHOD_CALLS.get(name) or _method_call(name)
            return self._op(call, (obj, *args), kwargs, func.category, node, label)
        if isinstance(obj, list):  # list.append
            if len(obj) >= self.limits.container_items:
                raise self._refuse("the list is too long")
            if any(isinstance(a, (list, tuple, range)) for a in args):
                self._check_size([obj, *args])
            return self._fail_safe(obj.append, *args, **kwargs)
        if isinstance(obj, _Node):
            return self._fail_safe(obj.name, *args, **kwargs)
        if name == "backward":
            return self._backward(obj, args, kwargs)
        if name in _CHECKED_METHODS:
            self._check_method(obj, name, args, kwargs)
        call, label = _METHOD_CALLS.get(name) or _method_call(name)
        return self._op(call, (obj, *args), kwargs, func.category, node, label)

    def _check_method(self, tensor: torch.Tensor, name: str, args: tuple,
                      kwargs: dict[str, Any]) -> None:
        """Costs that depend on the method, not on tensor sizes alone."""
        cap = self.limits.container_items
        if name == "tolist" and tensor.numel() > cap:
            raise self._refuse(f".tolist() of {tensor.numel():,} elements is too big (the "
                               f"limit is {cap:,} Python numbers)")
        if name in ("unbind", "split", "chunk") and max(tensor.shape, default=0) > cap:
            raise self._refuse(f".{name}() of a dimension over {cap:,} long would make too "
                               "many tensors")
        if name in _SHAPE_METHODS:
            sizes = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
            if len(sizes) > MAX_DIMS:
                raise self._refuse(f".{name}() with {len(sizes):,} sizes: tensors here have at "
                                   f"most {MAX_DIMS} dimensions")
        if name == "norm" and any(isinstance(v, str) for v in (*args, *kwargs.values())):
            raise self._refuse("matrix norms by name (p='fro', 'nuc') are not supported")

    def _backward(self, tensor: torch.Tensor, args: tuple, kwargs: dict[str, Any]) -> None:
        params = ("gradient", "retain_graph", "create_graph", "inputs")
        if len(args) > len(params):
            raise _Failure(TypeError(f"backward() takes from 1 to 5 positional arguments but "
                                     f"{len(args) + 1} were given"))
        bound = dict(zip(params, args))
        for key, value in kwargs.items():
            if key not in params or key in bound:
                raise _Failure(TypeError(f"backward() got an unexpected keyword argument "
                                         f"'{key}'"))
            bound[key] = value
        self.budget.before(al.SAME, (tensor, bound.get("gradient")), {}, ".backward", _no_meta)
        try:
            with self._capture():
                trace = self._fail_safe(
                    record_backward, tensor, bound.get("gradient"),
                    retain_graph=bound.get("retain_graph"),
                    create_graph=bool(bound.get("create_graph", False)),
                    inputs=bound.get("inputs"), catalog=self.program.catalog,
                    root_name=self.program.name_of(tensor),
                    max_elements=self.budget.remaining_elements())
        except _Failure as failure:
            if isinstance(failure.exc, TraceTooBig):
                raise self._refuse(str(failure.exc)) from None
            raise
        kept = 0
        for step in trace.steps:
            for grad in (*step.grad_inputs, *step.grad_outputs):
                if grad is not None:
                    kept += grad.numel()
        self.budget.count_elements(kept)
        self.program.traces.append(trace)

    def _call_user(self, func: UserFunction, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if len(self.frames) >= self.limits.call_depth:
            raise self._refuse(f"functions call each other more than {self.limits.call_depth}"
                               " deep")
        frame = _bind_arguments(func, args, kwargs)
        self.frames.append(frame)
        self.local_names.append(func.local_names)
        lineno = self.budget.lineno
        result = None
        try:
            self._block(func.body)
        except _Return as ret:
            result = ret.value
        finally:
            self.frames.pop()
            self.local_names.pop()
        self.budget.lineno = lineno  # only on success: an error keeps the line inside f
        return result

    def _call_state(self, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        if name == "manual_seed":
            # the program's own generator: same numbers as torch.manual_seed gives natively,
            # without touching the process-wide generator other sessions use.
            self._fail_safe(self.generator.manual_seed, *args, **kwargs)
            return None
        if name == "is_grad_enabled":
            return torch.is_grad_enabled()
        import inspect

        try:
            bound = inspect.signature(torch.set_printoptions).bind(*args, **kwargs).arguments
        except TypeError as exc:
            raise _Failure(exc) from None
        if bound.get("profile") == "full":
            raise self._refuse("set_printoptions(profile='full') is not allowed: it prints "
                               "every element of any tensor")
        for key, cap in _PRINT_CAPS.items():
            value = bound.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= cap:
                raise self._refuse(f"set_printoptions({key}=...) takes a whole number from 0 "
                                   f"to {cap}")
        with _LOCK:  # torch's print options are process-wide: set, read back, restore
            opts = torch._tensor_str.PRINT_OPTS
            saved = {f: getattr(opts, f) for f in _PRINT_FIELDS}
            for key, value in self.print_options.items():
                setattr(opts, key, value)
            try:
                self._fail_safe(torch.set_printoptions, **bound)
                self.print_options = {f: getattr(opts, f) for f in _PRINT_FIELDS}
            finally:
                for key, value in saved.items():
                    setattr(opts, key, value)
        return None

    def _call_builtin(self, name: str, args: tuple, kwargs: dict[str, Any],
                      node: ast.Call) -> Any:
        cap = self.limits.container_items
        if name == "print":
            return self._print(args, kwargs)
        if name in ("list", "tuple", "enumerate", "zip", "reversed", "sum", "min", "max"):
            for arg in args:
                if isinstance(arg, _Lazy):
                    continue
                if python_size(arg, cap) > cap:
                    raise self._refuse(f"{name}() over more than {cap:,} items is not allowed")
        if name in ("list", "tuple") and args and isinstance(args[0], _Lazy):
            return getattr(builtins, name)(args[0].take(cap, self._refuse))
        if name in ("enumerate", "zip", "reversed"):
            return _Lazy(self._fail_safe(getattr(builtins, name), *args, **kwargs))
        if name in ("str", "repr"):
            with self._printing():
                result = self._fail_safe(getattr(builtins, name), *args, **kwargs)
        elif name in ("sum", "abs", "min", "max", "round") and any(
                tensors_in(a) or isinstance(a, torch.Tensor) for a in args):
            first = args[0] if args else None
            terms = (first.shape[0] if isinstance(first, torch.Tensor) and first.dim()
                     else len(first) if isinstance(first, (list, tuple)) else 0)
            if name == "sum" and terms > _SUM_TERMS:
                # Python's sum adds one term at a time: a graph as deep as there are terms
                raise self._refuse(f"sum() over {terms:,} tensors would build a graph that "
                                   f"deep (limit {_SUM_TERMS:,}); use torch.sum or .sum()")
            result = self._op(getattr(builtins, name), args, kwargs, al.BROADCAST, node, name)
        else:
            result = self._fail_safe(getattr(builtins, name), *args, **kwargs)
        return self._check_python(result)

    def _print(self, args: tuple, kwargs: dict[str, Any]) -> None:
        sep, end = kwargs.pop("sep", " "), kwargs.pop("end", "\n")
        if kwargs:
            raise self._refuse(f"print() options {sorted(kwargs)} are not supported")
        with self._printing():
            text = self._fail_safe(lambda: str(sep).join(str(a) for a in args) + str(end))
        self.output_len += len(text)
        if self.output_len > self.limits.output_chars:
            raise self._refuse(f"the program printed more than {self.limits.output_chars:,} "
                               "characters")
        self.output.append(text)

    @contextlib.contextmanager
    def _printing(self) -> Iterator[None]:
        """Apply the program's own print options while it turns a tensor into text."""
        if not self.print_options:
            yield
            return
        with _LOCK:
            opts = torch._tensor_str.PRINT_OPTS
            saved = {f: getattr(opts, f) for f in _PRINT_FIELDS}
            for key, value in self.print_options.items():
                setattr(opts, key, value)
            try:
                yield
            finally:
                for key, value in saved.items():
                    setattr(opts, key, value)

    # ---- operations ----------------------------------------------------------------------
    def _binop(self, op: type, left: Any, right: Any, node: ast.AST,
               inplace: bool = False) -> Any:
        fn = (_IOPS if inplace else _BINOPS)[op]
        symbol = _BINOP_NAMES[op]
        if isinstance(left, torch.Tensor) or isinstance(right, torch.Tensor):
            other = right if isinstance(left, torch.Tensor) else left
            if isinstance(other, (str, list, tuple)):
                raise self._refuse(f"{symbol} between a tensor and a {type(other).__name__} "
                                   "is not supported here")
            category = al.MATMUL if op is ast.MatMult else al.BROADCAST
            return self._op(fn, (left, right), {}, category, node, symbol)
        self._check_python_op(op, left, right)
        return self._check_python(self._fail_safe(fn, left, right))

    def _check_python_op(self, op: type, left: Any, right: Any) -> None:
        """Refuse Python arithmetic that would be huge before Python does it."""
        cap = self.limits.container_items
        if op is ast.Pow and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > self.limits.int_bits:
                raise self._refuse(f"{left} ** {right} is too big (more than "
                                   f"{self.limits.int_bits} bits)")
        if op is ast.Mult:
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (list, tuple, str)) and isinstance(times, int):
                    if python_size(seq, cap) * max(times, 0) > cap:
                        raise self._refuse(f"repeating a sequence {times:,} times is too big")
        if op is ast.Mod and isinstance(left, str):
            raise self._refuse("%-formatting of strings is not supported; use an f-string")

    def _check_size(self, value: Any) -> None:
        cap = self.limits.container_items
        if python_size(value, cap) > cap:
            raise self._refuse(f"the list holds more than {cap:,} items in all (or nests more "
                               "than 32 deep)")

    def _check_python(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > self.limits.int_bits:
                raise self._refuse(f"the number is too big (more than {self.limits.int_bits}"
                                   " bits)")
        elif isinstance(value, (str, list, tuple)) and not isinstance(value, torch.Size):
            if len(value) > max(self.limits.container_items, self.limits.output_chars):
                raise self._refuse("the value is too long")
        return value

    def _op(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any], category: str,
            node: ast.AST, name: str) -> Any:
        """Call a torch operation after checking its cost; record the tensors it makes."""
        budget = self.budget
        with _LOCK:  # the warnings filters are process-wide (as in self._capture())
            saved, caught = _start_capture()
            try:
                budget.before(category, args, kwargs, name, fn)
                try:
                    result = fn(*args, **kwargs)
                except (ProgramError, _Failure, _Return, _Break, _Continue):
                    raise
                except Exception as exc:
                    raise _Failure(exc) from None
            finally:
                _stop_capture(saved)
                if caught:
                    self._warned(caught)
        budget.after(result, args, kwargs, name)
        if result.__class__ is not torch.Tensor and not isinstance(result, _VALUE_TYPES):
            raise self._refuse(f"{name} returned {_describe(result)}, which autoviz programs "
                               "cannot hold")
        for out in tensors_in(result):
            made_by = grad_fn_of(out)
            if made_by is not None:
                self.program.catalog.produce(out, budget.lineno, self._text(node), made_by)
        return result

    def _text(self, node: ast.AST) -> str | None:
        """The source text of an expression on one line (cached: loops repeat nodes)."""
        key = id(node)
        texts = self.texts
        if key in texts:
            return texts[key]
        text = None
        if getattr(node, "end_lineno", None) == getattr(node, "lineno", 0):
            if self.lines is None:
                self.lines = source_lines(self.program.source)
            line = self.lines[node.lineno - 1]
            text = line.encode()[node.col_offset:node.end_col_offset].decode(errors="replace")
        texts[key] = text
        return text

    def _capture(self) -> _Capture:
        """Record the warnings torch raises during one operation, with the line."""
        return _Capture(self)

    def _warned(self, caught: list[Any]) -> None:
        for w in caught:
            self.program.warnings.append(
                (self.budget.lineno or 0, f"{w.category.__name__}: {w.message}"))

    def _fail_safe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; a Python or torch exception becomes the program's own failure."""
        try:
            return fn(*args, **kwargs)
        except (ProgramError, _Failure, _Return, _Break, _Continue):
            raise
        except Exception as exc:
            raise _Failure(exc) from None


_ALWAYS = ("always", None, Warning, None, 0)  # warnings.simplefilter("always")


def _start_capture() -> tuple[tuple[Any, Any, Any], list[Any]]:
    """``warnings.catch_warnings(record=True)`` + ``simplefilter("always")``, as a pair of
    plain calls (the context managers cost several microseconds per torch operation).
    The caller holds ``_LOCK``: the filters are process-wide."""
    module = warnings
    saved = (module.filters, module.showwarning, module._showwarnmsg_impl)  # type: ignore
    caught: list[Any] = []
    module.filters = [_ALWAYS]  # type: ignore[attr-defined]
    module._filters_mutated()  # type: ignore[attr-defined]
    module.showwarning = module._showwarning_orig  # type: ignore[attr-defined]
    module._showwarnmsg_impl = caught.append  # type: ignore[attr-defined]
    return saved, caught


def _stop_capture(saved: tuple[Any, Any, Any]) -> None:
    module = warnings
    module.filters, module.showwarning, module._showwarnmsg_impl = saved  # type: ignore
    module._filters_mutated()  # type: ignore[attr-defined]


class _Capture:
    """``with interpreter._capture():`` records the warnings raised inside, with the line."""

    __slots__ = ("interp", "saved", "caught")

    def __init__(self, interp: Interpreter) -> None:
        self.interp = interp

    def __enter__(self) -> None:
        _LOCK.acquire()
        try:
            self.saved, self.caught = _start_capture()
        except BaseException:
            _LOCK.release()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        try:
            _stop_capture(self.saved)
            if self.caught:
                self.interp._warned(self.caught)
        finally:
            _LOCK.release()


def _no_meta(*args: Any, **kwargs: Any) -> None:
    return None


_MISSING = object()
_CALL_ONLY = frozenset({_Module, _Function})  # + _GradModeCall, added below
_BUILTIN_FUNCTIONS = {name: _Function("builtin", name, getattr(builtins, name))
                      for name in al.BUILTINS}
_MODULE_ATTRIBUTES: dict[tuple[str, str], Any] = {}
_METHOD_CALLS: dict[str, tuple[Callable[..., Any], str]] = {}


def _method_call(name: str) -> tuple[Callable[..., Any], str]:
    """``tensor.name(...)`` as a function of the tensor (it also runs on a meta copy)."""

    def call(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(tensor, name)(*args, **kwargs)

    _METHOD_CALLS[name] = found = (call, f".{name}")
    return found


def _bind_arguments(func: UserFunction, args: list[Any], kwargs: dict[str, Any]
                    ) -> dict[str, Any]:
    """Python's own binding of call arguments to parameters, with Python's messages."""
    params = func.params
    if len(args) > len(params):
        plural = "argument" if len(params) == 1 else "arguments"
        were = "was" if len(args) == 1 else "were"
        raise _Failure(TypeError(f"{func.name}() takes {len(params)} positional {plural} but "
                                 f"{len(args)} {were} given"))
    frame = dict(zip(params, args))
    for key, value in kwargs.items():
        if key not in params:
            raise _Failure(TypeError(f"{func.name}() got an unexpected keyword argument "
                                     f"'{key}'"))
        if key in frame:
            raise _Failure(TypeError(f"{func.name}() got multiple values for argument "
                                     f"'{key}'"))
        frame[key] = value
    missing = [p for p in params if p not in frame]
    if missing:
        names = [f"'{m}'" for m in missing]
        listed = names[0] if len(names) == 1 else (
            ", ".join(names[:-1]) + (" and " if len(names) == 2 else ", and ") + names[-1])
        plural = "argument" if len(missing) == 1 else "arguments"
        raise _Failure(TypeError(f"{func.name}() missing {len(missing)} required positional "
                                 f"{plural}: {listed}"))
    return frame


class _Lazy:
    """An iterator from enumerate/zip/reversed: consumed with a cap, never stored whole."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self.iterator = iterator

    def __iter__(self) -> Iterator[Any]:
        return self.iterator

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


_CALL_ONLY = _CALL_ONLY | {_GradModeCall}

# Each syntax node class -> the method that runs (statements) or evaluates (expressions) it.
_STATEMENTS: dict[type, Callable[[Interpreter, Any], None]] = {
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
    ast.Return: Interpreter._return_statement,
    ast.Break: Interpreter._break_statement,
    ast.Continue: Interpreter._continue_statement,
    ast.Pass: Interpreter._pass_statement,
}
_EXPRESSIONS: dict[type, Callable[[Interpreter, Any], Any]] = {
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
}
