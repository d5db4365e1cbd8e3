"""The HTTP command and query API (to come: nothing here yet)."""
