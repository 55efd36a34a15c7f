"""User-derived text on the page: shown as text, never as Markdown (a link or an image in
a program's error message must not become an element that points at another host).

Whatever comes from the user (program text, names, printed output, messages quoting
them, link parameters) goes into the page's Markdown only through these helpers: a code
block (:func:`code_block`), a code span (:func:`code`), or, for a sentence of the page's
own that quotes names, :func:`plain`; widgets that show text literally (``st.code``,
``st.text_area``, selectbox and multiselect options, dataframes) need none of them."""

from __future__ import annotations

import re

import streamlit as st

_TICKS = re.compile(r"`+")
_BREAKS = re.compile(r"\r\n|\r|\n")
# every ASCII punctuation character can be backslash-escaped in (GitHub-flavoured) Markdown
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _fence(text: str) -> str:
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def code_block(text: str) -> str:
    """``text`` as a fenced block: rendered literally, whatever it holds."""
    fence = _fence(text)
    return f"{fence}\n{text}\n{fence}"


def one_line(text: str) -> str:
    """``text`` with its line breaks as spaces, as a code span shows them anyway: in a
    code span a blank line would end the paragraph, and the span with it."""
    return _BREAKS.sub(" ", text)


def code(text: str) -> str:
    """``text`` as an inline code span, however many backticks or line breaks it holds."""
    text = one_line(text)
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"`{text}`"


def plain(text: str) -> str:
    """``text`` as Markdown that shows exactly those characters (every punctuation
    character escaped, line breaks as spaces): a sentence that is not code but may quote
    a name, e.g. ``'__init__'``, which Markdown would otherwise embolden. Not for text
    that may hold a web address (Markdown links a bare one): put that in :func:`code`."""
    return _PUNCTUATION.sub(r"\\\1", one_line(text))


def error_box(title: str, message: str) -> None:
    """An error: ``title`` is the page's words, ``message`` (torch's, Python's or about
    the user's text) is shown literally, never as Markdown."""
    st.error(f"**{title}**\n\n{code_block(message)}", icon="⚠️")
