"""Where each tensor came from: the user's names for it and the line that made it.

The runner fills a :class:`Catalog` while it interprets a program; the graph walk reads
it to label nodes with ``O``, ``a`` or ``5*a**2`` instead of bare torch names.

Reading ``grad_fn`` is not always innocent: a view whose base changed in place since
torch last set the view's ``grad_fn`` gets a new node made by the read, with an earlier
sequence number than the program's own use would give it (and the engine orders by
those). The catalog reads a view's ``grad_fn`` only when torch has just set it
(:meth:`Catalog.grad_fn`), and is told when that is (:meth:`Catalog.saw`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

UNSEEN = object()  # Catalog.grad_fn: not read, as reading would change the graph


def version(tensor: torch.Tensor) -> int:
    """``tensor._version``; -1 for an inference tensor, which keeps no version counter
    (and no autograd history to protect)."""
    try:
        return tensor._version
    except RuntimeError:
        return -1


@dataclass
class Origin:
    """One tensor as an op produced it (kept alive so ``id`` stays unique)."""

    tensor: torch.Tensor
    lineno: int | None
    expr: str | None
    version: int


@dataclass
class Catalog:
    """Names and origins of tensors, keyed so a graph walk can look them up."""

    names: dict[int, list[str]] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)
    # (grad_fn node, output_nr) -> origin of the tensor it produced
    origins: dict[tuple[Any, int], Origin] = field(default_factory=dict)
    keep: list[torch.Tensor] = field(default_factory=list)
    current: dict[str, int] = field(default_factory=dict)  # name -> id of what it holds now
    # why a tensor that required grad may get no gradient: id -> (how, line, the tensor);
    # how: "off" (requires_grad turned off), "detach" (.detach() was taken of it),
    # "no_grad" (an op used it under no_grad), "made" (an op made it under no_grad from
    # tensors that required grad, so it has no history)
    cuts: dict[int, tuple[str, int | None, torch.Tensor]] = field(default_factory=dict)
    # id(view) -> (the version at which torch last set its grad_fn, the view)
    fresh: dict[int, tuple[int, torch.Tensor]] = field(default_factory=dict)
    # id -> its name with the loop's index, given in a loop (``h (i=3)``): shown once no
    # name holds the tensor any more (the ``h`` of each pass of ``h = h * 2``)
    loop_names: dict[int, str] = field(default_factory=dict)
    # id -> (line, tensor): a gradient torch.autograd.grad(..., create_graph=True) returned
    gradients: dict[int, tuple[int | None, torch.Tensor]] = field(default_factory=dict)

    def cut(self, how: str, tensor: torch.Tensor, lineno: int | None) -> None:
        """Note the first time ``tensor``'s history was cut, and how."""
        self.cuts.setdefault(id(tensor), (how, lineno, tensor))

    def cut_of(self, tensor: torch.Tensor) -> tuple[str, int | None] | None:
        found = self.cuts.get(id(tensor))
        return None if found is None or found[2] is not tensor else found[:2]

    def saw(self, tensor: torch.Tensor) -> None:
        """torch has just set ``tensor``'s grad_fn (it made the view, changed it in place,
        or an op recording a node read it): reading it now changes nothing."""
        if tensor._base is not None:
            self.fresh[id(tensor)] = (version(tensor), tensor)

    def grad_fn(self, tensor: torch.Tensor) -> Any:
        """``tensor.grad_fn`` when reading it changes nothing torch does, else
        :data:`UNSEEN` (a view that the read would give a new node); None where torch
        refuses to say (a view made under no_grad and changed in place)."""
        if tensor._base is not None:
            seen = self.fresh.get(id(tensor))
            if seen is None or seen[1] is not tensor or seen[0] != version(tensor):
                return UNSEEN
        try:
            return tensor.grad_fn
        except RuntimeError:
            return None

    def bind(self, name: str, tensor: torch.Tensor, lineno: int | None = None) -> None:
        key = id(tensor)
        names = self.names.get(key)
        if names is None:
            self.keep.append(tensor)
            names = self.names[key] = []
        elif name in names:
            names.remove(name)
        names.append(name)
        self.current[name] = key
        if lineno is not None and key not in self.lines:
            self.lines[key] = lineno
        node = self.grad_fn(tensor)
        if node is not None and node is not UNSEEN:
            where = (node, tensor.output_nr)
            if where not in self.origins:
                self.origins[where] = Origin(tensor, lineno, None, tensor._version)

    def produce(self, tensor: torch.Tensor, lineno: int | None, expr: str | None,
                node: Any = None) -> None:
        """``tensor`` was just made by an op on ``lineno`` (``node``: its ``grad_fn``)."""
        if node is None:
            node = self.grad_fn(tensor)
        if node is not None and node is not UNSEEN:
            self.origins[(node, tensor.output_nr)] = Origin(tensor, lineno, expr, tensor._version)

    def name_of(self, tensor: torch.Tensor) -> str | None:
        """The name to show for ``tensor``: the latest of its names that still holds it
        (after ``y = x; y = y * 2``, ``x`` is still ``x``), else the latest it had (the
        ``h`` of each pass of ``h = h * 2``)."""
        return self.label(self.names.get(id(tensor), ()), id(tensor))

    def label(self, names: Any, key: int) -> str | None:
        for name in reversed(names):
            if self.current.get(name) == key:
                return name
        return self.loop_names.get(key) or (names[-1] if names else None)

    def held(self, tensor: torch.Tensor) -> bool:
        """Whether a name of the program holds ``tensor`` now."""
        key = id(tensor)
        return any(self.current.get(name) == key for name in self.names.get(key, ()))

    def looped(self, name: str, tensor: torch.Tensor, loops: list[tuple[str, int]],
               lineno: int | None) -> None:
        """``name`` was bound to ``tensor`` in a loop at these indices: keep the name with
        them (``w (i=3)``), and name the unnamed leaves its node reads after it (``leaf of
        w (i=3)``: the ``torch.randn(8, 8, requires_grad=True)`` of ``w = torch.randn(8,
        8, requires_grad=True) / 3``)."""
        label = f"{name} ({', '.join(f'{var}={i}' for var, i in loops)})"
        self.loop_names[id(tensor)] = label
        node = self.grad_fn(tensor)
        if node is None or node is UNSEEN:
            return
        for child, _ in node.next_functions:
            leaf = getattr(child, "variable", None)  # an AccumulateGrad's leaf
            if isinstance(leaf, torch.Tensor) and id(leaf) not in self.names:
                self.bind(f"leaf of {label}", leaf, lineno)

    def origin(self, node: Any, output_nr: int = 0) -> Origin | None:
        return self.origins.get((node, output_nr))

    @classmethod
    def from_names(cls, names: Mapping[str, torch.Tensor] | None) -> Catalog:
        catalog = cls()
        for name, tensor in (names or {}).items():
            if isinstance(tensor, torch.Tensor):
                catalog.bind(name, tensor)
        return catalog
