"""Outbound messages: the checks a reply must pass, storing it, and sending it through
the Graph API exactly once.

The life of an agent's reply, module by module:

1. ``replies.reply_send`` asks ``reply_rules`` whether the conversation can be answered
   (channel, page, customer, reply window) and whether the text may be sent, keeps a file
   through ``reply_files``, stores the message as ``queued`` with a fresh
   ``idempotency_key`` and the messaging type the window calls for, and after commit queues
   ``messenger.tasks.sending.send_message``.
2. The task calls ``delivery.message_deliver``: a conditional UPDATE moves the message from
   ``queued`` to ``sending`` (a redelivered or duplicated task finds nothing to claim and
   stops), the checks run again (time has passed), and the Send API is called with
   ``metadata=str(idempotency_key)``. A file goes first to the Attachment Upload API (the
   bytes travel in the request; Facebook never fetches an address of ours), and the
   ``attachment_id`` it answers is kept on the attachment at once, so a retry sends it
   without uploading again. Success: ``sent`` with Facebook's message id
   (``delivered`` and ``read`` come later from the webhook's receipts).
3. Rate limits, 5xx and timeouts put it back to ``queued`` and the task retries with
   exponential backoff (``delivery.SEND_MAX_RETRIES`` times); other errors fail it with a
   reason code, which ``failures`` turns into the words the agent reads.
4. ``recovery.message_sweep`` (every 20 seconds) settles what a dead worker or a broker
   outage left behind; its docstring states the recovery rule.

This package holds modules only: callers import the module that holds the name they need.
"""
