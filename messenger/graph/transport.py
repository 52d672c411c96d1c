"""The HTTP core of the Graph client: one ``requests.Session``, a timeout on every call,
retries of GETs, and every failure turned into a ``GraphError`` with no secret in it.

The calls themselves (Facebook Login, pages, the Send API) are built on ``GraphTransport``
in their own modules and put together as ``messenger.graph.GraphClient``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import requests

from messenger.graph.errors import GraphConnectionError, GraphError, GraphTimeoutError, error_from_response

logger = logging.getLogger(__name__)

# A longer Retry-After is not slept through inside a request: the caller (a Celery task)
# should reschedule instead of blocking a worker.
MAX_INLINE_RETRY_AFTER = 30.0
# Query parameters whose values are scrubbed from whatever Facebook echoes back in an error.
_SECRET_PARAMS = frozenset({"access_token", "input_token", "fb_exchange_token", "client_secret", "code"})


class GraphTransport:
    """Graph API requests over one ``requests.Session``; every call has a timeout.

    GETs are retried on retryable errors; POST and DELETE never are, since a send may
    have gone through and only the caller can tell (by its own idempotency key).
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        version: str = "v21.0",
        timeout: float = 10.0,
        session: requests.Session | None = None,
        max_get_retries: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self.version = version
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_get_retries = max_get_retries
        self.backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, app_id={self.app_id!r})"

    def close(self) -> None:
        self.session.close()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{self.version}/{path.lstrip('/')}"

    def _get_next(self, next_url: str, token: str) -> dict[str, Any]:
        # paging.next is absolute; following it elsewhere would hand a token to another host.
        ours, theirs = urlsplit(self.base_url), urlsplit(next_url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise GraphError("refusing to follow paging.next to another host")
        # Facebook's next links carry the token already; add it only when missing.
        params = {} if "access_token=" in theirs.query else {"access_token": token}
        return self._get(next_url, params)

    def _get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """A GET, retried with exponential backoff (or Retry-After) on retryable errors."""
        attempt = 0
        while True:
            try:
                return self._request("GET", url, params)
            except GraphError as exc:
                if not exc.retryable or attempt >= self.max_get_retries:
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = self.backoff * 2**attempt
                elif delay > MAX_INLINE_RETRY_AFTER:
                    raise
                attempt += 1
                path = urlsplit(url).path
                logger.debug("Graph GET %s retry %d in %.2fs", path, attempt, delay)
                self._sleep(delay)

    def _request(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        json_body: dict[str, Any] | None = None,
        *,
        form_fields: dict[str, str] | None = None,
        files: dict[str, tuple[str, IO[bytes] | bytes, str]] | None = None,
    ) -> dict[str, Any]:
        path = urlsplit(url).path
        logger.debug("Graph %s %s", method, path)
        # requests' own messages quote the full URL, query string and tokens included, so
        # they are replaced and the chain cut (``from None``) to keep them out of tracebacks.
        try:
            response = self.session.request(
                method,
                url,
                params=params or None,
                json=json_body,
                data=form_fields,
                files=files,
                timeout=self.timeout,
            )
        except requests.Timeout:
            message = f"Graph {method} {path} timed out after {self.timeout}s"
            raise GraphTimeoutError(message, is_transient=True) from None
        except requests.ConnectionError as exc:
            message = f"Graph {method} {path} connection failed ({type(exc).__name__})"
            raise GraphConnectionError(message, is_transient=True) from None
        except requests.RequestException as exc:
            raise GraphError(f"Graph {method} {path} failed ({type(exc).__name__})") from None

        try:
            payload: object = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400 or (isinstance(payload, dict) and "error" in payload):
            # Any token or secret this call carried is scrubbed from what Facebook echoed.
            query = [*params.items(), *parse_qsl(urlsplit(url).query)]
            secrets = [v for k, v in query if k in _SECRET_PARAMS] + [self._app_secret]
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            raise error_from_response(response.status_code, payload, redact=secrets, retry_after=retry_after)
        if not isinstance(payload, dict):
            message = f"Graph {method} {path} answered a non-JSON body"
            raise GraphError(message, http_status=response.status_code)
        return payload


def _parse_retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form: the HTTP-date form is not used by Graph or the sandbox.
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
