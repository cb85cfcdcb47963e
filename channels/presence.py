"""Which web chat sessions have a connected socket right now.

The Rasa server's socket.io channel records a socket when it asks for its session
(``session_request``) and forgets it on ``disconnect``; a session with at least one socket
(a page open in any tab) is present. Standard library only: the Rasa process imports it.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional, Set


class Presence:
    """Socket ids by session id and back; safe to share between threads."""

    def __init__(self) -> None:
        """Start with no socket."""
        self._session_of: Dict[str, str] = {}
        self._sockets: Dict[str, Set[str]] = {}
        self._lock = threading.Lock()

    def join(self, sid: str, session_id: str) -> Optional[str]:
        """Record that socket ``sid`` speaks for ``session_id``.

        Returns:
            The session the socket spoke for before, when it was another one.
        """
        with self._lock:
            previous = self._session_of.get(sid)
            if previous is not None and previous != session_id:
                self._discard(sid, previous)
            self._session_of[sid] = session_id
            self._sockets.setdefault(session_id, set()).add(sid)
        return previous if previous != session_id else None

    def leave(self, sid: str) -> Optional[str]:
        """Forget socket ``sid``; return the session it spoke for, if any."""
        with self._lock:
            session_id = self._session_of.pop(sid, None)
            if session_id is not None:
                self._discard(sid, session_id)
        return session_id

    def session_of(self, sid: str) -> Optional[str]:
        """The session socket ``sid`` speaks for, if it asked for one."""
        with self._lock:
            return self._session_of.get(sid)

    def connected(self, session_id: str) -> bool:
        """Whether ``session_id`` has at least one connected socket."""
        with self._lock:
            return bool(self._sockets.get(session_id))

    def sessions(self) -> int:
        """How many sessions are present."""
        with self._lock:
            return len(self._sockets)

    def _discard(self, sid: str, session_id: str) -> None:
        sockets = self._sockets.get(session_id)
        if sockets is None:
            return
        sockets.discard(sid)
        if not sockets:
            del self._sockets[session_id]
