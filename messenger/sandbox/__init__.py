"""The Graph API sandbox: a local stand-in for Facebook, served under ``/sandbox/`` when
``GRAPH_SANDBOX`` is on.

Over HTTP (``views``): the Login dialog (``dialog``), the Graph API endpoints the product
uses (``graph_api``: tokens, accounts, subscriptions, profiles), the Send API (``send_api``,
its checks in ``send_requests``), the Attachment Upload API (``uploads``), Graph errors
(``errors``) and tokens (``tokens``); signed webhooks to the product (``webhooks``).

Its Python API, for tests, ``seed_demo`` and the controls page, is keyword-only; page ids
and PSIDs are strings, as on Facebook's wire:

- people and pages, and their tokens without the OAuth dance: ``people``;
- what Facebook takes back (expired tokens, password change, app removal, a permission
  revoked): ``revocations``; Send API failures scripted in advance: ``send_failures``;
- customers writing to a page and reading its replies, as signed webhooks: ``customers``;
- what the product sent and uploaded: ``selectors.sandbox_sent_messages`` and
  ``selectors.sandbox_uploads``; echoes and deliveries owed: ``webhooks.flush_webhooks``;
- the default admin, pages and customers, and the reset: ``bootstrap``.
"""
