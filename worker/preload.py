"""Imported once, in the SDK's forkserver: what every job process would otherwise build.

The SDK forks every job process from its forkserver after importing the modules the worker
lists (``worker.main._forkserver_preload``); what this module builds on import is inherited
by each of them instead of being built again per job. It holds no thread and no
connection, so forking after it is safe. Imported anywhere else, it builds the same once.
"""

from __future__ import annotations

import logging

from telemetry.seams.lk_agents import build_http_tls_context

__all__: list[str] = []

logger = logging.getLogger(__name__)

# the SDK's per-job HTTP session parses the CA bundle at every job's end otherwise
if not build_http_tls_context():
    logger.debug("The SDK's HTTP TLS context is built per job process (no cached builder)")
