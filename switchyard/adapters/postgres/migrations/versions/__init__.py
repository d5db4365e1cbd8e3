"""The revisions, oldest first: each creates or changes switchyard's tables."""
