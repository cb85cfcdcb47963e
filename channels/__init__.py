"""Channels: how users reach the assistant and how thread messages reach them.

Receiving: ``channels.telegram_gateway`` and ``channels.wechat_gateway`` are the messenger
gateways (own processes) that run turns on the Rasa server through ``channels.turns`` and
render the answers with ``channels.replies``; ``channels.gateway`` names their route, secret
and sender prefixes. Pushing: ``channels.web``, ``channels.telegram`` and ``channels.wechat``
are the outbox's adapters, driven by ``channels.loop``; ``channels.push`` is the web push
contract and ``channels.presence`` tracks connected web sessions. ``channels.push``,
``channels.presence`` and ``channels.gateway`` import nothing outside the standard library,
so the Rasa process (Python 3.10) uses them too.
"""
