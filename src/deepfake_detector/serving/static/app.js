// Upload page: send the file, show the verdict, draw face boxes (and, on request, heatmaps) over the media, a
// timeline for videos (uPlot, vendored by scripts/vendor_js.sh), the faces of the frame shown and the evidence
// frames (evidence.js); download the verdict as JSON or as a one-page report (report.js). With "Check on this
// device" ticked, local.js computes the verdict in the page instead. No CDN: the page works offline and inside
// the container.
"use strict";

const $ = (id) => document.getElementById(id);
const VIDEO_EXT = /\.(mp4|mov|m4v|avi|mkv|webm)$/i;
const TRACK_COLOURS = ["#0969da", "#8250df", "#bf8700", "#1b7c83"]; // person 1, 2, ... (timeline lines)
const FACE_VIEW_PX = 128; // side of each face in the face view
let current = null; // the last upload: {kind, file, result, media, heat, sha256}; redrawn on resize and playback
let plot = null; // its timeline (uPlot), for videos
let modelCard = null; // GET /model: the model's name, spec (threshold, calibration) and provenance

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
  const local = $("local").checked; // local.js: the file stays on this device
  try {
    const query = new URLSearchParams();
    if ($("explain").checked) query.set("explain", "true");
    if (kind === "video") query.set("frames", "all"); // every dot of the timeline has its picture (evidence.js)
    if (local) body = await localCheck(file, kind);
    else {
      const response = await fetch(`predict_${kind}?${query}`, { method: "POST", body: form });
      body = await response.json();
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    }
  } catch (err) {
    setStatus(`Could not analyse ${file.name}: ${err.message}`, true);
    return;
  }
  setStatus(local ? "Checked on this device: the file was not uploaded." : "");
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
  current = { kind, file, result, media, heat: new Map(), sha256: sha256Of(file) };
  for (const face of result.faces.filter((f) => f.heatmap)) { // decoded once, drawn on every redraw
    const heat = new Image();
    heat.onload = drawBoxes;
    heat.src = `data:image/png;base64,${face.heatmap}`;
    current.heat.set(face, heat);
  }
  media.onload = media.onloadedmetadata = () => { drawBoxes(); drawTimeline(); };
  media.onerror = () => { // e.g. a codec this browser cannot play: the scores and evidence frames still show
    drawTimeline();
    const shown = !$("evidence").hidden;
    $("stage").hidden = $("face-view").hidden = shown; // no empty player or face view beside the frames scored
    setStatus(shown ? "This browser cannot play the file; the frames below are what was scored."
      : "This browser cannot display the file, but it was analysed.");
  };
  $("stage").hidden = $("face-view").hidden = false;
  media.src = url;
  $("result").hidden = false;
  showVerdict(result);
  showEvidence(kind === "video" ? result : {});
  $("timeline-box").hidden = kind !== "video";
  buildTimeline();
}

function percent(p) {
  return p == null ? "–" : `${(100 * p).toFixed(1)} %`;
}

function peopleSummary(r) {
  return r.tracks.map((t) => `person ${t.track + 1}: ${t.fake_probability == null ? "cannot judge"
    : percent(t.fake_probability)}`).join(", ")
    + (r.decided_by_track == null ? "" : ` (verdict from person ${r.decided_by_track + 1})`);
}

// the deciding person's most likely manipulation, shown for a fake verdict (the head says which method *if* fake)
function methodText(r) {
  return r.verdict === "fake" && r.manipulation
    ? `${r.manipulation.method} (${percent(r.manipulation.probability)}, if it is fake)` : null;
}

// how unlike the validation faces the main face is: the largest of its frames' embedding distances
function distanceText(r) {
  const distances = r.faces.filter((f) => f.track === 0 && f.embedding_distance != null).map((f) => f.embedding_distance);
  if (!distances.length) return null;
  const limit = modelCard && modelCard.spec.embedding_range ? modelCard.spec.embedding_range.max_distance : null;
  return `${Math.max(...distances).toFixed(2)} (about 1 is typical${limit == null ? "" : `; over ${limit.toFixed(2)}: cannot judge`})`;
}

function showVerdict(r) {
  const verdict = $("verdict");
  verdict.className = `verdict ${r.verdict}`;
  verdict.textContent = r.verdict === "cannot_judge" ? "Cannot judge" : r.verdict;
  const p = r.fake_probability;
  $("probability").textContent = percent(p);
  $("bar-fill").style.width = p == null ? "0" : `${100 * p}%`;
  $("bar-threshold").style.left = `${100 * (r.threshold ?? 0.5)}%`;
  const rows = [
    ["threshold", r.threshold == null ? "–" : r.threshold.toFixed(3)],
    ["faces scored", `${r.faces.length} in ${r.frames} frame(s)`],
    ["most likely method", methodText(r)],
    ["distance from the validation faces", distanceText(r)],
    ["content credentials", r.credentials ? r.credentials.message : "–"],
    ["model", r.model_version],
    ["checked on", r.checked_on ?? null], // local.js: "this device"
    ["time", Object.entries(r.timings_ms).map(([k, v]) => `${k} ${v} ms`).join(", ")],
  ];
  if (r.tracks.length > 1) rows.unshift(["people", peopleSummary(r)]);
  if (r.reason) rows.unshift(["why", r.reason.message]);
  if (r.error) rows.push(["note", r.error]);
  $("details").replaceChildren(...rows.filter(([, v]) => v != null).flatMap(([k, v]) => {
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

function isFake(p) {
  return p >= (current.result.threshold ?? 0.5);
}

function heatToDraw(face) {
  const heat = current.heat.get(face);
  return $("explain").checked && heat && heat.complete ? heat : null;
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
  let heatmaps = 0;
  for (const face of faces) { // under the boxes; the PNG covers the square the model saw
    const heat = heatToDraw(face);
    if (!heat) continue;
    const [cx1, cy1, cx2, cy2] = face.crop_box;
    ctx.drawImage(heat, cx1 * sx, cy1 * sy, (cx2 - cx1) * sx, (cy2 - cy1) * sy);
    heatmaps += 1;
  }
  canvas.dataset.heatmaps = String(heatmaps);
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    ctx.strokeStyle = isFake(face.fake_probability) ? "#e53935" : "#43a047";
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
  if (current.kind === "video") drawFaceView(faces);
}

function drawFaceView(faces) {
  // the faces of the frame shown, each as the square the model saw (with its heatmap when ticked)
  const canvas = $("face-crops");
  canvas.width = Math.max(1, faces.length) * (FACE_VIEW_PX + 8);
  const ctx = canvas.getContext("2d");
  faces.forEach((face, i) => {
    const [cx1, cy1, cx2, cy2] = face.crop_box;
    const x = i * (FACE_VIEW_PX + 8);
    ctx.drawImage(current.media, cx1, cy1, cx2 - cx1, cy2 - cy1, x, 0, FACE_VIEW_PX, FACE_VIEW_PX);
    const heat = heatToDraw(face);
    if (heat) ctx.drawImage(heat, x, 0, FACE_VIEW_PX, FACE_VIEW_PX);
    ctx.strokeStyle = isFake(face.fake_probability) ? "#e53935" : "#43a047";
    ctx.lineWidth = 4;
    ctx.strokeRect(x + 2, 2, FACE_VIEW_PX - 4, FACE_VIEW_PX - 4);
  });
  const frame = faces.length ? faces[0] : null;
  $("face-view").dataset.frame = frame ? String(frame.frame_idx) : "";
  $("face-caption").textContent = frame ? `Frame ${frame.frame_idx} at ${frame.t.toFixed(2)} s: `
    + faces.map((f) => `person ${f.track + 1} ${percent(f.fake_probability)} fake`).join(", ") : "";
}

function timelineData(result) {
  // uPlot's columns: the sampled times, then each person's fake probability at those times (null where the
  // person is not in that frame), then the threshold
  const times = [...new Set(result.timeline.map((p) => p.t))].sort((a, b) => a - b);
  const tracks = [...new Set(result.timeline.map((p) => p.track))].sort((a, b) => a - b);
  const at = new Map(result.timeline.map((p) => [`${p.track}@${p.t}`, p.fake_probability]));
  const columns = tracks.map((n) => times.map((t) => at.get(`${n}@${t}`) ?? null));
  return { tracks, data: [times, ...columns, times.map(() => result.threshold ?? 0.5)] };
}

function buildTimeline() {
  if (plot) plot.destroy();
  plot = null;
  if (!current || current.kind !== "video") return;
  const { result } = current;
  const box = $("timeline");
  const { tracks, data } = timelineData(result);
  const series = [
    { label: "time", value: (u, t) => (t == null ? "–" : `${t.toFixed(2)} s`) },
    ...tracks.map((n) => ({
      label: tracks.length > 1 ? `person ${n + 1}` : "face",
      stroke: TRACK_COLOURS[n % TRACK_COLOURS.length],
      width: 2,
      spanGaps: true,
      points: { show: true, size: 9, fill: TRACK_COLOURS[n % TRACK_COLOURS.length] },
      value: (u, p) => percent(p),
    })),
    { label: "threshold", stroke: "#1f2328", width: 1, dash: [5, 4], points: { show: false },
      value: (u, p) => percent(p) },
  ];
  plot = new uPlot({
    width: Math.max(200, box.clientWidth),
    height: 170,
    scales: { x: { time: false, range: () => [0, timelineEnd()] }, y: { range: [0, 1] } },
    axes: [{ label: "seconds" }, { values: (u, ticks) => ticks.map((p) => `${Math.round(100 * p)}%`) }],
    series,
    hooks: { draw: [drawPlayhead] },
  }, data, box);
  plot.over.addEventListener("click", (e) => { // go to the sampled frame nearest the click, and its person's dot
    const t = plot.posToVal(e.offsetX, "x");
    const nearest = data[0].reduce((a, b) => (Math.abs(b - t) < Math.abs(a - t) ? b : a));
    const at = data[0].indexOf(nearest);
    const p = plot.posToVal(e.offsetY, "y");
    const there = tracks.filter((n, k) => data[k + 1][at] != null);
    const track = there.reduce((a, b) => (Math.abs(data[tracks.indexOf(b) + 1][at] - p)
      < Math.abs(data[tracks.indexOf(a) + 1][at] - p) ? b : a));
    showEvidenceAt(track, nearest);
    if (current.media.readyState > 0) current.media.currentTime = nearest;
  });
  box.dataset.points = String(result.timeline.length);
}

function timelineEnd() {
  // the video's length once its metadata loads (NaN before; Infinity for some WebM files), else the last sample
  const known = current.media.duration;
  return Math.max(Number.isFinite(known) ? known : 0, ...current.result.timeline.map((p) => p.t), 0.1);
}

function drawPlayhead(u) {
  if (!current || !Number.isFinite(current.media.currentTime)) return;
  const x = u.valToPos(current.media.currentTime, "x", true);
  u.ctx.fillStyle = "#0969da";
  u.ctx.fillRect(x - 1, u.bbox.top, 2, u.bbox.height);
}

function drawTimeline() {
  if (!plot) return;
  plot.setScale("x", { min: 0, max: timelineEnd() }); // the video's length is known once its metadata loads
  plot.setSize({ width: Math.max(200, $("timeline").clientWidth), height: 170 }); // redraws, with the playhead
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
  $("local").addEventListener("change", sayWhereFilesGo);
  $("download-json").addEventListener("click", () => downloadReport(false));
  $("download-report").addEventListener("click", () => downloadReport(true));
  $("evidence-prev").addEventListener("click", () => stepEvidence(-1));
  $("evidence-next").addEventListener("click", () => stepEvidence(1));
  $("video").addEventListener("timeupdate", () => { drawBoxes(); drawTimeline(); });
  $("video").addEventListener("seeked", () => { drawBoxes(); drawTimeline(); });
  window.addEventListener("resize", () => { drawBoxes(); drawTimeline(); });
  fetch("model").then((r) => r.json()).then((m) => {
    modelCard = m;
    $("model-info").textContent = `Model ${m.name} version ${m.version} (${m.spec.backbone}, ${m.backend}). `
      + `Limits: ${m.serve_config.max_upload_mb} MB, ${m.serve_config.max_video_seconds} s of video.`;
  }).catch(() => { // no service (a static copy of the page, `deepfake web-site`): only the on-device check works
    $("local").checked = $("local").disabled = true;
    $("model-info").textContent = "No server here: files are checked on this device only.";
    sayWhereFilesGo();
  });
}

function sayWhereFilesGo() { // the header's promise follows the mode: a file checked on this device is never sent
  $("privacy").textContent = $("local").checked
    ? "Choose a photo or a short video of a face. It is checked in this page and never leaves this device."
    : "Upload a photo or a short video of a face. The file is scored and then deleted from the server.";
}

init();
