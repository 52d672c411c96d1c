"""``GraphClient``: every Graph API call the Messenger channel makes, on one HTTP transport."""

from __future__ import annotations

from messenger.graph.login import LoginCalls
from messenger.graph.pages import PageCalls
from messenger.graph.send_api import SendApiCalls


class GraphClient(LoginCalls, PageCalls, SendApiCalls):
    """Graph API calls over one ``requests.Session``; every call has a timeout.

    GETs are retried on retryable errors; POST and DELETE never are, since a send may
    have gone through and only the caller can tell (by its own idempotency key). The calls
    are grouped by the Graph API they belong to (``login``, ``pages``, ``send_api``); the
    session, retries and error mapping are ``GraphTransport``'s.
    """
