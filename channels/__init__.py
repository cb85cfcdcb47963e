"""Channel adapters of negotiation threads: how thread messages reach each network.

``channels.web`` pushes into an open chat page through the Rasa server's socket.io channel,
``channels.loop`` drives a :class:`matchmaker.delivery.Dispatcher` from a background thread,
``channels.push`` is the HTTP contract between the two processes and ``channels.presence``
tracks which web sessions have a connected socket. ``channels.push`` and
``channels.presence`` import nothing outside the standard library, so the Rasa process
(Python 3.10) uses them too.
"""
