"""Plain-Python values and rules for the interpreter: generators, exceptions a program may
raise and catch, dict keys, argument binding, the names a scope assigns, ``math``.

Nothing here runs program code; :mod:`autoviz.runner.pycode` does, through the
interpreter, under the same caps as everything else.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Iterator

import torch

from autoviz.runner.values import UserFunction, _Failure

# ---- generators ------------------------------------------------------------------------

MAX_GENERATOR_DEPTH = 50  # generators drawing from generators (each level: Python frames)


class _Generator:
    """A generator expression (or ``map``/``filter``/``zip``/``enumerate`` of one): one pass,
    drawn one item at a time by the interpreter's own loops. It has no ``__iter__`` on
    purpose: neither Python's nor torch's C code can iterate it behind the interpreter's
    back (every item is counted where the interpreter draws it)."""

    __slots__ = ("draw", "depth", "kind")
    described_as = "a generator"

    def __init__(self, draw: Iterator[Any], depth: int = 0, kind: str = "genexpr") -> None:
        self.draw = draw
        self.depth = depth
        self.kind = kind

    def __repr__(self) -> str:  # Python's, without the address
        if self.kind == "genexpr":
            return "<generator object <genexpr>>"
        return f"<{self.kind} object>"


DICT_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
# what a program's for loop, comprehension, unpacking or builtin may iterate
CONTAINERS = (dict, set, frozenset, *DICT_VIEWS)

# ---- exceptions ------------------------------------------------------------------------

# The exception classes a program may name (raise, except, isinstance). A refusal of
# autoviz's (a cap, something not allowed) is never one of them: it passes every except.
EXCEPTIONS: dict[str, type[BaseException]] = {cls.__name__: cls for cls in (
    Exception, ArithmeticError, AssertionError, AttributeError, FloatingPointError,
    IndexError, KeyError, LookupError, NameError, NotImplementedError, OverflowError,
    RuntimeError, StopIteration, TypeError, UnboundLocalError, ValueError, ZeroDivisionError,
)}
# Names an except or raise may not use: catching them would catch KeyboardInterrupt and
# SystemExit (a server's own signals); raising them would stop the server's process.
_ALLOCATION = re.compile(r"can't allocate memory|out of memory|Cannot allocate memory|"
                         r"bad_alloc|not enough memory",
                         re.I)


def uncatchable(exc: BaseException) -> str | None:
    """Why ``exc`` (raised while the program ran) ends the program whatever its ``except``
    clauses say (None: the program may catch it): running out of memory or of stack is
    the machine's limit, not the program's error."""
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError)
                                        and _ALLOCATION.search(str(exc))):
        return "the program ran out of memory"
    if isinstance(exc, RecursionError):
        return "the program nests too deeply"
    return None


def plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is a plain immutable value: str, int, float, complex, bool, None
    or a tuple of those (what a dict key, a set item or an exception's argument may be)."""
    if value is None or value.__class__ in (str, int, float, bool, complex):
        return True
    if isinstance(value, tuple) and depth < 32:
        return all(plain(v, depth + 1) for v in value)
    return False


def key_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a dict key or set item here (None: it can; an unhashable
    list is Python's own TypeError, raised when it is hashed)."""
    if plain(value):
        return None
    if isinstance(value, tuple):
        for item in value:
            problem = key_problem(item)
            if problem is not None:
                return problem
        return None
    if isinstance(value, (list, dict, set)):
        return None  # Python's own "unhashable type" follows
    if isinstance(value, torch.Tensor):
        return ("a tensor cannot be a dict key or set item here: Python hashes a tensor by "
                "its identity, not its values (two equal tensors are two keys); use a "
                "name, a number (t.item()) or a tuple")
    return ("dict keys and set items here are str, int, float, bool, None or tuples of "
            f"those, not a {type(value).__name__}")


def exception_class(exc: BaseException) -> type[BaseException]:
    """The class of ``exc`` a program sees: its own if it is one of :data:`EXCEPTIONS`,
    else the nearest of them it derives from (torch's ``_LinAlgError`` is a RuntimeError)."""
    for cls in type(exc).__mro__:
        if cls in _ALLOWED_CLASSES:
            return cls
    return Exception


_ALLOWED_CLASSES = frozenset(EXCEPTIONS.values())


def sanitized(exc: BaseException) -> BaseException:
    """What ``except ... as e`` binds: a fresh exception of the class the program sees,
    with the same plain arguments, and no traceback, context or cause (no frames of
    torch's or autoviz's reach the program)."""
    cls = exception_class(exc)
    args = tuple(a if plain(a) else f"<{type(a).__name__}>" for a in exc.args)
    try:
        return cls(*args)
    except Exception:  # a class with a signature of its own: its message only
        return cls(str(exc))


# ---- functions: binding arguments, scopes ----------------------------------------------


def qualified(func: UserFunction) -> str:
    return func.qualname or func.name


def bind_arguments(func: UserFunction, args: list[Any], kwargs: dict[str, Any]
                   ) -> dict[str, Any]:
    """Python's own binding of call arguments to parameters (defaults, ``*args``,
    keyword-only, ``**kwargs``), in CPython's order and with its messages. The frame
    holds the parameters first, in order (a method's ``self`` is its first value)."""
    name = qualified(func)
    params = func.params
    frame: dict[str, Any] = dict(zip(params, args))
    extra = args[len(params):]
    if func.vararg is not None:
        frame[func.vararg] = tuple(extra)
    kwonly = func.kwonly
    rest: dict[str, Any] | None = {} if func.kwarg is not None else None
    for key, value in kwargs.items():
        if key in params or key in kwonly:
            if key in frame and key in params:
                raise _Failure(TypeError(f"{name}() got multiple values for argument "
                                         f"'{key}'"))
            frame[key] = value
        elif rest is not None:
            rest[key] = value
        else:
            raise _Failure(TypeError(f"{name}() got an unexpected keyword argument "
                                     f"'{key}'"))
    if extra and func.vararg is None:
        low = len(params) - len(func.defaults)
        takes = (f"from {low} to {len(params)}" if func.defaults else str(len(params)))
        plural = "argument" if takes == "1" else "arguments"
        given = len(args)
        kwonly_given = sum(1 for k in kwargs if k in kwonly)
        if kwonly_given:
            were = (f"{given} positional argument{'s' if given != 1 else ''} (and "
                    f"{kwonly_given} keyword-only argument{'s' if kwonly_given != 1 else ''})"
                    f" {'were' if given + kwonly_given != 1 else 'was'} given")
        else:
            were = f"{given} {'was' if given == 1 else 'were'} given"
        raise _Failure(TypeError(f"{name}() takes {takes} positional {plural} but {were}"))
    first_default = len(params) - len(func.defaults)
    for param, default in zip(params[first_default:], func.defaults):
        if param not in frame:
            frame[param] = default
    missing = [p for p in params if p not in frame]
    if missing:
        raise _Failure(TypeError(f"{name}() missing {len(missing)} required positional "
                                 f"{_plural(missing)}"))
    for key, value in func.kwdefaults:
        frame.setdefault(key, value)
    missing = [k for k in kwonly if k not in frame]
    if missing:
        raise _Failure(TypeError(f"{name}() missing {len(missing)} required keyword-only "
                                 f"{_plural(missing)}"))
    if rest is not None:
        frame[func.kwarg] = rest
    # parameters first, in their order (a method's self is the frame's first value)
    order = [*params, *([func.vararg] if func.vararg else []), *kwonly,
             *([func.kwarg] if func.kwarg else [])]
    return {key: frame[key] for key in order}


def _plural(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    listed = quoted[0] if len(quoted) == 1 else (
        ", ".join(quoted[:-1]) + (" and " if len(quoted) == 2 else ", and ") + quoted[-1])
    return f"{'argument' if len(names) == 1 else 'arguments'}: {listed}"


_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


def assigned_names(body: list[ast.stmt] | list[ast.expr]) -> set[str]:
    """The names a function body binds (so local to the whole function, as in Python):
    assignment and loop targets, ``del``, ``except ... as``, imports and the names of
    nested ``def``s and classes, without looking inside nested scopes (their bodies,
    lambdas, comprehensions) but for the parts the enclosing scope runs (defaults, the
    first iterable of a comprehension)."""
    found: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                found.add(node.id)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            stack.extend(getattr(node, "decorator_list", []))
            if isinstance(node, ast.ClassDef):
                stack.extend(node.bases)
            else:
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            stack.append(node.generators[0].iter)
            continue
        if isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.add(alias.asname or alias.name.split(".")[0])
        stack.extend(ast.iter_child_nodes(node))
    return found


def target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


# ---- math ------------------------------------------------------------------------------

# math's functions whose cost does not depend on their arguments' size (a float's, or a
# whole number's of at most 64 bits: the interpreter caps every int it holds)
MATH_FUNCTIONS = frozenset(
    "sqrt exp expm1 log log2 log10 log1p sin cos tan asin acos atan atan2 sinh cosh tanh "
    "asinh acosh atanh hypot floor ceil trunc fabs fmod copysign degrees radians isclose "
    "isfinite isnan isinf erf erfc gamma lgamma pow gcd isqrt modf frexp ldexp dist "
    "remainder".split())
# math's functions that can be expensive, each checked by the interpreter before it runs
MATH_CAPPED = frozenset({"factorial", "comb", "perm", "prod", "fsum"})
MATH_VALUES: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf,
                                 "nan": math.nan}


def integer_bits(name: str, args: tuple) -> float | None:
    """An upper bound on the bits of ``math.factorial/comb/perm(*args)`` (None: the
    arguments are not whole numbers; Python's own error follows)."""
    if not args or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return None
    n = args[0]
    if n < 0:
        return 0.0
    if name == "factorial":
        return math.lgamma(n + 1) / math.log(2) + 1
    k = args[1] if len(args) > 1 else (n if name == "perm" else None)
    if k is None or k < 0 or k > n:
        return 0.0
    if name == "comb":
        bits = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)
    else:
        bits = (math.lgamma(n + 1) - math.lgamma(n - k + 1)) / math.log(2)
    return bits + 1


# ---- text formatting -------------------------------------------------------------------

# one conversion of printf-style formatting: %(key)flags width .precision type
PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?"
                     r"(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<type>.?)")
MAX_WIDTH = 1000  # as for f-strings: wider or more precise fields are refused
