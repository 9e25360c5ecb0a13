// clearway dashboard. Served by clearway itself under /_clearway/ui/; talks
// only to /_clearway/ on the same origin (the Content-Security-Policy allows
// nothing else). State-changing calls carry the session's CSRF token in the
// X-Clearway-CSRF header; the session cookie is HttpOnly.
"use strict";

(function () {
  const API = "/_clearway/";
  const csrf = document.querySelector('meta[name="clearway-csrf"]').content;
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  };
  const state = { status: null, requests: [], settings: null };
  // count says "1 cookie", "2 cookies".
  const count = (n, noun) => n + " " + noun + (n === 1 ? "" : "s");
  window.clearway = state; // read by the browser tests

  async function call(method, path, body, type) {
    const opts = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") opts.headers["X-Clearway-CSRF"] = csrf;
    if (body !== undefined) {
      opts.body = typeof body === "string" || body instanceof Blob ? body : JSON.stringify(body);
      opts.headers["Content-Type"] = type || "application/json";
    }
    const r = await fetch(API + path, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!r.ok) {
      const msg = (data && data.error && (data.error.message || data.error)) || r.statusText;
      throw new Error(msg);
    }
    return data;
  }

  // ---------------------------------------------------------------- tabs
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function select(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    location.hash = tab.getAttribute("aria-controls");
    if (tab.id === "tab-usage") loadUsage();
    if (tab.id === "tab-settings") loadSettings();
  }
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => select(t));
    t.addEventListener("keydown", (ev) => {
      const d = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      const next = tabs[(i + d + tabs.length) % tabs.length];
      next.focus();
      select(next);
    });
  });

  // ---------------------------------------------------------------- format
  const fmtInt = (n) => (n || 0).toLocaleString("en-US");
  const fmtTok = (n) => {
    n = n || 0;
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + "k";
    return String(n);
  };
  const fmtUSD = (n) => "~$" + (n || 0).toFixed(2);
  const fmtTime = (t) => (t ? new Date(t).toLocaleTimeString() : "");
  const fmtMs = (ms) => (ms == null ? "" : ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(1) + " s");
  function countdown(reset) {
    if (!reset) return "";
    const s = Math.round((new Date(reset) - Date.now()) / 1000);
    if (s <= 0) return "reset";
    return "resets in " + (s >= 60 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : s + "s");
  }
  const healthClass = { ok: "h-ok", idle: "h-idle", retrying: "h-warn", failing: "h-bad", open: "h-bad" };

  // ---------------------------------------------------------------- overview
  function renderStatus() {
    const st = state.status;
    if (!st) return;
    const cards = $("#cards");
    cards.replaceChildren();
    const upSel = $("#f-upstream");
    const known = new Set([...upSel.options].map((o) => o.value));
    for (const u of st.upstreams || []) {
      if (!known.has(u.name)) upSel.append(el("option", { value: u.name, text: u.name }));
      const card = el("article", { class: "card", "aria-labelledby": "card-" + u.name, "data-upstream": u.name });
      const state_ = u.breaker === "open" ? "open" : u.state;
      card.append(el("h3", { id: "card-" + u.name }, u.name,
        el("span", { class: "badge " + (healthClass[state_] || "h-idle"), text: state_ })));
      const kv = el("dl", { class: "kv" });
      const add = (k, v) => { if (v !== undefined && v !== null && v !== "") kv.append(el("dt", { text: k }), el("dd", { text: String(v) })); };
      add("Last status", u.last_status ? u.last_status + (u.last_at ? " at " + fmtTime(u.last_at) : "") : "none yet");
      add("In flight / queued", u.in_flight + " / " + (u.queue_length || 0));
      const today = u.today || {};
      add("Today", [[today.requests ?? u.requests, "request", "requests"], [today.retries ?? u.retries, "retry", "retries"], [today.errors ?? u.failures, "error", "errors"]]
        .map(([n, one, many]) => fmtInt(n) + " " + (n === 1 ? one : many)).join(", "));
      add("User-Agent", u.user_agent || "(first client's)");
      const keys = u.key_pool && u.key_pool.length ? u.key_pool : u.key ? [{ name: u.key, state: st.keys && st.keys[u.key] ? "ready" : "missing" }] : [];
      add("Keys", keys.length ? keys.map((k) => k.name + ": " + (k.state || "ready") + (k.until ? " until " + fmtTime(k.until) : "") + (k.why ? " (" + k.why + ")" : "")).join(", ") : "none needed");
      if (u.last_error) add("Last error", u.last_error);
      card.append(kv);
      for (const rl of u.rate_limits || []) {
        const frac = rl.limit > 0 ? Math.max(0, Math.min(1, rl.remaining / rl.limit)) : 0;
        const fill = el("div", { class: "fill" + (frac === 0 ? " empty" : frac < 0.2 ? " low" : "") });
        fill.style.width = (frac * 100).toFixed(1) + "%";
        const label = rl.name + ": " + fmtTok(rl.remaining) + " of " + fmtTok(rl.limit) + (rl.reset ? ", " + countdown(rl.reset) : "");
        card.append(el("div", { class: "meter", "data-limit": rl.name },
          el("span", { text: label }),
          el("div", { class: "bar", role: "meter", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": String(rl.limit), "aria-valuenow": String(rl.remaining) }, fill)));
      }
      const cookies = (u.cookies || []).map((c) => c.name + (c.expires ? " (until " + new Date(c.expires).toLocaleString() + ")" : " (session)"));
      card.append(el("p", { class: "note", text: "Cookies: " + (cookies.length ? cookies.join(", ") : "none") }));
      cards.append(card);
    }
    const tot = st.today || {};
    $("#summary").textContent = "clearway " + st.version + " on " + st.addr +
      (tot.tokens != null ? " · today: " + fmtTok(tot.tokens) + " tokens, " + fmtUSD(tot.cost_usd) : "") +
      (st.shared ? " · shared: " + sharedText(st.shared) : "");
  }
  // sharedText says whether the team's limits are shared (status.shared).
  function sharedText(sh) {
    if (sh.state === "connected") {
      const n = (sh.instances || []).length;
      return "connected" + (n > 1 ? " (" + n + " clearways of " + sh.namespace + ")" : "");
    }
    return sh.state + (sh.why ? " (" + sh.why + ")" : "");
  }
  async function loadStatus() {
    state.status = await call("GET", "status");
    renderStatus();
  }

  // ---------------------------------------------------------------- requests
  function outcomeOf(r) {
    if (r.status >= 400 || r.status === 0) return "failed";
    return r.attempts > 1 ? "retried" : "ok";
  }
  function renderRequests() {
    const up = $("#f-upstream").value, oc = $("#f-outcome").value;
    const body = $("#req-table tbody");
    body.replaceChildren();
    for (const r of state.requests) {
      if (up && r.upstream !== up) continue;
      if (oc && outcomeOf(r) !== oc) continue;
      const tr = el("tr", { tabindex: "0", "data-id": String(r.id), "data-outcome": outcomeOf(r) },
        el("td", { text: fmtTime(r.time) }), el("td", { text: r.client || "" }), el("td", { text: r.upstream }),
        el("td", { text: r.model || "" }), el("td", { class: "num", text: r.status ? String(r.status) : "—" }),
        el("td", { class: "num", text: String(r.attempts || 1) }), el("td", { class: "num", text: fmtMs(r.duration_ms) }),
        el("td", { class: "num", text: fmtTok(r.input_tokens) + " / " + fmtTok(r.output_tokens) }));
      const open = () => showTimeline(r);
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } });
      body.append(tr);
    }
  }
  function showTimeline(r) {
    const list = $("#timeline-list");
    list.replaceChildren();
    $("#timeline-title").textContent = "Request " + r.id + " to " + r.upstream + (r.answered_by && r.answered_by !== r.upstream ? " (answered by " + r.answered_by + ")" : "");
    for (const a of r.attempt_log || []) {
      list.append(el("li", { class: "attempt" , text:
        "attempt " + a.n + ": " + (a.status ? "HTTP " + a.status : "no answer") +
        (a.reason ? " — " + a.reason : "") +
        (a.wait_ms ? ", waited " + fmtMs(a.wait_ms) + (a.wait_why ? " (" + a.wait_why + ")" : "") : "") +
        ", " + count(a.cookies || 0, "cookie") + " sent" + (a.key ? ", key " + a.key : "") }));
    }
    if (!list.children.length) list.append(el("li", { text: "no attempt details recorded" }));
    $("#timeline").showModal();
  }
  $("#f-upstream").addEventListener("change", renderRequests);
  $("#f-outcome").addEventListener("change", renderRequests);
  async function loadRequests() {
    const d = await call("GET", "requests?limit=500");
    state.requests = (d && d.requests) || [];
    renderRequests();
  }

  // ---------------------------------------------------------------- usage
  const charts = {};
  window.clearwayCharts = charts; // read by the browser tests
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const dayKey = (d) => d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  function stacked(rows, key) {
    // rows: [{day, <key>, tokens...}] -> the last 30 local days, one stacked bar each.
    const days = [];
    for (let i = 29; i >= 0; i--) { const d = new Date(); d.setHours(12, 0, 0, 0); d.setDate(d.getDate() - i); days.push(dayKey(d)); }
    const names = [...new Set(rows.map((r) => r[key] || "(unknown)"))].sort();
    const xs = days.map((d) => Date.parse(d + "T12:00:00") / 1000);
    const raw = names.map((n) => days.map((d) => rows.filter((r) => r.day === d && (r[key] || "(unknown)") === n)
      .reduce((s, r) => s + (r.input_tokens || 0) + (r.output_tokens || 0) + (r.cache_read_tokens || 0) + (r.cache_write_tokens || 0), 0)));
    const acc = days.map(() => 0);
    const cum = raw.map((vals) => vals.map((v, i) => (acc[i] += v)));
    return { names, xs, raw, cum };
  }
  function drawChart(id, rows, key) {
    const box = document.getElementById(id);
    const s = stacked(rows, key);
    if (charts[id] && charts[id].destroy) charts[id].destroy();
    box.replaceChildren();
    if (!s.names.length) { box.append(el("p", { class: "note", text: "No usage recorded yet." })); charts[id] = { raw: [], names: [] }; return; }
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim(), line = css.getPropertyValue("--line").trim();
    const series = [{ label: "Day", value: (u, v) => (v == null ? "--" : new Date(v * 1000).toLocaleDateString()) }];
    const data = [s.xs];
    // Draw the tallest (cumulative) series first so each shorter one sits in front.
    for (let i = s.names.length - 1; i >= 0; i--) {
      const c = palette[i % palette.length];
      series.push({ label: s.names[i], stroke: c, fill: c, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false },
        value: (u, v, si, di) => (di == null ? "--" : fmtTok(s.raw[i][di])) });
      data.push(s.cum[i]);
    }
    const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    const width = Math.max(280, box.clientWidth - 10);
    const u = new uPlot({ width, height: 240, series, scales: { x: { time: true, range: [s.xs[0] - 43200, s.xs[s.xs.length - 1] + 43200] } },
      axes: [axis, Object.assign({}, axis, { values: (u, vals) => vals.map(fmtTok), size: 60 })],
    }, data, box);
    u.raw = s.raw; u.names = s.names;
    charts[id] = u;
  }
  async function loadUsage() {
    try {
      const byModel = await call("GET", "usage?since=30d&by=day,model");
      const byClient = await call("GET", "usage?since=30d&by=day,client");
      const totals = await call("GET", "usage?since=30d&by=model");
      drawChart("chart-model", rowsOf(byModel), "model");
      drawChart("chart-client", rowsOf(byClient), "client");
      const body = $("#usage-table tbody");
      body.replaceChildren();
      for (const r of rowsOf(totals)) {
        body.append(el("tr", {}, el("td", { text: r.model || "(unknown)" }),
          ...["requests", "errors", "retries", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"].map((k) => el("td", { class: "num", text: fmtInt(r[k]) })),
          el("td", { class: "num", text: fmtUSD(r.cost_usd) })));
      }
      if (totals && totals.prices_date) $("#usage-note").textContent = "Cost is an estimate from clearway's price table of " + totals.prices_date + ".";
    } catch (e) {
      $("#usage-note").textContent = "Usage unavailable: " + e.message;
    }
  }
  state.reloadUsage = loadUsage; // the browser tests await a redraw
  // Redraw the charts when the system switches between light and dark.
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => { if (!$("#usage").hidden) loadUsage(); });
  const rowsOf = (d) => (Array.isArray(d) ? d : (d && d.rows) || []);

  // ---------------------------------------------------------------- settings
  function msg(id, text, bad) { const m = $(id); m.textContent = text; m.classList.toggle("err", !!bad); }
  async function loadSettings() {
    try {
      const s = (state.settings = await call("GET", "settings"));
      $("#pref-notifications").checked = !!s.notifications;
      $("#pref-autostart").checked = !!s.autostart;
      $("#pref-autostart").disabled = s.autostart === null || s.autostart === undefined;
      $("#config-path").textContent = s.config_path || "(embedded default)";
      $("#config-check").textContent = s.config_check || "ok";
    } catch (e) { msg("#pref-msg", e.message, true); }
    renderKeys();
    renderCookies();
    renderSetup();
  }
  function renderKeys() {
    const list = $("#key-list");
    list.replaceChildren();
    const keys = (state.status && state.status.keys) || {};
    for (const name of Object.keys(keys).sort()) {
      const del = el("button", { type: "button", class: "secondary", "aria-label": "Delete key " + name, text: "Delete" });
      del.addEventListener("click", async () => {
        try { await call("DELETE", "key/" + encodeURIComponent(name)); msg("#key-msg", "Deleted " + name + "."); await loadStatus(); renderKeys(); }
        catch (e) { msg("#key-msg", e.message, true); }
      });
      list.append(el("li", {}, el("span", { text: name + ": " + (keys[name] ? "set" : "missing") }), del));
    }
  }
  $("#key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("#key-name").value.trim(), value = $("#key-value").value;
    try {
      await call("PUT", "key/" + encodeURIComponent(name), value, "text/plain");
      $("#key-value").value = "";
      msg("#key-msg", "Saved " + name + " in the keychain.");
      await loadStatus();
      renderKeys();
    } catch (e) { msg("#key-msg", e.message, true); }
  });
  $("#rotate").addEventListener("click", async () => {
    try {
      const r = await call("POST", "token/rotate");
      state.token = r.token;
      msg("#token-msg", "New token made; the old one no longer works. Copy the setup below into your tools.");
      renderSetup();
    } catch (e) { msg("#token-msg", e.message, true); }
  });
  // setupText is the chosen client's setup with tok as its key.
  function setupText(tok) {
    const base = location.origin;
    const t = {
      claude: "export ANTHROPIC_BASE_URL=" + base + "/anthropic\nexport ANTHROPIC_API_KEY=" + tok + "\nexport CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\nclaude",
      anthropic: "from anthropic import Anthropic\nclient = Anthropic(base_url=\"" + base + "/anthropic\", api_key=\"" + tok + "\")",
      openai: "from openai import OpenAI\nclient = OpenAI(base_url=\"" + base + "/openai/v1\", api_key=\"" + tok + "\")",
      continue: "models:\n  - name: Claude via clearway\n    provider: anthropic\n    model: claude-sonnet-4-6\n    apiBase: " + base + "/anthropic/v1/\n    apiKey: " + tok,
    };
    return t[$("#setup-client").value];
  }
  // The page shows the setup with the token masked; Copy copies it whole.
  function renderSetup() {
    $("#setup-text").textContent = setupText(state.token ? state.token.slice(0, 4) + "…(copied in full)" : "$(clearway token)");
  }
  $("#setup-client").addEventListener("change", renderSetup);
  $("#copy-setup").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(setupText(state.token || "$(clearway token)")); msg("#token-msg", "Setup copied."); }
    catch (_) { msg("#token-msg", "Copy is not allowed here; select the text instead.", true); }
  });
  function renderCookies() {
    const list = $("#cookie-list");
    list.replaceChildren();
    for (const u of (state.status && state.status.upstreams) || []) {
      const clr = el("button", { type: "button", class: "secondary", "aria-label": "Clear cookies of " + u.name, text: "Clear" });
      clr.addEventListener("click", async () => {
        try { const r = await call("POST", "cookies/clear?upstream=" + encodeURIComponent(u.name)); msg("#cookie-msg", "Cleared " + count(r.cleared, "cookie") + " of " + u.name + "."); await loadStatus(); renderCookies(); }
        catch (e) { msg("#cookie-msg", e.message, true); }
      });
      list.append(el("li", {}, el("span", { text: u.name + ": " + count(u.cookie_count, "cookie") }), clr));
    }
  }
  $("#cookie-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    try { const r = await call("POST", "cookies/import", await f.text(), "text/plain"); msg("#cookie-msg", "Imported: " + JSON.stringify(r.imported)); await loadStatus(); renderCookies(); }
    catch (e) { msg("#cookie-msg", e.message, true); }
  });
  for (const [id, key] of [["#pref-notifications", "notifications"], ["#pref-autostart", "autostart"]]) {
    $(id).addEventListener("change", async (ev) => {
      try { await call("POST", "settings", { [key]: ev.target.checked }); msg("#pref-msg", "Saved."); }
      catch (e) { ev.target.checked = !ev.target.checked; msg("#pref-msg", e.message, true); }
    });
  }

  // ---------------------------------------------------------------- live
  function live() {
    const es = new EventSource(API + "events");
    es.addEventListener("open", () => { $("#live").textContent = "live"; });
    es.addEventListener("error", () => { $("#live").textContent = "reconnecting…"; }); // EventSource retries by itself
    es.addEventListener("request", (ev) => {
      const r = JSON.parse(ev.data);
      state.requests.unshift(r);
      if (state.requests.length > 500) state.requests.length = 500;
      renderRequests();
    });
    es.addEventListener("status", (ev) => { state.status = JSON.parse(ev.data); renderStatus(); });
  }

  const first = document.getElementById("tab-" + (location.hash || "#overview").slice(1)) || tabs[0];
  Promise.all([loadStatus(), loadRequests()]).catch((e) => { $("#live").textContent = "error: " + e.message; }).finally(() => {
    select(first);
    live();
    document.body.dataset.ready = "1"; // the browser tests wait on this
  });
  setInterval(() => { if (state.status) renderStatus(); }, 1000); // reset countdowns
})();
