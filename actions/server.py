"""The action server: rasa-sdk's app with the matching services warmed before it listens.

Run ``python -m actions.server --port 5055``. The warm-up (database, index, embedding
model and one probe query) happens when the server starts, never at import, so the first
user waits no longer than the next.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request

from actions.services import get_services
from matchmaker.matching import SearchRequest

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Build the services and run one probe search; return the seconds it took."""
    started = time.perf_counter()
    services = get_services()
    for language, query in (("en", "battery material"), ("zh", "电池材料")):
        services.matcher.search(SearchRequest(query=query, target_kind="achievement", language=language,
                                              requester_id="warm-up"), limit=1)
    return time.perf_counter() - started


def create_server() -> Sanic:
    """The Sanic app serving every action of the ``actions`` package."""
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app(executor)

    @app.before_server_start
    async def warm(_app: Sanic) -> None:
        seconds = await asyncio.get_running_loop().run_in_executor(None, warm_up)
        logger.info("Action server warmed up in %.1f s", seconds)
        watcher = get_services().watcher
        if watcher is not None:
            watcher.start()

    @app.after_server_stop
    async def stop_watching(_app: Sanic) -> None:
        watcher = get_services().watcher
        if watcher is not None:
            watcher.stop()

    @app.get("/index")
    async def served_index(_request: Request) -> response.HTTPResponse:
        holder = get_services().indexes
        return response.json({"version": holder.version, "documents": len(holder.current())})

    return app


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    create_server().run(host=args.host, port=args.port, single_process=True, access_log=False,
                        motd=False)


if __name__ == "__main__":
    main()
