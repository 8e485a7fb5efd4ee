"""The alert domain."""
