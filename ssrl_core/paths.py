"""Where all state lives: one folder, ``SSRL_HOME``.

``SSRL_HOME`` (environment variable) defaults to ``~/.ssrl_playground``. It holds
``data/`` (datasets and caches), ``runs/`` (one folder per run) and ``store.sqlite``.
"""
from __future__ import annotations

import os
from pathlib import Path


def ssrl_home() -> Path:
    home = Path(os.environ.get("SSRL_HOME") or Path.home() / ".ssrl_playground").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def home_problem() -> str | None:
    """Why this user cannot keep state in ``SSRL_HOME`` (it cannot be made, or it or its run
    store cannot be written), in words saying what to do; None when it can. Writes nothing
    but the folder itself."""
    raw = os.environ.get("SSRL_HOME") or str(Path.home() / ".ssrl_playground")
    try:
        home = ssrl_home()
    except OSError as e:
        return (f"SSRL_HOME ({raw}) cannot be made ({e.strerror or e}): point SSRL_HOME at a folder this user "
                "can write, then restart")
    store = store_path()
    if not os.access(home, os.W_OK | os.X_OK) or (store.exists() and not os.access(store, os.W_OK)):
        return (f"SSRL_HOME ({home}) is read-only for this user: runs, datasets and the run store are written "
                "there, so point SSRL_HOME at a folder this user can write, then restart")
    return None


def data_dir() -> Path:
    d = ssrl_home() / "data"
    d.mkdir(parents=True, exist_ok=True)
    return d


def runs_dir() -> Path:
    d = ssrl_home() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def store_path() -> Path:
    return ssrl_home() / "store.sqlite"


def numba_cache_dir() -> Path:
    d = ssrl_home() / "cache" / "numba"
    d.mkdir(parents=True, exist_ok=True)
    return d
