"""Build workers end with the process that started them, even when it is killed (``kill -9``).

datasets runs ``num_proc`` builds in a ``multiprocess`` pool (and a manager process for its queue);
when the parent is killed, nothing tells them, and they would run (or wait) forever. While
:func:`exit_with_parent` is active, every process forked from this one asks the kernel to kill it
when its parent dies (Linux ``PR_SET_PDEATHSIG``), or, where that is not available, watches its
parent from a thread and exits once it is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from typing import Iterator

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_WATCH_INTERVAL_S = 1.0

try:  # looked up once, in the parent: a child only calls it
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None

_active = 0  # how many exit_with_parent contexts are open in this process
_parent = 0  # the forking process, recorded just before each fork


@contextlib.contextmanager
def exit_with_parent() -> Iterator[None]:
    """Within this context, processes forked from this one end when it ends."""
    global _active
    _active += 1
    try:
        yield
    finally:
        _active -= 1


def _before_fork() -> None:
    global _parent
    _parent = os.getpid()


def _after_fork_in_child() -> None:
    if not _active:
        return
    if not _ask_kernel():
        threading.Thread(target=_watch, args=(_parent,), daemon=True, name="exit-with-parent").start()
    if os.getppid() != _parent:  # the parent died before the child could ask
        os._exit(1)


def _ask_kernel() -> bool:
    return _prctl is not None and _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_INTERVAL_S)
    os._exit(1)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
