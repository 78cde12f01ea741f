"""Shared fixtures: every test gets its own SSRL_HOME; numba's cache and the generated
``shapes`` set are shared across the session, so UMAP compiles (about 10 s) and shapes is
drawn (about 4 s) once per test run, not once per test."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "ssrl-test-numba-cache"))


def ctrl_c_as_at_a_terminal() -> None:
    """``preexec_fn`` of a child a test stops with Ctrl-C (SIGINT): Ctrl-C's default, which a suite
    started in the background (``pytest ... &``, nohup) hands its children ignored, so the child
    went on training and the test timed out."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish_done(store, run_id: str, **kwargs) -> None:
    """``store.finish(run_id, "done", ...)`` for a run a test makes up, with the folder every done run
    has: a done run without one is one whose folder was deleted by hand (``store.folder_gone``), which
    the results pages leave out."""
    store.finish(run_id, "done", **kwargs)
    Path(store.get(run_id)["run_dir"]).mkdir(parents=True, exist_ok=True)


def _share_shapes_cache(home: Path, shared: Path) -> None:
    """Point HOME's shapes cache at the session's one (the set is deterministic)."""
    (home / "data").mkdir(parents=True, exist_ok=True)
    link = home / "data" / "shapes"
    if not link.exists():
        link.symlink_to(shared, target_is_directory=True)


def pytest_runtest_setup(item):
    """Each new AppTest scans every installed distribution for Streamlit components (0.2 s, in
    some 170 AppTests); the installed packages do not change during a test session, so once
    the first AppTest has scanned, its result (none: the app uses no such component) serves
    the rest. The served app, in the browser tests, scans as it always does."""
    import functools
    import sys

    scanner = sys.modules.get("streamlit.components.v2.manifest_scanner")
    scan = getattr(scanner, "scan_component_manifests", None)
    if scan is not None and not hasattr(scan, "cache_info"):
        scanner.scan_component_manifests = functools.cache(scan)


def pytest_runtest_call(item):
    """A logger's handler made while one test captured stderr (Streamlit makes its loggers
    as its modules are first imported, some inside an AppTest) keeps that test's stream, closed
    once the test ends: each later warning of it printed "--- Logging error ---" and a
    traceback into whichever test then captured stderr (an export test's `capsys`, in one order
    of the files). Such a handler writes to the process's stderr again."""
    import logging
    import sys

    for logger in list(logging.Logger.manager.loggerDict.values()):
        for handler in getattr(logger, "handlers", ()):
            if type(handler) is logging.StreamHandler and getattr(handler.stream, "closed", False):
                handler.stream = sys.__stderr__  # not setStream: it flushes the closed one first


def pytest_collection_modifyitems(items):
    """Tests marked ``first`` run before the rest, in their order (the sort is stable)."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)


@pytest.fixture(scope="session")
def _shared_shapes(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shapes-cache")


@pytest.fixture(scope="module")
def _chromium():
    """One headless Chromium for a test file's tests (0.6 to 0.75 s to launch, and Playwright's driver as long
    again; each test had its own): each test opens its own context or page in it. Skips where Debian's chromium or
    Playwright is missing."""
    from app.serve import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that sets torch's thread count (``set_num_threads(1)`` for a small model) gets it
    back afterwards: left at 1, it made every later test's training single-threaded."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def ssrl_home(tmp_path, monkeypatch, _shared_shapes) -> Path:
    home = tmp_path / "ssrl_home"
    _share_shapes_cache(home, _shared_shapes)
    monkeypatch.setenv("SSRL_HOME", str(home))
    monkeypatch.setenv("SSRL_NO_AUTOSTART", "1")
    return home


@pytest.fixture
def small(tmp_path):
    """An imported set of 160 images in two classes: 128 for training (a fifth held out).
    An epoch on it takes a second where one on digits takes ten: for tests of the training
    loop (events, checkpoints, resuming) that any set shows."""
    from ssrl_core.data.custom import import_images

    from .test_import_images import make_zip, png

    members = {f"{c}/{i}.png": png((3 * i, 100 * k, 255 - 3 * i)) for k, c in enumerate(("leaf", "bark"))
               for i in range(80)}
    assert import_images(make_zip(tmp_path / "small.zip", members), "small").train == 128
    return "small"


# -- finished runs, trained once per test session and registered in each test's store ----
_PREPARED: dict = {}


PREPARED_CONFIGS = {
    "random": dict(dataset="digits", method="random", epochs=0),
    "simclr": dict(dataset="digits", method="simclr", epochs=1, batch_size=256),
    "rotation": dict(dataset="digits", method="rotation", epochs=1, batch_size=256),
    "inpainting": dict(dataset="digits", method="inpainting", epochs=1, batch_size=256),
    "deepcluster": dict(dataset="digits", method="deepcluster", epochs=1, batch_size=256),
    # untrained: its tests need a shapes run's maps and factor and invariance probes, not a
    # trained encoder, and an epoch of 10,000 images cost 19 s of the session's first minute
    "shapes-simclr": dict(dataset="shapes", method="simclr", epochs=0, batch_size=256, augment="crop,flip,color_jitter"),
}


@pytest.fixture(scope="session")
def _prepared_runs(tmp_path_factory, _shared_shapes):
    """Run folders of finished runs (``PREPARED_CONFIGS``), each trained the first time a
    test asks for it and reused by every later test. Tests register copies in their own
    store with ``finished_run``."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.execute import execute

    root = tmp_path_factory.mktemp("prepared")
    _share_shapes_cache(root / "home", _shared_shapes)
    done: dict = {}

    def get(name: str):
        if name not in done:
            cfg = RunConfig(**PREPARED_CONFIGS[name])
            old = os.environ.get("SSRL_HOME")
            os.environ["SSRL_HOME"] = str(root / "home")
            try:
                done[name] = (cfg, root / name, execute(cfg, root / name))
            finally:
                if old is None:
                    os.environ.pop("SSRL_HOME", None)
                else:
                    os.environ["SSRL_HOME"] = old
        return done[name]

    return get


@pytest.fixture
def finished_run(_prepared_runs, ssrl_home):
    """``finished_run("simclr")`` -> id of a done run in this test's store
    (``finished_run("simclr", nickname="ada")`` as submitted by ada).

    As in a home where the run's evaluation ended, the untrained encoder's references it
    computed (``SSRL_HOME/references``: its random readout and invariance) are there too;
    ``references=False`` leaves them out, as after someone deleted that folder to free space
    (each test home computing them again cost the suite about a minute)."""
    import shutil

    from ssrl_core.evaluate.suite import reference_cache
    from ssrl_core.runs import artifacts as art
    from ssrl_core.runs.store import RunStore

    def make(name: str, nickname: str | None = None, references: bool = True) -> str:
        cfg, folder, summary = _prepared_runs(name)
        store = RunStore()
        rid = store.submit(cfg, nickname=nickname)
        shutil.copytree(folder, store.get(rid)["run_dir"])
        if references:
            mine = reference_cache(art.RunArtifacts(folder).run_config()).path
            prepared = folder.parent / "home" / "references" / mine.name
            if prepared.exists() and not mine.exists():
                mine.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(prepared, mine)
        store.claim("test")
        store.finish(rid, "done", summary=summary)
        return rid

    return make
