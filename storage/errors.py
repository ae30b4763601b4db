"""Errors raised by query functions, with messages fit to show the user."""


class NotFound(LookupError):
    """No such row in this workspace (rows of other workspaces are never found)."""


class Refused(ValueError):
    """The change would break the tree or a rule; the message says why."""


class Unavailable(RuntimeError):
    """The database could not be reached, or did not answer in time; nothing was changed."""


class TimedOut(Unavailable):
    """The work did not finish within its time limit (storage.db.time_limit): rolled back."""
