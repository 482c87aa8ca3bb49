// Upload page: send the file, show the verdict, draw face boxes (and, on request, heatmaps) over the media and a
// timeline for videos.
// Plain JS, no dependencies, so the page works offline and inside the container.
"use strict";

const $ = (id) => document.getElementById(id);
const VIDEO_EXT = /\.(mp4|mov|m4v|avi|mkv|webm)$/i;
let current = null; // last result, redrawn on resize and as the video plays
const TRACK_COLOURS = ["#0969da", "#8250df", "#bf8700", "#1b7c83"]; // timeline line of person 1, 2, ...

function kindOf(file) {
  if (file.type.startsWith("video/")) return "video";
  if (file.type.startsWith("image/")) return "image";
  return VIDEO_EXT.test(file.name) ? "video" : "image"; // the server checks the bytes either way
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function upload(file) {
  const kind = kindOf(file);
  current = null;
  $("result").hidden = true;
  setStatus(`Analysing ${file.name}…`);
  const form = new FormData();
  form.append(kind, file);
  let body;
  try {
    const query = $("explain").checked ? "?explain=true" : "";
    const response = await fetch(`predict_${kind}${query}`, { method: "POST", body: form });
    body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  } catch (err) {
    setStatus(`Could not analyse ${file.name}: ${err.message}`, true);
    return;
  }
  setStatus("");
  show(file, kind, body);
}

function show(file, kind, result) {
  const url = URL.createObjectURL(file);
  const img = $("image");
  const video = $("video");
  img.hidden = kind !== "image";
  video.hidden = kind !== "video";
  const media = kind === "image" ? img : video;
  const other = kind === "image" ? video : img;
  other.onload = other.onloadedmetadata = other.onerror = null;  // each upload replaces what the last one showed
  if (other.src) URL.revokeObjectURL(other.src);
  if (kind === "image") video.pause();
  other.removeAttribute("src");
  if (kind === "image") video.load();  // an emptied <video> drops the previous clip's frame
  if (media.src) URL.revokeObjectURL(media.src);
  current = { kind, result, media };
  for (const face of result.faces.filter((f) => f.heatmap)) { // decoded once, drawn on every redraw
    face.heatImage = new Image();
    face.heatImage.onload = drawBoxes;
    face.heatImage.src = `data:image/png;base64,${face.heatmap}`;
  }
  media.onload = media.onloadedmetadata = () => { drawBoxes(); drawTimeline(); };
  media.onerror = () => { // e.g. a codec this browser cannot play: the scores are still worth showing
    drawTimeline();
    setStatus("This browser cannot display the file, but it was analysed.");
  };
  media.src = url;
  $("result").hidden = false;
  showVerdict(result);
  $("timeline-box").hidden = kind !== "video";
}

function showVerdict(r) {
  const verdict = $("verdict");
  verdict.className = `verdict ${r.verdict}`;
  verdict.textContent = r.verdict === "cannot_judge" ? "Cannot judge" : r.verdict;
  const p = r.fake_probability;
  $("probability").textContent = p == null ? "–" : `${(100 * p).toFixed(1)} %`;
  $("bar-fill").style.width = p == null ? "0" : `${100 * p}%`;
  $("bar-threshold").style.left = `${100 * (r.threshold ?? 0.5)}%`;
  const rows = [
    ["threshold", r.threshold == null ? "–" : r.threshold.toFixed(3)],
    ["faces scored", `${r.faces.length} in ${r.frames} frame(s)`],
    ["model", r.model_version],
    ["time", Object.entries(r.timings_ms).map(([k, v]) => `${k} ${v} ms`).join(", ")],
  ];
  if (r.tracks.length > 1) {
    rows.unshift(["people", r.tracks.map((t) => `person ${t.track + 1}: ${t.fake_probability == null
      ? "cannot judge" : `${(100 * t.fake_probability).toFixed(1)} %`}`).join(", ")
      + (r.decided_by_track == null ? "" : ` (verdict from person ${r.decided_by_track + 1})`)]);
  }
  if (r.reason) rows.unshift(["why", r.reason.message]);
  if (r.error) rows.push(["note", r.error]);
  $("details").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}

function facesToDraw() {
  const { kind, result, media } = current;
  if (kind === "image" || !result.faces.length) return result.faces;
  // a video shows the faces (one per person) of the sampled frame closest to the playback time
  const t = media.currentTime;
  const nearest = result.faces.reduce((a, b) => (Math.abs(b.t - t) < Math.abs(a.t - t) ? b : a));
  return result.faces.filter((f) => f.frame_idx === nearest.frame_idx);
}

function drawBoxes() {
  if (!current) return;
  const { media, result } = current;
  const canvas = $("overlay");
  const w = media.clientWidth;
  const h = media.clientHeight;
  const naturalW = media.naturalWidth || media.videoWidth;
  const naturalH = media.naturalHeight || media.videoHeight;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  if (!naturalW || !naturalH) return;
  const sx = w / naturalW;
  const sy = h / naturalH;
  const faces = facesToDraw();
  const heat = faces.filter((f) => $("explain").checked && f.heatImage && f.heatImage.complete);
  for (const face of heat) { // under the boxes; the PNG covers the square the model saw
    const [cx1, cy1, cx2, cy2] = face.crop_box;
    ctx.drawImage(face.heatImage, cx1 * sx, cy1 * sy, (cx2 - cx1) * sx, (cy2 - cy1) * sy);
  }
  canvas.dataset.heatmaps = String(heat.length);
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    const fake = face.fake_probability >= (result.threshold ?? 0.5);
    ctx.strokeStyle = fake ? "#e53935" : "#43a047";
    ctx.lineWidth = 3;
    ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
    const person = result.tracks.length > 1 ? `person ${face.track + 1}: ` : "";
    const label = `${person}${(100 * face.fake_probability).toFixed(0)}% fake`;
    ctx.font = "bold 14px system-ui, sans-serif";
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillRect(x1 * sx, Math.max(0, y1 * sy - 20), ctx.measureText(label).width + 8, 20);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x1 * sx + 4, Math.max(14, y1 * sy - 5));
  }
  canvas.dataset.boxes = String(faces.length); // lets tests (and curious users) see what was drawn
}

function drawTimeline() {
  if (!current || current.kind !== "video") return;
  const { result, media } = current;
  const canvas = $("timeline");
  const w = (canvas.width = canvas.clientWidth);
  const h = canvas.height;
  const ctx = canvas.getContext("2d");
  const pad = 24;
  const duration = media.duration || Math.max(1, ...result.timeline.map((p) => p.t));
  const x = (t) => pad + ((w - 2 * pad) * t) / duration;
  const y = (p) => h - pad - (h - 2 * pad) * p;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#d0d7de";
  ctx.strokeRect(pad, pad, w - 2 * pad, h - 2 * pad);
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = "#1f2328";
  ctx.beginPath();
  ctx.moveTo(pad, y(result.threshold ?? 0.5));
  ctx.lineTo(w - pad, y(result.threshold ?? 0.5));
  ctx.stroke();
  ctx.setLineDash([]);
  for (const track of new Set(result.timeline.map((p) => p.track))) { // one line per person
    const points = result.timeline.filter((p) => p.track === track);
    ctx.strokeStyle = TRACK_COLOURS[track % TRACK_COLOURS.length];
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.fake_probability)) : ctx.moveTo(x(p.t), y(p.fake_probability))));
    ctx.stroke();
  }
  for (const p of result.timeline) {
    ctx.fillStyle = p.fake_probability >= (result.threshold ?? 0.5) ? "#e53935" : "#43a047";
    ctx.beginPath();
    ctx.arc(x(p.t), y(p.fake_probability), 4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = "#656d76";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("1.0", 2, pad + 4);
  ctx.fillText("0.0", 2, h - pad + 4);
  ctx.fillText(`${duration.toFixed(1)} s`, w - pad - 20, h - 6);
  ctx.fillStyle = "#0969da";
  ctx.fillRect(x(media.currentTime || 0) - 1, pad, 2, h - 2 * pad);
  canvas.dataset.points = String(result.timeline.length);
  canvas.onclick = (e) => {
    const t = ((e.offsetX - pad) / (w - 2 * pad)) * duration;
    media.currentTime = Math.min(Math.max(0, t), duration);
  };
}

function init() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => {
    if (e.target.files[0]) upload(e.target.files[0]);
    e.target.value = ""; // so choosing the same file again (say, with heatmaps ticked) uploads it again
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
  $("explain").addEventListener("change", drawBoxes); // shows or hides the heatmaps of the last result
  $("video").addEventListener("timeupdate", () => { drawBoxes(); drawTimeline(); });
  $("video").addEventListener("seeked", () => { drawBoxes(); drawTimeline(); });
  window.addEventListener("resize", () => { drawBoxes(); drawTimeline(); });
  fetch("model").then((r) => r.json()).then((m) => {
    $("model-info").textContent = `Model ${m.name} version ${m.version} (${m.spec.backbone}, ${m.backend}). `
      + `Limits: ${m.serve_config.max_upload_mb} MB, ${m.serve_config.max_video_seconds} s of video.`;
  }).catch(() => {});
}

init();
