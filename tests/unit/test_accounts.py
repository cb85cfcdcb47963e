"""Participants, channel identities and one-time invite codes."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from pathlib import Path

import pytest

from matchmaker.accounts import AccountError, SQLiteAccountStore, main, normalise_code
from matchmaker.listings import Listing, SQLiteListingStore, connect

EASTLAKE = "Eastlake Medical University (demo)"
EASTLAKE_ID = "org:eastlake-medical-university--demo-"
CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}$")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _listing() -> Listing:
    return Listing(id=0, kind="achievement", title="Bone scaffold", text="A printed bone scaffold.",
                   owner_id=EASTLAKE_ID, owner_name=EASTLAKE, owner_type="university", listing_type="paper",
                   region="hubei", field="biomedicine", maturity=5, language="en", source="t:1")


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "matchmaker.db"
    SQLiteListingStore(connect(path)).add(_listing())
    return path


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def accounts(db_path: Path, clock: Clock) -> SQLiteAccountStore:
    return SQLiteAccountStore(connect(db_path), clock)


def test_an_invite_for_a_demo_owner_links_the_redeemer_to_the_listing_owner(accounts: SQLiteAccountStore) -> None:
    code = accounts.invite(EASTLAKE, None)
    assert CODE.match(code)
    assert accounts.acting_id("rest-user") == "rest-user"
    participant = accounts.redeem(f"  {code.lower()[:4]} {code.lower()[5:]} ", "rest-user")
    assert participant.id == EASTLAKE_ID
    assert (participant.display_name, participant.org_type, participant.role) == (EASTLAKE, "university", "member")
    assert (participant.region, participant.field) == ("hubei", "biomedicine")
    assert accounts.acting_id("rest-user") == EASTLAKE_ID
    assert accounts.identities(EASTLAKE_ID) == ["rest-user"]
    assert accounts.participant(EASTLAKE_ID) == participant


def test_codes_are_stored_only_as_hashes(accounts: SQLiteAccountStore, db_path: Path) -> None:
    code = accounts.invite(None, EASTLAKE_ID)
    raw = sqlite3.connect(str(db_path))
    stored = [row[0] for row in raw.execute("SELECT code_hash FROM invite_codes")]
    assert stored == [hashlib.sha256(normalise_code(code).encode()).hexdigest()]
    dump = "\n".join(raw.iterdump())
    assert normalise_code(code) not in dump and code not in dump


def test_a_wrong_code_is_unknown_and_changes_nothing(accounts: SQLiteAccountStore) -> None:
    accounts.invite(EASTLAKE, None)
    with pytest.raises(AccountError) as refused:
        accounts.redeem("AAAA-AAAA", "rest-user")
    assert refused.value.reason == "unknown"
    assert accounts.acting_id("rest-user") == "rest-user"
    assert accounts.identities(EASTLAKE_ID) == []


def test_a_code_links_once(accounts: SQLiteAccountStore) -> None:
    code = accounts.invite(EASTLAKE, None)
    accounts.redeem(code, "first")
    with pytest.raises(AccountError) as refused:
        accounts.redeem(code, "second")
    assert refused.value.reason == "used"
    assert accounts.acting_id("second") == "second"
    assert accounts.identities(EASTLAKE_ID) == ["first"]


def test_an_expired_code_is_refused(accounts: SQLiteAccountStore, clock: Clock) -> None:
    code = accounts.invite(EASTLAKE, None, ttl_seconds=3600)
    clock.now += 3599
    still_valid = accounts.invite(EASTLAKE, None, ttl_seconds=3600)
    clock.now += 2
    with pytest.raises(AccountError) as refused:
        accounts.redeem(code, "late")
    assert refused.value.reason == "expired"
    assert accounts.acting_id("late") == "late"
    assert accounts.redeem(still_valid, "late").id == EASTLAKE_ID


def test_of_concurrent_redeems_of_one_code_exactly_one_wins(db_path: Path, clock: Clock) -> None:
    code = SQLiteAccountStore(connect(db_path), clock).invite(EASTLAKE, None)
    stores = [SQLiteAccountStore(connect(db_path), clock) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def redeem(index: int) -> None:
        barrier.wait()
        try:
            stores[index].redeem(code, f"sender-{index}")
            outcomes.append("won")
        except AccountError as error:
            outcomes.append(error.reason)

    workers = [threading.Thread(target=redeem, args=(i,)) for i in range(len(stores))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["used"] * 5 + ["won"]
    assert len(stores[0].identities(EASTLAKE_ID)) == 1


def test_an_unknown_organisation_becomes_a_new_participant_once(accounts: SQLiteAccountStore) -> None:
    first = accounts.redeem(accounts.invite("Acme Ceramics Co.", None), "a")
    second = accounts.redeem(accounts.invite("Acme Ceramics Co.", None), "b")
    assert first.id == second.id == "org:acme-ceramics-co"
    assert (first.display_name, first.org_type) == ("Acme Ceramics Co.", "enterprise")
    assert accounts.identities(first.id) == ["a", "b"]


def test_invites_name_the_organisation_once_and_know_their_owners(accounts: SQLiteAccountStore) -> None:
    for org_name, owner_id, reason in [(None, None, "bad_request"), (EASTLAKE, EASTLAKE_ID, "bad_request"),
                                       (None, "org:nobody", "unknown_owner"), ("!!!", None, "bad_request")]:
        with pytest.raises(AccountError) as refused:
            accounts.invite(org_name, owner_id)
        assert refused.value.reason == reason
    with pytest.raises(AccountError) as refused:
        accounts.invite(EASTLAKE, None, role="admin")
    assert refused.value.reason == "bad_role"


def test_roles_are_kept_and_not_silently_changed(accounts: SQLiteAccountStore) -> None:
    broker = accounts.redeem(accounts.invite("Yangtze Tech Transfer", None, role="intermediary"), "broker")
    assert (broker.role, broker.org_type) == ("intermediary", "intermediary")
    with pytest.raises(AccountError) as refused:
        accounts.invite("Yangtze Tech Transfer", None)
    assert refused.value.reason == "role_conflict"


def test_redeeming_again_moves_the_identity(accounts: SQLiteAccountStore) -> None:
    accounts.redeem(accounts.invite(EASTLAKE, None), "tg:42")
    moved = accounts.redeem(accounts.invite("Acme Ceramics Co.", None), "tg:42")
    assert accounts.acting_id("tg:42") == moved.id
    assert accounts.identities(EASTLAKE_ID) == []


def test_contact_details_are_set_on_known_participants_only(accounts: SQLiteAccountStore) -> None:
    accounts.invite(EASTLAKE, None)
    assert accounts.set_contact(EASTLAKE_ID, " tto@eastlake.example ").contact == "tto@eastlake.example"
    stored = accounts.participant(EASTLAKE_ID)
    assert stored is not None and stored.contact == "tto@eastlake.example"
    for participant_id, contact, reason in [("anonymous-1", "x@y.example", "unknown_participant"),
                                            (EASTLAKE_ID, "  ", "bad_contact"),
                                            (EASTLAKE_ID, "x" * 301, "bad_contact")]:
        with pytest.raises(AccountError) as refused:
            accounts.set_contact(participant_id, contact)
        assert refused.value.reason == reason
    assert accounts.participant("anonymous-1") is None


def test_the_command_line_prints_a_code_that_redeems(accounts: SQLiteAccountStore,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--org", EASTLAKE], store=accounts) == 0
    out = capsys.readouterr().out
    code = re.search(r"invite code: (\S+)", out)
    assert code is not None and CODE.match(code.group(1))
    assert "valid for 24 hours" in out
    assert accounts.redeem(code.group(1), "cli-user").id == EASTLAKE_ID


def test_the_command_line_refuses_an_unknown_owner_id(accounts: SQLiteAccountStore,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--owner-id", "org:nobody"], store=accounts) == 2
    assert "org:nobody" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["invite"], store=accounts)


def test_the_command_line_uses_the_configured_database(db_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MATCHMAKER_DB", str(db_path))
    assert main(["invite", "--owner-id", EASTLAKE_ID, "--role", "member"]) == 0
    code = re.search(r"invite code: (\S+)", capsys.readouterr().out)
    assert code is not None
    assert SQLiteAccountStore(connect(db_path)).redeem(code.group(1), "web:abc").id == EASTLAKE_ID
