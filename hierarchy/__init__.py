"""Four-level concept hierarchy, tagging and token masks."""
