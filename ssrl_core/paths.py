"""Where all state lives: one folder, ``SSRL_HOME``.

``SSRL_HOME`` (environment variable) defaults to ``~/.ssrl_playground``. It holds
``data/`` (datasets and caches), ``runs/`` (one folder per run) and ``store.sqlite``.
"""
from __future__ import annotations

import os
from pathlib import Path


def home_path() -> Path:
    """Where the state folder is, absolute, whether or not it exists (nothing is made). A
    relative ``SSRL_HOME`` is resolved against the working folder once and written back to
    the environment as absolute: the workers and probe jobs the app starts run in the
    repository's folder, and would otherwise serve another store than the app's."""
    raw = os.environ.get("SSRL_HOME")
    home = Path(raw or Path.home() / ".ssrl_playground").expanduser().absolute()
    if raw and raw != str(home):
        os.environ["SSRL_HOME"] = str(home)
    return home


def ssrl_home() -> Path:
    """The state folder, absolute (``home_path``), made when missing. ValueError with advice
    when it cannot be made."""
    home = home_path()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file of that name (mkdir's exist_ok only forgives a folder)
        raise ValueError(f"SSRL_HOME ({home}) is a file, not a folder: point SSRL_HOME at a folder this user can "
                         "write (it is made when missing)") from None
    except OSError as e:
        raise ValueError(f"SSRL_HOME ({home}) cannot be made ({e.strerror or e}): point SSRL_HOME at a folder "
                         "this user can write") from None
    return home


def home_problem() -> str | None:
    """Why this user cannot keep state in ``SSRL_HOME`` (it cannot be made, it or its run
    store cannot be written, or its filesystem refuses file locks), in words saying what to
    do; None when it can. Writes nothing but the folder itself and, where it can be written,
    the empty file its lock probe locks (``locks.check_locks``)."""
    try:
        home = ssrl_home()
    except ValueError as e:
        return f"{e}, then restart"
    store = store_path()
    if not os.access(home, os.W_OK | os.X_OK) or (store.exists() and not os.access(store, os.W_OK)):
        return (f"SSRL_HOME ({home}) is read-only for this user: runs, datasets and the run store are written "
                "there, so point SSRL_HOME at a folder this user can write, then restart")
    from .locks import check_locks

    try:
        check_locks(home / WORKERS)  # (where the workers' locks are)
    except ValueError as e:
        return f"SSRL_HOME ({home}): {e}, then restart"
    return None


def data_dir(make: bool = True) -> Path:
    """The datasets' folder, made when missing; with ``make=False`` only where it would be
    (for a reader: nothing made, not even SSRL_HOME)."""
    if not make:
        return home_path() / "data"
    d = ssrl_home() / "data"
    d.mkdir(parents=True, exist_ok=True)
    return d


def runs_dir(make: bool = True) -> Path:
    """The run folders' folder, made when missing; ``make=False`` as for ``data_dir``."""
    if not make:
        return home_path() / "runs"
    d = ssrl_home() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


STORE = "store.sqlite"
WORKERS = "workers"  # the workers' slot locks and code stamps (``runs.worker.slots_dir``)


def store_path() -> Path:
    return ssrl_home() / STORE


def numba_cache_dir() -> Path:
    d = ssrl_home() / "cache" / "numba"
    d.mkdir(parents=True, exist_ok=True)
    return d
