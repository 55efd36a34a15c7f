// The program beside the graph: numbered lines, the current step's forward line and the
// failing line marked, a click on a line reports it (Python marks that line's nodes).
// Every line is written with textContent: program text never becomes markup.
const KEYWORDS = new Set(("and as assert break class continue def del elif else except " +
  "False finally for from global if import in is lambda None nonlocal not or pass raise " +
  "return True try while with yield").split(" "));
const TOKEN = /(#.*$)|("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)|([A-Za-z_][A-Za-z0-9_]*)|(\d+\.?\d*(?:e[+-]?\d+)?)|([^A-Za-z0-9_#"']+)/g;

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

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".pv-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "pv-root";
    root.setAttribute("role", "list");
    root.addEventListener("click", (e) => {
      const line = e.target.closest(".pv-line");
      if (line) root.__trigger("line", Number(line.dataset.n));
    });
    parentElement.appendChild(root);
  }
  root.__trigger = setTriggerValue;
  if (root.__source !== data.source) {
    root.replaceChildren();
    data.source.split("\n").forEach((text, i) => {
      const row = document.createElement("div");
      row.className = "pv-line";
      row.dataset.n = String(i + 1);
      row.setAttribute("role", "listitem");
      const no = document.createElement("span");
      no.className = "pv-no";
      no.textContent = String(i + 1);
      const code = document.createElement("span");
      code.className = "pv-code";
      paint(code, text);
      row.append(no, code);
      root.appendChild(row);
    });
    root.__source = data.source;
  }
  root.style.maxHeight = `${data.height}px`;
  for (const row of root.children) {
    const n = Number(row.dataset.n);
    row.classList.toggle("current", n === data.current);
    row.classList.toggle("failing", n === data.failing);
    row.classList.toggle("selected", n === data.selected);
  }
  const focus = root.querySelector(".failing") || root.querySelector(".current");
  if (focus) {  // keep the marked line in view (within the box, never the page)
    const top = focus.offsetTop - root.offsetTop;
    if (top < root.scrollTop || top > root.scrollTop + root.clientHeight - focus.offsetHeight)
      root.scrollTop = Math.max(0, top - root.clientHeight / 3);
  }
  root.dataset.ready = "1";
}
