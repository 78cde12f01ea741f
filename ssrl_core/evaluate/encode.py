"""A trained encoder on images from outside its dataset: features, nearest dataset images,
and the label its kNN classifier gives them.

    python -m ssrl_core embed --run DIR|ID --out DIR PATH [PATH ...]

Each PATH is an image file, a folder (its images, in its subfolders too) or a zip archive
(its images, the archive checked as an import checks it: ``data.custom.check_archive``).
An image is prepared as an import prepares it (``data.custom.decode_image``: any mode,
EXIF rotation applied, centre-fitted to the run's image size) and made grayscale when the
run's dataset is, so an image of the dataset, saved as a file, gets back the features the
run's ``embeddings.npy`` holds for it.

For each image: the encoder's features (those kNN accuracy and the linear probes read), the
nearest image of the run's dataset by cosine similarity (its row, as in the run's exported
``embeddings.npz``), and, on a labelled dataset, the class the run's kNN classifier gives it:
the weighted vote of its 20 nearest training images (``knn.py``: the classifier whose
accuracy the run reports as ``knn_accuracy``), with the winning class's share of the vote.
Files that are not readable images are skipped and reported, never fatal; nothing is written
when no image could be read.

From Python::

    from ssrl_core.evaluate.encode import encode_paths
    found = encode_paths("runs/simclr-digits", ["my_digits/"])
    found.features       # float32 [N, D]
    found.predicted      # class names, or None on an unlabelled dataset
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.custom import (IMAGE_SUFFIXES, MAX_MEMBER_BYTES, MAX_MEMBERS, image_members, read_bounded,
                           try_decode)
from ..data.imageset import KNN_K
from .embed import embed, l2_normalize
from .index import build_index

CHUNK = 512  # images decoded and embedded at a time: memory stays bounded at any image size


@dataclass
class Encoded:
    """What ``encode_paths`` found, one row per image read (in the order the paths were given;
    a folder's images and an archive's members sorted by name)."""

    files: list[str]  # the path as given; an archive's member as ARCHIVE:MEMBER
    features: np.ndarray  # float32 [N, D]
    nearest_row: np.ndarray  # int64 [N]: the most similar image of the run's dataset
    nearest_similarity: np.ndarray  # float32 [N]: its cosine similarity
    nearest_label: list[str] | None  # its class, on a labelled dataset
    predicted: list[str] | None  # the kNN classifier's class, on a labelled dataset
    predicted_share: np.ndarray | None  # float32 [N]: the winning class's share of the vote
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason"}

    def columns(self) -> dict[str, np.ndarray]:
        """The columns ``runs.export.write_embeddings`` writes (as an export's, features last)."""
        cols = {"file": np.array(self.files), "nearest_row": self.nearest_row,
                "nearest_similarity": self.nearest_similarity}
        if self.predicted is not None:
            cols.update(nearest_label=np.array(self.nearest_label), predicted=np.array(self.predicted),
                        predicted_share=self.predicted_share)
        return {**cols, "embeddings": self.features}


def _sources(paths: list[str | Path], skipped: list[dict]):
    """Yield (name, read) for every image file the paths hold, ``read()`` giving its bytes.
    ValueError, before anything is read, for a path that does not exist; a file that is not
    an image goes to ``skipped``."""
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}: give image files, folders of images or "
                         ".zip archives of images")
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                parts = f.relative_to(p).parts
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not any(x.startswith(".") for x in parts):
                    yield str(f), lambda f=f: _read_file(f)
        elif p.suffix.lower() == ".zip" or (p.suffix.lower() not in IMAGE_SUFFIXES and zipfile.is_zipfile(p)):
            yield from _archive(p, skipped)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            yield str(p), lambda p=p: _read_file(p)
        else:
            skipped.append({"file": str(p), "reason": "not an image file (nor a folder or a .zip of images)"})


def _read_file(path: Path) -> bytes:
    """A file's bytes, up to the importer's per-image limit (a larger one is refused unread)."""
    with open(path, "rb") as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ValueError(f"the file is larger than the limit of {MAX_MEMBER_BYTES >> 20} MiB")
    return data


def _archive(path: Path, skipped: list[dict]):
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a readable zip archive (damaged, cut short by an interrupted download, or "
                         "not a zip file)") from None
    with zf:
        found: list[dict] = []
        members = image_members(zf, found)  # ArchiveRejected (a ValueError) names what is wrong with it
        skipped.extend({"file": f"{path}:{s['member']}", "reason": s["reason"]} for s in found)
        for info, _ in sorted(members, key=lambda m: m[1]):
            yield f"{path}:{info.filename}", lambda info=info: read_bounded(zf, info)


def as_dataset_images(arrays: list[np.ndarray], channels: int) -> torch.Tensor:
    """Decoded RGB images (uint8 [H, W, 3] each, ``decode_image``) as a dataset's uint8
    [N, C, H, W]: grayscale by ITU-R 601 luma (as PIL's "L") when ``channels`` is 1."""
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x.round().clamp(0, 255).to(torch.uint8)


def read_images(paths: list[str | Path], size: int, channels: int):
    """(chunks, skipped): ``chunks`` yields (names, uint8 [n, C, size, size]) for up to
    ``CHUNK`` images at a time, reading them as it goes, and adds to ``skipped`` each file that
    could not be read (``{"file", "reason"}``)."""
    skipped: list[dict] = []

    def chunks():
        names, arrays, seen = [], [], 0
        for name, read in _sources(paths, skipped):
            seen += 1
            if seen > MAX_MEMBERS:
                raise ValueError(f"more than {MAX_MEMBERS:,} images: embed them in parts")
            decoded = try_decode(read, size)
            if isinstance(decoded, str):
                skipped.append({"file": name, "reason": decoded})
                continue
            names.append(name)
            arrays.append(decoded[0])
            if len(arrays) == CHUNK:
                yield names, as_dataset_images(arrays, channels)
                names, arrays = [], []
        if arrays:
            yield names, as_dataset_images(arrays, channels)

    return chunks(), skipped


def encode_paths(run: str | Path, paths: list[str | Path], device: str = "auto", probes=None) -> Encoded:
    """Embed the images ``paths`` hold with the encoder of the finished run folder ``run``
    (see the module's docstring). ValueError with advice when the run cannot be read, its
    dataset has changed since it trained, a path is missing, or no image could be read."""
    from .suite import RunProbes

    rp = probes or RunProbes(run, device=device)
    t, ds = rp.trained, rp.dataset  # a run of images re-imported since is refused here, with the reason
    batches, skipped = read_images(paths, ds.image_size, ds.channels)
    names, feats = [], []
    for chunk_names, images in batches:
        names += chunk_names
        feats.append(embed(t.method.encoder, images, t.device))
    if not names:
        said = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:5])
        raise ValueError("no image could be read" + (f": {said}" if said else ": the paths hold no image files "
                                                     f"({', '.join(sorted(IMAGE_SUFFIXES))})"))
    features = np.concatenate(feats)
    memory = rp.features()
    sims, rows = build_index(l2_normalize(memory)).search(l2_normalize(features), 1)
    out = Encoded(names, features, rows[:, 0].astype(np.int64), np.clip(sims[:, 0], -1, 1).astype(np.float32),
                  None, None, None, skipped)
    if ds.has_labels:
        out.predicted, out.predicted_share = knn_class(memory, ds, features)
        out.nearest_label = [ds.label_name(int(r)) for r in out.nearest_row]
    return out


def knn_class(memory: np.ndarray, ds, features: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The class a run's kNN classifier gives each row of ``features`` [Q, D], and the winning
    class's share of the vote: the weighted vote of the ``KNN_K`` nearest labelled training
    images of ``ds`` among ``memory`` (the run's features of every image of ``ds``), the
    classifier whose accuracy is the run's ``knn_accuracy``."""
    from .knn import knn_votes

    labels = ds.labels.numpy()
    tr = ds.train_idx.numpy()
    tr = tr[labels[tr] >= 0]
    votes = knn_votes(memory[tr], labels[tr], features, ds.num_classes, (KNN_K,))[KNN_K]
    pred = votes.argmax(1)
    return [ds.class_names[i] for i in pred], (votes[np.arange(len(pred)), pred] / votes.sum(1)).astype(np.float32)

