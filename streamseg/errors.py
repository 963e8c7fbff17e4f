"""Errors streamseg raises on purpose.

Each one subclasses ``StreamsegError`` and the builtin it resembles, so callers can
catch either. Messages are one line: the bad value, then the fix. The CLI turns them
into a message on stderr and a non-zero exit code, without a traceback.
"""

from __future__ import annotations


class StreamsegError(Exception):
    """Base of every error streamseg raises on purpose."""

    exit_code = 1


class UsageError(StreamsegError, ValueError):
    """A flag, prompt, config key or value is malformed or out of range."""

    exit_code = 2


class SourceError(StreamsegError, ValueError):
    """The input cannot be read as video (no video stream, zero frames, not a video)."""

    exit_code = 3


class SourceNotFoundError(SourceError, FileNotFoundError):
    """The input path does not exist."""


class OutputError(StreamsegError, OSError):
    """The output folder exists already, or cannot be written."""

    exit_code = 4


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (Ctrl-C, SIGTERM); raised between frames, at a safe point."""


class EngineError(StreamsegError, RuntimeError):
    """The segmentation engine cannot be built or run (unknown model, missing weights)."""

    exit_code = 5
