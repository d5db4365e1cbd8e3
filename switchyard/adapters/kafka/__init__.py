"""The published message contract (CloudEvents format, JSON Schemas, examples, docs) and
the tail consumer."""
