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
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from autoviz.runner import allowlist as al
from autoviz.runner.costs import module_paths, tensors_in
from autoviz.runner.pyvalues import _Generator
from autoviz.runner.values import BoundMethod, UserFunction, _describe, _Failure, _Function

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


def _input(m: nn.Module, args: tuple, kwargs: dict) -> Any:
    """The one input of ``m.forward(input)``, or Python's own TypeError for other
    arguments, naming torch's method (``Conv2d.forward() takes 2 positional...``)."""
    if len(args) == 1 and not kwargs:
        return args[0]

    def forward(self: Any, input: Any) -> Any:  # noqa: A002 - torch's parameter name
        return input

    forward.__qualname__ = type(m).forward.__qualname__
    try:
        return forward(m, *args, **kwargs)
    except TypeError as exc:
        raise _Failure(exc) from None


def _conv(fn: Callable[..., Any]) -> _Forward:
    """``nn.Conv1d/2d``: ``F.conv1d/2d(input, weight, bias, stride, padding, dilation,
    groups)``; with a ``padding_mode`` other than zeros, the input is first padded by
    ``F.pad`` (see :meth:`Modules._call_module`) and the convolution pads nothing."""
    def forward(m: Any, args: tuple, kwargs: dict) -> tuple:
        padding = m.padding if m.padding_mode == "zeros" else (0,) * len(m.kernel_size)
        return fn, al.MATMUL, (_input(m, args, kwargs), m.weight, m.bias, m.stride, padding,
                               m.dilation, m.groups), {}
    return forward


def _max_pool(fn: Callable[..., Any]) -> _Forward:
    def forward(m: Any, args: tuple, kwargs: dict) -> tuple:
        return fn, al.MATMUL, (_input(m, args, kwargs), m.kernel_size, m.stride, m.padding,
                               m.dilation), {"ceil_mode": m.ceil_mode,
                                             "return_indices": m.return_indices}
    return forward


def _own_forward(m: Any, args: tuple, kwargs: dict) -> tuple:
    """torch's own ``forward`` of ``m``, as one op: BatchNorm's normalizes with the batch's
    statistics (training) or the running ones (eval), and in training updates
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` in place, exactly as
    natively; its output has the input's shape. The parameters are handed to the op too
    (not passed on) so that they count among its inputs: the graph's depth, no_grad's
    notes."""
    x = _input(m, args, kwargs)
    params = [p for p in (m.weight, m.bias) if p is not None]

    def forward(value: Any, *_params: Any) -> Any:
        return m.forward(value)

    return forward, al.SAME, (x, *params), {}


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
    nn.SmoothL1Loss: lambda m, a, k: (F.smooth_l1_loss, al.BROADCAST, a, {
        **k, "reduction": m.reduction, "beta": m.beta}),
    nn.HuberLoss: lambda m, a, k: (F.huber_loss, al.BROADCAST, a, {
        **k, "reduction": m.reduction, "delta": m.delta}),
    nn.KLDivLoss: lambda m, a, k: (F.kl_div, al.BROADCAST, a, {
        **k, "reduction": m.reduction, "log_target": m.log_target}),
    nn.Softmin: lambda m, a, k: (F.softmin, al.SAME, (_input(m, a, k), m.dim),
                                 {"_stacklevel": 5}),
    nn.Hardtanh: lambda m, a, k: (F.hardtanh, al.SAME, (_input(m, a, k), m.min_val,
                                                        m.max_val, m.inplace), {}),
    nn.Conv1d: _conv(F.conv1d),
    nn.Conv2d: _conv(F.conv2d),
    nn.MaxPool1d: _max_pool(F.max_pool1d),
    nn.MaxPool2d: _max_pool(F.max_pool2d),
    nn.AvgPool1d: lambda m, a, k: (F.avg_pool1d, al.MATMUL, (
        _input(m, a, k), m.kernel_size, m.stride, m.padding, m.ceil_mode,
        m.count_include_pad), {}),
    nn.AvgPool2d: lambda m, a, k: (F.avg_pool2d, al.MATMUL, (
        _input(m, a, k), m.kernel_size, m.stride, m.padding, m.ceil_mode,
        m.count_include_pad, m.divisor_override), {}),
    nn.BatchNorm1d: _own_forward,
    nn.BatchNorm2d: _own_forward,
}
# the functional calls above that are sized by a rule: their rule's name
_RULE_NAMES = {fn: f"F.{name}" for name, fn in vars(F).items()
               if al.F_FUNCTIONS.get(name) in (al.SHAPED, al.MATMUL)}
CLASSES: dict[str, type] = {cls.__name__: cls for cls in (*FORWARDS, nn.Sequential,
                                                          nn.ModuleList)}
# modules whose arguments hold strings that are not devices (reduction="mean")
MAX_GROUPS = 64  # parameter groups of one optimizer
MAX_GROUP_PARAMS = 20_000  # parameters in all its groups
MAX_PREFIX = 200  # characters of named_modules(prefix=...) and friends
# module classes whose constructors take tensors (a loss's class weights)
_TENSOR_ARGUMENTS = frozenset({nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss,
                               nn.NLLLoss, nn.Sequential, nn.ModuleList})
_STRING_ARGUMENTS = frozenset(
    "MSELoss L1Loss BCELoss BCEWithLogitsLoss CrossEntropyLoss NLLLoss GELU SmoothL1Loss "
    "HuberLoss KLDivLoss".split())
# what a program may read of a module of the allowlist (its own class: what it set)
MODULE_ATTRIBUTES = frozenset(
    "weight bias in_features out_features training p dim inplace negative_slope "
    "num_embeddings embedding_dim padding_idx normalized_shape eps reduction start_dim "
    "end_dim ignore_index label_smoothing "
    "running_mean running_var num_batches_tracked momentum affine track_running_stats "
    "num_features in_channels out_channels kernel_size stride padding dilation groups "
    "padding_mode ceil_mode return_indices count_include_pad divisor_override beta delta "
    "log_target min_val max_val".split())
MODULE_METHODS = frozenset(
    "parameters named_parameters children named_children modules named_modules zero_grad "
    "train eval state_dict requires_grad_ forward double float apply to cpu "
    "register_forward_hook register_forward_pre_hook".split())
# what a program may call on an nn.ModuleList, besides the methods of every module
MODULE_LIST_METHODS = frozenset({"append", "extend", "insert"})
# module methods that give torch's generators (drawn by the interpreter, one at a time)
_GENERATORS = frozenset("parameters named_parameters children named_children modules "
                        "named_modules".split())
INIT_FUNCTIONS = frozenset(
    "zeros_ ones_ constant_ normal_ uniform_ xavier_uniform_ xavier_normal_ "
    "kaiming_uniform_ kaiming_normal_ eye_ trunc_normal_ orthogonal_".split())
INIT_HELPERS = frozenset({"calculate_gain"})
OPTIMIZERS: dict[str, type] = {name: getattr(torch.optim, name)
                               for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")}
OPTIMIZER_METHODS = frozenset({"step", "zero_grad"})
SCHEDULERS: dict[str, type] = {name: getattr(torch.optim.lr_scheduler, name) for name in (
    "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR")}
SCHEDULER_METHODS = frozenset({"step", "get_last_lr"})
SCHEDULER_ATTRIBUTES = frozenset({"last_epoch", "base_lrs"})
NN_UTILS = frozenset({"clip_grad_norm_", "clip_grad_value_"})
# torch.cuda here: no GPU (tensors live on the CPU), as natively on a machine without one
CUDA_FUNCTIONS: dict[str, Any] = {"is_available": False, "device_count": 0,
                                  "manual_seed": None, "manual_seed_all": None}
# bytes of state per parameter byte an optimizer keeps (momentum buffers, moments)
_STATE = {"SGD": 1, "Adam": 3, "AdamW": 3, "RMSprop": 2, "Adagrad": 1}


def _identity(x: Any) -> Any:
    return x


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
    if cls not in (nn.Linear, nn.Embedding, nn.LayerNorm, *_CONVOLUTIONS, *_BATCH_NORMS):
        return 0
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs).arguments
    except TypeError:
        return None  # torch's own error follows
    dtype = bound.get("dtype") or torch.get_default_dtype()
    size = dtype.itemsize if isinstance(dtype, torch.dtype) else 8
    if cls in _CONVOLUTIONS:
        return _conv_bytes(_CONVOLUTIONS[cls], bound, size)
    if cls in _BATCH_NORMS:  # weight, bias, running_mean, running_var; the batch count
        features = bound.get("num_features")
        if not isinstance(features, int) or isinstance(features, bool) or features < 0:
            return None
        return 4 * features * size + 8
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


_CONVOLUTIONS = {nn.Conv1d: 1, nn.Conv2d: 2}  # class -> spatial dimensions
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _conv_bytes(dims: int, bound: dict[str, Any], size: int) -> int | None:
    """Bytes of a convolution's weight ``(out, in / groups, *kernel)`` and bias ``(out,)``."""
    kernel = bound.get("kernel_size")
    kernel = [kernel] * dims if isinstance(kernel, int) else kernel
    sizes = [bound.get("in_channels"), bound.get("out_channels"), bound.get("groups", 1)]
    if not isinstance(kernel, (tuple, list)):
        return None
    sizes.extend(kernel)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes):
        return None
    channels, out, groups = sizes[:3]
    if groups < 1:
        return None  # torch's own error follows
    weight = out * (channels // groups) * math.prod(sizes[3:])
    return (weight + (out if bound.get("bias", True) else 0)) * size


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
        if kind == "lr_scheduler":
            return self._make_scheduler(func, args, kwargs)
        if kind == "scheduler_method":
            return self._scheduler_method(func.target, func.short, args, kwargs)
        if kind == "nn_utils":
            return self._clip_grad(func, args, kwargs, node)
        if kind == "device":
            return self._make_device(args, kwargs)
        if kind == "cuda":
            self._fail_safe(_cuda_stub(func.short), *args, **kwargs)
            return CUDA_FUNCTIONS[func.short]
        raise self._refuse(f"{func.name} cannot be called here")

    def _make_module(self, func: _Function, args: tuple, kwargs: dict[str, Any]) -> Any:
        name = func.short
        for value in (*args, *kwargs.values()):
            if isinstance(value, (str, torch.device)) and name not in _STRING_ARGUMENTS:
                self.budget._check_device(value, f"nn.{name}")
        if "device" in kwargs:
            self.budget._check_device(kwargs["device"], f"nn.{name}")
        if func.target is nn.Sequential:
            for item in args:
                if not isinstance(item, nn.Module):
                    raise _Failure(TypeError(f"{type(item).__name__} is not a Module "
                                             "subclass"))
            return self._fail_safe(nn.Sequential, *args, **kwargs)
        if func.target is nn.ModuleList:
            if args and args[0].__class__ is _Generator:  # nn.ModuleList(m for m in ...)
                args = (self._materialize(args[0], "nn.ModuleList()"), *args[1:])
            return self._fail_safe(nn.ModuleList, *args, **kwargs)
        if func.target not in _TENSOR_ARGUMENTS and any(
                tensors_in(v) for v in (*args, *kwargs.values())):
            raise self._refuse(f"nn.{name} takes its sizes as whole numbers here, not tensors")
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
        if params.__class__ is _Generator:  # model.parameters()
            params = self._materialize(params, func.name)
        items = list(params) if isinstance(params, (list, tuple)) else params
        if not isinstance(items, list):
            raise self._refuse(f"{func.name} takes a list of tensors (model.parameters() or "
                               "[w, b])")
        for item in items:
            if not isinstance(item, (torch.Tensor, dict)):
                raise _Failure(TypeError(f"optimizer can only optimize Tensors, but one of "
                                         f"the params is {type(item).__name__}"))
            if isinstance(item, dict) and item.get("params").__class__ is _Generator:
                # a parameter group's own list, as torch makes it (in the program's dict)
                item["params"] = self._materialize(item["params"], func.name)
        kwargs = {k: v for k, v in kwargs.items() if k != "params"}
        optimizer = self._fail_safe(func.target, items, *args[1:], **kwargs)
        self._check_groups(optimizer)
        return optimizer

    def _check_groups(self, optimizer: torch.optim.Optimizer) -> None:
        """Each parameter group (the program may change them through ``param_groups``)
        holds tensors, and hyperparameters that are numbers, flags, text or a tensor of
        one element (a tensor ``lr``): nothing that would make the step's work bigger."""
        groups = optimizer.param_groups
        if len(groups) > MAX_GROUPS:
            raise self._refuse(f"the optimizer has {len(groups):,} parameter groups; the "
                               f"limit here is {MAX_GROUPS}")
        total, seen = 0, set()
        for group in groups:
            if id(group) in seen:
                raise self._refuse("a parameter group is in the optimizer twice")
            seen.add(id(group))
            params = group.get("params")
            total += len(params) if isinstance(params, (list, tuple)) else 1
            if total > MAX_GROUP_PARAMS:
                raise self._refuse(f"the optimizer's groups hold more than "
                                   f"{MAX_GROUP_PARAMS:,} parameters in all")
        for group in groups:
            for key, value in group.items():
                if key == "params" or value is None or isinstance(value, (
                        bool, int, float, str)):
                    continue
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    continue
                if isinstance(value, tuple) and len(value) <= 4 and all(
                        isinstance(v, (int, float)) or (isinstance(v, torch.Tensor)
                                                        and v.numel() == 1) for v in value):
                    continue  # betas
                raise self._refuse(f"the optimizer's {key!r} is {_describe(value)}; here it "
                                   "is a number (or a tensor of one element)")

    def _optimizer_method(self, optimizer: torch.optim.Optimizer, name: str, args: tuple,
                          kwargs: dict[str, Any]) -> Any:
        self._check_groups(optimizer)
        if name == "zero_grad":
            return self._fail_safe(optimizer.zero_grad, *args, **kwargs)
        params = [p for group in optimizer.param_groups for p in group["params"]
                  if isinstance(p, torch.Tensor)]
        # the state a step keeps (momentum buffers, moments): counted once per parameter,
        # the first time a step may make it
        counted = self.__dict__.setdefault("optimizer_state", weakref.WeakKeyDictionary())
        seen = counted.setdefault(optimizer, set())
        new = [p for p in params if id(p) not in seen]
        seen.update(id(p) for p in new)
        self.budget.count_bytes(sum(p.numel() * p.element_size() for p in new)
                                * _STATE.get(type(optimizer).__name__, 3))
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

    def _make_scheduler(self, func: _Function, args: tuple, kwargs: dict[str, Any]) -> Any:
        """``StepLR(optimizer, step_size=3, gamma=0.5)`` and friends: torch's own, its
        arguments plain numbers (and a list of milestones)."""
        for key, value in (*enumerate(args[1:]), *kwargs.items()):
            if key == "optimizer":
                continue
            items = value if isinstance(value, (list, tuple)) else (value,)
            if not all(v is None or isinstance(v, (bool, int, float, str)) for v in items):
                raise self._refuse(f"{func.name} takes numbers here (and a list of "
                                   f"milestones), not {_describe(value)}")
        with self._capture():  # its first step: torch's own warnings, as the program's
            scheduler = self._fail_safe(func.target, *args, **kwargs)
        self._check_groups(scheduler.optimizer)
        return scheduler

    def _scheduler_member(self, scheduler: Any, attr: str) -> Any:
        if attr in SCHEDULER_METHODS:
            return _Function("scheduler_method", f".{attr}", scheduler)
        if attr in SCHEDULER_ATTRIBUTES:
            return getattr(scheduler, attr)
        raise self._refuse(f"the scheduler attribute .{attr} is not in autoviz's allowlist")

    def _scheduler_method(self, scheduler: Any, name: str, args: tuple,
                          kwargs: dict[str, Any]) -> Any:
        if name == "get_last_lr":
            return self._check_python(self._fail_safe(scheduler.get_last_lr, *args, **kwargs))
        if not all(v is None or isinstance(v, (int, float)) for v in (*args,
                                                                      *kwargs.values())):
            raise self._refuse("scheduler.step() takes no arguments here (or an epoch number)")
        self._check_groups(scheduler.optimizer)
        with self._capture():  # "lr_scheduler.step() before optimizer.step()" and friends
            return self._fail_safe(scheduler.step, *args, **kwargs)

    def _clip_grad(self, func: _Function, args: tuple, kwargs: dict[str, Any],
                   node: ast.AST | None) -> Any:
        """``nn.utils.clip_grad_norm_(model.parameters(), max_norm)`` and
        ``clip_grad_value_``: torch's own, on the parameters' ``.grad``, costed as one
        op over them (the grads have the parameters' shapes)."""
        if "parameters" in kwargs:
            args, kwargs = (kwargs["parameters"], *args), {
                k: v for k, v in kwargs.items() if k != "parameters"}
        if args and args[0].__class__ is _Generator:
            args = (self._materialize(args[0], func.name), *args[1:])
        return self._op(func.target, args, kwargs, al.SAME, node, func.name)

    def _make_device(self, args: tuple, kwargs: dict[str, Any]) -> torch.device:
        """``torch.device("cpu")``: a value; any other device is refused (tensors here live
        on the CPU only)."""
        device = self._fail_safe(torch.device, *args, **kwargs)
        self.budget._check_device(device, "torch.device")
        return device

    # ---- calling modules -----------------------------------------------------------------
    def _call_module(self, module: nn.Module, args: tuple, kwargs: dict[str, Any],
                     node: ast.AST | None) -> Any:
        """``module(x)``: its forward pre-hooks, its forward, its forward hooks, as torch's
        ``Module.__call__`` runs them (the hooks the program registered)."""
        pre, post = module._forward_pre_hooks, module._forward_hooks
        if not pre and not post:
            return self._forward_of(module, args, kwargs, node)
        for hook in list(pre.values()):
            changed = hook(module, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        output = self._forward_of(module, args, kwargs, node)
        for hook in list(post.values()):
            changed = hook(module, args, output)
            if changed is not None:
                output = changed
        return output

    def _forward_of(self, module: nn.Module, args: tuple, kwargs: dict[str, Any],
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
        if isinstance(module, nn.ModuleList):  # a container: torch's own error
            raise _Failure(NotImplementedError(
                'Module [ModuleList] is missing the required "forward" function'))
        forward = FORWARDS.get(type(module))
        if forward is None:
            raise self._refuse(f"calling a {type(module).__name__} is not supported here")
        fn, category, call_args, call_kwargs = forward(module, args, kwargs)
        name = f"nn.{type(module).__name__}"
        if fn is F.dropout and module.training and module.p > 0:
            with global_generator(self.generator):
                return self._op(fn, call_args, call_kwargs, category, node, "F.dropout")
        if type(module) in _CONVOLUTIONS and module.padding_mode != "zeros":
            # torch pads the input first (reflect, replicate, circular), then convolves
            padded = self._op(F.pad, (call_args[0], module._reversed_padding_repeated_twice),
                              {"mode": module.padding_mode}, al.SHAPED, node, "F.pad")
            call_args = (padded, *call_args[1:])
        return self._op(fn, call_args, call_kwargs, category, node, _RULE_NAMES.get(fn, name))

    def _module_member(self, module: nn.Module, attr: str) -> Any:
        """``module.attr``: a submodule, a parameter, what the program's own class set, a
        method of the allowlist or of the program's class."""
        if attr.startswith("_"):
            raise self._refuse(f"the attribute .{attr} of a module is not available")
        own = self.classes.get(type(module))
        if own is not None and attr in own.methods:
            return BoundMethod(own.methods[attr], module)
        if attr in MODULE_METHODS or (attr in MODULE_LIST_METHODS
                                      and isinstance(module, nn.ModuleList)):
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
        if name == "forward":  # called directly: no hooks, as natively
            return self._forward_of(module, args, kwargs, node)
        if name in ("register_forward_hook", "register_forward_pre_hook"):
            if len(args) != 1 or kwargs or args[0].__class__ not in (UserFunction,
                                                                     BoundMethod):
                raise self._refuse(f"{name}() takes a function of the program (a def or a "
                                   "lambda) here, and no options")
            handle = self._fail_safe(getattr(module, name), self._as_callable(args[0]))
            self.handles.append(handle)
            return handle
        prefix = kwargs.get("prefix", args[1] if name != "state_dict" and len(args) > 1
                            else "")
        if isinstance(prefix, str) and len(prefix) > MAX_PREFIX:
            raise self._refuse(f"a prefix of more than {MAX_PREFIX} characters is not "
                               "allowed here (every name drawn carries it)")
        if name in ("state_dict", "named_modules", "modules", "named_buffers", "buffers"):
            cap = self.limits.container_items  # they walk shared children again and again
            if module_paths(module, cap) > cap:
                raise self._refuse(f"{name}() of this module would walk more than {cap:,} "
                                   "submodules (the same ones shared many times)")
        if name in _GENERATORS:
            # torch's generator, drawn one item at a time by the interpreter (a for loop,
            # list(), next(), an optimizer), each item counted where it is drawn
            return _Generator(self._fail_safe(getattr(module, name), *args, **kwargs),
                              kind="generator")
        if name in MODULE_LIST_METHODS:
            return self._module_list_method(module, name, args, kwargs)
        if name == "apply":  # fn(m) for every submodule, then the module itself
            if len(args) + len(kwargs) != 1 or (kwargs and "fn" not in kwargs):
                return self._fail_safe(module.apply, *args, **kwargs)  # Python's TypeError
            fn = args[0] if args else kwargs["fn"]
            self._fail_safe(module.apply, self._as_callable(fn))
            return module
        if name in ("to", "cpu"):
            return self._module_to(module, name, args, kwargs)
        if name in ("double", "float"):
            size = sum(p.numel() for p in module.parameters())
            self.budget.count_bytes(size * (8 if name == "double" else 4))
        if name == "state_dict" and (args or kwargs):
            raise self._refuse("state_dict() takes no arguments here")
        return self._fail_safe(getattr(module, name), *args, **kwargs)

    def _module_list_method(self, module: nn.ModuleList, name: str, args: tuple,
                            kwargs: dict[str, Any]) -> Any:
        """``layers.append(m)``, ``.extend(ms)``, ``.insert(i, m)``: torch's own (which
        checks each is a module), the list kept under the cap on one list."""
        if name == "extend" and args and args[0].__class__ is _Generator:
            args = (self._materialize(args[0], "ModuleList.extend()"), *args[1:])
        more = len(args[0]) if name == "extend" and args and isinstance(
            args[0], (list, tuple, nn.ModuleList, nn.Sequential)) else 1
        if len(module) + more > self.limits.container_items:
            raise self._refuse(f"the ModuleList would hold more than "
                               f"{self.limits.container_items:,} modules")
        self._count_items(more)
        return self._fail_safe(getattr(module, name), *args, **kwargs)

    def _module_to(self, module: nn.Module, name: str, args: tuple,
                   kwargs: dict[str, Any]) -> nn.Module:
        """``model.to(device)`` / ``.to(dtype)`` / ``.cpu()``: the CPU only; a new dtype
        makes new parameters (counted)."""
        for value in (*args, *kwargs.values()):
            if isinstance(value, (str, torch.device)):
                self.budget._check_device(value, f".{name}")
            dtype = value.dtype if isinstance(value, torch.Tensor) else value
            if isinstance(dtype, torch.dtype):
                size = sum(p.numel() for p in module.parameters())
                self.budget.count_bytes(size * dtype.itemsize)
            if isinstance(value, torch.Tensor) and value.device.type != "cpu":
                self.budget._check_device(value.device, f".{name}")
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
                if stmt.name not in ("__init__", "forward") and hasattr(nn.Module, stmt.name):
                    self.budget.lineno = stmt.lineno
                    raise self._refuse(f"a method here cannot be named like nn.Module's own "
                                       f".{stmt.name}() (torch would not call yours); pick "
                                       "another name")
                methods[stmt.name] = self._function(stmt)
        cls = type(node.name, (nn.Module,), {"__module__": "__main__",
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
            returned = self._call_user(init, [instance, *args], kwargs)
            if returned is not None:
                raise _Failure(TypeError(f"__init__() should return None, not "
                                         f"'{type(returned).__name__}'"))
        return instance

    def _super_init(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """``super().__init__()`` (or ``super(Net, self).__init__()``) in a method."""
        frame = self.frames[-1] if self.frames else None
        owner = next(iter(frame.values()), None) if frame else None
        own = self.classes.get(type(owner)) if isinstance(owner, nn.Module) else None
        running = self.running[-1] if self.running else None
        if own is None or not any(running is m for m in own.methods.values()):
            # outside a method of the class (a plain function), as Python says it
            raise _Failure(RuntimeError("super(): __class__ cell not found"))
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


def _cuda_stub(name: str) -> Callable[..., None]:
    """A function taking what ``torch.cuda.<name>`` takes, for Python's own TypeError
    (``is_available() takes 0 positional arguments but 1 was given``); the seeds are
    checked as torch checks them (``int(seed)``) and, with no GPU, go nowhere."""
    if name.startswith("manual_seed"):
        def stub(seed: Any) -> None:
            int(seed)
    else:
        def stub() -> None:
            return None
    stub.__qualname__ = name
    return stub


_MISSING = object()
# what ``nn.Module`` resolves to: a base for a program's class, nothing else
_MODULE_BASE = _Function("nn_base", "nn.Module", nn.Module)
