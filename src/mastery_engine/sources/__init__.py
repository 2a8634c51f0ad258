"""Event channels: Kafka, Dapr pub/sub, xAPI and Caliper; each decodes, ingests, acknowledges."""
