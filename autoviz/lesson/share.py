"""The view as URL query parameters: compact, URL-safe, and never unpickled.

The program travels zlib-compressed in URL-safe base64; everything else is plain text.
Decoding a link that came from anyone checks sizes before inflating anything.
"""

from __future__ import annotations

import base64
import binascii
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
    extra: dict[str, str] = field(default_factory=dict, compare=False)


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


def _names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.split(",") if n.isidentifier())[:50]


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
    return params


def from_params(params: dict[str, str]) -> View | None:
    """The view a link describes, or None when it has no program. Raises LinkError."""
    if "p" not in params:
        return None
    code = unpack_program(params["p"])
    nograd = params.get("nograd", "off")
    no_grad, line = "off", None
    if nograd == "all":
        no_grad = "all"
    elif nograd.isdigit():
        no_grad, line = "line", int(nograd)
    step = params.get("step", "0")
    root = params.get("root")
    budget = params.get("budget", "")
    return View(
        code=code,
        root=root if root and root.isidentifier() else None,
        gradient=params.get("g", "")[:500],
        retain=params.get("retain", "1") != "0",
        step=int(step) if step.isdigit() and len(step) < 7 else 0,
        no_grad=no_grad, no_grad_line=line,
        detach=_names(params.get("detach", "")),
        frozen=_names(params.get("frozen", "")),
        retain_grad=_names(params.get("retain_grad", "")),
        projector=params.get("projector") == "1",
        classic=params.get("view") == "classic",
        budget=int(budget) if budget.isdigit() and len(budget) < 7 else None,
    )
