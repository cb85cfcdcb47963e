"""The intermediaries' desk, on both backends: queues by coverage, round robin, the fallback queue, take/assign/done, notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from matchmaker.accounts import AccountStore
from matchmaker.desk import FALLBACK_QUEUE, DeskError, DeskItem, SQLiteDesk
from matchmaker.negotiation_store import SQLiteNegotiationStore
from tests.contract.conftest import Backend
from tests.unit.fakes import Clock

ALPHA = "org:alpha-brokers"
BETA = "org:beta-brokers"
GAMMA = "org:gamma-brokers"
MEMBER = "org:battery-maker"



@dataclass
class World:
    """A desk whose notices go through a real negotiation store on the same database."""

    desk: SQLiteDesk
    threads: SQLiteNegotiationStore
    accounts: AccountStore
    clock: Clock

    def intermediary(self, name: str, fields: Sequence[str] = (), regions: Sequence[str] = (),
                     identity: str = "") -> str:
        """An intermediary covering ``fields`` in ``regions`` (empty: all), signed in through ``identity``."""
        invite = self.accounts.create_invite(name, None, role="intermediary")
        self.accounts.set_coverage(invite.participant.id, fields, regions)
        if identity:
            self.accounts.redeem(invite.code, identity)
        return invite.participant.id

    def member(self) -> str:
        """An ordinary (non-intermediary) participant, signed in as ``member-rest``."""
        invite = self.accounts.create_invite("Battery Maker", None)
        self.accounts.redeem(invite.code, "member-rest")
        return invite.participant.id

    def enqueue(self, subject: str, field: str = "new_energy", region: str = "jiangsu",
                kind: str = "review") -> DeskItem:
        """A new item, one second after the one before."""
        self.clock.now += 1
        item, created = self.desk.enqueue(kind, subject, field, region, "en", f"Listing {subject}", "user-1")
        assert created
        return item


@pytest.fixture()
def world(backend: Backend) -> World:
    clock = Clock()
    threads = SQLiteNegotiationStore(backend.connect(), clock=clock)
    desk = SQLiteDesk(backend.connect(), threads.accounts, threads.notify, clock=clock)
    return World(desk, threads, threads.accounts, clock)


@pytest.fixture()
def three(world: World) -> World:
    """Alpha covers new energy in Jiangsu, Beta new energy anywhere, Gamma only biomedicine."""
    assert world.intermediary("Alpha Brokers", ["new_energy"], ["jiangsu"], "alpha-rest") == ALPHA
    assert world.intermediary("Beta Brokers", ["new_energy"], [], "beta-rest") == BETA
    assert world.intermediary("Gamma Brokers", ["biomedicine"], ["*"], "gamma-rest") == GAMMA
    return world


def _ids(items: Sequence[DeskItem]) -> list[int]:
    return sorted(item.id for item in items)


def _notice_items(world: World, participant_id: str, body: str = "queue_item") -> list[int]:
    return [int(m.data["item"]) for m in world.threads.notices_for(participant_id) if m.body == body]


# -- queues ------------------------------------------------------------------------------


def test_items_go_round_robin_to_the_intermediaries_covering_them(three: World) -> None:
    items = [three.enqueue(subject) for subject in ("101", "102", "103")]
    assert [item.queue_id for item in items] == [ALPHA, BETA, ALPHA]
    assert [(item.state, item.taken_by) for item in items] == [("open", "")] * 3
    assert _ids(three.desk.queue(ALPHA)) == [items[0].id, items[2].id]
    assert _ids(three.desk.queue(BETA)) == [items[1].id]
    assert three.desk.queue(GAMMA) == []


def test_the_round_robin_follows_coverage_of_field_and_region(three: World) -> None:
    outside_jiangsu = [three.enqueue(subject, region="zhejiang") for subject in ("201", "202")]
    assert [item.queue_id for item in outside_jiangsu] == [BETA, BETA]
    biomedicine = three.enqueue("203", field="biomedicine", region="hubei")
    assert biomedicine.queue_id == GAMMA


def test_the_owner_of_the_queue_is_notified_of_a_new_item(three: World) -> None:
    items = [three.enqueue(subject) for subject in ("101", "102", "103")]
    assert _notice_items(three, ALPHA) == [items[0].id, items[2].id]
    assert _notice_items(three, BETA) == [items[1].id]
    assert _notice_items(three, GAMMA) == []
    notice = three.threads.notices_for(BETA)[0]
    assert (notice.kind, notice.body, notice.client_key) == ("notice", "queue_item", f"desk:{items[1].id}")
    assert dict(notice.data) == {"item": items[1].id, "kind": "review", "summary": "Listing 102",
                                 "field": "new_energy", "region": "jiangsu", "subject": "102"}
    inbox = three.threads.take_inbox("beta-rest")
    assert [(d.thread_id, d.kind, d.body, d.from_role, d.data["item"]) for d in inbox] == [
        (0, "notice", "queue_item", "system", items[1].id)]
    assert three.threads.take_inbox("beta-rest") == []
    assert three.threads.take_inbox("gamma-rest") == []


def test_nobody_covering_puts_the_item_on_the_fallback_queue_every_intermediary_sees(world: World) -> None:
    alpha = world.intermediary("Alpha Brokers", ["biomedicine"], [], "alpha-rest")
    beta = world.intermediary("Beta Brokers", [], ["hubei"], "beta-rest")
    member = world.member()
    item = world.enqueue("301", field="new_energy", region="jiangsu")
    assert item.queue_id == FALLBACK_QUEUE
    assert _ids(world.desk.queue(alpha)) == [item.id]
    assert _ids(world.desk.queue(beta)) == [item.id]
    assert _notice_items(world, alpha) == [item.id]
    assert _notice_items(world, beta) == [item.id]
    assert world.threads.notices_for(member) == []
    assert [d.body for d in world.threads.take_inbox("alpha-rest")] == ["queue_item"]
    assert world.threads.take_inbox("member-rest") == []


def test_a_fallback_item_taken_by_one_leaves_the_others_queues(world: World) -> None:
    alpha = world.intermediary("Alpha Brokers", ["biomedicine"])
    beta = world.intermediary("Beta Brokers", ["biomedicine"])
    item = world.enqueue("302")
    world.desk.take(item.id, beta)
    assert world.desk.queue(alpha) == []
    assert [(i.id, i.state, i.taken_by) for i in world.desk.queue(beta)] == [(item.id, "taken", beta)]


def test_an_intermediary_without_coverage_covers_everything(world: World) -> None:
    anyone = world.intermediary("Alpha Brokers")
    item = world.enqueue("303", field="biomedicine", region="tibet")
    assert item.queue_id == anyone


def test_a_subject_has_one_open_item_until_it_is_done(three: World) -> None:
    first = three.enqueue("101")
    again, created = three.desk.enqueue("review", "101", "biomedicine", "hubei", "zh", "other text", "user-2")
    assert (again, created) == (first, False)
    assert _notice_items(three, ALPHA) == [first.id]
    other_kind, created = three.desk.enqueue("new_listing", "101", "new_energy", "jiangsu", "en", "Listing", "user-1")
    assert created and other_kind.id != first.id
    three.desk.take(first.id, ALPHA)
    three.desk.done(first.id, ALPHA)
    after, created = three.desk.enqueue("review", "101", "new_energy", "jiangsu", "en", "Listing 101", "user-1")
    assert created and after.id not in (first.id, other_kind.id)


def test_an_unknown_kind_or_an_empty_subject_is_a_bad_item(three: World) -> None:
    for kind, subject in (("gossip", "101"), ("review", "")):
        with pytest.raises(DeskError) as refused:
            three.desk.enqueue(kind, subject, "new_energy", "jiangsu", "en", "x", "user-1")
        assert refused.value.code == "bad_item"
    assert three.desk.open_subjects("review") == set()


def test_a_long_summary_is_trimmed(three: World) -> None:
    item, _ = three.desk.enqueue("handoff", "user-5", "new_energy", "jiangsu", "en", "  " + "x" * 400, "user-5")
    assert item.summary == "x" * 300


# -- take, done, assign --------------------------------------------------------------------


def test_take_is_exclusive_and_the_loser_is_told_who_has_it(three: World) -> None:
    item = three.enqueue("101")
    taken = three.desk.take(item.id, GAMMA)
    assert (taken.id, taken.state, taken.taken_by, taken.queue_id) == (item.id, "taken", GAMMA, ALPHA)
    with pytest.raises(DeskError) as refused:
        three.desk.take(item.id, ALPHA)
    assert refused.value.code == "taken"
    assert refused.value.item is not None and refused.value.item.taken_by == GAMMA
    assert three.desk.item(item.id) == taken


def test_taking_ones_own_item_again_returns_it_unchanged(three: World) -> None:
    item = three.enqueue("101")
    taken = three.desk.take(item.id, ALPHA)
    three.clock.now += 60
    assert three.desk.take(item.id, ALPHA) == taken


def test_only_the_taker_finishes_an_item_and_only_once(three: World) -> None:
    item = three.enqueue("101")
    with pytest.raises(DeskError) as open_item:
        three.desk.done(item.id, ALPHA)
    assert open_item.value.code == "not_yours"
    three.desk.take(item.id, ALPHA)
    with pytest.raises(DeskError) as someone_elses:
        three.desk.done(item.id, BETA)
    assert someone_elses.value.code == "not_yours"
    three.clock.now += 5
    finished = three.desk.done(item.id, ALPHA)
    assert (finished.state, finished.taken_by, finished.updated_at) == ("done", ALPHA, three.clock.now)
    with pytest.raises(DeskError) as twice:
        three.desk.done(item.id, ALPHA)
    assert twice.value.code == "done"
    with pytest.raises(DeskError) as take_done:
        three.desk.take(item.id, BETA)
    assert take_done.value.code == "done"
    assert three.desk.queue(ALPHA) == []


def test_an_unknown_item_is_refused_everywhere(three: World) -> None:
    moves = (lambda: three.desk.take(99, ALPHA), lambda: three.desk.done(99, ALPHA),
             lambda: three.desk.assign(99, ALPHA, BETA))
    for move in moves:
        with pytest.raises(DeskError) as refused:
            move()
        assert refused.value.code == "unknown_item"
    assert three.desk.item(99) is None


@pytest.mark.parametrize("who", [MEMBER, "user-1", ""])
def test_only_intermediaries_use_the_desk(three: World, who: str) -> None:
    assert three.member() == MEMBER
    item = three.enqueue("101")
    moves = (lambda: three.desk.queue(who), lambda: three.desk.take(item.id, who),
             lambda: three.desk.assign(item.id, who, BETA), lambda: three.desk.done(item.id, who))
    for move in moves:
        with pytest.raises(DeskError) as refused:
            move()
        assert refused.value.code == "not_intermediary"
    assert three.desk.item(item.id) == item
    assert not three.desk.is_intermediary(who)
    assert three.desk.is_intermediary(ALPHA)


def test_assign_by_display_name_ignores_case_and_tells_the_new_holder(three: World) -> None:
    item = three.enqueue("101")
    three.clock.now += 7
    assigned = three.desk.assign(item.id, ALPHA, "  beta BROKERS ")
    assert (assigned.state, assigned.taken_by, assigned.queue_id, assigned.updated_at) == (
        "taken", BETA, BETA, three.clock.now)
    assert _notice_items(three, BETA, "assigned") == [item.id]
    assert _notice_items(three, ALPHA, "assigned") == []
    assert [i.id for i in three.desk.queue(BETA)] == [item.id]
    assert three.desk.queue(ALPHA) == []


def test_assign_by_id_and_to_oneself(three: World) -> None:
    item = three.enqueue("101")
    assert three.desk.assign(item.id, ALPHA, GAMMA).taken_by == GAMMA
    three.clock.now += 10
    assert three.desk.assign(item.id, GAMMA, "Gamma Brokers").taken_by == GAMMA
    assert _notice_items(three, GAMMA, "assigned") == [item.id]


def test_assign_to_an_unknown_name_is_refused(three: World) -> None:
    item = three.enqueue("101")
    member = three.member()
    for name in ("Delta Brokers", member, "Battery Maker"):
        with pytest.raises(DeskError) as refused:
            three.desk.assign(item.id, ALPHA, name)
        assert refused.value.code == "unknown_intermediary"
    assert three.desk.item(item.id) == item


def test_assign_of_an_item_a_third_intermediary_took_is_refused(three: World) -> None:
    item = three.enqueue("101")
    three.desk.take(item.id, GAMMA)
    with pytest.raises(DeskError) as refused:
        three.desk.assign(item.id, ALPHA, "Beta Brokers")
    assert refused.value.code == "taken"
    assert refused.value.item is not None and refused.value.item.taken_by == GAMMA
    still = three.desk.item(item.id)
    assert still is not None and (still.state, still.taken_by) == ("taken", GAMMA)
    handed_on = three.desk.assign(item.id, GAMMA, "Beta Brokers")
    assert handed_on.taken_by == BETA


def test_assign_of_a_done_item_is_refused(three: World) -> None:
    item = three.enqueue("101")
    three.desk.take(item.id, ALPHA)
    three.desk.done(item.id, ALPHA)
    with pytest.raises(DeskError) as refused:
        three.desk.assign(item.id, ALPHA, "Beta Brokers")
    assert refused.value.code == "done"


def test_display_names_come_from_accounts(three: World) -> None:
    assert three.desk.display_name(BETA) == "Beta Brokers"
    assert three.desk.display_name("user-1") == "user-1"


def test_a_silent_desk_stores_items_without_notices(backend: Backend) -> None:
    clock = Clock()
    threads = SQLiteNegotiationStore(backend.connect(), clock=clock)
    invite = threads.accounts.create_invite("Alpha Brokers", None, role="intermediary")
    threads.accounts.redeem(invite.code, "alpha-rest")
    desk = SQLiteDesk(backend.connect(), threads.accounts, None, clock=clock)
    item, created = desk.enqueue("review", "1", "new_energy", "jiangsu", "en", "x", "user-1")
    assert created and item.queue_id == ALPHA
    assert threads.notices_for(ALPHA) == []
