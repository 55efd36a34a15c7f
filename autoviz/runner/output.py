"""Output: print (its text capped while it is built, torch's print options) and the
warnings a torch call raises, kept with their line."""


from __future__ import annotations

import contextlib
import re
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterator

import torch

from autoviz.runner.costs import text_floor
from autoviz.runner.values import (
    _LOCK,
    _PRINT_FIELDS,
    _Failure,
)

_END = object()

if TYPE_CHECKING:
    from autoviz.runner.interp import Interpreter


class Output:
    """The output part of :class:`~autoviz.runner.interp.Interpreter`."""

    def _print(self, args: tuple, kwargs: dict[str, Any]) -> None:
        sep, end = kwargs.pop("sep", " "), kwargs.pop("end", "\n")
        if kwargs:
            raise self._refuse(f"print() options {sorted(kwargs)} are not supported")
        for key, value in (("sep", sep), ("end", end)):
            if value is not None and not isinstance(value, str):
                raise _Failure(TypeError(f"{key} must be None or a string, not "
                                         f"{type(value).__name__}"))
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        pieces: list[str] = []
        length = self.output_len
        for index, arg in enumerate((*args, _END)):
            text = end if arg is _END else self._as_text(str, arg)
            if index and arg is not _END:
                pieces.append(sep)
                length += len(sep)
            pieces.append(text)
            length += len(text)
            if length > self.limits.output_chars:
                raise self._refuse(f"the program printed more than "
                                   f"{self.limits.output_chars:,} characters")
        self.output_len = length
        self.output.append("".join(pieces))

    def _as_text(self, convert: Callable[..., str], value: Any, *more: Any) -> str:
        """``convert(value, *more)`` (str, repr, format…) under the program's print options,
        refused first if the text would be longer than any the program may hold."""
        room = max(self.limits.container_items, self.limits.output_chars)
        options = torch._tensor_str.PRINT_OPTS
        threshold = self.print_options.get("threshold", options.threshold)
        edgeitems = self.print_options.get("edgeitems", options.edgeitems)
        floor = text_floor(value, int(threshold), int(edgeitems), room)
        if floor > room:
            raise self._refuse(f"turning this value into text would make more than {room:,} "
                               "characters (a tensor writes each number it shows; print a "
                               "slice, or its .shape)")
        with self._printing():
            text = self._fail_safe(convert, value, *more)
        return self._check_python(text)

    @contextlib.contextmanager
    def _printing(self) -> Iterator[None]:
        """Apply the program's own print options while it turns a tensor into text."""
        if not self.print_options:
            yield
            return
        with _LOCK:
            opts = torch._tensor_str.PRINT_OPTS
            saved = {f: getattr(opts, f) for f in _PRINT_FIELDS}
            for key, value in self.print_options.items():
                setattr(opts, key, value)
            try:
                yield
            finally:
                for key, value in saved.items():
                    setattr(opts, key, value)

    # ---- operations ----------------------------------------------------------------------

    def _capture(self) -> _Capture:
        """Record the warnings torch raises during one operation, with the line."""
        return _Capture(self)

    def _warned(self, caught: list[Any]) -> None:
        for w in caught:
            message = str(w.message)
            if message.startswith("Error detected in "):
                message = self._anomaly(message)
            self.program.warnings.append(
                (self.budget.lineno or 0, f"{w.category.__name__}: {message}"))

    def _anomaly(self, message: str) -> str:
        """Anomaly mode's warning, its forward traceback (the interpreter's own frames, not
        the program's) replaced by the program's line that made the node."""
        found = _NODE.match(message)
        if found is None:
            return message.split("\n")[0]
        name = found.group(1)
        lines = sorted({o.lineno for (node, _), o in self.program.catalog.origins.items()
                        if o.lineno and node.name() == name})
        where = (f"line {lines[0]}" if len(lines) == 1 else
                 "lines " + ", ".join(map(str, lines)) if lines else "a line not known")
        return (f"Error detected in {name}. Anomaly mode traced it to the forward operation "
                f"made at {where}.")


_ALWAYS = ("always", None, Warning, None, 0)  # warnings.simplefilter("always")
_NODE = re.compile(r"Error detected in (\w+)\.")


def _start_capture() -> tuple[tuple[Any, Any, Any], list[Any]]:
    """``warnings.catch_warnings(record=True)`` + ``simplefilter("always")``, as a pair of
    plain calls (the context managers cost several microseconds per torch operation).
    The caller holds ``_LOCK``: the filters are process-wide."""
    module = warnings
    saved = (module.filters, module.showwarning, module._showwarnmsg_impl)  # type: ignore
    caught: list[Any] = []
    module.filters = [_ALWAYS]  # type: ignore[attr-defined]
    module._filters_mutated()  # type: ignore[attr-defined]
    module.showwarning = module._showwarning_orig  # type: ignore[attr-defined]
    module._showwarnmsg_impl = caught.append  # type: ignore[attr-defined]
    return saved, caught


def _stop_capture(saved: tuple[Any, Any, Any]) -> None:
    module = warnings
    module.filters, module.showwarning, module._showwarnmsg_impl = saved  # type: ignore
    module._filters_mutated()  # type: ignore[attr-defined]


class _Capture:
    """``with interpreter._capture():`` records the warnings raised inside, with the line."""

    __slots__ = ("interp", "saved", "caught")

    def __init__(self, interp: Interpreter) -> None:
        self.interp = interp

    def __enter__(self) -> None:
        _LOCK.acquire()
        try:
            self.saved, self.caught = _start_capture()
        except BaseException:
            _LOCK.release()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        try:
            _stop_capture(self.saved)
            if self.caught:
                self.interp._warned(self.caught)
        finally:
            _LOCK.release()
