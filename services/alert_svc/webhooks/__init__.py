"""Webhooks for partners: subscriptions, the dispatcher, the delivery worker and their API."""
