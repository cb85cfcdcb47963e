"""The JSON API behind the web page's thread view (``/threads``).

Served by ``bot.webpage`` next to the page, on the same origin::

    GET  /api/threads                     the viewer's threads, most recent first
    GET  /api/threads/<id>                one thread: counterpart, messages, current proposal
    POST /api/threads/<id>/messages       {"body": "...", "client_key": "..."}

Every request names its viewer with the header ``X-Session-Id: web:<session>``, the chat
widget's session id (the web channel identity); ``accounts.acting_id`` turns it into the
participant id the store takes. Answers:

* 401 ``{"error": "unauthorized"}``: no header, or not a web session id;
* 404 ``{"error": "not_found"}``: a missing thread and one the viewer is not a party of
  alike (the store raises the same ``NoSuchThread``);
* 400 ``{"error": "bad_request" | "bad_message"}``: bad JSON, wrong types, an empty or
  over-long message; 409 ``{"error": "bad_state"}``: the thread no longer takes messages;
* 503 ``{"error": "unavailable"}``: the database could not be used (never a 500).

Nothing here names a participant: senders are ``me``, ``them`` or ``platform`` and the
other party is what ``counterpart_view`` allows at the thread's stage.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from matchmaker.negotiation import (
    MESSAGE_STATES,
    CounterpartView,
    Message,
    NegotiationError,
    NoSuchThread,
    Proposal,
    Thread,
)

logger = logging.getLogger(__name__)

SESSION_HEADER = "X-Session-Id"
SESSION_PATTERN = re.compile(r"web:[A-Za-z0-9_-]{16,124}")
THREAD_PATH = re.compile(r"/api/threads/([0-9]{1,18})")
MESSAGES_PATH = re.compile(r"/api/threads/([0-9]{1,18})/messages")
MAX_THREADS = 200
MAX_REQUEST_BYTES = 16 * 1024
DATA_KEYS = ("context", "nda_version", "reason", "proposal_id", "supersedes", "kind", "price_yuan",
             "duration_days", "milestones")
LANGUAGES = ("zh", "en")
JsonObject = dict[str, Any]


class ThreadReader(Protocol):
    """The part of ``matchmaker.negotiation.NegotiationStore`` the API uses."""

    def for_participant(self, participant_id: str) -> list[Thread]:
        """The participant's threads, most recent first."""
        ...

    def thread(self, thread_id: int, viewer: str) -> Thread:
        """One thread the viewer is a party of."""
        ...

    def counterpart_view(self, thread: Thread, viewer: str) -> CounterpartView:
        """What the viewer may know about the other party."""
        ...

    def messages(self, thread_id: int, viewer: str, after_seq: int = 0) -> list[Message]:
        """The thread's messages in order."""
        ...

    def proposals(self, thread_id: int, viewer: str) -> list[Proposal]:
        """The thread's proposals, oldest first."""
        ...

    def post_message(self, thread_id: int, sender_pid: str, body: str, client_key: str) -> tuple[Message, bool]:
        """Store a message once per client key."""
        ...


class Identities(Protocol):
    """The part of ``matchmaker.accounts.AccountStore`` the API uses."""

    def acting_id(self, sender_id: str) -> str:
        """The participant id a sender id acts as."""
        ...


class Names(Protocol):
    """Display names of field and region codes (``nlu.lexicon.Lexicon``)."""

    def field_name(self, code: str, language: str) -> str:
        """A field's name in ``language`` (the code when unknown)."""
        ...

    def region_name(self, code: str, language: str) -> str:
        """A region's name in ``language`` (the code when unknown)."""
        ...


@dataclass(frozen=True)
class Backend:
    """The stores the API reads and writes, and the display names of codes (optional)."""

    threads: ThreadReader
    accounts: Identities
    names: Names | None = None


@dataclass(frozen=True)
class ApiResponse:
    """A status and a JSON body."""

    status: int
    body: JsonObject
    allow: str = ""

    def encoded(self) -> bytes:
        """The body as UTF-8 JSON."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ApiError(Exception):
    """A request the API answers with an error status."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        """Record the status and the error code (and a short detail for the client)."""
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.detail = detail

    def response(self) -> ApiResponse:
        """The error as a reply."""
        body: JsonObject = {"error": self.error}
        if self.detail:
            body["detail"] = self.detail
        return ApiResponse(self.status, body, self.detail if self.status == 405 else "")


class LazyBackend:
    """Opens the backend on first use (never at import or construction), once."""

    def __init__(self, open_backend: Callable[[], Backend]) -> None:
        """Call ``open_backend`` when the backend is first needed."""
        self._open = open_backend
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Backend:
        """The backend, opened now if needed (an opening error propagates and is retried next time)."""
        with self._lock:
            if self._backend is None:
                self._backend = self._open()
            return self._backend


def open_default_backend() -> Backend:
    """The configured database (``storage.sql.open_database``) with its own event spool.

    The negotiation store records behaviour events (the owner's first answer) in the serving
    event store; this process spools under ``<var>/spool-webpage`` so it never shares a spool
    file with the action server.
    """
    from behaviour.spool import SpoolingEventStore
    from matchmaker.accounts import SQLiteAccountStore
    from matchmaker.event_stores import primary_event_store
    from matchmaker.negotiation_store import SQLiteNegotiationStore
    from matchmaker.settings import load_settings
    from nlu.lexicon import Lexicon
    from storage.sql import open_database

    settings = load_settings()
    events = SpoolingEventStore(primary_event_store(settings), settings.var_dir / "spool-webpage")
    store = SQLiteNegotiationStore(open_database(settings), events=events)
    return Backend(store, SQLiteAccountStore(open_database(settings)), Lexicon.load(settings.lexicon_path))


class ThreadApi:
    """Routes the thread API's requests to the stores; every answer is an :class:`ApiResponse`."""

    def __init__(self, backend: Callable[[], Backend]) -> None:
        """Use the stores ``backend()`` returns (see :class:`LazyBackend`)."""
        self._backend = backend

    @staticmethod
    def handles(path: str) -> bool:
        """Whether a URL path belongs to the API."""
        return path == "/api/threads" or path.startswith("/api/threads/") or path == "/api"

    def handle(self, method: str, path: str, session: str | None, body: bytes | None) -> ApiResponse:
        """Answer one request; any failure becomes an error reply (a 503 when unexpected).

        Args:
            method: ``GET``, ``HEAD`` or ``POST``.
            path: the URL path (no query).
            session: the ``X-Session-Id`` header, or ``None`` when absent.
            body: the request body (POST).
        """
        try:
            return self._route(method, path, session, body)
        except ApiError as error:
            return error.response()
        except NoSuchThread:
            return ApiResponse(404, {"error": "not_found"})
        except Exception:
            logger.exception("thread API %s %s failed", method, path)
            return ApiResponse(503, {"error": "unavailable"})

    def _route(self, method: str, path: str, session: str | None, body: bytes | None) -> ApiResponse:
        if path == "/api/threads":
            _allow(method, ("GET", "HEAD"))
            return self.list_threads(self._viewer(session))
        if match := THREAD_PATH.fullmatch(path):
            _allow(method, ("GET", "HEAD"))
            return self.read_thread(self._viewer(session), int(match.group(1)))
        if match := MESSAGES_PATH.fullmatch(path):
            _allow(method, ("POST",))
            viewer = self._viewer(session)
            return self.post_message(viewer, int(match.group(1)), _json_object(body))
        raise ApiError(404, "not_found")

    def _viewer(self, session: str | None) -> str:
        """The participant id of the request's web session (checked before the body is parsed).

        Raises:
            ApiError: 401 when the header is missing or not a web session id.
        """
        checked = viewer_session(session)
        if checked is None:
            raise ApiError(401, "unauthorized")
        return self._backend().accounts.acting_id(checked)

    def list_threads(self, viewer: str) -> ApiResponse:
        """``{"threads": [summary, ...]}``, most recent first."""
        backend = self._backend()
        store = backend.threads
        threads = store.for_participant(viewer)[:MAX_THREADS]
        summaries = [thread_summary(t, viewer, store.counterpart_view(t, viewer), backend.names) for t in threads]
        return ApiResponse(200, {"threads": summaries})

    def read_thread(self, viewer: str, thread_id: int) -> ApiResponse:
        """``{"thread": summary, "messages": [...], "proposal": card or null}``.

        Raises:
            NoSuchThread: a missing thread or one the viewer is not a party of.
        """
        backend = self._backend()
        store = backend.threads
        thread = store.thread(thread_id, viewer)
        view = store.counterpart_view(thread, viewer)
        messages = store.messages(thread.id, viewer)
        proposal = current_proposal(store.proposals(thread.id, viewer))
        return ApiResponse(200, {
            "thread": {**thread_summary(thread, viewer, view, backend.names), "context": thread.context},
            "messages": [message_json(m, viewer) for m in messages],
            "proposal": None if proposal is None else proposal_json(proposal, viewer),
        })

    def post_message(self, viewer: str, thread_id: int, request: JsonObject) -> ApiResponse:
        """Store the viewer's message; 201 when stored now, 200 when the client key was seen before.

        Raises:
            ApiError: 400 for wrong types or a bad message, 409 when the thread takes no messages.
            NoSuchThread: a missing thread or one the viewer is not a party of.
        """
        text, key = request.get("body"), request.get("client_key")
        if not isinstance(text, str) or not isinstance(key, str):
            raise ApiError(400, "bad_request", "body and client_key must be strings")
        store = self._backend().threads
        try:
            message, created = store.post_message(thread_id, viewer, text, key)
        except NoSuchThread:
            raise
        except NegotiationError as error:
            status = 409 if error.code == "bad_state" else 400
            raise ApiError(status, error.code, str(error)) from error
        return ApiResponse(201 if created else 200, {"message": message_json(message, viewer), "created": created})


def viewer_session(raw: str | None) -> str | None:
    """The web session id of a request header, or ``None`` when it is not one."""
    if raw is None:
        return None
    session = raw.strip()
    return session if SESSION_PATTERN.fullmatch(session) else None


def _allow(method: str, allowed: Sequence[str]) -> None:
    if method not in allowed:
        raise ApiError(405, "method_not_allowed", ", ".join(allowed))


def _json_object(body: bytes | None) -> JsonObject:
    """The request body as a JSON object.

    Raises:
        ApiError: 400 when it is missing, not UTF-8 JSON or not an object.
    """
    try:
        decoded = json.loads((body or b"").decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "bad_request", "the body must be a JSON object") from error
    if not isinstance(decoded, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return decoded


def who(sender_id: str, viewer: str) -> str:
    """``me``, ``them`` or ``platform`` (a move with no acting party, such as an expiry)."""
    if not sender_id:
        return "platform"
    return "me" if sender_id == viewer else "them"


def display_names(region: str, field: str, names: Names | None) -> JsonObject:
    """``{"zh": {"region", "field"}, "en": {...}}`` for codes (the codes themselves without names)."""
    return {lang: {"region": names.region_name(region, lang) if names and region else region,
                   "field": names.field_name(field, lang) if names and field else field}
            for lang in LANGUAGES}


def counterpart_json(view: CounterpartView, names: Names | None = None) -> JsonObject:
    """The counterpart as the viewer may see it (name and contact only once disclosed)."""
    return {"role": view.role, "org_type": view.org_type, "region": view.region, "field": view.field,
            "names": display_names(view.region, view.field, names),
            "disclosed": view.disclosed, "name": view.name if view.disclosed else None,
            "contact": view.contact if view.disclosed else None}


def thread_summary(thread: Thread, viewer: str, view: CounterpartView, names: Names | None = None) -> JsonObject:
    """One thread in a list: state, the viewer's role, the counterpart and the listing."""
    return {"id": thread.id, "state": thread.state, "my_role": thread.role_of(viewer),
            "can_write": thread.state in MESSAGE_STATES, "created_at": thread.created_at,
            "updated_at": thread.updated_at, "counterpart": counterpart_json(view, names),
            "listing": None if view.listing is None else asdict(view.listing)}


def message_json(message: Message, viewer: str) -> JsonObject:
    """One message: its number, who sent it (relative to the viewer), kind, body and known data."""
    data = {k: v for k, v in message.data.items() if k in DATA_KEYS}
    return {"seq": message.seq, "from": who(message.sender_id, viewer), "kind": message.kind,
            "body": message.body, "data": data, "created_at": message.created_at}


def current_proposal(proposals: Sequence[Proposal]) -> Proposal | None:
    """The pending proposal, else the accepted one (the deal), else ``None``."""
    for state in ("open", "accepted"):
        found = [p for p in proposals if p.state == state]
        if found:
            return found[-1]
    return None


def proposal_json(proposal: Proposal, viewer: str) -> JsonObject:
    """A proposal card: terms, state and who proposed it."""
    terms = proposal.terms
    return {"id": proposal.id, "state": proposal.state, "from": who(proposal.proposer_id, viewer),
            "kind": terms.kind, "price_yuan": terms.price_yuan, "duration_days": terms.duration_days,
            "milestones": list(terms.milestones), "created_at": proposal.created_at,
            "supersedes": proposal.supersedes}
