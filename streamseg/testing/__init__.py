"""Helpers for tests and benchmark scripts: synthetic clips with known masks, a headless
browser on the preview page. Nothing in the pipeline imports this package."""
