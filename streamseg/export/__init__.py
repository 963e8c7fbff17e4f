"""Exporting a result folder's masks: DAVIS palette PNGs (png.py), COCO run-length JSON
(coco.py)."""
