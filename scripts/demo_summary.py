"""Printed at the end of `make demo`: where the results are and how to try the model."""

import json
from pathlib import Path

ARTIFACTS = Path("artifacts")


def main() -> None:
    metrics = json.loads((ARTIFACTS / "evaluate" / "metrics.json").read_text())
    bento = sorted((ARTIFACTS / "bento").glob("*.bento"))
    video = metrics["video"]
    scores = f"video AUC {video['roc_auc']:.3f}, F1 {video['f1']:.3f}"
    print(f"""
Pipeline complete.
  metrics   artifacts/evaluate/metrics.json   ({scores}; `dvc metrics show`)
  plots     artifacts/evaluate/plots/          (`dvc plots show` writes dvc_plots/index.html)
  data      artifacts/validate/index.html     (data validation report)
  model     artifacts/model/                   (model.onnx, model.json, model_card.md)
  bento     {bento[0] if bento else "artifacts/bento/"}
Try it:
  .venv/bin/deepfake predict data/demo/fake/faceswap/videos/*.mp4 | head
  .venv/bin/deepfake serve    # then open http://127.0.0.1:3000/
""")


if __name__ == "__main__":
    main()
