"""Synthetic demo corpus: procedural faces and real manipulation algorithms, generated offline for a seed."""

from deepfake_detector.demo.corpus import METHODS, generate_corpus
from deepfake_detector.demo.manipulate import face_swap, reenact, resynthesize, self_blend

__all__ = ["METHODS", "face_swap", "generate_corpus", "reenact", "resynthesize", "self_blend"]
