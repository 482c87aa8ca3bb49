"""Datasets: sources that fetch them, adapters that index them, and leakage-free splits."""
