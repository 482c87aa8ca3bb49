"""What changes the pipeline's numbers on the same inputs: the thread count and the CPU's kernels.

After `make demo` (it reads artifacts/frames, faces.csv and manifest.csv), each probe runs in a fresh process
under one setting and prints a hash of what it computed, so equal hashes mean bit-identical results:
  - mtcnn: the faces.csv rows crop_faces' own unit (preprocess/faces.FaceCropper) gives for every demo
    frame, batched as the stage batches them;
  - train: the demo model's weights after two epochs of the train stage's own fit.
Settings: 1 or 2 torch threads, and the CPU kernels the machine offers or those the Makefile caps to AVX2.

    .venv/bin/python benchmarks/determinism_probe.py            # about 5 minutes on 2 cores
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

CAPPED = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
          "OPENBLAS_CORETYPE": "Haswell"}  # the Makefile's, on x86-64
SETTINGS = [("1 thread, native kernels", 1, False), ("2 threads, native kernels", 2, False),
            ("1 thread, AVX2 kernels", 1, True), ("2 threads, AVX2 kernels", 2, True)]


def probe(what: str) -> str:
    from deepfake_detector.config import load_params
    from deepfake_detector.paths import FACES_CSV, FACES_DIR, FRAMES_CSV, MANIFEST_CSV

    params = load_params()
    if what == "mtcnn":  # crop_faces' own unit on its own batches: the faces.csv rows it would write
        import tempfile

        from deepfake_detector.engines import in_place
        from deepfake_detector.preprocess.faces import FaceCropper, face_batches
        from deepfake_detector.tables import FRAMES, MANIFEST, read_table

        manifest = read_table(MANIFEST_CSV, MANIFEST).set_index("item_id")
        batches = face_batches(read_table(FRAMES_CSV, FRAMES), manifest, params.faces.batch_size)
        with tempfile.TemporaryDirectory() as out:
            # crops go to the temp folder; the rows name them under FACES_DIR, as the stage's do
            cropper = FaceCropper(params.faces, "cpu", int(os.environ["PROBE_THREADS"]), FACES_DIR, Path(out), in_place)
            rows = [row for batch in batches for row in cropper(batch).rows]
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    from deepfake_detector.tables import load_face_table
    from deepfake_detector.train.fit import fit
    from deepfake_detector.train.run import settings_from

    settings = dataclasses.replace(settings_from(params), epochs=2)
    model = fit(load_face_table(MANIFEST_CSV, FACES_CSV), settings, seed=params.seed, progress=False).model
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in model.state_dict().values())).hexdigest()[:16]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":  # one probe, under the settings its parent chose
        import torch

        torch.set_num_threads(int(os.environ["PROBE_THREADS"]))
        print(probe(sys.argv[2]))
        return
    base = {k: v for k, v in os.environ.items() if k not in CAPPED}
    print("| probe | setting | hash |\n|---|---|---|")
    for what in ("mtcnn", "train"):
        for name, threads, capped in SETTINGS:
            env = {**base, "PROBE_THREADS": str(threads), **(CAPPED if capped else {})}
            out = subprocess.run([sys.executable, __file__, "--child", what], env=env, capture_output=True,
                                 text=True, check=True)
            print(f"| {what} | {name} | `{out.stdout.split()[-1]}` |", flush=True)


if __name__ == "__main__":
    main()
