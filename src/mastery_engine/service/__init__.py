"""The use cases: ingest and mastery, classes, guidance, analytics, fitting, the demo."""
