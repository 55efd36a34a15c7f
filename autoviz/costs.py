"""Resource accounting for one run: every cap is checked before the work is spent."""

from __future__ import annotations

import time
from typing import Any, Callable

import torch

from autoviz.allowlist import BROADCAST, CREATE, MATMUL, META, RANDOM
from autoviz.errors import ProgramError
from autoviz.limits import Limits


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


def python_size(value: Any, cap: int) -> int:
    """Number of scalars in nested lists/tuples/ranges, stopping once past ``cap``."""
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, range):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            total += 1
            stack.extend(item)
        elif isinstance(item, torch.Tensor):
            total += item.numel()
        else:
            total += 1
    return total


class Budget:
    """Counts elements, FLOPs, graph nodes, statements and time for one run."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.elements = 0
        self.flops = 0.0
        self.nodes = 0
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
               meta_call: Callable[[tuple, dict[str, Any]], Any]) -> None:
        """Refuse the call ``name(*args, **kwargs)`` if it would cost too much."""
        if time.monotonic() > self.deadline:
            raise self.refuse(f"the program ran longer than {self.limits.seconds:g} s")
        inputs = [t for v in (*args, *kwargs.values()) for t in tensors_in(v)]
        for tensor in inputs:
            self._check_numel(tensor.numel(), f"an input of {name}")
        if category == BROADCAST:
            try:
                shape = torch.broadcast_shapes(*(t.shape for t in inputs))
            except RuntimeError:
                return  # torch will raise its own message on the real call
            self._check_numel(shape.numel(), f"the result of {name}")
        elif category in (META, MATMUL, CREATE, RANDOM):
            if name in ("tensor", "as_tensor"):
                size = python_size(args[0] if args else kwargs.get("data"),
                                   self.limits.tensor_elements)
                self._check_numel(size, f"the result of {name}")
                return
            if category in (CREATE, RANDOM):
                meta_args, meta_kwargs = args, {**kwargs, "device": "meta"}
                meta_kwargs.pop("generator", None)
            else:
                meta_args = tuple(to_meta(a) for a in args)
                meta_kwargs = {k: to_meta(v) for k, v in kwargs.items()}
            try:
                with torch.no_grad():
                    result = meta_call(meta_args, meta_kwargs)
            except Exception:
                return  # the real call raises torch's own message, on its own arguments
            outputs = tensors_in(result)
            for out in outputs:
                self._check_numel(out.numel(), f"the result of {name}")
            if category == MATMUL and inputs and inputs[0].dim() and outputs:
                flops = 2.0 * outputs[0].numel() * inputs[0].shape[-1]
                if flops > self.limits.op_flops:
                    raise self.refuse(f"{name} would take {flops:.3g} floating-point "
                                      f"operations; the limit per operation is "
                                      f"{self.limits.op_flops:.3g}")
                self.flops += flops
        self.flops += sum(t.numel() for t in inputs)
        if self.flops > self.limits.total_flops:
            raise self.refuse(f"the program would take more than {self.limits.total_flops:.3g}"
                              " floating-point operations in all")

    def after(self, result: Any, args: tuple, name: str) -> None:
        """Count what a call produced against the totals."""
        inputs = {id(t) for v in args for t in tensors_in(v)}
        for out in tensors_in(result):
            if id(out) in inputs:
                continue  # in-place: no new memory
            self._check_numel(out.numel(), f"the result of {name}")
            if out._base is None:
                self.elements += out.numel()
            if grad_fn_of(out) is not None:
                self.nodes += 1
        if self.elements > self.limits.total_elements:
            raise self.refuse(f"the program made more than {self.limits.total_elements:,} "
                              "tensor elements in all")
        if self.nodes > self.limits.graph_nodes:
            raise self.refuse(f"the autograd graph would have more than "
                              f"{self.limits.graph_nodes:,} nodes")
