"""The projector role: builds the read tables from the relay's Kafka topic
(`consumer.Projector`), in a consumer group that shares the partitions."""
