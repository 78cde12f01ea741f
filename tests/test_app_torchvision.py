"""The app with torchvision sets copied in by hand: what the pages say and refuse when
their files are fixed, broken or moved while the app runs (files in the real formats, from
test_torchvision_sets' writers)."""
from __future__ import annotations

import shutil

import pytest

from ssrl_core.data import torchvision_sets as tvs
from ssrl_core.runs.store import RunStore

from .test_app import open_page
from .test_torchvision_sets import write_cifar10


@pytest.fixture
def offline(monkeypatch):
    """Every download fails at once, as on a machine without network."""

    def refuse(name, root):
        raise ConnectionError("Name or service not known (blocked by the test)")

    monkeypatch.setattr(tvs, "_download", refuse)


def test_launch_refuses_a_set_whose_files_were_moved_after_it_was_loaded(ssrl_home, offline):
    data = ssrl_home / "data"
    write_cifar10(data, n=3)
    at = open_page("pretrain")
    at.selectbox(key="pt_dataset").select("cifar10").run()
    assert not at.exception and not any("not in the data folder" in w.value for w in at.warning)  # it is here
    shutil.move(str(data / "cifar10"), str(ssrl_home / "moved-away"))
    at.run()
    assert "CIFAR-10 is not in the data folder" in at.warning[0].value  # the page sees it
    at.button(key="pt_launch").click().run()
    assert not at.exception
    assert RunStore().list() == []  # not queued for the worker to fail with "dataset missing"
    [error] = [e.value for e in at.error]
    assert error.startswith("Not launched: CIFAR-10 is not in the data folder") and str(data / "cifar10") in error


def test_a_failed_runs_multi_line_reason_keeps_its_lines_on_pretrain(ssrl_home):
    from ssrl_core.config import RunConfig
    from ssrl_core.data import check_files

    at = open_page("pretrain")
    why = f"dataset missing: {check_files('cifar10', ssrl_home / 'data')}"
    first, _, rest = why.partition("\n")
    store = RunStore()
    rid = store.submit(RunConfig(dataset="cifar10", method="rotation", epochs=1), nickname=at.session_state["nickname"])
    store.claim("w")
    store.finish(rid, "failed", error=why, worker="w")
    at.run()
    [error] = [e.value for e in at.error if rid in e.value]
    assert error.endswith(f"** failed: {first}")  # the box holds the first line
    # the file list under it, a line each (in the box, Markdown ran them into "data_batch_1 <- missing data_batch_2 …")
    assert rest in [t.value for t in at.text]
    assert "  data_batch_1   <- missing\n  data_batch_2   <- missing" in rest
