"""The collab domain."""
