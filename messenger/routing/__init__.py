"""Automatic assignment: who takes a conversation of a channel whose assignment is on.

- ``rules``: the pure part (the modes, how candidates are ranked, what a system line says);
- ``candidates``: who may take a channel's conversation now (online, associated, with room),
  an agent's load and capacity;
- ``route``: ``conversations_route`` assigns each conversation or queues it;
- ``drain``: ``agent_backlog_drain`` hands an agent the oldest queued conversations;
- ``sweep``: the minute's job (lost routings, an offline agent's conversations back to the
  queue, the queue drained to agents with room);
- ``triggers``: what queues the tasks on commit (and the availability signals' receivers).

Race safety (PostgreSQL): an agent is given a conversation only while their Availability row
is locked (SELECT … FOR UPDATE) and their open conversations are counted under that lock, so
two assigners never push one agent over capacity; a conversation is claimed locked (routing
waits for it, draining skips it: SKIP LOCKED) and only while it has no assignee, so it is
never assigned twice. Routers of one channel take turns (an advisory lock per channel), so
that the rotation stays even under load. Locks are always taken conversation first, then the
channel's turn, then agent; a drain holds an agent and skips locked conversations, so no two
assigners wait on each other in a cycle.
"""
