"""The WeChat push channel and customer-service sender, with the real wechatpy, against the API stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.wechat import ChannelState, CustomerService, WeChatPushChannel, openid_of
from matchmaker.delivery import Delivery, PermanentChannelError, TransientChannelError
from tests.standins.wechat_api import WeChatApi

APP_ID, SECRET = "wx1234567890abcdef", "s3cret"


@pytest.fixture()
def api() -> Iterator[WeChatApi]:
    with WeChatApi(APP_ID, SECRET) as running:
        yield running


def delivery(body: str, seq: int = 1, identity: str = "wx:oFollower1") -> Delivery:
    return Delivery(id=seq, thread_id=5, seq=seq, identity=identity, channel="wechat", kind="text", body=body,
                    data={}, from_role="owner", attempts=0, created_at=0.0)


def render(item: Delivery) -> list[dict[str, Any]]:
    return [{"text": f"Thread #5 · owner: {item.body}",
             "buttons": [{"title": "Open thread #5", "payload": '/command{"command": "open", "thread_id": "5"}'}]}]


def channel(api: WeChatApi, tmp_path: Path) -> tuple[WeChatPushChannel, ChannelState]:
    state = ChannelState(tmp_path / "wechat.db")
    service = CustomerService(APP_ID, SECRET, state, api_base=api.api_base, timeout=5)
    return WeChatPushChannel(service, state, render, lambda _identity: "en"), state


def test_a_delivery_becomes_one_text_with_numbered_choices_remembered(api: WeChatApi, tmp_path: Path) -> None:
    push, state = channel(api, tmp_path)
    push.push("wx:oFollower1", delivery("hello"))
    assert [m["touser"] for m in api.sent] == ["oFollower1"]
    assert api.sent[0]["text"]["content"] == "Thread #5 · owner: hello\nReply 1: Open thread #5"
    assert state.choice("wx:oFollower1", 1) == '/command{"command": "open", "thread_id": "5"}'
    assert state.choice("wx:oFollower1", 2) is None and state.choice("wx:other", 1) is None


def test_the_token_is_shared_through_the_state_file_and_refreshed_when_expired(api: WeChatApi,
                                                                              tmp_path: Path) -> None:
    first, _ = channel(api, tmp_path)
    second, _ = channel(api, tmp_path)
    first.push("wx:oA", delivery("one"))
    second.push("wx:oB", delivery("two", seq=2))
    assert api.token_fetches == 1
    api.expire_tokens()
    second.push("wx:oB", delivery("three", seq=3))
    assert api.token_fetches == 2 and len(api.sent) == 3


@pytest.mark.parametrize("kind", ["busy", "limit", "http500"])
def test_busy_limited_and_failing_api_answers_are_transient(api: WeChatApi, tmp_path: Path, kind: str) -> None:
    push, _ = channel(api, tmp_path)
    push.push("wx:oA", delivery("warm the token"))
    api.fail(kind, 30)
    with pytest.raises(TransientChannelError):
        push.push("wx:oA", delivery("later", seq=2))


def test_an_unreachable_follower_is_retried_and_a_bad_identity_is_given_up(api: WeChatApi, tmp_path: Path) -> None:
    push, _ = channel(api, tmp_path)
    api.unreachable_users.add("oQuiet")
    with pytest.raises(TransientChannelError):
        push.push("wx:oQuiet", delivery("are you there?", identity="wx:oQuiet"))
    with pytest.raises(PermanentChannelError):
        openid_of("tg:123")
    with pytest.raises(PermanentChannelError):
        push.push("web:abc", delivery("x", identity="web:abc"))


class FlakyService(CustomerService):
    """Fails the second call once, as a network error in the middle of a long message would."""

    calls = 0

    def send_text(self, identity: str, text: str) -> None:
        self.calls += 1
        if self.calls == 2:
            raise TransientChannelError("connection reset")
        super().send_text(identity, text)


def test_a_retry_after_a_partial_send_sends_only_the_rest(api: WeChatApi, tmp_path: Path) -> None:
    state = ChannelState(tmp_path / "wechat.db")
    push = WeChatPushChannel(FlakyService(APP_ID, SECRET, state, api_base=api.api_base), state, render,
                             lambda _identity: "en")
    item = delivery("\n".join(["x" * 900] * 5))
    with pytest.raises(TransientChannelError):
        push.push("wx:oA", item)
    assert len(api.sent) == 1
    push.push("wx:oA", item)
    assert len(api.sent) >= 3 and all(len(m["text"]["content"].encode()) <= 2048 for m in api.sent)
    assert "".join(m["text"]["content"] for m in api.sent).count("x") == 4500
