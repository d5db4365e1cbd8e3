"""The `switchyard` command line."""
