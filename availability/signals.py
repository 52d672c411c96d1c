"""Signals of member availability, sent by its services after the change is saved."""

from __future__ import annotations

from django.dispatch import Signal

status_changed = Signal()
capacity_changed = Signal()
