"""Persistence: SQLModel tables, engine/session setup and keyword-only query functions.

All SQL lives in this package. Every query is scoped by `workspace_id` (the Slack team id).
"""

# The session hooks that keep stored roll-ups in step with every write (storage/rollup.py).
from storage import rollup as _rollup  # noqa: F401
