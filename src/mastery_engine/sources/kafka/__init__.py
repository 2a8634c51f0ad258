"""The Kafka consumer group member: consume, dead letters, publishing, offsets, metrics."""
