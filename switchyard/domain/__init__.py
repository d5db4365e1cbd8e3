"""The domain: Plan and Task aggregates, stage and step values, the status machine,
retry maths, validation and the stage factory. Pure: stdlib and eventsourcing only."""
