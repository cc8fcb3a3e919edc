"""Log lines of the LiveKit Agents SDK that tests and the bench wait for.

The SDK owns these strings; each names the module of ``livekit.agents`` that logs it, so an
upgrade that rewords one is found by grepping that module.
"""

from __future__ import annotations

__all__ = [
    "DRAINING_WORKER",
    "DRAIN_TIMED_OUT",
    "FAILED_TO_CONNECT",
    "PROCESS_INITIALIZED",
    "REGISTERED_WORKER",
    "SHUTTING_DOWN_WORKER",
    "STARTING_WORKER",
]

# livekit/agents/worker.py
STARTING_WORKER = "starting worker"
REGISTERED_WORKER = "registered worker"
DRAINING_WORKER = "draining worker"
SHUTTING_DOWN_WORKER = "shutting down worker"
# the start of both the retry warning and the final error; also the 503 body of /
FAILED_TO_CONNECT = "failed to connect to livekit"
# livekit/agents/ipc/supervised_proc.py
PROCESS_INITIALIZED = "process initialized"
# livekit/agents/cli/cli.py
DRAIN_TIMED_OUT = "drain timed out, forcing shutdown"
