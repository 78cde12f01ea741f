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
