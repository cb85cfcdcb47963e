"""The web push channel: thread messages into an open chat page, through the Rasa server.

The page talks to the Rasa server over socket.io, so only that process can reach it. The
action server's dispatcher hands each due ``web`` delivery to :class:`WebPushChannel`, which
renders it and POSTs it to the Rasa server's push route (``channels.push``). A page that is
closed answers ``{"delivered": false}``: the row stays pending and is retried with backoff,
and the recipient's next chat turn hands it out at the top of the reply.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from channels.push import PUSH_PATH, SECRET_HEADER, PushRequest, PushRequestError, parse_message
from matchmaker.delivery import Delivery, PermanentChannelError, TransientChannelError

logger = logging.getLogger(__name__)

Renderer = Callable[[Delivery], Sequence[Mapping[str, Any]]]
TRANSIENT_4XX = (408, 425, 429)


class WebPushChannel:
    """Pushes deliveries to ``web:`` identities through the Rasa server's socket.io channel."""

    name = "web"

    def __init__(self, rasa_url: str | Sequence[str], secret: str, render: Renderer, timeout: float = 5.0) -> None:
        """Push to the Rasa server(s) at ``rasa_url`` with the shared ``secret``.

        Args:
            rasa_url: the Rasa server's base URL, e.g. ``http://127.0.0.1:5005``, or the URLs
                of every Rasa server when several serve the same conversations (a page's
                socket is held by one of them; each is asked in turn until one has it).
            secret: the value of ``MATCHMAKER_PUSH_SECRET`` the Rasa server was started with.
            render: turns a delivery into bot messages (``{"text", "buttons"}`` dicts), in
                the recipient's language.
            timeout: seconds to wait for the Rasa server.

        Raises:
            ValueError: for a URL that is not absolute http(s), an empty secret or a
                timeout that is not positive.
        """
        urls = [rasa_url] if isinstance(rasa_url, str) else list(rasa_url)
        if not urls:
            raise ValueError("at least one Rasa server URL is needed")
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"rasa_url must be an absolute http(s) URL, got {url!r}")
        if not secret:
            raise ValueError("the push secret must not be empty")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.urls = tuple(url.rstrip("/") + PUSH_PATH for url in urls)
        self._secret = secret
        self._render = render
        self._timeout = timeout

    def __repr__(self) -> str:
        """The target, never the secret."""
        return f"WebPushChannel({', '.join(self.urls)!r})"

    def push(self, identity: str, delivery: Delivery) -> None:
        """Show ``delivery`` in the page of session ``identity``.

        Raises:
            TransientChannelError: the page is not connected, the Rasa server is unreachable,
                timed out or answered 5xx (or 408/425/429, or an unreadable reply).
            PermanentChannelError: the Rasa server refused the request (403: wrong secret,
                400: bad body, or another 4xx), or the rendering breaks the push contract.
        """
        body = json.dumps(self._request(identity, delivery).to_json(), ensure_ascii=False).encode("utf-8")
        failure: TransientChannelError | None = None
        for url in self.urls:
            try:
                if self._push_to(url, body):
                    return
            except TransientChannelError as error:
                failure = error
        raise failure or TransientChannelError("not connected")

    def _push_to(self, url: str, body: bytes) -> bool:
        """Push ``body`` to one Rasa server; whether that server had the page's socket."""
        status, reply = self._post(url, body)
        if status != 200:
            raise _status_error(status)
        delivered = _delivered(reply)
        if delivered is None:
            raise TransientChannelError("unreadable reply from the Rasa server")
        return delivered

    def _request(self, identity: str, delivery: Delivery) -> PushRequest:
        """The push body for one delivery, checked against the contract before it is sent."""
        try:
            messages = tuple(parse_message(dict(m), f"rendered[{i}]") for i, m in enumerate(self._render(delivery)))
        except (PushRequestError, TypeError, ValueError) as error:
            raise PermanentChannelError(f"delivery {delivery.key} renders to a bad message: {error}") from error
        if not messages:
            raise PermanentChannelError(f"delivery {delivery.key} renders to no message")
        return PushRequest(identity, messages)

    def _post(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST the body to ``url``; return the status and the reply (an HTTP error status included)."""
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", SECRET_HEADER: self._secret})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as reply:
                return int(reply.status), reply.read()
        except urllib.error.HTTPError as error:
            return int(error.code), b""
        except (OSError, ValueError, http.client.HTTPException) as error:
            raise TransientChannelError(f"Rasa server unreachable: {error}") from error


def _status_error(status: int) -> TransientChannelError | PermanentChannelError:
    """The channel error for a non-200 status of the push route."""
    if status >= 500 or status in TRANSIENT_4XX:
        return TransientChannelError(f"Rasa server answered {status}")
    if status == 403:
        return PermanentChannelError("the Rasa server refused the push secret (403)")
    return PermanentChannelError(f"the Rasa server refused the push ({status})")


def _delivered(reply: bytes) -> bool | None:
    """The ``delivered`` flag of a 200 reply, or ``None`` when the reply is not one."""
    try:
        decoded = json.loads(reply)
    except ValueError:
        return None
    flag = decoded.get("delivered") if isinstance(decoded, dict) else None
    return flag if isinstance(flag, bool) else None
