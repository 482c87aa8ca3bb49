// Evidence frames: the sampled frames behind a video's verdict, as JPEGs the server drew the face box into, so the
// page shows what was scored whatever this browser can play (MPEG-4 Part 2, HEVC, AVI and MKV often do not).
// The page asks for every scored frame (?frames=all), not only the key ones: a click on any timeline dot then
// shows its frame without uploading and scoring the video a second time (the server keeps no upload). That
// costs a few kB per frame (explain.evidence in params.yaml), against the upload's megabytes.
// Loaded before app.js, whose globals ($, percent) it uses.
"use strict";

const ROLE_TEXT = { highest: "this person's highest-scoring frame", median: "this person's median-scoring frame" };
let evidenceFrames = []; // the last video's evidence frames in time order (then by person)
let evidenceShown = -1; // the one shown

function showEvidence(result) {
  evidenceFrames = [...(result.evidence_frames || [])].sort((a, b) => a.t - b.t || a.track - b.track);
  $("evidence").hidden = !evidenceFrames.length;
  if (!evidenceFrames.length) return;
  const decider = result.decided_by_track ?? 0; // first the frame that weighed most in the verdict
  const first = evidenceFrames.findIndex((e) => e.track === decider && e.role === "highest");
  showEvidenceFrame(Math.max(0, first));
}

function showEvidenceFrame(i) {
  const e = evidenceFrames[i];
  evidenceShown = i;
  const img = $("evidence-frame");
  const text = `Frame ${e.frame_idx} at ${e.t.toFixed(2)} s, person ${e.track + 1}: ${percent(e.fake_probability)} fake`;
  img.src = `data:image/jpeg;base64,${e.jpeg}`;
  img.alt = `${text}, the face boxed in ${e.fake_probability >= (current.result.threshold ?? 0.5) ? "red" : "green"}`;
  img.dataset.frame = String(e.frame_idx);
  img.dataset.track = String(e.track);
  $("evidence-caption").textContent = ROLE_TEXT[e.role] ? `${text} (${ROLE_TEXT[e.role]})` : text;
  $("evidence-prev").disabled = i === 0;
  $("evidence-next").disabled = i === evidenceFrames.length - 1;
}

// a timeline dot: that person's frame at that time, else another person's frame at that time
function showEvidenceAt(track, t) {
  const mine = evidenceFrames.findIndex((e) => e.track === track && e.t === t);
  const any = mine >= 0 ? mine : evidenceFrames.findIndex((e) => e.t === t);
  if (any >= 0) showEvidenceFrame(any);
}

function stepEvidence(by) {
  const i = evidenceShown + by;
  if (i >= 0 && i < evidenceFrames.length) showEvidenceFrame(i);
}
