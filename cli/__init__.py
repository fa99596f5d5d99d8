"""The ``imagenet-tiny`` command line: one sub-command per Matlab-era tool.

Each module in this package adds its sub-commands with ``register(subparsers)`` and does its heavy
imports only when run, so that ``imagenet-tiny --help`` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from builder.errors import ImageNetTinyError
from cli import build, data, demo, evaluate, publish, slurm

COMMAND_MODULES = (build, slurm, data, evaluate, publish, demo)
# The library's loggers (its top-level modules and packages); their messages are the command's notes.
LIBRARY_LOGGERS = ("imagenet_tiny", "builder", "metrics", "publish", "demo")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="imagenet-tiny",
        description="ImageNet downscaled: build tiny variants from your download, evaluate as ILSVRC did, publish.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    args = parser.parse_args(argv)
    log_to_stderr()
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("imagenet-tiny: interrupted", file=sys.stderr)
        return 130
    except (ImageNetTinyError, OSError) as error:
        # Ours carry a message a user can act on, and so do the operating system's (which name the file); a
        # traceback would only hide it. Anything else is a bug, and keeps its traceback.
        print(f"imagenet-tiny {args.command}: error: {error}", file=sys.stderr)
        return 2


class _StderrHandler(logging.Handler):
    """One line per message on the ``sys.stderr`` of the moment (tests swap it between in-process calls)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def log_to_stderr() -> None:
    """Show the library's notes and warnings (INFO and above) on stderr, once however often ``main`` runs."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
            logger.addHandler(_StderrHandler())


if __name__ == "__main__":
    sys.exit(main())
