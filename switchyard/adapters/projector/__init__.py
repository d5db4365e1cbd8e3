"""The projector role: builds the read tables from the Kafka topic."""
