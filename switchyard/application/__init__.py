"""The application: command handlers and queries over the event store."""
