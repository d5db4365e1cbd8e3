"""The application: command handlers and queries over the event store, and the
scheduler's use cases (worker, stage runner, failure decisions, breakers) with their ports."""
