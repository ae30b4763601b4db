"""Errors raised by query functions, with messages fit to show the user."""


class NotFound(LookupError):
    """No such row in this workspace (rows of other workspaces are never found)."""


class Refused(ValueError):
    """The change would break the tree or a rule; the message says why."""
