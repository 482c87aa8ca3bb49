"""Deepfake detection pipeline: data -> frames -> faces -> model -> calibrated verdicts."""

__version__ = "0.1.0"
