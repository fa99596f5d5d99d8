"""The ``imagenet-tiny`` command line: one sub-command per Matlab-era tool.

Each module in this package adds its sub-commands with ``register(subparsers)`` and does its heavy
imports only when run, so that ``imagenet-tiny --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from cli import build, data, demo, evaluate, publish, slurm

COMMAND_MODULES = (build, slurm, data, evaluate, publish, demo)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="imagenet-tiny",
        description="ImageNet downscaled: build tiny variants from your download, evaluate as ILSVRC did, publish.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("imagenet-tiny: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        # Our errors carry a message a user can act on; a traceback would only hide it.
        print(f"imagenet-tiny {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
