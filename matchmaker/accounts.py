"""Participants, their channel identities and the one-time invite codes that link them.

A participant acts for an organisation; the sender ids it talks through (REST, web,
``tg:<chat id>``, ``wx:<openid>``) are its channel identities. An operator creates an invite
code for an organisation (``python -m matchmaker.accounts invite --org NAME``); whoever says
the code in a chat links that sender id to the organisation's participant. A sender id that
was never linked is an anonymous enterprise contact whose participant id is the sender id
itself (:meth:`SQLiteAccountStore.acting_id`).

Codes are 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as
``K7QX-29PM``; only their SHA-256 hash is stored, with an expiry, and a code links once.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from matchmaker.db import migrate, transaction
from storage.sql import Connection, Row, table_names

ROLES = ("member", "intermediary")
ORG_TYPES = ("enterprise", "university", "institute", "intermediary", "individual")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
DEFAULT_TTL_SECONDS = 86400
MAX_CONTACT_CHARS = 300
SCHEMA_NAME = "accounts"
ORG_PREFIX = "org:"
ANONYMOUS_PREFIX = "anon:"


class AccountError(ValueError):
    """An account operation was refused; ``reason`` says why (for a reply in zh or en).

    Reasons: ``unknown`` (no such code), ``used``, ``expired`` (redeeming); ``unknown_owner``,
    ``bad_request``, ``bad_role``, ``role_conflict`` (inviting); ``unknown_participant``,
    ``bad_contact`` (contact details).
    """

    def __init__(self, reason: str, message: str) -> None:
        """Record the reason code next to the human-readable message."""
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Participant:
    """A person or office acting for an organisation."""

    id: str
    display_name: str
    org_type: str
    role: str
    region: str = ""
    field: str = ""
    contact: str = ""
    covers_fields: tuple[str, ...] = ()
    covers_regions: tuple[str, ...] = ()

    def covers(self, field: str, region: str) -> bool:
        """Whether an intermediary covers ``field`` in ``region`` (an empty coverage covers all)."""
        if self.role != "intermediary":
            return False
        fields_ok = not self.covers_fields or "*" in self.covers_fields or field in self.covers_fields
        regions_ok = not self.covers_regions or "*" in self.covers_regions or region in self.covers_regions
        return fields_ok and regions_ok


@dataclass(frozen=True)
class Invite:
    """A code that was just created, with what it links to and until when."""

    code: str
    participant: Participant
    expires_at: float


class AccountStore(Protocol):
    """Participants, identities and invite codes."""

    def invite(self, org_name: str | None, owner_id: str | None, role: str = "member",
               ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """Create a one-time code for an organisation's participant; return the code."""
        ...

    def redeem(self, code: str, sender_id: str) -> Participant:
        """Link ``sender_id`` to the participant of ``code``."""
        ...

    def create_invite(self, org_name: str | None, owner_id: str | None, role: str = "member",
                      ttl_seconds: int = DEFAULT_TTL_SECONDS) -> Invite:
        """Like :meth:`invite`, returning the participant and the expiry with the code."""
        ...

    def acting_id(self, sender_id: str) -> str:
        """The participant id ``sender_id`` acts as (an anonymous contact's id when not linked)."""
        ...

    def participant(self, participant_id: str) -> Participant | None:
        """The stored participant, or ``None`` (anonymous or unknown)."""
        ...

    def identities(self, participant_id: str) -> list[str]:
        """The sender ids linked to a participant, oldest link first."""
        ...

    def set_contact(self, participant_id: str, contact: str) -> Participant:
        """Replace a participant's contact details."""
        ...

    def remember_language(self, sender_id: str, language: str) -> None:
        """Keep the language a sender id last wrote in."""
        ...

    def intermediaries(self) -> list[Participant]:
        """Every intermediary, by id."""
        ...

    def set_coverage(self, participant_id: str, fields: Sequence[str], regions: Sequence[str]) -> Participant:
        """Set the fields and regions an intermediary covers."""
        ...

    def language_of(self, sender_id: str, default: str = "zh") -> str:
        """The language a sender id last wrote in."""
        ...


_STEPS = (
    """
    CREATE TABLE participants (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        org_type TEXT NOT NULL,
        role TEXT NOT NULL,
        region TEXT NOT NULL DEFAULT '',
        field TEXT NOT NULL DEFAULT '',
        contact TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE channel_identities (
        sender_id TEXT PRIMARY KEY,
        participant_id TEXT NOT NULL REFERENCES participants(id),
        linked_at REAL NOT NULL
    );
    CREATE INDEX channel_identities_participant ON channel_identities(participant_id, linked_at);
    CREATE TABLE invite_codes (
        code_hash TEXT PRIMARY KEY,
        participant_id TEXT NOT NULL REFERENCES participants(id),
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        used_at REAL,
        used_by TEXT
    );
    """,
    """
    CREATE TABLE identity_languages (
        sender_id TEXT PRIMARY KEY,
        language TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE participants ADD COLUMN covers_fields TEXT NOT NULL DEFAULT '';
    ALTER TABLE participants ADD COLUMN covers_regions TEXT NOT NULL DEFAULT '';
    CREATE INDEX participants_role ON participants(role);
    """,
)


def normalise_code(code: str) -> str:
    """The canonical form of a typed code: upper case, without dashes and spaces."""
    return "".join(ch for ch in code.upper() if ch not in "- \t\n")


def hash_code(code: str) -> str:
    """The SHA-256 hex digest under which a code is stored."""
    return hashlib.sha256(normalise_code(code).encode("ascii", "replace")).hexdigest()


def new_code() -> str:
    """A random code shown as ``XXXX-XXXX``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def org_slug(name: str) -> str:
    """The participant id of an organisation by name (the rule the demo owner ids follow)."""
    return "org:" + "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


class SQLiteAccountStore:
    """Accounts in the SQL database (SQLite or PostgreSQL), next to the listings."""

    def __init__(self, connection: Connection, clock: Callable[[], float] = time.time,
                 lock: threading.RLock | None = None) -> None:
        """Use ``connection`` (``storage.sql.open_database``) and migrate the schema.

        Args:
            connection: the database connection.
            clock: the time source (tests inject one to expire codes).
            lock: the writer lock, when another store shares ``connection`` (default: its own).
        """
        self._db = connection
        self._clock = clock
        self._lock = lock or threading.RLock()
        with self._lock:
            migrate(self._db, SCHEMA_NAME, _STEPS)

    def invite(self, org_name: str | None, owner_id: str | None, role: str = "member",
               ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """Create a one-time code linking a sender id to an organisation's participant.

        The participant is found or created: by listing owner id (``owner_id``), or by name
        (``org_name``, looked up among listing owners; an unknown name creates
        ``org:<slug>``).

        Args:
            org_name: the organisation's name, or ``None`` when ``owner_id`` is given.
            owner_id: a listing owner id or participant id, or ``None``.
            role: ``member`` or ``intermediary``.
            ttl_seconds: how long the code stays valid.

        Returns:
            The code, e.g. ``K7QX-29PM``.

        Raises:
            AccountError: ``bad_request`` (neither or both of name and id, bad ttl),
                ``bad_role``, ``unknown_owner`` (an owner id no listing or participant has) or
                ``role_conflict`` (the participant exists with another role).
        """
        return self.create_invite(org_name, owner_id, role, ttl_seconds).code

    def create_invite(self, org_name: str | None, owner_id: str | None, role: str = "member",
                      ttl_seconds: int = DEFAULT_TTL_SECONDS) -> Invite:
        """Like :meth:`invite`, returning the participant and the expiry with the code."""
        _check_invite(org_name, owner_id, role, ttl_seconds)
        code = new_code()
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            participant = self._find_or_create(db, org_name, owner_id, role, now)
            db.execute("INSERT INTO invite_codes (code_hash, participant_id, created_at, expires_at)"
                       " VALUES (?, ?, ?, ?)", (hash_code(code), participant.id, now, now + ttl_seconds))
        return Invite(code, participant, now + ttl_seconds)

    def redeem(self, code: str, sender_id: str) -> Participant:
        """Link ``sender_id`` to the code's participant; the code cannot be used again.

        A sender id linked before moves to the new participant. Codes are read
        case-insensitively, ignoring dashes and spaces. Of two concurrent redeems of one code
        exactly one succeeds.

        Raises:
            AccountError: ``unknown``, ``used`` or ``expired``; nothing is changed then.
        """
        if not sender_id:
            raise AccountError("bad_request", "sender_id must not be empty")
        digest = hash_code(code)
        now = self._clock()
        with transaction(self._db, self._lock) as db:
            row = db.execute("SELECT * FROM invite_codes WHERE code_hash = ?", (digest,)).fetchone()
            if row is None:
                raise AccountError("unknown", "no such invite code")
            if row["used_at"] is not None:
                raise AccountError("used", "this invite code was already used")
            if float(row["expires_at"]) <= now:
                raise AccountError("expired", "this invite code has expired")
            db.execute("UPDATE invite_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                       (now, sender_id, digest))
            db.execute("INSERT INTO channel_identities (sender_id, participant_id, linked_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (sender_id) DO UPDATE SET participant_id = excluded.participant_id,"
                       " linked_at = excluded.linked_at", (sender_id, row["participant_id"], now))
            found = _participant(db, row["participant_id"])
        if found is None:
            raise AccountError("unknown", "the invite code's participant no longer exists")
        return found

    def acting_id(self, sender_id: str) -> str:
        """The participant id linked to ``sender_id``, or the id of an anonymous contact.

        An unlinked sender acts as itself, unless its id is that of an organisation
        (``org:...``) or of a stored participant: nobody becomes a participant by choosing a
        sender id, only by redeeming a code; such a sender acts as ``anon:<sender id>``.
        """
        with self._lock:
            row = self._db.execute("SELECT participant_id FROM channel_identities WHERE sender_id = ?",
                                   (sender_id,)).fetchone()
            if row is not None:
                return str(row[0])
            taken = sender_id.startswith(ORG_PREFIX) or _participant(self._db, sender_id) is not None
        return ANONYMOUS_PREFIX + sender_id if taken else sender_id

    def participant(self, participant_id: str) -> Participant | None:
        """The stored participant, or ``None`` for an anonymous or unknown id."""
        with self._lock:
            return _participant(self._db, participant_id)

    def identities(self, participant_id: str) -> list[str]:
        """Sender ids linked to ``participant_id``, oldest link first."""
        with self._lock:
            rows = self._db.execute("SELECT sender_id FROM channel_identities WHERE participant_id = ?"
                                    " ORDER BY linked_at, sender_id", (participant_id,)).fetchall()
        return [str(r[0]) for r in rows]

    def remember_language(self, sender_id: str, language: str) -> None:
        """Keep the language ``sender_id`` last wrote in, for messages pushed to it later."""
        with transaction(self._db, self._lock) as db:
            db.execute("INSERT INTO identity_languages (sender_id, language, updated_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (sender_id) DO UPDATE SET language = excluded.language,"
                       " updated_at = excluded.updated_at WHERE identity_languages.language != excluded.language",
                       (sender_id, language[:8], self._clock()))

    def language_of(self, sender_id: str, default: str = "zh") -> str:
        """The language ``sender_id`` last wrote in (``default`` when never seen)."""
        with self._lock:
            row = self._db.execute("SELECT language FROM identity_languages WHERE sender_id = ?",
                                   (sender_id,)).fetchone()
        return str(row[0]) if row is not None else default

    def intermediaries(self) -> list[Participant]:
        """Every participant with the intermediary role, by id."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM participants WHERE role = 'intermediary' ORDER BY id").fetchall()
        return [_row_participant(r) for r in rows]

    def set_coverage(self, participant_id: str, fields: Sequence[str], regions: Sequence[str]) -> Participant:
        """Set the fields and regions an intermediary covers (empty or ``*``: all).

        Raises:
            AccountError: ``unknown_participant`` (no such intermediary).
        """
        with transaction(self._db, self._lock) as db:
            changed = db.execute("UPDATE participants SET covers_fields = ?, covers_regions = ? WHERE id = ?"
                                 " AND role = 'intermediary'", (_joined(fields), _joined(regions),
                                                               participant_id)).rowcount
            found = _participant(db, participant_id)
        if not changed or found is None:
            raise AccountError("unknown_participant", f"no intermediary {participant_id!r}")
        return found

    def set_contact(self, participant_id: str, contact: str) -> Participant:
        """Replace the contact details shown to counterparts once a thread is disclosed.

        Raises:
            AccountError: ``bad_contact`` (empty or longer than 300 characters) or
                ``unknown_participant``.
        """
        text = contact.strip()
        if not text or len(text) > MAX_CONTACT_CHARS:
            raise AccountError("bad_contact", f"contact details must be 1-{MAX_CONTACT_CHARS} characters")
        with transaction(self._db, self._lock) as db:
            changed = db.execute("UPDATE participants SET contact = ? WHERE id = ?", (text, participant_id)).rowcount
            found = _participant(db, participant_id)
        if not changed or found is None:
            raise AccountError("unknown_participant", f"no participant {participant_id!r}")
        return found

    def _find_or_create(self, db: Connection, org_name: str | None, owner_id: str | None,
                        role: str, now: float) -> Participant:
        if owner_id is not None:
            found = _participant(db, owner_id) or _from_listings(db, "owner_id", owner_id, role)
            if found is None:
                raise AccountError("unknown_owner", f"no listing owner or participant {owner_id!r}")
        else:
            name = (org_name or "").strip()
            found = _from_listings(db, "owner_name", name, role) or _new_org(name, role)
            found = _participant(db, found.id) or found
        if found.role != role:
            raise AccountError("role_conflict", f"{found.id} is a {found.role}, not a {role}")
        db.execute("INSERT OR IGNORE INTO participants (id, display_name, org_type, role, region, field, contact,"
                   " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (found.id, found.display_name, found.org_type, found.role, found.region, found.field,
                    found.contact, now))
        return found


@dataclass(frozen=True)
class DemoInvite:
    """A ready code for the demo owner with the most listings, and one of its listings' titles."""

    invite: Invite
    listings: int
    example_title: str


def demo_owner_invite(store: SQLiteAccountStore, connection: Connection) -> DemoInvite | None:
    """A code for the demo organisation that owns the most English achievements (``None``: no demo)."""
    row = connection.execute(
        "SELECT owner_id, COUNT(*) AS n, MIN(title) AS title FROM listings WHERE kind = 'achievement'"
        " AND source LIKE 'scifact:%' GROUP BY owner_id ORDER BY n DESC, owner_id LIMIT 1").fetchone()
    if row is None:
        return None
    return DemoInvite(store.create_invite(None, str(row[0])), int(row[1]), str(row[2]))


def _check_invite(org_name: str | None, owner_id: str | None, role: str, ttl_seconds: int) -> None:
    if (org_name is None or not org_name.strip()) == (owner_id is None or not owner_id.strip()):
        raise AccountError("bad_request", "give an organisation name or an owner id (one of them)")
    if role not in ROLES:
        raise AccountError("bad_role", f"role must be one of {ROLES}")
    if ttl_seconds <= 0:
        raise AccountError("bad_request", "ttl_seconds must be positive")


def _participant(db: Connection, participant_id: str) -> Participant | None:
    row = db.execute("SELECT * FROM participants WHERE id = ?", (participant_id,)).fetchone()
    return None if row is None else _row_participant(row)


def _row_participant(row: Row) -> Participant:
    return Participant(row["id"], row["display_name"], row["org_type"], row["role"], row["region"],
                       row["field"], row["contact"], _split(row["covers_fields"]), _split(row["covers_regions"]))


def _joined(values: Sequence[str]) -> str:
    return ",".join(sorted({v.strip() for v in values if v.strip()}))


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def _from_listings(db: Connection, column: str, value: str, role: str) -> Participant | None:
    """The participant of a listing owner, from the listings table when there is one."""
    if "listings" not in table_names(db):
        return None
    row = db.execute(f"SELECT owner_id, owner_name, owner_type, region, field FROM listings WHERE {column} = ?"
                     " ORDER BY id LIMIT 1", (value,)).fetchone()
    if row is None:
        return None
    return Participant(row["owner_id"], row["owner_name"], row["owner_type"], role, row["region"], row["field"])


def _new_org(name: str, role: str) -> Participant:
    participant_id = org_slug(name)
    if participant_id == "org:":
        raise AccountError("bad_request", f"cannot make an id from the name {name!r}")
    return Participant(participant_id, name, "intermediary" if role == "intermediary" else "enterprise", role)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m matchmaker.accounts", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    invite = commands.add_parser("invite", help="create a one-time code that links a chat user to an organisation")
    which = invite.add_mutually_exclusive_group(required=True)
    which.add_argument("--org", help="organisation name, as on its listings (a new name creates it)")
    which.add_argument("--owner-id", help="listing owner id, e.g. org:eastlake-medical-university--demo-")
    invite.add_argument("--role", choices=ROLES, default="member")
    invite.add_argument("--ttl-hours", type=float, default=DEFAULT_TTL_SECONDS / 3600)
    invite.add_argument("--fields", default="", help="an intermediary's fields, comma-separated (default: all)")
    invite.add_argument("--regions", default="", help="an intermediary's regions, comma-separated (default: all)")
    return parser


def main(argv: Sequence[str] | None = None, store: AccountStore | None = None) -> int:
    """Command line: ``invite --org NAME | --owner-id ID [--role intermediary]``.

    Args:
        argv: the arguments (default: the process's).
        store: the account store (default: the configured database).

    Returns:
        The exit status: 0 on success, 2 when the request is refused.
    """
    args = _parser().parse_args(argv)
    if store is None:
        from matchmaker.settings import load_settings
        from storage.sql import open_database

        store = SQLiteAccountStore(open_database(load_settings()))
    try:
        ttl = int(args.ttl_hours * 3600)
        if args.role != "intermediary" and (args.fields or args.regions):
            raise AccountError("bad_request", "--fields and --regions are for intermediaries")
        invite = store.create_invite(args.org, args.owner_id, role=args.role, ttl_seconds=ttl)
        code = invite.code
        if args.role == "intermediary":
            store.set_coverage(invite.participant.id, args.fields.split(","), args.regions.split(","))
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    who = args.owner_id or args.org
    print(f"invite code: {code}")
    print(f"links a chat user to {who} as {args.role}; valid for {ttl / 3600:g} hours, once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
