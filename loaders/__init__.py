"""Loaders: each turns one checksummed source into the triples of its own named graph.

`sources.yaml` lists the sources; `build.py` runs them, validates, reasons and publishes.
A loader never writes the store.
"""
