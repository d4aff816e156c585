// The dashboard in a real browser. Starts two brittle APIs (one that answers, one that always
// fails), defines a target for each, runs `api-broker serve --process` on loopback, submits
// requests over the HTTP API, and checks with Debian's Chromium (driven by playwright-core, no
// browser download) that the page shows them arrive and finish, that the counts and charts
// follow, and that a failed request's attempts are shown. Saves screenshots for the README.
//   node dashboard.test.js PATH/TO/api-broker SCREENSHOT_DIR
// Every wait is bounded; the whole run is bounded by scripts/browser-test.sh's timeout.
"use strict";

const { chromium } = require("playwright-core");
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const assert = require("node:assert/strict");

const [bin, shots] = process.argv.slice(2);
if (!bin || !shots) {
  console.error("usage: node dashboard.test.js PATH/TO/api-broker SCREENSHOT_DIR");
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-broker-browser-"));
const store = ["--eventstore-db-path", path.join(dir, "events.db")];
const token = "dashboard-test-token";
const readToken = "dashboard-read-token";
const children = [];

function log(line) { console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`); }

// Runs the CLI once (bounded) and returns its standard output.
function cli(args) {
  return execFileSync(bin, [...store, ...args], { timeout: 30000, encoding: "utf8" });
}

// Starts a long-running child; resolves with the port it says it listens on (on stderr or
// stdout: "listening on 127.0.0.1:PORT" or "listening on http://127.0.0.1:PORT"; serve's log
// may name the API's URL before it).
function start(name, args) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(path.join(dir, name + ".log"), "a");
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not listen within 20 s:\n${seen}`)), 20000);
    const look = (chunk) => {
      fs.writeSync(out, chunk);
      seen += chunk.toString();
      const m = /listening on (?:https?:\/\/)?127\.0\.0\.1:(\d+)/.exec(seen);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}):\n${seen}`)); });
  });
}

async function api(port, method, p, body, bearer = token) {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function main() {
  const good = await start("api-good", ["brittle-api", "serve", "127.0.0.1:0", "--api-min-latency", "0.05",
                                         "--api-max-latency", "0.4", "--seed", "1"]);
  const bad = await start("api-bad", ["brittle-api", "serve", "127.0.0.1:0", "--api-failure-rate", "1", "--seed", "2"]);
  log(`brittle APIs on ${good} (answers) and ${bad} (fails)`);
  cli(["configure", "--retries", "2", "--timeout", "2", "--backoff-initial", "0.4", "--backoff-jitter", "0"]);
  cli(["target", "set", "shop", "--url", `http://127.0.0.1:${good}`]);
  cli(["target", "set", "flaky", "--url", `http://127.0.0.1:${bad}`]);
  const port = await start("serve", [...store, "serve", "--listen", "127.0.0.1:0", "--process",
                                     "--api-url", `http://127.0.0.1:${good}`,
                                     "--api-token", token, "--api-read-token", readToken]);
  log(`api-broker serve on ${port}`);

  const browserDir = fs.mkdtempSync(path.join(os.tmpdir(), "api-broker-chromium-"));
  const context = await chromium.launchPersistentContext(browserDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30000,
    viewport: { width: 1280, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context.setDefaultTimeout(20000);
  try {
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    // Only our own origin: nothing is fetched from elsewhere.
    page.on("request", (r) => {
      if (!r.url().startsWith(`http://127.0.0.1:${port}/`)) problems.push(`fetched elsewhere: ${r.url()}`);
    });

    // The read-only token is enough for the whole dashboard.
    await page.goto(`http://127.0.0.1:${port}/#token=${readToken}`);
    await page.waitForSelector("#live.on");
    log("the page follows the event stream");

    // Requests submitted over the API appear and finish on the page, without a reload.
    const ok = [], failed = [];
    for (let i = 0; i < 6; i++) {
      const r = await api(port, "POST", "/v1/requests", { body: `order ${i}`, target: "shop", path: "/api" });
      assert.equal(r.status, 202, JSON.stringify(r.json));
      ok.push(r.json.id);
    }
    for (let i = 0; i < 2; i++) {
      const r = await api(port, "POST", "/v1/requests", { body: `refund ${i}`, target: "flaky", path: "/api" });
      assert.equal(r.status, 202, JSON.stringify(r.json));
      failed.push(r.json.id);
    }
    log(`submitted ${ok.join(",")} (to succeed) and ${failed.join(",")} (to fail)`);
    for (const id of [...ok, ...failed]) await page.waitForSelector(`#requests tr[data-id="${id}"]`);
    log("every request appeared in the list");
    for (const id of ok) await page.waitForSelector(`#requests tr[data-id="${id}"][data-state="succeeded"]`);
    for (const id of failed) {
      await page.waitForSelector(`#requests tr[data-id="${id}"][data-state="failed"]`, { timeout: 30000 });
    }
    log("every request finished on the page");
    const listed = await page.$$eval("#requests tbody tr", (rows) => rows.map((r) => Number(r.dataset.id)));
    assert.deepEqual(listed, [...listed].sort((a, b) => b - a), "the list is newest first");
    assert.equal(listed[0], Math.max(...ok, ...failed), "the newest request is at the top");
    log("the list shows the newest first");
    await page.waitForFunction(() => document.getElementById("count-succeeded").textContent === "6" &&
                                      document.getElementById("count-failed").textContent === "2");
    await page.waitForSelector("#chart-throughput polyline.submitted");
    await page.screenshot({ path: path.join(shots, "dashboard.png"), fullPage: true });

    // Filtered by state and target.
    await page.selectOption("#filter-state", "failed");
    await page.fill("#filter-target", "flaky");
    await page.click("#filter button[type=submit]");
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("#requests tbody tr")];
      return rows.length === 2 && rows.every((r) => r.dataset.state === "failed");
    });
    log("the list filters by state and target");

    // A failed request shows its three attempts, how each ended and the backoff between.
    await page.click(`#requests tr[data-id="${failed[0]}"]`);
    await page.waitForSelector("#detail:not([hidden])");
    await page.waitForFunction(() => document.querySelectorAll("#attempts tbody tr").length === 3);
    const attempts = await page.$$eval("#attempts tbody tr", (rows) => rows.map((r) => ({
      result: r.dataset.result, status: r.cells[5].textContent, backoff: r.cells[6].textContent })));
    assert.deepEqual(attempts.map((a) => a.result), ["failed", "failed", "failed"]);
    assert.ok(attempts.every((a) => a.status === "503"), JSON.stringify(attempts));
    assert.ok(attempts[1].backoff !== "" && attempts[2].backoff !== "", JSON.stringify(attempts));
    assert.equal(await page.locator("#timeline rect.bar").count(), 3);
    assert.equal(await page.textContent("#detail-state"), "failed");
    log(`request ${failed[0]}: attempts ${JSON.stringify(attempts)}`);
    await page.locator("#detail").screenshot({ path: path.join(shots, "dashboard-request.png") });

    assert.deepEqual(problems, []);
    log("ok");
  } finally {
    await context.close();
    fs.rmSync(browserDir, { recursive: true, force: true });
  }
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
}
process.on("exit", stopAll);
main().then(
  () => { stopAll(); fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); },
  (e) => {
    console.error(`FAILED: ${e.stack || e}`);
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".log"))) {
      console.error(`--- ${f}\n${fs.readFileSync(path.join(dir, f), "utf8").slice(-3000)}`);
    }
    stopAll();
    process.exit(1);
  });
