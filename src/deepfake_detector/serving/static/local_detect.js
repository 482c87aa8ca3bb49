"use strict";
// The in-browser check's pixels and faces: image resizes as OpenCV does them, and MTCNN's cascade as
// media/mtcnn.py runs it (facenet-pytorch's pyramid, thresholds, suppressions and box regressions), on the
// networks the package stage exports (serving/web.py). An image is {w, h, data: Uint8Array of RGB}.

const f32 = Math.fround;

// Python's round(): halves go to the even neighbour
function pyRound(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function rgbFromRgba(rgba, w, h) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i]; data[j + 1] = rgba[i + 1]; data[j + 2] = rgba[i + 2];
  }
  return { w, h, data };
}

// The two resizes below are OpenCV's 8-bit code paths (imgproc/src/resize.cpp), arithmetic included, so the
// page's crops are the service's to the last bit: a one-level difference is enough for a model's frequency
// branch to move a probability by a few hundredths. cv2.resize's scale is 1 / (dst / src), in double.
const cvScale = (src, dst) => 1 / (dst / src);

// cv2.INTER_AREA, shrinking: whole multiples average their block (2 x 2 rounds half up, as OpenCV's SIMD
// path does); other scales weigh the cells each output pixel covers (computeResizeAreaTab), in float32
function areaTaps(src, dst) {
  const scale = cvScale(src, dst), taps = [];
  for (let d = 0; d < dst; d++) {
    const fs1 = d * scale, fs2 = fs1 + scale, cell = Math.min(scale, src - fs1), cellTaps = [];
    const s2 = Math.min(Math.floor(fs2), src - 1), s1 = Math.min(Math.ceil(fs1), s2);
    if (s1 - fs1 > 1e-3) cellTaps.push([s1 - 1, f32((s1 - fs1) / cell)]);
    for (let s = s1; s < s2; s++) cellTaps.push([s, f32(1 / cell)]);
    if (fs2 - s2 > 1e-3) cellTaps.push([s2, f32(Math.min(fs2 - s2, 1, cell) / cell)]);
    taps.push(cellTaps);
  }
  return taps;
}

function resizeArea(img, w, h) {
  if (img.w === w && img.h === h) return img;
  const kx = cvScale(img.w, w), ky = cvScale(img.h, h);
  if (Number.isInteger(kx) && Number.isInteger(ky)) return resizeAreaBlocks(img, kx, ky);
  const xs = areaTaps(img.w, w), ys = areaTaps(img.h, h), data = new Uint8Array(w * h * 3);
  const rowSums = (y) => {
    const out = new Float32Array(w * 3);
    xs.forEach((cellTaps, x) => {
      for (const [s, k] of cellTaps) {
        for (let c = 0; c < 3; c++) out[x * 3 + c] = f32(out[x * 3 + c] + f32(k * img.data[(y * img.w + s) * 3 + c]));
      }
    });
    return out;
  };
  ys.forEach((cellTaps, y) => {
    const sums = new Float32Array(w * 3);
    for (const [s, k] of cellTaps) {
      const row = rowSums(s);
      for (let i = 0; i < w * 3; i++) sums[i] = f32(sums[i] + f32(k * row[i]));
    }
    for (let i = 0; i < w * 3; i++) data[y * w * 3 + i] = Math.min(255, pyRound(sums[i]));
  });
  return { w, h, data };
}

function resizeAreaBlocks(img, kx, ky) {
  const w = img.w / kx, h = img.h / ky, data = new Uint8Array(w * h * 3), perPixel = f32(1 / (kx * ky));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < ky; dy++) {
          for (let dx = 0; dx < kx; dx++) sum += img.data[((y * ky + dy) * img.w + x * kx + dx) * 3 + c];
        }
        data[(y * w + x) * 3 + c] = kx === 2 && ky === 2 ? (sum + 2) >> 2 : pyRound(f32(sum * perPixel));
      }
    }
  }
  return { w, h, data };
}

// cv2.INTER_LINEAR: two taps per axis with 11-bit weights (INTER_RESIZE_COEF_BITS) computed in float32; rows
// are blended in 16-bit fixed point as OpenCV's VResizeLinear rounds them. A 2 x 2 shrink is INTER_AREA's.
const COEF_ONE = 2048;
function linearTaps(src, dst, clampEdges) {
  const scale = cvScale(src, dst), taps = [];
  for (let d = 0; d < dst; d++) {
    let f = f32((d + 0.5) * scale - 0.5), s = Math.floor(f);
    f = f32(f - s);
    if (clampEdges && s < 0) { s = 0; f = 0; }
    if (clampEdges && s >= src - 1) { s = src - 1; f = 0; }
    const weights = [pyRound(f32(f32(1 - f) * COEF_ONE)), pyRound(f32(f * COEF_ONE))];
    taps.push({ from: [Math.min(Math.max(s, 0), src - 1), Math.min(Math.max(s + 1, 0), src - 1)], weights });
  }
  return taps;
}

function resizeLinear(img, w, h) {
  if (img.w === w && img.h === h) return img;
  if (img.w === 2 * w && img.h === 2 * h) return resizeArea(img, w, h);
  // columns clamp to the edge pixel; rows keep their weights and read the edge row twice (as OpenCV does)
  const xs = linearTaps(img.w, w, true), ys = linearTaps(img.h, h, false), data = new Uint8Array(w * h * 3);
  const rowSums = (y) => {
    const out = new Int32Array(w * 3);
    xs.forEach(({ from: [s0, s1], weights: [k0, k1] }, x) => {
      for (let c = 0; c < 3; c++) {
        out[x * 3 + c] = img.data[(y * img.w + s0) * 3 + c] * k0 + img.data[(y * img.w + s1) * 3 + c] * k1;
      }
    });
    return out;
  };
  ys.forEach(({ from: [s0, s1], weights: [k0, k1] }, y) => {
    const r0 = rowSums(s0), r1 = rowSums(s1);
    for (let i = 0; i < w * 3; i++) {
      const v = (((k0 * (r0[i] >> 4)) >> 16) + ((k1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
      data[y * w * 3 + i] = Math.min(255, Math.max(0, v));
    }
  });
  return { w, h, data };
}

// the image with `pad` pixels around it: black (cv2.BORDER_CONSTANT) or its edge repeated (BORDER_REPLICATE)
function padImage(img, pad, replicate) {
  const w = img.w + 2 * pad, h = img.h + 2 * pad, data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(Math.max(y - pad, 0), img.h - 1);
    for (let x = 0; x < w; x++) {
      const sx = Math.min(Math.max(x - pad, 0), img.w - 1);
      const inside = sy === y - pad && sx === x - pad;
      if (!inside && !replicate) continue;
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = img.data[(sy * img.w + sx) * 3 + c];
    }
  }
  return { w, h, data };
}

function crop(img, left, top, side) {
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const from = ((top + y) * img.w + left) * 3;
    data.set(img.data.subarray(from, from + side * 3), y * side * 3);
  }
  return { w: side, h: side, data };
}

// ---------------------------------------------------------------------------------------------- MTCNN

// (h+1) x (w+1) x 3 window sums, as cv2.integral
function integralOf(img) {
  const W = img.w + 1, sums = new Float64Array((img.h + 1) * W * 3);
  for (let y = 1; y <= img.h; y++) {
    for (let x = 1; x <= img.w; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * W + x) * 3 + c;
        sums[i] = img.data[((y - 1) * img.w + x - 1) * 3 + c] + sums[i - W * 3] + sums[i - 3] - sums[i - W * 3 - 3];
      }
    }
  }
  return { sums, W };
}

// torch's adaptive-average-pooling windows of `out` cells over [start, start + size)
function windows(start, size, out) {
  const w = [];
  for (let i = 0; i < out; i++) w.push([start + Math.floor(i * size / out), start + Math.ceil((i + 1) * size / out)]);
  return w;
}

// regions [row0, row1, col0, col1] resized to outH x outW by area averaging, normalised as MTCNN expects, into
// `into` (NCHW) at `offset`; in float32 in torch's order of operations, so the values are torch's
function resample(integral, region, outH, outW, det, into, offset) {
  const { sums, W } = integral, rows = windows(region[0], region[1] - region[0], outH);
  const cols = windows(region[2], region[3] - region[2], outW), plane = outH * outW;
  for (let i = 0; i < outH; i++) {
    const [r0, r1] = rows[i];
    for (let j = 0; j < outW; j++) {
      const [c0, c1] = cols[j];
      for (let c = 0; c < 3; c++) {
        const at = (r, col) => sums[(r * W + col) * 3 + c];
        const total = at(r1, c1) - at(r0, c1) - at(r1, c0) + at(r0, c0);
        const mean = f32(f32(f32(total) / (r1 - r0)) / (c1 - c0));
        into[offset + c * plane + i * outW + j] = f32(f32(mean - det.norm_shift) * det.norm_scale);
      }
    }
  }
}

function pyramidScales(h, w, minFace, factor, skipBelow, cell) {
  let scale = cell / minFace, minl = Math.min(h, w) * scale;
  const scales = [];
  while (minl >= cell) {
    if (cell / scale >= skipBelow) scales.push(scale);
    scale *= factor;
    minl *= factor;
  }
  return scales;
}

// greedy suppression, highest score first: torchvision's nms (IoU), or facenet's nms_numpy "Min" (areas + 1)
function suppress(boxes, threshold, min = false) {
  const one = min ? 1 : 0, area = (b) => (b.x2 - b.x1 + one) * (b.y2 - b.y1 + one), kept = [];
  for (const b of [...boxes].sort((a, c) => c.score - a.score)) {
    const overlaps = kept.some((k) => {
      const iw = Math.max(0, Math.min(b.x2, k.x2) - Math.max(b.x1, k.x1) + one);
      const ih = Math.max(0, Math.min(b.y2, k.y2) - Math.max(b.y1, k.y1) + one);
      const inter = iw * ih;
      return inter / (min ? Math.min(area(b), area(k)) : area(b) + area(k) - inter) > threshold;
    });
    if (!overlaps) kept.push(b);
  }
  return kept;
}

function rerec(b) {
  const w = b.x2 - b.x1, h = b.y2 - b.y1, l = Math.max(w, h);
  const x1 = b.x1 + w * 0.5 - l * 0.5, y1 = b.y1 + h * 0.5 - l * 0.5;
  return { ...b, x1, y1, x2: x1 + l, y2: y1 + l };
}

function bbreg(b, r) {
  const w = b.x2 - b.x1 + 1, h = b.y2 - b.y1 + 1;
  return { ...b, x1: b.x1 + r[0] * w, y1: b.y1 + r[1] * h, x2: b.x2 + r[2] * w, y2: b.y2 + r[3] * h };
}

async function runNet(session, data, dims) {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", data, dims) });
  return session.outputNames.map((name) => out[name]);
}

// stage 1: P-Net over the pyramid; one suppression per scale, then one over all scales
async function pnetCandidates(m, integral, h, w, minFace, skipBelow) {
  const det = m.web.detector, all = [];
  for (const scale of pyramidScales(h, w, minFace, det.factor, skipBelow, det.cell)) {
    const oh = Math.trunc(h * scale + 1), ow = Math.trunc(w * scale + 1), input = new Float32Array(3 * oh * ow);
    resample(integral, [0, h, 0, w], oh, ow, det, input, 0);
    const [reg, prob] = await runNet(m.nets.pnet, input, [1, 3, oh, ow]);
    const [H, W] = prob.dims.slice(2), plane = H * W, found = [];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const score = prob.data[plane + y * W + x];
        if (score < det.thresholds[0]) continue;
        const at = (v) => Math.floor(f32(f32(v) / f32(scale)));
        found.push({ x1: at(2 * x + 1), y1: at(2 * y + 1), x2: at(2 * x + det.cell), y2: at(2 * y + det.cell), score,
                     reg: [0, 1, 2, 3].map((k) => reg.data[k * plane + y * W + x]) });
      }
    }
    all.push(...suppress(found, 0.5));
  }
  return suppress(all, 0.7).map((b) => {
    const rw = b.x2 - b.x1, rh = b.y2 - b.y1;
    return rerec({ x1: b.x1 + b.reg[0] * rw, y1: b.y1 + b.reg[1] * rh, x2: b.x2 + b.reg[2] * rw,
                   y2: b.y2 + b.reg[3] * rh, score: b.score });
  });
}

// facenet's crop of each box (pad(): 1-based, clipped to the frame) resampled to size x size; boxes whose
// clipped region is empty are dropped, as media/mtcnn.py does
function cropsOf(integral, boxes, w, h, size, det) {
  const regions = boxes.map((b) => {
    const x = Math.max(Math.trunc(b.x1), 1), y = Math.max(Math.trunc(b.y1), 1);
    return [y - 1, Math.min(Math.trunc(b.y2), h), x - 1, Math.min(Math.trunc(b.x2), w)];
  });
  const valid = regions.map((r) => r[1] > r[0] && r[3] > r[2]);
  const kept = boxes.filter((_, i) => valid[i]), data = new Float32Array(kept.length * 3 * size * size);
  regions.filter((_, i) => valid[i]).forEach((r, n) => resample(integral, r, size, size, det, data, n * 3 * size * size));
  return { boxes: kept, data };
}

// stage 2 or 3: the net on each candidate's crop; those over the threshold, with the net's outputs
async function refine(m, net, integral, boxes, w, h, threshold) {
  const size = m.web.detector.nets[net].input_size, crops = cropsOf(integral, boxes, w, h, size, m.web.detector);
  if (!crops.boxes.length) return [];
  const outputs = await runNet(m.nets[net], crops.data, [crops.boxes.length, 3, size, size]);
  const prob = outputs.at(-1), row = (t, n) => Array.from(t.data.subarray(n * t.dims[1], (n + 1) * t.dims[1]));
  return crops.boxes.map((b, n) => ({ ...b, score: prob.data[2 * n + 1], reg: row(outputs[0], n),
                                      points: net === "onet" ? row(outputs[1], n) : null }))
    .filter((b) => b.score > threshold);
}

// MTCNN.detect(frame, landmarks=True) of facenet-pytorch on one frame: [{box, prob, landmarks}]
async function mtcnnDetect(m, img, minFace, skipBelow) {
  const det = m.web.detector, { w, h } = img, integral = integralOf(img);
  let boxes = await pnetCandidates(m, integral, h, w, minFace, skipBelow);
  boxes = await refine(m, "rnet", integral, boxes, w, h, det.thresholds[1]);
  boxes = suppress(boxes, 0.7).map((b) => rerec(bbreg(b, b.reg)));
  boxes = await refine(m, "onet", integral, boxes, w, h, det.thresholds[2]);
  boxes = boxes.map((b) => {
    const bw = b.x2 - b.x1 + 1, bh = b.y2 - b.y1 + 1;
    const landmarks = [0, 1, 2, 3, 4].map((k) => [bw * b.points[k] + b.x1 - 1, bh * b.points[5 + k] + b.y1 - 1]);
    return { ...bbreg(b, b.reg), landmarks };
  });
  return suppress(boxes, 0.7, true).map((b) => ({ box: [b.x1, b.y1, b.x2, b.y2], prob: b.score, landmarks: b.landmarks }));
}
