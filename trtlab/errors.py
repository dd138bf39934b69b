"""One error type and one error format for everything trtlab reports to a user.

Format: ``<subject> | <problem>. Note: <note>. Hint: <what to do>`` on one line.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_MISMATCH = 1  # accuracy mismatch / model not parseable / a pass changed outputs
EXIT_USAGE = 2  # bad input or usage
EXIT_UNAVAILABLE = 3  # a requested backend is unavailable here (or cannot run this model)
EXIT_INTERNAL = 4  # a bug in trtlab: rerun with --verbose and report it


class TrtlabError(Exception):
    """An error meant for the user: a subject, what is wrong, and what to do about it."""

    def __init__(self, subject: str, problem: str, hint: str | None = None, *, note: str | None = None,
                 code: int = EXIT_USAGE):
        self.subject = str(subject)
        self.problem = problem.rstrip(".")
        self.note = note.rstrip(".") if note else None
        self.hint = hint
        self.code = code
        super().__init__(self.format())

    def format(self) -> str:
        text = f"{self.subject} | {self.problem}."
        if self.note:
            text += f" Note: {self.note}."
        if self.hint:
            text += f" Hint: {self.hint}"
        return " ".join(text.split())  # always one line


class UnavailableError(TrtlabError):
    """A backend, module or device that this machine does not have."""

    def __init__(self, subject: str, problem: str, hint: str | None = None, *, note: str | None = None):
        super().__init__(subject, problem, hint, note=note, code=EXIT_UNAVAILABLE)
