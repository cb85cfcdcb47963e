"""Participants, channel identities and one-time invite codes, on both backends."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import replace

import pytest

from matchmaker.accounts import AccountError, SQLiteAccountStore, demo_owner_invite, main, normalise_code
from matchmaker.listings import Listing, SQLiteListingStore
from tests.contract.conftest import Backend
from tests.unit.fakes import Clock

EASTLAKE = "Eastlake Medical University (demo)"
EASTLAKE_ID = "org:eastlake-medical-university--demo-"
CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}$")



def _listing() -> Listing:
    return Listing(id=0, kind="achievement", title="Bone scaffold", text="A printed bone scaffold.",
                   owner_id=EASTLAKE_ID, owner_name=EASTLAKE, owner_type="university", listing_type="paper",
                   region="hubei", field="biomedicine", maturity=5, language="en", source="t:1")


@pytest.fixture()
def db(backend: Backend) -> Backend:
    SQLiteListingStore(backend.connect()).add(_listing())
    return backend


@pytest.fixture()
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture()
def accounts(db: Backend, clock: Clock) -> SQLiteAccountStore:
    return SQLiteAccountStore(db.connect(), clock)


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


def test_codes_are_stored_only_as_hashes(accounts: SQLiteAccountStore, db: Backend) -> None:
    code = accounts.invite(None, EASTLAKE_ID)
    stored = [row[0] for row in db.connect().execute("SELECT code_hash FROM invite_codes")]
    assert stored == [hashlib.sha256(normalise_code(code).encode()).hexdigest()]
    dump = db.dump()
    assert stored[0] in dump
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


def test_of_concurrent_redeems_of_one_code_exactly_one_wins(db: Backend, clock: Clock) -> None:
    code = SQLiteAccountStore(db.connect(), clock).invite(EASTLAKE, None)
    stores = [SQLiteAccountStore(db.connect(), clock) for _ in range(6)]
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


def test_the_command_line_uses_the_configured_database(db: Backend, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    monkeypatch.setenv("MATCHMAKER_PROFILE", "embedded")
    for name, value in db.env().items():
        monkeypatch.setenv(name, value)
    assert main(["invite", "--owner-id", EASTLAKE_ID, "--role", "member"]) == 0
    code = re.search(r"invite code: (\S+)", capsys.readouterr().out)
    assert code is not None
    assert SQLiteAccountStore(db.connect()).redeem(code.group(1), "web:abc").id == EASTLAKE_ID


def test_the_language_of_a_sender_is_remembered_and_replaced(accounts: SQLiteAccountStore, clock: Clock) -> None:
    assert accounts.language_of("web:abc") == "zh" and accounts.language_of("web:abc", "en") == "en"
    accounts.remember_language("web:abc", "en")
    clock.now += 10
    accounts.remember_language("web:abc", "en")
    accounts.remember_language("tg:7", "zh")
    assert (accounts.language_of("web:abc"), accounts.language_of("tg:7")) == ("en", "zh")
    accounts.remember_language("web:abc", "zh")
    assert accounts.language_of("web:abc", "en") == "zh"


def test_the_demo_invite_is_for_the_owner_of_most_demo_achievements(db: Backend, accounts: SQLiteAccountStore) -> None:
    listings = SQLiteListingStore(db.connect())
    assert demo_owner_invite(accounts, db.connect()) is None
    for n, (owner, title) in enumerate([("org:b-lab", "Zeta"), ("org:b-lab", "Alpha"), ("org:a-lab", "Beta"),
                                        ("org:c-lab", "Gamma")]):
        listings.add(replace(_listing(), owner_id=owner, owner_name=owner[4:], title=title, source=f"scifact:{n}"))
    listings.add(replace(_listing(), owner_id="org:a-lab", kind="demand", source="scifact:demand"))
    listings.add(replace(_listing(), owner_id="org:a-lab", source="chat:org:a-lab:1"))
    found = demo_owner_invite(accounts, db.connect())
    assert found is not None
    assert (found.invite.participant.id, found.listings, found.example_title) == ("org:b-lab", 2, "Alpha")
    assert accounts.redeem(found.invite.code, "web:demo").id == "org:b-lab"
