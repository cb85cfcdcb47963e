"""The action server's services, created once on first use (or by the warm-up)."""

from __future__ import annotations

import threading

from matchmaker.runtime import Services, build_services
from matchmaker.settings import load_settings

_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """The shared services, built on the first call."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(load_settings())
        return _services


def set_services(services: Services | None) -> None:
    """Replace the shared services (tests inject their own)."""
    global _services
    with _lock:
        _services = services
