// The page at /: draw a digit, or upload/photograph an image, and show what the model answers.
// Plain browser JavaScript, no dependencies; it only calls the public API.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ink = pad.getContext("2d");
  const modelSelect = $("model");
  const versionSelect = $("version");
  const MAX_UPLOAD_BYTES = 4 * 1024 * 1024; // larger photos are shrunk in the browser first
  const MAX_SIDE = 2048;
  let last = null; // the last image sent, sent again when the model or version changes
  let current = null; // AbortController of the request in flight: only the newest answer is shown
  let drawing = false;
  let previous = null;
  let sentUrl = null;

  // ---- the drawing pad --------------------------------------------------------------------------------
  function clearPad() {
    ink.fillStyle = "#ffffff";
    ink.fillRect(0, 0, pad.width, pad.height);
    ink.strokeStyle = "#000000";
    ink.lineWidth = pad.width / 14;
    ink.lineCap = "round";
    ink.lineJoin = "round";
  }

  function padPoint(event) {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * (pad.width / box.width), (event.clientY - box.top) * (pad.height / box.height)];
  }

  function strokeTo(point) {
    ink.beginPath();
    ink.moveTo(previous[0], previous[1]);
    ink.lineTo(point[0], point[1]);
    ink.stroke();
    previous = point;
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = true;
    previous = padPoint(event);
    strokeTo([previous[0] + 0.01, previous[1]]); // a tap leaves a dot
  });

  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const each of events.length ? events : [event]) strokeTo(padPoint(each));
  });

  function lift() {
    if (!drawing) return;
    drawing = false;
    pad.toBlob((blob) => send({ blob, name: "drawing.png", preview: null, drawn: true }), "image/png");
  }
  pad.addEventListener("pointerup", lift);
  pad.addEventListener("pointercancel", lift);

  $("clear").addEventListener("click", () => {
    clearPad();
    if (last && last.drawn) last = null;
    only();
    showStatus("Draw a digit or choose an image.");
  });

  // ---- models and versions ----------------------------------------------------------------------------
  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  function describe(model) {
    const labels = Array.isArray(model.labels) ? model.labels : [];
    const shown = labels.slice(0, 4).join(", ") + (labels.length > 4 ? ", …" : "");
    return shown ? `${model.name}: ${shown}` : String(model.name);
  }

  async function loadModels() {
    try {
      const body = await getJson("/api/v1/models");
      const models = (Array.isArray(body) ? body : body.models || []).filter((m) => m && m.name);
      if (models.length) {
        modelSelect.replaceChildren(...models.map((m) => new Option(describe(m), m.name, false, m.name === "mnist")));
      }
    } catch (error) {
      showError(`Could not list the models (${error.message}); the digit model still answers.`);
    }
    await loadVersions();
  }

  async function loadVersions() {
    const name = modelSelect.value;
    const options = [new Option("default", "")];
    try {
      const body = await getJson(`/api/v1/models/${encodeURIComponent(name)}`);
      const versions = Array.isArray(body.versions) ? body.versions : [{ version: body.version, default: true }];
      for (const v of versions) {
        if (v === null || typeof v !== "object" || v.version === undefined || v.version === null) continue;
        const isDefault = v.default === true || String(v.version) === String(body.default_version);
        const usable = !v.state || v.state === "available";
        const notes = [isDefault ? "default" : "", usable ? "" : v.state].filter(Boolean).join(", ");
        const option = new Option(`v${v.version}${notes ? ` (${notes})` : ""}`, String(v.version));
        option.disabled = !usable;
        options.push(option);
      }
    } catch (error) {
      // The default version still answers; there is nothing else to offer.
    }
    versionSelect.replaceChildren(...options);
  }

  modelSelect.addEventListener("change", async () => {
    await loadVersions();
    if (last && !last.drawn) send(last);
  });
  versionSelect.addEventListener("change", () => {
    if (last && (!last.drawn || modelSelect.value === "mnist")) send(last);
  });

  // ---- sending an image -------------------------------------------------------------------------------
  function endpoint(model, version) {
    if (model === "mnist" && !version) return "/mnist/classify";
    const query = new URLSearchParams({ model });
    if (version) query.set("version", version);
    return `/predict?${query}`;
  }

  function withInput(url) {
    return url + (url.includes("?") ? "&" : "?") + "include=input";
  }

  async function shrink(file) {
    // Phones take photos of many megabytes; the service needs far fewer pixels than that.
    if (file.size <= MAX_UPLOAD_BYTES && /^image\/(jpeg|png)$/.test(file.type)) return file;
    try {
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return await new Promise((resolve) => canvas.toBlob((blob) => resolve(blob || file), "image/jpeg", 0.92));
    } catch (error) {
      return file; // the service says what is wrong with it
    }
  }

  function fileName(blob, fallback) {
    if (blob.type === "image/png") return "image.png";
    if (blob.type === "image/jpeg") return "image.jpg";
    return fallback;
  }

  async function onFile(input) {
    const file = input.files && input.files[0];
    if (!file) return;
    input.value = "";
    const blob = await shrink(file);
    send({ blob, name: fileName(blob, file.name), preview: blob, drawn: false });
  }
  $("file").addEventListener("change", (event) => onFile(event.target));
  $("camera").addEventListener("change", (event) => onFile(event.target));

  async function send(item) {
    last = item;
    const model = item.drawn ? "mnist" : modelSelect.value;
    const version = !item.drawn || modelSelect.value === "mnist" ? versionSelect.value : "";
    const url = endpoint(model, version);
    if (current) current.abort();
    const controller = new AbortController();
    current = controller;
    const form = new FormData();
    form.append("image", item.blob, item.name);
    showStatus(`Asking ${model}…`);
    $("result").setAttribute("aria-busy", "true");
    $("curl").textContent = `curl -F image=@${item.drawn ? "drawing.png" : "photo.jpg"} '${location.origin}${url}'`;
    try {
      const response = await fetch(withInput(url), { method: "POST", body: form, signal: controller.signal,
        headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (controller !== current) return;
      if (response.ok) showAnswer(body, item);
      else if (body.code === "not_a_digit") showRefusal(body, item);
      else showError(`Could not classify this image: ${body.error || response.statusText} (HTTP ${response.status}).`);
      // On a phone the answer is below the fold; a drawing stays in view (a digit may take several strokes).
      if (!item.drawn && window.matchMedia("(max-width: 40rem)").matches) {
        $("result").scrollIntoView({ behavior: "smooth", block: "start" });
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      showError(`The service could not be reached (${error.message}).`);
    } finally {
      if (controller === current) {
        current = null;
        $("result").removeAttribute("aria-busy");
      }
    }
  }

  // ---- showing the answer -----------------------------------------------------------------------------
  function only(...visible) {
    for (const id of ["answer", "probs", "refusal", "error", "pictures"]) $(id).hidden = !visible.includes(id);
  }

  function showStatus(text) {
    $("status").textContent = text;
  }

  function showError(text) {
    only("error");
    $("error").textContent = text;
    showStatus("");
  }

  function percent(p) {
    return `${(100 * p).toFixed(1)}%`;
  }

  function showPictures(body, item) {
    if (sentUrl) URL.revokeObjectURL(sentUrl);
    sentUrl = item.preview ? URL.createObjectURL(item.preview) : null;
    $("sent-figure").hidden = !sentUrl;
    if (sentUrl) $("sent").src = sentUrl;
    $("input-figure").hidden = !body.input;
    if (body.input) {
      const image = $("input");
      image.onload = () => {
        $("input-caption").textContent = `What the network was given (${image.naturalWidth}×${image.naturalHeight})`;
      };
      image.src = body.input;
    }
    $("pictures").hidden = !sentUrl && !body.input;
  }

  function bar(name, p, top) {
    const row = document.createElement("li");
    row.className = top ? "top" : "";
    row.dataset.label = name;
    const title = document.createElement("span");
    title.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "pct";
    value.textContent = percent(p);
    row.append(title, track, value);
    return row;
  }

  function showAnswer(body, item) {
    const label = String(body.classification ?? body.label ?? body.prediction);
    const score = Number(body.score ?? body.probability);
    only("answer", "probs");
    $("label").textContent = label;
    $("score").textContent = Number.isFinite(score) ? `score ${score.toFixed(4)}` : "";
    showPictures(body, item);
    const probabilities = Object.entries(body.probabilities || {}).filter(([, p]) => Number.isFinite(p));
    $("bars").replaceChildren(...probabilities.map(([name, p]) => bar(name, p, name === label)));
    $("probs").hidden = !probabilities.length;
    const who = [body.model, body.version ? `v${body.version}` : ""].filter(Boolean).join(" ");
    showStatus(who ? `Answered by ${who}.` : "");
  }

  function showRefusal(body, item) {
    only("refusal");
    const title = document.createElement("strong");
    title.textContent = "That does not look like a handwritten digit.";
    const advice = document.createElement("p");
    advice.textContent = "The digit model only answers for a single digit. Try one digit, written large in dark ink " +
      "on light paper, with nothing else in the picture.";
    const said = document.createElement("p");
    said.className = "muted";
    said.textContent = `The service said: ${body.error || "not a digit"}.`;
    $("refusal").replaceChildren(title, advice, said);
    showStatus("");
    showPictures(body, item);
  }

  clearPad();
  loadModels();
})();
