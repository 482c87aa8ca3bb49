"""Evaluation: metrics at frame and video level, curves and plots."""
