"""Wire formats: the canonical contract, CloudEvents, xAPI, Caliper, schema generation."""
