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
