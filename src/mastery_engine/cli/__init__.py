"""The `mastery-engine` command line: serve and data commands, streams, models, agents."""
