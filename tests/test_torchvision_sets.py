"""The torchvision datasets: small files written in the real formats (IDX, CIFAR pickles,
SVHN .mat, STL-10 binaries) are read back exactly; missing files give a DatasetMissing that
says what to put where, also after a failed download; damaged or hostile files are refused."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrl_core.data import DatasetMissing, load_dataset
from ssrl_core.data import torchvision_sets as tvs

NAMES = ["mnist", "fashion-mnist", "cifar10", "cifar100", "svhn", "stl10"]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- writers (real formats)


def _idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    head = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
    return head + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _idx_bytes(arr)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_mnist(root: Path, sub: tuple[str, ...], n_train: int, n_test: int, gz: dict[str, bool] | None = None):
    rng = _rng(1)
    folder = root.joinpath(*sub)
    gz = gz or {}
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz.get(f"{prefix}-images", False))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz.get(f"{prefix}-labels", False))
        out[prefix] = (images, labels)
    return out


def _legacy(blob: bytes) -> bytes:
    """Make a protocol-2 pickle name numpy's modules as the original (numpy 1.x era) files do."""
    return blob.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def write_pickle(path: Path, obj, legacy: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if legacy:
        path.write_bytes(_legacy(pickle.dumps(obj, protocol=2)))
    else:
        path.write_bytes(pickle.dumps(obj))


def cifar_batch(n: int, label_key: bytes, k: int, seed: int, extra: dict | None = None) -> dict:
    rng = _rng(seed)
    d = {
        b"batch_label": f"batch {seed}".encode(),
        label_key: [int(v) for v in rng.integers(0, k, size=n)],
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }
    d.update(extra or {})
    return d


def write_cifar10(root: Path, n: int = 3) -> dict[str, dict]:
    folder = root / "cifar10" / "cifar-10-batches-py"
    batches = {}
    for i in range(1, 6):
        batches[f"data_batch_{i}"] = cifar_batch(n, b"labels", 10, seed=i)
    batches["test_batch"] = cifar_batch(n + 1, b"labels", 10, seed=9)
    for fname, d in batches.items():
        write_pickle(folder / fname, d)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    write_pickle(folder / "batches.meta", {b"num_cases_per_batch": n, b"label_names": names, b"num_vis": 3072})
    return batches


def write_cifar100(root: Path, legacy: bool = True) -> dict[str, dict]:
    folder = root / "cifar100" / "cifar-100-python"
    rng = _rng(5)
    batches = {}
    for fname, n, seed in (("train", 6, 11), ("test", 4, 12)):
        d = cifar_batch(n, b"fine_labels", 100, seed)
        d[b"coarse_labels"] = [int(v) for v in rng.integers(0, 20, size=n)]
        batches[fname] = d
        write_pickle(folder / fname, d, legacy=legacy)
    meta = {
        b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
    }
    write_pickle(folder / "meta", meta, legacy=legacy)
    return batches


def write_svhn(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import scipy.io as sio

    folder = root / "svhn"
    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng(7)
    out = {}
    for split, n in (("train", 5), ("test", 3)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)  # H, W, C, N as in the originals
        y = np.array([[10], [1], [9], [10], [4]][:n], dtype=np.uint8)  # 10 is the digit 0
        sio.savemat(str(folder / f"{split}_32x32.mat"), {"X": x, "y": y})
        out[split] = (x, y)
    return out


def write_stl10(root: Path, class_names: list[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / "stl10" / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng(8)
    out = {}
    for split, n in (("train", 4), ("test", 2)):
        images = rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)  # row-major, as we want them
        labels = rng.integers(1, 11, size=n, dtype=np.uint8)  # 1..10 in the files
        # the files hold each channel column-major
        (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())
        (folder / f"{split}_y.bin").write_bytes(labels.tobytes())
        out[split] = (images, labels)
    if class_names is not None:
        (folder / "class_names.txt").write_text("\n".join(class_names) + "\n")
    return out


# ----------------------------------------------------------------------------- reading


def test_mnist_plain_and_gz_round_trip(tmp_path):
    import torchvision

    files = write_mnist(tmp_path, ("mnist", "MNIST", "raw"), 7, 5, gz={"train-images": True, "t10k-labels": True})
    ds = load_dataset("mnist", tmp_path, download=False)
    assert ds.name == "mnist" and len(ds) == 12
    assert ds.images.shape == (12, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.dtype == torch.int64 and ds.is_train.dtype == torch.bool
    assert int(ds.is_train.sum()) == 7 and len(ds.test_idx) == 5
    assert bool(ds.is_train[:7].all()) and not bool(ds.is_train[7:].any())
    train_x, train_y = files["train"]
    test_x, test_y = files["t10k"]
    assert torch.equal(ds.images[:7, 0], torch.from_numpy(train_x))
    assert torch.equal(ds.images[7:, 0], torch.from_numpy(test_x))
    assert ds.labels.tolist() == train_y.tolist() + test_y.tolist()
    assert ds.class_names == list(torchvision.datasets.MNIST.classes)


def test_fashion_mnist_round_trip(tmp_path):
    import torchvision

    gz = {k: True for k in ("train-images", "train-labels", "t10k-images", "t10k-labels")}
    files = write_mnist(tmp_path, ("fashion-mnist", "FashionMNIST", "raw"), 4, 3, gz=gz)
    ds = load_dataset("fashion-mnist", tmp_path, download=False)
    assert ds.images.shape == (7, 1, 28, 28)
    x, y = files["t10k"]
    assert int(ds.images[4 + 2, 0, 13, 21]) == int(x[2, 13, 21])
    assert ds.labels[4:].tolist() == y.tolist()
    assert ds.class_names == list(torchvision.datasets.FashionMNIST.classes)
    assert ds.num_classes == 10


def test_plain_file_wins_over_gz(tmp_path):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    files = write_mnist(tmp_path, ("mnist", "MNIST", "raw"), 3, 2)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")  # ignored: the plain file is there
    ds = tvs.load_torchvision("mnist", tmp_path, download=False)
    assert torch.equal(ds.images[:3, 0], torch.from_numpy(files["train"][0]))


def test_cifar10_planes_and_labels(tmp_path):
    batches = write_cifar10(tmp_path, n=3)
    # a known pixel: image 0 of data_batch_1 at row 5, column 7 is (R, G, B) = (200, 100, 50)
    d = batches["data_batch_1"]
    d[b"data"][0, 0 * 1024 + 5 * 32 + 7] = 200
    d[b"data"][0, 1 * 1024 + 5 * 32 + 7] = 100
    d[b"data"][0, 2 * 1024 + 5 * 32 + 7] = 50
    write_pickle(tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_1", d)

    ds = load_dataset("cifar10", tmp_path, download=False)
    assert ds.images.shape == (5 * 3 + 4, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.images[0, :, 5, 7].tolist() == [200, 100, 50]
    assert int(ds.is_train.sum()) == 15 and len(ds.test_idx) == 4
    order = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    want_x = np.concatenate([batches[f][b"data"] for f in order]).reshape(-1, 3, 32, 32)
    assert torch.equal(ds.images, torch.from_numpy(want_x))
    assert ds.labels.tolist() == sum((batches[f][b"labels"] for f in order), [])
    assert ds.class_names[:3] == ["airplane", "automobile", "bird"] and ds.num_classes == 10
    # the same as torchvision's HWC .data, channels first
    hwc = want_x.transpose(0, 2, 3, 1)
    assert torch.equal(ds.images.permute(0, 2, 3, 1), torch.from_numpy(hwc))


def test_cifar100_legacy_pickles_fine_labels(tmp_path):
    batches = write_cifar100(tmp_path, legacy=True)
    assert b"numpy.core.multiarray" in (tmp_path / "cifar100" / "cifar-100-python" / "train").read_bytes()
    ds = load_dataset("cifar100", tmp_path, download=False)
    assert ds.images.shape == (10, 3, 32, 32)
    assert ds.num_classes == 100 and ds.class_names[42] == "fine42"
    assert ds.labels.tolist() == batches["train"][b"fine_labels"] + batches["test"][b"fine_labels"]
    assert torch.equal(ds.images[6:].reshape(4, -1), torch.from_numpy(batches["test"][b"data"]))
    assert ds.is_train.tolist() == [True] * 6 + [False] * 4


def test_cifar100_modern_pickles(tmp_path):
    batches = write_cifar100(tmp_path, legacy=False)
    ds = tvs.load_torchvision("cifar100", tmp_path, download=False)
    assert torch.equal(ds.images[:6].reshape(6, -1), torch.from_numpy(batches["train"][b"data"]))


def test_svhn_layout_and_zero_label(tmp_path):
    files = write_svhn(tmp_path)
    ds = load_dataset("svhn", tmp_path, download=False)
    assert ds.images.shape == (8, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist() == [0, 1, 9, 0, 4] + [0, 1, 9]
    assert ds.class_names == [str(i) for i in range(10)]
    assert int(ds.is_train.sum()) == 5
    x, _ = files["test"]
    # X[h, w, c, n] -> images[n, c, h, w]
    assert int(ds.images[5 + 2, 1, 3, 30]) == int(x[3, 30, 1, 2])
    assert torch.equal(ds.images[5:], torch.from_numpy(x.transpose(3, 2, 0, 1).copy()))


def test_stl10_column_major_and_labels(tmp_path):
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    files = write_stl10(tmp_path, class_names=names)
    ds = load_dataset("stl10", tmp_path, download=False)
    assert ds.images.shape == (6, 3, 96, 96) and ds.images.dtype == torch.uint8
    train_x, train_y = files["train"]
    test_x, test_y = files["test"]
    assert torch.equal(ds.images[:4], torch.from_numpy(train_x))
    assert torch.equal(ds.images[4:], torch.from_numpy(test_x))
    assert int(ds.images[1, 2, 10, 80]) == int(train_x[1, 2, 10, 80])
    assert ds.labels.tolist() == (train_y.astype(int) - 1).tolist() + (test_y.astype(int) - 1).tolist()
    assert ds.class_names == names and ds.is_train.tolist() == [True] * 4 + [False] * 2


def test_stl10_without_class_names_file(tmp_path):
    write_stl10(tmp_path)
    ds = tvs.load_torchvision("stl10", tmp_path, download=False)
    assert ds.class_names[0] == "airplane" and ds.num_classes == 10


# ----------------------------------------------------------------------------- missing files


@pytest.mark.parametrize("name", NAMES)
def test_missing_without_download_names_folder_and_files(tmp_path, name):
    with pytest.raises(DatasetMissing) as info:
        load_dataset(name, tmp_path, download=False)
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    folder = tvs.dataset_folder(name, tmp_path)
    assert str(folder) in msg and "download=False" in msg
    for f in tvs.expected_files(name, tmp_path):
        assert f.name in msg
    assert not folder.exists()  # nothing was created


def test_partly_missing_lists_what_is_missing(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetMissing) as info:
        tvs.load_torchvision("cifar10", tmp_path, download=False)
    lines = [ln for ln in str(info.value).splitlines() if "<- missing" in ln]
    assert len(lines) == 1 and "data_batch_3" in lines[0]


@pytest.fixture
def no_network(monkeypatch):
    """Every name lookup and connection fails, whatever the machine's network."""

    def refuse(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (blocked by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", NAMES)
def test_failed_download_becomes_dataset_missing(tmp_path, name, no_network):
    before = socket.getdefaulttimeout()
    with pytest.raises(DatasetMissing) as info:
        load_dataset(name, tmp_path, download=True)
    msg = str(info.value)
    assert "downloading it failed" in msg and "network" in msg
    assert str(tvs.dataset_folder(name, tmp_path)) in msg
    assert tvs.expected_files(name, tmp_path)[0].name in msg
    assert socket.getdefaulttimeout() == before  # the download's timeout was undone


@pytest.mark.timeout(120)
def test_real_download_attempt_fails_fast_offline(tmp_path):
    """On this offline machine the real attempt must fail quickly with DatasetMissing; where
    the network works, MNIST (11 MB) is really downloaded and read."""
    start = time.monotonic()
    try:
        ds = load_dataset("mnist", tmp_path, download=True)
    except DatasetMissing as exc:
        assert "mnist" in str(exc) and "train-images-idx3-ubyte" in str(exc)
        elapsed = time.monotonic() - start
        print(f"failed download attempt took {elapsed:.2f}s")
    else:
        assert ds.images.shape == (70000, 1, 28, 28) and int(ds.is_train.sum()) == 60000


@pytest.mark.timeout(120)
def test_hanging_server_times_out(tmp_path, monkeypatch):
    """A server that accepts the connection and never answers: the socket timeout ends it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # connections complete in the backlog; nothing is ever sent back
    port = server.getsockname()[1]
    real_getaddrinfo = socket.getaddrinfo

    def to_local(host, p, *args, **kwargs):
        return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", to_local)
    monkeypatch.setattr(tvs, "DOWNLOAD_TIMEOUT_S", 1.0)
    start = time.monotonic()
    try:
        with pytest.raises(DatasetMissing) as info:
            tvs.load_torchvision("cifar10", tmp_path, download=True)
    finally:
        server.close()
    assert time.monotonic() - start < 60
    assert "timed out" in str(info.value).lower()


@pytest.mark.timeout(120)
def test_a_data_folder_that_does_not_exist_is_said_to_be_a_typo(tmp_path, no_network):
    """A mistyped --data-dir read as "downloading it failed ... is there no network here?" alone."""
    typo = tmp_path / "usb" / "stik"
    (tmp_path / "usb" / "stick").mkdir(parents=True)
    with pytest.raises(DatasetMissing) as info:
        load_dataset("cifar10", typo, download=True)
    first = str(info.value).splitlines()[0]
    assert "downloading it failed" in first
    assert f"The data folder {typo} does not exist: is its path mistyped" in first
    assert "does not exist" in tvs.check_files("cifar10", typo).summary
    assert "does not exist" not in tvs.check_files("cifar10", tmp_path).summary  # there: not downloaded yet


def test_an_incomplete_set_says_which_file_is_missing(tmp_path):
    write_svhn(tmp_path)
    (tmp_path / "svhn" / "test_32x32.mat").unlink()
    folder = tvs.dataset_folder("svhn", tmp_path)
    missing = tvs.check_files("svhn", tmp_path)
    assert missing.summary == f"SVHN is incomplete: test_32x32.mat is missing from {folder}."
    with pytest.raises(DatasetMissing) as info:
        load_dataset("svhn", tmp_path, download=False)
    assert str(info.value).startswith(f"SVHN is incomplete (test_32x32.mat is missing from {folder}) and "
                                      "downloading is switched off")
    write_cifar10(tmp_path)
    for f in ("data_batch_2", "test_batch"):
        (tmp_path / "cifar10" / "cifar-10-batches-py" / f).unlink()
    assert "data_batch_2 and test_batch are missing" in tvs.check_files("cifar10", tmp_path).summary


def test_files_one_folder_too_deep_are_found_and_said_where(tmp_path):
    write_cifar10(tmp_path / "elsewhere")
    folder = tvs.dataset_folder("cifar10", tmp_path)
    deep = folder / "cifar-10-batches-py"
    deep.parent.mkdir(parents=True)
    (tmp_path / "elsewhere" / "cifar10" / "cifar-10-batches-py").rename(deep)  # copied into the folder, not over it
    with pytest.raises(DatasetMissing) as info:
        load_dataset("cifar10", tmp_path, download=False)
    lines = str(info.value).splitlines()
    # on the first line, which a page shows unfolded (under "is not in the data folder, download it" it went unseen)
    assert lines[0] == f"CIFAR-10 is not where it goes. Found data_batch_1 in {deep}: move that folder's files into {folder}."
    assert tvs.check_files("cifar10", tmp_path).summary == lines[0]
    for f in deep.iterdir():  # as it says
        f.rename(folder / f.name)
    assert len(load_dataset("cifar10", tmp_path, download=False)) == 19


def test_files_put_in_the_data_folder_without_the_sets_folder_are_found(tmp_path):
    write_stl10(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "stl10" / "stl10_binary").rename(tmp_path / "stl10_binary")
    msg = str(tvs.check_files("stl10", tmp_path))
    assert (f"Found train_X.bin in {tmp_path / 'stl10_binary'}: move that folder's files into "
            f"{tvs.dataset_folder('stl10', tmp_path)}.") in msg


@pytest.mark.parametrize("where", ["set folder", "data folder"])
def test_an_archive_not_unpacked_is_found_with_the_command_that_unpacks_it(tmp_path, where):
    import shlex
    import subprocess
    import tarfile

    write_cifar10(tmp_path / "src")
    archive = (tmp_path / "data" / "cifar10" if where == "set folder" else tmp_path / "data") / "cifar-10-python.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:  # as the original: cifar-10-batches-py/ at its top
        tar.add(tmp_path / "src" / "cifar10" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    root = tmp_path / "data"
    with pytest.raises(DatasetMissing) as info:
        load_dataset("cifar10", root, download=False)
    [line] = [ln.split(" is not where it goes. ")[1] for ln in str(info.value).splitlines() if "Found" in ln]
    command = line.split("`")[1]
    assert line.startswith(f"Found the archive {archive}: unpack it with `tar xzf ")
    assert command == f"tar xzf {shlex.quote(str(archive))} -C {shlex.quote(str(root / 'cifar10'))}"
    (root / "cifar10").mkdir(exist_ok=True)
    subprocess.run(shlex.split(command), check=True)  # the command it gives works
    assert len(load_dataset("cifar10", root, download=False)) == 19


def test_the_search_for_misplaced_files_stays_out_of_other_folders(tmp_path):
    """Only the set's own folder and the data folder's top level are looked at: data/custom may
    hold thousands of files."""
    write_cifar10(tmp_path / "custom" / "some-set")
    msg = str(tvs.check_files("cifar10", tmp_path))
    assert "Found" not in msg


# ----------------------------------------------------------------------------- damaged files


def _damage_idx_magic(root: Path) -> Path:
    write_mnist(root, ("mnist", "MNIST", "raw"), 3, 2)
    p = root / "mnist" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    p.write_bytes(b"\x00\x00\x0d\x03" + p.read_bytes()[4:])  # float32 type: not MNIST
    return p


def _damage_idx_truncated(root: Path) -> Path:
    write_mnist(root, ("mnist", "MNIST", "raw"), 3, 2)
    p = root / "mnist" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-10])
    return p


def _damage_gzip(root: Path) -> Path:
    write_mnist(root, ("mnist", "MNIST", "raw"), 3, 2, gz={"train-labels": True})
    p = root / "mnist" / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:15])
    return p


def _damage_label_count(root: Path) -> Path:
    write_mnist(root, ("mnist", "MNIST", "raw"), 3, 2)
    p = root / "mnist" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    write_idx(p, np.zeros(7, np.uint8))
    return p


def _damage_cifar_truncated(root: Path) -> Path:
    write_cifar10(root)
    p = root / "cifar10" / "cifar-10-batches-py" / "data_batch_2"
    p.write_bytes(p.read_bytes()[:100])
    return p


def _damage_cifar_not_pickle(root: Path) -> Path:
    write_cifar10(root)
    p = root / "cifar10" / "cifar-10-batches-py" / "batches.meta"
    p.write_bytes(b"<html>404 Not Found</html>")
    return p


def _damage_cifar_wrong_shape(root: Path) -> Path:
    write_cifar10(root)
    p = root / "cifar10" / "cifar-10-batches-py" / "test_batch"
    d = cifar_batch(2, b"labels", 10, seed=3)
    d[b"data"] = d[b"data"][:, :100]
    write_pickle(p, d)
    return p


def _damage_svhn(root: Path) -> Path:
    write_svhn(root)
    p = root / "svhn" / "test_32x32.mat"
    p.write_bytes(b"garbage" * 20)
    return p


def _damage_stl10(root: Path) -> Path:
    write_stl10(root)
    p = root / "stl10" / "stl10_binary" / "train_X.bin"
    p.write_bytes(p.read_bytes()[:-1])
    return p


def _damage_stl10_labels(root: Path) -> Path:
    write_stl10(root)
    p = root / "stl10" / "stl10_binary" / "test_y.bin"
    p.write_bytes(bytes([1, 11]))  # 11 is no STL-10 class
    return p


@pytest.mark.parametrize(
    "name, damage",
    [
        ("mnist", _damage_idx_magic),
        ("mnist", _damage_idx_truncated),
        ("mnist", _damage_gzip),
        ("cifar10", _damage_cifar_truncated),
        ("cifar10", _damage_cifar_not_pickle),
        ("cifar10", _damage_cifar_wrong_shape),
        ("svhn", _damage_svhn),
        ("stl10", _damage_stl10),
        ("stl10", _damage_stl10_labels),
    ],
)
def test_damaged_file_is_named(tmp_path, name, damage):
    path = damage(tmp_path)
    with pytest.raises(ValueError) as info:
        load_dataset(name, tmp_path, download=True)  # present files are never re-downloaded
    assert isinstance(info.value, tvs.DamagedFile)
    msg = str(info.value)
    assert str(path) in msg and "damaged" in msg and "Delete it or replace it" in msg


def _stl10_images_cut_short(root: Path) -> tuple[Path, Path]:
    write_stl10(root)
    folder = root / "stl10" / "stl10_binary"
    x = folder / "train_X.bin"
    x.write_bytes(x.read_bytes()[: 2 * 3 * 96 * 96])  # 2 whole images of the 4 labelled
    return x, folder / "train_y.bin"


def _mnist_labels_of_another_split(root: Path) -> tuple[Path, Path]:
    folder = root / "mnist" / "MNIST" / "raw"
    _damage_label_count(root)
    return folder / "t10k-images-idx3-ubyte", folder / "t10k-labels-idx1-ubyte"


@pytest.mark.parametrize("name, damage", [("stl10", _stl10_images_cut_short),
                                          ("mnist", _mnist_labels_of_another_split)])
def test_images_and_labels_that_do_not_match_name_both_files(tmp_path, name, damage):
    """STL-10's train_X.bin cut short blamed train_y.bin alone ("100 labels for 50 images")."""
    images, labels = damage(tmp_path)
    with pytest.raises(tvs.DamagedFile) as info:
        load_dataset(name, tmp_path, download=False)
    msg = str(info.value)
    assert str(images) in msg and str(labels) in msg
    assert "One of the two is damaged, cut short or from the other split" in msg and "replace both" in msg


# ----------------------------------------------------------------------------- hostile pickles


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalPayload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_Payload, _EvalPayload])
@pytest.mark.parametrize("where", ["batch", "meta"])
def test_hostile_pickle_is_refused_without_running(tmp_path, payload, where):
    marker = tmp_path / "pwned"
    write_cifar10(tmp_path)
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    if where == "batch":
        d = cifar_batch(3, b"labels", 10, seed=1, extra={b"batch_label": payload(marker)})
        target = folder / "data_batch_1"
    else:
        d = {b"label_names": [b"a"] * 10, b"num_vis": payload(marker)}
        target = folder / "batches.meta"
    target.write_bytes(pickle.dumps(d))
    with pytest.raises(ValueError) as info:
        load_dataset("cifar10", tmp_path, download=False)
    msg = str(info.value)
    assert str(target) in msg and "refused" in msg
    assert ("system" in msg) if payload is _Payload else ("eval" in msg)
    assert not marker.exists()


def test_payload_works_when_unpickled_normally(tmp_path):
    """The control: the same payload does run under plain pickle.loads."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_safe_unpickler_keeps_arrays_and_containers():
    obj = {b"a": np.arange(6, dtype=np.uint8).reshape(2, 3), b"b": [1, 2, b"x", "y", 3.5], b"c": np.int64(4)}
    for protocol in (2, 4, 5):
        blob = pickle.dumps(obj, protocol=protocol)
        for data in (blob, _legacy(blob)):
            got = tvs._SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
            assert np.array_equal(got[b"a"], obj[b"a"]) and got[b"b"] == obj[b"b"] and got[b"c"] == 4


# ----------------------------------------------------------------------------- files changed on disk


def test_a_copy_changed_on_disk_is_read_again_without_a_restart(tmp_path):
    """load_dataset keeps a set in memory; a copy fixed, replaced or moved away on disk is seen
    by the next load (a worker that once loaded a broken copy kept failing runs until restarted)."""
    write_cifar10(tmp_path, n=3)
    assert len(load_dataset("cifar10", tmp_path, download=False)) == 5 * 3 + 4
    write_cifar10(tmp_path, n=4)  # another copy put in its place
    folder = tvs.dataset_folder("cifar10", tmp_path)
    for f in folder.iterdir():  # on a coarse-mtime filesystem the sizes differ anyway; make the mtimes too
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    assert len(load_dataset("cifar10", tmp_path, download=False)) == 5 * 4 + 5
    (folder / "data_batch_2").rename(tmp_path / "data_batch_2")  # moved away
    with pytest.raises(DatasetMissing, match="data_batch_2"):
        load_dataset("cifar10", tmp_path, download=False)


# ----------------------------------------------------------------------------- empty files, no training images


@pytest.mark.parametrize("name, write, fname", [
    ("stl10", write_stl10, "train_X.bin"),
    ("stl10", write_stl10, "train_y.bin"),
    ("cifar10", write_cifar10, "data_batch_3"),
    ("mnist", lambda root: write_mnist(root, ("mnist", "MNIST", "raw"), 3, 2), "t10k-labels-idx1-ubyte"),
])
def test_an_empty_file_is_damaged_and_probably_cut_short(tmp_path, name, write, fname):
    write(tmp_path)
    path = tvs.dataset_folder(name, tmp_path) / fname
    path.write_bytes(b"")
    if name == "stl10":  # both of a split emptied: 0 images with 0 labels once loaded as a set of 0 images
        path.with_name(fname.replace("_X", "_y") if "_X" in fname else fname.replace("_y", "_X")).write_bytes(b"")
    with pytest.raises(tvs.DamagedFile) as info:
        load_dataset(name, tmp_path, download=False)
    msg = str(info.value)
    assert "empty" in msg and "cut short" in msg and "Delete it or replace it" in msg
    assert msg.startswith(str(tvs.dataset_folder(name, tmp_path)))


def test_a_set_with_no_training_images_is_refused(tmp_path):
    folder = tmp_path / "mnist" / "MNIST" / "raw"
    write_mnist(tmp_path, ("mnist", "MNIST", "raw"), 3, 2)
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))  # well-formed, 0 images
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(0, np.uint8))
    with pytest.raises(ValueError) as info:
        load_dataset("mnist", tmp_path, download=False)
    msg = str(info.value)
    assert "MNIST" in msg and "no training images" in msg and "train-images-idx3-ubyte" in msg
    assert "Replace them with a good copy" in msg


def test_training_on_a_set_with_no_training_images_says_so(tmp_path, monkeypatch):
    """Whatever the set (a loader's bug, an imported set), a run with 0 training images is
    refused with a message, not a ZeroDivisionError in the training loop."""
    import dataclasses

    from ssrl_core import train
    from ssrl_core.config import RunConfig

    digits = load_dataset("digits")
    empty = dataclasses.replace(digits, is_train=torch.zeros_like(digits.is_train))
    monkeypatch.setattr(train, "load_dataset", lambda name, data_dir=None: empty)
    cfg = RunConfig(dataset="digits", method="rotation", epochs=1, batch_size=16)
    with pytest.raises(ValueError, match=r"^digits has no training images \(1,797 images, none of them in its "
                                         r"training split\)"):
        train.pretrain(cfg, tmp_path / "run")
    with pytest.raises(ValueError, match="no training images"):
        train.data_warnings(cfg, empty)  # what the Pretrain page and the CLI check before queueing
