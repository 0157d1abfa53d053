"""One exception tree for everything a user can get wrong or a run can hit.

    CloudledgerError
     ├── InputError      bad file, bad rule, bad config, bad argument  -> exit code 2
     │    └── FormatError   a file that is not in the format it was read as
     └── RunError        a step failed on valid input (e.g. reconciliation mismatch) -> exit 2
"""

from __future__ import annotations


class CloudledgerError(Exception):
    """Base of every error cloudledger raises on purpose.

    ``where`` names the file (and line/column) or setting; ``hint`` says what to do next.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class InputError(CloudledgerError):
    """Bad input: a file, rule, config value or argument. Nothing was written."""


class FormatError(InputError):
    """A file does not match the format it was read as."""


class RunError(CloudledgerError):
    """A step failed on input that looked valid; the store was rolled back."""
