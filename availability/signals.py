"""What availability tells the layers above it, after the change has committed.

`status_changed`: sender=Availability, with `organization`, `membership`, `old_status`,
`new_status` and `reason` (a ChangeReason). Sent once per real change (setting the status a
member already has sends nothing).

`capacity_changed`: sender=Availability, with `organization` and `membership` (None when
the organization's default capacity changed, which concerns every member without their own).

Both are sent with `send_robust` from `transaction.on_commit`: a receiver's failure is
logged and never undoes, nor fails, the change. The assignment engine connects to them to
hand waiting conversations to an agent who came online or gained room.
"""

from __future__ import annotations

from django.dispatch import Signal

status_changed = Signal()
capacity_changed = Signal()
