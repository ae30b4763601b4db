"""Use-cases shared by the Slack listeners, the scheduler and the CLI."""
