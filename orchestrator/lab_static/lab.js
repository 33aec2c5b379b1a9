// cflab lab: start a scenario, watch each mode's lane fill in from the server's events,
// read past runs, switch the running foundation's mode. Text is set with textContent
// only; every action is a POST with X-Cflab-Lab: 1 (see lab_server.py).
"use strict";

const MODES = ["before-envoy", "after-envoy", "strict"];
const SVG = "http://www.w3.org/2000/svg";
const S = { scenarios: [], run: null, dirty: new Set(), frame: 0 };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
const $ = (id) => document.getElementById(id);
function show(id, message) { const e = $(id); e.textContent = message || ""; e.hidden = !message; }

async function api(path, method = "GET") {
  const resp = await fetch(path, { method, headers: method === "POST" ? { "X-Cflab-Lab": "1" } : {} });
  let body = {};
  try { body = await resp.json(); } catch (e) { body = { error: `${resp.status} ${resp.statusText}` }; }
  if (!resp.ok) throw new Error(body.error || `${resp.status}`);
  return body;
}

// -- the foundation and its mode ----------------------------------------------

async function loadFoundation() {
  let f;
  try { f = await api("/api/foundation"); } catch (e) { f = { error: e.message, jobs: {} }; }
  $("foundation-name").textContent = f.project || "";
  $("foundation-mode").textContent = f.mode || "not running";
  const pick = $("switch-mode");
  if (f.mode && !pick.dataset.touched) pick.value = f.mode;  // until the user picks one
  show("foundation-error", f.error);
  const link = $("dashboard-link");
  if (f.dashboard) { link.href = f.dashboard; link.hidden = false; }
  const jobs = f.jobs || {};
  $("jobs").replaceChildren(...Object.keys(jobs).sort().map((name) => {
    const j = jobs[name], up = j.state === "running";
    const health = up ? (j.health || "none") : "down";
    return el("li", { class: health, "data-job": name, "data-health": health, title: `${j.state}, ${j.health}` },
      `${name} ${up ? j.health : j.state}`);
  }));
  if (!Object.keys(jobs).length && !f.error) show("foundation-error", `foundation ${f.project || ""} is not running (make up)`);
}

function renderSwitch(sw) {
  const st = $("switch-status");
  st.dataset.state = sw.state;
  st.textContent = sw.state === "switching" ? `switching to ${sw.mode}…`
    : sw.state === "done" ? `now in ${sw.mode}` : sw.state === "error" ? sw.error : "";
  $("switch-button").disabled = sw.state === "switching";
  if (sw.state === "done") loadFoundation();
}

// -- scenarios and starting a run ----------------------------------------------

function renderModes() {
  const sc = S.scenarios.find((s) => s.name === $("scenario").value) || { modes: [] };
  $("scenario-description").textContent = sc.error ? "" : sc.description;
  $("modes").replaceChildren(...MODES.map((m) => {
    const declared = sc.modes.includes(m);
    const box = el("input", { type: "checkbox", name: "mode", value: m });
    box.checked = declared;
    return el("label", { title: declared ? "" : (sc.not_applicable || {})[m] || "not in the scenario's modes" }, box, ` ${m}`);
  }));
  show("start-error", sc.error ? `invalid scenario file:\n${sc.error}` : "");
}

async function loadScenarios() {
  const { scenarios } = await api("/api/scenarios");
  S.scenarios = scenarios;
  $("scenario").replaceChildren(...scenarios.map((s) =>
    el("option", { value: s.name }, s.error ? `${s.name} (invalid)` : s.name)));
  renderModes();
}

async function start(ev) {
  ev.preventDefault();
  show("start-error", "");
  const q = new URLSearchParams({ scenario: $("scenario").value });
  for (const box of document.querySelectorAll("#modes input:checked")) q.append("mode", box.value);
  try { await api(`/api/runs?${q}`, "POST"); } catch (e) { show("start-error", e.message); }
}

async function switchMode(ev) {
  ev.preventDefault();
  try { await api(`/api/mode?mode=${encodeURIComponent($("switch-mode").value)}`, "POST"); }
  catch (e) { renderSwitch({ state: "error", error: e.message }); }
}

// -- the run: one lane per mode ------------------------------------------------

function setRun(run) {
  S.run = run;
  if (!run) return;
  for (const m of Object.keys(run.lanes)) S.dirty.add(m);
  renderRun();
}

function renderRun() {
  const run = S.run;
  if (!run) return;
  $("run-title").textContent = `#${run.id} ${run.scenario} (${run.modes.join(", ")})`;
  const st = $("run-state");
  st.dataset.state = run.state; st.textContent = run.state;
  show("run-error", run.error);
  $("start-button").disabled = run.state === "running";
  const lanes = $("lanes");
  if (lanes.dataset.run !== String(run.id)) {
    lanes.dataset.run = String(run.id);
    lanes.replaceChildren(...run.modes.map((m) => el("div", { class: "lane", "data-mode": m })));
  }
  $("log").textContent = run.log.slice(-200).join("\n");
  schedule();
}

function schedule() {
  if (!S.frame) S.frame = requestAnimationFrame(() => { S.frame = 0; drawDirty(); });
}

function drawDirty() {
  for (const m of S.dirty) drawLane(m);
  S.dirty.clear();
}

function laneEnd(lane) {
  const last = lane.samples.length ? lane.samples[lane.samples.length - 1].t : 0;
  return Math.max(lane.now, last, ...lane.faults.map((f) => f.end ?? f.start ?? 0));
}
function runEnd() {
  return Math.max(10, ...Object.values((S.run || {}).lanes || {}).map(laneEnd));
}
function growing() {  // a longer lane rescales the others too
  const before = runEnd();
  return () => { if (runEnd() > before) for (const m of Object.keys(S.run.lanes)) S.dirty.add(m); };
}

function drawLane(mode) {
  const lane = S.run && S.run.lanes[mode];
  const box = document.querySelector(`#lanes .lane[data-mode="${mode}"]`);
  if (!lane || !box) return;
  const samples = lane.samples;
  const mis = samples.filter((s) => s.outcome === "misrouted").length;
  const err = samples.filter((s) => s.outcome === "error").length;
  const requests = lane.counts.requests ?? samples.length;
  const misrouted = lane.counts.misrouted ?? mis;
  box.dataset.state = lane.state;
  box.dataset.requests = requests;
  box.dataset.misrouted = misrouted;
  const routes = [...new Set(samples.map((s) => s.route))].sort();
  // Fault labels take turns on two lines above the dots, so neighbours do not overlap.
  const W = 900, left = 90, top = 28, row = 22, H = top + Math.max(routes.length, 1) * row + 18;
  const end = runEnd();  // one time scale for every lane, so the modes read side by side
  const x = (t) => left + (W - left - 20) * Math.min(t, end) / end;
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${mode} timeline` });
  lane.faults.forEach((f, k) => {
    const x0 = x(f.start ?? 0), x1 = f.end == null ? x(lane.now) : x(f.end);
    g.append(svg("rect", { class: "fault", x: x0, y: 2, width: Math.max(2, x1 - x0), height: H - 4, "data-fault": f.name }));
    g.append(svg("text", { class: "fault-label", x: x0 + 2, y: 11 + (k % 2) * 11 }, f.name));
  });
  routes.forEach((r, i) => g.append(svg("text", { class: "route", x: 4, y: top + i * row + 14 }, r)));
  // Draw intended first, so a red misroute is never hidden under green.
  const order = { intended: 0, error: 1, misrouted: 2 };
  const sorted = samples.slice().sort((a, b) => order[a.outcome] - order[b.outcome]);
  for (const s of sorted) {
    const i = routes.indexOf(s.route);
    const c = svg("circle", { class: `dot-${s.outcome}`, cx: x(s.t).toFixed(1), cy: top + i * row + 10 + (order[s.outcome] - 1) * 4, r: s.outcome === "intended" ? 1.6 : 2.4 });
    if (s.outcome !== "intended") c.append(svg("title", {}, `${s.t.toFixed(1)}s ${s.route}: ${s.outcome}${s.answered_by ? ` (answered by ${s.answered_by})` : ""}${s.reason ? ` ${s.status} ${s.reason}` : ""}`));
    g.append(c);
  }
  for (let t = 0; t <= end; t += end > 120 ? 30 : 10) g.append(svg("text", { class: "axis", x: x(t), y: H - 4, "text-anchor": "middle" }, `${t}s`));
  if (lane.state === "running") g.append(svg("line", { class: "cursor", x1: x(lane.now), x2: x(lane.now), y1: 2, y2: H - 14 }));
  const title = el("h3", {}, el("span", {}, mode), el("span", { class: "lane-state" }, lane.state),
    el("span", { class: "lane-counts" }, `${requests} requests, `, el("span", { class: "lane-misrouted outcome-misrouted" }, `${misrouted} misrouted`), `, ${lane.counts.errors ?? err} errors`));
  const parts = [title, g];
  if (lane.error) parts.push(el("p", { class: "error lane-error" }, lane.error));
  if (lane.note) parts.push(el("p", { class: "muted" }, lane.note));
  if (lane.expectations.length) parts.push(el("ul", { class: "expectations" }, ...lane.expectations.map((o) =>
    el("li", { class: o.passed ? "expect-pass" : "expect-fail" }, `${o.passed ? "✓" : "✗"} ${o.expectation} (actual ${o.actual})`))));
  box.replaceChildren(...parts);
}

// -- past runs ------------------------------------------------------------------

async function loadPast() {
  let doc;
  try { doc = await api("/api/runs"); } catch (e) { $("past-out").textContent = e.message; return; }
  $("past-out").textContent = `from ${doc.out}`;
  $("past").tBodies[0].replaceChildren(...doc.runs.map((r) => r.error
    ? el("tr", { "data-scenario": r.scenario }, el("td", {}, r.scenario), el("td", { class: "error", colspan: "4" }, r.error))
    : el("tr", { "data-scenario": r.scenario },
      el("td", {}, r.scenario),
      ...MODES.map((m) => el("td", { "data-mode": m, "data-status": (r.modes[m] || {}).status || "" }, r.cells[m])),
      el("td", {}, r.timeline ? el("a", { href: `/runs/${r.scenario}/timeline.png` },
        el("img", { src: `/runs/${r.scenario}/timeline.png?t=${r.finished}`, alt: `${r.scenario} timeline`, loading: "lazy" })) : "–"))));
}

// -- the event stream ------------------------------------------------------------

function connect() {
  const conn = $("conn");
  const es = new EventSource("/events");
  es.addEventListener("open", () => { conn.dataset.state = "live"; conn.textContent = "live"; });
  es.addEventListener("error", () => { conn.dataset.state = "down"; conn.textContent = "reconnecting"; });
  const on = (kind, fn) => es.addEventListener(kind, (ev) => fn(JSON.parse(ev.data)));
  on("snapshot", (d) => { setRun(d.run); renderSwitch(d.switch); });
  on("run", (d) => {
    if (d.lanes) setRun(d);
    else if (S.run && S.run.id === d.id) { S.run.state = d.state; S.run.error = d.error; renderRun(); }
  });
  on("log", (d) => { if (S.run && S.run.id === d.run) { S.run.log.push(d.line); renderRun(); } });
  on("lane", (d) => { if (S.run && S.run.lanes[d.mode]) { S.run.lanes[d.mode].state = d.state; S.dirty.add(d.mode); schedule(); } });
  on("samples", (d) => {
    const lane = S.run && S.run.lanes[d.mode];
    if (!lane) return;
    const rescale = growing();
    lane.samples.push(...d.samples); lane.now = d.now;
    if (d.faults) lane.faults = d.faults;
    rescale(); S.dirty.add(d.mode); schedule();
  });
  on("result", (d) => {
    const lane = S.run && S.run.lanes[d.mode];
    if (!lane) return;
    const rescale = growing();
    Object.assign(lane, d);
    rescale(); S.dirty.add(d.mode); schedule();
  });
  on("runs", () => loadPast());
  on("switch", renderSwitch);
}

document.addEventListener("DOMContentLoaded", () => {
  $("switch-mode").replaceChildren(...MODES.map((m) => el("option", { value: m }, m)));
  $("scenario").addEventListener("change", renderModes);
  $("switch-mode").addEventListener("change", (ev) => { ev.target.dataset.touched = "1"; });
  $("start-form").addEventListener("submit", start);
  $("switch-form").addEventListener("submit", switchMode);
  loadScenarios().catch((e) => show("start-error", e.message));
  loadFoundation();
  loadPast();
  connect();
  setInterval(loadFoundation, 5000);
});
