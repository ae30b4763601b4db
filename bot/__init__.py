"""Ladder: a Slack bot that runs OKRs where teams already talk."""
