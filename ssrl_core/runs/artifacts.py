"""The files of one run folder, and reading them back.

    config.json              the resolved RunConfig
    dataset.json             the dataset it trained on: name, content fingerprint, image count,
                             size, channels, whether imported and from which archive
    checkpoint.safetensors   weights + optimiser + loop state (after every epoch)
    embeddings.npy           float32 [N, D] encoder features of the whole dataset
    map_pca.npy, map_umap.npy  float32 [N, 2] maps (PCA at once, UMAP when ready)
    metrics.json             kNN / linear accuracies and evaluation timings
    epochs.jsonl             per-epoch loss, collapse diagnostics and kNN on a fixed subset
    snapshots/               that subset's features per epoch and their aligned maps
    probes.json              label efficiency, kNN vs k, factor probes, invariance (cached)
    summary.json             the run's record, written last: its config's fields, timings, the
                             metrics and, of the probes, the linear readout with 1 label per class
    training.lock            held by the process training into the folder (none may join it);
                             removed when it ends (left, unheld, by a process killed)
    submitted.json           who submitted it and when (``restore-runs`` reads it back)
    probe_job.lock, .pending, .json, probe_job_failed.json
                             a background probe job's: held while it computes, asked for and
                             not yet started, its step and time left, why the last one failed

The neighbours' faiss index is made from the embeddings when first searched (0.1 s for
CIFAR-10's 60,000) rather than stored: it was the same vectors again (61 MB there). Run
folders written before keep an ``index.faiss`` that nothing reads any more.
"""
from __future__ import annotations

import errno
import json
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from ..locks import job_active
from ..text import disk_full

CONFIG = "config.json"
CHECKPOINT = "checkpoint.safetensors"
DATASET = "dataset.json"
EMBEDDINGS = "embeddings.npy"
MAP_PCA = "map_pca.npy"
MAP_UMAP = "map_umap.npy"
METRICS = "metrics.json"
SUMMARY = "summary.json"
PROBES = "probes.json"
TRAINING_LOCK = "training.lock"
# who queued the run and when (the store's nickname and created): what ``restore-runs`` gives back
SUBMITTED = "submitted.json"
JOB_LOCK = "probe_job.lock"  # held by the background job computing the run's probes (evaluate.suite.run_job)
JOB_PENDING = "probe_job.pending"  # written by whoever starts such a job, removed by the job
# what evaluating the trained encoder writes: stale once it trains further (``forget_evaluation``)
EVALUATION = (SUMMARY, METRICS, EMBEDDINGS, MAP_PCA, MAP_UMAP, PROBES)


def forget_evaluation(run_dir: Path) -> None:
    """Remove what the evaluation of the encoder's earlier epochs wrote, before it trains
    further (a run continued with more epochs): its maps, accuracies and cached probes would
    otherwise be read back as the longer run's. The map-evolution frames go too (the
    snapshots they are made of stay: each is its own epoch's)."""
    from ..evaluate.epochs import MAPS, SNAPSHOTS

    for name in (*EVALUATION, f"{SNAPSHOTS}/{MAPS}"):
        (Path(run_dir) / name).unlink(missing_ok=True)


def job_running(run_dir: Path) -> bool:
    """Whether a probe job holds this run's job lock now, or was started less than a
    minute ago and has not yet taken it (a new process needs a few seconds to import)."""
    return job_active(Path(run_dir) / JOB_LOCK, Path(run_dir) / JOB_PENDING)


def write_whole(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` with ``write(file)`` into a temporary file beside it, moved into place
    once complete: a write cut short (a full disk) leaves neither half a file nor the
    temporary one. An OSError names ``path``, not the temporary file (a read-only folder: the
    file that could not be written is ``path``); a full disk raises OSError(ENOSPC), also where
    numpy reports its short write without an errno ("N requested and M written")."""
    path = Path(path)
    # one temporary file per thread: the app server's sessions are threads of one process (two writing one file
    # through a name per process mixed their bytes, or lost the file under the other's rename)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if disk_full(e) and e.errno is None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        if isinstance(e, OSError) and e.filename in (str(tmp), tmp):
            raise type(e)(e.errno, e.strerror, str(path)) from None
        raise


def check_writable(folder: Path) -> None:
    """OSError naming ``folder`` when a file cannot be made in it (permissions, a read-only
    disk): said before the work whose results go there, not after it."""
    import tempfile

    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(folder)) from None


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` written whole (``write_whole``)."""
    write_whole(path, lambda f: np.save(f, array))


def write_json(path: Path, obj) -> None:
    write_whole(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True).encode()))


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when it is missing or not one (cut short, not
    text, a list, a folder...)."""
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):  # ValueError: bad JSON, or bytes that are not UTF-8
        return None
    return obj if isinstance(obj, dict) else None


def submission(run: dict) -> dict:
    """What a run folder records of the store's row for ``run``: its nickname and the time it
    was queued (``SUBMITTED``, written by ``execute``), so that ``restore-runs`` can give a run
    back to whoever queued it if the store is ever lost."""
    return {"nickname": run.get("nickname"), "created": run.get("created")}


DAMAGED = "the run folder was damaged or edited by hand: restore the file, or train the run again"


def unreadable(path: Path, why) -> ValueError:
    """The error for a run file that is there but cannot be read: which, why, and what to do."""
    return ValueError(f"{path} cannot be read ({why}): {DAMAGED}")


def record_dataset(run_dir: Path, ds) -> dict:
    """Write ``dataset.json``: what the run trained on (an ``ImageSet``), so that a page or
    command reading its embeddings later can tell whether the set is still the same
    (``RunArtifacts.dataset_mismatch``) and a run card can say where the images came from."""
    from ..data import DATASETS

    record = {"name": ds.name, "fingerprint": ds.fingerprint, "images": len(ds), "size": ds.image_size,
              "channels": ds.channels, "imported": ds.name not in DATASETS, "archive": ds.archive}
    write_json(Path(run_dir) / DATASET, record)
    return record


class RunArtifacts:
    """Read-only view of a run folder (its path: ``runs.run_folder`` gives a run id's). A file
    not there reads as None (``summary``, ``map``...), the embeddings as an error saying why."""

    def __init__(self, run_dir: Path | str):
        self.dir = Path(run_dir)

    @property
    def summary(self) -> dict | None:
        return read_json(self.dir / SUMMARY)

    @property
    def metrics(self) -> dict:
        return read_json(self.dir / METRICS) or {}

    @property
    def config(self) -> dict | None:
        return read_json(self.dir / CONFIG)

    def run_config(self):
        """``config.json`` as a ``RunConfig``; ValueError naming the file when it is missing
        or cannot be read (damaged, or edited by hand into something that is no config)."""
        from ..config import RunConfig

        path = self.dir / CONFIG
        if not path.exists():
            raise ValueError(f"{self.dir} has no {CONFIG}: is it a finished run folder?")
        try:
            cfg = json.loads(path.read_text())
            if not isinstance(cfg, dict):
                raise ValueError(f"a JSON {type(cfg).__name__}, not an object")
        except (OSError, ValueError, TypeError) as e:
            raise unreadable(path, e) from None
        if gone := self.dataset_gone(cfg.get("dataset")):  # the file is fine: the set it names was deleted
            raise ValueError(gone)
        try:
            return RunConfig.from_dict(cfg)
        except (ValueError, TypeError) as e:
            raise unreadable(path, e) from None

    def dataset_gone(self, name, how: str | None = None) -> str | None:
        """Why this run cannot be read against its dataset ``name`` when that set is not here (an
        imported set deleted here, or imported on another machine or SSRL_HOME), with the archive
        it came from as ``dataset.json`` recorded it and how to import it again (``how``; by
        default the command, "or the Data page"); None when it is here (or ``name`` is no name).
        ``run_config`` said such a run's intact config.json was damaged, and to train the run
        again."""
        from ..data import available_datasets

        if not isinstance(name, str) or name in available_datasets():
            return None
        from .export import dataset_card

        card = dataset_card(name, self.dataset)
        facts = ", ".join(filter(None, [card.get("archive") or "", f"{card['images']:,} images" if card.get("images")
                                        else "", f"fingerprint {card['fingerprint']}" if card.get("fingerprint")
                                        else ""]))
        return (f"this run's dataset {name!r} is not here (deleted here, or imported on another machine or SSRL_HOME); "
                f"the run's files are intact: import the archive it came from" + (f" ({facts})" if facts else "")
                + f" under that name, {how or '`' + card['import'] + '` (or the Data page), and try again'}")

    @property
    def dataset(self) -> dict | None:
        """``dataset.json``: the dataset the run trained on (None for runs made before it was
        written)."""
        return read_json(self.dir / DATASET)

    def dataset_mismatch(self, ds) -> str | None:
        """Why this run's embeddings, map and neighbours do not belong to the images of ``ds``
        (its dataset as loaded now), or None when they do: the set was re-imported (or, for a
        built-in, changed) after the run trained. Compares the content fingerprint the run
        recorded with the set's; a run made before fingerprints were recorded falls back to
        comparing the number of images it embedded with the set's. The one check every page
        and command that reads a run's embeddings against its dataset makes."""
        from ..data import DATASETS

        recorded = (self.dataset or {}).get("fingerprint")
        if recorded:
            if recorded == ds.fingerprint:
                return None
        else:
            n = self.embedded_count()
            if n is None or n == len(ds):
                return None
        if ds.name in DATASETS:
            return (f"{ds.name} has changed after this run trained: its map, neighbours and scores belong to the "
                    "old images; train it again to see the new ones.")
        return (f"{ds.name} was re-imported after this run trained: its map, neighbours and scores belong to the "
                "old images; train it again on the new ones, or import the archive it trained on again (with "
                "Replace) to bring them back (not for an import made before 2026-12-05, which ordered and split the "
                "images otherwise: train it again).")

    def embedded_count(self) -> int | None:
        """How many images the run embedded (or mapped), from the files' headers; None when it
        has neither embeddings nor a map."""
        for name in (EMBEDDINGS, MAP_UMAP, MAP_PCA):
            try:
                return int(np.load(self.dir / name, mmap_mode="r").shape[0])
            except (FileNotFoundError, ValueError, EOFError, OSError):
                continue
        return None

    @property
    def probes(self) -> dict:
        return read_json(self.dir / PROBES) or {}

    def epochs(self) -> list[dict]:
        from ..evaluate.epochs import read_epochs

        return read_epochs(self.dir)

    def evolution(self) -> tuple[np.ndarray | None, dict[int, np.ndarray]]:
        """(dataset rows of the snapshot subset, {epoch: aligned 2-D map})."""
        from ..evaluate.epochs import read_maps, read_snapshots

        rows, _ = read_snapshots(self.dir)
        return rows, read_maps(self.dir)

    def references(self) -> dict:
        """The shared random-encoder and supervised-from-scratch results for this run's
        dataset (an imported set's: the content it trained on), encoder, augmentations and seed
        (``evaluate.suite.reference_cache``)."""
        from ..evaluate.suite import reference_cache

        try:
            cfg = self.run_config()
        except ValueError:  # no config.json, or a damaged one (the export says why): the checkpoint's
            cfg = self.checkpoint_config()  # the one a probe job trains its references from
            if cfg is None:
                return {}
        return reference_cache(cfg, (self.dataset or {}).get("fingerprint")).read()

    def checkpoint_config(self):
        """The config recorded in the run's checkpoint, resolved as ``train.load_trained``
        resolves it (the checkpoint names the concrete encoder, so the device type does not
        matter); None when there is no readable one."""
        from ..checkpoint import read_meta
        from ..config import RunConfig

        try:
            return RunConfig.from_dict(read_meta(self.dir / CHECKPOINT)["config"]).resolved("cpu", sized_options=False)
        except (ValueError, KeyError, TypeError):
            return None

    def embeddings_problem(self) -> str | None:
        """Why the embeddings cannot be read (missing, cut short, not an array of vectors),
        or None when they can."""
        return self._embeddings_header()[1]

    def _embeddings_header(self) -> tuple[tuple | None, str | None]:
        """(the embeddings' shape, from the file's header: the array is not read; None and
        why they cannot be read)."""
        path = self.dir / EMBEDDINGS
        try:
            shape = np.load(path, mmap_mode="r").shape
        except FileNotFoundError:
            return None, f"{path} is missing: {DAMAGED}"
        except (OSError, ValueError, EOFError) as e:
            return None, str(unreadable(path, e))
        if len(shape) != 2:
            return None, str(unreadable(path, f"shape {shape}, not [images, features]"))
        return shape, None

    def has_embeddings(self) -> bool:
        return self.embeddings_problem() is None

    def embedding_dim(self) -> int | None:
        """The number of features per image, from the file's header (the array is not read);
        None when the embeddings cannot be read."""
        shape, _ = self._embeddings_header()
        return None if shape is None else int(shape[1])

    @cached_property
    def embeddings(self) -> np.ndarray:
        return self._read_embeddings()

    def _read_embeddings(self) -> np.ndarray:
        if not self.dir.is_dir():  # an id, a typo: "cannot be read ... the run folder was damaged" sent one to restore it
            raise ValueError(f"{self.dir} is not a folder: RunArtifacts reads a run's folder; for a run id, "
                             "`ssrl_core.runs.run_folder(ID)` gives its folder (`python -m ssrl_core runs` lists them)")
        try:
            return np.load(self.dir / EMBEDDINGS)
        except (OSError, ValueError, EOFError) as e:
            raise unreadable(self.dir / EMBEDDINGS, e) from None

    def map(self) -> tuple[np.ndarray | None, str | None]:
        """The best 2-D map there is: UMAP when ready, PCA until then."""
        for name, kind in ((MAP_UMAP, "umap"), (MAP_PCA, "pca")):
            try:
                return np.load(self.dir / name), kind
            except (FileNotFoundError, ValueError, EOFError):
                continue
        return None, None

    @cached_property
    def _index(self):
        """The inner-product index of the L2-normalised embeddings, made from them (0.1 s at
        CIFAR-10's size). Unless the embeddings are held already, they are read for it and not
        kept: the index holds every row's unit vector (``neighbours``)."""
        from ..evaluate.embed import l2_normalize
        from ..evaluate.index import build_index

        feats = self.__dict__.get("embeddings")
        return build_index(l2_normalize(self._read_embeddings() if feats is None else feats))

    def search(self, features: np.ndarray, k: int = 8) -> list[tuple[int, float]]:
        """The k dataset rows nearest to one feature vector [D] by cosine similarity, best
        first (a dataset image's own features find that image first: ``neighbours`` leaves it out)."""
        from ..evaluate.embed import l2_normalize

        sims, idx = self._index.search(l2_normalize(np.asarray(features, np.float32).reshape(1, -1)), k)
        return [(int(i), float(s)) for i, s in zip(idx[0], sims[0]) if i >= 0]

    def neighbours(self, row: int, k: int = 8) -> list[tuple[int, float]]:
        """The k nearest other images of dataset row ``row`` by cosine similarity, best first."""
        from ..evaluate.embed import l2_normalize

        n = self._index.ntotal
        if not 0 <= row < n:  # -1 found another image's neighbours, 99999 an IndexError of numpy's
            raise IndexError(f"there is no image #{row}: this run's embeddings hold images #0 to #{n - 1}")
        # the query is read from the index, which holds every row's unit vector: a page that only
        # asks for neighbours keeps one copy of the features in memory, not two (61 MB each at CIFAR-10's size)
        try:
            q = np.asarray(self._index.reconstruct(int(row)), np.float32).reshape(1, -1)
        except (RuntimeError, AttributeError):  # an index kind that cannot give its vectors back
            q = l2_normalize(self.embeddings[row : row + 1])
        sims, idx = self._index.search(q, k + 1)
        out = [(int(i), float(s)) for i, s in zip(idx[0], sims[0]) if i != row and i >= 0]
        return out[:k]
