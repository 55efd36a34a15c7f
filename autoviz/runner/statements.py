"""Statements: blocks, assignment and unpacking, imports, with, for, def, scopes."""


from __future__ import annotations

import ast
import builtins
import contextlib
import operator
from dataclasses import replace
from typing import Any

import torch

from autoviz.autograd.catalog import version
from autoviz.runner import allowlist as al
from autoviz.runner.calls import _BUILTIN_FUNCTIONS, _MISSING
from autoviz.runner.costs import python_size, tensors_of
from autoviz.runner.errors import ProgramError
from autoviz.runner.pycode import _MISSING as _FREE_MISSING
from autoviz.runner.pycode import PY_BUILTINS
from autoviz.runner.pyvalues import CONTAINERS, _Generator
from autoviz.runner.values import (
    _CALL_ONLY,
    UserFunction,
    _Break,
    _Continue,
    _describe,
    _Failure,
    _GradModeCall,
    _Lazy,
    _Module,
    _Return,
)


class Statements:
    """The statement half of :class:`~autoviz.runner.interp.Interpreter`."""

    # ---- running -------------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        if torch.get_num_threads() > self.limits.torch_threads:
            torch.set_num_threads(self.limits.torch_threads)
        # texts of the tree's expressions, kept with the (cached, never changed) tree
        self.texts = tree.__dict__.setdefault("autoviz_texts", {})
        grad_mode = torch.is_grad_enabled()
        anomaly = torch.is_anomaly_enabled()
        try:
            self._block(tree.body)
            self._name_list_items()
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
            if torch.is_anomaly_enabled() != anomaly:  # set_detect_anomaly is process-wide
                torch.set_anomaly_enabled(anomaly)
            self.program.output = "".join(self.output)

    def _name_list_items(self) -> None:
        """Tensors the program keeps only in a list or tuple (``params.append(w)`` in a
        loop) are named after it, ``params[0]``, ``params[1]``…, where they have no name
        of their own: the graph labels its leaves with them."""
        catalog = self.program.catalog
        for name, value in list(self.globals.items()):
            if isinstance(value, (list, tuple)) and len(value) <= 1000:
                for i, item in enumerate(value):
                    if isinstance(item, torch.Tensor) and not catalog.held(item):
                        catalog.bind(f"{name}[{i}]", item)
            elif isinstance(value, dict) and len(value) <= 1000:  # params["w"]
                for key, item in value.items():
                    if isinstance(item, torch.Tensor) and not catalog.held(item) and \
                            isinstance(key, (str, int)) and len(repr(key)) <= 40:
                        catalog.bind(f"{name}[{key!r}]", item)

    def _block(self, body: list[ast.stmt] | tuple[ast.stmt, ...]) -> None:
        budget = self.budget
        statements = self.STATEMENTS
        where = self.where
        for stmt in body:
            budget.lineno = stmt.lineno
            if where is not None:
                where.value = stmt.lineno
            budget.tick()
            statements.get(stmt.__class__, Statements._unsupported_statement)(self, stmt)

    def _expr_statement(self, node: ast.Expr) -> None:
        self._eval(node.value)  # result dropped: torch.set_grad_enabled(False) is fine

    def _assign_statement(self, node: ast.Assign) -> None:
        targets = node.targets
        # a name may hold a function of the program's (f = lambda x: x * 2); nothing else
        named = len(targets) == 1 and targets[0].__class__ is ast.Name
        value = self._held(node.value) if named else self._value(node.value)
        for target in targets:
            self._assign(target, value)

    def _annassign_statement(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assign(node.target, self._held(node.value) if node.target.__class__ is
                         ast.Name else self._value(node.value))

    def _if_statement(self, node: ast.If) -> None:
        self._block(node.body if self._truth(self._value(node.test)) else node.orelse)

    def _def_statement(self, node: ast.FunctionDef) -> None:
        self._bind(node.name, self._function(node))

    def _function(self, node: ast.FunctionDef) -> UserFunction:
        """The function a ``def`` makes (a method of a program's class too): defaults
        evaluated now, the enclosing function's scope kept (see pycode)."""
        function = self._make_function(node.name, node.args, node.body)
        if node.decorator_list:  # @torch.no_grad() (checked before the run)
            manager = self._eval(node.decorator_list[0])
            if not isinstance(manager, _GradModeCall):
                raise self._refuse("decorators here are @torch.no_grad(), "
                                   "@torch.enable_grad() or @torch.inference_mode() only")
            function = replace(function, decorator=node.decorator_list[0])
        return function

    def _return_statement(self, node: ast.Return) -> None:
        raise _Return(None if node.value is None else self._held(node.value))

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
                else:  # import torch.nn binds torch, as in Python
                    self._bind_module(alias.name.split(".")[0],
                                      _Module(alias.name.split(".")[0]))
        else:
            for alias in node.names:
                name = alias.asname or alias.name
                path = f"{node.module}.{alias.name}"
                if path in al.IMPORTABLE:
                    self._bind_module(name, _Module(path))
                    continue
                # from math import sqrt, pi / from torch.autograd import grad: what the
                # module's allowlist resolves the name to (refused there if it is not in it)
                value = self._module_attribute(_Module(node.module), alias.name)
                if value.__class__ in _CALL_ONLY:
                    self._bind_module(name, value)
                else:
                    self._bind(name, value)

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
        # lists, tuples, ranges, strings, tensors (a view per row), dicts, sets, generators…
        items = self._iterate(self._value(node.iter))
        # a loop over whole numbers names what it binds with its index (``w (i=3)``)
        named = isinstance(node.target, ast.Name)
        loops = self.loops
        budget = self.budget
        while True:
            budget.lineno = node.lineno  # drawing the next item runs on the loop's line
            item = next(items, _FREE_MISSING)
            if item is _FREE_MISSING:
                break
            budget.tick()
            self._assign(node.target, item)
            indexed = named and item.__class__ is int
            if indexed:
                loops.append((node.target.id, item))
            try:
                self._block(node.body)
            except _Break:
                return  # for ... else: the else runs only when the loop was not broken
            except _Continue:
                continue
            finally:
                if indexed:
                    loops.pop()
        if node.orelse:
            self._block(node.orelse)

    # ---- names -----------------------------------------------------------------------
    def _scope(self) -> dict[str, Any]:
        return self.frames[-1] if self.frames else self.globals

    def _bind(self, name: str, value: Any) -> None:
        if not self.frames:
            self.modules.pop(name, None)
        self._scope()[name] = value
        if isinstance(value, torch.nn.Module) and not self.frames:
            self._name_parameters(name, value)
        if isinstance(value, torch.Tensor):
            self.program.catalog.bind(name, value, self.budget.lineno)
            if self.loops:
                self.program.catalog.looped(name, value, self.loops, self.budget.lineno)
            if not self.frames:
                self.program.assigned.append(name)

    def _lookup(self, node: ast.Name) -> Any:
        name = node.id
        if name == "__name__":  # the program runs as a script: if __name__ == "__main__":
            return "__main__"
        if self.frames:
            if name in self.frames[-1]:
                return self.frames[-1][name]
            if name in self.local_names[-1]:
                raise _Failure(UnboundLocalError(
                    f"cannot access local variable '{name}' where it is not associated with "
                    "a value"))
            value = self._free(name)  # a closure reads the enclosing functions' names
            if value is not _FREE_MISSING:
                return value
        value = self.globals.get(name, _MISSING)
        if value is not _MISSING:
            return value
        if name in self.modules:
            return self.modules[name]
        if name in PY_BUILTINS:
            return PY_BUILTINS[name]
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
            star = next((i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)),
                        None)
            if star is not None:
                return self._assign_starred(target.elts, star, value)
            items = self._fail_safe(self._unpack, value, len(target.elts))
            for sub, item in zip(target.elts, items):
                self._assign(sub, item)
        elif isinstance(target, ast.Subscript):
            self._store_item(self._value(target.value), self._index(target.slice), value,
                             target)
        elif isinstance(target, ast.Attribute):
            self._store_attribute(self._value(target.value), target.attr, value)
        else:
            raise self._refuse(f"cannot assign to {type(target).__name__}")

    def _assign_starred(self, targets: list[ast.expr], star: int, value: Any) -> None:
        """``first, *rest = xs``: the rest a list, as in Python (its items counted)."""
        cap = self.limits.container_items
        if value.__class__ is _Generator:
            items = self._materialize(value, "starred assignment")
        elif isinstance(value, _Lazy):
            items = value.take(cap, self._refuse)
        elif isinstance(value, (list, tuple, range, torch.Size, str, *CONTAINERS)):
            if len(value) > cap:
                raise self._refuse(f"unpacking more than {cap:,} items is not allowed")
            items = list(value)
        elif isinstance(value, torch.Tensor):
            items = list(self._op(tuple, (value,), {}, al.SAME, None, "unpacking"))
        else:
            raise _Failure(TypeError(f"cannot unpack non-iterable {type(value).__name__} "
                                     "object"))
        before, after = star, len(targets) - star - 1
        if len(items) < before + after:
            raise _Failure(ValueError(f"not enough values to unpack (expected at least "
                                      f"{before + after}, got {len(items)})"))
        rest = self._check_python(items[before:len(items) - after])
        for sub, item in zip(targets[:before], items[:before]):
            self._assign(sub, item)
        self._assign(targets[star].value, rest)
        for sub, item in zip(targets[star + 1:], items[len(items) - after:]):
            self._assign(sub, item)

    def _store_item(self, obj: Any, index: Any, value: Any, target: ast.Subscript) -> None:
        if isinstance(obj, torch.Tensor):
            args = (obj, index, value)
            tensors = tensors_of(args, {})
            views = [(t, version(t)) for t in tensors if t._base is not None]
            parts = index if isinstance(index, tuple) else (index,)
            advanced = any(isinstance(p, (torch.Tensor, list, range)) for p in parts)
            # advanced indices are broadcast together before torch writes through them
            self.budget.before(al.SHAPED if advanced else al.SAME, args, {}, "item assignment")
            with self._capture():
                self._fail_safe(operator.setitem, obj, index, value)
            self.budget.after(obj, args, {}, "item assignment")
            self._observed([obj], tensors, views, target)
        elif isinstance(obj, list):
            self._fail_safe(operator.setitem, obj, index, value)
            if python_size(obj, self.limits.container_items) > self.limits.container_items:
                raise self._refuse("the list is too long")
        elif isinstance(obj, dict):
            self._store_key(obj, index, value)
        elif isinstance(obj, (torch.nn.Sequential, torch.nn.ModuleList)) and isinstance(
                index, int) and value is not None:
            self._fail_safe(operator.setitem, obj, index, value)  # model[2] = nn.Identity()
            if isinstance(target.value, ast.Name) and not self.frames:
                self._name_parameters(target.value.id, obj)
        else:
            raise self._refuse(f"cannot assign items of {_describe(obj)}")

    def _store_attribute(self, obj: Any, attr: str, value: Any) -> None:
        if isinstance(obj, torch.nn.Module):
            return self._store_module_attribute(obj, attr, value)
        if not isinstance(obj, torch.Tensor):
            raise self._refuse(f"cannot set .{attr} on {_describe(obj)}")
        if attr not in ("requires_grad", "grad", "data"):
            raise self._refuse(f"only .requires_grad, .grad and .data of a tensor can be "
                               f"assigned, not .{attr}")
        wanted = obj.requires_grad
        with self._capture():
            self._fail_safe(setattr, obj, attr, value)
        if attr == "requires_grad" and value is False:
            self.program.catalog.cut("off", obj, self.budget.lineno)
        if self.rerun is not None and self.rerun.on_leaf is not None and not wanted \
                and obj.requires_grad and obj.is_leaf:
            self.rerun.on_leaf(obj, self.budget.lineno)  # a new leaf (see Rerun)

    def _unpack(self, value: Any, count: int) -> list[Any]:
        if value.__class__ is _Generator:  # drawn as Python draws it: one past the count
            items = []
            for item in self._iterate(value):
                items.append(item)
                if len(items) > count:
                    break
        elif not isinstance(value, (list, tuple, torch.Tensor, torch.Size, range, _Lazy, str,
                                    *CONTAINERS)):
            raise TypeError(f"cannot unpack non-iterable {type(value).__name__} object")
        elif isinstance(value, _Lazy):
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
        """``target op= value`` in CPython's order: the target's parts and its current
        value first, then the right side, the operation, and the store."""
        op = type(node.op)
        target = node.target
        if isinstance(target, ast.Name):
            left = self._lookup(target)
            right = self._value(node.value)
            self._bind(target.id, self._binop(op, left, right, node, inplace=True))
        elif isinstance(target, ast.Subscript):
            obj = self._value(target.value)
            index = self._index(target.slice)
            left = self._subscript(obj, index, target)
            right = self._value(node.value)
            self._store_item(obj, index, self._binop(op, left, right, node, inplace=True),
                             target)
        else:
            obj = self._value(target.value)
            left = self._attribute(obj, target.attr)
            right = self._value(node.value)
            self._store_attribute(obj, target.attr,
                                  self._binop(op, left, right, node, inplace=True))
