"""The projector role, to build the read tables from the Kafka topic (to come: nothing
here yet)."""
