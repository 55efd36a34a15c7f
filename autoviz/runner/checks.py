"""Static check of a parsed program: refuse what is not allowed before anything runs."""

from __future__ import annotations

import ast
import re

from autoviz.runner.allowlist import IMPORTABLE
from autoviz.runner.errors import ProgramError
from autoviz.runner.limits import Limits

# Node types a program may contain at all. Everything else is refused with a reason.
_ALLOWED = (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Import, ast.ImportFrom,
    ast.alias, ast.With, ast.withitem, ast.For, ast.If, ast.Pass, ast.Break, ast.Continue,
    ast.FunctionDef, ast.Return, ast.arguments, ast.arg, ast.ClassDef,
    ast.Name, ast.Load, ast.Store, ast.Del, ast.Constant, ast.Tuple, ast.List, ast.Attribute,
    ast.Subscript, ast.Slice, ast.Call, ast.keyword, ast.Starred, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr, ast.FormattedValue,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)

_WHY = {
    ast.Lambda: "lambda functions are not supported",
    ast.AsyncFunctionDef: "async functions are not supported",
    ast.While: "while loops are not allowed (they may never end); use for i in range(n)",
    ast.Try: "try/except is not supported; autoviz shows errors itself",
    ast.Raise: "raise is not supported",
    ast.Global: "global is not supported",
    ast.Nonlocal: "nonlocal is not supported",
    ast.Delete: "del is not supported",
    ast.ListComp: "list comprehensions are not supported; use a for loop",
    ast.SetComp: "set comprehensions are not supported",
    ast.DictComp: "dict comprehensions are not supported",
    ast.GeneratorExp: "generator expressions are not supported; use a for loop",
    ast.Dict: "dicts are not supported",
    ast.Set: "sets are not supported",
    ast.NamedExpr: "the := operator is not supported",
    ast.Await: "await is not supported",
    ast.Yield: "yield is not supported",
    ast.YieldFrom: "yield is not supported",
    ast.Assert: "assert is not supported",
    ast.AsyncFor: "async for is not supported",
    ast.AsyncWith: "async with is not supported",
    ast.Match: "match is not supported",
}

_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult,
        ast.USub, ast.UAdd, ast.Not, ast.Invert, ast.And, ast.Or,
        ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot)


_NEWLINE = re.compile(r"\r\n|\r|\n")


def source_lines(source: str) -> list[str]:
    """Lines as Python numbers them: only \\n, \\r\\n and \\r end a line (str.splitlines
    also splits at form feeds and other separators, which would shift every line number)."""
    lines = _NEWLINE.split(source)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _refuse(message: str, where: ast.AST | int | None) -> ProgramError:
    return ProgramError(message, where if isinstance(where, int) or where is None
                        else getattr(where, "lineno", None))


def _check_name(name: str | None, node: ast.AST) -> None:
    # ``__init__``: a method of a program's nn.Module class, and super().__init__(); the
    # interpreter lets no other use of it reach anything
    if name and name.startswith("_") and name != "__init__":
        raise _refuse(f"names starting with '_' are not allowed ({name!r}); they reach "
                      "Python's and torch's internals", node)


def _check_import(node: ast.Import | ast.ImportFrom) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in IMPORTABLE:
                raise _refuse(f"only torch can be imported here (import torch, "
                              f"import torch.nn.functional as F), not {alias.name!r}", node)
        return
    module = node.module or ""
    for alias in node.names:
        if node.level or f"{module}.{alias.name}" not in IMPORTABLE:
            raise _refuse(f"'from {module} import {alias.name}' is not supported; only "
                          "'from torch import nn' and 'from torch.nn import functional as F'",
                          node)


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
        elif isinstance(node, ast.FunctionDef):
            if in_def:
                raise _refuse("functions can only be defined at the top level", node)
            _check_name(node.name, node)
            args = node.args
            if (node.decorator_list or args.vararg or args.kwarg or args.kwonlyargs
                    or args.posonlyargs or args.defaults or node.returns):
                raise _refuse("functions here take plain positional parameters only (no "
                              "defaults, *args, **kwargs, decorators or annotations)", node)
            in_def = True
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
            if node.orelse:
                raise _refuse("for ... else is not supported", node)
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, in_def, line))


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


def _check_constant(node: ast.Constant, limits: Limits) -> None:
    value = node.value
    if isinstance(value, bytes):
        raise _refuse("bytes literals are not supported", node)
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > limits.int_bits:
            raise _refuse(f"the number is too big (more than {limits.int_bits} bits)", node)


def _check_target(target: ast.AST) -> None:
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_target(element)
    elif isinstance(target, ast.Starred):
        raise _refuse("starred assignment (*rest) is not supported", target)
    elif isinstance(target, ast.Attribute):
        # a tensor's .requires_grad, .grad, .data; anything else only on a program's own
        # module (self.fc1 = nn.Linear(3, 2)): the interpreter tells them apart
        if not isinstance(target.value, ast.Name) and target.attr not in (
                "requires_grad", "grad", "data"):
            raise _refuse(f"only .requires_grad, .grad and .data can be assigned, not "
                          f".{target.attr}", target)
    elif not isinstance(target, (ast.Name, ast.Subscript)):
        raise _refuse(f"cannot assign to {type(target).__name__}", target)
