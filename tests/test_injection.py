"""User text is never markup: a program's strings, names, printed output, messages quoting
them, link parameters and the gradient reach the page as text (code spans, code blocks,
literal widgets, escaped SVG text), never as a link, an image or an HTML element."""

import json
import re
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from pagetest import set_code
from streamlit.testing.v1 import AppTest
from test_browser import GRAPH, VIEW, WHOLE, browser, server  # noqa: F401 - its fixtures, reused

from autoviz import worker
from autoviz.drawing import layout
from autoviz.lesson.share import View, to_params
from ui import studies
from ui.text import code, code_block, one_line, plain

APP = str(Path(__file__).resolve().parents[1] / "page.py")
EVIL = "evil.example"
HOSTILE = ("[login](https://evil.example/login) ![](http://evil.example/b.png) "
           "<img src=http://evil.example/x.png>")
PROGRAM = f"""import torch
s = {HOSTILE!r}
print(s)
a_b_c = torch.tensor([2., 3.], requires_grad=True)
k_ = a_b_c * len("<img src=//evil.example/k.png> [k](http://evil.example/k)")
y_out = k_ * 2
"""
GRADIENT = 'torch.ones(2) * len("[g](http://evil.example/g) <img src=//evil.example/g.png>")'
# each is quoted (24 characters at most) in the note on the link's bad parameters; a blank
# line would end the code span it is quoted in, and what follows would be Markdown
BAD_PARAMS = {"step": "\n\n![](//evil.example/i)", "budget": "\n\n[x](//evil.example)",
              "retain": "\r\n\r\n<img src=//evil.example/r>", "nograd": "\n \n[n](//evil.example)",
              "detach": "__x__,[d](http://evil.example)", "view": "`![](//evil.example/v)`"}


def hostile_link() -> dict[str, str]:
    return {**to_params(View(code=PROGRAM, root="y_out", gradient=GRADIENT)), **BAD_PARAMS}


# --- what Markdown renders outside code ----------------------------------------------------

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_RUN = re.compile(r"`+")
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _without_spans(text: str) -> str:
    """``text`` (one paragraph) with its code spans taken out: a run of n backticks opens
    one that the next run of exactly n closes; an unmatched run is literal."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _PUNCTUATION:
            out.append(text[i:i + 2])
            i += 2
            continue
        if char != "`":
            out.append(char)
            i += 1
            continue
        opening = _RUN.match(text, i)[0]
        end = i + len(opening)
        closing = next((m.end() for m in _RUN.finditer(text, end)
                        if len(m[0]) == len(opening)), None)
        if closing is None:
            out.append(opening)
            i = end
        else:
            out.append(" ")
            i = closing
    return "".join(out)


def outside_code(markdown: str) -> str:
    """What of ``markdown`` is rendered as Markdown: everything but its fenced code blocks
    and its code spans (CommonMark's rules for those two; an indented block counts as
    Markdown, so this errs on the strict side)."""
    kept, fence = [], None
    for line in re.split(r"\r\n|\r|\n", markdown):
        found = _FENCE.match(line)
        if fence is not None:
            if (found and found[1][0] == fence[0] and len(found[1]) >= len(fence)
                    and not line[found.end():].strip()):
                fence = None
            continue
        if found and not (found[1][0] == "`" and "`" in line[found.end():]):
            fence = found[1]
            continue
        kept.append(line)
    paragraphs = re.split(r"\n[ \t]*\n", "\n".join(kept))  # no code span crosses one
    return "\n\n".join(_without_spans(p) for p in paragraphs)


def unsafe(markdown: str, *names: str) -> list[str]:
    """What in ``markdown`` would render as markup from the user's text: a link or an
    image (``](``, an address of the hostile host), an HTML tag, or one of ``names``
    outside a code span."""
    rest = re.sub(r"\\[!-/:-@\[-`{-~]", " ", outside_code(markdown))  # escaped: literal
    found = [m for m in ("](", EVIL, "http") if m in rest]
    found += re.findall(r"<[A-Za-z/!?][^>]*", rest)
    return found + [n for n in names if n in rest]


# fields Streamlit renders as Markdown (labels, help, bodies, radio options and captions,
# segmented-control options); selectbox and multiselect options, code, text inputs, tables,
# DOT and the component's data are shown as text and are not collected
_MARKDOWN_FIELDS = {"body", "label", "help", "captions", "content", "title"}


def _markdown_fields(message: object, found: list[str]) -> None:
    kind = type(message).__name__
    if kind in ("Html", "BidiComponent", "GraphVizChart", "Code", "Arrow"):
        return
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            for item in [value] if hasattr(value, "ListFields") else value:  # or repeated
                _markdown_fields(item, found)
        elif field.type == field.TYPE_STRING and (
                field.name in _MARKDOWN_FIELDS or (kind == "Radio" and field.name == "options")):
            found.extend([value] if isinstance(value, str) else value)


def markdown_texts(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown."""
    found: list[str] = []

    def visit(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            _markdown_fields(proto, found)
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(at._tree)
    return found


def assert_no_markup(at: AppTest, *names: str) -> None:
    assert not at.exception, at.exception
    texts = markdown_texts(at)
    assert texts  # the collector sees the page
    bad = {text: unsafe(text, *names) for text in texts if unsafe(text, *names)}
    assert not bad, bad
    for html in at.get("html"):  # the page's own CSS and title: no user text ever
        assert EVIL not in html.proto.body
    for element in at.get("bidi_component"):  # the graph: escaped text in plain SVG
        svg = json.loads(element.proto.json).get("svg") or ""
        assert not re.search(r"<(a|image|img|foreignObject|script|iframe)\b|href=", svg), svg


def open_page(params: dict[str, str], **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    for key, value in params.items():
        at.query_params[key] = value
    at.run(timeout=30)
    assert not at.exception, at.exception
    return at


# --- the helpers ---------------------------------------------------------------------------

NASTY = [HOSTILE, "a\n\n[x](http://evil.example)", "`", "``", "a ` b `` c", "```\n[x](http://e)",
         "x\r\n\r\n<img src=//evil.example/y>", " `[x](http://evil.example)` ", "\n", ""]


@pytest.mark.parametrize("text", NASTY)
def test_code_spans_and_blocks_hold_any_text(text):
    assert unsafe(f"before {code(text)} after") == []
    assert unsafe(f"**title**\n\n{code_block(text)}") == []
    assert one_line(text) == re.sub(r"\r\n|\r|\n", " ", text)


@pytest.mark.parametrize("text", [*NASTY, "detach: no top-level assignment to '__x__'"])
def test_plain_text_is_escaped_to_show_as_written(text):
    shown = plain(text)
    assert re.sub(r"\\(.)", r"\1", shown) == one_line(text)  # what Markdown shows
    assert not re.search(r"(?<!\\)[\[\]<>_*`!]", shown.replace("\\\\", ""))
    if "http" not in text:  # plain() is for sentences without addresses (code() is for those)
        assert unsafe(shown, "__x__") == []


def test_the_checker_sees_markup_outside_code():
    """The test's own Markdown reading: it must flag what the page must never write."""
    assert unsafe("[login](https://evil.example/login)")
    assert unsafe("`a`\n\n[x](http://e)` b`")  # a code span never crosses a blank line
    assert unsafe("`x=\n\n![](//evil.example/i)` is not a number")
    assert unsafe("<img src=x>")
    assert unsafe("note '__x__'", "__x__") and not unsafe("`__x__`", "__x__")
    assert not unsafe("```\n[x](http://evil.example)\n```")
    assert unsafe("```\na\n```\n[x](http://evil.example)")


# --- the page ------------------------------------------------------------------------------

@pytest.mark.timeout(240)
def test_a_hostile_link_program_gradient_and_parameters_show_no_markup():
    at = open_page(hostile_link())
    problems = "\n".join(w.value for w in at.warning)
    assert "Parts of this link were left out" in problems
    assert all(f"`{key}=" in problems for key in BAD_PARAMS), problems
    assert [c.value for c in at.code if HOSTILE in c.value]  # the printed line, as text
    step0 = "\n".join(m.value for m in at.markdown)
    assert "`gradient=torch.ones(2) * len('[g](http://evil.example/g)" in step0
    assert_no_markup(at, "a_b_c", "y_out", "k_")
    at.button(key="next").click().run(timeout=30)
    assert_no_markup(at, "a_b_c", "y_out", "k_")
    at.button(key="end").click().run(timeout=30)
    assert "— `a_b_c`" in "\n".join(m.value for m in at.markdown)
    assert_no_markup(at, "a_b_c", "y_out", "k_")
    leaf = next(n.id for n in studies.cached_study(PROGRAM, "y_out", GRADIENT, True, ())
                .graph.nodes if n.tensor and n.tensor.name == "a_b_c")
    at.session_state["selected"] = leaf  # what a click on the leaf sends back
    at.run(timeout=30)
    assert "**Selected:** `AccumulateGrad` — `a_b_c`" in "\n".join(m.value for m in at.markdown)
    assert_no_markup(at, "a_b_c", "y_out", "k_")


@pytest.mark.timeout(240)
def test_an_error_that_quotes_a_users_string_and_the_toggles_show_no_markup():
    at = open_page({}, view="classic")
    set_code(at, 'import torch\nx = int("[x](http://evil.example) <img src=//evil.example/e>")\n',
             timeout=30)
    assert any("evil.example" in e.value for e in at.error)
    assert_no_markup(at)
    set_code(at, PROGRAM, timeout=30)
    at.multiselect(key="detach").set_value(["k_"]).run(timeout=30)  # before / after
    markdown = "\n".join(m.value for m in at.markdown)
    assert "Before / after" in "\n".join(h.value for h in at.subheader)
    assert "Root value:" in markdown
    assert_no_markup(at, "a_b_c", "y_out", "k_")


@pytest.mark.timeout(240)
def test_notes_on_toggled_names_show_the_names_as_written():
    """Projector mode applies a link's toggles as they are: a name with no assignment is
    named in a note, and ``__x__`` stays ``__x__`` (not a bold x)."""
    at = open_page({**to_params(View(code=PROGRAM, root="y_out", gradient="torch.ones(2)",
                                     detach=("__x__",), projector=True))})
    notes = [c.value for c in at.caption if "assignment to" in c.value]
    assert notes, [c.value for c in at.caption]
    assert re.sub(r"\\(.)", r"\1", notes[0]) == "detach: no top-level assignment to '__x__'"
    assert_no_markup(at, "__x__")


@pytest.mark.timeout(240)
def test_messages_from_the_server_and_the_browser_are_shown_as_text(monkeypatch):
    quoted = "near '[x](http://evil.example)'\n\n![](//evil.example/i) <img src=//evil.example/l>"

    def no_layout(dot):
        raise layout.LayoutError(f"Graphviz could not lay out the graph: {quoted}")

    monkeypatch.setattr("ui.graphview.layout_svg", no_layout)
    monkeypatch.setattr("ui.graphview._scenes", {})  # no picture laid out before
    made = studies.cached_study

    def busy_when_toggled(source, *args, **kwargs):
        if "autoviz: cut the graph here" in source:
            raise worker.JobFailed(f"a program failed in its worker: {quoted}")
        return made(source, *args, **kwargs)

    monkeypatch.setattr(studies, "cached_study", busy_when_toggled)
    at = open_page({**to_params(View(code=PROGRAM, root="y_out", gradient="torch.ones(2)",
                                     detach=("k_",)))})
    captions = "\n".join(c.value for c in at.caption)
    assert "Interactive view unavailable" in captions
    assert "The toggles are not applied yet" in captions
    assert_no_markup(at, "a_b_c", "y_out", "k_")
    monkeypatch.undo()
    at = open_page({}, view="classic", view_error=f"SVG failed: {quoted}")
    assert "The interactive view failed in this browser" in "\n".join(c.value for c in at.caption)
    assert_no_markup(at)


# --- a real browser ------------------------------------------------------------------------

FIND_LINKS = """() => {
  // every address an element of this document (its shadow roots included) points at
  const found = [];
  const attrs = ['href', 'src', 'srcset', 'xlink:href', 'action', 'formaction', 'poster',
                 'data', 'background'];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const a of attrs) {
        const v = el.getAttribute(a);
        if (v) found.push([el.tagName.toLowerCase(), a, v]);
      }
      const style = el.getAttribute('style');
      if (style && style.includes('url(')) found.push([el.tagName.toLowerCase(), 'style', style]);
      if (el.shadowRoot) visit(el.shadowRoot);
    }
  };
  visit(document);
  const shadows = [...document.querySelectorAll('*')].filter(e => e.shadowRoot).length;
  return {found, shadows, text: document.body.innerText};
}"""
LOCAL = "127.0.0.1"


def _host_ok(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == LOCAL


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_in_a_browser_a_hostile_link_requests_nothing_from_another_host(
        server, browser):  # noqa: F811 - test_browser's fixtures
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    page.set_default_timeout(60_000)
    try:
        page.goto(server + "/?" + urlencode(hostile_link()), timeout=90_000)
        page.wait_for_selector(GRAPH, timeout=90_000)
        page.wait_for_selector(WHOLE, timeout=60_000)  # the whole page is in
        page.wait_for_function(f"document.body.innerText.includes({HOSTILE!r})",
                               timeout=60_000)  # the printed line, as text
        page.wait_for_function(
            "document.body.innerText.includes('Parts of this link were left out')")
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("document.body.innerText.includes('Step 1 of 3')")
        page.get_by_role("button", name="Next").click()
        page.wait_for_function("document.body.innerText.includes('Step 2 of 3')")
        page.locator(f"{VIEW} g.node", has_text="AccumulateGrad").click()  # a_b_c's details
        page.get_by_text("Selected:").wait_for()
        time.sleep(1.0)  # anything the last rerun's elements would fetch
        frames = [page.main_frame, *[f for f in page.frames if f is not page.main_frame]]
        seen = [frame.evaluate(FIND_LINKS) for frame in frames]
    finally:
        page.close()
    main = seen[0]
    assert main["shadows"] >= 1  # the graph's shadow root was searched too
    assert "a_b_c" in main["text"] and "Step 2 of 3" in main["text"]
    pointing = [link for view in seen for link in view["found"] if EVIL in link[2]]
    assert not pointing, pointing
    assert requested and all(_host_ok(url) for url in requested), [
        url for url in requested if not _host_ok(url)]
