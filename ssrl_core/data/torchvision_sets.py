"""The torchvision datasets, read from their original files in the data folder.

Every set is kept in its own subfolder of the data folder ``ROOT`` (``SSRL_HOME/data`` or
``--data-dir``), laid out exactly as torchvision downloads it, so a folder written by
torchvision anywhere else can be copied in as it is:

========================  ==========================================  ==================================
dataset                   folder                                      files
========================  ==========================================  ==================================
``mnist``                 ``ROOT/mnist/MNIST/raw/``                   ``train-images-idx3-ubyte``,
                                                                      ``train-labels-idx1-ubyte``,
                                                                      ``t10k-images-idx3-ubyte``,
                                                                      ``t10k-labels-idx1-ubyte``
                                                                      (each may also be ``.gz``)
``fashion-mnist``         ``ROOT/fashion-mnist/FashionMNIST/raw/``    the same four names as MNIST
``cifar10``               ``ROOT/cifar10/cifar-10-batches-py/``       ``data_batch_1`` .. ``data_batch_5``,
                                                                      ``test_batch``, ``batches.meta``
                                                                      (from ``cifar-10-python.tar.gz``)
``cifar100``              ``ROOT/cifar100/cifar-100-python/``         ``train``, ``test``, ``meta``
                                                                      (from ``cifar-100-python.tar.gz``)
``svhn``                  ``ROOT/svhn/``                              ``train_32x32.mat``, ``test_32x32.mat``
``stl10``                 ``ROOT/stl10/stl10_binary/``                ``train_X.bin``, ``train_y.bin``,
                                                                      ``test_X.bin``, ``test_y.bin``
                                                                      (``class_names.txt`` optional)
========================  ==========================================  ==================================

Each set is returned as one :class:`ImageSet` holding the official train split followed by
the official test split (``is_train`` marks the train split). Images are uint8
``[N, C, H, W]``: MNIST and Fashion-MNIST ``[N, 1, 28, 28]``, CIFAR and SVHN
``[N, 3, 32, 32]``, STL-10 ``[N, 3, 96, 96]``. SVHN's label 10 (the digit 0) becomes 0 and
its ``extra`` split is not used; STL-10's labels 1..10 become 0..9 and only its labelled
``train`` and ``test`` splits are read (the 100,000 ``unlabeled`` images are skipped).

The files are parsed here, not by torchvision's dataset classes: those check the MD5 of
every file and would refuse any copy that is not byte-for-byte the original. torchvision is
used only to download: when files are missing and ``download`` is true, its dataset class is
built with ``download=True``. Before that, a TCP connection to the download server must open
within :data:`PROBE_TIMEOUT_S` seconds (skipped behind a proxy), and sockets time out after
:data:`DOWNLOAD_TIMEOUT_S` seconds, so a machine without network fails within seconds. A
failed download is remembered (per process and data folder) for
:data:`RETRY_DOWNLOAD_AFTER_S` seconds: loads in that time fail at once instead of waiting
on the network again (an app reruns its page on every click). When the files are missing
and cannot be downloaded, :class:`~ssrl_core.data.DatasetMissing` says which files to put
where; :func:`check_files` says the same from the disk alone, without trying anything. A
file that cannot be parsed raises a :class:`DamagedFile` (a ``ValueError``) naming it.

The CIFAR batches are Python pickles. They are read with a restricted unpickler that can
only rebuild plain containers and numpy arrays; a pickle that names any other global
(``os.system`` and the like) is refused before anything in it runs.
"""
from __future__ import annotations

import gzip
import pickle
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .imageset import ImageSet

__all__ = ["load_torchvision", "check_files", "files_stamp", "expected_files", "dataset_folder", "DamagedFile",
           "DOWNLOAD_TIMEOUT_S",
           "PROBE_TIMEOUT_S", "RETRY_DOWNLOAD_AFTER_S"]

#: seconds any one network operation of a download may block before it fails
DOWNLOAD_TIMEOUT_S = 15.0
#: seconds the download server has to accept a TCP connection before a download is tried at all
PROBE_TIMEOUT_S = 3.0
#: seconds after a failed download during which loading the same set fails at once, without the network
RETRY_DOWNLOAD_AFTER_S = 300.0

_FAILED: dict[tuple[str, str], tuple[float, str]] = {}  # (name, root) -> (time.monotonic(), short reason)
_LOCKS: dict[tuple[str, str], threading.Lock] = {}  # one download at a time per set and folder
_LOCKS_GUARD = threading.Lock()


class DamagedFile(ValueError):
    """A dataset file exists but cannot be read as the format it should have."""


# ----------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Spec:
    title: str
    folder: tuple[str, ...]  # below ROOT
    files: tuple[str, ...]  # required, in that folder
    source: str  # where the files come from, for the message
    download_mb: int  # what a download fetches, in MB of 10^6 bytes (the files torchvision downloads), said before one
    gz_ok: bool = False  # each file may be stored gzip-compressed as NAME.gz


_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_SPECS: dict[str, _Spec] = {
    "mnist": _Spec(
        "MNIST", ("mnist", "MNIST", "raw"), _IDX_FILES,
        "the four .gz files at https://ossci-datasets.s3.amazonaws.com/mnist/", 12, gz_ok=True,
    ),
    "fashion-mnist": _Spec(
        "Fashion-MNIST", ("fashion-mnist", "FashionMNIST", "raw"), _IDX_FILES,
        "the four .gz files at http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", 31, gz_ok=True,
    ),
    "cifar10": _Spec(
        "CIFAR-10", ("cifar10", "cifar-10-batches-py"),
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, unpacked in the cifar10 folder", 170,
    ),
    "cifar100": _Spec(
        "CIFAR-100", ("cifar100", "cifar-100-python"), ("train", "test", "meta"),
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz, unpacked in the cifar100 folder", 169,
    ),
    "svhn": _Spec(
        "SVHN", ("svhn",), ("train_32x32.mat", "test_32x32.mat"),
        "http://ufldl.stanford.edu/housenumbers/train_32x32.mat and test_32x32.mat", 246,
    ),
    "stl10": _Spec(
        "STL-10", ("stl10", "stl10_binary"), ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"),
        "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz, unpacked in the stl10 folder", 2640,
    ),
}

# the class names torchvision's dataset classes give (``.classes``)
_MNIST_CLASSES = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
                  "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
_FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def dataset_folder(name: str, root: Path) -> Path:
    """The folder in which the files of ``name`` are expected."""
    return Path(root).joinpath(*_SPECS[_check_name(name)].folder)


def expected_files(name: str, root: Path) -> list[Path]:
    """The files ``name`` needs (for MNIST-style sets a ``.gz`` twin is also accepted)."""
    folder = dataset_folder(name, root)
    return [folder / f for f in _SPECS[name].files]


def _check_name(name: str) -> str:
    if name not in _SPECS:
        raise ValueError(f"unknown torchvision dataset {name!r}: choose one of {', '.join(_SPECS)}")
    return name


def _find(folder: Path, fname: str, gz_ok: bool) -> Path | None:
    p = folder / fname
    if p.is_file():
        return p
    if gz_ok and (folder / (fname + ".gz")).is_file():
        return folder / (fname + ".gz")
    return None


def files_stamp(name: str, root: Path) -> tuple:
    """What changes when the files ``name``'s loader reads change: for each of them (and
    STL-10's optional ``class_names.txt``), the name it is found under, its size and its
    mtime, or None where it is missing. A few ``stat`` calls, no walk of the folder: for a
    cache of a loaded set to see a copy fixed, replaced, broken or moved away."""
    spec = _SPECS[_check_name(name)]
    folder = dataset_folder(name, Path(root))
    stamp = []
    for f in spec.files + (("class_names.txt",) if name == "stl10" else ()):
        p = _find(folder, f, spec.gz_ok)
        try:
            st = p.stat() if p is not None else None
        except OSError:
            st = None
        stamp.append((p.name, st.st_size, st.st_mtime_ns) if st is not None else (f, None, None))
    return tuple(stamp)


def _missing(name: str, root: Path) -> list[str]:
    spec = _SPECS[name]
    folder = dataset_folder(name, root)
    return [f for f in spec.files if _find(folder, f, spec.gz_ok) is None]


# ----------------------------------------------------------------------------- entry point


def load_torchvision(name: str, root: Path, download: bool = True) -> ImageSet:
    """Load ``name`` (mnist, fashion-mnist, cifar10, cifar100, svhn, stl10) from its folder
    under ``root`` (see the module docstring for the folders and files), downloading it
    first with torchvision when files are missing and ``download`` is true (``fetch_files``).

    Raises :class:`~ssrl_core.data.DatasetMissing` when files are missing and cannot be
    downloaded, :class:`DamagedFile` (a ``ValueError``) when a file cannot be parsed.
    """
    _check_name(name)
    root = Path(root)
    fetch_files(name, root, download)
    folder = dataset_folder(name, root)
    spec = _SPECS[name]
    for f in spec.files:
        p = _find(folder, f, spec.gz_ok)
        if p is not None and p.stat().st_size == 0:
            raise _damaged(p, "empty: 0 bytes, so the copy was probably cut short")
    ds = _READERS[name](name, folder)
    if not bool(ds.is_train.any()):
        train = [f for f in spec.files if f.startswith(("train", "data_batch"))]
        raise DamagedFile(f"{spec.title} in {folder} has no training images: its training files ({', '.join(train)}) "
                          "hold 0 images, so they are probably damaged or cut short. Replace them with a good copy "
                          f"from {spec.source}.")
    return ds


def fetch_files(name: str, root: Path, download: bool = True) -> None:
    """Make sure the files of ``name`` are in its folder under ``root``, downloading them with
    torchvision when they are missing and ``download`` is true, unless a download of it failed
    less than :data:`RETRY_DOWNLOAD_AFTER_S` seconds ago in this process; parses nothing (the
    Data page's button downloads, then its page loads the set once). Raises
    :class:`~ssrl_core.data.DatasetMissing` when they are missing and cannot be downloaded."""
    _check_name(name)
    root = Path(root)
    missing = _missing(name, root)
    if not missing:
        return
    if not download:
        raise _missing_error(name, root, missing, "downloading is switched off (download=False)")
    key = (name, str(root))
    with _lock(key):  # a second caller waits for the first one's download, then sees its result
        missing = _missing(name, root)
        if not missing:
            return
        recent = _recent_failure(name, root)
        if recent:
            raise recent
        try:
            _download(name, root)
        except Exception as exc:  # no network, refused, timed out, bad archive, ...
            reason = short_reason(exc)
            _FAILED[key] = (time.monotonic(), reason)
            raise _missing_error(name, root, _missing(name, root) or missing,
                                 f"downloading it failed ({reason}; is there no network here?)",
                                 reason=reason) from exc
        _FAILED.pop(key, None)
        missing = _missing(name, root)
        if missing:
            raise _missing_error(name, root, missing, "the download did not produce them")


def check_files(name: str, root: Path):
    """None when the files of ``name`` are in its folder under ``root``; else the
    :class:`~ssrl_core.data.DatasetMissing` a load would end with, saying which files to put
    where. Looks at the disk only: never downloads, never parses (microseconds)."""
    _check_name(name)
    root = Path(root)
    missing = _missing(name, root)
    if not missing:
        return None
    title = _SPECS[name].title
    if incomplete := _incomplete(name, root, missing):
        summary = f"{title} is incomplete: {incomplete}."
    else:
        # (not "when it is first needed": a page load never downloads, a run or the Data page's button does)
        summary = f"{title} is not in the data folder yet: a run on it downloads it first ({download_size(name)}; " \
                  "the Data page has a button for it), which needs network access."
    return _recent_failure(name, root) or _missing_error(name, root, missing, summary=summary)


def download_size(name: str) -> str:
    """About what a download of ``name`` fetches, in words: "about 170 MB", "about 2.6 GB"."""
    mb = _SPECS[_check_name(name)].download_mb
    return f"about {mb / 1000:.1f} GB" if mb >= 1000 else f"about {mb} MB"


def title(name: str) -> str:
    """The set's name as its makers write it: "CIFAR-10"."""
    return _SPECS[_check_name(name)].title


def _incomplete(name: str, root: Path, missing: list[str]) -> str | None:
    """For a set some of whose files are there: "F is missing from FOLDER" ("F and G are"); else None."""
    spec = _SPECS[name]
    if not missing or len(missing) == len(spec.files):
        return None
    names = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    return f"{names} {'is' if len(missing) == 1 else 'are'} missing from {dataset_folder(name, root)}"


def _lock(key: tuple[str, str]) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _recent_failure(name: str, root: Path) -> Exception | None:
    """The DatasetMissing of a download of ``name`` into ``root`` that failed less than
    RETRY_DOWNLOAD_AFTER_S seconds ago in this process, or None."""
    failed = _FAILED.get((name, str(root)))
    if failed is None:
        return None
    ago = time.monotonic() - failed[0]
    if ago >= RETRY_DOWNLOAD_AFTER_S:
        return None
    # clock times, not "2 min ago": a failed run keeps this text as its reason, read long after
    at = time.time() - ago
    return _missing_error(
        name, root, _missing(name, root),
        f"downloading it failed at {_clock(at)} ({failed[1]}; is there no network here?); it can be downloaded "
        f"again from {_clock(at + RETRY_DOWNLOAD_AFTER_S)}", reason=failed[1])


def _clock(t: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(t))


def short_reason(exc: BaseException) -> str:
    """Why a download failed, in a few words: the innermost network error of torchvision's
    message (``Name or service not known``, ``timed out``), without the URLs it tried."""
    text = " ".join(str(exc).split())
    inner = re.findall(r"<urlopen error (.*?)>", text)
    if inner:
        text = inner[-1]
    elif isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        text = "timed out"
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    text = re.sub(r"https?://\S+", "", text).strip(" :,.;")
    return (text or type(exc).__name__)[:120]


def _missing_error(name: str, root: Path, missing: list[str], why: str = "", reason: str | None = None,
                   summary: str | None = None) -> Exception:
    """The DatasetMissing for ``missing`` files: its first line is ``summary``, by default
    "TITLE is not in the data folder and WHY." ("TITLE is incomplete (F is missing from
    FOLDER) and WHY." where some files are there), followed by a sentence saying so when the
    data folder itself does not exist (a typo); then the files, where they go and where to
    get them (one short line of advice, not the download's own error)."""
    from . import DatasetMissing  # here, not at the top: ssrl_core.data imports this module

    spec = _SPECS[name]
    folder = dataset_folder(name, root)
    gz = " (each may also be gzip-compressed as NAME.gz)" if spec.gz_ok else ""
    found = _misplaced(name, root, list(missing))
    if found:  # the one thing to do, on the line a page shows (a review found it folded under "download it")
        summary = f"{spec.title} is not where it goes. {found[0]}"
    elif not summary:
        incomplete = _incomplete(name, root, missing)
        summary = (f"{spec.title} is incomplete ({incomplete}) and {why}." if incomplete
                   else f"{spec.title} is not in the data folder and {why}.")
    if not Path(root).exists():  # a mistyped --data-dir: said, not only "no network"
        summary += f" The data folder {Path(root)} does not exist: is its path mistyped (--data-dir, SSRL_HOME)?"
    lines = [
        summary,
        *found[1:],
        f"Put these files in {folder}{gz}:",
        # padded: the marks line up where the list is shown in a fixed-width font (a page's code block, a terminal)
        *[f"  {f:<{max(map(len, spec.files))}}{'   <- missing' if f in missing else ''}".rstrip()
          for f in spec.files],
        f"Get them from {spec.source}, on a machine with network access; or let this tool download them there "
        f"and copy its {spec.folder[0]} folder into {Path(root)}.",
    ]
    return DatasetMissing("\n".join(lines), summary=summary, folder=folder, files=spec.files, missing=tuple(missing),
                          source=spec.source, reason=reason)


#: the archive each set comes in, which unpacks into its folder's last part (torchvision's download keeps it there)
_ARCHIVES = {"cifar10": "cifar-10-python.tar.gz", "cifar100": "cifar-100-python.tar.gz", "stl10": "stl10_binary.tar.gz"}
#: how deep below a set's own folder, and how many entries at most, the search for misplaced files looks
_SEARCH_DEPTH, _SEARCH_ENTRIES = 4, 2000


def _misplaced(name: str, root: Path, missing: list[str]) -> list[str]:
    """Lines saying where a missing file or the set's archive was found instead, and what to
    do: a folder one level too deep, the archive not unpacked. Looks in the set's own folder
    (``_SEARCH_DEPTH`` levels, ``_SEARCH_ENTRIES`` entries at most) and at the data folder's top
    level only, so a data folder of thousands of imported images costs nothing."""
    import os
    import shlex

    spec = _SPECS[name]
    root, folder = Path(root), dataset_folder(name, root)
    own = root / spec.folder[0]
    wanted = {missing[0]} | ({missing[0] + ".gz"} if spec.gz_ok else set()) if missing else set()
    archive = _ARCHIVES.get(name)
    found_file = found_archive = None
    # the data folder's top level: the archive, or the set's inner folder copied without its outer one
    if archive and (root / archive).is_file():
        found_archive = root / archive
    if len(spec.folder) > 1 and wanted and any((root / spec.folder[-1] / w).is_file() for w in wanted):
        found_file = root / spec.folder[-1]
    seen = 0
    if own.is_dir():
        for here, dirs, files in os.walk(own):
            here_p = Path(here)
            depth = len(here_p.relative_to(own).parts)
            seen += len(dirs) + len(files)
            if found_file is None and here_p != folder and wanted & set(files):
                found_file = here_p
            if archive and found_archive is None and archive in files:
                found_archive = here_p / archive
            if (found_file and (found_archive or not archive)) or seen > _SEARCH_ENTRIES:
                break
            if depth >= _SEARCH_DEPTH:
                dirs[:] = []
            dirs.sort()
    lines = []
    if found_file is not None:
        lines.append(f"Found {missing[0]} in {found_file}: move that folder's files into {folder}.")
    if found_archive is not None:
        lines.append(f"Found the archive {found_archive}: unpack it with "
                     f"`tar xzf {shlex.quote(str(found_archive))} -C {shlex.quote(str(own))}` "
                     f"(it makes {own / spec.folder[-1]}).")
    return lines


def _download_urls(name: str) -> list[str]:
    """The addresses torchvision downloads ``name`` from (its dataset classes' ``mirrors``
    and ``url``; written down here so that a failing probe costs no torchvision import, and
    checked against torchvision's by the tests)."""
    return list(_DOWNLOAD_URLS[name])


_DOWNLOAD_URLS: dict[str, tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "cifar100": ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
    "svhn": ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",),
    "stl10": ("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",),
}


def _unreachable(urls: list[str], timeout: float) -> str | None:
    """None when one of the servers of ``urls`` accepts a TCP connection within ``timeout``
    seconds (name lookup included, which a socket timeout does not bound), else why not.
    Behind a proxy (``https_proxy`` and the like) the servers are not dialled directly, so
    this says None and leaves it to the download."""
    import urllib.request
    from queue import Empty, Queue
    from urllib.parse import urlsplit

    if urllib.request.getproxies():
        return None
    answers: Queue = Queue()

    def dial(url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or url
        try:
            socket.create_connection((host, parts.port or (443 if parts.scheme == "https" else 80)), timeout).close()
            answers.put(None)
        except Exception as exc:  # gaierror, refused, timed out, ...
            answers.put(short_reason(exc))

    for url in urls:
        threading.Thread(target=dial, args=(url,), daemon=True).start()
    deadline, errors = time.monotonic() + timeout, []
    for _ in urls:
        try:
            answer = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except Empty:
            break
        if answer is None:
            return None
        errors.append(answer)
    hosts = ", ".join(urlsplit(u).hostname or u for u in urls)
    return errors[0] if len(errors) == len(urls) else f"no answer from {hosts} within {timeout:g} s"


def _download(name: str, root: Path) -> None:
    """Download with torchvision's dataset classes into ``root/<name>``, with a socket
    timeout, after checking that the download server answers at all."""
    why = _unreachable(_download_urls(name), PROBE_TIMEOUT_S)
    if why:
        raise ConnectionError(why)
    from ..locks import exclusive

    target = str(Path(root) / _SPECS[name].folder[0])
    Path(target).mkdir(parents=True, exist_ok=True)
    with exclusive(Path(target) / DOWNLOAD_LOCK):  # one download per folder across processes (the app's, a worker's)
        if _missing(name, root):  # (another process's download may have brought them while this one waited)
            _fetch(name, target)


DOWNLOAD_LOCK = ".download.lock"


def _fetch(name: str, target: str) -> None:
    import torchvision.datasets as tvd

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        if name == "mnist":
            tvd.MNIST(target, train=False, download=True)  # fetches all four files
        elif name == "fashion-mnist":
            tvd.FashionMNIST(target, train=False, download=True)
        elif name == "cifar10":
            tvd.CIFAR10(target, train=False, download=True)  # fetches and unpacks the whole archive
        elif name == "cifar100":
            tvd.CIFAR100(target, train=False, download=True)
        elif name == "svhn":
            tvd.SVHN(target, split="train", download=True)
            tvd.SVHN(target, split="test", download=True)
        elif name == "stl10":
            tvd.STL10(target, split="test", download=True)  # the whole archive, unlabeled part included
    finally:
        socket.setdefaulttimeout(previous)


def _damaged(path: Path, what: str) -> DamagedFile:
    return DamagedFile(
        f"{path} is damaged ({what}). Delete it or replace it with a good copy"
        f" (once deleted, it is downloaded again where the network allows)."
    )


def _imageset(name: str, parts: list[tuple[np.ndarray, np.ndarray, bool]], class_names: list[str]) -> ImageSet:
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in parts])
    is_train = np.concatenate([np.full(len(p[1]), p[2], dtype=bool) for p in parts])
    return ImageSet(
        name=name,
        images=torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)),
        labels=torch.from_numpy(labels),
        class_names=list(class_names),
        is_train=torch.from_numpy(is_train),
    )


def _check_labels(path: Path, labels: np.ndarray, n: int, k: int, images: Path | None = None) -> None:
    """Labels in 0..k-1, one per image; ``images``: the file the ``n`` images came from, where
    it is not ``path`` (then a mismatch names both: either may be the short one)."""
    if labels.shape != (n,):
        m = labels.shape[0] if labels.ndim else 0
        if images is not None and images != path:
            raise DamagedFile(
                f"{images} and {path} do not match: {n} images and {m} labels. One of the two is damaged, cut short or "
                f"from the other split: delete them or replace both with a good copy (once deleted, they are "
                f"downloaded again where the network allows).")
        raise _damaged(path, f"{m} labels for {n} images")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise _damaged(path, f"labels outside 0..{k - 1}")


# ----------------------------------------------------------------------------- MNIST, Fashion-MNIST


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        raise _damaged(path, f"not a valid gzip file: {type(exc).__name__}: {exc}") from exc


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes: 0, 0, type 0x08, ndim, then ndim big-endian int32
    sizes, then the data."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] != ndim:
        raise _damaged(path, f"not an IDX file of {ndim}-d unsigned bytes: bad magic number {data[:4].hex() or 'none'}")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise _damaged(path, "truncated header")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    size = int(np.prod(dims))
    if len(data) - head != size:
        raise _damaged(path, f"{len(data) - head} data bytes where the header promises {size} ({'x'.join(map(str, dims))})")
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(dims)


def _read_mnist_like(name: str, folder: Path) -> ImageSet:
    parts = []
    for prefix, train in (("train", True), ("t10k", False)):
        ipath = _find(folder, f"{prefix}-images-idx3-ubyte", True)
        lpath = _find(folder, f"{prefix}-labels-idx1-ubyte", True)
        images = _read_idx(ipath, 3)
        labels = _read_idx(lpath, 1).astype(np.int64)
        _check_labels(lpath, labels, images.shape[0], 10, images=ipath)
        parts.append((images[:, None], labels, train))
    return _imageset(name, parts, _MNIST_CLASSES if name == "mnist" else _FASHION_CLASSES)


# ----------------------------------------------------------------------------- CIFAR


class UnsafePickle(pickle.UnpicklingError):
    """A pickle names a global that a dataset file never needs."""


def _latin1_encode(obj, encoding="latin1"):
    # what Python 3 writes for bytes in pickle protocols 0-2: _codecs.encode(str, "latin1")
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickle("_codecs.encode is only allowed for latin1 strings")
    return obj.encode("latin1")


def _safe_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = multiarray.scalar
    if hasattr(numeric, "_frombuffer"):
        for mod in ("numpy.core.numeric", "numpy._core.numeric"):
            allowed[(mod, "_frombuffer")] = numeric._frombuffer
    return allowed


class _SafeUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, strings, numbers and numpy arrays, and nothing else."""

    _allowed: dict[tuple[str, str], object] | None = None

    def find_class(self, module: str, name: str):
        if _SafeUnpickler._allowed is None:
            _SafeUnpickler._allowed = _safe_globals()
        try:
            return _SafeUnpickler._allowed[(module, name)]
        except KeyError:
            raise UnsafePickle(
                f"it refers to {module}.{name}, which a dataset file never needs; it was refused without running it"
            ) from None


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except UnsafePickle as exc:
        raise _damaged(path, f"unsafe pickle: {exc}") from exc
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, TypeError, ...
        raise _damaged(path, f"not a readable pickle: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, dict):
        raise _damaged(path, f"a pickle of {type(obj).__name__}, not of a dict")
    # the originals (Python 2 pickles) have bytes keys; re-saved copies may have str keys
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _names(path: Path, d: dict, key: str) -> list[str]:
    if key not in d:
        raise _damaged(path, f"no {key!r} entry")
    try:
        return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in d[key]]
    except Exception as exc:
        raise _damaged(path, f"bad {key!r} entry: {exc}") from exc


def _cifar_batch(path: Path, label_key: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    for key in ("data", label_key):
        if key not in d:
            raise _damaged(path, f"no {key!r} entry")
    try:
        data = np.asarray(d["data"])
        labels = np.asarray(d[label_key]).astype(np.int64)
    except Exception as exc:
        raise _damaged(path, f"bad arrays: {exc}") from exc
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise _damaged(path, f"'data' is {data.dtype} {data.shape}, not uint8 [N, 3072]")
    _check_labels(path, labels, data.shape[0], k)
    # each row holds the red, then the green, then the blue 32x32 plane, row-major
    return data.reshape(-1, 3, 32, 32), labels


def _read_cifar10(name: str, folder: Path) -> ImageSet:
    classes = _names(folder / "batches.meta", _unpickle(folder / "batches.meta"), "label_names")
    parts = [(*_cifar_batch(folder / f"data_batch_{i}", "labels", len(classes)), True) for i in range(1, 6)]
    parts.append((*_cifar_batch(folder / "test_batch", "labels", len(classes)), False))
    return _imageset(name, parts, classes)


def _read_cifar100(name: str, folder: Path) -> ImageSet:
    classes = _names(folder / "meta", _unpickle(folder / "meta"), "fine_label_names")
    parts = [
        (*_cifar_batch(folder / "train", "fine_labels", len(classes)), True),
        (*_cifar_batch(folder / "test", "fine_labels", len(classes)), False),
    ]
    return _imageset(name, parts, classes)


# ----------------------------------------------------------------------------- SVHN


def _read_svhn(name: str, folder: Path) -> ImageSet:
    import scipy.io as sio

    parts = []
    for split, train in (("train", True), ("test", False)):
        path = folder / f"{split}_32x32.mat"
        try:
            mat = sio.loadmat(str(path), variable_names=["X", "y"])
        except (FileNotFoundError, PermissionError):
            raise
        except Exception as exc:  # MatReadError, ValueError, NotImplementedError (v7.3), ...
            raise _damaged(path, f"not a readable MATLAB file: {type(exc).__name__}: {exc}") from exc
        if "X" not in mat or "y" not in mat:
            raise _damaged(path, "no 'X' or no 'y' variable")
        x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
            raise _damaged(path, f"'X' is {x.dtype} {x.shape}, not uint8 [32, 32, 3, N]")
        labels = y.astype(np.int64).reshape(-1)
        labels[labels == 10] = 0  # SVHN stores the digit 0 as 10
        _check_labels(path, labels, x.shape[3], 10)
        parts.append((np.transpose(x, (3, 2, 0, 1)), labels, train))  # HWCN -> NCHW
    return _imageset(name, parts, [str(i) for i in range(10)])


# ----------------------------------------------------------------------------- STL-10


def _read_stl10(name: str, folder: Path) -> ImageSet:
    per_image = 3 * 96 * 96
    parts = []
    for split, train in (("train", True), ("test", False)):
        xpath, ypath = folder / f"{split}_X.bin", folder / f"{split}_y.bin"
        x = np.fromfile(xpath, dtype=np.uint8)
        if x.size % per_image:
            raise _damaged(xpath, f"{x.size} bytes, not a whole number of 3x96x96 images")
        # each image is stored column-major per channel: transpose to row-major
        images = x.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
        labels = np.fromfile(ypath, dtype=np.uint8).astype(np.int64) - 1  # 1..10 -> 0..9
        _check_labels(ypath, labels, images.shape[0], 10, images=xpath)
        parts.append((images, labels, train))
    classes = _STL10_CLASSES
    names_file = folder / "class_names.txt"
    if names_file.is_file():
        try:
            read = [n.strip() for n in names_file.read_text(encoding="utf-8").splitlines() if n.strip()]
        except (OSError, UnicodeDecodeError):
            read = []
        if len(read) == 10:
            classes = read
    return _imageset(name, parts, classes)


_READERS: dict[str, Callable[[str, Path], ImageSet]] = {
    "mnist": _read_mnist_like,
    "fashion-mnist": _read_mnist_like,
    "cifar10": _read_cifar10,
    "cifar100": _read_cifar100,
    "svhn": _read_svhn,
    "stl10": _read_stl10,
}
