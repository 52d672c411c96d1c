"""The Messenger webhook: Facebook's one callback for every page of every organization.

Read top to bottom:

- `views`: the receiver (signature, size, JSON) and the admins' event log page.
- `signature`: the X-Hub-Signature-256 check over the raw body.
- `parsing`: pure functions, one per event kind, turning a verified body into `ParsedEvent`s
  (`events`: what a parsed event is; `payload`: reading Facebook's values safely).
- `receive`: the entry point: one transaction per POST, the event log, pending retries.
- `route`: where each event goes, or why nowhere: the routing rules, stated once.
- `one_statement` / `one_statement_sql`: PostgreSQL's one round trip for the common case.
- `apply`, `messages`, `conversations`: the step-by-step way: echoes, messages, reactions
  and edits, receipts; contacts, conversations and their update.
- `outcomes`, `eventlog`: what became of each event and the log that says why.
- `followups`: what runs after commit in Celery (profile lookups, new-conversation notices,
  downloads) and the catch-up that finds what could not be queued.
- `api` / `selectors`: the admins' view of the event log through the API.
"""
