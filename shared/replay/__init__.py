"""Rebuilding projections from their topics: `sightline replay`."""
