// The page at /train: models and versions, start and watch a training run, promote or roll back a version.
// Plain browser JavaScript, no dependencies; it only uses the public API, and tolerates answers that lack a field.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1000;
  const FINISHED = new Set(["success", "failed", "cancelled"]);
  const TRAIN = "#0b57d0";
  const VALIDATION = "#c2410c";
  let watched = null; // {key, url, timer, seen: Map epoch -> figures, epochs}

  // ---- small helpers ----------------------------------------------------------------------------------
  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function headers(json) {
    const result = { Accept: "application/json" };
    if (json) result["Content-Type"] = "application/json";
    const token = $("token").value.trim();
    if (token) result.Authorization = `Bearer ${token}`;
    return result;
  }

  async function call(method, url, payload) {
    const options = { method, headers: headers(payload !== undefined) };
    if (payload !== undefined) options.body = JSON.stringify(payload);
    const response = await fetch(url, options);
    const body = await response.json().catch(() => ({}));
    return { response, body: body && typeof body === "object" ? body : {} };
  }

  function explain(response, body) {
    if (response.status === 401) return "The service asks for the admin token (HTTP 401): type it in the token field.";
    if (response.status === 403) return "The service refused this token (HTTP 403).";
    return `${body.error || response.statusText || "request failed"} (HTTP ${response.status})`;
  }

  function num(value) {
    const n = typeof value === "string" ? Number(value) : value;
    return typeof n === "number" && Number.isFinite(n) ? n : undefined;
  }

  function asPercent(value) {
    // Manifests record accuracy in percent, the training API as a fraction in [0, 1].
    const n = num(value);
    if (n === undefined) return "–";
    return `${(n <= 1 ? n * 100 : n).toFixed(2)}%`;
  }

  function asNumber(value) {
    const n = num(value);
    return n === undefined ? "–" : n.toFixed(4);
  }

  // ---- models and versions ----------------------------------------------------------------------------
  function metricsText(metrics) {
    if (!metrics || typeof metrics !== "object") return "";
    const shown = Object.entries(metrics).filter(([key, value]) => num(value) !== undefined && /accuracy|loss/.test(key));
    const heldOut = shown.filter(([key]) => !key.startsWith("train")); // figures on data the model did not train on
    return (heldOut.length ? heldOut : shown)
      .map(([key, value]) => `${key.replace(/_/g, " ")} ${/accuracy/.test(key) ? asPercent(value) : asNumber(value)}`)
      .join(" · ");
  }

  function versionsOf(detail) {
    if (Array.isArray(detail.versions)) return detail.versions.filter((v) => v && v.version !== undefined);
    return detail.version === undefined ? [] : [{ version: detail.version, state: "available", default: true,
      metrics: detail.metrics, created: detail.created }];
  }

  function modelTable(name, detail) {
    const versions = versionsOf(detail);
    const isDefault = (v) => v.default === true || String(v.version) === String(detail.default_version);
    const current = versions.find(isDefault);
    const wrap = element("div", null, "table-scroll");
    const table = element("table", null, "versions");
    table.dataset.model = name;
    table.append(element("caption", `${name}${current ? ` (default: v${current.version})` : ""}`));
    const head = element("tr");
    for (const title of ["version", "state", "metrics", "created", ""]) head.append(element("th", title));
    head.querySelectorAll("th").forEach((th) => th.setAttribute("scope", "col"));
    table.append(element("thead"));
    table.tHead.append(head);
    const body = table.appendChild(element("tbody"));
    for (const v of versions) {
      const row = element("tr");
      row.dataset.version = String(v.version);
      const label = element("td", `v${v.version} `);
      if (isDefault(v)) label.append(element("span", "default", "badge"));
      row.append(label);
      row.append(element("td", v.reason ? `${v.state || "?"}: ${v.reason}` : v.state || "available"));
      row.append(element("td", metricsText(v.metrics), "metrics"));
      row.append(element("td", v.created ? String(v.created).replace("T", " ").slice(0, 16) : "", "created"));
      const action = element("td");
      if (!isDefault(v)) {
        const older = current && Number(v.version) < Number(current.version);
        const button = element("button", older ? `Roll back to v${v.version}` : `Promote v${v.version}`, "secondary");
        button.type = "button";
        button.disabled = Boolean(v.state) && v.state !== "available";
        button.addEventListener("click", () => promote(name, v.version));
        action.append(button);
      }
      row.append(action);
      body.append(row);
    }
    wrap.append(table);
    return wrap;
  }

  async function loadModels() {
    const box = $("models");
    try {
      const { response, body } = await call("GET", "/api/v1/models");
      if (!response.ok) throw new Error(explain(response, body));
      const models = (Array.isArray(body) ? body : body.models || []).filter((m) => m && m.name);
      const tables = await Promise.all(models.map(async (model) => {
        const detail = await call("GET", `/api/v1/models/${encodeURIComponent(model.name)}`);
        return modelTable(model.name, detail.response.ok ? detail.body : model);
      }));
      box.replaceChildren(...(tables.length ? tables : [element("p", "No models are served.")]));
    } catch (error) {
      box.replaceChildren(element("p", `Could not list the models: ${error.message}`, "error"));
    }
  }

  async function promote(name, version) {
    const message = $("promote-message");
    message.textContent = `Promoting ${name} v${version}…`;
    try {
      const url = `/api/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/promote`;
      const { response, body } = await call("POST", url);
      message.textContent = response.ok
        ? `${name}: v${body.default_version ?? version} is now the default.`
        : `Could not promote ${name} v${version}: ${explain(response, body)}`;
      message.className = response.ok ? "" : "error";
    } catch (error) {
      message.textContent = `The service could not be reached (${error.message}).`;
      message.className = "error";
    }
    loadModels();
  }

  // ---- starting a run ---------------------------------------------------------------------------------
  function problems(body) {
    const list = body.errors ?? body.fields ?? body.details;
    if (Array.isArray(list)) {
      return list.map((item) => (typeof item === "string" ? item
        : `${item.field ?? item.loc ?? item.name ?? ""}: ${item.message ?? item.msg ?? item.error ?? ""}`));
    }
    if (list && typeof list === "object") return Object.entries(list).map(([key, value]) => `${key}: ${value}`);
    return [];
  }

  async function start() {
    const box = $("start-message");
    let config;
    try {
      config = JSON.parse($("config").value);
    } catch (error) {
      box.replaceChildren(element("p", `The config is not valid JSON: ${error.message}`, "error"));
      return;
    }
    $("start").disabled = true;
    box.replaceChildren(element("p", "Starting…"));
    try {
      const { response, body } = await call("POST", "/api/v1/train", config);
      if (response.ok && body.key) {
        box.replaceChildren(element("p", `Run ${body.key} started.`));
        watch(body.key, body.status_url);
        loadJobs();
      } else {
        const list = element("ul");
        for (const problem of problems(body)) list.append(element("li", problem));
        box.replaceChildren(element("p", `Not started: ${explain(response, body)}`, "error"), list);
      }
    } catch (error) {
      box.replaceChildren(element("p", `The service could not be reached (${error.message}).`, "error"));
    } finally {
      $("start").disabled = false;
    }
  }

  // ---- watching a run ---------------------------------------------------------------------------------
  function rowsFrom(history) {
    // Either a list of per-epoch records (Keras callbacks) or Keras' History.history (name -> list of values).
    if (Array.isArray(history)) {
      return history.filter((r) => r && typeof r === "object").map((r, i) => ({
        epoch: num(r.epoch) ?? i + 1, loss: num(r.loss), accuracy: num(r.accuracy ?? r.acc),
        val_loss: num(r.val_loss), val_accuracy: num(r.val_accuracy ?? r.val_acc),
      }));
    }
    if (history && typeof history === "object") {
      const column = (...names) => names.map((n) => history[n]).find(Array.isArray) || [];
      const loss = column("loss");
      const accuracy = column("accuracy", "acc");
      const valLoss = column("val_loss");
      const valAccuracy = column("val_accuracy", "val_acc");
      const count = Math.max(loss.length, accuracy.length, valLoss.length, valAccuracy.length);
      return Array.from({ length: count }, (_, i) => ({ epoch: i + 1, loss: num(loss[i]), accuracy: num(accuracy[i]),
        val_loss: num(valLoss[i]), val_accuracy: num(valAccuracy[i]) }));
    }
    return [];
  }

  function epochRows(job) {
    const nested = [job.progress, job.result, job.message].find((x) => x && typeof x === "object" && x.history);
    const rows = rowsFrom(job.history ?? (nested && nested.history));
    if (rows.length) return rows;
    // No history in the answer: keep the latest figures seen for each epoch while polling.
    const epoch = num(job.current_epoch);
    const figures = { epoch, loss: num(job.current_loss), accuracy: num(job.current_accuracy ?? job.accuracy),
      val_loss: num(job.current_val_loss ?? job.val_loss),
      val_accuracy: num(job.current_val_accuracy ?? job.val_accuracy) };
    if (epoch !== undefined && epoch > 0 && (figures.loss !== undefined || figures.accuracy !== undefined)) {
      watched.seen.set(epoch, figures);
    }
    return [...watched.seen.values()].sort((a, b) => a.epoch - b.epoch);
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawChart(target, rows, series, epochs, fraction) {
    const W = 320;
    const H = 180;
    const left = 44;
    const right = 10;
    const top = 10;
    const bottom = 26;
    const points = series.map((s) => rows.filter((r) => r[s.key] !== undefined).map((r) => [r.epoch, r[s.key]]));
    const values = points.flat().map((p) => p[1]);
    const nodes = [];
    const lastEpoch = Math.max(epochs || 1, ...rows.map((r) => r.epoch), 2);
    let low = values.length ? Math.min(...values) : 0;
    let high = values.length ? Math.max(...values) : 1;
    if (fraction) {
      low = Math.max(0, Math.floor(low * 10) / 10 - (low === high ? 0.1 : 0));
      high = Math.max(Math.min(1, Math.ceil(high * 10) / 10), low + 0.1);
    } else {
      low = 0;
      high = high > 0 ? high * 1.1 : 1;
    }
    const x = (epoch) => left + ((epoch - 1) / (lastEpoch - 1)) * (W - left - right);
    const y = (value) => top + (1 - (value - low) / (high - low)) * (H - top - bottom);
    const label = (value) => (fraction ? `${Math.round(value * 100)}%` : value.toFixed(value < 1 ? 2 : 1));
    if (!values.length) {
      target.replaceChildren(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "font-size": 12,
        fill: "#4a4d55" }, "waiting for the first epoch…"));
      target.dataset.points = "0";
      return;
    }
    for (const value of [low, (low + high) / 2, high]) {
      nodes.push(svg("line", { x1: left, x2: W - right, y1: y(value), y2: y(value), stroke: "#d7d9de" }));
      nodes.push(svg("text", { x: left - 4, y: y(value) + 4, "text-anchor": "end", "font-size": 10, fill: "#4a4d55" },
        label(value)));
    }
    const step = Math.max(1, Math.ceil((lastEpoch - 1) / 8));
    for (let epoch = 1; epoch <= lastEpoch; epoch += step) {
      nodes.push(svg("text", { x: x(epoch), y: H - 10, "text-anchor": "middle", "font-size": 10, fill: "#4a4d55" },
        String(epoch)));
    }
    nodes.push(svg("text", { x: W - right, y: H - 1, "text-anchor": "end", "font-size": 10, fill: "#4a4d55" }, "epoch"));
    series.forEach((s, i) => {
      if (!points[i].length) return;
      nodes.push(svg("polyline", { points: points[i].map(([e, v]) => `${x(e)},${y(v)}`).join(" "), fill: "none",
        stroke: s.color, "stroke-width": 2 }));
      for (const [e, v] of points[i]) {
        const dot = svg("circle", { cx: x(e), cy: y(v), r: 3.5, fill: s.color, class: `point ${s.key}` });
        dot.append(svg("title", {}, `${s.name}, epoch ${e}: ${fraction ? asPercent(v) : asNumber(v)}`));
        nodes.push(dot);
      }
    });
    target.replaceChildren(...nodes);
    target.dataset.points = String(values.length);
  }

  function drawRun(rows, epochs) {
    drawChart($("loss-chart"), rows, [{ key: "loss", name: "training loss", color: TRAIN },
      { key: "val_loss", name: "validation loss", color: VALIDATION }], epochs, false);
    const fractions = rows.map((r) => ({ ...r, accuracy: fractionOf(r.accuracy), val_accuracy: fractionOf(r.val_accuracy) }));
    drawChart($("accuracy-chart"), fractions, [{ key: "accuracy", name: "training accuracy", color: TRAIN },
      { key: "val_accuracy", name: "validation accuracy", color: VALIDATION }], epochs, true);
    const table = $("epochs");
    table.hidden = !rows.length;
    table.tBodies[0].replaceChildren(...rows.map((r) => {
      const row = element("tr");
      row.append(element("td", String(r.epoch)), element("td", asNumber(r.loss)), element("td", asPercent(r.accuracy)),
        element("td", asNumber(r.val_loss)), element("td", asPercent(r.val_accuracy)));
      return row;
    }));
  }

  function fractionOf(value) {
    return value === undefined ? undefined : value > 1 ? value / 100 : value;
  }

  function summary(job) {
    const parts = [`Run ${job.key ?? watched.key}: ${job.status ?? "unknown"}`];
    const epoch = num(job.current_epoch);
    const epochs = num(job.epochs);
    if (epoch !== undefined) parts.push(`epoch ${epoch}${epochs ? ` of ${epochs}` : ""}`);
    if (num(job.current_loss) !== undefined) parts.push(`loss ${asNumber(job.current_loss)}`);
    const result = job.message && typeof job.message === "object" ? job.message : null;
    if (result && result.test) parts.push(`test accuracy ${asPercent(result.test.accuracy)}`);
    if (job.model && job.model.name) parts.push(`published ${job.model.name} v${job.model.version}`);
    const failure = job.error ?? job.reason ?? (typeof job.message === "string" && job.status === "failed" ? job.message : null);
    if (failure) parts.push(String(failure));
    return parts.join(" · ");
  }

  async function poll() {
    const run = watched;
    try {
      const { response, body } = await call("GET", run.url);
      if (run !== watched) return;
      if (!response.ok) {
        $("run-status").textContent = `Run ${run.key}: ${explain(response, body)}`;
      } else {
        drawRun(epochRows(body), num(body.epochs));
        $("run-status").textContent = summary(body);
        if (FINISHED.has(body.status)) {
          $("cancel").hidden = true;
          loadJobs();
          if (body.model) loadModels();
          return;
        }
        $("cancel").hidden = false;
      }
    } catch (error) {
      if (run !== watched) return;
      $("run-status").textContent = `Run ${run.key}: the service could not be reached (${error.message}); retrying.`;
    }
    run.timer = setTimeout(poll, POLL_MS);
  }

  function watch(key, statusUrl) {
    if (watched) clearTimeout(watched.timer);
    watched = { key, url: statusUrl || `/api/v1/train/${encodeURIComponent(key)}`, timer: null, seen: new Map() };
    $("run-status").textContent = `Run ${key}: waiting for its status…`;
    drawRun([], undefined);
    poll();
  }

  async function cancel() {
    if (!watched) return;
    const { response, body } = await call("DELETE", `/api/v1/train/${encodeURIComponent(watched.key)}`);
    if (!response.ok) $("run-status").textContent = `Could not cancel run ${watched.key}: ${explain(response, body)}`;
  }

  // ---- recent runs ------------------------------------------------------------------------------------
  async function loadJobs() {
    const list = $("jobs");
    try {
      const { response, body } = await call("GET", "/api/v1/train");
      if (response.status === 404) {
        list.replaceChildren(element("li", "This service has no training API.", "muted"));
        return;
      }
      if (!response.ok) throw new Error(explain(response, body));
      const jobs = (Array.isArray(body) ? body : body.jobs || []).filter((j) => j && j.key).slice(0, 10);
      list.replaceChildren(...(jobs.length ? jobs.map((job) => {
        const item = element("li", `${job.key} · ${job.status ?? "?"}${job.created ? ` · ${job.created}` : ""} `);
        const button = element("button", "Watch", "secondary");
        button.type = "button";
        button.setAttribute("aria-label", `Watch run ${job.key}`);
        button.addEventListener("click", () => watch(job.key, job.status_url));
        item.append(button);
        return item;
      }) : [element("li", "No runs yet.", "muted")]));
    } catch (error) {
      list.replaceChildren(element("li", `Could not list the runs: ${error.message}`, "error"));
    }
  }

  $("start-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  $("cancel").addEventListener("click", cancel);
  drawRun([], undefined);
  loadModels();
  loadJobs();
})();
