"""Aria eye gaze: samples projected into frames, fixations, gaze as prompts."""
