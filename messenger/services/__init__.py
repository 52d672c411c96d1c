"""Writes of the messenger app, one module per area (contacts, …)."""
