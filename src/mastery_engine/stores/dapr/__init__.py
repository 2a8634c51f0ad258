"""The Dapr state store, through the sidecar's HTTP state API."""
