"""Kafka plumbing: producer and admin helpers, the outbox relay, the consumer runner."""
