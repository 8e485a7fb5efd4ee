"""Sightline's own library: event contracts, event store, outbox relay, consumers, auth, HTTP."""
