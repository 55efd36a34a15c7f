"""Where each tensor came from: the user's names for it and the line that made it.

The runner fills a :class:`Catalog` while it interprets a program; the graph walk reads
it to label nodes with ``O``, ``a`` or ``5*a**2`` instead of bare torch names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch


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

    def bind(self, name: str, tensor: torch.Tensor, lineno: int | None = None) -> None:
        key = id(tensor)
        names = self.names.get(key)
        if names is None:
            self.keep.append(tensor)
            names = self.names[key] = []
        elif name in names:
            names.remove(name)
        names.append(name)
        if lineno is not None and key not in self.lines:
            self.lines[key] = lineno
        try:
            node = tensor.grad_fn
        except RuntimeError:  # a view made under no_grad and changed in place
            node = None
        if node is not None:
            where = (node, tensor.output_nr)
            if where not in self.origins:
                self.origins[where] = Origin(tensor, lineno, None, tensor._version)

    def produce(self, tensor: torch.Tensor, lineno: int | None, expr: str | None,
                node: Any = None) -> None:
        """``tensor`` was just made by an op on ``lineno`` (``node``: its ``grad_fn``)."""
        if node is None:
            node = tensor.grad_fn
        if node is not None:
            self.origins[(node, tensor.output_nr)] = Origin(tensor, lineno, expr, tensor._version)

    def names_of(self, tensor: torch.Tensor) -> tuple[str, ...]:
        return tuple(self.names.get(id(tensor), ()))

    def origin(self, node: Any, output_nr: int = 0) -> Origin | None:
        return self.origins.get((node, output_nr))

    @classmethod
    def from_names(cls, names: Mapping[str, torch.Tensor] | None) -> Catalog:
        catalog = cls()
        for name, tensor in (names or {}).items():
            if isinstance(tensor, torch.Tensor):
                catalog.bind(name, tensor)
        return catalog
