"""Checks that turn a bad setup into one clear line before anything connects.

The SDK would otherwise fail later and louder: a taken port surfaces as a traceback from
deep inside aiohttp once the worker has already registered.
"""

from __future__ import annotations

import errno
import socket

from telemetry.bootstrap import MultiprocessDirError, enable_multiprocess_mode

from .settings import ConfigError, RuntimeSettings

__all__ = ["check_port_free", "preflight"]


def check_port_free(host: str, port: int, name: str) -> None:
    """Raise :class:`ConfigError` when nothing can listen on ``host:port``.

    Args:
        host: the bind host.
        port: the port.
        name: the setting that chose the port, for the message.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as aiohttp does, so a port in TIME_WAIT is not mistaken for a taken one
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"{name}: port {port} on {host or '*'} is already in use"
                ) from None
            raise ConfigError(
                f"{name}: cannot listen on {host or '*'}:{port} ({error.strerror})"
            ) from None


def preflight(settings: RuntimeSettings, command: str) -> None:
    """Validate what settings alone cannot, and enable multiprocess metrics.

    Args:
        settings: the loaded settings.
        command: the CLI command (``dev``, ``start``, …).

    Raises:
        ConfigError: something the user set cannot work; the message is one line.
    """
    if command == "start":
        settings.check_production()
    settings.check_voice_keys()
    check_port_free(settings.BIND_HOST, settings.HEALTH_PORT, "HEALTH_PORT")
    check_port_free(settings.BIND_HOST, settings.METRICS_PORT, "METRICS_PORT")
    try:
        enable_multiprocess_mode(settings.metrics_dir)
    except MultiprocessDirError as error:
        raise ConfigError(str(error)) from None
