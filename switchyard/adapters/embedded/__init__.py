"""Throwaway servers for development and tests: PostgreSQL, Redis, a Kafka-protocol broker."""
