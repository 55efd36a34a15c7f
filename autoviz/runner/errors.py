"""The one exception a program run raises."""

from __future__ import annotations


class ProgramError(Exception):
    """A program was refused, or failed while running.

    ``lineno`` is the 1-based line of the statement at fault (``None`` when the whole
    program is at fault, e.g. too long). ``message`` is plain words; for a failure
    inside torch or Python it is the original ``"TypeError: ..."`` text. ``refused`` is
    True when autoviz refused the program (not allowed / over a cap) rather than torch or
    Python raising while it ran.
    """

    def __init__(self, message: str, lineno: int | None = None, *, refused: bool = True,
                 error_type: str | None = None) -> None:
        self.message = message
        self.lineno = lineno
        self.refused = refused
        self.error_type = error_type
        where = f"line {lineno}: " if lineno is not None else ""
        super().__init__(where + message)

    def __reduce__(self) -> tuple:  # a worker's error crosses to the page by pickle
        return (_rebuild, (self.message, self.lineno, self.refused, self.error_type))


def _rebuild(message: str, lineno: int | None, refused: bool,
             error_type: str | None) -> ProgramError:
    return ProgramError(message, lineno, refused=refused, error_type=error_type)
