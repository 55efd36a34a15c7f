"""The plain Python a program writes around its tensors: comprehensions and generator
expressions, ``while``, ``try``/``except``/``finally``, ``raise``, ``assert``, ``del``,
dicts and sets, ``lambda`` and nested functions (closures, defaults), the builtins that
take them (``sorted(key=...)``, ``any``, ``map``…), ``math``, and text formatting
(``str.format``, ``%``).

Every item a comprehension makes passes the interpreter's own loop, one at a time: it
ticks the statement cap (and the clock) and is counted against the list and Python-item
caps before the next is made. A refusal of autoviz's is a :class:`ProgramError`, never a
:class:`_Failure`, so no ``except`` of the program can catch it (nor a ``finally`` run
after it); only the program's own Python and torch errors are catchable, matched by
their real class.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import math
import operator
import string
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Iterator

import torch

from autoviz.runner import allowlist as al
from autoviz.runner.costs import python_size, text_floor
from autoviz.runner.errors import ProgramError
from autoviz.runner.pyvalues import (
    CONTAINERS,
    DICT_VIEWS,
    EXCEPTIONS,
    MATH_CAPPED,
    MATH_FUNCTIONS,
    MATH_VALUES,
    MAX_GENERATOR_DEPTH,
    MAX_WIDTH,
    PERCENT,
    _Generator,
    assigned_names,
    bind_arguments,
    integer_bits,
    key_problem,
    plain,
    qualified,
    sanitized,
    target_names,
    uncatchable,
)
from autoviz.runner.values import (
    _CALL_ONLY,
    _FORMAT_NUMBER,
    BoundMethod,
    TypeOf,
    UserFunction,
    _Break,
    _Continue,
    _describe,
    _Failure,
    _Function,
    _GradModeCall,
    _Lazy,
    _Return,
)

if TYPE_CHECKING:
    Scope = tuple[dict[str, Any], frozenset[str], tuple[tuple[dict[str, Any], frozenset[str]],
                                                         ...]]

# Methods of Python values a program may call (list.append is the calls module's own).
DICT_METHODS = frozenset("get keys values items pop popitem setdefault update copy clear"
                         .split())
SET_METHODS = frozenset("add discard remove pop clear copy update union intersection "
                        "difference symmetric_difference issubset issuperset isdisjoint"
                        .split())
LIST_METHODS = frozenset("extend insert pop remove index count reverse sort copy clear"
                         .split())
TUPLE_METHODS = frozenset({"index", "count"})
STR_METHODS = frozenset(
    "format join split rsplit strip lstrip rstrip upper lower title capitalize startswith "
    "endswith replace find rfind count isdigit isalpha isalnum isspace isupper islower "
    "ljust rjust center zfill splitlines".split())
# Allowlisted callables whose arguments may be the program's own functions (each turns
# one into a plain callable with Interpreter._as_callable).
TAKES_FUNCTIONS = frozenset({"register_hook", "register_prehook", "gradcheck",
                             "gradgradcheck", "apply", "register_forward_hook",
                             "register_forward_pre_hook"})
# what isinstance accepts for torch.Tensor, which autoviz resolves to a callable
_TYPE_NAMES: dict[str, type] = {"torch.Tensor": torch.Tensor}
_FORMATTER = string.Formatter()
_NO_ATTRIBUTE = object()
# torch's functions and nn's classes a program may give a name (loss_func = F.cross_entropy)
_NAMED_FUNCTIONS = frozenset({"torch", "nn", "nn_init"})
_FLAT = frozenset({int, float, bool, complex, type(None), torch.Tensor})
_MISSING = object()


def _python(name: str, target: Any = None) -> _Function:
    return _Function("python", name, target)


# Builtins the interpreter implements here (the others are the calls module's).
PY_BUILTINS: dict[str, _Function] = {
    **{name: _python(name, getattr(builtins, name)) for name in (
        "isinstance sorted any all dict set divmod pow map filter min max sum list tuple "
        "enumerate zip len reversed type next").split()},
    **{name: _python(name, cls) for name, cls in EXCEPTIONS.items()},
}


class PythonCode:
    """The plain-Python part of :class:`~autoviz.runner.interp.Interpreter`."""

    # ---- scopes ------------------------------------------------------------------------
    def _enter_scope(self, frame: dict[str, Any], names: frozenset[str],
                     enclosing: tuple) -> None:
        self.frames.append(frame)
        self.local_names.append(names)
        self.enclosing.append(enclosing)

    def _leave_scope(self) -> None:
        self.frames.pop()
        self.local_names.pop()
        self.enclosing.pop()

    def _chain(self) -> tuple:
        """The scopes a function or comprehension made here reads its free names from."""
        if not self.frames:
            return ()
        outer = self.enclosing[-1] if self.enclosing else ()
        return (*outer, (self.frames[-1], self.local_names[-1]))

    def _free(self, name: str) -> Any:
        """``name`` in the enclosing functions' scopes (a closure's read), or _MISSING."""
        for scope, names in reversed(self.enclosing[-1] if self.enclosing else ()):
            if name in scope:
                return scope[name]
            if name in names:
                raise _Failure(NameError(f"cannot access free variable '{name}' where it is "
                                         "not associated with a value in enclosing scope"))
        return _MISSING

    # ---- values a program may hold ----------------------------------------------------
    def _not_a_value(self, value: Any) -> ProgramError:
        if isinstance(value, UserFunction):
            return self._refuse(f"{_describe(value)} can be called, given a name or passed to "
                                "a function here, but not stored in a list or dict, printed "
                                "or used in an operation")
        return self._refuse(f"{_describe(value)} can only be called here, not stored, passed "
                            "or printed")

    def _held(self, node: ast.AST) -> Any:
        """Evaluate ``node`` where a name may hold what it gives: a value, or a function of
        the program's (an assignment, an argument, a return value, a default)."""
        value = self.EXPRESSIONS.get(node.__class__, PythonCode._unsupported_node)(self, node)
        cls = value.__class__
        if cls in _CALL_ONLY and cls is not UserFunction and cls is not BoundMethod and not (
                cls is _Function and value.kind in _NAMED_FUNCTIONS):
            raise self._not_a_value(value)
        return value

    def _unsupported_node(self, node: ast.AST) -> Any:
        raise self._refuse(f"{type(node).__name__} is not supported")

    def _check_function_arguments(self, func: Any, args: list[Any],
                                  kwargs: dict[str, Any]) -> None:
        """A program's function may be passed to its own functions and to callables that
        take one (``register_hook``); to anything else it is not a value."""
        for value in (*args, *kwargs.values()) if kwargs else args:
            if value.__class__ in (UserFunction, _Function, BoundMethod):
                if func.__class__ is _Function and func.short in TAKES_FUNCTIONS:
                    continue
                raise self._not_a_value(value)

    def _count_items(self, count: int) -> None:
        """``count`` more items the program made (a dict's, a set's), against the total."""
        budget = self.budget
        budget.python += count
        if budget.python > self.limits.python_items:
            raise self._refuse(f"the program made more than {self.limits.python_items:,} "
                               "characters and list items in all")

    def _key(self, key: Any) -> Any:
        problem = key_problem(key)
        if problem is not None:
            raise self._refuse(problem)
        return key

    def _nested(self, value: Any) -> int:
        """The items ``value`` holds in all, for the cap on one container."""
        if value.__class__ in _FLAT:
            return 1
        made = self.made
        if made is not None and made[0] is value and len(value) == made[2]:
            return made[1]  # what a comprehension just made (and has not grown): counted
        if isinstance(value, (list, tuple, range, str, dict, set, frozenset, *DICT_VIEWS)):
            return python_size(value, self.limits.container_items)
        return 1

    def _room(self, count: int, what: str) -> None:
        if count > self.limits.container_items:
            raise self._refuse(f"the {what} would hold more than "
                               f"{self.limits.container_items:,} items")

    # ---- iteration -----------------------------------------------------------------------
    def _iterate(self, value: Any, what: str = "a for loop") -> Iterator[Any]:
        """An iterator over ``value`` (checked now, drawn later), whose errors are the
        program's own."""
        if value.__class__ is _Generator:
            return self._guarded(value.draw)
        if isinstance(value, torch.Tensor):
            if value.dim():
                self.budget.count_objects(len(value))  # one view per row
        elif not isinstance(value, (range, list, tuple, str, torch.Size, _Lazy, *CONTAINERS,
                                    torch.nn.Sequential, torch.nn.ModuleList)):
            raise self._refuse(f"{what} cannot iterate over {_describe(value)}")
        return self._guarded(self._fail_safe(iter, value))

    def _guarded(self, iterator: Iterator[Any]) -> Iterator[Any]:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except (ProgramError, _Failure, _Return, _Break, _Continue):
                raise
            except Exception as exc:  # "dictionary changed size during iteration"…
                raise _Failure(exc) from None
            yield item

    def _materialize(self, value: Any, what: str) -> list[Any]:
        """All of ``value``'s items as a new list (the program's: counted), refused once
        past the cap on one list."""
        cap = self.limits.container_items
        if value.__class__ is not _Generator and not isinstance(value, torch.Tensor) \
                and isinstance(value, (list, tuple, range, str, *CONTAINERS)):
            if python_size(value, cap) > cap:
                raise self._refuse(f"{what} over more than {cap:,} items is not allowed")
        items: list[Any] = []
        count = self._count_items
        for item in self._iterate(value, what):
            if len(items) >= cap:
                raise self._refuse(f"{what} over more than {cap:,} items is not allowed")
            count(1)  # before it is kept
            items.append(item)
        return items

    def _depth(self, *values: Any) -> int:
        depth = max((v.depth + 1 for v in values if v.__class__ is _Generator), default=0)
        if depth > MAX_GENERATOR_DEPTH:
            raise self._refuse(f"generators drawing from generators more than "
                               f"{MAX_GENERATOR_DEPTH} deep are not supported; make one a "
                               "list first")
        return depth

    # ---- comprehensions ------------------------------------------------------------------
    def _comprehension(self, node: Any, produce: Callable[[], Any], what: str,
                       lazy: bool = False) -> tuple[Iterator[Any], int, Scope]:
        """The items of a comprehension, made one at a time in its own scope (its loop
        names do not leak), with the depth of the generators it draws from, and the
        scope. The first iterable is evaluated now, in the enclosing scope, as in Python.
        A ``lazy`` one (a generator expression) enters its scope only while it makes an
        item, never across a yield (the code that draws from it runs in its own); the
        others run in the scope the caller enters once."""
        self.budget.tick()  # making one counts, as its items do
        generators = node.generators
        source = self._value(generators[0].iter)
        depth = self._depth(source)
        items = self._iterate(source, what)
        names = node.__dict__.get("autoviz_names")
        if names is None:  # static: kept with the (cached, never changed) tree
            names = node.autoviz_names = frozenset().union(
                *(target_names(g.target) for g in generators))
        scope = ({}, names, self._chain())
        return (self._clauses(generators, 0, items, scope if lazy else None, produce, what,
                              node.lineno), depth, scope)

    def _clauses(self, generators: list[ast.comprehension], index: int, items: Iterator[Any],
                 scope: Scope | None, produce: Callable[[], Any], what: str, lineno: int
                 ) -> Iterator[Any]:
        clause = generators[index]
        last = index + 1 == len(generators)
        budget = self.budget
        tick = budget.tick
        lazy = scope is not None
        while True:
            if lazy:  # a generator runs on its own line, wherever it is drawn from
                drawn_on, budget.lineno = budget.lineno, lineno
            item = next(items, _MISSING)  # an error drawing keeps that line
            if item is _MISSING:
                if lazy:
                    budget.lineno = drawn_on
                return
            if lazy:
                self._enter_scope(*scope)
            try:
                tick()
                self._bind_target(clause.target, item)
                keep = True
                for test in clause.ifs:
                    if not self._truth(self._value(test)):
                        keep = False
                        break
                if keep:
                    if last:
                        value = produce()
                    else:
                        source = self._value(generators[index + 1].iter)
                        self._depth(source)
                        inner = self._iterate(source, what)
            finally:
                if lazy:
                    self._leave_scope()
            if lazy:
                budget.lineno = drawn_on  # only on success: an error keeps the line
            if not keep:
                continue
            if last:
                yield value
            else:
                yield from self._clauses(generators, index + 1, inner, scope, produce, what,
                                         lineno)

    def _bind_target(self, target: ast.AST, value: Any) -> None:
        """A comprehension's loop name: its own scope's, never a name of the graph's (it
        does not outlive the comprehension)."""
        if target.__class__ is ast.Name:
            self.frames[-1][target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = self._fail_safe(self._unpack, value, len(target.elts))
            for sub, item in zip(target.elts, items):
                self._bind_target(sub, item)
        else:
            self._assign(target, value)

    def _made(self, node: Any, produce: Callable[[], Any], what: str,
              add: Callable[[Any], None]) -> None:
        """Run an eager comprehension (list, set, dict) in its scope, ``add`` taking each
        item as it is made."""
        items, _, scope = self._comprehension(node, produce, what)
        self._enter_scope(*scope)
        try:
            for value in items:
                add(value)
        finally:
            self._leave_scope()

    def _listcomp_expr(self, node: ast.ListComp) -> list[Any]:
        cap = self.limits.container_items
        result: list[Any] = []
        total = 0

        def produce() -> Any:
            if len(result) >= cap:
                raise self._refuse(f"the list comprehension would make more than {cap:,} "
                                   "items")
            self._count_items(1)  # before the item is made
            return self._value(node.elt)

        def add(value: Any) -> None:
            nonlocal total
            total += self._nested(value)
            if total > cap:
                raise self._refuse(f"the list comprehension would hold more than {cap:,} "
                                   "items in all")
            result.append(value)

        self._made(node, produce, "a list comprehension", add)
        self.made = (result, total, len(result))  # its size, for a comprehension around it
        return result

    def _setcomp_expr(self, node: ast.SetComp) -> set[Any]:
        cap = self.limits.container_items
        result: set[Any] = set()

        def produce() -> Any:
            if len(result) >= cap:
                raise self._refuse(f"the set comprehension would make more than {cap:,} "
                                   "items")
            self._count_items(1)
            return self._key(self._value(node.elt))

        self._made(node, produce, "a set comprehension",
                   lambda value: self._fail_safe(result.add, value))
        return result

    def _dictcomp_expr(self, node: ast.DictComp) -> dict[Any, Any]:
        cap = self.limits.container_items
        result: dict[Any, Any] = {}
        total = 0

        def produce() -> Any:
            if len(result) >= cap:
                raise self._refuse(f"the dict comprehension would make more than {cap:,} "
                                   "items")
            self._count_items(1)
            key = self._key(self._value(node.key))  # the key first, as in Python
            return key, self._value(node.value)

        def add(pair: tuple[Any, Any]) -> None:
            nonlocal total
            total += self._nested(pair[1])
            if total > cap:
                raise self._refuse(f"the dict comprehension would hold more than {cap:,} "
                                   "items in all")
            self._fail_safe(operator.setitem, result, *pair)

        self._made(node, produce, "a dict comprehension", add)
        return result

    def _genexp_expr(self, node: ast.GeneratorExp) -> _Generator:
        items, depth, _ = self._comprehension(node, lambda: self._value(node.elt),
                                              "a generator expression", lazy=True)
        return _Generator(items, depth)

    # ---- displays ------------------------------------------------------------------------
    def _dict_expr(self, node: ast.Dict) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        total = 0
        for key_node, value_node in zip(node.keys, node.values):
            if key_node is None:  # {**other}
                other = self._value(value_node)
                if not isinstance(other, dict):
                    raise _Failure(TypeError(f"'{type(other).__name__}' object is not a "
                                             "mapping"))
                self._room(len(result) + len(other), "dict")
                total += self._nested(other)
                self._room(total, "dict")
                result.update(other)
                continue
            key = self._key(self._value(key_node))
            value = self._value(value_node)
            total += self._nested(value)
            self._room(total, "dict")
            self._fail_safe(operator.setitem, result, key, value)
        self._count_items(len(result))
        return result

    def _set_expr(self, node: ast.Set) -> set[Any]:
        result: set[Any] = set()
        for element in node.elts:
            values = self._starred(element) if isinstance(element, ast.Starred) else \
                [self._value(element)]
            for value in values:
                self._room(len(result) + 1, "set")
                self._fail_safe(result.add, self._key(value))
        self._count_items(len(result))
        return result

    # ---- functions -----------------------------------------------------------------------
    def _make_function(self, name: str, args: ast.arguments, body: list[ast.stmt],
                       expression: ast.expr | None = None) -> UserFunction:
        """A ``def`` or ``lambda``: its defaults evaluated now, in the enclosing scope, and
        the scopes it reads free names from kept (a closure)."""
        defaults = tuple(self._held(d) for d in args.defaults)
        kwdefaults = tuple((a.arg, self._held(d)) for a, d in zip(args.kwonlyargs,
                                                                   args.kw_defaults)
                           if d is not None)
        params = tuple(a.arg for a in args.args)
        kwonly = tuple(a.arg for a in args.kwonlyargs)
        extra = tuple(a.arg for a in (args.vararg, args.kwarg) if a is not None)
        local = args.__dict__.get("autoviz_locals")
        if local is None:  # static: kept with the (cached, never changed) tree
            local = args.autoviz_locals = frozenset(assigned_names(body))
        prefix = f"{self.qualnames[-1]}.<locals>." if self.qualnames else ""
        return UserFunction(
            name, params, tuple(body), frozenset(local) | frozenset(params) |
            frozenset(kwonly) | frozenset(extra), defaults=defaults, kwonly=kwonly,
            kwdefaults=kwdefaults, vararg=args.vararg.arg if args.vararg else None,
            kwarg=args.kwarg.arg if args.kwarg else None, enclosing=self._chain(),
            expression=expression, qualname=prefix + name)

    def _lambda_expr(self, node: ast.Lambda) -> UserFunction:
        return self._make_function("<lambda>", node.args, [], node.body)

    def _call_user(self, func: UserFunction, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if self.calls >= self.limits.call_depth:
            raise self._refuse(f"functions call each other more than {self.limits.call_depth}"
                               " deep")
        frame = bind_arguments(func, list(args), kwargs)
        lineno = self.budget.lineno
        self.calls += 1
        self.qualnames.append(qualified(func))
        self.running.append(func)
        self._enter_scope(frame, func.local_names, func.enclosing)
        result = None
        try:
            if func.expression is not None:  # a lambda: its one expression is its return
                self.budget.lineno = func.expression.lineno
                self.budget.tick()
                result = self._held(func.expression)
            else:
                with self._decorated(func):
                    try:
                        self._block(func.body)
                    except _Return as ret:
                        result = ret.value
        finally:
            self._leave_scope()
            self.qualnames.pop()
            self.running.pop()
            self.calls -= 1
        self.budget.lineno = lineno  # only on success: an error keeps the line inside f
        return result

    def _decorated(self, func: UserFunction) -> Any:
        """The grad mode a ``@torch.no_grad()`` function runs in (a fresh manager per
        call, as torch's decorator enters one per call); else nothing."""
        if func.decorator is None:
            return contextlib.nullcontext()
        manager = self._eval(func.decorator)
        if not isinstance(manager, _GradModeCall):
            raise self._refuse("decorators here are @torch.no_grad(), @torch.enable_grad() "
                               "or @torch.inference_mode() only")
        return manager.manager

    def _invoke(self, func: Any, args: list[Any], kwargs: dict[str, Any],
                node: ast.AST | None) -> Any:
        """Call a callable the program passed as a value (a key=, map's function)."""
        if func.__class__ is UserFunction:
            return self._call_user(func, args, kwargs)
        if func.__class__ is _Function:
            if func.kind == "python":
                return self._python_call(func, args, kwargs, node)
            return self._call_function(func, tuple(args), kwargs, node)
        if func.__class__ is BoundMethod:  # a method of a program's own class
            return self._call_user(func.function, [func.owner, *args], kwargs)
        if isinstance(func, torch.nn.Module):  # map(model, batches)
            return self._call_module(func, tuple(args), kwargs, node)
        raise _Failure(TypeError(f"'{type(func).__name__}' object is not callable"))

    def _as_callable(self, func: Any) -> Callable[..., Any]:
        """A plain Python callable that runs the program's function ``func`` (or another
        callable it holds) through the interpreter, under the same caps, for a callable of
        the allowlist that takes one (``tensor.register_hook(lambda g: g * 2)``). What it
        raises stays the program's error, or autoviz's refusal, as anywhere else."""

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._invoke(func, list(args), kwargs, None)

        return call

    def _callable_value(self, node: ast.AST) -> Any:
        """An argument that is called (map's function, a key=): a function of the
        program's, or a callable of the allowlist (``map(str, xs)``, ``key=abs``)."""
        value = self._eval(node)
        if value.__class__ in (UserFunction, _Function, BoundMethod) or value is None:
            return value
        return self._value_of(value)

    def _value_of(self, value: Any) -> Any:
        if value.__class__ in _CALL_ONLY:
            raise self._not_a_value(value)
        return value

    # ---- statements ------------------------------------------------------------------------
    def _while(self, node: ast.While) -> None:
        budget = self.budget
        try:
            while True:
                budget.lineno = node.lineno
                if self.where is not None:
                    self.where.value = node.lineno
                if not self._truth(self._value(node.test)):
                    self._block(node.orelse)
                    return
                try:
                    self._block(node.body)
                except _Break:
                    return
                except _Continue:
                    pass
                budget.tick()  # every pass counts, even one that runs no statement
        except ProgramError as err:
            if budget.statements > self.limits.statements_executed \
                    and not getattr(err, "loop", False):
                cap = ProgramError(f"the while loop on line {node.lineno} ran more than "
                                   f"{self.limits.statements_executed:,} statements (every "
                                   "pass counts): it may never end", node.lineno)
                cap.loop = True
                raise cap from None
            raise

    def _try(self, node: ast.Try) -> None:
        try:
            try:
                self._block(node.body)
            except _Failure as failure:
                reason = uncatchable(failure.exc)
                if reason is not None:
                    raise self._refuse(reason) from None
                lineno = self.budget.lineno  # where it was raised (its traceback's line)
                handler = self._handler(node.handlers, failure)
                if handler is None:
                    self.budget.lineno = lineno
                    raise
                self._handle(handler, failure, lineno)
            else:
                self._block(node.orelse)
        except (_Failure, _Return, _Break, _Continue):
            # the program's own control flow: finally runs. A refusal (ProgramError) ends
            # the program here, and no code of the program runs after it.
            lineno = self.budget.lineno
            self._block(node.finalbody)
            self.budget.lineno = lineno  # the error's own line, as its traceback's
            raise
        self._block(node.finalbody)

    def _handler(self, handlers: list[ast.ExceptHandler], failure: _Failure
                 ) -> ast.ExceptHandler | None:
        for handler in handlers:
            self.budget.lineno = handler.lineno
            if handler.type is None:
                return handler
            classes = self._exception_classes(handler.type)
            if isinstance(failure.exc, classes):
                return handler
        return None

    def _exception_classes(self, node: ast.expr) -> tuple[type, ...]:
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        classes = []
        for part in parts:
            value = self._eval(part)
            if value.__class__ is _Function and value.kind == "python" \
                    and value.name in EXCEPTIONS:
                classes.append(value.target)
            else:
                raise _Failure(TypeError("catching classes that do not inherit from "
                                         "BaseException is not allowed"))
        return tuple(classes)

    def _handle(self, handler: ast.ExceptHandler, failure: _Failure, lineno: int) -> None:
        self.handling.append((failure, lineno))
        try:
            if handler.name:
                caught = sanitized(failure.exc)
                caught.autoviz_line = lineno  # raise e: Python's traceback keeps this line
                self._bind(handler.name, caught)
            self._block(handler.body)
        finally:
            self.handling.pop()
            if handler.name:  # Python deletes the name when the handler ends
                self._scope().pop(handler.name, None)

    def _raise(self, node: ast.Raise) -> None:
        if node.exc is None:
            if not self.handling:
                raise _Failure(RuntimeError("No active exception to reraise"))
            failure, lineno = self.handling[-1]
            self.budget.lineno = lineno
            raise failure
        exc = self._exception_value(self._eval(node.exc))
        if node.cause is not None:
            cause = self._eval(node.cause)
            if cause is not None:
                self._exception_value(cause)  # checked as Python checks it; not kept
        # raised before (raise e of a caught one): Python's traceback ends where it began
        self.budget.lineno = getattr(exc, "autoviz_line", None) or self.budget.lineno
        exc.autoviz_line = self.budget.lineno
        raise _Failure(exc)

    def _exception_value(self, value: Any) -> BaseException:
        if value.__class__ is _Function and value.kind == "python" and value.name in EXCEPTIONS:
            return value.target()
        if isinstance(value, BaseException):
            return value
        raise _Failure(TypeError("exceptions must derive from BaseException"))

    def _assert(self, node: ast.Assert) -> None:
        if self._truth(self._value(node.test)):
            return
        if node.msg is None:
            raise _Failure(AssertionError())
        message = self._value(node.msg)
        raise _Failure(AssertionError(message if plain(message)
                                      else self._as_text(str, message)))

    def _delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._delete_target(target)

    def _delete_target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._delete_target(element)
            return
        if isinstance(target, ast.Name):
            name = target.id
            scope = self._scope()
            if name in scope:
                del scope[name]
                if not self.frames:
                    self.program.catalog.current.pop(name, None)
                return
            if not self.frames and name in self.modules:
                del self.modules[name]
                return
            if self.frames and name in self.local_names[-1]:
                raise _Failure(UnboundLocalError(
                    f"cannot access local variable '{name}' where it is not associated with "
                    "a value"))
            raise _Failure(NameError(f"name '{name}' is not defined"))
        obj = self._value(target.value)
        index = self._index(target.slice)
        if isinstance(obj, dict):
            self._fail_safe(operator.delitem, obj, self._key(index))
        elif isinstance(obj, list):
            self._fail_safe(operator.delitem, obj, index)
        else:
            raise _Failure(TypeError(f"'{type(obj).__name__}' object doesn't support item "
                                     "deletion"))

    def _store_key(self, obj: dict[Any, Any], key: Any, value: Any) -> None:
        """``d[key] = value``."""
        self._key(key)
        if key not in obj:  # the value was sized when it was made
            self._room(len(obj) + 1, "dict")
            self._count_items(1)
        self._fail_safe(operator.setitem, obj, key, value)

    # ---- expressions ----------------------------------------------------------------------
    def _contains(self, item: Any, container: Any, node: ast.AST) -> bool:
        """``item in container``, each comparison a costed one where tensors meet."""
        if isinstance(container, torch.Tensor):
            return self._truth(self._op(operator.contains, (container, item), {}, al.BROADCAST,
                                        node, "in"))
        if isinstance(container, (dict, set, frozenset, type({}.keys()), type({}.items()))):
            if not isinstance(container, type({}.items())):
                self._key(item)
            return self._fail_safe(operator.contains, container, item)
        if isinstance(container, str):
            return self._fail_safe(operator.contains, container, item)
        if isinstance(container, (list, tuple, range, torch.Size, type({}.values()))) \
                or container.__class__ is _Generator:
            if isinstance(container, range) and not isinstance(item, torch.Tensor):
                return self._fail_safe(operator.contains, container, item)
            for element in self._iterate(container, "'in'"):
                if self._equal(element, item, node):
                    return True
            return False
        raise _Failure(TypeError(f"argument of type '{type(container).__name__}' is not "
                                 "iterable"))

    def _equal(self, a: Any, b: Any, node: ast.AST | None) -> bool:
        """``a == b`` as a container compares its items (identity first), costed where it
        compares tensors."""
        if a is b:
            return True
        return self._truth(self._op(operator.eq, (a, b), {}, al.BROADCAST, node, "=="))

    def _python_attribute(self, obj: Any, attr: str) -> Any:
        """``obj.attr`` for the Python values a program holds (their allowlisted methods),
        or _NO_ATTRIBUTE when ``obj`` is none of them."""
        cls = obj.__class__
        if cls is OrderedDict:  # a state_dict(): a dict's methods
            cls = dict
        table = {dict: DICT_METHODS, set: SET_METHODS, list: LIST_METHODS,
                 tuple: TUPLE_METHODS, str: STR_METHODS}.get(cls)
        if table is not None:
            if attr in table:
                return _python(f"{cls.__name__}.{attr}", obj)
            if not hasattr(obj, attr):
                raise _Failure(AttributeError(f"'{cls.__name__}' object has no attribute "
                                              f"'{attr}'"))
            raise self._refuse(f"the {cls.__name__} method .{attr} is not in autoviz's "
                               "allowlist")
        if isinstance(obj, BaseException):
            if attr == "args":
                return obj.args
            raise self._refuse(f"of an exception, only .args is available here (not .{attr}); "
                               "str(e) is its message")
        if cls is UserFunction:
            raise self._refuse(f"attributes of {_describe(obj)} are not available")
        if cls is _Generator or isinstance(obj, DICT_VIEWS):
            raise self._refuse(f"attributes of {_describe(obj)} are not available")
        return _NO_ATTRIBUTE

    def _types(self, node: ast.expr) -> type | tuple[Any, ...]:
        """isinstance's second argument: a type or a tuple of types (nested tuples too)."""
        if isinstance(node, ast.Tuple):
            return tuple(self._types(e) for e in node.elts)
        value = self._eval(node)
        if value.__class__ is TypeOf:
            return value.cls
        if value.__class__ is _Function:
            found = _TYPE_NAMES.get(value.name)
            if found is not None:
                return found
            if isinstance(value.target, type):
                return value.target
        raise _Failure(TypeError("isinstance() arg 2 must be a type, a tuple of types, or a "
                                 "union"))

    # ---- calls of Python's builtins and methods ---------------------------------------------
    def _call_python(self, func: _Function, node: ast.Call) -> Any:
        """A builtin or method of this module: its arguments evaluated here, where the
        ones that may be callables (key=, map's first) or types (isinstance's) are known."""
        name = func.name
        if name == "isinstance":
            if len(node.args) != 2 or node.keywords:
                raise _Failure(TypeError(f"isinstance expected 2 arguments, got "
                                         f"{len(node.args) + len(node.keywords)}"))
            obj = self._value(node.args[0])
            return self._fail_safe(isinstance, obj, self._types(node.args[1]))
        args: list[Any] = []
        for index, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                args.extend(self._starred(arg))
            elif index == 0 and name in ("map", "filter"):
                args.append(self._callable_value(arg))
            else:
                args.append(self._value(arg))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            kwargs[kw.arg] = self._callable_value(kw.value) if kw.arg == "key" \
                else self._value(kw.value)
        return self._python_call(func, args, kwargs, node)

    def _python_call(self, func: _Function, args: list[Any], kwargs: dict[str, Any],
                     node: ast.AST | None) -> Any:
        name = func.name
        if name in EXCEPTIONS:
            return self._make_exception(func.target, args, kwargs)
        if name == "type":  # type(x): its class, to name or compare
            if len(args) != 1 or kwargs:
                raise self._refuse("type() takes one argument here (type(x).__name__)")
            return TypeOf(type(args[0]))
        if "." in name:
            owner, _, method = name.partition(".")
            if owner == "math":
                return self._math_call(method, func.target, args, kwargs, node)
            return getattr(self, f"_{owner}_method")(func.target, method, args, kwargs, node)
        if name == "isinstance":  # given as a key=/map function: plain values only
            return self._fail_safe(isinstance, *args, **kwargs)
        return getattr(self, f"_builtin_{name}")(args, kwargs, node)

    def _make_exception(self, cls: type, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if kwargs:
            raise _Failure(TypeError(f"{cls.__name__}() takes no keyword arguments"))
        if not all(plain(a) for a in args):
            raise self._refuse(f"{cls.__name__}(...) takes text or numbers here (write the "
                               "message as an f-string)")
        return cls(*args)

    # builtins: each takes (args, kwargs, node); the calls module's own take the plain cases
    def _old_builtin(self, name: str, args: list[Any], kwargs: dict[str, Any],
                     node: ast.AST | None) -> Any:
        return self._call_builtin(name, tuple(args), kwargs, node)

    def _builtin_sorted(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if len(args) != 1:
            raise _Failure(TypeError(f"sorted expected 1 argument, got {len(args)}"))
        for key in kwargs:
            if key not in ("key", "reverse"):
                raise _Failure(TypeError(f"'{key}' is an invalid keyword argument for sort()"))
        items = self._materialize(args[0], "sorted()")
        self._sort(items, kwargs.get("key"), kwargs.get("reverse", False), node)
        return items

    def _sort(self, items: list[Any], key: Any, reverse: Any, node: Any) -> None:
        """Sort ``items`` in place as list.sort does (stable), the keys computed one call
        at a time and their comparisons costed where they are tensors."""
        keys = items if key is None else [self._invoke(key, [item], {}, node)
                                          for item in items]
        self._check_comparisons(keys)
        order = self._fail_safe(sorted, range(len(items)), key=keys.__getitem__,
                                reverse=self._truth(reverse))
        items[:] = [items[i] for i in order]

    def _check_comparisons(self, keys: list[Any]) -> None:
        """Sorting tensors compares them about n·log2(n) times, each a torch op the
        statement cap counts; a tensor of more than one element cannot be compared."""
        tensors = [k for k in keys if isinstance(k, torch.Tensor)]
        if not tensors or len(keys) < 2:
            return
        if any(t.numel() != 1 for t in tensors):
            raise _Failure(RuntimeError("Boolean value of Tensor with more than one value is "
                                        "ambiguous"))
        for _ in range(len(keys) * max(1, math.ceil(math.log2(len(keys))))):
            self.budget.tick()

    def _extremum(self, name: str, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        key = kwargs.get("key")
        default = kwargs.get("default", _MISSING)
        for word in kwargs:
            if word not in ("key", "default"):
                raise _Failure(TypeError(f"'{word}' is an invalid keyword argument for "
                                         f"{name}()"))
        if not args:
            raise _Failure(TypeError(f"{name} expected at least 1 argument, got 0"))
        if len(args) > 1 and default is not _MISSING:
            raise _Failure(TypeError(f"Cannot specify a default for {name}() with multiple "
                                     "positional arguments"))
        lazy = any(a.__class__ is _Generator or isinstance(a, CONTAINERS) for a in args)
        if key is None and not lazy:
            return self._old_builtin(name, args, kwargs, node)
        items = self._materialize(args[0], f"{name}()") if len(args) == 1 else list(args)
        if not items:
            if default is not _MISSING:
                return default
            raise _Failure(ValueError(f"{name}() arg is an empty sequence"))
        if key is None:
            return self._old_builtin(name, [items], {}, node)
        keys = [self._invoke(key, [item], {}, node) for item in items]
        self._check_comparisons(keys)
        pick = builtins.min if name == "min" else builtins.max
        return items[self._fail_safe(pick, range(len(items)), key=keys.__getitem__)]

    def _builtin_min(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        return self._extremum("min", args, kwargs, node)

    def _builtin_max(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        return self._extremum("max", args, kwargs, node)

    def _builtin_sum(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if args and (args[0].__class__ is _Generator or isinstance(args[0], CONTAINERS)):
            start = args[1] if len(args) > 1 else kwargs.get("start", 0)
            if len(args) > 2 or set(kwargs) - {"start"}:
                return self._old_builtin("sum", args, kwargs, node)  # Python's TypeError
            if isinstance(start, str):
                raise _Failure(TypeError("sum() can't sum strings [use ''.join(seq) "
                                         "instead]"))
            # one addition at a time, as Calls._sum (a generator ticks for each item)
            ticks = args[0].__class__ is not _Generator
            total = start
            for item in self._iterate(args[0], "sum()"):
                if ticks:
                    self.budget.tick()
                total = self._binop(ast.Add, total, item, node)
            return total
        return self._old_builtin("sum", args, kwargs, node)

    def _truth_of_all(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> bool:
        if kwargs:
            raise _Failure(TypeError(f"{name}() takes no keyword arguments"))
        if len(args) != 1:
            raise _Failure(TypeError(f"{name}() takes exactly one argument ({len(args)} "
                                     "given)"))
        wanted = name == "any"
        for item in self._iterate(args[0], f"{name}()"):
            if self._truth(item) == wanted:
                return wanted
        return not wanted

    def _builtin_any(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> bool:
        return self._truth_of_all("any", args, kwargs)

    def _builtin_all(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> bool:
        return self._truth_of_all("all", args, kwargs)

    def _builtin_list(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if len(args) == 1 and not kwargs and args[0].__class__ is _Generator:
            return self._materialize(args[0], "list()")
        return self._old_builtin("list", args, kwargs, node)

    def _builtin_tuple(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if len(args) == 1 and not kwargs and args[0].__class__ is _Generator:
            return tuple(self._materialize(args[0], "tuple()"))
        return self._old_builtin("tuple", args, kwargs, node)

    def _builtin_set(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if kwargs:
            raise _Failure(TypeError("set() takes no keyword arguments"))
        if len(args) > 1:
            raise _Failure(TypeError(f"set expected at most 1 argument, got {len(args)}"))
        result: set[Any] = set()
        for item in (self._materialize(args[0], "set()") if args else ()):
            self._fail_safe(result.add, self._key(item))
        return result

    def _pairs(self, source: Any, what: str) -> list[Any]:
        """The (key, value) pairs of a dict, or of an iterable of pairs, keys checked."""
        if isinstance(source, dict):
            self._room(len(source), what)
            return list(source.items())
        pairs = self._materialize(source, what)
        for pair in pairs:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                self._key(pair[0])
        return pairs

    def _builtin_dict(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if len(args) > 1:
            raise _Failure(TypeError(f"dict expected at most 1 argument, got {len(args)}"))
        pairs = self._pairs(args[0], "dict()") if args else []
        result = self._fail_safe(dict, pairs, **kwargs)
        self._room(sum(self._nested(v) for v in result.values()), "dict")
        self._count_items(len(result))
        return result

    def _builtin_enumerate(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if args and args[0].__class__ is _Generator:
            start = args[1] if len(args) > 1 else kwargs.get("start", 0)
            if not isinstance(start, int):
                raise _Failure(TypeError(f"'{type(start).__name__}' object cannot be "
                                         "interpreted as an integer"))
            return _Generator(enumerate(self._iterate(args[0]), start),
                              self._depth(args[0]), "enumerate")
        return self._old_builtin("enumerate", args, kwargs, node)

    def _builtin_zip(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if any(a.__class__ is _Generator for a in args):
            if kwargs:
                raise self._refuse("zip(..., strict=...) of a generator is not supported")
            depth = self._depth(*args)
            iterators = [self._iterate(a, "zip()") for a in args]
            return _Generator(self._zip(iterators), depth, "zip")
        return self._old_builtin("zip", args, kwargs, node)

    def _zip(self, iterators: list[Iterator[Any]]) -> Iterator[Any]:
        while True:
            items = []
            for iterator in iterators:
                item = next(iterator, _MISSING)
                if item is _MISSING:
                    return
                items.append(item)
            yield tuple(items)

    def _builtin_map(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if kwargs:
            raise _Failure(TypeError("map() takes no keyword arguments"))
        if len(args) < 2:
            raise _Failure(TypeError("map() must have at least two arguments."))
        func, sources = args[0], args[1:]
        depth = self._depth(*sources)
        iterators = [self._iterate(s, "map()") for s in sources]
        return _Generator(self._map(func, iterators, node), depth, "map")

    def _map(self, func: Any, iterators: list[Iterator[Any]], node: Any) -> Iterator[Any]:
        for items in self._zip(iterators):
            self.budget.tick()
            yield self._value_of(self._invoke(func, list(items), {}, node))

    def _builtin_filter(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if kwargs:
            raise _Failure(TypeError("filter() takes no keyword arguments"))
        if len(args) != 2:
            raise _Failure(TypeError(f"filter expected 2 arguments, got {len(args)}"))
        return _Generator(self._filter(args[0], self._iterate(args[1], "filter()"), node),
                          self._depth(args[1]), "filter")

    def _filter(self, func: Any, items: Iterator[Any], node: Any) -> Iterator[Any]:
        for item in items:
            self.budget.tick()
            test = item if func is None else self._invoke(func, [item], {}, node)
            if self._truth(test):
                yield item

    def _builtin_next(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        """``next(it)`` / ``next(it, default)`` of a generator (``model.parameters()``) or an
        enumerate/zip object: one item drawn by the interpreter."""
        if kwargs:
            raise _Failure(TypeError("next() takes no keyword arguments"))
        if not 1 <= len(args) <= 2:
            raise _Failure(TypeError(f"next expected at {'least 1' if not args else 'most 2'}"
                                     f" argument{'s' if args else ''}, got {len(args)}"))
        source = args[0]
        if source.__class__ is _Generator:
            item = next(self._iterate(source, "next()"), _MISSING)
        elif isinstance(source, _Lazy):
            item = next(self._guarded(iter(source)), _MISSING)
        else:
            raise _Failure(TypeError(f"'{type(source).__name__}' object is not an iterator"))
        if item is _MISSING:
            if len(args) == 2:
                return args[1]
            raise _Failure(StopIteration())
        return item

    def _builtin_len(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if len(args) == 1 and args[0].__class__ is _Generator:
            raise _Failure(TypeError(f"object of type '{_generator_name(args[0])}' has no "
                                     "len()"))
        return self._old_builtin("len", args, kwargs, node)

    def _builtin_reversed(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if len(args) == 1 and args[0].__class__ is _Generator:
            raise _Failure(TypeError(f"'{_generator_name(args[0])}' object is not "
                                     "reversible"))
        return self._old_builtin("reversed", args, kwargs, node)

    def _builtin_divmod(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        if kwargs or len(args) != 2:
            raise _Failure(TypeError(f"divmod expected 2 arguments, got {len(args)}"))
        if any(isinstance(a, torch.Tensor) for a in args):
            names = ", ".join(f"'{type(a).__name__}'" for a in args)
            raise _Failure(TypeError(f"unsupported operand type(s) for divmod(): "
                                     f"{names.replace(', ', ' and ')}"))
        return self._check_python(self._fail_safe(divmod, *args))

    def _builtin_pow(self, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        named = [kwargs.pop(k) for k in ("base", "exp", "mod") if k in kwargs]
        if kwargs:
            raise _Failure(TypeError(f"pow() got an unexpected keyword argument "
                                     f"'{next(iter(kwargs))}'"))
        values = [*args, *named]
        if len(values) == 2 or (len(values) == 3 and values[2] is None):
            return self._binop(ast.Pow, values[0], values[1], node)
        if len(values) == 3 and all(isinstance(v, int) for v in values):
            # modular: as long as the modulus (at most int_bits) however big the exponent
            return self._check_python(self._fail_safe(pow, *values))
        if len(values) == 3:
            raise _Failure(TypeError("pow() 3rd argument not allowed unless all arguments "
                                     "are integers"))
        raise _Failure(TypeError(f"pow expected 2 or 3 arguments, got {len(values)}"))

    # ---- methods of dicts, sets, lists, tuples, strings -----------------------------------
    def _dict_method(self, obj: dict[Any, Any], name: str, args: list[Any],
                     kwargs: dict[str, Any], node: Any) -> Any:
        if name in ("get", "pop", "setdefault") and args:
            self._key(args[0])
        if name == "setdefault" and args and args[0] not in obj:
            self._room(len(obj) + 1, "dict")
            self._room(self._nested(args[1] if len(args) > 1 else None), "dict")
            self._count_items(1)
        if name == "update":
            if len(args) > 1:
                raise _Failure(TypeError(f"update expected at most 1 argument, got "
                                         f"{len(args)}"))
            pairs = self._pairs(args[0], "dict") if args else []
            for key in kwargs:
                self._key(key)
            self._room(len(obj) + len(pairs) + len(kwargs), "dict")
            self._count_items(len(pairs) + len(kwargs))
            return self._fail_safe(obj.update, pairs, **kwargs)
        if name == "copy":
            self._count_items(len(obj))
        return self._fail_safe(getattr(obj, name), *args, **kwargs)

    def _set_method(self, obj: set[Any], name: str, args: list[Any],
                    kwargs: dict[str, Any], node: Any) -> Any:
        if name in ("add", "discard", "remove"):
            for arg in args:
                self._key(arg)
            if name == "add":
                self._room(len(obj) + 1, "set")
                self._count_items(1)
            return self._fail_safe(getattr(obj, name), *args, **kwargs)
        if name in ("union", "intersection", "difference", "symmetric_difference", "update",
                    "issubset", "issuperset", "isdisjoint"):
            others = []
            for arg in args:
                items = self._materialize(arg, f"set.{name}()")
                for item in items:
                    self._key(item)
                others.append(items)
            self._room(len(obj) + sum(len(o) for o in others), "set")
            result = self._fail_safe(getattr(obj, name), *others, **kwargs)
            if isinstance(result, set):
                self._count_items(len(result))
            return result
        if name == "copy":
            self._count_items(len(obj))
        return self._fail_safe(getattr(obj, name), *args, **kwargs)

    def _list_method(self, obj: list[Any], name: str, args: list[Any],
                     kwargs: dict[str, Any], node: Any) -> Any:
        cap = self.limits.container_items
        if name == "extend":
            if len(args) != 1 or kwargs:
                raise _Failure(TypeError(f"list.extend() takes exactly one argument "
                                         f"({len(args)} given)"))
            items = self._materialize(args[0], "list.extend()")
            if len(obj) + len(items) > cap or python_size(obj, cap) + python_size(items, cap) \
                    > cap:
                raise self._refuse("the list is too long")
            obj.extend(items)
            return None
        if name == "insert":
            if len(obj) >= cap:
                raise self._refuse("the list is too long")
            if len(args) == 2:
                self._room(python_size(obj, cap) + self._nested(args[1]), "list")
            self._count_items(1)
        if name in ("remove", "index", "count") and args and not kwargs:
            return self._list_search(obj, name, args, node)
        if name == "sort":
            for key in kwargs:
                if key not in ("key", "reverse"):
                    raise _Failure(TypeError(f"'{key}' is an invalid keyword argument for "
                                             "sort()"))
            if args:
                raise _Failure(TypeError("sort() takes no positional arguments"))
            self._sort(obj, kwargs.get("key"), kwargs.get("reverse", False), node)
            return None
        if name == "copy":
            self._count_items(len(obj))
        return self._fail_safe(getattr(obj, name), *args, **kwargs)

    def _list_search(self, obj: list[Any] | tuple[Any, ...], name: str, args: list[Any],
                     node: Any) -> Any:
        """list.index/.count/.remove, comparing as Python does (identity, then ==), a
        comparison of tensors costed."""
        if len(args) > (3 if name == "index" else 1):
            return self._fail_safe(getattr(obj, name), *args)
        wanted = args[0]
        if not any(isinstance(v, torch.Tensor) for v in (wanted, *obj)):
            return self._fail_safe(getattr(obj, name), *args)
        bounds = slice(*args[1:3]) if name == "index" else slice(None)
        positions = range(len(obj))[bounds]
        count = 0
        for i in positions:
            if self._equal(obj[i], wanted, node):
                if name == "index":
                    return i
                if name == "remove":
                    del obj[i]
                    return None
                count += 1
        if name == "count":
            return count
        if name == "index":
            raise _Failure(ValueError(f"{type(wanted).__name__} is not in "
                                      f"{type(obj).__name__}"))
        raise _Failure(ValueError("list.remove(x): x not in list"))

    def _tuple_method(self, obj: tuple[Any, ...], name: str, args: list[Any],
                      kwargs: dict[str, Any], node: Any) -> Any:
        if kwargs:
            raise _Failure(TypeError(f"tuple.{name}() takes no keyword arguments"))
        return self._list_search(obj, name, args, node)

    def _str_method(self, obj: str, name: str, args: list[Any], kwargs: dict[str, Any],
                    node: Any) -> Any:
        room = max(self.limits.container_items, self.limits.output_chars)
        if name == "format":
            return self._format(obj, args, kwargs)
        if name == "join":
            if len(args) != 1 or kwargs:
                raise _Failure(TypeError(f"str.join() takes exactly one argument "
                                         f"({len(args)} given)"))
            items = self._materialize(args[0], "str.join()")
            size = sum(len(i) for i in items if isinstance(i, str))
            if size + len(obj) * max(0, len(items) - 1) > room:
                raise self._refuse(f"the joined text would be more than {room:,} characters "
                                   "long")
            return self._check_python(self._fail_safe(obj.join, items))
        if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
            old, new = args[0], args[1]
            times = obj.count(old) if old else len(obj) + 1
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                times = min(times, args[2])
            if len(obj) + times * (len(new) - len(old)) > room:
                raise self._refuse(f"the text would be more than {room:,} characters long")
        if name in ("ljust", "rjust", "center", "zfill") and args:
            width = args[0]
            if isinstance(width, int) and width > room:
                raise self._refuse(f"a width of {width:,} characters is too wide")
        return self._check_python(self._fail_safe(getattr(obj, name), *args, **kwargs))

    # ---- math ----------------------------------------------------------------------------
    def _math_member(self, attr: str) -> Any:
        """``math.<attr>``: a constant (a plain float), or one of its functions."""
        if attr in MATH_VALUES:
            return MATH_VALUES[attr]
        if attr in MATH_FUNCTIONS or attr in MATH_CAPPED:
            return _python(f"math.{attr}", getattr(math, attr))
        raise self._refuse(f"math.{attr} is not in autoviz's allowlist of math functions")

    def _math_call(self, name: str, fn: Callable[..., Any], args: list[Any],
                   kwargs: dict[str, Any], node: Any) -> Any:
        if any(isinstance(v, torch.Tensor) for v in (*args, *kwargs.values())):
            raise self._refuse(f"math.{name} takes Python numbers; for a tensor use "
                               f"torch.{name} (or t.item() for its one number)")
        if name in ("factorial", "comb", "perm"):
            bits = integer_bits(name, tuple(args))
            if bits is not None and bits > self.limits.int_bits:
                raise self._refuse(f"math.{name}({', '.join(map(str, args))}) is too big (more "
                                   f"than {self.limits.int_bits} bits)")
        elif name == "prod":
            if len(args) != 1:
                return self._fail_safe(fn, *args, **kwargs)  # Python's own TypeError
            total = kwargs.get("start", 1)
            for item in self._iterate(args[0], "math.prod()"):
                self.budget.tick()
                total = self._binop(ast.Mult, total, item, node)
            return total
        elif name == "fsum":
            if len(args) == 1:
                return self._fail_safe(fn, self._materialize(args[0], "math.fsum()"))
        elif name == "dist":
            args = [self._materialize(a, "math.dist()") if a.__class__ is _Generator else a
                    for a in args]
            for arg in args:
                self._room(self._nested(arg), "point")
        return self._check_python(self._fail_safe(fn, *args, **kwargs))

    # ---- text ----------------------------------------------------------------------------
    def _format(self, template: str, args: list[Any], kwargs: dict[str, Any]) -> str:
        """``template.format(*args, **kwargs)`` with Python's rules for its fields, each a
        position or a name only (never ``{0.attr}`` or ``{0[key]}``: they reach into
        objects), its text costed as an f-string's."""
        state = {"auto": 0, "mode": None}
        text = self._format_fields(template, args, kwargs, state, 2)
        return self._check_python(text)

    def _format_fields(self, template: str, args: list[Any], kwargs: dict[str, Any],
                       state: dict[str, Any], depth: int) -> str:
        if depth < 0:
            raise _Failure(ValueError("Max string recursion exceeded"))
        pieces: list[str] = []
        length = 0
        for literal, field, spec, conversion in self._fail_safe(list,
                                                                _FORMATTER.parse(template)):
            pieces.append(literal)
            length += len(literal)
            if field is not None:
                value = self._format_argument(field, args, kwargs, state)
                spec = self._format_fields(spec, args, kwargs, state, depth - 1) if spec else ""
                if any(int(n) > MAX_WIDTH for n in _FORMAT_NUMBER.findall(spec)):
                    raise self._refuse("format widths and precisions above 1000 are not "
                                       "allowed")
                if conversion:
                    convert = {"r": repr, "s": str, "a": ascii}.get(conversion)
                    if convert is None:
                        raise _Failure(ValueError(f"Unknown conversion specifier "
                                                  f"{conversion}"))
                    value = self._as_text(convert, value)
                text = self._as_text(format, value, spec)
                pieces.append(text)
                length += len(text)
            if length > self.limits.output_chars:
                raise self._refuse(f"the formatted text would be more than "
                                   f"{self.limits.output_chars:,} characters long")
        return "".join(pieces)

    def _format_argument(self, field: str, args: list[Any], kwargs: dict[str, Any],
                         state: dict[str, Any]) -> Any:
        if not field or field.isdigit():
            mode = "auto" if not field else "manual"
            if state["mode"] is not None and state["mode"] != mode:
                raise _Failure(ValueError(
                    "cannot switch from automatic field numbering to manual field "
                    "specification" if mode == "manual" else "cannot switch from manual "
                    "field specification to automatic field numbering"))
            state["mode"] = mode
            if field:
                index = int(field)
            else:
                index = state["auto"]
                state["auto"] += 1
            if index >= len(args):
                raise _Failure(IndexError(f"Replacement index {index} out of range for "
                                          "positional args tuple"))
            return args[index]
        if field.isidentifier():
            if field not in kwargs:
                raise _Failure(KeyError(field))
            return kwargs[field]
        raise self._refuse("str.format fields here are positions or names ({}, {0}, {name}), "
                           "not attribute or item lookups")

    def _percent(self, template: str, values: Any) -> str:
        """``template % values`` (printf-style), refused first if a field is wider than an
        f-string's may be or the values' text could be too long."""
        for match in PERCENT.finditer(template):
            for part in ("width", "precision"):
                number = match.group(part)
                if number == "*":
                    raise self._refuse("'*' widths in %-formatting are not supported")
                if number is not None and int(number) > MAX_WIDTH:
                    raise self._refuse("format widths and precisions above 1000 are not "
                                       "allowed")
        room = max(self.limits.container_items, self.limits.output_chars)
        options = torch._tensor_str.PRINT_OPTS
        threshold = self.print_options.get("threshold", options.threshold)
        edgeitems = self.print_options.get("edgeitems", options.edgeitems)
        parts = values.values() if isinstance(values, dict) else (
            values if isinstance(values, tuple) else (values,))
        floor = len(template)
        for part in parts:
            if part.__class__ in _CALL_ONLY or part.__class__ is _Generator:
                raise self._not_a_value(part) if part.__class__ in _CALL_ONLY else \
                    self._refuse("a generator cannot be formatted here")
            floor += text_floor(part, int(threshold), int(edgeitems), room)
            if floor > room:
                raise self._refuse(f"formatting this would make more than {room:,} characters")
        with self._printing():
            text = self._fail_safe(operator.mod, template, values)
        return self._check_python(text)


def _generator_name(gen: _Generator) -> str:
    return "generator" if gen.kind == "genexpr" else gen.kind
