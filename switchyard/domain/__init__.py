"""The domain: the Plan, Task and TenantTasks aggregates, stage and step values, the
status machine, retry maths, health-check settings, validation, the stage factory and
the error hierarchy. Pure: stdlib and eventsourcing only."""
