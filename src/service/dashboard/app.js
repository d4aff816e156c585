// The api-broker dashboard: plain JavaScript, no framework, nothing fetched from elsewhere.
// It reads the token from the page's fragment (#token=...), sends it as a Bearer token with
// every call, and follows the log through GET /v1/events (Server-Sent Events read with fetch(),
// since EventSource cannot send a header) to refresh what an event changes.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const headers = token ? { Authorization: "Bearer " + token } : {};
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const ui = { state: "", target: "", after: 0, nextAfter: 0, detailId: null, lastEvent: 0 };

function showError(text) {
  const el = $("error");
  el.hidden = !text;
  el.textContent = text || "";
}

async function getJson(path) {
  const res = await fetch(path, { headers, cache: "no-store" });
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { const body = await res.json(); message = (body.error && body.error.message) || body.message || message; } catch (_) {}
    throw new Error(path.split("?")[0] + ": " + message + (res.status === 401 ? " (open the page as /#token=...)" : ""));
  }
  return res.json();
}

// Times come as RFC 3339 text (microseconds allowed) or numbers of seconds.
function toMs(t) {
  if (t === null || t === undefined || t === "") return null;
  if (typeof t === "number") return t > 1e11 ? t : t * 1000;
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(t);
  if (!m) return Date.parse(t);
  const frac = m[2] ? Number("0" + m[2]) * 1000 : 0;
  return Date.parse(m[1] + (m[3] || "Z")) + frac;
}
function clock(t) {
  const ms = toMs(t);
  if (ms === null) return "";
  const d = new Date(ms);
  return d.toISOString().slice(11, 23);
}
function seconds(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
}
// The service's destination names the method already ("POST target shop/api").
function destinationOf(item) {
  const d = item.destination || "";
  return item.method && !d.startsWith(item.method + " ") ? item.method + " " + d : d;
}
function stateOf(item) { return item.state || item.phase || ""; }
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- counts and charts (GET /v1/stats) ------------------------------------------------------

// Draws in the element's own pixels (no stretched text): the viewBox follows its width.
function fitBox(box, h) {
  const w = Math.max(300, Math.round(box.getBoundingClientRect().width) || 600);
  box.setAttribute("viewBox", `0 0 ${w} ${h}`);
  box.replaceChildren();
  return w;
}

function drawChart(box, series, names, h = 160) {
  const w = fitBox(box, h);
  const n = series[names[0]].length;
  let max = 0;
  for (const name of names) for (const v of series[name]) max = Math.max(max, v);
  const top = max > 0 ? niceCeil(max) : 1;
  for (let i = 0; i <= 4; i++) {
    const y = h - 14 - ((h - 24) * i) / 4;
    box.append(svg("line", { class: "grid", x1: 30, x2: w, y1: y, y2: y }));
    box.append(svg("text", { x: 0, y: y + 3 }, fmtAxis((top * i) / 4)));
  }
  box.append(svg("text", { x: 30, y: h - 2 }, "-" + n + " s"));
  box.append(svg("text", { x: w - 24, y: h - 2 }, "now"));
  for (const name of names) {
    const pts = series[name].map((v, i) =>
      (30 + ((w - 30) * i) / Math.max(1, n - 1)).toFixed(1) + "," + (h - 14 - ((h - 24) * v) / top).toFixed(1));
    box.append(svg("polyline", { class: "line " + name, points: pts.join(" ") }));
  }
}
function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function fmtAxis(v) { return v >= 100 ? v.toFixed(0) : String(Number(v.toFixed(2))); }

async function loadStats() {
  const stats = await getJson("/v1/stats");
  for (const [state, n] of Object.entries(stats.counts)) {
    const cell = $("count-" + state);
    if (cell) cell.textContent = n;
  }
  if (!ui.lastEvent) ui.lastEvent = stats.last_event_id || 0;
  const s = stats.series;
  drawChart($("chart-throughput"), s, ["submitted", "succeeded", "failed"]);
  drawChart($("chart-latency"), { mean: s.latency_mean, max: s.latency_max }, ["max", "mean"]);
}

// --- the list (GET /v1/requests) -------------------------------------------------------------

// Newest first: what just arrived is at the top; "More" pages back to older ones.
function listQuery(after) {
  const q = new URLSearchParams({ limit: "50", order: "newest" });
  if (ui.state) q.set("state", ui.state);
  if (ui.target) q.set("target", ui.target);
  if (after) q.set("after", String(after));
  return "/v1/requests?" + q;
}
function requestRow(item) {
  const tr = el("tr", { "data-id": item.id, "data-state": stateOf(item) });
  tr.append(el("td", {}, item.id));
  const st = el("td");
  st.append(el("span", { class: "state " + stateOf(item) }, stateOf(item).replace("_", " ")));
  tr.append(st);
  tr.append(el("td", {}, item.target || ""));
  tr.append(el("td", { class: "wrap" }, destinationOf(item)));
  tr.append(el("td", {}, item.attempts_started ?? (Array.isArray(item.attempts) ? item.attempts.length : item.attempts ?? "")));
  tr.append(el("td", {}, clock(item.requested_at)));
  tr.append(el("td", {}, clock(item.finished_at)));
  tr.append(el("td", { class: "wrap" }, item.reason || ""));
  tr.addEventListener("click", () => openDetail(item.id));
  return tr;
}
async function loadList(more) {
  const page = await getJson(listQuery(more ? ui.nextAfter : 0));
  const body = $("requests").tBodies[0];
  if (!more) body.replaceChildren();
  for (const item of page.items) body.append(requestRow(item));
  ui.nextAfter = page.next_after || 0;
  $("more").hidden = !ui.nextAfter;
  $("list-note").textContent = body.rows.length + " shown" + (ui.nextAfter ? ", more below" : "");
}

// --- one request (GET /v1/requests/{id}) -----------------------------------------------------

function attemptsOf(d) { return Array.isArray(d.attempts) ? d.attempts : d.attempt_list || []; }
function resultOf(a) { return a.result || ""; }

function drawTimeline(d) {
  const box = $("timeline");
  const w = fitBox(box, 60);
  const attempts = attemptsOf(d);
  const start = toMs(d.requested_at);
  const ends = attempts.map((a) => toMs(a.ended_at) ?? Date.now());
  const end = Math.max(start + 1, toMs(d.finished_at) ?? 0, toMs(d.next_attempt_at) ?? 0, ...ends,
                       ...attempts.map((a) => toMs(a.started_at)));
  const x = (ms) => 4 + ((w - 8) * (ms - start)) / (end - start);
  box.append(svg("line", { class: "gap", x1: x(start), x2: x(end), y1: 30, y2: 30 }));
  attempts.forEach((a, i) => {
    const s = toMs(a.started_at), e = ends[i];
    box.append(svg("rect", { class: "bar " + resultOf(a), x: x(s), y: 18, height: 24,
                             width: Math.max(2, x(e) - x(s)), "data-attempt": a.number ?? i }));
    const near = x(s) > w - 80;  // the label ends at the bar, not past the edge
    box.append(svg("text", { x: near ? x(e) : x(s), y: 12, "text-anchor": near ? "end" : "start" },
                   "#" + (a.number ?? i) + " " + (a.status || resultOf(a))));
    if (i + 1 < attempts.length) {
      const next = toMs(attempts[i + 1].started_at);
      box.append(svg("text", { x: (x(e) + x(next)) / 2, y: 56, "text-anchor": "middle" },
                     "backoff " + seconds(next - e)));
    }
  });
}

function field(list, name, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", {}, name), el("dd", {}, value));
}

async function loadDetail() {
  if (ui.detailId === null) return;
  const d = await getJson("/v1/requests/" + encodeURIComponent(ui.detailId));
  $("detail").hidden = false;
  $("detail-id").textContent = d.id;
  const st = $("detail-state");
  st.textContent = stateOf(d).replace("_", " ");
  st.className = "state " + stateOf(d);
  const dl = $("detail-fields");
  dl.replaceChildren();
  field(dl, "idempotency key", d.idempotency_uuid || d.external_uuid);
  field(dl, "target", d.target);
  field(dl, "destination", destinationOf(d));
  field(dl, "requested", clock(d.requested_at));
  field(dl, "finished", clock(d.finished_at));
  field(dl, "next attempt", clock(d.next_attempt_at));
  field(dl, "reason", d.reason);
  field(dl, "body", d.body_excerpt ?? d.body);
  drawTimeline(d);
  const body = $("attempts").tBodies[0];
  body.replaceChildren();
  let previousEnd = null;
  for (const a of attemptsOf(d)) {
    const s = toMs(a.started_at), e = toMs(a.ended_at);
    const tr = el("tr", { "data-attempt": a.number, "data-result": resultOf(a) });
    tr.append(el("td", {}, a.number));
    tr.append(el("td", {}, clock(a.started_at)));
    tr.append(el("td", {}, clock(a.ended_at)));
    tr.append(el("td", {}, e !== null ? seconds(e - s) : ""));
    tr.append(el("td", {}, resultOf(a).replace("_", " ")));
    tr.append(el("td", {}, a.status || ""));
    tr.append(el("td", {}, previousEnd !== null ? seconds(s - previousEnd) : ""));
    tr.append(el("td", { class: "wrap" }, a.excerpt || ""));
    body.append(tr);
    previousEnd = e;
  }
}
function openDetail(id) {
  ui.detailId = id;
  loadDetail().catch((e) => showError(e.message));
}

// --- live updates (GET /v1/events) -----------------------------------------------------------

let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    try {
      await Promise.all([loadStats(), loadList(false), loadDetail()]);
      showError("");
    } catch (e) { showError(e.message); }
  }, 250);
}

async function follow() {
  let delay = 500;
  for (;;) {
    try {
      const h = Object.assign({ Accept: "text/event-stream" }, headers);
      if (ui.lastEvent) h["Last-Event-ID"] = String(ui.lastEvent);
      // Without a position the stream starts at the log's end: only what happens from now.
      const url = ui.lastEvent ? "/v1/events?after=" + ui.lastEvent : "/v1/events";
      const res = await fetch(url, { headers: h, cache: "no-store" });
      if (!res.ok || !res.body) throw new Error("/v1/events: " + res.status);
      $("live").textContent = "live";
      $("live").className = "live on";
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith("id:")) ui.lastEvent = Number(line.slice(3).trim()) || ui.lastEvent;
          }
          if (/^data:/m.test(block)) refreshSoon();  // not a comment or a retry: line
        }
      }
    } catch (e) {
      showError(e.message);
    }
    $("live").textContent = "reconnecting…";
    $("live").className = "live off";
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

// --- wiring ----------------------------------------------------------------------------------

function selectState(state) {
  ui.state = state;
  $("filter-state").value = state;
  for (const b of document.querySelectorAll(".count")) b.classList.toggle("selected", b.dataset.state === state && !!state);
  loadList(false).catch((e) => showError(e.message));
}

document.addEventListener("DOMContentLoaded", async () => {
  $("filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    ui.target = $("filter-target").value.trim();
    selectState($("filter-state").value);
  });
  for (const b of document.querySelectorAll(".count")) {
    b.addEventListener("click", () => selectState(ui.state === b.dataset.state ? "" : b.dataset.state));
  }
  $("more").addEventListener("click", () => loadList(true).catch((e) => showError(e.message)));
  $("detail-close").addEventListener("click", () => { ui.detailId = null; $("detail").hidden = true; });
  try {
    await Promise.all([loadStats(), loadList(false)]);
  } catch (e) { showError(e.message); }
  setInterval(() => loadStats().catch((e) => showError(e.message)), 2000);  // the charts move on
  follow();
});
