"""Data sources: fetch a key result's number from another system over HTTP.

Plain code with no Slack and no database: `fetch` reads one value, `guard` decides which
addresses Ladder may ask. Storage of sources and their polling live in storage/sources.py
and bot/services/sources.py.
"""
