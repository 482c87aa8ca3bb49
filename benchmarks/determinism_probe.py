"""What changes the pipeline's numbers on the same inputs: the thread count and the CPU's kernels.

After `make demo` (it reads artifacts/frames, faces.csv and manifest.csv), each probe runs in a fresh process
under one setting and prints a hash of what it computed, so equal hashes mean bit-identical results:
  - mtcnn: the faces.csv rows crop_faces' own unit (preprocess/crop_faces.FaceCropper) gives for the demo
    frames, batched as the stage batches them;
  - train: the demo model's weights after the train stage's own fit (two epochs; --emulate: one epoch on
    64 crops, since emulation is about 50 times slower).
Settings: 1 or 2 torch threads, and the CPU kernels the machine offers or those the Makefile caps to AVX2.
--emulate CPU compares this machine with another CPU model instead, both capped as the Makefile caps them:
the second runs under QEMU's user-mode emulator (Debian's qemu-user) as that model (`qemu-x86_64 -cpu help`
lists them), which MKL, oneDNN, numpy and glibc see as a different CPU (its vendor, features and caches);
both sides then also run without numpy's AVX2 kernels, in which QEMU 7.2 crashes.

    .venv/bin/python benchmarks/determinism_probe.py                    # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/determinism_probe.py --emulate Haswell  # about 10 minutes
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CAPPED = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "COMPATIBLE",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}  # the Makefile's
EMULATED_BATCHES, EMULATED_TRAIN_ITEMS = 2, 64  # --emulate: MTCNN on the first batches, one epoch on a sample
SETTINGS = [
    ("1 thread, native kernels", 1, False),
    ("2 threads, native kernels", 2, False),
    ("1 thread, AVX2 kernels", 1, True),
    ("2 threads, AVX2 kernels", 2, True),
]


def probe(what: str) -> str:
    from deepfake_detector.config import load_params
    from deepfake_detector.paths import FACES_CSV, FACES_DIR, FRAMES_CSV, MANIFEST_CSV

    params = load_params()
    quick = bool(os.environ.get("PROBE_QUICK"))  # --emulate's smaller probes
    if what == "mtcnn":  # crop_faces' own unit on its own batches: the faces.csv rows it would write
        import tempfile

        from deepfake_detector.engines import in_place
        from deepfake_detector.preprocess.crop_faces import FaceCropper, face_batches
        from deepfake_detector.tables import FRAMES, MANIFEST, read_table

        manifest = read_table(MANIFEST_CSV, MANIFEST).set_index("item_id")
        batches = face_batches(read_table(FRAMES_CSV, FRAMES), manifest, params.faces.batch_size)
        batches = batches[:EMULATED_BATCHES] if quick else batches
        with tempfile.TemporaryDirectory() as out:
            # crops go to the temp folder; the rows name them under FACES_DIR, as the stage's do
            cropper = FaceCropper(params.faces, "cpu", int(os.environ["PROBE_THREADS"]), FACES_DIR, Path(out), in_place)
            rows = [row for batch in batches for row in cropper(batch).rows]
        return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    from deepfake_detector.tables import load_face_table
    from deepfake_detector.train.fit import fit

    train = params.train.overridden({"epochs": 1 if quick else 2})
    model = fit(
        load_face_table(MANIFEST_CSV, FACES_CSV),
        train,
        params.seed,
        params.compute,
        max_train_items=EMULATED_TRAIN_ITEMS if quick else None,
        progress=False,
    ).model
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in model.state_dict().values())).hexdigest()[:16]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":  # one probe, under the settings its parent chose
        import torch

        torch.set_num_threads(int(os.environ["PROBE_THREADS"]))
        print(probe(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emulate", metavar="CPU", help="compare with this CPU model under qemu-x86_64")
    cpu = parser.parse_args().emulate
    base = {k: v for k, v in os.environ.items() if k not in CAPPED}
    # (name, command prefix, environment) of each setting
    if cpu:
        if not shutil.which("qemu-x86_64"):
            sys.exit("--emulate needs QEMU's user-mode emulator: apt-get install qemu-user")
        # numpy's AVX2 kernels off on both sides too: QEMU 7.2 crashes in them (MTCNN's non-maximum suppression)
        quick_env = {
            **base,
            **CAPPED,
            "PROBE_THREADS": "2",
            "PROBE_QUICK": "1",
            "NPY_DISABLE_CPU_FEATURES": "X86_V3 " + CAPPED["NPY_DISABLE_CPU_FEATURES"],
        }
        settings = [
            ("this CPU, AVX2 kernels", [], quick_env),
            (f"emulated {cpu}, AVX2 kernels", ["qemu-x86_64", "-cpu", cpu], quick_env),
        ]
    else:
        settings = [
            (name, [], {**base, "PROBE_THREADS": str(threads), **(CAPPED if capped else {})})
            for name, threads, capped in SETTINGS
        ]
    print("| probe | setting | hash |\n|---|---|---|")
    for what in ("mtcnn", "train"):
        for name, prefix, env in settings:
            out = subprocess.run(
                [*prefix, sys.executable, __file__, "--child", what],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            print(f"| {what} | {name} | `{out.stdout.split()[-1]}` |", flush=True)


if __name__ == "__main__":
    main()
