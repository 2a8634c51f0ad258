"""Response and request bodies of the HTTP API, as the OpenAPI document shows them."""
