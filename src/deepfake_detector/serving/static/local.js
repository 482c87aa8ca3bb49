"use strict";
// "Check on this device": the Predictor's path (inference.py) in the page, with ONNX Runtime Web (WebAssembly)
// and the model's files from web_model/ (serving/web.py). Nothing is uploaded: the only requests are for these
// static files. The result has the API's structure, with checked_on: "this device".

const WEB_MODEL = "web_model/";
let localModel = null; // a promise of {spec, web, nets, classifier}, loaded on the first check

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}: this model has no web model files; serve the package stage's `
                    + "model folder (artifacts/model), which holds them");
  }
  return response.json();
}

async function loadLocalModel() {
  ort.env.wasm.numThreads = 1; // several threads need cross-origin isolation, which a plain file server lacks
  ort.env.wasm.wasmPaths = new URL("static/vendor/", document.baseURI).href;
  const base = new URL(WEB_MODEL, document.baseURI).href;
  const [spec, web] = await Promise.all([fetchJson(`${base}model.json`), fetchJson(`${base}web.json`)]);
  const session = (file) => ort.InferenceSession.create(`${base}${file}`, { executionProviders: ["wasm"] });
  const nets = {};
  for (const [name, net] of Object.entries(web.detector.nets)) nets[name] = await session(net.file);
  return { spec, web, nets, classifier: await session("model.onnx") };
}

// ---------------------------------------------------------------------------------------------- faces

const round = (v, decimals) => Math.round(v * 10 ** decimals) / 10 ** decimals;

// media/faces.Face: rounded where it leaves MTCNN
function makeFace(box, landmarks, prob) {
  box = box.map((v) => round(v, 2));
  return { box, landmarks: landmarks.map((p) => p.map((v) => round(v, 2))), prob: round(prob, 4),
           size_px: round(Math.max(box[2] - box[0], box[3] - box[1]), 2),
           area: Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]) };
}

// FaceDetector.detect: every face (prob >= min_prob) of one frame, largest first
async function detectFaces(m, img) {
  const cfg = m.spec.faces, scale = Math.min(1, cfg.detect_max_side / Math.max(img.w, img.h));
  const small = scale < 1 ? resizeArea(img, Math.max(1, pyRound(img.w * scale)), Math.max(1, pyRound(img.h * scale))) : img;
  const found = await mtcnnDetect(m, small, cfg.min_face_detect_px, cfg.min_face_frac * Math.min(small.w, small.h));
  return found.filter((f) => f.prob >= cfg.min_prob)
    .map((f) => makeFace(f.box.map((v) => v / scale), f.landmarks.map((p) => p.map((v) => v / scale)), f.prob))
    .sort((a, b) => b.area - a.area);
}

function iou(a, b) {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy;
  return union > 0 ? ix * iy / union : 0;
}

const MIN_TRACK_IOU = 0.1; // media/faces.MIN_TRACK_IOU

function trackMainFace(perFrame) {
  let previous = null;
  return perFrame.map((faces) => {
    let choice = faces[0] || null;
    if (faces.length && previous) {
      const best = faces.reduce((a, b) => (iou(b.box, previous.box) > iou(a.box, previous.box) ? b : a));
      if (iou(best.box, previous.box) >= MIN_TRACK_IOU) choice = best;
    }
    previous = choice || previous;
    return choice;
  });
}

// media/faces.track_faces: the main face's track, then one per other person
function trackFaces(perFrame) {
  const main = trackMainFace(perFrame), others = [];
  perFrame.forEach((faces, i) => {
    for (const track of others) track.push(null);
    for (const face of faces.filter((f) => f !== main[i])) {
      let best = -1, overlap = 0;
      others.forEach((track, n) => {
        if (track[i] !== null) return;
        const o = iou(track.filter(Boolean).at(-1).box, face.box);
        if (o > overlap) { overlap = o; best = n; }
      });
      if (best >= 0 && overlap >= MIN_TRACK_IOU) others[best][i] = face;
      else others.push([...Array(i).fill(null), face]);
    }
  });
  return [main, ...others];
}

// FaceDetector.main_faces(already_cropped=True): a face crop, detected with context around it, or taken whole
async function croppedMainFaces(m, imgs) {
  const cfg = m.spec.faces;
  if (cfg.already_cropped === "skip") {
    return imgs.map((img) => {
      const hw = img.w / (2 * cfg.margin), hh = img.h / (2 * cfg.margin);
      return makeFace([img.w / 2 - hw, img.h / 2 - hh, img.w / 2 + hw, img.h / 2 + hh], [], 1);
    });
  }
  const perFrame = [];
  for (const img of imgs) {
    const pad = pyRound(cfg.pad_fraction * Math.max(img.w, img.h));
    const faces = await detectFaces(m, padImage(img, pad, true));
    perFrame.push(faces.map((f) => makeFace(f.box.map((v) => v - pad), f.landmarks.map((p) => p.map((v) => v - pad)), f.prob)));
  }
  return [trackMainFace(perFrame)];
}

// Predictor.find_faces with cropped=auto: tracks, faces in an image, and whether the file is a face crop
async function findFaces(m, imgs, media) {
  const every = [];
  for (const img of imgs) every.push(await detectFaces(m, img));
  const count = media === "image" ? every[0].length : null;
  const found = trackFaces(every)[0].map((face, i) => [face, imgs[i]]).filter(([face]) => face);
  if (found.length && found.every(([f, img]) => m.spec.faces.margin * f.size_px >= Math.min(img.w, img.h))) {
    return { tracks: await croppedMainFaces(m, imgs), count,
             treated: ["face_crop", "the face fills the image: its crop square covers the whole frame"] };
  }
  return { tracks: trackFaces(every), count,
           treated: ["scene", found.length ? "the face is a part of the image" : "no face was found"] };
}

// media/faces.crop_square and cut_square
function cropSquare(img, face, margin, fitInside) {
  const [x1, y1, x2, y2] = face.box, cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
  let half = margin * face.size_px / 2, side = Math.max(1, pyRound(2 * half));
  if (fitInside && side > Math.min(img.w, img.h)) { side = Math.min(img.w, img.h); half = side / 2; }
  let left = pyRound(cx - half), top = pyRound(cy - half);
  if (fitInside) {
    left = Math.min(Math.max(left, 0), img.w - side);
    top = Math.min(Math.max(top, 0), img.h - side);
  }
  return { x: left, y: top, side };
}

function cutSquare(img, sq, size) {
  const pad = Math.max(0, -sq.x, -sq.y, sq.x + sq.side - img.w, sq.y + sq.side - img.h);
  const square = crop(pad ? padImage(img, pad, false) : img, sq.x + pad, sq.y + pad, sq.side);
  return (sq.side > size ? resizeArea : resizeLinear)(square, size, size);
}

// ---------------------------------------------------------------------------------------------- scores

// models/preprocess.to_model_input: resize to the model's input, normalise with model.json's mean and std
function modelInput(spec, crops) {
  const s = spec.input_size, plane = s * s, data = new Float32Array(crops.length * 3 * plane);
  crops.forEach((c, n) => {
    const img = resizeLinear(c, s, s);
    for (let i = 0; i < plane; i++) {
      for (let ch = 0; ch < 3; ch++) {
        data[(n * 3 + ch) * plane + i] = (img.data[i * 3 + ch] / 255 - spec.mean[ch]) / spec.std[ch];
      }
    }
  });
  return new ort.Tensor("float32", data, [crops.length, 3, s, s]);
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const median = (v) => { const s = [...v].sort((a, b) => a - b), k = s.length >> 1; return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2; };
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;

// Predictor.assess_crops: per crop, its calibrated probability, embedding distance and method probabilities
async function assessCrops(m, crops) {
  const spec = m.spec, session = m.classifier;
  const out = await session.run({ [session.inputNames[0]]: modelInput(spec, crops) });
  const logits = out[session.outputNames[0]].data, emb = out[session.outputNames[1]];
  return crops.map((_, n) => {
    const e = emb ? Array.from(emb.data.subarray(n * emb.dims[1], (n + 1) * emb.dims[1])) : null;
    const r = spec.embedding_range, head = spec.method_head;
    const distance = r && e ? Math.sqrt(mean(e.map((v, d) => ((v - r.mean[d]) / r.scale[d]) ** 2))) : null;
    let methods = null;
    if (head && e) {
      const z = head.coef.map((row, k) => row.reduce((a, c, d) => a + c * e[d], head.intercept[k]));
      const top = Math.max(...z), w = z.map((v) => Math.exp(v - top)), total = w.reduce((a, b) => a + b, 0);
      methods = w.map((v) => v / total);
    }
    return { p: sigmoid(logits[n] / spec.temperature + spec.bias), distance, methods };
  });
}

// judge.cannot_judge and judge.outside_range
function cannotJudge(rules, media, frames, sizes, facesInImage) {
  if (!sizes.length) return { code: "no_face", message: `no face found in ${frames} frame(s); use a file where a face is clearly visible` };
  if (!rules) return null;
  if (media === "image" && facesInImage != null && facesInImage > rules.max_faces) {
    return { code: "many_faces", message: `${facesInImage} faces in one image: this looks like a collage or a screenshot; upload a picture of the person in question instead` };
  }
  if (media === "video" && sizes.length < rules.min_face_frames * frames) {
    return { code: "too_few_face_frames", message: `a face is in only ${sizes.length} of ${frames} sampled frames (fewer than ${Math.round(100 * rules.min_face_frames)}%); use a clip where the face stays in view` };
  }
  const largest = Math.max(...sizes);
  if (largest < rules.min_face_long_side_px) {
    return { code: "face_too_small", message: `the face is ${largest.toFixed(0)} px, under the ${rules.min_face_long_side_px} px the model needs; use a larger or sharper copy` };
  }
  return null;
}

function outsideRange(spec, distances) {
  const limit = spec.embedding_range ? spec.embedding_range.max_distance : null, d = distances.filter((v) => v != null);
  if (!spec.judge || !spec.judge.out_of_distribution || limit == null || !d.length || median(d) <= limit) return null;
  return { code: "out_of_distribution", message: `the face is unlike the faces the model was calibrated on (embedding distance ${median(d).toFixed(2)}, beyond the ${limit.toFixed(2)} that nearly all of those stay within), so a verdict would be a guess; have a person review it` };
}

// scoring.aggregate
function aggregate(probs, how, confident) {
  if (how === "median") return median(probs);
  if (how === "max") return Math.max(...probs);
  const sure = probs.filter((p) => Math.abs(p - 0.5) * 2 >= confident.level);
  return how === "confident" && sure.length >= confident.min_share * probs.length ? mean(sure) : mean(probs);
}

function manipulation(spec, methodRows) {
  if (!spec.method_head || !methodRows.length || !methodRows[0]) return null;
  const probabilities = {};
  spec.method_head.methods.forEach((name, k) => { probabilities[name] = round(mean(methodRows.map((r) => r[k])), 4); });
  const method = spec.method_head.methods.reduce((a, b) => (probabilities[b] > probabilities[a] ? b : a));
  return { method, probability: probabilities[method], probabilities };
}

// ---------------------------------------------------------------------------------------------- verdicts

function trackVerdict(m, media, frames, n, mine, mainReason) {
  const spec = m.spec, sizes = mine.map((k) => k.face.size_px);
  const reason = n ? cannotJudge(spec.judge, media, frames, sizes) || outsideRange(spec, mine.map((k) => k.distance))
    : mainReason;
  if (reason) return { track: n, faces: mine.length, verdict: "cannot_judge", fake_probability: null, reason, manipulation: null };
  const probs = mine.map((k) => k.p);
  const p = media === "video" ? aggregate(probs, spec.video_aggregation, m.web.confident) : probs[0];
  return { track: n, faces: mine.length, verdict: p >= spec.threshold ? "fake" : "real", fake_probability: p,
           reason: null, manipulation: manipulation(spec, mine.map((k) => k.methods)) };
}

// Predictor.predict_frames: frames [{index, t, img}] -> the API's verdict
async function predictFrames(m, frames, media, name) {
  const spec = m.spec, started = performance.now();
  const { tracks, count, treated } = await findFaces(m, frames.map((f) => f.img), media);
  const detected = performance.now();
  const kept = [];
  tracks.forEach((track, n) => track.forEach((face, i) => { if (face) kept.push({ frame: frames[i], face, n }); }));
  const result = { path: name, media, fake_probability: null, verdict: null, reason: null,
                   treated_as: treated[0], treated_as_because: treated[1], threshold: spec.threshold, faces: [],
                   tracks: [], decided_by_track: null, manipulation: null, credentials: null, frames: frames.length,
                   error: null, model_version: spec.version, timings_ms: {}, checked_on: "this device",
                   evidence_frames: [] }; // the page shows the file itself: it decoded it to check it
  const mainSizes = tracks[0].filter(Boolean).map((f) => f.size_px);
  let reason = cannotJudge(spec.judge, media, frames.length, mainSizes, count);
  if (media === "video") result.timeline = []; // the API's key for videos, filled below
  if (reason && !kept.length) return { ...result, verdict: "cannot_judge", reason };
  const fitInside = treated[0] === "face_crop";
  for (const k of kept) k.square = cropSquare(k.frame.img, k.face, spec.faces.margin, fitInside);
  const assessed = await assessCrops(m, kept.map((k) => cutSquare(k.frame.img, k.square, spec.faces.crop_size)));
  kept.forEach((k, i) => Object.assign(k, assessed[i]));
  const scored = performance.now();
  result.faces = kept.map((k) => ({
    frame_idx: k.frame.index, t: round(k.frame.t, 3), box: k.face.box.map((v) => round(v, 1)),
    detection_prob: k.face.prob, fake_probability: k.p,
    crop_box: [k.square.x, k.square.y, k.square.x + k.square.side, k.square.y + k.square.side], heatmap: null,
    track: k.n, embedding_distance: k.distance == null ? null : round(k.distance, 3),
    method_probabilities: manipulation(spec, k.methods ? [k.methods] : [])?.probabilities ?? null,
  }));
  reason = reason || outsideRange(spec, kept.filter((k) => k.n === 0).map((k) => k.distance));
  result.tracks = tracks.map((_, n) => trackVerdict(m, media, frames.length, n, kept.filter((k) => k.n === n), reason));
  if (reason) Object.assign(result, { verdict: "cannot_judge", reason });
  else {
    const decider = result.tracks.filter((t) => t.fake_probability != null)
      .reduce((a, b) => (b.fake_probability > a.fake_probability ? b : a));
    Object.assign(result, { fake_probability: decider.fake_probability, decided_by_track: decider.track,
                            manipulation: decider.manipulation, verdict: decider.verdict });
  }
  if (media === "video") result.timeline = result.faces.map((f) => ({ frame_idx: f.frame_idx, t: f.t, track: f.track, fake_probability: f.fake_probability }));
  result.timings_ms.detect = round(detected - started, 1);
  result.timings_ms.classify = round(scored - detected, 1);
  return result;
}

// ---------------------------------------------------------------------------------------------- decoding

function pixelsOf(source, w, h) {
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, w, h);
  return rgbFromRgba(ctx.getImageData(0, 0, w, h).data, w, h);
}

async function imageFrames(file) {
  let bitmap;
  try { // the file's own colours, as OpenCV decodes them (no colour management)
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw new Error("this browser cannot decode the image; try the server check, or save it as JPEG or PNG");
  }
  return [{ index: 0, t: 0, img: pixelsOf(bitmap, bitmap.width, bitmap.height) }];
}

const once = (el, ok) => new Promise((resolve, reject) => {
  el.addEventListener(ok, resolve, { once: true });
  el.addEventListener("error", () => reject(new Error("this browser cannot decode the video; try the server check, or re-encode it as WebM or H.264 MP4")), { once: true });
});

// After `seeked`, Chromium may still hand drawImage the frame shown before the seek (seen in the tests: a
// sample got its predecessor's pixels). A frame callback asked for before seeking fires once the new frame is
// presented, also for a paused video outside the document; browsers without it, or one that never calls back
// within this wait, get the frame as it is after `seeked`.
const PRESENTED_WAIT_MS = 2000;

async function seekTo(video, t) {
  const presented = video.requestVideoFrameCallback
    ? new Promise((resolve) => { video.requestVideoFrameCallback(resolve); setTimeout(resolve, PRESENTED_WAIT_MS); })
    : null;
  video.currentTime = t;
  await once(video, "seeked");
  await presented;
}

// n frames at the centres of n equal parts of the clip. The browser does not know the frame rate, so these
// are times, where media/frames.sample_frames picks frame numbers: a sampled frame may be one frame off.
async function videoFrames(file, n) {
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  const url = URL.createObjectURL(file);
  try {
    video.src = url;
    await once(video, "loadeddata");
    const frames = [];
    for (let i = 0; i < n; i++) {
      const t = (i + 0.5) * video.duration / n;
      await seekTo(video, t);
      frames.push({ index: i, t: video.currentTime, img: pixelsOf(video, video.videoWidth, video.videoHeight) });
    }
    return frames;
  } finally {
    URL.revokeObjectURL(url);
  }
}

// the page's entry point: the verdict on `file` (kind: image or video) computed on this device
async function localCheck(file, kind) {
  localModel = localModel || loadLocalModel();
  let m;
  try {
    m = await localModel;
  } catch (err) {
    localModel = null;
    throw err;
  }
  if (kind === "video" && m.spec.video_aggregation === "temporal") {
    throw new Error("this model scores videos with its temporal head, which the page does not run; use the server check");
  }
  const started = performance.now();
  const frames = kind === "image" ? await imageFrames(file) : await videoFrames(file, m.web.frames_per_video);
  const decoded = performance.now();
  const result = await predictFrames(m, frames, kind, file.name);
  result.timings_ms.decode = round(decoded - started, 1);
  return result;
}
