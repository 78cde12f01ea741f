"""flock-based locks on files under SSRL_HOME: who holds one is the one process that may do
the work (the worker, a run's probe job); the kernel releases it when that process dies."""
from __future__ import annotations

import contextlib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, and the lock design (the kernel frees a dead holder's lock) relies on it
    raise ImportError("SSRL Playground's workers and jobs coordinate through POSIX file locks (fcntl.flock), which "
                      "Windows does not have: run it on Linux or macOS, or on Windows inside WSL") from None


def try_lock(fh) -> bool:
    """Take an exclusive lock on an open file without waiting; False when another holds it."""
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def lock_held(path: Path) -> bool:
    """Whether another process holds the lock on ``path`` now (a non-blocking probe)."""
    path = Path(path)
    if not path.exists():
        return False
    with open(path, "a") as fh:
        if not try_lock(fh):
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def job_active(lock: Path, pending: Path, grace_s: float = 60.0) -> bool:
    """Whether a background job holds ``lock`` now, or was started less than ``grace_s`` ago
    (whoever starts it touches ``pending``; the job removes it once it has the lock) and is
    still importing (a new process needs a few seconds before it takes the lock)."""
    import time

    try:
        if time.time() - Path(pending).stat().st_mtime < grace_s:
            return True
    except FileNotFoundError:
        pass
    return lock_held(lock)


@contextlib.contextmanager
def exclusive(path: Path):
    """Hold the lock on ``path`` (created when missing) for the block, waiting for it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def hold(path: Path):
    """Take the lock on ``path`` for as long as the returned open file lives, writing this
    process's pid into it; None when another process holds it."""
    import os

    fh = open(path, "a+")
    if not try_lock(fh):
        fh.close()
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
