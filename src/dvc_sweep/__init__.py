"""Hyperparameter sweeps of a DVC pipeline, run as parallel DVC experiments."""

__version__ = "0.1.0"
