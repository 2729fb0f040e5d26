"""Thin command-line layers, one module per `dvc-sweep` verb, over the core modules."""
