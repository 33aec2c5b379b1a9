// cflab dashboard: applies the server's pushed snapshot, patches and request rows to
// the page. Every value comes from the jobs (through the dashboard job); text is set
// with textContent only, so a hostname from NATS can never become markup.
"use strict";

const S = { sections: {}, requests: [], offset: 0 };  // offset = server clock − ours
const MAX_REQUESTS = 200;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}
const now = () => Date.now() / 1000 + S.offset;
function span(seconds) {
  if (!isFinite(seconds)) return "–";
  const neg = seconds < 0, s = Math.abs(Math.round(seconds));
  const text = s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  return neg ? `${text} ago` : text;
}
const clock = (t) => new Date(t * 1000).toISOString().slice(11, 23);
const short = (guid) => (guid || "").slice(0, 8);

function renderHeader() {
  const f = (S.sections.foundation || {}).foundation || {};
  document.getElementById("project").textContent = f.project || "";
  document.getElementById("mode").textContent = f.mode || "…";
}

function renderJobs() {
  const ul = document.getElementById("jobs");
  const jobs = S.sections.jobs || {}, cells = S.sections.cells || {};
  const items = Object.keys(jobs).sort().map((name) =>
    el("li", { class: jobs[name].health, "data-job": name, "data-health": jobs[name].health, title: jobs[name].detail },
      `${name} ${jobs[name].health}`));
  for (const name of Object.keys(cells).sort()) {
    const up = cells[name].present;
    items.push(el("li", { class: up ? "healthy" : "down", "data-job": name, "data-health": up ? "healthy" : "down",
      title: up ? `present in the BBS, zone ${cells[name].zone}` : "no presence in the BBS" },
      `${name} ${up ? "present" : "absent"} · ${cells[name].containers} containers`));
  }
  ul.replaceChildren(...items);
}

function renderCells() {
  const cells = S.sections.cells || {}, containers = S.sections.containers || {};
  const byCell = {};
  for (const [key, c] of Object.entries(containers)) (byCell[c.cell] ||= []).push([key, c]);
  const blocks = [];
  for (const name of [...new Set([...Object.keys(cells), ...Object.keys(byCell)])].sort()) {
    const rows = (byCell[name] || []).sort((a, b) => (a[1].app + a[1].index).localeCompare(b[1].app + b[1].index))
      .map(([key, c]) => el("tr", { "data-instance": c.instance_guid, "data-key": key },
        el("td", {}, c.app), el("td", {}, c.index), el("td", { class: "mono" }, c.instance_guid),
        el("td", { class: `state-${c.state}` }, c.state), el("td", { class: "mono" }, c.container_ip),
        el("td", { class: "mono" }, c.host_ports.join(", ")), el("td", { class: "mono" }, c.dnat.join("; "))));
    const cell = cells[name] || {};
    blocks.push(el("div", { class: "cell", "data-cell": name },
      el("h3", { class: cell.present ? "" : "absent" }, `${name} ${cell.zone ? "(" + cell.zone + ")" : ""} ${cell.present ? "" : "— absent"}`),
      el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, ...["app", "index", "instance guid", "state", "container IP", "host ports", "DNAT"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)))));
  }
  document.getElementById("cells").replaceChildren(...blocks);
}

function renderRoutes() {
  const routes = S.sections.routes || {};
  const rows = [];
  for (const route of Object.keys(routes).sort()) {
    for (const e of routes[route].endpoints) {
      rows.push(el("tr", { "data-route": route, "data-address": e.address },
        el("td", {}, route), el("td", { class: "mono" }, e.address), el("td", {}, e.app),
        el("td", {}, e.tls ? "TLS" : "plain"), el("td", { class: "mono" }, short(e.san)), el("td", {}, `${e.ttl}s`),
        el("td", { "data-refreshed": e.last_refresh }, e.last_refresh ? span(e.last_refresh - now()) : "–")));
    }
  }
  document.querySelector("#routes tbody").replaceChildren(...rows);
  document.getElementById("route-count").textContent = Object.keys(routes).length;
}

function appOf(instance) {
  for (const c of Object.values(S.sections.containers || {})) if (c.instance_guid === instance) return `${c.app}/${c.index}`;
  return "";
}

function renderIdentities() {
  const ids = S.sections.identities || {};
  const rows = Object.keys(ids).sort().map((g) => {
    const i = ids[g];
    return el("tr", { "data-instance": g, "data-serial": i.serial, "data-rotations": i.rotations },
      el("td", { class: "mono" }, short(g)), el("td", {}, appOf(g)),
      el("td", { class: "mono", title: i.error }, i.serial || (i.error ? "unreadable" : "…")),
      el("td", { "data-at": i.not_after }, i.serial ? span(i.not_after - now()) : "–"),
      el("td", { "data-at": i.next_rotation }, i.serial ? span(i.next_rotation - now()) : "–"),
      el("td", {}, i.rotations),
      el("td", { class: "mono" }, i.history.map((h) => `${h.serial.slice(0, 10)}@${clock(h.seen_at)}`).join(" → ")));
  });
  const mode = ((S.sections.foundation || {}).foundation || {}).mode;
  if (!rows.length && mode === "before-envoy") {
    rows.push(el("tr", {}, el("td", { colspan: 7, class: "muted" },
      "before-envoy: no proxy, so no instance presents its identity to the router")));
  }
  document.querySelector("#identities tbody").replaceChildren(...rows);
}

function renderTraffic() {
  const t = S.sections.traffic || {};
  document.querySelector("#traffic tbody").replaceChildren(...Object.keys(t).sort().map((h) =>
    el("tr", { "data-route": h }, el("td", {}, h), el("td", { class: "outcome-intended" }, t[h].intended),
      el("td", { class: t[h].misrouted ? "outcome-misrouted" : "" }, t[h].misrouted), el("td", { class: "outcome-error" }, t[h].error))));
}

function requestRow(r) {
  const who = r.answered_by ? `${r.answered_by}/${r.answered_index}` : "—";
  const text = `${clock(r.at)} ${r.status ?? "-"} ${r.host}${r.path} → ${who}` +
    (r.outcome === "misrouted" ? ` (route is ${r.route_app})` : "") +
    (r.router_error ? ` X-Cf-Routererror: ${r.router_error}` : "");
  return el("li", { class: `outcome-${r.outcome}`, "data-outcome": r.outcome, title: r.backend }, text);
}

function addRequests(items, flash) {
  const ol = document.getElementById("requests");
  for (const r of items) {
    const li = requestRow(r);
    if (flash) li.classList.add("flash");
    ol.prepend(li);
  }
  while (ol.children.length > MAX_REQUESTS) ol.lastChild.remove();
}

const renderers = { foundation: renderHeader, jobs: renderJobs, cells: () => { renderCells(); renderJobs(); },
  containers: () => { renderCells(); renderJobs(); renderIdentities(); }, routes: renderRoutes,
  identities: renderIdentities, traffic: renderTraffic };

function renderAll() { for (const f of new Set(Object.values(renderers))) f(); }

function stamp(serverTime) {
  if (serverTime) S.offset = serverTime - Date.now() / 1000;
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("/events");
  es.addEventListener("open", () => { conn.dataset.state = "live"; conn.textContent = "live"; });
  es.addEventListener("error", () => { conn.dataset.state = "down"; conn.textContent = "reconnecting"; });
  es.addEventListener("snapshot", (ev) => {
    const snap = JSON.parse(ev.data);
    S.sections = snap.sections;
    document.getElementById("requests").replaceChildren();
    addRequests(snap.requests, false);
    stamp(snap.server_time);
    renderAll();
  });
  es.addEventListener("patch", (ev) => {
    const p = JSON.parse(ev.data);
    const sec = (S.sections[p.section] ||= {});
    Object.assign(sec, p.set);
    for (const k of p.removed) delete sec[k];
    stamp(p.server_time);
    (renderers[p.section] || renderAll)();
  });
  es.addEventListener("requests", (ev) => {
    const r = JSON.parse(ev.data);
    addRequests(r.items, true);
    stamp(r.server_time);
  });
}

// Countdowns and ages move every second without a push.
setInterval(() => { renderIdentities(); renderRoutes(); }, 1000);
// The host's incidents page (`cflab lab`, default port 8090), on the host this page came from.
document.getElementById("lab-link").href = `${location.protocol}//${location.hostname}:8090/`;
connect();
