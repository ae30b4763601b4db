"""Pure Block Kit builders: `build_<surface>(...) -> dict`. No Slack calls, no database."""
