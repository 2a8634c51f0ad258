"""Mastery Engine: per-student, per-skill mastery from learning events."""

__version__ = "0.1.0"
