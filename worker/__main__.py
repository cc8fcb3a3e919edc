"""``python -m worker dev|start|…``: check the configuration, set up logging, run.

Order matters: the settings are validated and multiprocess metrics enabled before the SDK
(and with it prometheus_client) is imported, and every problem a user can cause ends here
as one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys


def _main() -> None:
    from .settings import ConfigError, exit_on_config_error, get_settings

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        settings = get_settings()
        if command in ("dev", "start"):
            from .preflight import preflight

            preflight(settings, command)
    except ConfigError as error:
        exit_on_config_error(error)

    from .logging import setup_logging

    setup_logging(settings.LOG_LEVEL, settings.LOG_FORMAT, allow_pii=settings.ALLOW_PII)

    from .main import run

    run(settings)


if __name__ == "__main__":
    _main()
