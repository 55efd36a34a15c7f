"""The view as URL query parameters: compact, URL-safe, and never unpickled.

The program travels zlib-compressed in URL-safe base64; everything else is plain text.
Decoding a link that came from anyone checks sizes before inflating anything.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass, field

MAX_PROGRAM_CHARS = 20_000
MAX_PARAM_CHARS = 40_000


class LinkError(ValueError):
    """A shared link that cannot be read; the message says why."""


@dataclass(frozen=True)
class View:
    """Everything a link restores: the program, the choices and the step."""

    code: str
    root: str | None = None
    gradient: str = ""
    retain: bool = True
    step: int = 0
    no_grad: str = "off"  # "off" | "all" | "line"
    no_grad_line: int | None = None
    detach: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    retain_grad: tuple[str, ...] = ()
    projector: bool = False
    classic: bool = False  # Streamlit's graphviz chart instead of the interactive view
    budget: int | None = None  # boxes drawn before folding (None: the default; 0: all)
    call: int = 0  # of the program's own backward() calls, the one stepped (0: its last)
    extra: dict[str, str] = field(default_factory=dict, compare=False)
    problems: tuple[str, ...] = field(default=(), compare=False)  # parameters ignored


MAX_CALL = 100_000  # a backward() call's number in a link


def pack_program(code: str) -> str:
    """Program text -> short URL-safe text (zlib + base64url, no padding)."""
    raw = zlib.compress(code.encode("utf-8"), 9)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unpack_program(text: str) -> str:
    """The inverse of :func:`pack_program`, refusing anything oversized or malformed."""
    if len(text) > MAX_PARAM_CHARS:
        raise LinkError("the program in the link is too long")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise LinkError("the program in the link is not valid base64") from None
    inflate = zlib.decompressobj()
    try:
        data = inflate.decompress(raw, MAX_PROGRAM_CHARS * 4 + 1)
    except zlib.error:
        raise LinkError("the program in the link is damaged") from None
    if inflate.unconsumed_tail or len(data) > MAX_PROGRAM_CHARS * 4:
        raise LinkError("the program in the link is too long")
    if not inflate.eof:
        raise LinkError("the program in the link is damaged")
    try:
        code = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LinkError("the program in the link is not text") from None
    if len(code) > MAX_PROGRAM_CHARS:
        raise LinkError("the program in the link is too long")
    return code


_DIGITS = re.compile(r"[0-9]{1,7}")  # ASCII only: str.isdigit() takes "²", which int() refuses
MAX_STEP = 1_000_000
MAX_BUDGET = 100_000


def _shown(value: str) -> str:
    """A parameter's value as a message quotes it: short, and no backtick to end the code
    span it goes in (a link's text never becomes markup)."""
    return value[:24].replace("`", "'") + ("…" if len(value) > 24 else "")


def _count(params: dict[str, str], key: str, low: int, high: int,
           problems: list[str]) -> int | None:
    text = params.get(key)
    if text is None:
        return None
    if _DIGITS.fullmatch(text) and low <= int(text) <= high:
        return int(text)
    problems.append(f"`{key}={_shown(text)}` is not a whole number from {low} to {high:,}")
    return None


def _names(params: dict[str, str], key: str, problems: list[str]) -> tuple[str, ...]:
    text = params.get(key, "")
    names = [n for n in text.split(",") if n]
    bad = [n for n in names if not n.isidentifier()]
    if bad or len(names) > 50:
        problems.append(f"`{key}={_shown(text)}` is not a list of up to 50 names")
    return tuple(n for n in names if n.isidentifier())[:50]


def _choice(params: dict[str, str], key: str, allowed: tuple[str, ...],
            problems: list[str]) -> str | None:
    text = params.get(key)
    if text is not None and text not in allowed:
        problems.append(f"`{key}={_shown(text)}` is not one of {', '.join(allowed)}")
        return None
    return text


def to_params(view: View) -> dict[str, str]:
    """Query parameters for ``view`` (defaults left out, so links stay short)."""
    params = {"p": pack_program(view.code)}
    if view.root:
        params["root"] = view.root
    if view.gradient:
        params["g"] = view.gradient
    if not view.retain:
        params["retain"] = "0"
    if view.step:
        params["step"] = str(view.step)
    if view.no_grad == "all":
        params["nograd"] = "all"
    elif view.no_grad == "line" and view.no_grad_line:
        params["nograd"] = str(view.no_grad_line)
    for key, names in (("detach", view.detach), ("frozen", view.frozen),
                       ("retain_grad", view.retain_grad)):
        if names:
            params[key] = ",".join(names)
    if view.projector:
        params["projector"] = "1"
    if view.classic:
        params["view"] = "classic"
    if view.budget is not None:
        params["budget"] = str(view.budget)
    if view.call:
        params["call"] = str(view.call)
    return params


# the parameters of a view, besides the program itself (p)
VIEW_PARAMS = frozenset({"root", "g", "retain", "step", "nograd", "detach", "frozen",
                         "retain_grad", "projector", "view", "budget", "slide", "call"})


def from_params(params: dict[str, str], default: str | None = None) -> View | None:
    """The view a link describes, or None when it describes none. A link without a
    program (``?projector=1&step=2``) opens ``default`` with the rest of its view. Raises
    LinkError when the program cannot be read; any other parameter that is not what it
    should be is left out and named in ``View.problems`` (the rest of the link opens)."""
    if "p" in params:
        code = unpack_program(params["p"])
    elif default is not None and VIEW_PARAMS & set(params):
        code = default
    else:
        return None
    problems: list[str] = []
    no_grad, line = "off", None
    if params.get("nograd") == "all":
        no_grad = "all"
    elif params.get("nograd") not in (None, "off"):
        line = _count(params, "nograd", 1, MAX_PROGRAM_CHARS, problems)
        no_grad = "line" if line is not None else "off"
    root = params.get("root")
    if root is not None and not root.isidentifier():
        problems.append(f"`root={_shown(root)}` is not a name")
        root = None
    gradient = params.get("g", "")
    if len(gradient) > 500:
        problems.append("`g` is longer than 500 characters")
        gradient = ""
    return View(
        code=code,
        root=root or None,
        gradient=gradient,
        retain=_choice(params, "retain", ("0", "1"), problems) != "0",
        step=_count(params, "step", 0, MAX_STEP, problems) or 0,
        no_grad=no_grad, no_grad_line=line,
        detach=_names(params, "detach", problems),
        frozen=_names(params, "frozen", problems),
        retain_grad=_names(params, "retain_grad", problems),
        projector=_choice(params, "projector", ("0", "1"), problems) == "1",
        classic=_choice(params, "view", ("classic", "interactive"), problems) == "classic",
        budget=_count(params, "budget", 0, MAX_BUDGET, problems),
        call=_count(params, "call", 0, MAX_CALL, problems) or 0,
        problems=tuple(problems),
    )
