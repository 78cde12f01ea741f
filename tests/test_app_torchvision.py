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


def test_the_data_page_downloads_a_set_on_its_button_only_and_shows_it(ssrl_home, monkeypatch):
    """A page load looks at the disk; the button (its size said) downloads, then the set is shown."""
    from .test_torchvision_sets import write_cifar10

    fetched = []

    def fetch(name, target):  # the network, as torchvision would unpack it
        fetched.append(name)
        write_cifar10(ssrl_home / "data", n=3)

    monkeypatch.setattr(tvs, "_unreachable", lambda urls, timeout: None)
    monkeypatch.setattr(tvs, "_fetch", fetch)
    at = open_page("data", dataset="cifar10")
    assert not at.exception and fetched == []
    [button] = [b for b in at.button if b.key == "data_download"]
    assert button.label == "Download CIFAR-10 (about 170 MB)"
    assert "a run on it downloads it first (about 170 MB; the Data page has a button for it)" in at.error[0].value
    for page in ("augment", "pretrain"):  # nor does any other page's load
        assert not open_page(page, dataset="cifar10").exception
    assert fetched == []
    # Augment says where to download it
    [link] = [e for e in open_page("augment", dataset="cifar10").get("page_link")]
    assert link.proto.label == "Download it on the Data page (about 170 MB)" and link.proto.query_string == "dataset=cifar10"
    # a class link's hidden controls are kept from it: no link to a download there (it dropped hide=, and the Data
    # page it opened offered the 2.6 GB button)
    assert not open_page("augment", dataset="cifar10", hide="controls").get("page_link")
    at.button(key="data_download").click().run()
    assert fetched == ["cifar10"] and not at.exception and not at.error
    assert any("**15** for training" in m.value for m in at.markdown)  # the set, shown


def test_a_download_waits_for_another_processs_and_fetches_nothing_it_brought(tmp_path, monkeypatch):
    """Two processes (the app's, a worker's) downloading one set into one folder wrote the same
    archive at once; the second now waits on the folder's lock and finds the files there."""
    import threading

    from ssrl_core.data import load_dataset
    from ssrl_core.locks import exclusive

    from .test_torchvision_sets import write_cifar10

    fetched = []
    monkeypatch.setattr(tvs, "_unreachable", lambda urls, timeout: None)
    monkeypatch.setattr(tvs, "_fetch", lambda name, target: fetched.append(name))
    folder = tmp_path / "cifar10"
    folder.mkdir()
    loaded = []
    with exclusive(folder / tvs.DOWNLOAD_LOCK):  # another process downloading (flock: per open file, not per process)
        t = threading.Thread(target=lambda: loaded.append(load_dataset("cifar10", tmp_path)))
        t.start()
        t.join(1.0)
        assert t.is_alive() and not loaded  # waiting for it
        write_cifar10(tmp_path, n=3)  # what the other download brought
    t.join(10)
    assert fetched == [] and len(loaded[0]) == 19
