"""The Messenger webhook: Facebook's one callback for every page of every organization.

- `signature`: the X-Hub-Signature-256 check over the raw body.
- `parsing`: pure functions, one per event kind, turning a verified body into `ParsedEvent`s.
- `ingest`: set-based persistence of a batch in one transaction, the raw event log, the
  retry of events left pending and the log's pruning.
- `followups`: what runs after commit in Celery (profile lookups, new-conversation notices)
  and the catch-up that finds what could not be queued.
- `views` / `api` / `selectors`: the receiver, and the admins' view of the event log.
"""
