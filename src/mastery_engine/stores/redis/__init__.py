"""The Redis store: per-student keys under one hash tag, updated by Lua scripts."""
