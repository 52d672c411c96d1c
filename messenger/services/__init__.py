"""Writes of the messenger app, one module or package per area (attachments, contacts, conversations, sending, …)."""
