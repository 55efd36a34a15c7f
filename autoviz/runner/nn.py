"""torch.nn and torch.optim in programs: the allowlisted modules and losses, nn.Parameter,
nn.init, a program's own ``class Net(nn.Module)``, and the optimizers.

A module of the allowlist is torch's own object (its parameters, its ``repr``, its
``named_parameters``, what an optimizer takes); calling it runs what its ``forward`` runs,
the same functional call (``nn.Linear`` is ``F.linear(x, self.weight, self.bias)``), through
the interpreter's costed op path, so every op is sized before it runs and counted after,
as if the program had written it. A program's own class is a real subclass of
``nn.Module`` (made with ``type``, nothing compiled) whose methods are the program's
functions, run by the interpreter. torch's random initialisation (``nn.Linear``'s
weights, ``nn.init.*_``, dropout) draws from torch's global generator, as natively; the
interpreter lends it the program's own generator's state for the call, so a program's
``torch.manual_seed`` gives the numbers it gives natively.
"""

from __future__ import annotations

import ast
import contextlib
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from autoviz.runner import allowlist as al
from autoviz.runner.values import UserFunction, _describe, _Failure, _Function

_RNG_LOCK = threading.Lock()  # torch's global generator is the process's: one user at once

# module type -> its forward as a functional call: (function, cost category, arguments)
_Forward = Callable[[Any, tuple, dict], tuple[Callable[..., Any], str, tuple, dict]]


def _linear(m: nn.Linear, args: tuple, kwargs: dict) -> tuple:
    return F.linear, al.MATMUL, (*args, m.weight, m.bias), kwargs


def _unary(fn: Callable[..., Any]) -> _Forward:
    def forward(m: Any, args: tuple, kwargs: dict) -> tuple:
        return fn, al.SAME, args, kwargs
    return forward


def _softmax(fn: Callable[..., Any]) -> _Forward:
    def forward(m: Any, args: tuple, kwargs: dict) -> tuple:
        return fn, al.SAME, (*args, m.dim), kwargs
    return forward


FORWARDS: dict[type, _Forward] = {
    nn.Linear: _linear,
    nn.ReLU: lambda m, a, k: (F.relu, al.SAME, a, {**k, "inplace": m.inplace}),
    nn.LeakyReLU: lambda m, a, k: (F.leaky_relu, al.SAME, (*a, m.negative_slope, m.inplace),
                                   k),
    nn.Tanh: _unary(torch.tanh),
    nn.Sigmoid: _unary(torch.sigmoid),
    nn.GELU: lambda m, a, k: (F.gelu, al.SAME, a, {**k, "approximate": m.approximate}),
    nn.SiLU: _unary(F.silu),
    nn.ELU: lambda m, a, k: (F.elu, al.SAME, (*a, m.alpha, m.inplace), k),
    nn.Softplus: lambda m, a, k: (F.softplus, al.SAME, (*a, m.beta, m.threshold), k),
    nn.Softmax: _softmax(F.softmax),
    nn.LogSoftmax: _softmax(F.log_softmax),
    nn.Identity: lambda m, a, k: (_identity, al.SAME, a, k),
    nn.Flatten: lambda m, a, k: (torch.flatten, al.SAME, (*a, m.start_dim, m.end_dim), k),
    nn.Dropout: lambda m, a, k: (F.dropout, al.SAME, (*a, m.p, m.training, m.inplace), k),
    nn.Embedding: lambda m, a, k: (F.embedding, al.SHAPED, (
        *a, m.weight, m.padding_idx, m.max_norm, m.norm_type, m.scale_grad_by_freq,
        m.sparse), k),
    nn.LayerNorm: lambda m, a, k: (F.layer_norm, al.SAME, (
        *a, m.normalized_shape, m.weight, m.bias, m.eps), k),
    nn.MSELoss: lambda m, a, k: (F.mse_loss, al.BROADCAST, a, {**k, "reduction": m.reduction}),
    nn.L1Loss: lambda m, a, k: (F.l1_loss, al.BROADCAST, a, {**k, "reduction": m.reduction}),
    nn.BCELoss: lambda m, a, k: (F.binary_cross_entropy, al.BROADCAST, a, {
        **k, "weight": m.weight, "reduction": m.reduction}),
    nn.BCEWithLogitsLoss: lambda m, a, k: (F.binary_cross_entropy_with_logits, al.BROADCAST,
                                           a, {**k, "weight": m.weight,
                                               "pos_weight": m.pos_weight,
                                               "reduction": m.reduction}),
    nn.CrossEntropyLoss: lambda m, a, k: (F.cross_entropy, al.SHAPED, a, {
        **k, "weight": m.weight, "ignore_index": m.ignore_index, "reduction": m.reduction,
        "label_smoothing": m.label_smoothing}),
    nn.NLLLoss: lambda m, a, k: (F.nll_loss, al.SHAPED, a, {
        **k, "weight": m.weight, "ignore_index": m.ignore_index, "reduction": m.reduction}),
}
CLASSES: dict[str, type] = {cls.__name__: cls for cls in (*FORWARDS, nn.Sequential)}
# what a program may read of a module of the allowlist (its own class: what it set)
MODULE_ATTRIBUTES = frozenset(
    "weight bias in_features out_features training p dim inplace negative_slope "
    "num_embeddings embedding_dim padding_idx normalized_shape eps reduction start_dim "
    "end_dim ignore_index label_smoothing".split())
MODULE_METHODS = frozenset(
    "parameters named_parameters children named_children modules named_modules zero_grad "
    "train eval state_dict requires_grad_ forward double float".split())
INIT_FUNCTIONS = frozenset(
    "zeros_ ones_ constant_ normal_ uniform_ xavier_uniform_ xavier_normal_ "
    "kaiming_uniform_ kaiming_normal_ eye_ trunc_normal_ orthogonal_".split())
INIT_HELPERS = frozenset({"calculate_gain"})
OPTIMIZERS: dict[str, type] = {name: getattr(torch.optim, name)
                               for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")}
OPTIMIZER_METHODS = frozenset({"step", "zero_grad"})
# bytes of state per parameter byte an optimizer keeps (momentum buffers, moments)
_STATE = {"SGD": 1, "Adam": 3, "AdamW": 3, "RMSprop": 2, "Adagrad": 1}


def _identity(x: Any) -> Any:
    return x


@dataclass(frozen=True)
class BoundMethod:
    """A program's own method, taken from its module object (``self.helper``)."""

    function: UserFunction
    owner: Any


@dataclass(frozen=True)
class ProgramClass:
    """A program's ``class Net(nn.Module)``: the real class and its methods."""

    name: str
    cls: type
    methods: dict[str, UserFunction]


def parameter_bytes(name: str, args: tuple, kwargs: dict) -> int | None:
    """Bytes of the parameters ``nn.<name>(*args, **kwargs)`` makes (float32 unless a dtype
    says otherwise), worked out before it is made; None when the arguments do not say."""
    import inspect

    cls = CLASSES[name]
    if cls not in (nn.Linear, nn.Embedding, nn.LayerNorm):
        return 0
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs).arguments
    except TypeError:
        return None  # torch's own error follows
    dtype = bound.get("dtype") or torch.get_default_dtype()
    size = dtype.itemsize if isinstance(dtype, torch.dtype) else 8
    if cls is nn.Linear:
        sizes = [bound.get("in_features"), bound.get("out_features")]
    elif cls is nn.Embedding:
        sizes = [bound.get("num_embeddings"), bound.get("embedding_dim")]
    else:
        shape = bound.get("normalized_shape")
        sizes = [shape] if isinstance(shape, int) else list(shape or ())
        sizes = [math.prod(sizes), 2]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        return None
    return math.prod(sizes) * size + (sizes[1] * size if cls is nn.Linear else 0)


@contextlib.contextmanager
def global_generator(generator: torch.Generator) -> Iterator[None]:
    """torch's global generator, holding ``generator``'s state for the call (and giving it
    back after, with what the call drew), the process's own state kept aside."""
    with _RNG_LOCK:
        kept = torch.random.get_rng_state()
        torch.random.set_rng_state(generator.get_state())
        try:
            yield
        finally:
            generator.set_state(torch.random.get_rng_state())
            torch.random.set_rng_state(kept)


class Modules:
    """The torch.nn / torch.optim half of :class:`~autoviz.runner.interp.Interpreter`."""

    # ---- making modules, parameters, optimizers -----------------------------------------
    def _call_nn(self, func: _Function, args: tuple, kwargs: dict[str, Any],
                 node: ast.Call) -> Any:
        kind = func.kind
        if kind == "nn":
            return self._make_module(func, args, kwargs)
        if kind == "nn_parameter":
            return self._op(nn.Parameter, args, kwargs, al.SAME, node, "nn.Parameter")
        if kind == "nn_init":
            return self._init(func, args, kwargs)
        if kind == "optim":
            return self._make_optimizer(func, args, kwargs)
        if kind == "class":
            return self._instantiate(func.target, args, kwargs)
        if kind == "module_method":
            return self._module_method(func.target, func.short, args, kwargs, node)
        if kind == "optim_method":
            return self._optimizer_method(func.target, func.short, args, kwargs)
        raise self._refuse(f"{func.name} cannot be called here")

    def _make_module(self, func: _Function, args: tuple, kwargs: dict[str, Any]) -> Any:
        name = func.short
        for value in (*args, *kwargs.values()):
            if isinstance(value, (str, torch.device)) and name not in (
                    "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
                    "NLLLoss", "GELU"):
                self.budget._check_device(value, f"nn.{name}")
        if "device" in kwargs:
            self.budget._check_device(kwargs["device"], f"nn.{name}")
        if func.target is nn.Sequential:
            for item in args:
                if not isinstance(item, nn.Module):
                    raise _Failure(TypeError(f"{type(item).__name__} is not a Module "
                                             "subclass"))
            return self._fail_safe(nn.Sequential, *args, **kwargs)
        size = parameter_bytes(name, args, kwargs)
        if size is None:
            if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10_000
                   for v in (*args, *kwargs.values())):
                raise self._refuse(f"autoviz could not work out the size of what nn.{name} "
                                   "makes from these arguments, so it did not run it")
        elif size:
            self.budget._check_bytes(size // 4 or 1, 4, f"the parameters of nn.{name}")
            self.budget.count_bytes(size)
        with global_generator(self.generator):
            module = self._fail_safe(func.target, *args, **kwargs)
        self.budget.count_objects(len(list(module.parameters())))
        return module

    def _init(self, func: _Function, args: tuple, kwargs: dict[str, Any]) -> Any:
        if func.short in INIT_HELPERS:
            return self._fail_safe(func.target, *args, **kwargs)
        if not args or not isinstance(args[0], torch.Tensor):
            raise self._refuse(f"nn.init.{func.short} takes the tensor to fill first")
        tensor = args[0]
        if func.short in ("eye_", "orthogonal_") and tensor.dim() != 2:
            raise _Failure(ValueError("Only tensors with 2 dimensions are supported"))
        self.budget.flops += tensor.numel() * (tensor.shape[0] if func.short == "orthogonal_"
                                               else 1)
        with global_generator(self.generator):
            return self._fail_safe(func.target, *args, **kwargs)

    def _make_optimizer(self, func: _Function, args: tuple, kwargs: dict[str, Any]) -> Any:
        params = args[0] if args else kwargs.get("params")
        items = list(params) if isinstance(params, (list, tuple)) else params
        if not isinstance(items, list):
            raise self._refuse(f"{func.name} takes a list of tensors (model.parameters() or "
                               "[w, b])")
        for item in items:
            if not isinstance(item, (torch.Tensor, dict)):
                raise _Failure(TypeError(f"optimizer can only optimize Tensors, but one of "
                                         f"the params is {type(item).__name__}"))
        return self._fail_safe(func.target, items, *args[1:], **kwargs)

    def _optimizer_method(self, optimizer: torch.optim.Optimizer, name: str, args: tuple,
                          kwargs: dict[str, Any]) -> Any:
        if name == "zero_grad":
            return self._fail_safe(optimizer.zero_grad, *args, **kwargs)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        size = sum(p.numel() * p.element_size() for p in params)
        if not optimizer.state:  # the first step makes the state it keeps
            self.budget.count_bytes(size * _STATE.get(type(optimizer).__name__, 3))
        self.budget.flops += 12 * sum(p.numel() for p in params)
        if self.budget.flops > self.limits.total_flops:
            raise self._refuse(f"the program would take more than "
                               f"{self.limits.total_flops:.3g} floating-point operations in "
                               "all")
        if args or kwargs:
            raise self._refuse("optimizer.step(closure) is not supported; call backward "
                               "first, then step()")
        with self._capture():
            return self._fail_safe(optimizer.step)

    # ---- calling modules -----------------------------------------------------------------
    def _call_module(self, module: nn.Module, args: tuple, kwargs: dict[str, Any],
                     node: ast.AST | None) -> Any:
        own = self.classes.get(type(module))
        if own is not None:
            forward = own.methods.get("forward")
            if forward is None:
                raise _Failure(NotImplementedError(
                    f'Module [{own.name}] is missing the required "forward" function'))
            return self._call_user(forward, [module, *args], kwargs)
        if isinstance(module, nn.Sequential):
            if kwargs or len(args) != 1:
                raise _Failure(TypeError("Sequential.forward() takes 2 positional arguments"
                                         f" but {len(args) + 1} were given"))
            value = args[0]
            for child in module:
                self.budget.tick()
                value = self._call_module(child, (value,), {}, node)
            return value
        forward = FORWARDS.get(type(module))
        if forward is None:
            raise self._refuse(f"calling a {type(module).__name__} is not supported here")
        fn, category, call_args, call_kwargs = forward(module, args, kwargs)
        name = f"nn.{type(module).__name__}"
        if fn is F.dropout and module.training and module.p > 0:
            with global_generator(self.generator):
                return self._op(fn, call_args, call_kwargs, category, node, "F.dropout")
        return self._op(fn, call_args, call_kwargs, category, node,
                        {F.linear: "F.linear", F.embedding: "F.embedding",
                         F.cross_entropy: "F.cross_entropy", F.nll_loss: "F.nll_loss"
                         }.get(fn, name))

    def _module_member(self, module: nn.Module, attr: str) -> Any:
        """``module.attr``: a submodule, a parameter, what the program's own class set, a
        method of the allowlist or of the program's class."""
        if attr.startswith("_"):
            raise self._refuse(f"the attribute .{attr} of a module is not available")
        own = self.classes.get(type(module))
        if own is not None and attr in own.methods:
            return BoundMethod(own.methods[attr], module)
        if attr in MODULE_METHODS:
            return _Function("module_method", f".{attr}", module)
        if own is not None or attr in MODULE_ATTRIBUTES:
            found = module._parameters.get(attr, module._modules.get(
                attr, module._buffers.get(attr, _MISSING)))
            if found is _MISSING:
                found = module.__dict__.get(attr, _MISSING) if own is not None else getattr(
                    module, attr, _MISSING)
            if found is not _MISSING:
                return found
            raise _Failure(AttributeError(f"'{type(module).__name__}' object has no "
                                          f"attribute '{attr}'"))
        raise self._refuse(f"the module attribute .{attr} is not in autoviz's allowlist")

    def _module_method(self, module: nn.Module, name: str, args: tuple,
                       kwargs: dict[str, Any], node: ast.AST | None) -> Any:
        if name == "forward":
            return self._call_module(module, args, kwargs, node)
        if name in ("parameters", "named_parameters", "children", "named_children",
                    "modules", "named_modules"):
            # a list, not a generator: what a program does with them (loop, list(), hand
            # to an optimizer) is the same, and a list is a value the interpreter keeps
            found = list(self._fail_safe(getattr(module, name), *args, **kwargs))
            self._check_size(found)
            return found
        if name in ("double", "float"):
            size = sum(p.numel() for p in module.parameters())
            self.budget.count_bytes(size * (8 if name == "double" else 4))
        if name == "state_dict" and (args or kwargs):
            raise self._refuse("state_dict() takes no arguments here")
        return self._fail_safe(getattr(module, name), *args, **kwargs)

    # ---- a program's own class ---------------------------------------------------------
    def _classdef(self, node: ast.ClassDef) -> None:
        """``class Net(nn.Module):`` with plain methods (checked before the run)."""
        base = self._eval(node.bases[0])
        if base is not _MODULE_BASE:
            raise self._refuse(f"a class here subclasses nn.Module only, not "
                               f"{_describe(base)}")
        methods: dict[str, UserFunction] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef):
                methods[stmt.name] = self._function(stmt)
        cls = type(node.name, (nn.Module,), {"__module__": "__program__",
                                              "__qualname__": node.name})
        self.classes[cls] = ProgramClass(node.name, cls, methods)
        self._bind(node.name, _Function("class", node.name, cls))

    def _instantiate(self, cls: type, args: tuple, kwargs: dict[str, Any]) -> Any:
        own = self.classes[cls]
        instance = cls.__new__(cls)
        init = own.methods.get("__init__")
        if init is None:
            self._fail_safe(nn.Module.__init__, instance, *args, **kwargs)
        else:
            self._call_user(init, [instance, *args], kwargs)
        return instance

    def _super_init(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """``super().__init__()`` (or ``super(Net, self).__init__()``) in a method."""
        frame = self.frames[-1] if self.frames else None
        owner = next(iter(frame.values()), None) if frame else None
        if not isinstance(owner, nn.Module) or type(owner) not in self.classes:
            raise _Failure(RuntimeError("super(): no arguments"))
        self._fail_safe(nn.Module.__init__, owner, *args, **kwargs)

    def _store_module_attribute(self, module: nn.Module, attr: str, value: Any) -> None:
        if type(module) not in self.classes:
            raise self._refuse(f"cannot set .{attr} on a {type(module).__name__}; set "
                               "attributes in your own nn.Module class")
        if attr.startswith("_"):
            raise self._refuse(f"attributes starting with '_' cannot be set ({attr!r})")
        if not isinstance(value, (nn.Module, torch.Tensor, int, float, bool, str, type(None),
                                  list, tuple)):
            raise self._refuse(f"a module attribute holds modules, tensors, numbers, "
                               f"strings or lists, not {_describe(value)}")
        self._fail_safe(setattr, module, attr, value)

    def _name_parameters(self, name: str, module: nn.Module) -> None:
        """A module bound to ``name``: its parameters are ``name.fc1.weight``… in the
        graph (where no name of the program's holds them)."""
        catalog = self.program.catalog
        for pname, param in module.named_parameters():
            if not catalog.held(param):
                catalog.bind(f"{name}.{pname}", param, self.budget.lineno)


_MISSING = object()
# what ``nn.Module`` resolves to: a base for a program's class, nothing else
_MODULE_BASE = _Function("nn_base", "nn.Module", nn.Module)
