"""The relay role: publishes the event store's log to Kafka, in order, and the heartbeats."""
