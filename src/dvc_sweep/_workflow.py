"""GitHub Actions workflow commands, step outputs and the job summary.

The runner reads ``::command::`` lines from a step's output, step outputs from the file
that ``$GITHUB_OUTPUT`` names, and the job summary from the file that
``$GITHUB_STEP_SUMMARY`` names. GitHub documents all three in "Workflow commands for
GitHub Actions".
"""

from __future__ import annotations

import contextlib
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

#: GitHub truncates a step summary larger than 1 MiB, measured in bytes of UTF-8.
STEP_SUMMARY_MAX_BYTES = 1024 * 1024


class WorkflowCommands:
    """Writes ``::command::`` lines that the runner reads from the step's output."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def add_mask(self, value: str) -> None:
        """Ask the runner to replace ``value`` with ``***`` in every later log line."""
        if value:
            self._write(f"::add-mask::{_escape_data(value)}")

    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        title: str | None = None,
    ) -> None:
        """Write an error annotation, placed on a file and line when they are given."""
        properties = []
        if file:
            properties.append(f"file={_escape_property(file)}")
            if line is not None:
                properties.append(f"line={line}")
                if column is not None:
                    properties.append(f"col={column}")
        if title:
            properties.append(f"title={_escape_property(title)}")
        joined = " " + ",".join(properties) if properties else ""
        self._write(f"::error{joined}::{_escape_data(message)}")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class WorkflowLogHandler(logging.Handler):
    """Formats log records as the runner expects: warnings and errors become annotations."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        """Write one record as a plain line or a ``::warning::``/``::error::`` command."""
        try:
            message = self.format(record)
            if record.levelno >= logging.ERROR:
                line = f"::error::{_escape_data(message)}"
            elif record.levelno >= logging.WARNING:
                line = f"::warning::{_escape_data(message)}"
            elif record.levelno <= logging.DEBUG:
                line = f"::debug::{_escape_data(message)}"
            else:
                line = f"dvc-sweep: {message}"
            stream = self._stream or sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001  # logging must never raise; the base class reports it
            self.handleError(record)


def write_outputs(path: Path | None, outputs: Mapping[str, str]) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` in the multiline-safe heredoc form."""
    if path is None:
        logger.debug("GITHUB_OUTPUT is not set, so the outputs are not written")
        return
    with path.open("a", encoding="utf-8") as file:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            while delimiter in value:
                delimiter = f"ghadelimiter_{uuid.uuid4()}"
            file.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


class StepSummary:
    """Appends markdown to ``$GITHUB_STEP_SUMMARY`` and keeps the step under 1 MiB."""

    def __init__(self, path: Path | None, limit: int = STEP_SUMMARY_MAX_BYTES) -> None:
        self.path = path
        self.remaining = limit

    def append(self, markdown: str) -> bool:
        """Append ``markdown`` if it fits in what is left; return whether it was written."""
        if self.path is None:
            return False
        size = len(markdown.encode("utf-8"))
        if size > self.remaining:
            logger.warning(
                "not writing %d bytes to the job summary: only %d bytes of GitHub's 1 MiB "
                "limit are left",
                size, self.remaining,
            )  # fmt: skip
            return False
        with self.path.open("a", encoding="utf-8") as file:
            file.write(markdown)
        self.remaining -= size
        return True


@contextlib.contextmanager
def workflow_logging(stream: IO[str] | None, *, verbose: bool) -> Iterator[None]:
    """Send the package's log records to ``stream`` in the runner's format while active."""
    root = logging.getLogger("dvc_sweep")
    handler = WorkflowLogHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = (root.handlers[:], root.level, root.propagate)
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    try:
        yield
    finally:
        root.handlers[:], root.level, root.propagate = saved
