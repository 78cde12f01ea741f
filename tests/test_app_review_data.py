"""What a student's review of the Data and Pretrain pages found, pinned down: missing
torchvision sets are announced before Launch and never cost more than one short download
attempt; methods a dataset or encoder cannot feed are marked before Launch; an import is
named after its zip; tiny datasets and oversized batches are called out before their
numbers mislead."""
from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest

from ssrl_core.data import DatasetMissing, check_files, load_dataset
from ssrl_core.data import torchvision_sets as tvs
from ssrl_core.runs.store import RunStore

from .test_app import open_page


@pytest.fixture
def slow_dns(monkeypatch):
    """A network where every name lookup hangs a while and then fails (as behind a firewall
    that drops packets); counts the lookups."""
    calls = []
    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if str(host).startswith("127.") or host in ("localhost", "::1"):
            return real(host, *args, **kwargs)
        calls.append(host)
        time.sleep(0.3)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return calls


# ----------------------------------------------------------------------------- 1. missing torchvision sets


def test_check_files_looks_at_the_disk_only(tmp_path, slow_dns):
    assert check_files("digits") is None and check_files("shapes") is None
    missing = check_files("mnist", tmp_path)
    assert isinstance(missing, DatasetMissing) and not slow_dns  # no network touched
    assert missing.folder == tvs.dataset_folder("mnist", tmp_path) and not missing.folder.exists()
    assert set(missing.missing) == set(missing.files) and "train-images-idx3-ubyte" in missing.files
    assert "not in the data folder" in missing.summary and "network" in missing.summary


def test_a_failed_download_is_short_and_not_repeated(tmp_path, slow_dns, monkeypatch):
    with pytest.raises(DatasetMissing) as first:
        load_dataset("mnist", tmp_path)
    tried = len(slow_dns)
    assert tried >= 1
    msg = str(first.value)
    assert "RuntimeError" not in msg and "Tried" not in msg  # no raw dump of torchvision's error
    assert "Temporary failure in name resolution" in first.value.summary and len(msg.splitlines()) <= 8
    assert str(tvs.dataset_folder("mnist", tmp_path)) in msg

    start = time.monotonic()
    for _ in range(3):  # every rerun of a page: no second wait on the network
        with pytest.raises(DatasetMissing) as again:
            load_dataset("mnist", tmp_path)
    assert len(slow_dns) == tried and time.monotonic() - start < 0.2
    # at clock times: a failed run keeps this as its reason, and "2 min ago" went stale (a browser review)
    assert re.search(r"failed at \d\d:\d\d UTC .*; it can be downloaded again from \d\d:\d\d UTC", again.value.summary)
    assert "failed" in check_files("mnist", tmp_path).summary  # the pre-launch check says so too

    monkeypatch.setattr(tvs, "RETRY_DOWNLOAD_AFTER_S", 0.0)  # the memory runs out: tried again
    with pytest.raises(DatasetMissing):
        load_dataset("mnist", tmp_path)
    assert len(slow_dns) > tried


def test_a_page_shows_a_missing_sets_files_one_per_line(slow_dns):
    """Augment (and Data, Explore, Invariance, Compare) gave the whole message to one error box,
    whose Markdown ran the file list into one paragraph ('data_batch_1 <- missing data_batch_2 ...')."""
    at = open_page("augment", dataset="cifar10")
    [error] = [e.value for e in at.error]
    assert "CIFAR-10 is not in the data folder" in error and "data_batch" not in error  # its first line alone
    [files] = [t.value for t in at.get("text")]
    lines = files.splitlines()
    assert "  data_batch_1   <- missing" in lines and "  data_batch_2   <- missing" in lines  # a line each


def test_a_silent_network_fails_within_the_probe_timeout(tmp_path, monkeypatch):
    """Lookups that never answer (no resolver reachable): the probe gives up after
    PROBE_TIMEOUT_S instead of waiting out every socket timeout of every mirror."""
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    monkeypatch.setattr(tvs, "PROBE_TIMEOUT_S", 0.5)
    start = time.monotonic()
    try:
        with pytest.raises(DatasetMissing) as info:
            load_dataset("cifar10", tmp_path)
    finally:
        release.set()
    assert time.monotonic() - start < 5
    assert "no answer from www.cs.toronto.edu within 0.5 s" in str(info.value)


def test_probed_addresses_are_torchvisions():
    import torchvision.datasets as tvd

    theirs = {"mnist": tvd.MNIST.mirrors, "fashion-mnist": tvd.FashionMNIST.mirrors, "cifar10": [tvd.CIFAR10.url],
              "cifar100": [tvd.CIFAR100.url], "svhn": [tvd.SVHN.split_list["train"][0]], "stl10": [tvd.STL10.url]}
    assert {n: tvs._download_urls(n) for n in theirs} == {n: list(u) for n, u in theirs.items()}


def test_pretrain_warns_before_launch_and_tries_the_download_once(slow_dns):
    start = time.monotonic()
    at = open_page("pretrain", dataset="mnist", epochs="1")
    assert not slow_dns  # opening the page downloads nothing
    [warning] = [w.value for w in at.warning]
    assert "MNIST is not in the data folder yet" in warning and "mnist/MNIST/raw" in warning
    assert "train-images-idx3-ubyte" in " ".join(t.value for t in at.get("text"))  # the files, folded away

    at.button(key="pt_launch").click().run()
    tried = len(slow_dns)
    assert tried >= 1
    error = at.error[0].value
    assert error.startswith("Not launched: MNIST is not in the data folder and downloading it failed")
    assert "RuntimeError" not in error and "http" not in error and "mnist/MNIST/raw" in error

    t0 = time.monotonic()
    at.button(key="pt_launch").click().run()  # pressed again: refused at once, no new attempt
    assert len(slow_dns) == tried and "Not launched" in at.error[0].value
    assert time.monotonic() - t0 < 5
    at.selectbox(key="pt_dataset").select("fashion-mnist").run()
    assert len(slow_dns) == tried and "Fashion-MNIST is not in the data folder" in at.warning[0].value
    assert RunStore().list() == []
    print(f"open + 2 launches + select: {time.monotonic() - start:.1f}s")


# ----------------------------------------------------------------------------- 2. methods a dataset cannot feed


def option(at, key: str, name: str) -> str:
    """The dropdown label of option ``name`` ("family: name", maybe with a remark)."""
    [label] = [o for o in at.selectbox(key=key).options if o.split(": ")[1].split(" (")[0] == name]
    return label


def test_pretrain_marks_methods_before_launch_with_the_librarys_reasons(tmp_path):
    from .test_import_images import make_zip, png

    at = open_page("pretrain")  # digits: grayscale
    assert option(at, "pt_method", "colorization") == (
        "masked prediction: colorization (needs a colour dataset such as shapes or cifar10)")
    assert option(at, "pt_method", "simclr") == "instance discrimination (contrastive): simclr"
    assert option(at, "pt_method", "mae") == "masked prediction: mae"  # auto gives mae its vit-tiny
    assert not at.warning

    at.selectbox(key="pt_method").select("colorization").run()
    assert "Can't launch: colorization needs a colour dataset" in at.warning[0].value and not at.error  # before Launch
    at.selectbox(key="pt_dataset").select("shapes").run()  # colour: fine there
    assert option(at, "pt_method", "colorization") == "masked prediction: colorization" and not at.warning

    at.selectbox(key="pt_method").select("mae").run()
    at.selectbox(key="pt_encoder").select("cnn-small").run()  # the reverse: an encoder mae cannot use
    assert "Can't launch: mae needs the vit-tiny encoder" in at.warning[0].value
    assert at.button(key="pt_launch").disabled  # nothing to press until the reason is gone
    # the dropdown marks it too, for the encoder chosen below it
    assert option(at, "pt_method", "mae") == "masked prediction: mae (needs the vit-tiny encoder, not cnn-small)"
    at.selectbox(key="pt_encoder").select("vit-tiny").run()
    assert not at.warning

    from ssrl_core.data.custom import import_images  # an unlabelled set: supervised has nothing to learn from
    import_images(make_zip(tmp_path / "loose.zip", {f"{i}.png": png((i * 20, 0, 0)) for i in range(12)}), "loose")
    at = open_page("pretrain", dataset="loose")
    assert "supervised (needs a labelled dataset" in option(at, "pt_method", "supervised")
    assert RunStore().list() == []


# ----------------------------------------------------------------------------- 3. an import is named after its zip


def test_suggested_names_pass_the_name_rule_and_are_free():
    from ssrl_core.data.custom import check_name, suggest_name

    taken = {"digits", "shapes", "pets"}
    cases = {"good.zip": "good", "My Leaves (2).ZIP": "my-leaves-2", "Été—photos.zip": "ete-photos",
             "C:\\\\x\\\\Cats__and  Dogs.zip": "cats_and-dogs", "../../evil.zip": "evil", "日本.zip": "my-images",
             "digits.zip": "digits-2", "pets.zip": "pets-2", "x" * 60 + ".zip": "x" * 40}
    for filename, want in cases.items():
        got = suggest_name(filename, taken)
        check_name(got, taken)  # raises when the library's rule refuses it
        assert got == want, (filename, got)


def test_data_page_names_the_import_after_the_zip(tmp_path):
    from .test_import_images import make_zip, png

    good = make_zip(tmp_path / "good.zip", {"cat/1.png": png(), "dog/1.png": png((0, 0, 255))}).read_bytes()
    at = open_page("data")
    at.file_uploader(key="data_upload").set_value(("good.zip", good, "application/zip")).run()
    assert at.text_input(key="data_import_name").value == "good"
    at.button(key="data_import").click().run()  # no name typed
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith("Imported **good**")

    at.file_uploader(key="data_upload").set_value(("Holiday Photos.zip", good + b"", "application/zip")).run()
    assert at.text_input(key="data_import_name").value == "holiday-photos"  # the new zip's name replaces it
    at.text_input(key="data_import_name").input("trip").run()
    at.file_uploader(key="data_upload").set_value(("good.zip", good, "application/zip")).run()
    assert at.text_input(key="data_import_name").value == "trip"  # a typed name is kept



def test_an_import_outcome_goes_when_another_file_is_chosen_or_the_file_is_removed(tmp_path):
    """An outcome describes the file it was about: another file chosen (even one of the same name and
    size), or the file removed, it goes; the browser showed the previous archive's error under Import."""
    from .test_import_images import make_zip, png

    good = make_zip(tmp_path / "good.zip", {"cat/1.png": png(), "dog/1.png": png((0, 0, 255))}).read_bytes()
    bad = b"just some text".ljust(len(good), b".")  # the same name and size as good.zip below
    at = open_page("data")
    uploader = lambda: at.file_uploader(key="data_upload")  # noqa: E731
    uploader().set_value(("good.zip", bad, "application/zip")).run()
    at.button(key="data_import").click().run()
    assert at.error[0].value.startswith("Not imported: not a readable zip archive")
    at.text_input(key="data_import_name").input("pets").run()  # a rerun on the same file keeps it
    assert at.error[0].value.startswith("Not imported: not a readable zip archive")

    uploader().set_value(("good.zip", good, "application/zip")).run()
    assert not at.error and not at.success and not at.button(key="data_import").disabled
    at.button(key="data_import").click().run()
    assert not at.error and at.success[0].value.startswith("Imported **pets**")

    uploader().set_value(("bad.zip", b"more text", "application/zip")).run()  # the success was good.zip's
    assert not at.success and not at.error and not at.button(key="data_import").disabled
    at.text_input(key="data_import_name").input("notes").run()  # typed, "pets" was kept
    at.button(key="data_import").click().run()
    assert at.error[0].value.startswith("Not imported: not a readable zip archive")
    uploader().set_value(None).run()  # removed: nothing is left to describe
    assert not at.error and not at.success and at.button(key="data_import").disabled


# ----------------------------------------------------------------------------- 4. tiny sets, oversized batches


def test_caveats_say_what_tiny_splits_do_to_the_accuracies():
    import numpy as np

    from ssrl_core.data.imageset import evaluation_caveats, stratified_split

    labels = np.array([0] * 6 + [1] * 6 + [2] * 2)
    is_train = stratified_split(labels, 0.2, 0)  # as an import splits: 1 test image each for cat and dog, none for fox
    text = " ".join(evaluation_caveats(labels, is_train, ["cat", "dog", "fox"]))
    assert "Only 2 test images" in text and "0, 0.5, 1" in text and "50 points" in text
    assert "Only 12 labelled training images, fewer than the k = 20" in text
    assert "1 class (fox) has no test image" in text
    assert text.endswith("so 50 images give 10 test images (one then moves the accuracies by 10.0 points) and a "
                         "class needs 3 images or more for one to be held out.")
    assert evaluation_caveats(np.full(4, -1), np.ones(4, bool), []) == [
        "It has no labels, so runs on it get a map and nearest neighbours but no kNN or linear accuracy."]
    assert load_dataset("digits").evaluation_caveats() == []  # 1,438 train, 359 test: nothing to say
    labels = np.repeat([0, 1, 2, 3], 40)  # 160 images, as a small import: 32 test images
    [step, more] = evaluation_caveats(labels, stratified_split(labels, 0.2, 0), list("abcd"))
    assert step.startswith("32 test images: one image moves the kNN and linear accuracies by 3.1 points")
    assert more.endswith("so 1,000 images give 200 test images (one then moves the accuracies by 0.5 points).")


def test_caveats_start_below_10_test_images_and_below_k_training_images():
    """The limits are strict: 10 test images and 20 training images (k = 20) are enough, 9 and 19 are not."""
    import numpy as np

    from ssrl_core.data.imageset import evaluation_caveats

    labels = np.repeat([0, 1], 15)
    is_train = np.ones(30, bool)
    is_train[[0, 1, 2, 3, 4, 15, 16, 17, 18, 19]] = False  # 10 test images, 20 training images
    text = " ".join(evaluation_caveats(labels, is_train, ["a", "b"]))
    assert text.startswith("10 test images: one image moves the kNN and linear accuracies by 10.0 points")
    assert "Only" not in text and "fewer than the k" not in text
    is_train[4] = True  # 9 test images, 21 training images
    text = " ".join(evaluation_caveats(labels, is_train, ["a", "b"]))
    assert text.startswith("Only 9 test images") and "fewer than the k" not in text
    is_train[[4, 5]] = False  # 10 test images, 19 training images
    text = " ".join(evaluation_caveats(labels, is_train, ["a", "b"]))
    assert "Only 19 labelled training images, fewer than the k = 20" in text and "Only 10 test" not in text


def test_a_tiny_import_is_called_out_and_its_batch_too(tmp_path):
    from .test_import_images import make_zip, png

    members = {f"cat/{i}.png": png((200, 10 * i, 0)) for i in range(6)} | {
        f"dog/{i}.png": png((0, 10 * i, 200)) for i in range(6)}
    tiny = make_zip(tmp_path / "pets.zip", members).read_bytes()
    at = open_page("data")
    at.file_uploader(key="data_upload").set_value(("pets.zip", tiny, "application/zip")).run()
    at.button(key="data_import").click().run()
    assert "10 for training, 2 held out for testing" in at.success[0].value
    [warning] = [w.value for w in at.warning]
    assert "Only 2 test images" in warning and "fewer than the k = 20" in warning

    at = open_page("pretrain", dataset="pets")  # the default batch fits 10 training images: 2, so 5 steps an epoch
    assert at.number_input(key="pt_batch_pets").value == 2
    [warning] = [w.value for w in at.warning]  # not the batch's: simclr's, whose negatives are the batch
    assert warning.startswith("simclr at batch 2 compares each view with only 2 negatives")
    assert "Only 2 test images" in " ".join(i.value for i in at.info)
    at.number_input(key="pt_batch_pets").set_value(128).run()
    text = " ".join(w.value for w in at.warning)
    assert "Batch size 128 is more than the 10 training images of pets" in text and "single optimiser step" in text

    at = open_page("pretrain", method="mae", batch="4096")  # digits: 1,438 training images
    assert "Batch size 4,096 is more than the 1,438 training images of digits" in at.warning[0].value
    at.number_input(key="pt_batch_digits").set_value(256).run()
    assert not at.warning and not at.info


def test_data_page_downloads_a_missing_set_when_asked_once_not_on_every_rerun(slow_dns):
    """Choosing a set downloaded it (STL-10: 2.6 GB onto the class's server, the page waiting);
    now the page says its size and a button downloads it, which a failure says and disables."""
    at = open_page("data")
    at.selectbox(key="data_dataset").select("mnist").run()
    said = lambda: at.error[0].value + "\n" + " ".join(t.value for t in at.get("text"))  # noqa: E731  the files below it
    assert slow_dns == [] and "MNIST is not in the data folder yet: a run on it downloads it first (about 12 MB; the " \
                              "Data page has a button for it)" in said()
    assert "train-images-idx3-ubyte" in said()
    at.button(key="data_download").click().run()
    tried = len(slow_dns)
    assert tried >= 1 and "downloading it failed" in at.error[-1].value and "RuntimeError" not in said()
    at.run()
    at.run()  # every click reruns the page: no new attempt, the same advice, no button to try again at once
    assert len(slow_dns) == tried and "mnist/MNIST/raw" in said() and "downloading it failed" in at.error[0].value
    assert not [b for b in at.button if b.key == "data_download"]


def test_runs_on_a_tiny_import_carry_the_caveat_where_their_accuracies_show(tmp_path):
    from ssrl_core.config import RunConfig
    from ssrl_core.data.custom import import_images
    from ssrl_core.runs.execute import execute

    from .test_import_images import make_zip, png

    members = {f"cat/{i}.png": png((200, 10 * i, 0)) for i in range(6)} | {
        f"dog/{i}.png": png((0, 10 * i, 200)) for i in range(6)}
    import_images(make_zip(tmp_path / "pets.zip", members), "pets")
    store = RunStore()
    for seed in (0, 1):  # two random encoders: enough for Compare, no training needed
        cfg = RunConfig(dataset="pets", method="random", epochs=0, seed=seed)
        rid = store.submit(cfg)
        summary = execute(cfg, Path(store.get(rid)["run_dir"]))
        store.claim("test")
        store.finish(rid, "done", summary=summary)
    for page in ("explore", "compare", "evaluate"):
        at = open_page(page)
        said = " ".join(c.value for c in at.caption)
        assert "**pets:** Only 2 test images" in said, page
    # 5 labelled training images per class: label efficiency at 1 per class and all of them (5 per class is all),
    # kNN at k = 1 and 5 (10 training images: k = 20 and 100 would be every image)
    from ssrl_core.runs.artifacts import RunArtifacts

    probes = RunArtifacts(store.get(rid)["run_dir"]).probes
    assert sorted(k for k in probes if k.startswith("linear/label/")) == ["linear/label/1/s3", "linear/label/all/s3"]
    assert list(probes["knn_k"]) == ["1", "5"]
    # the summary's kNN (k = 20: every one of the 10 votes) is paired with the random encoder's, every image
    # voting too: a random run is its own untrained encoder, its gain "baseline" (it was "–", with a warning and a
    # button to compute probes that could never fill it; then "+0.000 (noise)", a gain over itself)
    refs = RunArtifacts(store.get(rid)["run_dir"]).references()
    assert list(refs["random-knn/label"]) == ["1", "5"]
    assert refs["random-knn/label/every-image"] == store.get(rid)["summary"]["knn_accuracy"]
    at = open_page("compare")
    assert list(at.dataframe[0].value["kNN gain over random"]) == ["baseline", "baseline"]
    at = open_page("gallery")
    assert sum("too few images for these accuracies" in c.value for c in at.caption) == 2


def test_resnet18_on_a_cpu_is_said_to_be_slow_before_launch(monkeypatch):
    """A memory review picked resnet18 on a CPU: 2.8 GB and 5.5 minutes an epoch of digits,
    with no word before Launch (the GPU's encoder; 13 times slower than cnn-small here). It is
    said on Pretrain and by the CLI, and not where the workers have a GPU."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs import worker
    from ssrl_core.train import RESNET_ON_CPU, device_cautions

    assert device_cautions(RunConfig(encoder="resnet18"), "cpu") == [RESNET_ON_CPU]
    assert device_cautions(RunConfig(encoder="resnet18"), "cuda") == []
    assert device_cautions(RunConfig(encoder="auto"), "cpu") == []  # (auto: cnn-small here)
    assert device_cautions(RunConfig(encoder="resnet18", method="random", epochs=0), "cpu") == []  # trains nothing
    at = open_page("pretrain")
    assert RESNET_ON_CPU not in [w.value for w in at.warning]
    at.selectbox(key="pt_encoder").select("resnet18").run()
    assert RESNET_ON_CPU in [w.value for w in at.warning]
    assert not at.button(key="pt_launch").disabled  # a caution, not a refusal
    monkeypatch.setattr(worker, "gpu_count", lambda: 1)
    at.run()
    assert RESNET_ON_CPU not in [w.value for w in at.warning]
