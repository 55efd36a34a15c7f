"""Calls: torch functions and tensor methods (costed before they run), builtins, user
functions, backward, print, warnings capture."""


from __future__ import annotations

import ast
import builtins
import math
from typing import TYPE_CHECKING, Any, Callable

import torch

from autoviz.autograd.backward import TraceTooBig, record_backward
from autoviz.autograd.catalog import UNSEEN, version
from autoviz.runner import allowlist as al
from autoviz.runner.checks import source_lines
from autoviz.runner.costs import MAX_DIMS, python_size, tensors_in, tensors_of
from autoviz.runner.errors import ProgramError
from autoviz.runner.hooks import KINDS
from autoviz.runner.nn import global_generator
from autoviz.runner.values import (
    _BINOP_NAMES,
    _BINOPS,
    _CHECKED_METHODS,
    _IOPS,
    _LOCK,
    _PRINT_CAPS,
    _PRINT_FIELDS,
    _SHAPE_METHODS,
    _VALUE_TYPES,
    UNINITIALISED,
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
    _Module,
    _Node,
    _Return,
    zeroed,
)

if TYPE_CHECKING:
    pass
from autoviz.runner.output import _start_capture, _stop_capture


class Calls:
    """The call half of :class:`~autoviz.runner.interp.Interpreter`."""

    # ---- calls ---------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> Any:
        if _is_super_init(node.func):  # super().__init__() in a program's nn.Module class
            args = [self._value(a) for a in node.args]
            kwargs = {kw.arg: self._value(kw.value) for kw in node.keywords}
            return self._super_init(args, kwargs)
        func = self._eval(node.func)
        if func.__class__ is _Function and func.kind == "python":  # pycode's builtins
            return self._call_python(func, node)
        args: list[Any] = []
        for arg in node.args:
            if arg.__class__ is ast.Starred:
                args.extend(self._starred(arg))
            else:
                args.append(self._held(arg))  # a program's function may be passed
        kwargs = {kw.arg: self._held(kw.value) for kw in node.keywords} if node.keywords \
            else {}
        if func.__class__ is not UserFunction and func.__class__ is not BoundMethod:
            self._check_function_arguments(func, args, kwargs)
        if func.__class__ is _Function:
            return self._call_function(func, tuple(args), kwargs, node)
        if isinstance(func, _Node):
            self._check_node_call(func, args, kwargs)
            # what it returns hangs off the graph the node is in (its saved tensors): as
            # deep as anything so far, whatever its arguments are
            return self._op(func, tuple(args), kwargs, al.SAME, node, func.name(),
                            floor=self.budget.max_depth)
        if isinstance(func, UserFunction):
            return self._call_user(func, args, kwargs)
        if isinstance(func, torch.nn.Module):
            return self._call_module(func, tuple(args), kwargs, node)
        if isinstance(func, BoundMethod):
            return self._call_user(func.function, [func.owner, *args], kwargs)
        if isinstance(func, _Module):
            raise _Failure(TypeError("'module' object is not callable"))
        if isinstance(func, TypeOf):
            raise self._refuse("a class here is for its name (type(x).__name__) and for "
                               "comparing, not for calling")
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
            if func.name in al.GLOBAL_RANDOM:  # F.dropout draws from torch's generator
                with global_generator(self.generator):
                    return self._op(func.target, args, kwargs, func.category, node, func.name)
            if func.category != al.RANDOM:
                return self._op(func.target, args, kwargs, func.category, node, func.name)
            if self.rerun is not None and not self.seeded:
                self.rerun.unseeded = True
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
            with self._capture():  # set_detect_anomaly warns that it slows things down
                return _GradModeCall(self._fail_safe(func.target, *args, **kwargs))
        if func.kind == "state":
            return self._call_state(func.name, args, kwargs)
        if func.kind in _NN_KINDS:
            return self._call_nn(func, args, kwargs, node)
        if func.kind == "autograd_grad":
            return self._autograd_grad(args, kwargs)
        if func.kind == "autograd_check":
            return self._gradcheck(func, args, kwargs)
        if func.kind == "handle":  # a hook's handle.remove()
            return self._fail_safe(func.target.remove, *args, **kwargs)
        raise self._refuse(f"{func.name} cannot be called here")

    def _call_method(self, func: _Function, args: tuple, kwargs: dict[str, Any],
                     node: ast.Call) -> Any:
        obj, name = func.target, func.name
        if obj.__class__ is not torch.Tensor:  # the common case, a tensor, goes straight on
            if isinstance(obj, list):  # list.append
                if len(obj) >= self.limits.container_items:
                    raise self._refuse("the list is too long")
                if any(isinstance(a, (list, tuple, range, str)) for a in args):
                    self._check_size([obj, *args])
                self.budget.count_python((None,))
                return self._fail_safe(obj.append, *args, **kwargs)
            if isinstance(obj, _Node):
                if name in KINDS:
                    return self._register_hook(obj, name, args, kwargs)
                return self._fail_safe(obj.name, *args, **kwargs)
        if name == "backward":
            return self._backward(obj, args, kwargs)
        if name == "register_hook":
            return self._register_hook(obj, name, args, kwargs)
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
        if name in ("unbind", "split", "chunk"):
            pieces = max(tensor.shape, default=0)
            if pieces > cap:
                raise self._refuse(f".{name}() of a dimension over {cap:,} long would make "
                                   "too many tensors")
            self.budget.check_objects(pieces)  # before the pieces are made
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
        self.budget.before(al.SAME, (tensor, bound.get("gradient")), {}, ".backward")
        self._name_list_items()  # the graph recorded now labels leaves kept in lists
        try:
            with self._capture():
                trace = self._fail_safe(
                    record_backward, tensor, bound.get("gradient"),
                    retain_graph=bound.get("retain_graph"),
                    create_graph=bool(bound.get("create_graph", False)),
                    inputs=bound.get("inputs"), catalog=self.program.catalog,
                    root_name=self.program.name_of(tensor),
                    max_elements=self.budget.remaining_bytes() // tensor.element_size(),
                    hand_calls=self.limits.hand_calls)
        except _Failure as failure:
            if isinstance(failure.exc, TraceTooBig):
                raise self._refuse(str(failure.exc)) from None
            raise
        kept = 0
        for step in trace.steps:
            for grad in (*step.grad_inputs, *step.grad_outputs):
                if grad is not None:
                    kept += grad.numel() * grad.element_size()
        for made in trace.hand.values():  # the nodes called by hand
            for grad in tensors_in(made):
                kept += grad.numel() * grad.element_size()
        self.budget.count_bytes(kept)
        if bound.get("create_graph"):  # the leaves' .grad now have graphs of their own
            grads = [t.grad for t in self.program.catalog.keep
                     if t._base is None and t.grad_fn is None and t.requires_grad
                     and t.grad is not None and t.grad.requires_grad]
            self.budget.deepen_graph(tensor, grads, 2 * len(trace.steps))
        self.program.traces.append(trace)
        self.program.calls.append((self.budget.lineno, float(tensor.detach())
                                   if tensor.numel() == 1 and not tensor.is_complex()
                                   else None))

    def _gradcheck(self, func: _Function, args: tuple, kwargs: dict[str, Any]) -> Any:
        """``torch.autograd.gradcheck(fn, inputs, ...)``: torch's own check, calling the
        program's function through the interpreter (once per input element, twice over)."""
        if len(args) < 2:
            raise _Failure(TypeError(f"{func.short}() needs a function and its inputs"))
        fn, inputs = args[0], args[1]
        elements = sum(t.numel() for t in tensors_in(inputs))
        if elements > GRADCHECK_ELEMENTS:
            raise self._refuse(f"{func.short} over {elements:,} input elements is too much "
                               f"here (at most {GRADCHECK_ELEMENTS:,}: it runs the function "
                               "twice per element)")
        if fn.__class__ is UserFunction:
            call = self._as_callable(fn)
        elif fn.__class__ is _Function:
            def call(*a: Any, **k: Any) -> Any:
                return self._call_function(fn, a, k, None)
        else:
            raise self._refuse(f"{func.short} takes a function as its first argument")
        # torch builds the Jacobians (input elements x output elements, numerical and
        # analytical) before comparing them: one trial call says how big they are
        trial = call(*(inputs if isinstance(inputs, (tuple, list)) else (inputs,)))
        outputs = sum(t.numel() for t in tensors_in(trial))
        if elements * outputs > GRADCHECK_JACOBIAN:
            raise self._refuse(f"{func.short} would build Jacobians of {elements:,} x "
                               f"{outputs:,} numbers; the limit here is "
                               f"{GRADCHECK_JACOBIAN:,}")
        self.budget.count_bytes(2 * 8 * elements * outputs)
        with self._capture():
            return self._fail_safe(func.target, call, *args[1:], **kwargs)

    def _autograd_grad(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        """``torch.autograd.grad(outputs, inputs, grad_outputs=None, retain_graph=None,
        create_graph=False, allow_unused=None)``: torch's own, with what it makes counted
        (the gradients; with ``create_graph``, their graphs)."""
        import inspect

        try:
            bound = inspect.signature(torch.autograd.grad).bind(*args, **kwargs).arguments
        except TypeError as exc:
            raise _Failure(exc) from None
        for key in ("is_grads_batched",):
            if bound.get(key):
                raise self._refuse(f"torch.autograd.grad({key}=True) is not supported")
        outputs = tensors_in(bound.get("outputs"))
        inputs = tensors_in(bound.get("inputs"))
        if not outputs or not inputs:
            raise _Failure(TypeError("torch.autograd.grad takes tensors: outputs and inputs"))
        self.budget.before(al.SAME, (*outputs, *inputs, *tensors_in(
            bound.get("grad_outputs"))), {}, "torch.autograd.grad")
        self.budget.count_bytes(sum(t.numel() * t.element_size() for t in inputs))
        with self._capture():
            result = self._fail_safe(torch.autograd.grad, *args, **kwargs)
        made = [g for g in result if isinstance(g, torch.Tensor)]
        self.budget.count_objects(len(made))
        if bound.get("create_graph"):  # the gradients have graphs of their own
            self.budget.deepen_graph(outputs[0], [g for g in made if g.requires_grad],
                                     2 * max(1, self.budget.depth_of(outputs[0])))
        if bound.get("create_graph"):  # one with no graph all the same: the page says why
            for grad in made:
                self.program.catalog.gradients[id(grad)] = (self.budget.lineno, grad)
        return result

    def _call_state(self, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        if name == "manual_seed":
            # the program's own generator: same numbers as torch.manual_seed gives natively,
            # without touching the process-wide generator other sessions use.
            self._fail_safe(self.generator.manual_seed, *args, **kwargs)
            self.seeded = True
            return None
        if name == "is_anomaly_enabled":
            return torch.is_anomaly_enabled()
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
            return self._check_python(getattr(builtins, name)(args[0].take(cap, self._refuse)))
        if name in ("list", "tuple") and args and isinstance(args[0], torch.Tensor) \
                and args[0].dim():
            self.budget.count_objects(len(args[0]))  # one view per row
        depth = 1 + max((a.depth for a in args if isinstance(a, _Lazy)), default=0)
        if name in ("enumerate", "zip", "reversed") and depth > MAX_LAZY_NESTING:
            # nested without end, they recurse in C when drawn from
            raise self._refuse(f"{name}() nested more than {MAX_LAZY_NESTING} deep in "
                               "enumerate/zip/reversed is not supported; make it a list first")
        tensors = any(isinstance(a, (torch.Tensor, _Lazy)) or tensors_in(a) for a in args)
        if name == "reversed" and args and isinstance(args[0], torch.Tensor):
            # Tensor.__reversed__ is a flip: a new tensor (and a node), not an iterator
            return self._op(builtins.reversed, args, kwargs, al.SAME, node, name)
        if name in ("enumerate", "zip", "reversed"):
            return _Lazy(self._fail_safe(getattr(builtins, name), *args, **kwargs), depth)
        if name in ("str", "repr"):
            if len(args) != 1 or kwargs:
                return self._check_python(self._fail_safe(getattr(builtins, name), *args,
                                                          **kwargs))
            return self._as_text(getattr(builtins, name), args[0])
        if name == "sum" and tensors:
            return self._sum(args, kwargs, node)
        if name in ("abs", "min", "max", "round") and tensors:
            result = self._op(getattr(builtins, name), args, kwargs, al.BROADCAST, node, name)
        elif tensors:  # float(t) of a tensor that requires grad warns: the program's warning
            with self._capture():
                result = self._fail_safe(getattr(builtins, name), *args, **kwargs)
        else:
            result = self._fail_safe(getattr(builtins, name), *args, **kwargs)
        return self._check_python(result)

    def _sum(self, args: tuple, kwargs: dict[str, Any], node: ast.Call) -> Any:
        """Python's ``sum``: ``start + item`` one item at a time, each addition an operation
        of its own (so the graph it builds counts toward the caps as it grows)."""
        if not args or len(args) > 2 or set(kwargs) - {"start"}:
            return self._fail_safe(builtins.sum, *args, **kwargs)  # Python's own TypeError
        items = args[0]
        total = args[1] if len(args) > 1 else kwargs.get("start", 0)
        if isinstance(items, torch.Tensor):  # iterating a tensor is unbind(0), as natively
            items = self._op(tuple, (items,), {}, al.SAME, node, "sum")
        for item in items:
            self.budget.tick()
            total = self._binop(ast.Add, total, item, node)
        return total

    def _binop(self, op: type, left: Any, right: Any, node: ast.AST,
               inplace: bool = False) -> Any:
        fn = (_IOPS if inplace else _BINOPS)[op]
        symbol = _BINOP_NAMES[op]
        if op is ast.Mod and left.__class__ is str:  # "%.3f" % x: costed as text
            return self._percent(left, right)
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
        if op is ast.Add and isinstance(left, (list, tuple, str)) \
                and isinstance(right, (list, tuple, str)):
            if len(left) + len(right) > max(cap, self.limits.output_chars):
                raise self._refuse("the value is too long")
        if op is ast.Pow and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > self.limits.int_bits:
                raise self._refuse(f"{left} ** {right} is too big (more than "
                                   f"{self.limits.int_bits} bits)")
        if op is ast.Mult:
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (list, tuple, str)) and isinstance(times, int):
                    if python_size(seq, cap) * max(times, 0) > cap:
                        raise self._refuse(f"repeating a sequence {times:,} times is too big")

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
        elif isinstance(value, (str, list, tuple)):
            if len(value) > max(self.limits.container_items, self.limits.output_chars):
                raise self._refuse("the value is too long")
            self.budget.count_python(value)
        return value

    def _op(self, fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any], category: str,
            node: ast.AST | None, name: str, floor: int = 0) -> Any:
        """Call a torch operation after checking its cost; record the tensors it makes."""
        budget = self.budget
        tensors = tensors_of(args, kwargs)
        versions = {id(t): version(t) for t in tensors}
        rerun = self.rerun
        wanted = None if rerun is None or rerun.on_leaf is None else \
            {id(t) for t in tensors if t.requires_grad}  # before: see _new_leaves
        views = [(t, versions[id(t)]) for t in tensors if t._base is not None]
        with _LOCK:  # the warnings filters are process-wide (as in self._capture())
            saved, caught = _start_capture()
            try:
                budget.before(category, args, kwargs, name)
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
        budget.after(result, args, kwargs, name, floor, versions)
        if result.__class__ is not torch.Tensor and not isinstance(result, _VALUE_TYPES):
            raise self._refuse(f"{name} returned {_describe(result)}, which autoviz programs "
                               "cannot hold")
        self._observed(tensors_in(result), tensors, views, node)
        self._note_cuts(name, args, kwargs, tensors, result)
        if wanted is not None:
            self._new_leaves(tensors_in(result), wanted)
        return result

    def _new_leaves(self, outputs: list[torch.Tensor], wanted: set[int]) -> None:
        """Show the rerun's hook each output that has just become a leaf that requires
        grad (``wanted``: the inputs that required grad before the op)."""
        for out in outputs:
            if out.requires_grad and out.is_leaf and id(out) not in wanted:
                wanted.add(id(out))  # a tensor returned twice is one leaf
                self.rerun.on_leaf(out, self.budget.lineno)

    def _note_cuts(self, name: str, args: tuple, kwargs: dict[str, Any],
                   tensors: list[torch.Tensor], result: Any) -> None:
        """Where a tensor that requires grad lost its way to a gradient (the page says
        which leaf got none, and why)."""
        catalog, lineno = self.program.catalog, self.budget.lineno
        if name in (".detach", ".detach_"):
            if tensors and tensors[0].requires_grad:
                catalog.cut("detach", tensors[0], lineno)
        elif name == ".requires_grad_":
            flag = args[1] if len(args) > 1 else kwargs.get("requires_grad", True)
            if tensors and flag is False:
                catalog.cut("off", tensors[0], lineno)
        elif not torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            for tensor in tensors:
                if tensor.requires_grad:
                    catalog.cut("no_grad", tensor, lineno)
            for out in tensors_in(result):
                if not out.requires_grad:
                    catalog.cut("made", out, lineno)
        elif catalog.cuts:  # made from what no_grad made: no history either
            for tensor in tensors:
                found = catalog.cut_of(tensor)
                if found is not None and found[0] == "made":
                    for out in tensors_in(result):
                        if not out.requires_grad:
                            catalog.cut("made", out, found[1])
                    break

    def _observed(self, outputs: list[torch.Tensor], tensors: list[torch.Tensor],
                  views: list[tuple[torch.Tensor, int]], node: ast.AST) -> None:
        """Catalog what an op made, reading only the grad_fns torch has just set (see
        :class:`~autoviz.autograd.catalog.Catalog`): ``tensors`` were its inputs,
        ``views`` those that are views, with their version before the op."""
        catalog = self.program.catalog
        if not views:  # the common case: no view in, so nothing of theirs to keep fresh
            for out in outputs:
                if out._base is not None and not any(out is t for t in tensors):
                    catalog.saw(out)
                made_by = catalog.grad_fn(out)
                if made_by is not None and made_by is not UNSEEN:
                    catalog.produce(out, self.budget.lineno, self._text(node), made_by)
            return
        before = {id(view): was for view, was in views}
        # outputs that are new, or inputs changed in place (not an input handed back as is)
        made = [o for o in outputs if not any(o is t for t in tensors)
                or version(o) != before.get(id(o), version(o))]
        if torch.is_grad_enabled() and any(o.requires_grad for o in made):
            # the op made a node, reading each input's grad_fn to link it to them; a view
            # it changed in place had its grad_fn set again
            for view, was in views:
                if version(view) == was or any(view is o for o in made):
                    catalog.saw(view)
        for out in outputs:
            if not any(out is t for t in tensors):
                catalog.saw(out)  # made now: its grad_fn is what torch just set
            made_by = catalog.grad_fn(out)
            if made_by is not None and made_by is not UNSEEN:
                catalog.produce(out, self.budget.lineno, self._text(node), made_by)

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

    def _fail_safe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; a Python or torch exception becomes the program's own failure."""
        try:
            return fn(*args, **kwargs)
        except (ProgramError, _Failure, _Return, _Break, _Continue):
            raise
        except Exception as exc:
            raise _Failure(exc) from None



_MISSING = object()
GRADCHECK_ELEMENTS = 1_000  # input elements torch.autograd.gradcheck may nudge
GRADCHECK_JACOBIAN = 1_000_000  # input x output elements of its Jacobians
MAX_LAZY_NESTING = 8  # enumerate(zip(...)) and the like; 10,000 deep recursed in C
_BUILTIN_FUNCTIONS = {name: _Function("builtin", name, getattr(builtins, name))
                      for name in al.BUILTINS}
_MODULE_ATTRIBUTES: dict[tuple[str, str], Any] = {}
_NN_KINDS = frozenset({"nn", "nn_parameter", "nn_init", "optim", "class", "module_method",
                       "optim_method", "nn_base", "lr_scheduler", "scheduler_method",
                       "nn_utils", "device", "cuda"})


def _is_super_init(func: ast.AST) -> bool:
    """``super().__init__`` or ``super(Net, self).__init__``."""
    return (isinstance(func, ast.Attribute) and func.attr == "__init__"
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super" and not func.value.keywords)
_METHOD_CALLS: dict[str, tuple[Callable[..., Any], str]] = {}


def _method_call(name: str) -> tuple[Callable[..., Any], str]:
    """``tensor.name(...)`` as a function of the tensor (it also runs on a meta copy)."""

    def call(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(tensor, name)(*args, **kwargs)

    if name in UNINITIALISED:
        call = zeroed(call)

    _METHOD_CALLS[name] = found = (call, f".{name}")
    return found
