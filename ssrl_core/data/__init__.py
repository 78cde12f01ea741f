"""Datasets. Every loader returns an :class:`ImageSet`.

Built-ins (``digits``, ``shapes``) need no network. The torchvision sets read the files
from the data folder (``SSRL_HOME/data`` or ``--data-dir``) and download them when the
network allows; when they are missing a :class:`DatasetMissing` error says where to put
which files. :func:`check_files` answers "can this set be loaded without the network?"
from the disk alone, in microseconds, so a page can warn before anything is launched.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .. import paths
from .imageset import ImageSet

__all__ = ["ImageSet", "DATASETS", "load_dataset", "DatasetMissing", "check_files", "files_stamp",
           "available_datasets", "unknown_dataset"]


class DatasetMissing(FileNotFoundError):
    """The files of a dataset are not in the data folder and cannot be downloaded.

    ``str()`` is the whole advice (what is missing, where to put it, where to get it); the
    parts are also attributes, for a page that shows a one-line ``summary`` and the rest on
    demand: ``folder`` (where the files go), ``files`` (their names), ``missing`` (the ones
    not there), ``source`` (where to get them) and ``reason`` (why a download failed, or
    None)."""

    def __init__(self, message: str, *, summary: str | None = None, folder: Path | None = None,
                 files: tuple[str, ...] = (), missing: tuple[str, ...] = (), source: str | None = None,
                 reason: str | None = None):
        super().__init__(message)
        self.summary = summary or (message.splitlines()[0] if message else "")
        self.folder, self.files, self.missing = folder, tuple(files), tuple(missing)
        self.source, self.reason = source, reason


DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 1,797 handwritten digits, 8x8 upsampled to 32x32, grayscale (built in)",
    "shapes": "10,000 procedural 32x32 shapes with known shape, colour, size, rotation, position (built in)",
    "mnist": "MNIST handwritten digits, 28x28 grayscale (torchvision files)",
    "fashion-mnist": "Fashion-MNIST clothing, 28x28 grayscale (torchvision files)",
    "cifar10": "CIFAR-10, 32x32 colour photos, 10 classes (torchvision files)",
    "cifar100": "CIFAR-100, 32x32 colour photos, 100 classes (torchvision files)",
    "svhn": "SVHN house numbers, 32x32 colour (torchvision files)",
    "stl10": "STL-10, 96x96 colour photos, 10 classes (torchvision files)",
}


def _digits(root: Path) -> ImageSet:
    from .digits import load_digits

    return load_digits()  # (in the package: no folder read)


def _shapes(root: Path) -> ImageSet:
    from .shapes import load_shapes

    return load_shapes(root / "shapes")  # generated once, cached in the data folder


# the sets made here, offline: name -> its loader, given the data folder (SSRL_HOME/data or --data-dir); every other
# name of ``DATASETS`` is a torchvision set read from files (docs/design.md, "Extending")
BUILT_IN: dict[str, Callable[[Path], ImageSet]] = {"digits": _digits, "shapes": _shapes}

_CACHE: dict[tuple, ImageSet] = {}  # (name, ...) -> the set; oldest use first
# sets kept loaded at once, the least recently used dropped first: the app and a worker load a
# set per page or run, and a classroom's server kept every set it had loaded for the week (a
# soak: +36 MB for each re-import of a 3,000-image set, none freed, not even on delete)
CACHED_SETS = 6


def _remember(key: tuple, ds: ImageSet) -> ImageSet:
    """Keep ``ds`` under ``key``: an older copy of the same set (re-imported, its files changed)
    is dropped, then the least recently used sets past ``CACHED_SETS``."""
    # an imported set's key is (name, its import's time); another set's (name, folder, its files' stamp)
    for old in [k for k in _CACHE if k[0] == key[0] and (len(key) == 2 or k[1] == key[1])]:
        del _CACHE[old]
    _CACHE[key] = ds
    while len(_CACHE) > CACHED_SETS:
        del _CACHE[next(iter(_CACHE))]
    return ds


def _recall(key: tuple) -> ImageSet | None:
    """The set kept under ``key``, now the most recently used; None when not kept."""
    ds = _CACHE.pop(key, None)
    if ds is not None:
        _CACHE[key] = ds
    return ds


def forget_loaded(name: str) -> None:
    """Drop every copy of ``name`` kept loaded (a deleted imported set: its images go with it)."""
    for key in [k for k in _CACHE if k[0] == name]:
        del _CACHE[key]


def available_datasets() -> dict[str, str]:
    """Built-in and torchvision sets, then the ones imported into SSRL_HOME: name -> description."""
    from .custom import custom_datasets

    return {**DATASETS, **{k: v for k, v in custom_datasets().items() if k not in DATASETS}}


def unknown_dataset(name: str) -> str:
    """What to say of a dataset name that is neither built in nor imported here: the names
    there are, and, since it may be a set imported elsewhere (a run card's, a reproduce.sh's),
    how to import it under that name."""
    from ..text import meant
    from .custom import NAME_RE

    as_name = name if NAME_RE.match(name or "") else "NAME"
    here = available_datasets()
    return (f"unknown dataset {name!r}{meant(name, here)}: choose one of {', '.join(here)}; if it is a set of your "
            f"own images (deleted here, or imported on another machine or SSRL_HOME), import its archive here "
            f"first under that name: `python -m ssrl_core import-images ARCHIVE --name {as_name}`")


def reads_data_dir(name: str) -> bool:
    """Whether loading ``name`` reads the data folder (``SSRL_HOME/data`` or ``--data-dir``):
    the downloadable sets and shapes' generated cache do; digits (in the package) and
    imported sets (always in ``SSRL_HOME/data/custom``) do not."""
    return name in DATASETS and name != "digits"


def check_files(name: str, data_dir: str | Path | None = None) -> DatasetMissing | None:
    """Whether ``name`` can be loaded without the network, from the disk alone (no parsing,
    no download; microseconds): None when it can (a built-in, an imported set, a torchvision
    set whose files are in place), else the :class:`DatasetMissing` that says which files
    to put where, and whether a download was tried and failed a moment ago. An unknown name
    is None too: ``load_dataset`` says what is wrong with it."""
    if name not in DATASETS or name in BUILT_IN:
        return None
    from .torchvision_sets import check_files as check

    return check(name, Path(data_dir) if data_dir else paths.data_dir(make=False))  # (a reader: nothing made)


def files_stamp(name: str, data_dir: str | Path | None = None) -> tuple:
    """What changes when the files a load of the torchvision set ``name`` reads change (their
    names, sizes and mtimes: a few ``stat`` calls); ``()`` for any other set. For caches of a
    loaded set: a copy fixed, broken or moved away on disk is seen without a restart."""
    if name not in DATASETS or name in BUILT_IN:
        return ()
    from .torchvision_sets import files_stamp as stamp

    return stamp(name, Path(data_dir) if data_dir else paths.data_dir(make=False))


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = True) -> ImageSet:
    """Load a dataset by name, kept in memory for the life of the process; a torchvision
    set is read again when its files change on disk (``files_stamp``)."""
    if name not in DATASETS:
        from .custom import custom_datasets, custom_root, load_custom

        if name not in custom_datasets():
            raise ValueError(unknown_dataset(name))
        key = (name, str((custom_root() / name / "meta.json").stat().st_mtime_ns))  # a re-import is seen
        kept = _recall(key)
        return kept if kept is not None else _remember(key, load_custom(name))
    root = Path(data_dir) if data_dir else paths.data_dir()
    key = (name, str(root), files_stamp(name, root))
    if (kept := _recall(key)) is not None:
        return kept
    if name in BUILT_IN:
        ds = BUILT_IN[name](root)
    else:
        from .torchvision_sets import load_torchvision

        ds = load_torchvision(name, root, download=download)
        if any(size is None for _, size, _ in key[2]):  # a download made the missing files
            key = (name, str(root), files_stamp(name, root))
    return _remember(key, ds)  # an older copy of these files is not kept too
