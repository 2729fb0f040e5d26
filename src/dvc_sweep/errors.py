"""The exception hierarchy of dvc-sweep and the exit code each class maps to.

Only the command-line entry points turn these exceptions into messages and exit codes;
the core modules raise them.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    POINTS_FAILED = 1
    INVALID_INPUT = 2
    ENVIRONMENT = 3
    INTERRUPTED = 130


class SweepError(Exception):
    """Root of every error that dvc-sweep reports to the user."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(SweepError):
    """Invalid command-line arguments or action inputs."""

    exit_code = ExitCode.INVALID_INPUT


class SpecError(SweepError):
    """An invalid sweep spec, with the place in the file where the problem is."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.column = column

    @property
    def location(self) -> str:
        """The ``file:line:column`` prefix, with whichever parts are known."""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SpecErrorGroup(SweepError):  # noqa: N818  # a group of SpecError, not an error kind
    """Several spec problems found in one pass, reported together."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, errors: list[SpecError]) -> None:
        errors = sorted(errors, key=lambda error: (error.line or 0, error.column or 0))
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


class EnvironmentProblemError(SweepError):
    """The environment cannot run a sweep: not a git or DVC repository, no commit, no DVC."""

    exit_code = ExitCode.ENVIRONMENT


class ResultsFileError(SweepError):
    """A results file that is missing, unreadable or of an unknown schema version."""

    exit_code = ExitCode.INVALID_INPUT
