"""Resource accounting for one run: every cap is checked before the work is spent."""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import torch

from autoviz.runner.allowlist import BROADCAST, CREATE, MATMUL, META, RANDOM
from autoviz.runner.errors import ProgramError
from autoviz.runner.limits import Limits


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Tensors in a value, looking one level into lists and tuples (torch's own depth)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, torch.Tensor)]
    return []


def grad_fn_of(tensor: torch.Tensor) -> Any:
    """``tensor.grad_fn``, or None where torch refuses to say (a view made under no_grad
    and changed in place raises on access; torch's error comes when it is used)."""
    try:
        return tensor.grad_fn
    except RuntimeError:
        return None


def to_meta(value: Any) -> Any:
    """The same shapes/strides/dtypes on torch's ``meta`` device: no memory, no compute."""
    if isinstance(value, torch.Tensor):
        return torch.empty_strided(value.size(), value.stride(), dtype=value.dtype,
                                   device="meta")
    if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
        return type(value)(to_meta(v) for v in value)
    return value


MAX_NESTING = 32  # torch's indexing recurses into nested lists on the C stack


def python_size(value: Any, cap: int) -> int:
    """Number of scalars in nested lists/tuples/ranges, stopping once past ``cap``.

    Shared inner lists count every time they appear (``[a, a]`` is twice ``a``), as they do
    for whatever consumes them; nesting deeper than :data:`MAX_NESTING` counts as too big.
    """
    total = 0
    stack = [(value, 0)]
    while stack and total <= cap:
        item, depth = stack.pop()
        if isinstance(item, range):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            if depth >= MAX_NESTING:
                return cap + 1
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, torch.Tensor):
            total += item.numel()
        else:
            total += 1
    return total


def broadcast_numel(shapes: list[torch.Size]) -> int:
    """An upper bound on the element count of shapes broadcast together (torch's own
    ``broadcast_shapes`` goes through slow Python reference code)."""
    ndim = max((len(s) for s in shapes), default=0)
    total = 1
    for i in range(1, ndim + 1):
        total *= max((s[-i] for s in shapes if len(s) >= i), default=1)
    return total


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [i for v in value for i in _ints(v)]
    return []


def _size_args(args: tuple, kwargs: dict[str, Any]) -> list[int] | None:
    """The sizes of a factory call like ``zeros(3, 2)``, ``zeros((3, 2))``, ``size=(3,)``."""
    if kwargs and "size" in kwargs:
        sizes = kwargs["size"]
    elif len(args) == 1 and isinstance(args[0], (tuple, list)):
        sizes = args[0]
    else:
        sizes = args
    if isinstance(sizes, int):
        sizes = (sizes,)
    if not isinstance(sizes, (tuple, list)):
        return None
    for n in sizes:
        if n.__class__ is not int and (not isinstance(n, int) or isinstance(n, bool)):
            return None
    return list(sizes)


def _prod(sizes: Any) -> int:
    total = 1
    for n in sizes:
        n = int(n)
        total = total * n if n > 0 else 0
    return total


_FACTORIES = {"torch.zeros", "torch.ones", "torch.empty", "torch.randn", "torch.rand"}
_MATMULS = {"torch.matmul", "torch.mm", "torch.bmm", "torch.mv", "torch.dot", "torch.inner",
            ".matmul", ".mm", ".bmm", ".mv", ".dot", ".inner", "@"}


def shape_cost(name: str, args: tuple, kwargs: dict[str, Any]) -> tuple[int, float] | None:
    """(elements out, FLOPs) of common calls from shapes alone; None when not sure."""
    if name in _FACTORIES:
        sizes = _size_args(args, kwargs)
        if sizes is not None and len(sizes) > MAX_DIMS:
            return None  # the meta check refuses it (or torch does, cheaply)
        return None if sizes is None else (_prod(sizes), 0.0)
    if name == "torch.randint" and len(args) in (2, 3) and isinstance(args[-1], (tuple, list)):
        sizes = _size_args((args[-1],), {})
        return None if sizes is None else (_prod(sizes), 0.0)
    if name in _MATMULS and len(args) == 2 and isinstance(args[0], torch.Tensor) \
            and isinstance(args[1], torch.Tensor):
        a, b = args[0].shape, args[1].shape
        if not a or not b:
            return None
        batch = 1 if len(a) <= 2 and len(b) <= 2 else broadcast_numel([a[:-2], b[:-2]])
        rows = a[-2] if len(a) > 1 else 1
        cols = b[-1] if len(b) > 1 else 1
        out = batch * rows * cols
        return out, 2.0 * out * a[-1]
    if name in ("F.cross_entropy", "F.nll_loss") and args and isinstance(args[0], torch.Tensor):
        # a loss per sample at most (reduction="none"): never more elements than the input
        return args[0].numel(), 0.0
    if name == "F.linear" and len(args) >= 2 and all(
            isinstance(a, torch.Tensor) for a in args[:2]):
        x, w = args[0].shape, args[1].shape
        if not x or len(w) != 2:
            return None
        out = _prod(x[:-1]) * w[0]
        return out, 2.0 * out * x[-1]
    if name in ("torch.cat", "torch.stack", "torch.concat", "torch.hstack", "torch.vstack") \
            and args and isinstance(args[0], (list, tuple)):
        return sum(t.numel() for t in tensors_in(args[0])), 0.0
    return None


MAX_DIMS = 64  # torch's kernels slow to a crawl on tensors with thousands of dimensions
_META_CHECKED = frozenset({META, MATMUL, CREATE, RANDOM})
Tensor = torch.Tensor
_SCALARS = frozenset({int, float, bool, complex, str, type(None)})  # never hold a tensor


def _same_shapes(tensors: list[torch.Tensor]) -> bool:
    shape = tensors[0].shape
    return all(t.shape == shape for t in tensors)


def _tensor_args(args: tuple, kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors among a call's arguments (one level into lists and tuples)."""
    found = []
    for value in (*args, *kwargs.values()) if kwargs else args:
        cls = value.__class__
        if cls is Tensor:
            found.append(value)
        elif cls in _SCALARS:
            continue
        elif isinstance(value, Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(v for v in value if isinstance(v, Tensor))
    return found
SMALL = 10_000  # a call this small may run even when its cost could not be checked


class Budget:
    """Counts elements, FLOPs, graph nodes, statements and time for one run."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.elements = 0
        self.flops = 0.0
        self.depth: dict[Any, int] = {}  # grad_fn node -> depth from a leaf
        self.statements = 0
        self.deadline = time.monotonic() + limits.seconds
        self.lineno: int | None = None

    def refuse(self, message: str) -> ProgramError:
        return ProgramError(message, self.lineno)

    def tick(self) -> None:
        """One statement executed: check the statement count and the clock."""
        self.statements += 1
        if self.statements > self.limits.statements_executed:
            raise self.refuse(f"the program ran more than {self.limits.statements_executed:,} "
                              "statements (loops count every pass)")
        if time.monotonic() > self.deadline:
            raise self.refuse(f"the program ran longer than {self.limits.seconds:g} s")

    def _check_numel(self, numel: int, what: str) -> None:
        if numel > self.limits.tensor_elements:
            raise self.refuse(f"{what} would have {numel:,} elements; the limit per tensor is "
                              f"{self.limits.tensor_elements:,}")

    def before(self, category: str, args: tuple, kwargs: dict[str, Any], name: str,
               fn: Callable[..., Any]) -> None:
        """Refuse the call ``name(*args, **kwargs)`` if it would cost too much. ``fn`` is the
        call itself; for a ``meta``-checked category it is run on meta copies first."""
        if time.monotonic() > self.deadline:
            raise self.refuse(f"the program ran longer than {self.limits.seconds:g} s")
        if kwargs:
            if "out" in kwargs:
                raise self.refuse(f"{name}(..., out=...) is not supported; assign the result")
            values: tuple = (*args, *kwargs.values())
        else:
            values = args
        inputs = []
        for value in values:
            cls = value.__class__
            if cls is Tensor:
                inputs.append(value)
            elif cls in _SCALARS:
                continue
            elif isinstance(value, Tensor):
                inputs.append(value)
            elif isinstance(value, (list, tuple, range)):
                inputs.extend(tensors_in(value))
                cap = self.limits.container_items
                if python_size([v for v in value if not isinstance(v, Tensor)]
                               if not isinstance(value, range) else value, cap) > cap:
                    raise self.refuse(f"a list or range passed to {name} holds more than "
                                      f"{cap:,} numbers (or nests more than 32 deep)")
        limit = self.limits.tensor_elements
        total = 0
        for tensor in inputs:
            numel = tensor.numel()
            if numel > limit:
                self._check_numel(numel, f"an input of {name}")
            total += numel
        if category == BROADCAST:
            if len(inputs) > 1 and not (  # else no bigger than an input
                    inputs[0].shape == inputs[1].shape if len(inputs) == 2
                    else _same_shapes(inputs)):
                self._check_numel(broadcast_numel([t.shape for t in inputs]),
                                  f"the result of {name}")
        elif category in _META_CHECKED and name not in ("torch.tensor", "torch.as_tensor"):
            self._check_by_meta(category, args, kwargs, name, inputs, fn)
        self.flops += total
        if self.flops > self.limits.total_flops:
            raise self.refuse(f"the program would take more than {self.limits.total_flops:.3g}"
                              " floating-point operations in all")

    def _check_by_meta(self, category: str, args: tuple, kwargs: dict[str, Any], name: str,
                       inputs: list[torch.Tensor], fn: Callable[..., Any]) -> None:
        """Run the call on torch's meta device (shapes only) and check what it would make.

        The common cases are worked out from shapes first: a meta call costs tens of
        microseconds (torch runs Python reference code for it)."""
        quick = shape_cost(name, args, kwargs)
        if quick is not None:
            numel, flops = quick
            if numel > self.limits.tensor_elements:
                self._check_numel(numel, f"the result of {name}")
            if flops > self.limits.op_flops:
                raise self.refuse(f"{name} would take {flops:.3g} floating-point operations; "
                                  f"the limit per operation is {self.limits.op_flops:.3g}")
            self.flops += flops
            return
        meta_args = tuple(to_meta(a) for a in args)
        meta_kwargs = {k: to_meta(v) for k, v in kwargs.items() if k != "generator"}
        if not inputs and category in (CREATE, RANDOM):
            meta_kwargs["device"] = "meta"
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn(*meta_args, **meta_kwargs)
        except Exception as exc:
            small = SMALL
            if all(t.numel() <= small for t in inputs) and all(
                    abs(i) <= small for v in (*args, *kwargs.values()) for i in _ints(v)):
                return  # tiny: the real call raises torch's own message for these arguments
            raise self.refuse(f"autoviz could not check the size of {name} before running it "
                              f"({type(exc).__name__}: {exc})") from None
        outputs = tensors_in(result)
        for out in outputs:
            self._check_numel(out.numel(), f"the result of {name}")
        if category == MATMUL and inputs and inputs[0].dim() and outputs:
            flops = 2.0 * outputs[0].numel() * inputs[0].shape[-1]
            if flops > self.limits.op_flops:
                raise self.refuse(f"{name} would take {flops:.3g} floating-point operations; "
                                  f"the limit per operation is {self.limits.op_flops:.3g}")
            self.flops += flops

    def after(self, result: Any, args: tuple, kwargs: dict[str, Any], name: str) -> None:
        """Count what a call ``name(*args, **kwargs)`` produced against the totals."""
        if result.__class__ is Tensor:
            outputs: Any = (result,)
        else:
            outputs = tensors_in(result)
            if not outputs:
                return
        inputs: list[torch.Tensor] | None = None
        depths = self.depth
        limits = self.limits
        for out in outputs:
            try:
                node = out.grad_fn
            except RuntimeError:  # a no_grad view changed in place: torch says so when used
                node = None
            if inputs is None:
                inputs = _tensor_args(args, kwargs)
            if node is not None and node not in depths:
                deepest = 0
                for tensor in inputs:
                    below = depths.get(grad_fn_of(tensor), 0)
                    if below > deepest:
                        deepest = below
                depths[node] = deepest + 1
                if deepest >= limits.graph_depth:
                    raise self.refuse(f"the autograd graph would be more than "
                                      f"{limits.graph_depth:,} nodes deep")
            if out.dim() > MAX_DIMS:
                raise self.refuse(f"{name} made a tensor with {out.dim():,} dimensions; the "
                                  f"limit is {MAX_DIMS}")
            for tensor in inputs:
                if out is tensor:
                    break  # in-place: no new memory
            else:
                numel = out.numel()
                if numel > limits.tensor_elements:
                    self._check_numel(numel, f"the result of {name}")
                if out._base is None:
                    self.elements += numel
        if self.elements > limits.total_elements:
            self.count_elements(0)
        if len(depths) > limits.graph_nodes:
            raise self.refuse(f"the autograd graph would have more than "
                              f"{limits.graph_nodes:,} nodes")

    def count_elements(self, extra: int) -> None:
        """Add ``extra`` elements (e.g. gradients a backward recorded) to the total."""
        self.elements += extra
        if self.elements > self.limits.total_elements:
            raise self.refuse(f"the program made more than {self.limits.total_elements:,} "
                              "tensor elements in all")

    def remaining_elements(self) -> int:
        return max(0, self.limits.total_elements - self.elements)
