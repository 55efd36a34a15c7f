"""Static check of a parsed program: refuse what is not allowed before anything runs."""

from __future__ import annotations

import ast
import re

from autoviz.runner.allowlist import FORBIDDEN_EXCEPTIONS, IMPORTABLE
from autoviz.runner.errors import ProgramError
from autoviz.runner.limits import Limits

# Node types a program may contain at all. Everything else is refused with a reason.
_ALLOWED = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Import, ast.ImportFrom,
    ast.alias, ast.With, ast.withitem, ast.For, ast.If, ast.Pass, ast.Break, ast.Continue,
    ast.FunctionDef, ast.Return, ast.arguments, ast.arg, ast.ClassDef,
    ast.While, ast.Try, ast.ExceptHandler, ast.Raise, ast.Assert, ast.Delete, ast.Lambda,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Dict,
    ast.Set,
    ast.Name, ast.Load, ast.Store, ast.Del, ast.Constant, ast.Tuple, ast.List, ast.Attribute,
    ast.Subscript, ast.Slice, ast.Call, ast.keyword, ast.Starred, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr, ast.FormattedValue,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)

_WHY = {
    ast.AsyncFunctionDef: "async functions are not supported",
    ast.TryStar: "except* (exception groups) is not supported",
    ast.Global: "global is not supported",
    ast.Nonlocal: "nonlocal is not supported",
    ast.NamedExpr: "the := operator is not supported",
    ast.Await: "await is not supported",
    ast.Yield: "yield is not supported",
    ast.YieldFrom: "yield is not supported",
    ast.AsyncFor: "async for is not supported",
    ast.AsyncWith: "async with is not supported",
    ast.Match: "match is not supported",
}

_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult,
        ast.USub, ast.UAdd, ast.Not, ast.Invert, ast.And, ast.Or,
        ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In,
        ast.NotIn)


_NEWLINE = re.compile(r"\r\n|\r|\n")


def source_lines(source: str) -> list[str]:
    """Lines as Python numbers them: only \\n, \\r\\n and \\r end a line (str.splitlines
    also splits at form feeds and other separators, which would shift every line number)."""
    lines = _NEWLINE.split(source)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _refuse(message: str, where: ast.AST | int | None) -> ProgramError:
    return ProgramError(message, where if isinstance(where, int) or where is None
                        else getattr(where, "lineno", None))


# ``_version``: a tensor's in-place counter, which autograd's errors talk about
_DUNDERS = frozenset({"_", "__init__", "__name__", "__class__", "_version"})
GRAD_MODE_DECORATORS = frozenset({"no_grad", "enable_grad", "inference_mode"})


def _grad_mode_decorator(decorators: list[ast.expr]) -> bool:
    """One ``@torch.no_grad()`` (or enable_grad / inference_mode, as an attribute or a name
    imported from torch), called without arguments: the function runs in that mode."""
    if len(decorators) != 1 or not isinstance(decorators[0], ast.Call):
        return False
    call = decorators[0]
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in GRAD_MODE_DECORATORS and not call.args and not call.keywords


def _check_name(name: str | None, node: ast.AST) -> None:
    # ``__init__``: a method of a program's nn.Module class, and super().__init__(); the
    # interpreter lets no other use of it reach anything
    # ``_`` alone: the name of what a loop does not use (for _ in range(3)), nothing more
    # ``__name__`` / ``__class__``: the name of a class or function (type(m).__name__), and
    # ``__name__ == "__main__"``; the interpreter gives them nothing else
    if name and name.startswith("_") and name not in _DUNDERS:
        raise _refuse(f"names starting with '_' are not allowed ({name!r}); they reach "
                      "Python's and torch's internals", node)


def _check_import(node: ast.Import | ast.ImportFrom) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in IMPORTABLE:
                raise _refuse(f"only torch and math can be imported here (import torch, "
                              f"import torch.nn.functional as F, import math), not "
                              f"{alias.name!r}", node)
        return
    module = node.module or ""
    for alias in node.names:
        # a submodule, or a name the module's allowlist resolves when the line runs
        if node.level or module not in IMPORTABLE or alias.name == "*":
            raise _refuse(f"'from {module} import {alias.name}' is not supported; import "
                          "names from torch, its modules of the allowlist (torch.nn, "
                          "torch.nn.functional, torch.optim, torch.autograd) or math "
                          "(from math import sqrt)", node)


def check_tree(tree: ast.Module, limits: Limits) -> None:
    """Raise :class:`ProgramError` for the first thing in ``tree`` a program may not do."""
    count = 0
    stack: list[tuple[ast.AST, int, bool, int | None]] = [(tree, 0, False, None)]
    while stack:
        node, depth, in_def, line = stack.pop()
        line = getattr(node, "lineno", line)  # operators have no line: use the enclosing one
        count += 1
        if count > limits.ast_nodes:
            raise _refuse(f"the program is too big (more than {limits.ast_nodes:,} syntax "
                          "nodes)", node)
        if depth > limits.ast_depth:
            raise _refuse(f"the expression nests too deeply (more than {limits.ast_depth} "
                          "levels)", line)
        if type(node) in _WHY:
            raise _refuse(_WHY[type(node)], line)
        if not isinstance(node, _ALLOWED):
            raise _refuse(f"{type(node).__name__} is not supported", line)
        if isinstance(node, (ast.operator, ast.unaryop, ast.boolop, ast.cmpop)):
            if not isinstance(node, _OPS):
                raise _refuse(f"the operator {type(node).__name__} is not supported", line)
        elif isinstance(node, ast.Name):
            _check_name(node.id, node)
        elif isinstance(node, ast.Attribute):
            _check_name(node.attr, node)
        elif isinstance(node, ast.keyword):
            if node.arg is None:
                raise _refuse("**kwargs unpacking is not supported", node)
            _check_name(node.arg, node)
        elif isinstance(node, ast.arg):
            _check_name(node.arg, node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            _check_import(node)
            for alias in node.names:
                _check_name(alias.asname, node)
        elif isinstance(node, ast.ClassDef):
            if in_def:
                raise _refuse("classes can only be defined at the top level", node)
            _check_class(node)
        elif isinstance(node, ast.FunctionDef | ast.Lambda):
            if isinstance(node, ast.FunctionDef):
                _check_name(node.name, node)
                if node.decorator_list and not _grad_mode_decorator(node.decorator_list):
                    raise _refuse("decorators here are @torch.no_grad(), "
                                  "@torch.enable_grad() or @torch.inference_mode() only", node)
            if node.args.posonlyargs:
                raise _refuse("positional-only parameters (/) are not supported", node)
            in_def = True
        elif isinstance(node, ast.ExceptHandler | ast.Raise):
            _check_exception(node)
        elif isinstance(node, ast.comprehension):
            if node.is_async:
                raise _refuse("async comprehensions are not supported", line)
            _check_target(node.target)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                _check_deleted(target)
        elif isinstance(node, ast.Return) and not in_def:
            raise _refuse("'return' outside a function", node)
        elif isinstance(node, ast.Constant):
            _check_constant(node, limits)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                _check_target(target)
        elif isinstance(node, ast.For):
            _check_target(node.target)
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, in_def, line))
    _check_loops(tree)


def _check_class(node: ast.ClassDef) -> None:
    """``class Net(nn.Module):`` and plain methods: nothing else a class can do (no
    metaclass, keywords, decorators, class attributes, other bases or dunders)."""
    _check_name(node.name, node)
    if node.name == "__init__":
        raise _refuse("a class cannot be called __init__", node)
    base = node.bases[0] if len(node.bases) == 1 else None
    named = base is not None and (
        (isinstance(base, ast.Attribute) and base.attr == "Module")
        or (isinstance(base, ast.Name) and base.id == "Module"))
    if not named or node.keywords or node.decorator_list:
        raise _refuse("a class here subclasses nn.Module only (class Net(nn.Module):), "
                      "without keywords or decorators", node)
    for index, stmt in enumerate(node.body):
        if isinstance(stmt, ast.FunctionDef):
            if stmt.name.startswith("_") and stmt.name != "__init__":
                raise _refuse(f"a method here is __init__ or a plain name, not "
                              f"{stmt.name!r}", stmt)
            if not stmt.args.args:
                raise _refuse(f"the method {stmt.name} needs self as its first parameter",
                              stmt)
        elif isinstance(stmt, ast.Pass) or (
                index == 0 and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
            continue  # a docstring
        else:
            raise _refuse("a class here holds methods only (set attributes on self in "
                          "__init__)", stmt)


def _check_exception(node: ast.ExceptHandler | ast.Raise) -> None:
    """``except`` and ``raise`` name exceptions a program may catch: never the ones that
    stop a process (KeyboardInterrupt, SystemExit) or exhaust it (MemoryError)."""
    if isinstance(node, ast.ExceptHandler):
        _check_name(node.name, node)
        named = node.type
    else:
        named = node.exc
    if named is None:
        return
    for name in ast.walk(named):
        if isinstance(name, ast.Name) and name.id in FORBIDDEN_EXCEPTIONS:
            if isinstance(node, ast.Raise):
                raise _refuse(f"raising {name.id} is not allowed here", node)
            raise _refuse(f"'except {name.id}' is not allowed: it would catch what stops a "
                          "program (KeyboardInterrupt, SystemExit, MemoryError, "
                          "RecursionError); catch Exception, or the error you expect", node)


def _check_deleted(target: ast.AST) -> None:
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_deleted(element)
    elif not isinstance(target, (ast.Name, ast.Subscript)):
        raise _refuse("del takes names and items (del d[key], del xs[0]), not "
                      f"{type(target).__name__}", target)


def _check_loops(tree: ast.Module) -> None:
    """``break`` and ``continue`` belong to a loop of their own function (Python refuses
    the rest when it compiles, with a SyntaxError)."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_loop = stack.pop()
        if isinstance(node, ast.Break | ast.Continue) and not in_loop:
            why = "'break' outside loop" if isinstance(node, ast.Break) else \
                "'continue' not properly in loop"
            raise ProgramError(f"SyntaxError: {why}", node.lineno, refused=False,
                               error_type="SyntaxError")
        if isinstance(node, ast.For | ast.While):
            stack.extend((child, True) for child in node.body)
            stack.extend((child, in_loop) for child in node.orelse)
            head = [node.target, node.iter] if isinstance(node, ast.For) else [node.test]
            stack.extend((child, in_loop) for child in head)
            continue
        inner = False if isinstance(node, ast.FunctionDef | ast.Lambda | ast.ClassDef) \
            else in_loop
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def _check_constant(node: ast.Constant, limits: Limits) -> None:
    value = node.value
    if isinstance(value, bytes):
        raise _refuse("bytes literals are not supported", node)
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > limits.int_bits:
            raise _refuse(f"the number is too big (more than {limits.int_bits} bits)", node)


def _check_target(target: ast.AST, starred_ok: bool = False) -> None:
    if isinstance(target, (ast.Tuple, ast.List)):
        stars = sum(isinstance(e, ast.Starred) for e in target.elts)
        if stars > 1:
            raise _refuse("multiple starred expressions in assignment", target)
        for element in target.elts:
            _check_target(element, starred_ok=True)
    elif isinstance(target, ast.Starred):
        if not starred_ok or not isinstance(target.value, ast.Name):
            raise _refuse("a starred target is a name inside a tuple or list here "
                          "(first, *rest = xs)", target)
    elif isinstance(target, ast.Attribute):
        # a tensor's .requires_grad, .grad, .data; anything else only on a program's own
        # module (self.fc1 = nn.Linear(3, 2)): the interpreter tells them apart
        if not isinstance(target.value, ast.Name) and target.attr not in (
                "requires_grad", "grad", "data"):
            raise _refuse(f"only .requires_grad, .grad and .data can be assigned, not "
                          f".{target.attr}", target)
    elif not isinstance(target, (ast.Name, ast.Subscript)):
        raise _refuse(f"cannot assign to {type(target).__name__}", target)
