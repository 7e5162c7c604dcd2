"""Notices: the outbox, delivery workers, rate limits, producers, campaigns."""
