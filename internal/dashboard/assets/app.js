// stackflow dashboard: refreshes what moves, draws the run's graph with
// dagre, follows step output, and sends the actions (each confirmed).
"use strict";
(function () {
  const token = document.querySelector('meta[name="stackflow-token"]').content;
  const notice = document.getElementById("notice");

  function say(text, bad) {
    notice.textContent = text;
    notice.className = bad ? "bad" : "";
    notice.hidden = false;
  }
  // What the last action said stays shown over the reload that follows it.
  const said = sessionStorage.getItem("stackflow-notice");
  if (said) { sessionStorage.removeItem("stackflow-notice"); say(said); }

  // Fragments: an element with data-poll="NAME" is re-rendered from
  // ?fragment=NAME every few seconds.
  function poll(el, every) {
    const name = el.dataset.poll;
    const tick = async () => {
      try {
        const u = new URL(location.href);
        u.searchParams.set("fragment", name);
        const r = await fetch(u, { credentials: "same-origin" });
        if (r.ok) el.innerHTML = await r.text();
      } catch (e) { /* the next tick tries again */ }
    };
    setInterval(tick, every);
  }
  document.querySelectorAll("[data-poll]").forEach((el) => poll(el, 3000));

  // A run's page: its live parts, the graph and the output refresh while
  // the run runs; when what waits for approval changes, the page reloads
  // (its buttons are not swapped under a pointer).
  const run = document.getElementById("run");
  const running = () => run && run.dataset.status === "RUNNING";
  async function fragment(el) {
    const u = new URL(location.href);
    u.searchParams.set("fragment", el.dataset.pollRun);
    const r = await fetch(u, { credentials: "same-origin" });
    if (r.ok) el.innerHTML = await r.text();
    return r.ok;
  }
  if (run) {
    const loop = async () => {
      if (!running()) return;
      try {
        for (const el of document.querySelectorAll("[data-poll-run]")) await fragment(el);
        const badge = run.querySelector("h1 .badge");
        if (badge) run.dataset.status = badge.textContent.trim().split(" ").pop();
        const marker = run.querySelector(".pending-marker");
        const shown = document.getElementById("actions");
        if (marker && shown && marker.dataset.pending !== shown.dataset.pending) { location.reload(); return; }
        await drawGraph();
        await followLogs();
      } catch (e) { /* the next round tries again */ }
      setTimeout(loop, 2000);
    };
    setTimeout(loop, 2000);
  }

  async function followLogs() {
    for (const pre of document.querySelectorAll("pre[data-log]")) {
      try {
        const r = await fetch(pre.dataset.log, { credentials: "same-origin" });
        const text = await r.text();
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
        pre.textContent = r.ok ? text : "(" + (JSON.parse(text).error || r.statusText) + ")";
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      } catch (e) { pre.textContent = "(could not read the output)"; }
    }
  }
  followLogs();

  // The graph: states as boxes coloured by outcome, laid out by dagre.
  const SVG = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  const words = { "succeeded": "succeeded", "failed": "failed", "running": "running", "aborted": "stopped", "not-reached": "not reached" };
  async function drawGraph() {
    const box = document.getElementById("graph");
    if (!box || typeof dagre === "undefined") return;
    let data;
    try {
      const r = await fetch(box.dataset.src, { credentials: "same-origin" });
      data = await r.json();
      if (!r.ok) { box.textContent = data.error; return; }
    } catch (e) { box.textContent = "could not read the state machine"; return; }
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of data.nodes) {
      if (n.type === "Group") {
        g.setNode(n.id, { label: n.label, group: true, paddingTop: 24 });
      } else {
        const w = Math.max(120, 7.2 * n.label.length + 24);
        g.setNode(n.id, { label: n.label, width: w, height: 34, node: n });
      }
    }
    for (const n of data.nodes) if (n.parent) g.setParent(n.id, n.parent);
    // Caught errors all lead to the run's failure report: drawn, they
    // would cross the whole graph, so the failed state's colour says it.
    data.edges.forEach((e, i) => { if (e.kind !== "catch") g.setEdge(e.from, e.to, { kind: e.kind }, "e" + i); });
    dagre.layout(g);
    const size = g.graph();
    // Fit the width when that keeps the labels readable; scroll otherwise.
    const scale = Math.max(0.7, Math.min(1, box.clientWidth / size.width));
    const svg = el("svg", { width: size.width * scale, height: size.height * scale, viewBox: `0 0 ${size.width} ${size.height}` });
    for (const id of g.nodes()) {
      const v = g.node(id);
      if (!v.group) continue;
      const grp = el("g", { class: "group" }, svg);
      el("rect", { x: v.x - v.width / 2, y: v.y - v.height / 2, width: v.width, height: v.height, rx: 6 }, grp);
      el("text", { x: v.x - v.width / 2 + 8, y: v.y - v.height / 2 + 14 }, grp).textContent = v.label;
    }
    for (const e of g.edges()) {
      const ed = g.edge(e);
      const d = ed.points.map((p, i) => (i ? "L" : "M") + p.x + " " + p.y).join(" ");
      el("path", { d, class: ed.kind, "marker-end": "url(#arrow)" }, svg);
    }
    const defs = el("defs", {}, svg);
    const m = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, defs);
    el("path", { d: "M0 0 L10 5 L0 10 z" }, m);
    for (const id of g.nodes()) {
      const v = g.node(id);
      if (v.group) continue;
      const n = v.node;
      const grp = el("g", { class: "node " + n.outcome, "data-state": n.id, "data-outcome": n.outcome }, svg);
      const t = el("title", {}, grp);
      t.textContent = `${n.label}: ${words[n.outcome] || n.outcome}` + (n.visits > 1 ? ` (${n.visits} times)` : "") + (n.error ? ` — ${n.error}` : "");
      el("rect", { x: v.x - v.width / 2, y: v.y - v.height / 2, width: v.width, height: v.height, rx: n.type === "Choice" ? 14 : 4 }, grp);
      const mark = { "succeeded": "✓ ", "failed": "✗ ", "running": "▸ ", "aborted": "■ " }[n.outcome] || "";
      el("text", { x: v.x, y: v.y + 4, "text-anchor": "middle" }, grp).textContent = mark + n.label;
    }
    const keep = [box.scrollLeft, box.scrollTop];
    box.replaceChildren(svg);
    if (box.dataset.focused) { [box.scrollLeft, box.scrollTop] = keep; return; }
    // The first time, bring the state that matters into view: the running
    // one, else the failed one, else the start.
    box.dataset.focused = "yes";
    const pick = (o) => data.nodes.find((n) => n.outcome === o && n.type !== "Group");
    const focus = pick("running") || pick("failed") || data.nodes[0];
    const v = focus && g.node(focus.id);
    if (v) {
      box.scrollLeft = v.x * scale - box.clientWidth / 2;
      box.scrollTop = v.y * scale - box.clientHeight / 3;
    }
  }
  drawGraph();

  // Actions: a button with data-action asks first, then POSTs.
  const dialog = document.getElementById("confirm");
  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    document.getElementById("confirm-title").textContent = b.textContent.replace("…", "");
    document.getElementById("confirm-text").textContent = b.dataset.confirm;
    const needsReason = b.dataset.reason === "required";
    const mayFreeze = b.dataset.freeze === "optional";
    const reasonLabel = document.getElementById("confirm-reason-label");
    const reason = document.getElementById("confirm-reason");
    const freeze = document.getElementById("confirm-freeze");
    document.getElementById("confirm-freeze-label").hidden = !mayFreeze;
    freeze.checked = false;
    reasonLabel.hidden = !needsReason;
    reason.value = "";
    reason.required = needsReason;
    // --during-freeze --reason TEXT: the reason is asked for with the box.
    freeze.onchange = () => { reasonLabel.hidden = !freeze.checked; reason.required = freeze.checked; };
    dialog.returnValue = "";
    dialog.onclose = async () => {
      if (dialog.returnValue !== "ok") return;
      const body = {};
      for (const k of ["run", "repository", "environment", "app", "to"]) if (b.dataset[k]) body[k] = b.dataset[k];
      if (needsReason) body.reason = reason.value;
      if (mayFreeze && freeze.checked) { body.duringFreeze = true; body.reason = reason.value; }
      b.disabled = true;
      try {
        const r = await fetch("/api/actions/" + b.dataset.action, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-Stackflow-Token": token },
          body: JSON.stringify(body),
        });
        const out = await r.json();
        if (!r.ok) { say(out.error, true); return; }
        say(out.message);
        sessionStorage.setItem("stackflow-notice", out.message);
        if (out.run && out.run !== (run && run.dataset.run)) {
          location.href = "/runs/" + encodeURIComponent(out.run);
        } else {
          setTimeout(() => location.reload(), 1500);
        }
      } catch (e) { say("the action did not reach the dashboard: " + e, true); }
      finally { b.disabled = false; }
    };
    dialog.showModal();
  });
})();
