"use strict";
// The verdict as a download (app.js's buttons): the JSON with the file's hash and the model's facts, and a
// one-page HTML report. Reads app.js's `current` (the last result) and `modelCard`.

async function sha256Of(file) {
  if (!window.crypto || !crypto.subtle) return null; // only in a secure context (https, or localhost)
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function reportData() {
  // the verdict as the API returned it, with what a reviewer needs to weigh it: the file it is about and the
  // model that gave it (its version, threshold and calibration, and where it came from)
  const { file, result } = current;
  const spec = modelCard ? modelCard.spec : {};
  return {
    generated_at: new Date().toISOString(),
    file: { name: file.name, bytes: file.size, sha256: await current.sha256 },
    model: {
      name: modelCard ? modelCard.name : null,
      version: result.model_version,
      backbone: spec.backbone ?? null,
      backend: modelCard ? modelCard.backend : null,
      threshold: result.threshold,
      calibration: { temperature: spec.temperature ?? null, bias: spec.bias ?? null,
                     formula: "fake probability = sigmoid(logit / temperature + bias)" },
      validation: spec.validation ?? {},
      embedding_max_distance: spec.embedding_range ? Number(spec.embedding_range.max_distance.toFixed(3)) : null,
      provenance: spec.provenance ?? {},
    },
    result,
  };
}

function snapshot() {
  // the media as shown, with its boxes (and heatmaps when ticked), as a JPEG data URL; null when not displayable
  const overlay = $("overlay");
  if (!overlay.width || !overlay.height) return null;
  const canvas = document.createElement("canvas");
  canvas.width = overlay.width;
  canvas.height = overlay.height;
  const ctx = canvas.getContext("2d");
  try {
    ctx.drawImage(current.media, 0, 0, canvas.width, canvas.height);
  } catch {
    return null;
  }
  ctx.drawImage(overlay, 0, 0);
  return canvas.toDataURL("image/jpeg", 0.85);
}

const escapeHtml = (value) => String(value ?? "–").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function htmlRows(pairs) {
  return pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("");
}

function reportHtml(data, picture) {
  const r = data.result;
  const m = data.model;
  const verdict = r.verdict === "cannot_judge" ? "cannot judge" : r.verdict;
  const method = methodText(r);
  const people = r.tracks.map((t) => [`person ${t.track + 1}`, `${t.verdict === "cannot_judge" ? "cannot judge"
    : t.verdict} ${t.fake_probability == null ? "" : percent(t.fake_probability)} over ${t.faces} face(s)`
    + (t.reason ? `: ${t.reason.message}` : "")]);
  const faces = r.faces.map((f) => `<tr><td>${f.frame_idx}</td><td>${f.t.toFixed(2)}</td><td>${f.track + 1}</td>`
    + `<td>${escapeHtml(f.box.map((v) => Math.round(v)).join(", "))}</td><td>${percent(f.detection_prob)}</td>`
    + `<td>${percent(f.fake_probability)}</td><td>${f.embedding_distance ?? "–"}</td></tr>`).join("");
  const validation = Object.entries(m.validation).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(3) : v}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verdict on ${escapeHtml(data.file.name)}</title>
<style>
  @page { size: A4; margin: 14mm; }
  body { font: 12px/1.4 system-ui, sans-serif; color: #1f2328; max-width: 760px; margin: 1rem auto; }
  h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 13px; margin: 14px 0 4px; }
  .verdict { font-size: 22px; font-weight: 700; text-transform: uppercase; }
  .fake { color: #c62828; } .real { color: #2e7d32; } .cannot_judge { color: #757575; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 2px 8px 2px 0; vertical-align: top; }
  th { color: #656d76; font-weight: normal; width: 11rem; } .faces th { width: auto; }
  img { max-width: 100%; max-height: 300px; border-radius: 4px; }
</style></head><body>
<h1>Deepfake detector report</h1>
<p class="verdict ${escapeHtml(r.verdict)}">${escapeHtml(verdict)}</p>
<table>${htmlRows([
    ["fake probability", percent(r.fake_probability)],
    ["decision threshold", r.threshold == null ? "–" : r.threshold.toFixed(3)],
    ...(r.reason ? [["why no verdict", `${r.reason.message} (${r.reason.code})`]] : []),
    ...(method ? [["most likely method", method]] : []),
    ...people,
    ["content credentials", r.credentials ? r.credentials.message : "–"],
  ])}</table>
${picture ? `<h2>What was scored</h2><img src="${picture}" alt="the file with its face boxes">` : ""}
<h2>File</h2>
<table>${htmlRows([
    ["name", data.file.name], ["size", `${data.file.bytes} bytes`], ["SHA-256", data.file.sha256],
    ["kind", `${r.media}, ${r.frames} frame(s) looked at, treated as ${r.treated_as} (${r.treated_as_because})`],
  ])}</table>
<h2>Model</h2>
<table>${htmlRows([
    ["name and version", `${m.name ?? "–"} ${m.version}`], ["backbone, runtime", `${m.backbone ?? "–"}, ${m.backend ?? "–"}`],
    ["calibration", `${m.calibration.formula}, temperature ${m.calibration.temperature ?? "–"}, bias ${m.calibration.bias ?? "–"}`],
    ["on validation data", validation.join(", ") || "–"],
    ["provenance", Object.entries(m.provenance).map(([k, v]) => `${k} ${v}`).join(", ") || "–"],
  ])}</table>
<h2>Faces scored</h2>
<table class="faces"><tr><th>frame</th><th>time (s)</th><th>person</th><th>box (x1, y1, x2, y2 px)</th><th>detection</th><th>fake</th><th>embedding distance</th></tr>${faces}</table>
<p style="color:#656d76">Generated ${escapeHtml(data.generated_at)}. A file is called fake when its fake probability is at
or above the threshold, which was set once on validation data. The embedding distance is how unlike the
validation faces a face is (about 1 is typical; beyond ${m.embedding_max_distance ?? "the model's range"} it cannot be judged). Content credentials are what their signer claims;
they are reported beside the verdict and never change the score.</p>
</body></html>`;
}

function download(name, type, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function downloadReport(asHtml) {
  if (!current) return;
  const data = await reportData();
  const base = current.file.name.replace(/\.[^.]+$/, "");
  if (asHtml) download(`${base}.report.html`, "text/html", reportHtml(data, snapshot()));
  else download(`${base}.verdict.json`, "application/json", JSON.stringify(data, null, 2));
}
