"""Strongroom: a self-hostable, privacy-first S3-compatible object store."""

__version__ = "0.1.0"
