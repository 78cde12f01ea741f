"""Shared fixtures: every test gets its own SSRL_HOME; numba's cache is shared across the
session so UMAP compiles once per test run, not once per test."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "ssrl-test-numba-cache"))


@pytest.fixture(autouse=True)
def ssrl_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "ssrl_home"
    monkeypatch.setenv("SSRL_HOME", str(home))
    monkeypatch.setenv("SSRL_NO_AUTOSTART", "1")
    return home
