"""Resource accounting for one run: every cap is checked before the work is spent.

Sizes are worked out from shapes and dtypes alone (never by running anything, not even on
torch's ``meta`` device, whose Python code imports and configures parts of torch): an
upper bound on the bytes each call makes, the FLOPs of a matmul, the depth of the
autograd graph (in-place ops included), the characters text will take before it is made.
"""

from __future__ import annotations

import math
import time
import weakref
from typing import Any

import torch

from autoviz.autograd.catalog import version
from autoviz.runner.allowlist import CREATE, MATMUL, RANDOM, SHAPED
from autoviz.runner.errors import ProgramError
from autoviz.runner.limits import Limits

Tensor = torch.Tensor
MAX_NESTING = 32  # torch's indexing recurses into nested lists on the C stack
MAX_DIMS = 64  # torch's kernels slow to a crawl on tensors with thousands of dimensions
SMALL = 10_000  # a call this small may run even when its size could not be worked out


def tensors_in(value: Any) -> list[torch.Tensor]:
    """Tensors in a value, looking one level into lists and tuples (torch's own depth)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, torch.Tensor)]
    return []


def tensors_of(args: tuple, kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors among a call's arguments, one level into lists and tuples."""
    found = []
    for value in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(value, Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(v for v in value if isinstance(v, Tensor))
    return found


def python_size(value: Any, cap: int) -> int:
    """Size of nested lists/tuples/ranges, stopping once past ``cap``: one per scalar, and
    a string one per 8 characters (at least one).

    Shared inner lists count every time they appear (``[a, a]`` is twice ``a``), as they do
    for whatever consumes them; nesting deeper than :data:`MAX_NESTING` counts as too big.
    """
    total = 0
    stack = [(value, 0)]
    while stack and total <= cap:
        item, depth = stack.pop()
        if isinstance(item, range):
            total += _range_len(item, cap)
        elif isinstance(item, (list, tuple)):
            if depth >= MAX_NESTING:
                return cap + 1
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, _MAPPINGS):  # a dict's keys and values, a set's items
            if depth >= MAX_NESTING:
                return cap + 1
            stack.extend((v, depth + 1) for v in item)
            if isinstance(item, dict):
                stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, torch.Tensor):
            total += item.numel()
        elif isinstance(item, str):
            total += 1 + len(item) // 8
        else:
            total += 1
    return total


# dicts, sets and a dict's views: sized and written out like the lists they hold
_MAPPINGS = (dict, set, frozenset, type({}.keys()), type({}.values()), type({}.items()))


def _range_len(value: range, cap: int) -> int:
    try:
        return len(value)
    except OverflowError:  # longer than a C ssize_t
        return cap + 1


def formatted_elements(tensor: torch.Tensor, threshold: int, edgeitems: int) -> int:
    """How many numbers torch's ``str(tensor)`` writes: all of them up to ``threshold``,
    else at most ``2 * edgeitems`` along each dimension (every one when no dimension is
    longer than that, which is how an 8-d tensor of 6s prints 1.7 million numbers)."""
    numel = tensor.numel()
    if numel <= threshold:
        return numel
    return math.prod(min(n, 2 * edgeitems) for n in tensor.shape)


def module_paths(module: Any, cap: int) -> int:
    """How many (module, path) pairs a walk of ``module``'s children meets without
    de-duplicating (what ``state_dict()``, ``repr`` and ``named_modules(remove_duplicate=
    False)`` walk), counted up to just past ``cap`` (a tree of shared children grows
    exponentially)."""
    count, stack = 0, [module]
    while stack:
        count += 1
        if count > cap:
            return count
        stack.extend(stack.pop()._modules.values())
    return count


def text_floor(value: Any, threshold: int, edgeitems: int, cap: int) -> int:
    """A lower bound on the characters ``str(value)`` takes, stopping once past ``cap``:
    a tensor at least two per number it writes, a string its length, a list two per item
    (a list inside itself is written ``[...]``, as Python does)."""

    def floor(item: Any, depth: int, inside: tuple[int, ...], total: int) -> int:
        cls = item.__class__
        if cls is str:
            return total + len(item)
        if isinstance(item, torch.Tensor):
            return total + 2 * formatted_elements(item, threshold, edgeitems)
        if isinstance(item, torch.nn.Module):  # a line per submodule, shared ones again
            return total + 16 * module_paths(item, cap)
        key = id(item)
        if isinstance(item, _MAPPINGS):  # {k: v, ...}: its keys and values, as a list's
            if key in inside:
                return total + 5
            item = [*item, *item.values()] if isinstance(item, dict) else list(item)
        elif not isinstance(item, (list, tuple)) or isinstance(item, torch.Size):
            return total + 1
        if key in inside:
            return total + 5
        if depth >= MAX_NESTING:
            return cap + 1
        total += 2 * len(item)
        inside = (*inside, key)
        for sub in item:
            if total > cap:
                break
            total = floor(sub, depth + 1, inside, total)
        return total

    return floor(value, 0, (), 0)


def broadcast_numel(shapes: list[Any]) -> int:
    """An upper bound on the element count of shapes broadcast together (torch's own
    ``broadcast_shapes`` goes through slow Python reference code)."""
    ndim = max((len(s) for s in shapes), default=0)
    total = 1
    for i in range(1, ndim + 1):
        total *= max((s[-i] for s in shapes if len(s) >= i), default=1)
    return total


def _int(value: Any) -> int | None:
    """A whole number as torch takes one for a size: an int, or a one-element integer
    tensor (``torch.zeros(torch.tensor(3))``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and not value.is_complex() and value.dtype is not torch.bool:
        return int(value)
    return None


def _ints(value: Any) -> list[int]:
    number = _int(value)
    if number is not None:
        return [number]
    if isinstance(value, (list, tuple)):
        return [i for v in value for i in _ints(v)]
    return []


def _size_args(args: tuple, kwargs: dict[str, Any], key: str = "size") -> list[int] | None:
    """The sizes of a factory call like ``zeros(3, 2)``, ``zeros((3, 2))``, ``size=(3,)``."""
    if kwargs and key in kwargs:
        sizes = kwargs[key]
    elif len(args) == 1 and isinstance(args[0], (tuple, list)):
        sizes = args[0]
    else:
        sizes = args
    if _int(sizes) is not None:
        sizes = (sizes,)
    if not isinstance(sizes, (tuple, list)) or len(sizes) > MAX_DIMS:
        return None
    found = [_int(n) for n in sizes]
    return None if any(n is None for n in found) else found  # type: ignore[return-value]


def _prod(sizes: Any) -> int:
    total = 1
    for n in sizes:
        n = int(n)
        total = total * n if n > 0 else 0
    return total


def _number(value: Any) -> float | None:
    if isinstance(value, Tensor):
        return float(value) if value.numel() == 1 and not value.is_complex() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _arg(args: tuple, kwargs: dict[str, Any], index: int, key: str) -> Any:
    if key in kwargs:
        return kwargs[key]
    return args[index] if len(args) > index else None


def _arange_count(args: tuple, kwargs: dict[str, Any]) -> int | None:
    values = [_number(v) for v in args[:3]]
    if len(values) == 1:
        values = [0.0, *values]
    start = _number(kwargs["start"]) if "start" in kwargs else (values[0] if values else 0.0)
    end = _number(kwargs["end"]) if "end" in kwargs else (values[1] if len(values) > 1
                                                            else None)
    step = _number(kwargs["step"]) if "step" in kwargs else (values[2] if len(values) > 2
                                                               else 1.0)
    if start is None or end is None or step is None or step == 0:
        return None
    count = (end - start) / step
    if not math.isfinite(count):
        return None
    return max(0, math.ceil(count))


def _matmul(name: str, a: torch.Size, b: torch.Size) -> tuple[int, float] | None:
    """(elements out, FLOPs) of a matrix product of shapes ``a`` and ``b``."""
    if not a or not b:
        return None
    if name.endswith("inner"):
        out = _prod(a[:-1]) * _prod(b[:-1])
        return out, 2.0 * out * a[-1]
    batch = 1 if len(a) <= 2 and len(b) <= 2 else broadcast_numel([a[:-2], b[:-2]])
    rows = a[-2] if len(a) > 1 else 1
    cols = b[-1] if len(b) > 1 else 1
    out = batch * rows * cols
    return out, 2.0 * out * a[-1]


def _list_shape(value: Any) -> tuple[int, ...]:
    """An upper bound on the shape torch gives a nested list (or range) used as an index:
    each level as long as its longest item (a tensor inside adds its own shape)."""
    if isinstance(value, range):
        return (_range_len(value, 2**62),)
    if isinstance(value, Tensor):
        return tuple(value.shape)
    if not isinstance(value, (list, tuple)) or not value:
        return (len(value),) if isinstance(value, (list, tuple)) else ()
    inner: list[int] = []
    for item in value[:1000]:  # python_size already bounds the whole list
        shape = _list_shape(item)
        for i, n in enumerate(shape):
            if i < len(inner):
                inner[i] = max(inner[i], n)
            else:
                inner.append(n)
    # torch takes only rectangular lists (a ragged one is refused before anything is
    # made), so the first thousand items give the shape of the rest
    return (len(value), *inner)


def _index_numel(tensor: Tensor, index: Any) -> int:
    """An upper bound on the elements of ``tensor[index]``: the dimensions basic indexing
    keeps, at full size, times the advanced indices broadcast together (a mask counts as
    many as it has elements)."""
    if isinstance(index, list) and any(isinstance(p, (Tensor, list, slice)) for p in index):
        index = tuple(index)  # torch reads a list holding tensors or slices as a tuple
    parts = index if isinstance(index, tuple) else (index,)
    dims = tuple(tensor.shape)
    consumed = 0
    for p in parts:
        if isinstance(p, Tensor) and p.dtype == torch.bool:
            consumed += p.dim()
        elif not (p is None or p is Ellipsis or isinstance(p, bool)):
            consumed += 1
    kept, advanced, pos = 1, [], 0
    for p in parts:
        if p is Ellipsis:
            n = max(0, len(dims) - consumed)
            kept *= _prod(dims[pos:pos + n])
            pos += n
        elif p is None or isinstance(p, bool):
            continue
        elif isinstance(p, slice):
            kept *= dims[pos] if pos < len(dims) else 1
            pos += 1
        elif isinstance(p, Tensor):
            if p.dtype == torch.bool:
                advanced.append((p.numel(),))
                pos += p.dim()
            else:
                advanced.append(tuple(p.shape))
                pos += 1
        elif isinstance(p, (list, tuple, range)):
            advanced.append(_list_shape(p))
            pos += 1
        else:
            pos += 1
    kept *= _prod(dims[pos:])
    return kept * broadcast_numel(advanced) if advanced else kept


def result_numel(name: str, args: tuple, kwargs: dict[str, Any]) -> int | None:
    """An upper bound on the elements the call ``name(*args, **kwargs)`` makes, from shapes
    alone, for every ``shaped``/``matmul``/``create``/``random`` call of the allowlist;
    None when the arguments are not ones it knows (torch will refuse most of those)."""
    short = name.rpartition(".")[2]
    first = _arg(args, kwargs, 0, "input")
    if name.startswith("."):  # a method: args[0] is the tensor
        this = first
        rest = args[1:]
        if short in ("repeat", "tile"):
            sizes = _size_args(rest, kwargs, "repeats" if short == "repeat" else "dims")
            return None if sizes is None else _prod(sizes) * this.numel()
        if short == "expand":
            sizes = _size_args(rest, kwargs)
            if sizes is None:
                return None
            shape, offset = tuple(this.shape), len(sizes) - this.dim()
            return _prod(shape[i - offset] if s == -1 and i >= offset else s
                         for i, s in enumerate(sizes))
        if short == "expand_as":
            other = _arg(rest, kwargs, 0, "other")
            return other.numel() if isinstance(other, Tensor) else None
        if short in ("new_zeros", "new_ones", "new_empty"):
            sizes = _size_args(rest, kwargs)
            return None if sizes is None else _prod(sizes)
        if short == "new_full":
            sizes = _size_args((_arg(rest, kwargs, 0, "size"),), {})
            return None if sizes is None else _prod(sizes)
        if short == "new_tensor":
            return python_size(_arg(rest, kwargs, 0, "data"), 2**62)
        if short in ("scatter", "scatter_add", "index_add"):
            return this.numel()
        # the rest are the torch functions' rules, with self first
    if name == "torch.Tensor":  # torch.Tensor(2, 3): sizes; torch.Tensor([1, 2]): data
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return _prod(args)
        return python_size(first, 2**62) if isinstance(first, (list, tuple)) else None
    if short in ("zeros", "ones", "empty", "randn", "rand"):
        sizes = _size_args(args, kwargs)
        return None if sizes is None else _prod(sizes)
    if short == "full":
        sizes = _size_args((_arg(args, kwargs, 0, "size"),), {})
        return None if sizes is None else _prod(sizes)
    if short == "randint":
        size = kwargs.get("size", args[-1] if args else None)
        sizes = _size_args((size,), {})
        return None if sizes is None else _prod(sizes)
    if short == "randperm":
        n = _arg(args, kwargs, 0, "n")
        return n if isinstance(n, int) and not isinstance(n, bool) else None
    if short == "arange":
        return _arange_count(args, kwargs)
    if short in ("linspace", "logspace"):
        steps = _arg(args, kwargs, 2, "steps")
        return steps if isinstance(steps, int) and not isinstance(steps, bool) else None
    if short == "eye":
        n, m = _arg(args, kwargs, 0, "n"), _arg(args, kwargs, 1, "m")
        if not isinstance(n, int) or isinstance(n, bool):
            return None
        if m is None or isinstance(m, torch.dtype):
            m = n
        return n * m if isinstance(m, int) and not isinstance(m, bool) else None
    tensors = [v for v in (*args, *kwargs.values()) if isinstance(v, Tensor)]
    if short in ("zeros_like", "ones_like", "empty_like", "full_like", "randn_like",
                 "rand_like", "randint_like", "bernoulli"):
        return first.numel() if isinstance(first, Tensor) else None
    if short == "normal":
        size = kwargs.get("size", next((a for a in args if isinstance(a, (tuple, list))),
                                       None))
        if size is not None:
            sizes = _size_args((size,), {})
            return None if sizes is None else _prod(sizes)
        return broadcast_numel([t.shape for t in tensors]) if tensors else None
    if short in ("cat", "concat", "concatenate", "stack", "hstack", "vstack"):
        seq = _arg(args, kwargs, 0, "tensors")
        if not isinstance(seq, (list, tuple)):
            return None
        return sum(t.numel() for t in tensors_in(seq))
    if short == "outer":
        other = _arg(args, kwargs, 1, "vec2")
        if isinstance(first, Tensor) and isinstance(other, Tensor):
            return first.numel() * other.numel()
        return None
    if short == "gather":
        index = _arg(args, kwargs, 2, "index")
        return index.numel() if isinstance(index, Tensor) else None
    if short == "index_select":
        dim, index = _arg(args, kwargs, 1, "dim"), _arg(args, kwargs, 2, "index")
        if not (isinstance(first, Tensor) and isinstance(index, Tensor)
                and isinstance(dim, int)) or not -first.dim() <= dim < max(first.dim(), 1):
            return None
        size = first.shape[dim] if first.dim() else 1
        return first.numel() // size * index.numel() if size else 0
    if short == "tile":
        sizes = _size_args(args[1:], kwargs, "dims")
        return None if sizes is None or not isinstance(first, Tensor) else \
            _prod(sizes) * first.numel()
    if short == "diag":
        k = _arg(args, kwargs, 1, "diagonal")
        k = 0 if k is None else k
        if not isinstance(first, Tensor) or not isinstance(k, int):
            return None
        return (first.numel() + abs(k)) ** 2 if first.dim() <= 1 else first.numel()
    if short == "masked_select":
        return broadcast_numel([t.shape for t in tensors])
    if short == "nonzero":
        return first.numel() * max(1, first.dim()) if isinstance(first, Tensor) else None
    if short in ("cross_entropy", "nll_loss"):
        return first.numel() if isinstance(first, Tensor) else None
    if short == "one_hot":
        classes = _arg(args, kwargs, 1, "num_classes")
        if not isinstance(first, Tensor) or first.dtype is not torch.int64:
            return None
        if classes is None or classes == -1:  # as many as the largest index + 1
            classes = int(first.max()) + 1 if first.numel() else 0
        return first.numel() * classes if isinstance(classes, int) else None
    if short == "embedding":
        weight = _arg(args, kwargs, 1, "weight")
        if isinstance(first, Tensor) and isinstance(weight, Tensor) and weight.dim() == 2:
            return first.numel() * weight.shape[1]
        return None
    if short == "pad":
        pad = _arg(args, kwargs, 1, "pad")
        if not isinstance(first, Tensor) or not isinstance(pad, (list, tuple)) or \
                len(pad) % 2 or len(pad) > 2 * first.dim() or not all(
                    isinstance(p, int) for p in pad):
            return None
        shape = list(first.shape)
        for i in range(len(pad) // 2):
            shape[-1 - i] += max(0, pad[2 * i]) + max(0, pad[2 * i + 1])
        return _prod(shape)
    if name in ("indexing", "item assignment"):  # item assignment: the index it writes
        return _index_numel(first, args[1]) if isinstance(first, Tensor) else None
    if short == "repeat_interleave":
        if name.startswith("."):
            return _repeat_interleave(first, _arg(args[1:], kwargs, 0, "repeats"),
                                      _arg(args[1:], kwargs, 1, "dim"), kwargs)
        repeats = _arg(args, kwargs, 1, "repeats")
        if repeats is None and len(args) == 1 and not kwargs.keys() - {"output_size"}:
            return _repeat_interleave(None, first, None, kwargs)  # (repeats): indices
        return _repeat_interleave(first, repeats, _arg(args, kwargs, 2, "dim"), kwargs)
    return None


def _repeat_interleave(tensor: Any, repeats: Any, dim: Any, kwargs: dict[str, Any]
                       ) -> int | None:
    """Elements of ``repeat_interleave``: every slice along ``dim`` (every element when
    ``dim`` is None) repeated; a tensor of repeats, one per slice, sums to the count.
    ``tensor`` None: ``torch.repeat_interleave(repeats)``, each index ``repeats[i]`` times.
    An ``output_size=`` is what torch allocates before it checks it: counted too."""
    if tensor is not None and not isinstance(tensor, Tensor):
        return None
    numel = 1 if tensor is None else tensor.numel()
    if dim is None:
        size = numel
    elif isinstance(dim, int) and not isinstance(dim, bool) and tensor is not None and \
            -max(tensor.dim(), 1) <= dim < max(tensor.dim(), 1):
        size = tensor.shape[dim] if tensor.dim() else 1
    else:
        return None
    piece = numel // size if size else 0  # elements per slice along dim
    count = _int(repeats)
    if count is not None:
        total = numel * max(count, 0)
    elif isinstance(repeats, Tensor) and repeats.dim() <= 1 and not (
            repeats.is_floating_point() or repeats.is_complex()
            or repeats.dtype is torch.bool):
        if repeats.numel() == 1 and tensor is not None:
            total = numel * max(int(repeats.reshape(())), 0)
        else:
            total = int(repeats.clamp(min=0).sum()) * max(piece, 1)
    else:
        return None
    extra = _int(kwargs.get("output_size"))
    if extra is not None:
        total = max(total, max(extra, 0) * max(piece, 1))
    return total


def matmul_cost(name: str, args: tuple, kwargs: dict[str, Any]) -> tuple[int, float] | None:
    """(elements out, FLOPs) of a ``matmul`` call of the allowlist; None when unknown."""
    if name == "torch.einsum":
        return _einsum(args)
    if name in _CONVOLUTIONS:
        conv = _convolution(name, args, kwargs)
        return None if conv is None else conv[:2]
    if name in _POOLS:
        return _pool(name, args, kwargs)
    if name == "torch.cdist":
        x1, x2 = _arg(args, kwargs, 0, "x1"), _arg(args, kwargs, 1, "x2")
        if not isinstance(x1, Tensor) or not isinstance(x2, Tensor) or x1.dim() < 2 \
                or x2.dim() < 2:
            return None
        out = broadcast_numel([x1.shape[:-2], x2.shape[:-2]]) * x1.shape[-2] * x2.shape[-2]
        return out, 3.0 * out * max(x1.shape[-1], x2.shape[-1])
    if name == "torch.addmm":
        base = _arg(args, kwargs, 0, "input")
        a, b = _arg(args, kwargs, 1, "mat1"), _arg(args, kwargs, 2, "mat2")
        if not all(isinstance(t, Tensor) for t in (base, a, b)) or a.dim() != 2 \
                or b.dim() != 2:
            return None
        out = a.shape[0] * b.shape[1]
        return max(out, base.numel()), 2.0 * out * a.shape[1] + base.numel()
    if name == "F.linear":
        x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
        if not isinstance(x, Tensor) or not isinstance(w, Tensor) or not x.dim() \
                or w.dim() not in (1, 2):
            return None
        out = _prod(x.shape[:-1]) * (w.shape[0] if w.dim() == 2 else 1)
        return out, 2.0 * out * x.shape[-1]
    a = _arg(args, kwargs, 0, "input")
    b = args[1] if len(args) > 1 else next(
        (kwargs[k] for k in ("other", "mat2", "vec", "tensor") if k in kwargs), None)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _matmul(name, a.shape, b.shape)
    return None


_CONVOLUTIONS = {"F.conv1d": 1, "F.conv2d": 2}  # name -> spatial dimensions
_POOLS = {"F.max_pool1d": 1, "F.max_pool2d": 2, "F.avg_pool1d": 1, "F.avg_pool2d": 2}


def _spatial(value: Any, dims: int) -> tuple[int, ...] | None:
    """A size argument of a convolution or pooling (``3``, ``(3,)``, ``(3, 1)``) as one
    whole number per spatial dimension, as torch expands it; None when it is not one."""
    number = _int(value)
    if number is not None:
        return (number,) * dims
    if isinstance(value, (list, tuple)) and len(value) in (1, dims):
        found = [_int(v) for v in value]
        if any(n is None for n in found):
            return None
        return tuple(found) * (dims if len(found) == 1 else 1)  # type: ignore[arg-type]
    return None


def _convolution(name: str, args: tuple, kwargs: dict[str, Any]
                 ) -> tuple[int, float, int] | None:
    """(elements out, FLOPs, elements of working memory) of ``F.conv1d``/``F.conv2d``:
    each output size ``(L + 2p - d(k - 1) - 1) // s + 1`` (``padding="same"``: L), every
    output element a dot product of ``C_in / groups * prod(k)``; torch's direct path on
    the CPU (float64, and others) first unfolds the input into a matrix of
    ``N * C_in * prod(k) * prod(out)`` elements (im2col), the working memory."""
    dims = _CONVOLUTIONS[name]
    x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    if not isinstance(x, Tensor) or not isinstance(w, Tensor) or w.dim() != dims + 2 \
            or x.dim() not in (dims + 1, dims + 2):
        return None
    stride = _spatial(_arg(args, kwargs, 3, "stride") if len(args) > 3 or "stride" in kwargs
                      else 1, dims)
    padding: Any = _arg(args, kwargs, 4, "padding") if len(args) > 4 or "padding" in kwargs \
        else 0
    dilation = _spatial(_arg(args, kwargs, 5, "dilation") if len(args) > 5 or
                        "dilation" in kwargs else 1, dims)
    groups = _int(_arg(args, kwargs, 6, "groups")) if len(args) > 6 or "groups" in kwargs \
        else 1
    same = isinstance(padding, str) and padding == "same"
    pads = (0,) * dims if isinstance(padding, str) and padding in ("valid", "same") \
        else _spatial(padding, dims)
    if stride is None or pads is None or dilation is None or groups is None or groups < 1 \
            or min(stride) < 1:
        return None
    sizes, kernel = x.shape[-dims:], w.shape[2:]
    out = [n if same else max(0, (n + 2 * max(p, 0) - d * (k - 1) - 1) // s + 1)
           for n, k, p, s, d in zip(sizes, kernel, pads, stride, dilation)]
    batch = x.shape[0] if x.dim() == dims + 2 else 1
    channels = x.shape[-dims - 1]
    numel = batch * w.shape[0] * _prod(out)
    window = _prod(kernel)
    flops = 2.0 * numel * w.shape[1] * window
    workspace = batch * channels * window * _prod(out) + (x.numel() if same else 0)
    return numel, flops, workspace


def convolution_workspace(name: str, args: tuple, kwargs: dict[str, Any]) -> int | None:
    """Elements of the working memory a convolution takes while it runs (see
    :func:`_convolution`); None for a call that is not one."""
    if name not in _CONVOLUTIONS:
        return None
    conv = _convolution(name, args, kwargs)
    return None if conv is None else conv[2]


def _flag(value: Any) -> bool:
    """A switch of a call (``ceil_mode``): False when not given, True when it is not a
    bool (the larger result: torch takes a bool or refuses)."""
    return False if value is None else value if isinstance(value, bool) else True


def _pool(name: str, args: tuple, kwargs: dict[str, Any]) -> tuple[int, float] | None:
    """(elements out, FLOPs) of ``F.max_pool1d/2d``, ``F.avg_pool1d/2d``: each output size
    as torch's ``pooling_output_shape`` (``ceil_mode`` rounds up, but a window must start
    inside the input or its left padding), a comparison or addition per window element;
    ``return_indices=True`` adds an int64 index per output element."""
    dims = _POOLS[name]
    x = _arg(args, kwargs, 0, "input")
    kernel = _spatial(_arg(args, kwargs, 1, "kernel_size"), dims)
    if not isinstance(x, Tensor) or x.dim() not in (dims + 1, dims + 2) or kernel is None:
        return None
    average = "avg" in name
    stride_arg = _arg(args, kwargs, 2, "stride")
    stride = kernel if stride_arg is None or (isinstance(stride_arg, (list, tuple))
                                              and not stride_arg) \
        else _spatial(stride_arg, dims)
    pads = _spatial(_arg(args, kwargs, 3, "padding") if len(args) > 3 or "padding" in kwargs
                    else 0, dims)
    if average:
        dilation: tuple[int, ...] | None = (1,) * dims
        ceil = _flag(_arg(args, kwargs, 4, "ceil_mode"))
        indices = False
    else:
        dilation = _spatial(_arg(args, kwargs, 4, "dilation") if len(args) > 4 or
                            "dilation" in kwargs else 1, dims)
        ceil = _flag(_arg(args, kwargs, 5, "ceil_mode"))
        indices = _flag(_arg(args, kwargs, 6, "return_indices"))
    if stride is None or pads is None or dilation is None or min(stride) < 1:
        return None
    out = []
    for n, k, p, s, d in zip(x.shape[-dims:], kernel, pads, stride, dilation):
        p = max(p, 0)
        size = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
        if ceil and (size - 1) * s >= n + p:
            size -= 1
        out.append(max(0, size))
    numel = _prod(x.shape[:-dims]) * _prod(out)
    flops = float(numel) * _prod(kernel)
    if indices:  # the values, and an int64 index beside each
        numel *= 1 + -(-8 // x.element_size())
    return numel, flops


def _einsum(args: tuple) -> tuple[int, float] | None:
    """(elements out, FLOPs) of ``torch.einsum(equation, *operands)`` from the letters'
    sizes; None for the forms it does not read (``...``, operands in a list)."""
    if not args or not isinstance(args[0], str) or "..." in args[0] or len(args[0]) > 200:
        return None
    equation = args[0].replace(" ", "")
    operands = args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    inputs, _, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands) or not all(isinstance(t, Tensor) for t in operands):
        return None
    sizes: dict[str, int] = {}
    for term, tensor in zip(terms, operands):
        if len(term) != tensor.dim() or not term.isalpha():
            return None
        for letter, size in zip(term, tensor.shape):
            sizes[letter] = max(sizes.get(letter, 1), size)
    if "->" not in equation:  # implicit: the letters seen once, in order
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if not output.isalpha() and output:
        return None
    if any(c not in sizes for c in output):
        return None
    out = _prod(sizes[c] for c in output)
    return out, 2.0 * _prod(sizes.values())


_CAST_DTYPES = {".double": torch.float64, ".long": torch.int64, ".float": torch.float32,
                ".half": torch.float16, ".int": torch.int32, ".bool": torch.bool}
# calls whose result holds int64 indices, whatever the input's dtype
_INDEX_RESULTS = frozenset("argsort argmax argmin nonzero randint randperm".split())
# calls that give (values, indices): the indices are int64, one per value
_PAIRED = frozenset("max min median mode kthvalue topk sort cummax cummin".split())
# on integer or bool tensors these keep the dtype (or make bools); every other call may
# make int64 (sum, cumsum) or floats (division, exp, mean): counted at 8 bytes
_KEEPS_INTEGERS = frozenset(
    "add sub subtract mul multiply remainder fmod floor_divide neg negative abs sign sgn "
    "maximum minimum clamp clip clamp_min clamp_max where masked_fill flip t transpose "
    "permute reshape view view_as reshape_as flatten unflatten squeeze unsqueeze narrow "
    "select movedim swapaxes diagonal tril triu clone detach unbind split chunk sort topk "
    "kthvalue max min median mode cummax cummin amax amin floor ceil round trunc relu "
    "fill_ zero_ copy_ add_ sub_ mul_ masked_fill_ clamp_ clamp_min_ clamp_max_ repeat "
    "expand expand_as contiguous to type_as gather index_select scatter scatter_add "
    "index_add diag masked_select cat concat concatenate stack hstack vstack tile outer "
    "indexing + - * // % ** @ reversed item tolist numel dim size nelement element_size "
    "requires_grad_ retain_grad backward long int bool".split())
_BOOL_RESULTS = frozenset(
    "eq ne lt le gt ge equal allclose isclose logical_and logical_or logical_xor "
    "logical_not isnan isinf isfinite signbit all any Eq NotEq Lt LtE Gt GtE".split())
_REDUCTIONS = frozenset("sum mean prod std var norm logsumexp amax amin all any "
                        "count_nonzero nansum argmax argmin max min median mode kthvalue "
                        "topk".split())
_FLOAT32 = torch.float32
_SHORT: dict[str, str] = {}  # "torch.sum" -> "sum"


def result_itemsize(name: str, inputs: list[Tensor], values: tuple) -> int:
    """Bytes per element of what ``name`` makes: an explicit dtype, else torch's
    promotion of the tensor inputs with any Python number among the arguments."""
    for value in values:
        if isinstance(value, torch.dtype):
            return max(value.itemsize, 8 if name.rpartition(".")[2] in _INDEX_RESULTS else 1)
    cast = _CAST_DTYPES.get(name)
    if cast is not None:
        return cast.itemsize
    short = name.rpartition(".")[2]
    if inputs:
        dtype = inputs[0].dtype
        for tensor in inputs[1:]:
            if tensor.dtype is not dtype:
                dtype = torch.promote_types(dtype, tensor.dtype)
    elif short == "arange" and all(isinstance(v, int) for v in values):
        dtype = torch.int64
    elif short == "full" and len(values) > 1 and isinstance(values[1], (bool, int)):
        dtype = torch.bool if isinstance(values[1], bool) else torch.int64
    else:
        dtype = torch.get_default_dtype()  # programs cannot change it; a float64 rerun does
    size = dtype.itemsize
    if any(v.__class__ is complex for v in values) and not dtype.is_complex:
        size = max(2 * size, 8)
    elif not dtype.is_floating_point and not dtype.is_complex:
        if short in _BOOL_RESULTS:
            size = 1
        elif dtype is torch.bool and any(v.__class__ is int for v in values):
            size = 8  # bool with a Python int: int64
        elif short not in _KEEPS_INTEGERS and name != "item assignment":
            size = max(size, 8)
        elif any(v.__class__ is float for v in values):
            size = max(size, torch.get_default_dtype().itemsize)
    if short in _INDEX_RESULTS:
        size = max(size, 8)
    return size


def reduced_numel(short: str, tensor: Tensor, args: tuple, kwargs: dict[str, Any]) -> int:
    """The elements a reduction (``sum``, ``argmax``, ``topk``…) makes from ``tensor``:
    one without a ``dim`` (``mode``/``kthvalue``/``topk`` reduce the last), else the
    input's elements over the reduced dimensions' sizes (times ``k`` for ``topk``)."""
    rest = args[1:]
    if short in ("topk", "kthvalue"):
        k = _int(_arg(rest, kwargs, 0, "k"))
        dim = _arg(rest, kwargs, 1, "dim")
    elif short == "norm":
        k, dim = None, _arg(rest, kwargs, 1, "dim")
    else:
        k, dim = None, _arg(rest, kwargs, 0, "dim")
    if dim is None or isinstance(dim, bool):
        if short not in ("mode", "kthvalue", "topk"):
            return 1
        dim = -1
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    numel = tensor.numel()
    try:
        sizes = [tensor.shape[int(d)] for d in dims] if tensor.dim() else [1]
    except (IndexError, TypeError, ValueError):
        return numel  # torch refuses the dim
    out = numel // max(1, _prod(sizes)) if all(sizes) else 0
    return out * max(1, k or 1) if short == "topk" else out


def megabytes(count: float) -> str:
    return f"{count / 1e6:,.1f} MB" if count < 1e7 else f"{count / 1e6:,.0f} MB"


_SIZED = frozenset({SHAPED, MATMUL, CREATE, RANDOM})
# SAME calls whose other tensors are not broadcast against the first: they lend a shape
# or dtype, or (item assignment) write into it in place
_LIKE_OTHER = frozenset({".view_as", ".reshape_as", ".type_as", "item assignment",
                         # a module's own forward, given its parameters too (the output
                         # is the input's shape), and what works on each .grad
                         "nn.BatchNorm1d", "nn.BatchNorm2d", "nn.utils.clip_grad_norm_",
                         "nn.utils.clip_grad_value_"})


class Budget:
    """Counts bytes, FLOPs, graph nodes and depth, Python values, statements and time for
    one run. Depth is kept per tensor (an in-place op deepens the tensor it changes, and a
    view's base), so it never reads an autograd attribute of the program's tensors."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes = 0  # tensor memory made, in all
        self.python = 0  # characters and list items made, in all
        self.flops = 0.0
        self.nodes = 0
        self.objects = 0  # tensor objects made, views included
        self.max_depth = 0
        self.depths: dict[int, tuple[int, Any]] = {}  # id(tensor) -> (depth, weakref)
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

    def _check_bytes(self, numel: int, itemsize: int, what: str) -> None:
        size = numel * itemsize
        if size > self.limits.tensor_bytes:
            raise self.refuse(f"{what} would take {megabytes(size)} ({numel:,} elements of "
                              f"{itemsize} bytes); the limit per tensor is "
                              f"{megabytes(self.limits.tensor_bytes)}")

    def before(self, category: str, args: tuple, kwargs: dict[str, Any], name: str) -> None:
        """Refuse the call ``name(*args, **kwargs)`` if it would cost too much."""
        if time.monotonic() > self.deadline:
            raise self.refuse(f"the program ran longer than {self.limits.seconds:g} s")
        if kwargs:
            if "out" in kwargs:
                raise self.refuse(f"{name}(..., out=...) is not supported; assign the result")
            values: tuple = (*args, *kwargs.values())
        else:
            values = args
        inputs = []
        special = False  # a dtype, a complex number, a device…: result_itemsize decides
        for value in values:
            cls = value.__class__
            if cls is Tensor:
                inputs.append(value)
            elif cls is int or cls is float or cls is bool or value is None:
                continue
            elif cls is str:
                self._check_device(value, name)
            elif cls is complex:
                special = True
            elif isinstance(value, Tensor):
                inputs.append(value)
            elif isinstance(value, (list, tuple, range)):
                inputs.extend(tensors_in(value))
                cap = self.limits.container_items
                if python_size([v for v in value if not isinstance(v, Tensor)]
                               if not isinstance(value, range) else value, cap) > cap:
                    raise self.refuse(f"a list or range passed to {name} holds more than "
                                      f"{cap:,} numbers (or nests more than 32 deep)")
            else:
                special = True
                if isinstance(value, torch.device):
                    self._check_device(value, name)
        total = 0
        largest = 0
        float32 = True
        for tensor in inputs:
            numel = tensor.numel()
            total += numel
            if numel > largest:
                largest = numel
            if tensor.dtype is not _FLOAT32:
                float32 = False
        short = _SHORT.get(name) or _SHORT.setdefault(name, name.rpartition(".")[2])
        if float32 and inputs and not special and short not in _INDEX_RESULTS \
                and name not in _CAST_DTYPES:
            itemsize = 4  # the common case: float32 in, float32 out
        else:
            itemsize = result_itemsize(name, inputs, values)
        if short in _PAIRED:
            itemsize += 8  # and the int64 indices beside the values
        if short == "where" and len(inputs) == 1 and len(values) == 1:
            # torch.where(condition) is nonzero(condition, as_tuple=True)
            self._check_bytes(largest * max(1, inputs[0].dim()), 8, f"the result of {name}")
        elif category in _SIZED:
            self._check_sized(category, args, kwargs, name, inputs, itemsize)
        elif short in _REDUCTIONS and inputs and len(inputs) == 1:
            self._check_bytes(reduced_numel(short, inputs[0], args, kwargs), itemsize,
                              f"the result of {name}")
        elif len(inputs) > 1 and name not in _LIKE_OTHER and not (
                inputs[0].shape == inputs[1].shape if len(inputs) == 2
                else all(t.shape == inputs[0].shape for t in inputs)):
            self._check_bytes(broadcast_numel([t.shape for t in inputs]), itemsize,
                              f"the result of {name}")
        elif largest * itemsize > self.limits.tensor_bytes:
            self._check_bytes(largest, itemsize, f"the result of {name}")
        self.flops += total
        if self.flops > self.limits.total_flops:
            raise self.refuse(f"the program would take more than {self.limits.total_flops:.3g}"
                              " floating-point operations in all")

    def _check_device(self, value: Any, name: str) -> None:
        """Tensors stay on the CPU: torch's other devices are not here, and its ``meta``
        device runs Python code that imports and configures parts of torch."""
        if isinstance(value, str):
            if len(value) > 20 or not value.replace(":", "").isalnum():
                return
            try:
                value = torch.device(value)
            except (RuntimeError, ValueError):
                return  # not a device name: some other string argument
        if value.type != "cpu":
            raise self.refuse(f"{name}: tensors here live on the CPU only (not "
                              f"{value.type!r})")

    def _check_sized(self, category: str, args: tuple, kwargs: dict[str, Any], name: str,
                     inputs: list[Tensor], itemsize: int) -> None:
        if name == "torch.Tensor" and args and all(
                isinstance(a, int) and not isinstance(a, bool) for a in args):
            self._check_bytes(_prod(args), 4, f"the result of {name}")  # sizes
            return
        if name in ("torch.tensor", "torch.as_tensor", "torch.Tensor"):
            data = _arg(args, kwargs, 0, "data")
            if isinstance(data, Tensor):  # a copy of a tensor, in the dtype asked for
                self._check_bytes(data.numel(), itemsize, f"the result of {name}")
            return  # a Python list is checked with the other arguments
        if category == MATMUL:
            cost = matmul_cost(name, args, kwargs)
            numel, flops = cost if cost is not None else (None, 0.0)
        else:
            numel, flops = result_numel(name, args, kwargs), 0.0
        if numel is None:
            if all(t.numel() <= SMALL for t in inputs) and all(
                    abs(i) <= SMALL for v in (*args, *kwargs.values()) for i in _ints(v)):
                return  # tiny: the real call raises torch's own message for these arguments
            raise self.refuse(f"autoviz could not work out the size of what {name} makes "
                              "from these arguments, so it did not run it")
        self._check_bytes(numel, itemsize, f"the result of {name}")
        workspace = convolution_workspace(name, args, kwargs)
        if workspace is not None and workspace * itemsize > self.remaining_bytes():
            raise self.refuse(f"{name} would need {megabytes(workspace * itemsize)} of working "
                              f"memory while it runs (the input unfolded, one column per "
                              f"output element); {megabytes(self.remaining_bytes())} of the "
                              f"program's {megabytes(self.limits.total_bytes)} are left")
        if flops > self.limits.op_flops:
            raise self.refuse(f"{name} would take {flops:.3g} floating-point operations; "
                              f"the limit per operation is {self.limits.op_flops:.3g}")
        self.flops += flops

    def depth_of(self, tensor: Tensor) -> int:
        """The autograd depth of ``tensor`` as counted so far (0 for a leaf)."""
        depths = self.depths
        entry = depths.get(id(tensor))
        depth = entry[0] if entry is not None and entry[1]() is tensor else 0
        base = tensor._base
        if base is not None:
            entry = depths.get(id(base))
            if entry is not None and entry[1]() is base and entry[0] > depth:
                depth = entry[0]
        return depth

    def _deepen(self, tensor: Tensor, depth: int) -> None:
        self.depths[id(tensor)] = (depth, weakref.ref(tensor))

    def after(self, result: Any, args: tuple, kwargs: dict[str, Any], name: str,
              floor: int = 0, versions: dict[int, int] | None = None) -> None:
        """Count what a call ``name(*args, **kwargs)`` produced against the totals.
        ``floor``: a depth its outputs are at least one below (a grad_fn called by hand
        hangs them off the graph it is part of, which its arguments do not show);
        ``versions``: the inputs' ``_version`` before the call, so that an input handed
        back as is (``.contiguous()``, ``.float()``) is not taken for an in-place op."""
        if result.__class__ is Tensor:
            outputs: Any = (result,)
        else:
            outputs = tensors_in(result)
            if not outputs:
                return
        limits = self.limits
        inputs = tensors_of(args, kwargs)
        self.objects += len(outputs)
        if self.objects > limits.tensor_objects:
            self.count_objects(0)
        recorded = False
        grad_mode = torch.is_grad_enabled()
        for out in outputs:
            inplace = any(out is tensor for tensor in inputs)
            if inplace and versions is not None and versions.get(id(out)) == version(out):
                continue  # handed back unchanged: no node, no new memory
            if grad_mode and out.requires_grad:
                if not recorded:
                    recorded = True
                    below = max((self.depth_of(t) for t in inputs if t.requires_grad),
                                default=0)
                    depth = max(below, floor) + 1
                    if depth > self.max_depth:
                        self.max_depth = depth
                    if depth > limits.graph_depth:
                        raise self.refuse(f"the autograd graph would be more than "
                                          f"{limits.graph_depth:,} nodes deep")
                    self.nodes += 1
                self._deepen(out, depth)
                if inplace and out._base is not None:
                    self.nodes += 1  # the base's CopySlices
                    self._deepen(out._base, max(depth, self.depth_of(out._base)))
            if out.dim() > MAX_DIMS:
                raise self.refuse(f"{name} made a tensor with {out.dim():,} dimensions; the "
                                  f"limit is {MAX_DIMS}")
            if not inplace:
                size = out.numel() * out.element_size()
                if size > limits.tensor_bytes:
                    self._check_bytes(out.numel(), out.element_size(), f"the result of {name}")
                if out._base is None:
                    self.bytes += size
        if self.bytes > limits.total_bytes:
            self.count_bytes(0)
        if self.nodes > limits.graph_nodes:
            raise self.refuse(f"the autograd graph would have more than "
                              f"{limits.graph_nodes:,} nodes")

    def count_bytes(self, extra: int) -> None:
        """Add ``extra`` bytes of tensors (e.g. gradients a backward recorded) to the total."""
        self.bytes += extra
        if self.bytes > self.limits.total_bytes:
            raise self.refuse(f"the program made more than "
                              f"{megabytes(self.limits.total_bytes)} of tensors in all")

    def remaining_bytes(self) -> int:
        return max(0, self.limits.total_bytes - self.bytes)

    def check_objects(self, count: int) -> None:
        """Refuse, before they are made, ``count`` more tensor objects past the cap."""
        if self.objects + count > self.limits.tensor_objects:
            self.count_objects(count)

    def count_objects(self, count: int) -> None:
        """``count`` more tensor objects (each a few hundred bytes, even a view)."""
        self.objects += count
        if self.objects > self.limits.tensor_objects:
            raise self.refuse(f"the program made more than {self.limits.tensor_objects:,} "
                              "tensors in all (views and the pieces of a split count too)")

    def deepen_graph(self, root: Tensor, tensors: list[Tensor], nodes: int) -> None:
        """A backward with ``create_graph=True`` from ``root`` made ``tensors`` (the
        leaves' ``.grad``) from a graph of ``nodes`` new nodes: as deep as twice the root's
        graph, and deeper than the ``.grad`` they add to."""
        depth = 2 * self.depth_of(root) + 2
        for tensor in tensors:
            depth = max(depth, self.depth_of(tensor) + 1)
        if depth > self.limits.graph_depth:
            raise self.refuse(f"the autograd graph would be more than "
                              f"{self.limits.graph_depth:,} nodes deep")
        self.max_depth = max(self.max_depth, depth)
        for tensor in tensors:
            self._deepen(tensor, depth)
        self.nodes += nodes
        if self.nodes > self.limits.graph_nodes:
            raise self.refuse(f"the autograd graph would have more than "
                              f"{self.limits.graph_nodes:,} nodes")

    def count_python(self, value: Any) -> None:
        """A string or list the program made: its characters or items, against the total
        (every Python value is counted once, when it is made)."""
        if isinstance(value, (str, list, tuple)):
            self.python += len(value)
            if self.python > self.limits.python_items:
                raise self.refuse(f"the program made more than {self.limits.python_items:,} "
                                  "characters and list items in all")
