"""Hooks in programs: ``tensor.register_hook(fn)``, ``grad_fn.register_hook(fn)`` and
``grad_fn.register_prehook(fn)`` with a function of the program's (a ``def`` or a
``lambda``). torch's engine calls the hook; the hook runs through the interpreter, under
the same caps; each firing is kept with the step it came before, what it received and
what it returned (a hook that returns a gradient changes what the engine passes on)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from autoviz.autograd.backward import hook_fired
from autoviz.autograd.graph import preview
from autoviz.data import HookFire
from autoviz.runner.values import BoundMethod, UserFunction, _Failure, _Function

KINDS = {"register_hook": "node", "register_prehook": "prehook"}


def _shown(value: Any) -> str:
    if isinstance(value, torch.Tensor) or value is None:
        return preview(value)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shown(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return type(value).__name__


class Hooks:
    """The hook half of :class:`~autoviz.runner.interp.Interpreter`."""

    def _register_hook(self, obj: Any, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        """``obj.register_hook(fn)`` (a tensor or a node) / ``node.register_prehook(fn)``."""
        if len(args) != 1 or kwargs:
            raise _Failure(TypeError(f"{name}() takes exactly one argument (the hook)"))
        function = args[0]
        if function.__class__ not in (UserFunction, BoundMethod):
            raise self._refuse(f"{name}() takes a function of the program (a def or a "
                               "lambda) as its hook")
        call = self._as_callable(function)
        if isinstance(obj, torch.Tensor):
            kind, target = "tensor", self.program.catalog.name_of(obj) or "a tensor"
        else:
            kind, target = KINDS[name], obj.name()
        line = self.budget.lineno

        def hook(*received: Any) -> Any:
            result = call(*received)
            hook_fired(HookFire(0, kind, target, line, _shown(
                received[0] if len(received) == 1 else received), _shown(result)))
            return result

        handle = self._fail_safe(getattr(obj, name), hook)
        self.handles.append(handle)
        return handle

    def _handle_attribute(self, handle: RemovableHandle, attr: str) -> Any:
        if attr != "remove":
            raise self._refuse(f"a hook's handle has .remove() only, not .{attr}")
        return _Function("handle", "handle.remove", handle)
