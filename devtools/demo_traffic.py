"""Synthetic traffic for a running worker: a few rooms with participants publishing a tone.

``make demo-traffic`` runs it against ``LIVEKIT_URL``: the dashboards move and there are room
traces to open, without a browser or a phone. Everything is bounded: each room lives for
``--seconds``, then its participants unpublish and leave, and the command exits.

Usage: ``python -m devtools.demo_traffic [--rooms 3] [--participants 2] [--seconds 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from livekit import api

from worker.settings import RuntimeSettings, settings_or_exit

from .demo_cli import configured_access, run_or_report
from .synthetic import ServerAccess, SyntheticParticipant, create_dispatch

__all__ = ["main", "run_demo"]

_MAX_ROOMS = 20
_MAX_SECONDS = 600


async def _room(
    access: ServerAccess, room: str, participants: int, seconds: float, agent_name: str
) -> None:
    if agent_name:
        await create_dispatch(access, room, agent_name)
    else:  # automatic dispatch: creating the room is enough
        async with api.LiveKitAPI(access.http_url, access.api_key, access.api_secret) as lkapi:
            await lkapi.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=30))
    people = [
        SyntheticParticipant(access, room, f"demo-{index}-{uuid.uuid4().hex[:4]}", tracks=1)
        for index in range(participants)
    ]
    await asyncio.gather(*(p.run(seconds, wait_for_agent=30) for p in people))
    print(f"room {room}: {participants} participant(s) published for {seconds:g}s and left")


async def run_demo(
    rooms: int, participants: int, seconds: float, settings: RuntimeSettings
) -> None:
    """Run ``rooms`` rooms concurrently, each for ``seconds``, on the server of ``settings``."""
    access = configured_access(settings)
    names = [f"demo-{uuid.uuid4().hex[:8]}" for _ in range(rooms)]
    print(f"demo traffic: {rooms} room(s) on {settings.LIVEKIT_URL} for {seconds:g}s")
    await asyncio.wait_for(
        asyncio.gather(
            *(_room(access, name, participants, seconds, settings.AGENT_NAME) for name in names)
        ),
        timeout=seconds + 120,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m devtools.demo_traffic")
    parser.add_argument("--rooms", type=int, default=3)
    parser.add_argument("--participants", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not 1 <= args.rooms <= _MAX_ROOMS or not 0 < args.seconds <= _MAX_SECONDS:
        print(f"error: 1-{_MAX_ROOMS} rooms for at most {_MAX_SECONDS}s", file=sys.stderr)
        return 2
    settings = settings_or_exit()
    return run_or_report(
        run_demo(args.rooms, args.participants, args.seconds, settings), "demo traffic"
    )


if __name__ == "__main__":
    sys.exit(main())
