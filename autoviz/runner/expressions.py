"""Expressions: constants, operators, comparisons, sequences, subscripts, f-strings, attributes."""


from __future__ import annotations

import ast
import math
import operator
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from autoviz.runner import allowlist as al
from autoviz.runner import nn as nn_support
from autoviz.runner.calls import _MODULE_ATTRIBUTES
from autoviz.runner.costs import MAX_DIMS, python_size
from autoviz.runner.nn import OPTIMIZER_METHODS
from autoviz.runner.pycode import _NO_ATTRIBUTE
from autoviz.runner.pyvalues import CONTAINERS, _Generator
from autoviz.runner.values import (
    _CALL_ONLY,
    _CMPOPS,
    _FORMAT_NUMBER,
    _SILENT_ATTRIBUTES,
    _UNARY,
    UNINITIALISED,
    TypeOf,
    UserFunction,
    _describe,
    _Failure,
    _Function,
    _GradModeCall,
    _Module,
    _Node,
    zeroed,
)

_ATTRIBUTE_VIEWS = {"T": lambda t: t.T, "mT": lambda t: t.mT}
_MODULE_OBJECTS = {"torch": torch, "torch.nn": torch.nn, "torch.nn.functional":
                   torch.nn.functional, "torch.nn.init": torch.nn.init,
                   "torch.optim": torch.optim, "torch.autograd": torch.autograd,
                   "torch.nn.utils": torch.nn.utils,
                   "torch.optim.lr_scheduler": torch.optim.lr_scheduler,
                   "torch.cuda": torch.cuda, "math": math}


def _legacy_tensor(*args: Any, **kwargs: Any) -> torch.Tensor:
    """``torch.Tensor(data)``, float32 as natively; ``torch.Tensor(2, 3)`` zero-filled (torch
    leaves it as whatever memory held, which a program must not read)."""
    if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return torch.zeros(*args, **kwargs)
    return torch.Tensor(*args, **kwargs)


def _nn_name(path: str, attr: str) -> Any:
    """What ``torch.nn.<attr>``, ``torch.nn.init.<attr>`` or ``torch.optim.<attr>`` is
    here (None: not one of these)."""
    if path == "torch.nn":
        if attr in nn_support.CLASSES:
            return _Function("nn", f"nn.{attr}", nn_support.CLASSES[attr])
        if attr == "Parameter":
            return _Function("nn_parameter", "nn.Parameter", torch.nn.Parameter)
        if attr == "Module":
            return nn_support._MODULE_BASE
    elif path == "torch.nn.init" and (attr in nn_support.INIT_FUNCTIONS
                                      or attr in nn_support.INIT_HELPERS):
        return _Function("nn_init", f"nn.init.{attr}", getattr(torch.nn.init, attr))
    elif path == "torch.autograd" and attr == "grad":
        return _Function("autograd_grad", "torch.autograd.grad", torch.autograd.grad)
    elif path == "torch.autograd" and attr in ("gradcheck", "gradgradcheck"):
        return _Function("autograd_check", f"torch.autograd.{attr}", getattr(torch.autograd,
                                                                              attr))
    elif path == "torch.autograd" and attr in ("detect_anomaly", "set_detect_anomaly"):
        # like the grad modes: a context manager, set_detect_anomaly(b) at once
        return _Function("grad_mode", f"torch.autograd.{attr}", getattr(torch.autograd, attr))
    elif path == "torch.optim" and attr in nn_support.OPTIMIZERS:
        return _Function("optim", f"torch.optim.{attr}", nn_support.OPTIMIZERS[attr])
    elif path == "torch.optim.lr_scheduler" and attr in nn_support.SCHEDULERS:
        return _Function("lr_scheduler", f"torch.optim.lr_scheduler.{attr}",
                         nn_support.SCHEDULERS[attr])
    elif path == "torch.nn.utils" and attr in nn_support.NN_UTILS:
        return _Function("nn_utils", f"nn.utils.{attr}", getattr(torch.nn.utils, attr))
    elif path == "torch.cuda" and attr in nn_support.CUDA_FUNCTIONS:
        return _Function("cuda", f"torch.cuda.{attr}")
    elif path == "torch" and attr == "device":  # torch.device("cpu"): the CPU only
        return _Function("device", "torch.device", torch.device)
    return None


class Expressions:
    """The expression half of :class:`~autoviz.runner.interp.Interpreter`."""

    # ---- expressions -------------------------------------------------------------------
    def _value(self, node: ast.AST) -> Any:
        """Evaluate ``node`` to a value a program may hold."""
        value = self.EXPRESSIONS.get(node.__class__, Expressions._unsupported)(self, node)
        if value.__class__ in _CALL_ONLY:
            raise self._not_a_value(value)
        return value

    def _eval(self, node: ast.AST) -> Any:
        return self.EXPRESSIONS.get(node.__class__, Expressions._unsupported)(self, node)

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
        if any(isinstance(i, (list, tuple, range, str)) for i in items):
            self._check_size(result)
        return self._check_python(result)

    def _subscript_expr(self, node: ast.Subscript) -> Any:
        obj = self._value(node.value)
        return self._subscript(obj, self._index(node.slice), node)

    def _joinedstr_expr(self, node: ast.JoinedStr) -> Any:
        parts, length = [], 0
        for part in node.values:
            text = self._fstring_part(part)
            length += len(text)
            if length > self.limits.output_chars:
                raise self._refuse(f"the f-string would be more than "
                                   f"{self.limits.output_chars:,} characters long")
            parts.append(text)
        return self._check_python("".join(parts))

    def _starred(self, node: ast.Starred) -> list[Any]:
        value = self._value(node.value)
        if value.__class__ is _Generator or isinstance(value, (str, *CONTAINERS)):
            return self._materialize(value, "unpacking with *")
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
            if op.__class__ is ast.In or op.__class__ is ast.NotIn:
                result = self._contains(left, right, node) is (op.__class__ is ast.In)
            else:
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
        if isinstance(obj, (torch.nn.Sequential, torch.nn.ModuleList)) and isinstance(
                index, (int, slice)):
            return self._fail_safe(operator.getitem, obj, index)
        if isinstance(obj, torch.Tensor):
            parts = index if isinstance(index, tuple) else (index,)
            if len(parts) > MAX_DIMS:
                raise self._refuse(f"an index with {len(parts):,} parts: tensors here have at "
                                   f"most {MAX_DIMS} dimensions")
            advanced = any(isinstance(p, (torch.Tensor, list, range)) for p in parts)
            # basic indexing is a view (no new memory); advanced indexing is sized by rule
            category = al.SHAPED if advanced else al.SAME
            return self._op(operator.getitem, (obj, index), {}, category, node, "indexing")
        if isinstance(obj, dict):
            return self._fail_safe(operator.getitem, obj, self._key(index))
        if isinstance(obj, (list, tuple, str, torch.Size, range)):
            return self._check_python(self._fail_safe(operator.getitem, obj, index))
        raise _Failure(TypeError(f"'{type(obj).__name__}' object is not subscriptable"))

    def _fstring_part(self, node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            return str(node.value)
        assert isinstance(node, ast.FormattedValue)
        value = self._value(node.value)
        spec = "" if node.format_spec is None else self._value(node.format_spec)
        if any(int(n) > 1000 for n in _FORMAT_NUMBER.findall(spec)):
            raise self._refuse("format widths and precisions above 1000 are not allowed")
        convert = {ord("r"): repr, ord("s"): str, ord("a"): ascii}.get(node.conversion)
        if convert is not None:
            value = self._as_text(convert, value)
        return self._as_text(format, value, spec)

    # ---- attributes ---------------------------------------------------------------------
    def _attribute(self, obj: Any, attr: str) -> Any:
        if obj.__class__ is _Module:
            return self._module_attribute(obj, attr)
        if attr in ("__class__", "__name__"):
            return self._dunder(obj, attr)
        if obj.__class__ is TypeOf:
            raise self._refuse(f"of a class, only .__name__ is available here (not .{attr})")
        if isinstance(obj, torch.nn.Module):
            return self._module_member(obj, attr)
        if isinstance(obj, RemovableHandle):
            return self._handle_attribute(obj, attr)
        if isinstance(obj, torch.optim.Optimizer):
            if attr in OPTIMIZER_METHODS:
                return _Function("optim_method", f".{attr}", obj)
            if attr == "param_groups":  # torch's own list of dicts (lr, momentum, params)
                return obj.param_groups
            raise self._refuse(f"the optimizer attribute .{attr} is not in autoviz's "
                               "allowlist")
        if isinstance(obj, torch.optim.lr_scheduler.LRScheduler):
            return self._scheduler_member(obj, attr)
        if isinstance(obj, torch.device) and attr in ("type", "index"):
            return getattr(obj, attr)
        if isinstance(obj, torch.Tensor):
            if attr in ("T", "mT"):  # a view, and a node: an operation like .t()
                return self._op(_ATTRIBUTE_VIEWS[attr], (obj,), {}, al.SAME, None, f".{attr}")
            if attr in al.TENSOR_ATTRIBUTES:
                if attr in _SILENT_ATTRIBUTES:
                    value = self._fail_safe(getattr, obj, attr)
                    if attr in ("grad_fn", "is_leaf"):  # torch set a view's grad_fn to read it
                        self.program.catalog.saw(obj)
                    return value
                with self._capture():
                    return self._fail_safe(getattr, obj, attr)
            category = al.TENSOR_METHODS.get(attr)
            if category is not None:
                return _Function("method", attr, obj, category)
            if not hasattr(torch.Tensor, attr):  # Python's own error, as natively
                raise _Failure(AttributeError(f"'Tensor' object has no attribute '{attr}'"))
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
        found = self._python_attribute(obj, attr)  # dict/set/str/list methods, e.args…
        if found is not _NO_ATTRIBUTE:
            return found
        if isinstance(obj, (_Function, _GradModeCall)):
            raise self._refuse(f"attributes of {_describe(obj)} are not available")
        if hasattr(obj, attr):
            raise self._refuse(f"the attribute .{attr} of {_describe(obj)} is not in "
                               "autoviz's allowlist")
        raise _Failure(AttributeError(f"'{type(obj).__name__}' object has no attribute "
                                      f"'{attr}'"))

    def _dunder(self, obj: Any, attr: str) -> Any:
        """``x.__class__`` (its class, to name or compare) and ``__name__`` of a class or a
        function; nothing else."""
        if attr == "__class__":
            if obj.__class__ in _CALL_ONLY:
                raise self._refuse(f"attributes of {_describe(obj)} are not available")
            return TypeOf(type(obj))
        if isinstance(obj, TypeOf):
            return obj.cls.__name__
        if obj.__class__ is UserFunction:
            return obj.name
        if obj.__class__ is _Function:
            return obj.target.__name__ if isinstance(obj.target, type) else obj.short
        raise _Failure(AttributeError(f"'{type(obj).__name__}' object has no attribute "
                                      "'__name__'"))

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
        module_object = _MODULE_OBJECTS[module.path]
        if not hasattr(module_object, attr):
            raise _Failure(AttributeError(f"module '{module.path}' has no attribute '{attr}'"))
        if module.path == "math":
            return self._math_member(attr)
        found = _nn_name(module.path, attr)
        if found is not None:
            return found
        if module.path == "torch":
            if attr == "Tensor":
                return _Function("torch", "torch.Tensor", _legacy_tensor, al.CREATE)
            if attr in al.TORCH_FUNCTIONS:
                target = getattr(torch, attr)
                return _Function("torch", f"torch.{attr}",
                                 zeroed(target) if attr in UNINITIALISED else target,
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
