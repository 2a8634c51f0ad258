"""Pure domain: events, curriculum, aggregates, the formula. Standard library only."""
