"""Write the generated dashboards, rules and README table: ``python -m devtools.observability``."""

from __future__ import annotations

import argparse
import sys

from . import REPO_ROOT, generate, stale


def main(argv: list[str] | None = None) -> int:
    """Regenerate every output, or with ``--check`` list the stale ones (exit code 1)."""
    parser = argparse.ArgumentParser(prog="python -m devtools.observability")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for path in outdated:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if outdated else 0
    for path, content in generate().items():
        target = REPO_ROOT / path
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
