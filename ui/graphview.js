// autoviz's graph view: a server-laid-out SVG that pans, zooms and reports clicks.
// Called on every rerun with new data; the SVG is replaced only when its key changes, so
// a step only restyles nodes (classes current / done / pending / selected, note texts).

// Below this first-view scale, start readable at the root instead of fitting it all:
// 14pt labels at 0.65 are 12px on screen (the neuron preset fits whole in the page's
// column at 0.70); projector labels (22pt, 29px) at 0.62, 18px: readable from the back.
const MIN_READABLE = { normal: 0.65, large: 0.62 };
const CLICK_SLOP = 5; // px a pointer may move and still click
const PAD = 16; // px of air around a fitted graph
const MAX_FIT = 1.25; // a small graph is not blown up past this

function setup(parentElement) {
  const root = document.createElement("div");
  root.className = "av-root";
  root.innerHTML =
    '<div class="av-tools">' +
    '<button type="button" data-act="in" title="Zoom in (+)">+</button>' +
    '<button type="button" data-act="out" title="Zoom out (−)">−</button>' +
    '<button type="button" data-act="fit" title="Fit the whole graph">Fit</button>' +
    '<button type="button" data-act="current" title="Show the current step">Current</button>' +
    "</div>" +
    '<div class="av-canvas" tabindex="-1" aria-label="autograd graph"></div>';
  parentElement.appendChild(root);
  const av = {
    root,
    canvas: root.querySelector(".av-canvas"),
    svg: null,
    key: null,
    vb: null, // [x, y, w, h] in SVG units
    full: null, // the layout's own viewBox
    pointers: new Map(),
    pinch: null,
    press: null,
    data: null,
    setTriggerValue: null,
  };
  root.__av = av;

  root.querySelector(".av-tools").addEventListener("click", (e) => {
    const act = e.target.closest("button")?.dataset.act;
    if (act === "in") zoomAt(av, 1.25);
    else if (act === "out") zoomAt(av, 0.8);
    else if (act === "fit") fit(av, true);
    else if (act === "current") reveal(av, av.data && av.data.current, true);
  });
  const c = av.canvas;
  c.addEventListener("wheel", (e) => {
    if (!av.svg) return;
    e.preventDefault();
    const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    zoomAt(av, factor, e.clientX, e.clientY);
  }, { passive: false });
  c.addEventListener("pointerdown", (e) => {
    if (!av.svg) return;
    c.setPointerCapture(e.pointerId);
    av.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    if (av.pointers.size === 1) {
      av.press = { x: e.clientX, y: e.clientY, moved: false,
                   node: e.target.closest("g.node") };
    } else {
      av.press = null;
      const [a, b] = [...av.pointers.values()];
      av.pinch = Math.hypot(a[0] - b[0], a[1] - b[1]);
    }
  });
  c.addEventListener("pointermove", (e) => {
    const last = av.pointers.get(e.pointerId);
    if (!last) return;
    av.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    if (av.pointers.size === 2 && av.pinch) {
      const [a, b] = [...av.pointers.values()];
      const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
      zoomAt(av, d / av.pinch, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
      av.pinch = d;
      return;
    }
    if (av.press && !av.press.moved &&
        Math.hypot(e.clientX - av.press.x, e.clientY - av.press.y) < CLICK_SLOP) return;
    if (av.press) av.press.moved = true;
    panBy(av, e.clientX - last[0], e.clientY - last[1]);
  });
  const release = (e) => {
    av.pointers.delete(e.pointerId);
    if (av.pointers.size < 2) av.pinch = null;
    const press = av.press;
    av.press = null;
    if (e.type === "pointerup" && press && !press.moved && press.node && av.setTriggerValue) {
      av.setTriggerValue("clicked", press.node.id);
    }
  };
  c.addEventListener("pointerup", release);
  c.addEventListener("pointercancel", release);
  c.addEventListener("dblclick", () => fit(av, true));
  new ResizeObserver(() => apply(av)).observe(c);
  return av;
}

function scale(av) {
  return av.canvas.clientWidth / av.vb[2];
}

function apply(av) {
  if (!av.svg || !av.vb) return;
  const w = av.canvas.clientWidth || 1;
  const h = av.canvas.clientHeight || 1;
  const s = av.vb[2] ? w / av.vb[2] : 1;
  av.vb[3] = h / s; // keep the canvas's aspect: no letterboxing, one scale
  av.svg.setAttribute("viewBox", av.vb.map((v) => v.toFixed(2)).join(" "));
}

function zoomAt(av, factor, clientX, clientY) {
  if (!av.vb) return;
  const r = av.canvas.getBoundingClientRect();
  const px = clientX === undefined ? r.width / 2 : clientX - r.left;
  const py = clientY === undefined ? r.height / 2 : clientY - r.top;
  const s = scale(av);
  const next = Math.min(8, Math.max(0.02, s * factor));
  const [x, y] = [av.vb[0] + px / s, av.vb[1] + py / s];
  av.vb = [x - px / next, y - py / next, r.width / next, r.height / next];
  apply(av);
}

function panBy(av, dx, dy) {
  const s = scale(av);
  av.vb[0] -= dx / s;
  av.vb[1] -= dy / s;
  apply(av);
}

function nodeBox(av, id) {
  // the node's box in SVG user units (the graph group's transform included)
  const g = id && av.svg.getElementById(id);
  if (!g) return null;
  const b = g.getBBox();
  const m = g.getCTM();
  const top = av.svg.getCTM();
  if (!m || !top) return null;
  const k = top.inverse().multiply(m);
  return { x: b.x * k.a + k.e, y: b.y * k.d + k.f, w: b.width * k.a, h: b.height * k.d };
}

function fit(av, whole) {
  const [x, y, W, H] = av.full;
  const w = av.canvas.clientWidth || 800;
  const h = av.canvas.clientHeight || 600;
  let s = Math.min((w - 2 * PAD) / W, (h - 2 * PAD) / H);
  const readable = MIN_READABLE[av.data && av.data.large ? "large" : "normal"];
  if (whole || s >= readable) {
    s = Math.min(s, MAX_FIT);
    av.vb = [x + W / 2 - w / s / 2, y + H / 2 - h / s / 2, w / s, h / s];
  } else {
    // too small to read: start readable, at the top (where backward starts), on the root
    s = readable;
    const box = nodeBox(av, av.data.roots && av.data.roots[0]);
    const cx = box ? box.x + box.w / 2 : x + W / 2;
    av.vb = [cx - w / s / 2, y - PAD / s, w / s, h / s];
  }
  apply(av);
}

function reveal(av, id, always) {
  // pan (never zoom) so the node is in view, if it is not already
  if (!av.svg || !id) return;
  const box = nodeBox(av, id);
  if (!box) return;
  const [x, y, w, h] = av.vb;
  const inside = box.x >= x && box.y >= y && box.x + box.w <= x + w && box.y + box.h <= y + h;
  if (inside && !always) return;
  av.vb[0] = box.x + box.w / 2 - w / 2;
  av.vb[1] = box.y + box.h / 2 - h / 2;
  apply(av);
}

const STATES = ["current", "done", "pending", "selected"];

function restyle(av, state, selected) {
  const slots = new Set(av.data.slots || []);
  const marked = new Set(av.data.marked || []);
  for (const g of av.svg.querySelectorAll("g.node")) {
    g.classList.toggle("marked", marked.has(g.id));
    const [cls, note] = state[g.id] || [null, null];
    for (const name of STATES) g.classList.toggle(name, name === cls);
    g.classList.toggle("selected", g.id === selected);
    g.classList.toggle("summary", g.id.startsWith("s"));
    if (slots.has(g.id)) {
      const texts = g.querySelectorAll("text");
      const last = texts[texts.length - 1];
      if (last && last.textContent !== (note || "")) last.textContent = note || "";
    }
  }
}

// Stepping ahead of the server: on ←/→ or a click on Prev/Next, the page shows the
// neighbouring step at once from data.ahead (what Python computed for steps k-1 and k+1);
// the rerun that follows brings the same state, then the next neighbours. data-shown is
// the step on screen, data-step the one the server last confirmed. Should the rerun never
// come (the connection dropped), the server's step comes back after UNCONFIRMED ms.
let live = null; // the mounted view (one per page)
const UNCONFIRMED = 10000;

function showAhead(delta) {
  const av = live;
  if (!av || !av.root.isConnected || !av.svg || !av.data) return;
  const data = av.data;
  if (av.key !== data.key || av.shown !== data.step) return; // waiting for the server
  const next = data.ahead && data.ahead[String(data.step + delta)];
  if (!next) return;
  restyle(av, Object.assign({}, data.state, next.change), data.selected);
  av.shown = data.step + delta;
  av.root.dataset.shown = String(av.shown);
  if (data.follow) reveal(av, next.current, false);
  clearTimeout(av.unconfirmed);
  av.unconfirmed = setTimeout(() => {
    if (av.data !== data || av.shown === data.step) return; // the server has answered
    restyle(av, data.state || {}, data.selected);
    av.shown = data.step;
    av.target = undefined; // the presses were lost with the connection
    av.root.dataset.shown = String(data.step);
  }, UNCONFIRMED);
}

function stepKeyTarget(target) {
  // where an arrow key means "step": the page itself, a button (Prev/Next keep focus after
  // a click), or the graph (the event is retargeted to the component's host out here)
  if (!target || target === document.body || target === document.documentElement) return true;
  if (live && target === live.root.getRootNode().host) return true;
  return !!(target.closest && target.closest("button"));
}

function stepBy(delta) {
  // ←/→ are counted here, not by Streamlit's button shortcuts: each press moves the target
  // step, which goes to Python as a number (a burst of presses is one rerun that lands on
  // the last target, so none is lost). The neighbouring step shows at once.
  const av = live;
  if (!av || !av.root.isConnected || !av.data) return;
  const data = av.data;
  const base = av.target === undefined ? av.shown : av.target;
  const target = Math.max(0, Math.min(data.last, base + delta));
  if (target === base) return;
  av.target = target;
  av.targetKey = av.key;
  if (target === data.step + delta) showAhead(delta);
  av.setTriggerValue("step_to", target);
}

function listenForSteps() {
  window.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    if (!stepKeyTarget(e.target) || !live || !live.root.isConnected || !live.data) return;
    e.preventDefault();
    stepBy(e.key === "ArrowRight" ? 1 : -1);
  });
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("button");
    if (!button || button.disabled) return;
    if (button.closest(".st-key-next")) showAhead(1);
    else if (button.closest(".st-key-prev")) showAhead(-1);
  }, true);
}

export default function (component) {
  try {
    render(component);
  } catch (err) {
    // tell Python, which falls back to Streamlit's own graphviz chart
    component.setTriggerValue("failed", String(err && err.message ? err.message : err));
  }
}

function render(component) {
  const { data, parentElement, setTriggerValue } = component;
  if (data.fail === "silent") return; // tests: a view whose script never runs
  if (data.fail) throw new Error(data.fail); // tests exercise the fallback with this
  const av = parentElement.querySelector(".av-root")?.__av || setup(parentElement);
  av.setTriggerValue = setTriggerValue;
  av.data = data;
  av.root.classList.toggle("large", !!data.large);
  // projector: the graph fills the screen below where it starts (never less than asked)
  av.canvas.style.height = data.large
    ? `max(${data.height}px, calc(100vh - ${Math.round(av.root.getBoundingClientRect().top
        + window.scrollY) + 24}px))`
    : `${data.height}px`;
  if (av.key !== data.key) {
    if (!data.svg) {
      // the server sent this picture to an earlier mount of the view: ask for it again
      // (again after a while if the answer was lost, never in a tight loop)
      if (av.asked !== data.key || Date.now() - av.askedAt > 2000) {
        av.asked = data.key;
        av.askedAt = Date.now();
        setTriggerValue("need_svg", data.key);
      }
      return;
    }
    av.canvas.innerHTML = data.svg;
    av.svg = av.canvas.querySelector("svg");
    av.full = av.svg.getAttribute("viewBox").split(/\s+/).map(Number);
    av.svg.removeAttribute("width");
    av.svg.removeAttribute("height");
    av.svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    av.key = data.key;
    restyle(av, data.state || {}, data.selected);
    fit(av, false);
    if (data.first && !av.drawn) {
      av.drawn = true;
      setTriggerValue("drawn", true); // Python sends the rest of the page after the graph
    }
  } else {
    restyle(av, data.state || {}, data.selected);
  }
  // presses still on their way keep their target; a new picture (another program) or
  // the server's own step reached, passed or gone the other way ends it
  const before = av.lastStep;
  av.lastStep = data.step;
  if (av.target !== undefined && (av.key !== av.targetKey || data.step === av.target
      || (before !== undefined && Math.abs(av.target - data.step) > Math.abs(av.target - before))))
    av.target = undefined; // reached, another program, or the server went the other way
  av.shown = data.step;
  av.root.dataset.step = av.root.dataset.shown = String(data.step);
  av.root.dataset.target = String(av.target === undefined ? data.step : av.target);
  if (live === null) listenForSteps();
  live = av;
  if (data.follow) reveal(av, data.current, false);
  av.root.dataset.ready = av.key;
}
