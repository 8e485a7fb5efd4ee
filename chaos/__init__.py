"""Fault harness: the whole runtime under steady load while processes, broker and database fail."""
