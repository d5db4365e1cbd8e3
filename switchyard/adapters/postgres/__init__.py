"""PostgreSQL wiring: the event store's recorder, the scheduler's queue tables and leases."""
