"""Stage embed: in train.finetune.mode linear_probe, the frozen pretrained backbone's features of every found
face crop, once (artifacts/embed: features.npy, index.csv, key.json), so the train stage fits heads on them in
seconds. In the other modes it writes an empty cache and costs nothing. The work is in train/probe.py."""

from deepfake_detector.config import load_params
from deepfake_detector.devices import pin_threads, torch_device
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import EMBED_DIR, FACES_CSV, MANIFEST_CSV
from deepfake_detector.summary import StageSummary
from deepfake_detector.tables import load_face_table
from deepfake_detector.train.probe import embed_faces


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    device = torch_device(params.compute.accelerator, "compute.accelerator")
    StageSummary("embed", counts=embed_faces(params.train, faces, EMBED_DIR, device)).write()


if __name__ == "__main__":
    run_stage(main)
