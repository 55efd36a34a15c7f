"""User-derived text on the page: shown as text, never as Markdown (a link or an image in
a program's error message must not become an element that points at another host)."""

from __future__ import annotations

import re

_TICKS = re.compile(r"`+")


def _fence(text: str) -> str:
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def code_block(text: str) -> str:
    """``text`` as a fenced block: rendered literally, whatever it holds."""
    fence = _fence(text)
    return f"{fence}\n{text}\n{fence}"


def code(text: str) -> str:
    """``text`` as an inline code span, however many backticks it holds."""
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"
