"""Outage report clustering (issue 19): reports counted by area, suspected incidents
opened, confirmed, dismissed and restored. Sits between the dialogs and the services:
it uses notify/ (outbox, outage notices) and is used by handlers, console and CLI."""
