"""Background work: sending check-in prompts, reminders and digests; the scheduler."""
