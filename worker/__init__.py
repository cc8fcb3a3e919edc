"""The LiveKit Agents worker: settings, entrypoint, room handlers and health probe.

Importing the package is cheap: the server is built in :mod:`worker.main`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("livekit-agent-worker")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
