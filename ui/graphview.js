// autoviz's graph view: a server-laid-out SVG that pans, zooms and reports clicks.
// Called on every rerun with new data; the SVG is replaced only when its key changes, so
// a step only restyles nodes (classes current / done / pending / selected, note texts).

// On-screen label sizes, in CSS px of the labels' font (a label's box is ~1.1× taller).
// READABLE: what Current, following the step, an expanded box and a first view that
// cannot show the whole graph zoom to (14pt labels at scale 1; projector 22pt at 0.82).
// WHOLE: a first view shows the whole graph if its labels are at least this big (14pt
// at 0.65: the neuron fits whole in the page's column at 0.69; projector 22pt at 0.62).
const READABLE_PX = { normal: 14, large: 18 };
const WHOLE_PX = { normal: 9.1, large: 13.6 };
const CLICK_SLOP = 5; // px a pointer may move and still click
const PAD = 16; // px of air around a fitted graph
const TOOLS = 30; // px the tool buttons take at the top of the box
const MAX_FIT = 1.25; // a small graph is not blown up past this
const MIN_ZOOM = 0.02;
const MAX_ZOOM = 8;
const WHEEL_IDLE = 160; // ms without a wheel event that end a wheel gesture
const MINI = { normal: [160, 120], large: [220, 165] }; // the overview's largest box, px
const MINI_SHARE = 0.3; // ...and never more than this share of the canvas's width/height
const MINI_VIEW = 8; // px: the part in view is never drawn smaller
// a phone or tablet: no keyboard, so no key hints
const TOUCH = typeof matchMedia === "function" &&
  matchMedia("(hover: none) and (pointer: coarse)").matches;

function setup(parentElement) {
  const root = document.createElement("div");
  root.className = "av-root";
  const keys = (hint) => (TOUCH ? "" : ` (${hint})`);
  root.innerHTML =
    '<div class="av-tools">' +
    `<button type="button" data-act="in" title="Zoom in${keys("+")}">+</button>` +
    `<button type="button" data-act="out" title="Zoom out${keys("−")}">−</button>` +
    '<button type="button" data-act="fit" title="Fit the whole graph">Fit</button>' +
    '<button type="button" data-act="current" title="Show the current step">Current</button>' +
    "</div>" +
    '<div class="av-canvas" tabindex="-1" aria-label="autograd graph">' +
    '<div class="av-pane"></div></div>' +
    '<div class="av-mini" hidden title="The whole graph: click or drag to move the view">' +
    '<canvas></canvas><div class="av-mini-view"></div><div class="av-mini-dot"></div></div>';
  parentElement.appendChild(root);
  const av = {
    root,
    canvas: root.querySelector(".av-canvas"),
    pane: root.querySelector(".av-pane"), // holds the SVG; a gesture moves it
    mini: root.querySelector(".av-mini"),
    svg: null,
    key: null,
    vb: null, // [x, y, w, h] in SVG units: the view the user sees
    drawn: null, // the viewBox attribute as written; during a gesture vb runs ahead of it
    active: new Set(), // gestures under way ("drag", "wheel", "mini")
    full: null, // the layout's own viewBox
    graphMatrix: null, // the graph group's transform: its units -> the SVG's
    boxes: new Map(), // node id -> its box in SVG units (per picture)
    font: 14, // the labels' font size in SVG units
    miniScale: 0,
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
    begin(av, "wheel");
    const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    zoomAt(av, factor, e.clientX, e.clientY);
    clearTimeout(av.wheelIdle);
    av.wheelIdle = setTimeout(() => end(av, "wheel"), WHEEL_IDLE);
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
      begin(av, "drag");
      const [a, b] = [...av.pointers.values()];
      av.pinch = Math.hypot(a[0] - b[0], a[1] - b[1]);
    }
  });
  c.addEventListener("pointermove", (e) => {
    const last = av.pointers.get(e.pointerId);
    if (!last) return;
    if (av.press && !av.press.moved) {
      // still a click? The pointer's own position waits, so the pan that follows starts
      // from the press: the view moves exactly as far as the pointer did
      if (Math.hypot(e.clientX - av.press.x, e.clientY - av.press.y) < CLICK_SLOP) return;
      av.press.moved = true;
      begin(av, "drag");
    }
    if (av.pointers.size === 2 && av.pinch) {
      const [a0, b0] = [...av.pointers.values()];
      av.pointers.set(e.pointerId, [e.clientX, e.clientY]);
      const [a, b] = [...av.pointers.values()];
      const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
      // the fingers' midpoint pans, their spread zooms around it
      panBy(av, (a[0] + b[0] - a0[0] - b0[0]) / 2, (a[1] + b[1] - a0[1] - b0[1]) / 2);
      zoomAt(av, d / av.pinch, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
      av.pinch = d;
      return;
    }
    av.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    panBy(av, e.clientX - last[0], e.clientY - last[1]);
  });
  const release = (e) => {
    if (!av.pointers.delete(e.pointerId)) return;
    if (av.pointers.size < 2) av.pinch = null;
    const press = av.press;
    av.press = null;
    if (av.pointers.size === 0) end(av, "drag");
    if (e.type === "pointerup" && press && !press.moved && press.node && av.setTriggerValue) {
      if (press.node.classList.contains("summary")) av.opening = press.node.id;
      av.setTriggerValue("clicked", press.node.id);
    }
  };
  c.addEventListener("pointerup", release);
  c.addEventListener("pointercancel", release);
  c.addEventListener("dblclick", () => fit(av, true));
  new ResizeObserver(() => {
    drawMini(av, false);
    apply(av);
  }).observe(c);
  listenOnMini(av);
  return av;
}

function scale(av) {
  return av.canvas.clientWidth / av.vb[2];
}

// --- the view: the viewBox, and during a gesture a CSS transform ---------------------------
// Writing the viewBox makes the browser lay the whole SVG out and paint it again (~100 ms
// at 1,000 nodes); a transform of the pane holding it moves the picture already painted
// (on the SVG element itself, Chrome lays the SVG out again too). A gesture (drag, pinch,
// a burst of wheel events, a drag on the overview) moves the pane and writes the viewBox
// once, when it ends: the same viewBox as writing it on every move would give.

function begin(av, gesture) {
  if (!av.active.size) av.canvas.classList.add("av-moving");
  av.active.add(gesture);
}

function end(av, gesture) {
  if (!av.active.delete(gesture) || av.active.size) return;
  av.canvas.classList.remove("av-moving");
  apply(av);
}

function apply(av) {
  if (!av.svg || !av.vb) return;
  const w = av.canvas.clientWidth || 1;
  const h = av.canvas.clientHeight || 1;
  const s = av.vb[2] ? w / av.vb[2] : 1;
  av.vb[3] = h / s; // keep the canvas's aspect: no letterboxing, one scale
  if (av.active.size && av.drawn) {
    // the painted picture shows av.drawn at scale w / drawn width: move it to show av.vb
    const [x0, y0, w0] = av.drawn;
    av.pane.style.transform = `translate(${(x0 - av.vb[0]) * s}px, ${(y0 - av.vb[1]) * s}px) ` +
      `scale(${w0 / av.vb[2]})`;
  } else {
    const text = av.vb.map((v) => v.toFixed(2)).join(" ");
    if (av.svg.getAttribute("viewBox") !== text) av.svg.setAttribute("viewBox", text);
    av.drawn = text.split(" ").map(Number);
    if (av.pane.style.transform) av.pane.style.transform = "";
  }
  showView(av);
}

function zoomAt(av, factor, clientX, clientY) {
  if (!av.vb) return;
  const c = av.canvas;
  const r = c.getBoundingClientRect(); // (its border is outside the picture)
  const [w, h] = [c.clientWidth, c.clientHeight];
  const px = clientX === undefined ? w / 2 : clientX - r.left - c.clientLeft;
  const py = clientY === undefined ? h / 2 : clientY - r.top - c.clientTop;
  const s = scale(av);
  const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, s * factor));
  const [x, y] = [av.vb[0] + px / s, av.vb[1] + py / s];
  av.vb = [x - px / next, y - py / next, w / next, h / next];
  apply(av);
}

function panBy(av, dx, dy) {
  const s = scale(av);
  av.vb[0] -= dx / s;
  av.vb[1] -= dy / s;
  apply(av);
}

function centreOn(av, cx, cy, s) {
  const w = av.canvas.clientWidth || 800;
  const h = av.canvas.clientHeight || 600;
  av.vb = [cx - w / s / 2, cy - h / s / 2, w / s, h / s];
  apply(av);
}

function labelScale(av, sizes) {
  // the scale at which labels are sizes[mode] px on screen
  return sizes[av.data && av.data.large ? "large" : "normal"] / (av.font || 14);
}

function nodeBox(av, id) {
  // the node's box in SVG user units (the graph group's transform included)
  if (!id || !av.svg) return null;
  const known = av.boxes.get(id);
  if (known) return known;
  const g = av.svg.getElementById(id);
  const b = g && g.getBBox();
  if (!b || !(b.width || b.height)) return null; // not drawn (yet): ask again later
  const box = toSvg(av, b);
  av.boxes.set(id, box);
  return box;
}

function toSvg(av, b) {
  const k = av.graphMatrix;
  return { x: b.x * k.a + k.e, y: b.y * k.d + k.f, w: b.width * k.a, h: b.height * k.d };
}

function fit(av, whole) {
  const [x, y, W, H] = av.full;
  const w = av.canvas.clientWidth || 800;
  const h = av.canvas.clientHeight || 600;
  // the tool buttons sit over the top of the box: a fitted graph starts below them
  const top = TOOLS;
  let s = Math.min((w - 2 * PAD) / W, (h - 2 * PAD - top) / H);
  if (whole || s >= labelScale(av, WHOLE_PX)) {
    s = Math.min(s, MAX_FIT);
    av.vb = [x + W / 2 - w / s / 2, y + H / 2 - (h + top) / s / 2, w / s, h / s];
  } else {
    // too small to read: start readable, at the top (where backward starts), on the root
    s = labelScale(av, READABLE_PX);
    const box = nodeBox(av, av.data.roots && av.data.roots[0]);
    const cx = box ? box.x + box.w / 2 : x + W / 2;
    av.vb = [cx - w / s / 2, y - (PAD + top) / s, w / s, h / s];
  }
  apply(av);
}

function inView(av, box) {
  const [x, y, w, h] = av.vb;
  return box.x >= x && box.y >= y && box.x + box.w <= x + w && box.y + box.h <= y + h;
}

function reveal(av, id, always) {
  // centre the node (if it is not in view already, or always) at a scale it reads at:
  // zoomed in to readable labels, never out unless the node would not fit on screen
  if (!av.svg || !id) return;
  const box = nodeBox(av, id);
  if (!box || (!always && inView(av, box))) return;
  const w = av.canvas.clientWidth || 800;
  const h = av.canvas.clientHeight || 600;
  const whole = Math.min((w - 2 * PAD) / box.w, (h - 2 * PAD) / box.h);
  const s = Math.min(MAX_ZOOM, Math.max(labelScale(av, READABLE_PX), Math.min(scale(av), whole)));
  centreOn(av, box.x + box.w / 2, box.y + box.h / 2, s);
}

function frame(av, ids) {
  // after a summary box opened: its nodes in view, all of them if they fit at a readable
  // scale, else readable from the top of the stretch (the end nearest the root)
  const boxes = ids.map((id) => nodeBox(av, id)).filter(Boolean);
  if (!boxes.length) return false;
  const x0 = Math.min(...boxes.map((b) => b.x));
  const y0 = Math.min(...boxes.map((b) => b.y));
  const x1 = Math.max(...boxes.map((b) => b.x + b.w));
  const y1 = Math.max(...boxes.map((b) => b.y + b.h));
  const w = av.canvas.clientWidth || 800;
  const h = av.canvas.clientHeight || 600;
  const readable = labelScale(av, READABLE_PX);
  const s = Math.min((w - 2 * PAD) / (x1 - x0), (h - 2 * PAD) / (y1 - y0), MAX_FIT);
  if (s >= readable) {
    centreOn(av, (x0 + x1) / 2, (y0 + y1) / 2, s);
    return true;
  }
  const top = boxes.reduce((a, b) => (b.y < a.y ? b : a));
  const cx = (x1 - x0) * readable <= w - 2 * PAD ? (x0 + x1) / 2 : top.x + top.w / 2;
  av.vb = [cx - w / readable / 2, y0 - PAD / readable, w / readable, h / readable];
  apply(av);
  return true;
}

// --- the overview: the graph's boxes on a small canvas, the part in view as a rectangle ---

function drawMini(av, again) {
  // (again: a new picture; else only if the box's size changed with the canvas's)
  const mini = av.mini;
  if (!av.svg || !av.full) return;
  const [, , W, H] = av.full;
  const [mw, mh] = MINI[av.data && av.data.large ? "large" : "normal"];
  const cw = av.canvas.clientWidth || 800;
  const ch = av.canvas.clientHeight || 600;
  const ms = Math.min(Math.min(mw, cw * MINI_SHARE) / W, Math.min(mh, ch * MINI_SHARE) / H);
  if (!again && Math.abs(ms - av.miniScale) < 1e-9) return;
  av.miniScale = ms;
  const canvas = mini.querySelector("canvas");
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(W * ms));
  const height = Math.max(1, Math.round(H * ms));
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  // graph units -> SVG units -> overview px
  const k = av.graphMatrix;
  const f = ms * dpr;
  ctx.setTransform(k.a * f, 0, 0, k.d * f, (k.e - av.full[0]) * f, (k.f - av.full[1]) * f);
  if (typeof Path2D === "function") {
    const edges = new Path2D();
    for (const p of av.svg.querySelectorAll("g.edge > path")) {
      const d = p.getAttribute("d");
      if (d) edges.addPath(new Path2D(d));
    }
    ctx.strokeStyle = "#90a4ae";
    ctx.lineWidth = 1 / (k.a * f); // a device pixel
    ctx.stroke(edges);
  }
  const least = 2 / (k.a * f); // every box at least 2 device px
  for (const g of av.svg.querySelectorAll("g.node")) {
    const shape = g.querySelector("path, polygon"); // (a None input has none: no box)
    if (!shape) continue;
    const b = shape.getBBox(); // the label is inside it
    ctx.fillStyle = g.classList.contains("summary") ? "#546e7a" : "#90a4ae";
    ctx.fillRect(b.x, b.y, Math.max(b.width, least), Math.max(b.height, least));
  }
  showView(av);
  markCurrent(av, av.data && av.data.current);
}

function showView(av) {
  // the rectangle in view on the overview; the overview itself only while the whole graph
  // is not in view (a small graph never shows one)
  const mini = av.mini;
  if (!av.full || !av.vb || !av.miniScale) return;
  const [fx, fy, W, H] = av.full;
  const [x, y, w, h] = av.vb;
  const whole = x <= fx + 1 && y <= fy + 1 && x + w >= fx + W - 1 && y + h >= fy + H - 1;
  if (mini.hidden !== whole) mini.hidden = whole;
  if (whole) return;
  const ms = av.miniScale;
  const [left, right] = span((x - fx) * ms, (x + w - fx) * ms, W * ms);
  const [top, bottom] = span((y - fy) * ms, (y + h - fy) * ms, H * ms);
  const view = mini.querySelector(".av-mini-view").style;
  view.left = `${left}px`;
  view.top = `${top}px`;
  view.width = `${right - left}px`;
  view.height = `${bottom - top}px`;
}

function span(a, b, size) {
  // [a, b] on an overview side of `size` px: clipped to it, never thinner than MINI_VIEW
  const mid = Math.max(0, Math.min(size, (a + b) / 2));
  const lo = Math.max(0, Math.min(a, mid - MINI_VIEW / 2));
  const hi = Math.min(size, Math.max(b, mid + MINI_VIEW / 2));
  return [Math.min(lo, Math.max(0, hi - MINI_VIEW)), Math.max(hi, Math.min(size, lo + MINI_VIEW))];
}

function markCurrent(av, id) {
  // the current step's box, on the overview (one lookup: cheap enough for every step)
  const dot = av.mini.querySelector(".av-mini-dot");
  const box = av.miniScale && nodeBox(av, id);
  dot.hidden = !box;
  if (!box) return;
  dot.style.left = `${(box.x + box.w / 2 - av.full[0]) * av.miniScale}px`;
  dot.style.top = `${(box.y + box.h / 2 - av.full[1]) * av.miniScale}px`;
}

function listenOnMini(av) {
  const mini = av.mini;
  const moveTo = (e) => {
    // centre the view on the point under the pointer, at the same scale
    const r = mini.querySelector("canvas").getBoundingClientRect();
    if (!av.vb || !av.miniScale || !r.width) return;
    const ux = av.full[0] + (e.clientX - r.left) / av.miniScale;
    const uy = av.full[1] + (e.clientY - r.top) / av.miniScale;
    av.vb[0] = ux - av.vb[2] / 2;
    av.vb[1] = uy - av.vb[3] / 2;
    apply(av);
  };
  mini.addEventListener("pointerdown", (e) => {
    if (!av.svg) return;
    e.preventDefault();
    mini.setPointerCapture(e.pointerId);
    av.miniPointer = e.pointerId;
    mini.classList.add("av-active");
    begin(av, "mini");
    moveTo(e);
  });
  mini.addEventListener("pointermove", (e) => {
    if (av.miniPointer === e.pointerId) moveTo(e);
  });
  const release = (e) => {
    if (av.miniPointer !== e.pointerId) return;
    av.miniPointer = undefined;
    mini.classList.remove("av-active");
    end(av, "mini");
  };
  mini.addEventListener("pointerup", release);
  mini.addEventListener("pointercancel", release);
  mini.addEventListener("wheel", (e) => e.preventDefault(), { passive: false });
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
  markCurrent(av, next.current);
  av.shown = data.step + delta;
  av.root.dataset.shown = String(av.shown);
  if (data.follow) reveal(av, next.current, false);
  clearTimeout(av.unconfirmed);
  av.unconfirmed = setTimeout(() => {
    if (av.data !== data || av.shown === data.step) return; // the server has answered
    restyle(av, data.state || {}, data.selected);
    markCurrent(av, data.current);
    av.shown = data.step;
    av.target = undefined; // the presses were lost with the connection
    av.root.dataset.shown = String(data.step);
  }, UNCONFIRMED);
}

function stepKeyTarget(target, arrow) {
  // where an arrow key means "step": the page itself, a button (Prev/Next keep focus after
  // a click), or the graph (the event is retargeted to the component's host out here)
  if (!target || target === document.body || target === document.documentElement) return true;
  if (live && target === live.root.getRootNode().host) return true;
  if (!target.closest) return false;
  if (target.closest("button")) return true;
  // a widget used and left with the focus: a checkbox, or a select / multiselect whose
  // list is closed and whose filter is empty (an arrow there would move no caret)
  if (target.matches("input[type=checkbox]")) return true;
  return arrow && target.matches("input[role=combobox]") && !target.value
    && target.getAttribute("aria-expanded") !== "true";
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

const ZOOM_KEYS = { "+": 1.25, "=": 1.25, "-": 0.8, "−": 0.8 };

function listenForSteps() {
  // in the capture phase: a select left with the focus takes arrows for itself otherwise
  window.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const zoom = ZOOM_KEYS[e.key];
    const step = !e.shiftKey && (e.key === "ArrowRight" || e.key === "ArrowLeft");
    if (!zoom && !step) return;
    if (!stepKeyTarget(e.target, step) || !live || !live.root.isConnected || !live.data) return;
    e.preventDefault();
    if (zoom) zoomAt(live, zoom);
    else stepBy(e.key === "ArrowRight" ? 1 : -1);
  }, true);
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

function mount(av, data) {
  // a new picture: the last one's gestures, boxes and overview go with it
  av.pane.innerHTML = data.svg;
  av.pane.style.transform = "";
  av.svg = av.pane.querySelector("svg");
  av.full = av.svg.getAttribute("viewBox").split(/\s+/).map(Number);
  av.svg.removeAttribute("width");
  av.svg.removeAttribute("height");
  av.svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
  av.key = data.key;
  av.drawn = null;
  av.active.clear();
  av.canvas.classList.remove("av-moving");
  av.boxes = new Map();
  av.miniScale = 0; // the overview waits for the picture's first paint
  av.mini.hidden = true;
  const group = av.svg.querySelector("g.graph") || av.svg.querySelector("g");
  const consolidated = group && group.transform.baseVal.consolidate();
  av.graphMatrix = consolidated ? consolidated.matrix : av.svg.createSVGMatrix();
  const label = av.svg.querySelector("g.node text");
  av.font = (label && parseFloat(getComputedStyle(label).fontSize)) || 14;
  restyle(av, data.state || {}, data.selected);
  // what a click on a summary box opened (the server says; this view remembers the box
  // it sent in case the server's word is missing): in view, else the graph's first view
  const opened = data.opened && data.opened.length ? data.opened
    : av.opening ? ["n" + av.opening.slice(1)] : [];
  av.opening = undefined;
  const framed = opened.length > 0 && frame(av, opened);
  if (!framed) fit(av, false);
  const key = av.key;
  requestAnimationFrame(() => setTimeout(() => {
    if (av.key === key) drawMini(av, true);
  }));
  return framed;
}

function render(component) {
  const { data, parentElement, setTriggerValue } = component;
  if (data.fail === "silent") return; // tests: a view whose script never runs
  if (data.fail) throw new Error(data.fail); // tests exercise the fallback with this
  const av = parentElement.querySelector(".av-root")?.__av || setup(parentElement);
  av.setTriggerValue = setTriggerValue;
  av.data = data;
  av.root.classList.toggle("large", !!data.large);
  // projector and slides: the graph fills the screen below where it starts (never less
  // than asked)
  av.canvas.style.height = data.fill
    ? `max(${data.height}px, calc(100vh - ${Math.round(av.root.getBoundingClientRect().top
        + window.scrollY) + 24}px))`
    : `${data.height}px`;
  let framed = false;
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
    framed = mount(av, data);
    if (data.first && !av.drawnSaid) {
      av.drawnSaid = true;
      setTriggerValue("drawn", true); // Python sends the rest of the page after the graph
    }
  } else {
    restyle(av, data.state || {}, data.selected);
  }
  markCurrent(av, data.current);
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
  // follow the step, but not away from a box just opened
  if (data.follow && !framed) reveal(av, data.current, false);
  av.root.dataset.ready = av.key;
}
