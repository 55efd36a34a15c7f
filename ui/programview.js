// The program editor beside the graph: numbered, coloured lines under a textarea that
// takes the typing (the classic overlay: the textarea's own text is transparent, the
// coloured copy under it shows through). The current step's forward line, the failing
// line and the selected line are marked; a click on a line (or its number) reports it, and
// Python marks that line's nodes. Ctrl+Enter, the Run button or leaving the editor sends
// the text to run. Every line is written with textContent: program text never becomes
// markup.
const KEYWORDS = new Set(("and as assert break class continue def del elif else except " +
  "False finally for from global if import in is lambda None nonlocal not or pass raise " +
  "return True try while with yield").split(" "));
const TOKEN = /(#.*$)|("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)|([A-Za-z_][A-Za-z0-9_]*)|(\d+\.?\d*(?:e[+-]?\d+)?)|([^A-Za-z0-9_#"']+)/g;
const INDENT = "    ";

function paint(row, text) {
  // a light Python colouring: keywords, strings, comments, numbers
  for (const m of text.matchAll(TOKEN)) {
    const span = document.createElement("span");
    span.textContent = m[0];
    if (m[1]) span.className = "pv-com";
    else if (m[2]) span.className = "pv-str";
    else if (m[3] && KEYWORDS.has(m[3])) span.className = "pv-kw";
    else if (m[4]) span.className = "pv-num";
    row.appendChild(span);
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function build(parentElement) {
  const root = el("div", "pv-root");
  const bar = el("div", "pv-bar");
  bar.append(el("span", "pv-title", "Program (PyTorch)"),
    el("span", "pv-state"), el("span", "pv-keys", "Ctrl+Enter runs"));
  const run = el("button", "pv-run", "Run ▶");
  run.type = "button";
  run.title = "Run the program as written (Ctrl+Enter)";
  bar.append(run);
  const scroll = el("div", "pv-scroll");
  const body = el("div", "pv-body");
  const gutter = el("div", "pv-gutter");
  gutter.setAttribute("aria-hidden", "true");
  const code = el("div", "pv-code");
  const lines = el("div", "pv-lines");
  lines.setAttribute("aria-hidden", "true");
  const input = el("textarea", "pv-input");
  input.spellcheck = false;
  input.wrap = "off";
  input.setAttribute("autocapitalize", "off");
  input.setAttribute("autocomplete", "off");
  input.setAttribute("aria-label", "Program (PyTorch): Ctrl+Enter runs it, Escape leaves");
  code.append(lines, input);
  body.append(gutter, code);
  scroll.append(body);
  root.append(bar, scroll);
  parentElement.appendChild(root);
  const av = { root, bar, run, scroll, gutter, lines, input, state: bar.children[1],
    source: null, reported: null };
  root.__av = av;
  // the page around it settles after it (the graph mounts, the rest of the page comes)
  const refit = () => { if (root.isConnected) fitHeight(av); };
  window.addEventListener("resize", refit);
  new ResizeObserver(refit).observe(
    document.querySelector("[data-testid='stMainBlockContainer']") || document.body);

  const send = () => {
    if (input.value === av.source || input.value === av.sent) return; // ran, or on its way
    av.sent = input.value;
    av.trigger("code", input.value);
    mark(av);
  };
  run.addEventListener("click", () => {
    if (input.value === av.source) av.trigger("code", input.value); // run it again anyway
    else send();
  });
  input.addEventListener("input", () => { repaint(av); mark(av); });
  input.addEventListener("blur", send);
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape") {
      input.blur();
    } else if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault(); // indent (Escape first to move on with Tab)
      input.setRangeText(INDENT, input.selectionStart, input.selectionEnd, "end");
      repaint(av);
      mark(av);
    } else if (e.key === "Enter" && !e.shiftKey && !e.altKey) {
      // keep the line's indentation, one more after a colon
      const start = input.selectionStart;
      const before = input.value.slice(0, start);
      const line = before.slice(before.lastIndexOf("\n") + 1);
      let indent = line.match(/^[ \t]*/)[0];
      if (/:\s*(#.*)?$/.test(line)) indent += INDENT;
      e.preventDefault();
      input.setRangeText("\n" + indent, start, input.selectionEnd, "end");
      repaint(av);
      mark(av);
    }
  });
  const lineAt = () => input.value.slice(0, input.selectionStart).split("\n").length;
  input.addEventListener("click", () => {
    const n = lineAt();
    if (n !== av.data.selected) av.trigger("line", n); // a line's click marks its nodes
  });
  gutter.addEventListener("click", (e) => {
    const no = e.target.closest(".pv-no");
    if (no) av.trigger("line", Number(no.dataset.n)); // again: unmark
  });
  return av;
}

function repaint(av) {
  // the coloured copy and the numbers, from the textarea's text
  const text = av.input.value;
  if (av.painted === text) return;
  av.painted = text;
  const rows = text.split("\n");
  av.lines.replaceChildren();
  av.gutter.replaceChildren();
  rows.forEach((line, i) => {
    const row = el("div", "pv-line");
    row.dataset.n = String(i + 1);
    paint(row, line);
    if (!line) row.textContent = "\u200b"; // an empty line keeps its height
    av.lines.appendChild(row);
    const no = el("div", "pv-no", String(i + 1));
    no.dataset.n = String(i + 1);
    av.gutter.appendChild(no);
  });
}

function mark(av) {
  const data = av.data;
  const edited = av.input.value !== av.source;
  // the marks belong to the program that ran; once the text differs, only the typing shows
  const marks = { current: edited ? null : data.current, failing: edited ? null : data.failing,
    selected: edited ? null : data.selected };
  for (const box of [av.lines, av.gutter]) {
    for (const row of box.children) {
      const n = Number(row.dataset.n);
      for (const name in marks) row.classList.toggle(name, n === marks[name]);
    }
  }
  av.root.classList.toggle("edited", edited);
  av.state.textContent = edited ? "edited: not run yet" : "";
  return marks;
}

function keepInView(av, n) {
  // keep the marked line in view (within the box, never the page)
  const row = av.lines.children[n - 1];
  if (!row) return;
  const scroll = av.scroll;
  const top = row.offsetTop;
  if (top < scroll.scrollTop || top > scroll.scrollTop + scroll.clientHeight - row.offsetHeight)
    scroll.scrollTop = Math.max(0, top - scroll.clientHeight / 3);
}

function fitHeight(av) {
  // as tall as its lines, up to data.height, and no taller than the first screen has room
  // for below the graph (so the program, the graph and the step show together); further
  // down the page (a phone), data.height
  // (Streamlit scrolls its main area, not the window)
  const main = document.querySelector("[data-testid='stMain']");
  const top = av.scroll.getBoundingClientRect().top + (main ? main.scrollTop : window.scrollY);
  const room = window.innerHeight - top - 12;
  const height = room >= 120 ? Math.min(room, av.data.height) : av.data.height;
  av.scroll.style.maxHeight = `${Math.round(height)}px`;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const found = parentElement.querySelector(".pv-root");
  const av = found ? found.__av : build(parentElement);
  av.trigger = setTriggerValue;
  av.data = data;
  if (av.source !== data.source) {
    // a new program from the server (run, a preset, a form, a link): it replaces the text,
    // unless it is what this editor sent and the user typed on since
    const typedOn = av.sent === data.source && av.input.value !== data.source;
    if (!typedOn) av.input.value = data.source;
    av.source = data.source;
  }
  fitHeight(av);
  repaint(av);
  const marks = mark(av);
  const focus = marks.failing || marks.current;
  if (focus) keepInView(av, focus);
  av.root.dataset.ready = "1";
}
