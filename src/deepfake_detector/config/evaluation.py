"""Settings of the evaluate and robustness stages."""

from __future__ import annotations

from pydantic import Field, model_validator

from deepfake_detector.config.base import Strict


class EvaluateConfig(Strict):
    batch_size: int = Field(64, ge=1)


class RobustnessConfig(Strict):
    """The robustness stage: AUC of each model under resampling, compression, blur and noise of the test faces."""

    models: list[str]  # "current" (the train stage's model) and names from `baselines`
    resolutions: list[int] = [32, 64, 96, 128, 224]  # crops resampled to size x size before the model
    face_px_edges: list[float] = [96, 104, 112]  # face-size bucket edges (source px): [96, 104] -> <96, 96-104, >=104
    jpeg_qualities: list[int] = [90, 70, 50, 30, 10]
    blur_sigmas: list[float] = [0.0, 1.0, 2.0, 4.0]  # Gaussian blur sigma in crop pixels; 0 = none
    noise_stds: list[float] = [0.0, 5.0, 10.0, 20.0]  # Gaussian noise std on the 0-255 scale; 0 = none
    crfs: list[int] = [18, 23, 28, 33, 38, 43]  # H.264 (libx264) constant rate factors for the test videos
    max_videos: int = Field(16, ge=2)  # test videos re-encoded per CRF (half real, half fake when possible)
    batch_size: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _levels_in_range(self) -> RobustnessConfig:
        if any(not 1 <= q <= 100 for q in self.jpeg_qualities):
            raise ValueError("jpeg_qualities must be in [1, 100]")
        if any(not 0 <= c <= 51 for c in self.crfs):
            raise ValueError("crfs must be in [0, 51] (libx264)")
        if any(s < 8 for s in self.resolutions):
            raise ValueError("resolutions must be at least 8 px")
        if list(self.face_px_edges) != sorted(self.face_px_edges):
            raise ValueError("face_px_edges must be increasing")
        return self
