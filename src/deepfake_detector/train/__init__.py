"""Training: data, augmentations, the Lightning module, calibration and the Optuna search."""
