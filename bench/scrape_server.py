"""The worker's real ``/metrics`` endpoint over a given multiprocess directory.

``python -m bench.scrape_server DIR [--no-compact]`` runs in its own process as the
worker's main process does: prometheus_client in multiprocess mode on DIR, the main
process's own metrics recorded, ``telemetry.exposition.MetricsEndpoint`` serving the
directory and the exemplar histograms on a free loopback port. It prints ``ready <port>``
and serves until its standard input closes, or at most ``--max-seconds``.

``--no-compact`` switches the endpoint's compactor off: a scrape then reads every file
of every job ever served, as prometheus_client alone would.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from pathlib import Path

from telemetry.bootstrap import enable_multiprocess_mode

__all__ = ["main"]


async def _serve(directory: Path, compact: bool, max_seconds: float) -> None:
    from telemetry.exemplars import ExemplarHistograms
    from telemetry.exposition import MetricsEndpoint
    from telemetry.metrics import get_metrics

    metrics = get_metrics()
    metrics.build_info(version="bench", sdk_version="bench", agent_name="bench")
    metrics.registration_changed(True)
    histograms = ExemplarHistograms()
    endpoint = MetricsEndpoint(
        "127.0.0.1", 0, extra_collectors=(histograms,), multiproc_dir=directory
    )
    if not compact:
        endpoint.compactor = None
    await endpoint.start()
    print(f"ready {endpoint.port}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = asyncio.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stdin_closed.set)

    # a daemon thread: one still blocked in read() cannot keep the process alive
    threading.Thread(target=wait_for_eof, name="stdin", daemon=True).start()
    try:
        await asyncio.wait_for(stdin_closed.wait(), max_seconds)
    except TimeoutError:
        pass
    finally:
        await endpoint.aclose()


def main(argv: list[str] | None = None) -> None:
    """Serve until told to stop."""
    parser = argparse.ArgumentParser(prog="python -m bench.scrape_server")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--no-compact", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    enable_multiprocess_mode(args.directory)
    asyncio.run(_serve(args.directory, not args.no_compact, args.max_seconds))


if __name__ == "__main__":
    main()
