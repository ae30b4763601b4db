"""Persistence: SQLModel tables, engine/session setup and keyword-only query functions.

All SQL lives in this package. Every query is scoped by `workspace_id` (the Slack team id).
"""
