"""Pure OKR math and parsing: no Slack, no database; `now`/`today` are parameters."""
