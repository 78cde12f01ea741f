"""flock-based locks on files under SSRL_HOME: who holds one is the one process that may do
the work (the worker, a run's probe job); the kernel releases it when that process dies."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, and the lock design (the kernel frees a dead holder's lock) relies on it
    raise ImportError("SSRL Playground's workers and jobs coordinate through POSIX file locks (fcntl.flock), which "
                      "Windows does not have: run it on Linux or macOS, or on Windows inside WSL") from None


class LocksUnsupported(ValueError):
    """File locks fail on the filesystem SSRL_HOME is on (an NFS mount without a lock service,
    some SMB and FUSE mounts): no worker could tell whether another serves the queue."""


def _unsupported(where, e: OSError) -> LocksUnsupported:
    return LocksUnsupported(
        f"file locks do not work on the filesystem holding {where} ({e.strerror or e}), and SSRL Playground's "
        "workers and jobs coordinate through them: point SSRL_HOME at a folder on a local disk (not a network or "
        "FUSE mount)")


def try_lock(fh, where=None) -> bool:
    """Take an exclusive lock on an open file without waiting; False when another holds it.
    LocksUnsupported when the filesystem refuses locks at all (naming ``where``, by default the
    file): read as "held", runs waited in the queue for a worker that exited, believing another
    served it."""
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # EWOULDBLOCK: another process holds it
        return False
    except OSError as e:  # ENOLCK, EOPNOTSUPP, ...
        raise _unsupported(where or getattr(fh, "name", "this file"), e) from None
    return True


PROBE = ".lock-probe"  # the empty file ``check_locks`` locks, as the workers lock theirs


def check_locks(folder: Path) -> None:
    """LocksUnsupported when ``folder``'s filesystem refuses file locks, found by locking an
    empty file there (``PROBE``, made when missing) opened for writing, as the workers' locks
    are: NFS emulates flock with byte-range locks, which an exclusive lock on a folder (opened
    read-only) would have failed where the workers' locks work."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / PROBE, "a") as fh:
        if try_lock(fh, where=folder):  # (held: another process probing at this moment, so locks work)
            fcntl.flock(fh, fcntl.LOCK_UN)


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
def exclusive(path: Path, make_folder: bool = True):
    """Hold the lock on ``path`` (created when missing, and its folder unless ``make_folder``
    is false: a lock beside a run's file must not make a run folder deleted meanwhile anew)
    for the block, waiting for it."""
    path = Path(path)
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def hold(path: Path):
    """Take the lock on ``path`` for as long as the returned open file lives, writing this
    process's pid into it; None when another process holds it. A holder may remove the file
    before it lets go (``let_go``): a lock taken on a file removed meanwhile (opened before
    the removal, locked after the release) is of a file no one else will open, so it is let
    go and the file now at ``path`` locked instead."""
    while True:
        fh = open(path, "a+")
        try:
            locked = try_lock(fh)
        except LocksUnsupported:
            fh.close()
            raise
        if not locked:
            fh.close()
            return None
        if guards(fh, path):
            break
        fh.close()
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def guards(fh, path: Path) -> bool:
    """Whether the open file ``fh`` is the file at ``path`` now, so that a lock held on it
    guards the path: False once the file was removed (its SSRL_HOME deleted, say) or another
    put in its place, which another process can lock while this one still holds the old."""
    try:
        now, mine = os.stat(path), os.fstat(fh.fileno())
    except OSError:  # gone, its folder replaced by a file, no longer readable, a stale NFS handle: not guarded
        return False
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def let_go(fh, path: Path) -> None:
    """Remove ``path``, whose lock ``fh`` holds (``hold``), then release the lock: no stale
    file with an ended process's pid is left behind. Removed while still held, so a process
    that opened the file before cannot lock it and believe it the lock (``hold`` checks)."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:  # a folder that became read-only: the file stays, the lock still goes with the close
        pass
    fh.close()
