"""A trained encoder on images from outside its dataset: features, nearest dataset images,
and the label its kNN classifier gives them.

    python -m ssrl_core embed --run DIR|ID --out DIR PATH [PATH ...]

Each PATH is an image file, a folder (its images, in its subfolders too) or a zip archive
(its images, the archive checked as an import checks it: ``data.custom.check_archive``).
An image is prepared as an import prepares it (``data.custom.fit_image``: any mode, EXIF
rotation applied, the shorter side resized to the run's image size and the centre cropped)
and made grayscale when the run's dataset is (``prepare``), so an image of the dataset,
saved as a file, gets back the features the run's ``embeddings.npy`` holds for it.

For each image: the encoder's features (those kNN accuracy and the linear probes read), the
nearest image of the run's dataset by cosine similarity (its row, as in the run's exported
``embeddings.npz``, and its file for an imported set), whether the image is unlike the run's
images (``unlike_the_dataset``: its nearest image is less similar to it than 99% of the
dataset's images are to their own nearest, ``typical_similarity``; a class given to such an
image says little), and, on a labelled dataset, the class the run's kNN classifier gives it:
the weighted vote of its 20 nearest training images (``knn.py``: the classifier whose
accuracy the run reports as ``knn_accuracy``), with the winning class's share of the vote.
Files given that are not readable images, and an archive's members that are not images, are
skipped and reported, never fatal (a folder's files are read when their suffix is an image's,
``IMAGE_SUFFIXES``); nothing is written when no image could be read.

From Python (a run folder or a run id; images as paths, or in memory with ``encode_images``)::

    from ssrl_core.evaluate.encode import encode_images, encode_paths
    found = encode_paths("runs/simclr-digits", ["my_digits/"])
    found.features       # float32 [N, D]
    found.predicted      # class names, or None on an unlabelled dataset
    found = encode_images("runs/simclr-digits", [pil_image, uint8_array])
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.custom import (IMAGE_SUFFIXES, MAX_MEMBER_BYTES, MAX_MEMBERS, WHITE, image_members, read_bounded,
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
    unlike_the_dataset: np.ndarray  # bool [N]: nearest_similarity below typical_similarity
    typical_similarity: float  # 1% of the dataset's images are less similar to their own nearest
    nearest_file: list[str] | None = None  # the nearest image's file, for an imported set
    nearest_label: list[str] | None = None  # its class, on a labelled dataset
    predicted: list[str] | None = None  # the kNN classifier's class, on a labelled dataset
    predicted_share: np.ndarray | None = None  # float32 [N]: the winning class's share of the vote
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason"}

    def columns(self) -> dict[str, np.ndarray]:
        """The columns ``embed`` writes (``runs.export.write_embeddings``), features last."""
        cols = {"file": np.array(self.files), "nearest_row": self.nearest_row,
                "nearest_similarity": self.nearest_similarity, "unlike_the_dataset": self.unlike_the_dataset}
        if self.nearest_file is not None:
            cols["nearest_file"] = np.array(self.nearest_file)
        if self.predicted is not None:
            cols.update(nearest_label=np.array(self.nearest_label), predicted=np.array(self.predicted),
                        predicted_share=self.predicted_share)
        return {**cols, "embeddings": self.features}


def _sources(paths: list[str | Path], skipped: list[dict]):
    """Yield (name, read) for every image file the paths hold, ``read()`` giving its bytes:
    each file named, a folder's files with an image suffix (dot files and folders left out, as
    an import leaves them), an archive's image members (its other files go to ``skipped``).
    ValueError, before anything is read, for a path that does not exist."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}: give image files, folders of images or "
                         ".zip archives of images")
    odd = [str(p) for p in paths if not p.is_dir() and not p.is_file()]
    if odd:  # /dev/zero: zipfile.is_zipfile read it for ever (15 GB of memory in 30 s)
        raise ValueError(f"not a file nor a folder: {', '.join(odd)} (a device, a pipe or a socket): give image "
                         "files, folders of images or .zip archives of images")
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                parts = f.relative_to(p).parts
                if not f.is_file() or any(x.startswith(".") for x in parts):
                    continue
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    yield str(f), lambda f=f: _read_file(f)
                elif f.suffix.lower() == ".zip":  # a folder of archives (one per plate): "held no image files"
                    yield from _archive(f, skipped)
        elif p.suffix.lower() == ".zip" or (p.suffix.lower() not in IMAGE_SUFFIXES and zipfile.is_zipfile(p)):
            yield from _archive(p, skipped)
        else:  # a file named on its own is read as an image whatever its name (one without a suffix, a dot file)
            yield str(p), lambda p=p: _read_file(p)


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
    """Decoded RGB images (uint8 [H, W, 3] each, ``fit_image``) as a dataset's uint8
    [N, C, H, W]: grayscale by ITU-R 601 luma (as PIL's "L") when ``channels`` is 1."""
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x.round().clamp(0, 255).to(torch.uint8)


def prepare(images, size: int, channels: int, background: tuple[int, int, int] = WHITE) -> torch.Tensor:
    """Images in memory as a run's encoder takes them, uint8 [N, C, size, size], prepared as
    an import prepares a file (``fit_image``; transparency on ``background``, the set's own
    where a run's set is known, ``ImageSet.background``): PIL images, or uint8 arrays [H, W] (grayscale),
    [H, W, 3] (RGB) or [H, W, 4] (RGBA). ``evaluate.embed.embed`` then scales them to floats in
    [0, 1], which is all the encoder expects (no mean or standard deviation is subtracted).
    ValueError for anything else, saying what it got."""
    from PIL import Image

    from ..data.custom import fit_image

    out = []
    for i, im in enumerate(images):
        if isinstance(im, np.ndarray):
            if im.dtype != np.uint8 or im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[2] not in (3, 4)):
                raise ValueError(f"image {i}: a {im.dtype} array of shape {im.shape}: give uint8 [H, W], [H, W, 3] "
                                 "or [H, W, 4] (values 0 to 255), or a PIL image")
            im = Image.fromarray(im)
        elif not isinstance(im, Image.Image):
            raise ValueError(f"image {i}: a {type(im).__name__}: give a PIL image or a uint8 array")
        out.append(fit_image(im, size, background=background)[0])
    if not out:
        raise ValueError("no images were given")
    return as_dataset_images(out, channels)


def read_images(paths: list[str | Path], size: int, channels: int, background: tuple[int, int, int] = WHITE):
    """(chunks, skipped): ``chunks`` yields (names, uint8 [n, C, size, size]) for up to
    ``CHUNK`` images at a time, reading them as it goes (transparency on ``background``, as
    ``prepare``'s), and adds to ``skipped`` each file that could not be read (``{"file", "reason"}``)."""
    skipped: list[dict] = []

    def chunks():
        names, arrays, seen = [], [], 0
        for name, read in _sources(paths, skipped):
            seen += 1
            if seen > MAX_MEMBERS:
                raise ValueError(f"more than {MAX_MEMBERS:,} images: embed them in parts")
            decoded = try_decode(read, size, background=background)
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


def encode_paths(run: str | Path, paths, device: str = "auto", probes=None) -> Encoded:
    """Embed the images ``paths`` hold (a path, or a list of them) with the encoder of the
    finished run ``run`` (its folder or its store id; see the module's docstring). ValueError
    with advice when the run cannot be read, its dataset has changed since it trained, a path
    is missing, or no image could be read."""
    rp = probes or _probes(run, device)
    t, ds = rp.trained, rp.dataset  # a run of images re-imported since is refused here, with the reason
    batches, skipped = read_images(paths, ds.image_size, ds.channels, ds.background)
    names, feats = [], []
    for chunk_names, images in batches:
        names += chunk_names
        feats.append(embed(t.method.encoder, images, t.device))
    if not names:
        said = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:5])
        raise ValueError("no image could be read" + (f": {said}" if said else ": the paths hold no image files "
                                                     f"({', '.join(sorted(IMAGE_SUFFIXES))})"))
    return _found(rp, names, np.concatenate(feats), skipped)


def encode_images(run: str | Path, images, device: str = "auto", probes=None) -> Encoded:
    """``encode_paths`` for images in memory (``prepare``): one PIL image or uint8 array, a
    list of them, or a batch array [N, H, W] or [N, H, W, C]; named ``#0``, ``#1``... in
    ``files``."""
    rp = probes or _probes(run, device)
    t, ds = rp.trained, rp.dataset
    images, under = _as_list(images), ds.background
    feats = [embed(t.method.encoder, prepare(images[i:i + CHUNK], ds.image_size, ds.channels, under), t.device)
             for i in range(0, len(images), CHUNK)]
    if not feats:
        raise ValueError("no images were given")
    return _found(rp, [f"#{i}" for i in range(len(images))], np.concatenate(feats), [])


def _as_list(images) -> list:
    """One image (a PIL image, a uint8 array [H, W], [H, W, 3] or [H, W, 4]) as a list of
    one; a batch array ([N, H, W] grayscale, [N, H, W, C]) as its rows; any other iterable as
    a list."""
    from PIL import Image

    single = isinstance(images, np.ndarray) and (images.ndim == 2 or (images.ndim == 3 and images.shape[2] in (3, 4)))
    if isinstance(images, Image.Image) or single:
        return [images]
    try:
        return list(images)
    except TypeError:
        raise ValueError(f"images: a {type(images).__name__}: give a PIL image, a uint8 array, or a list "
                         "of them") from None


def _probes(run: str | Path, device: str):
    from ..runs import run_folder
    from .suite import RunProbes

    return RunProbes(run_folder(run), device=device)


TYPICAL_QUANTILE = 0.01  # an image less similar to its nearest than 99% of the dataset's are: unlike them
TYPICAL_SAMPLE = 2000  # dataset images whose nearest others set that reference (all, on a smaller set)


def typical_similarity(memory: np.ndarray, seed: int = 0) -> float:
    """How similar the dataset's images are to their own nearest other image, at its lowest
    1%: on up to ``TYPICAL_SAMPLE`` of them, the similarity of each to its nearest other row
    (a duplicate counts: it is what a new copy of that image would find)."""
    unit = l2_normalize(memory)
    rows = np.random.default_rng(seed).permutation(len(unit))[:TYPICAL_SAMPLE]
    sims, idx = build_index(unit).search(unit[rows], 2)
    own = idx == rows[:, None]
    nearest = np.where(own[:, 0], sims[:, 1], sims[:, 0])  # the first hit that is not the row itself
    return float(np.quantile(nearest, TYPICAL_QUANTILE))


def typical_of(cache, memory: np.ndarray) -> float:
    """``typical_similarity`` of a run's features, from its probe cache (``suite.Cache`` of
    its ``probes.json``) or computed and cached there; a run folder that cannot be written (a
    colleague's, read-only) is read, not failed on."""
    return cache.get("typical_similarity", lambda: typical_similarity(memory), optional=True)


UNLIKE_MARGIN = 1e-4  # below typical_similarity by more than float rounding: a copy of a duplicate is not "unlike"


def placed(memory: np.ndarray, ds, typical: float, names: list[str], features: np.ndarray,
           skipped: list[dict] | None = None) -> Encoded:
    """``features`` [N, D] of the images ``names`` placed among a run's: ``memory`` (its
    features of every image of its dataset ``ds``) and ``typical`` (``typical_of``) give each
    its nearest image, whether it is unlike the dataset and, on a labelled set, its class."""
    sims, rows = build_index(l2_normalize(memory)).search(l2_normalize(features), 1)
    similarity = np.clip(sims[:, 0], -1, 1).astype(np.float32)
    out = Encoded(names, features, rows[:, 0].astype(np.int64), similarity, similarity < typical - UNLIKE_MARGIN,
                  typical, skipped=list(skipped or []))
    if ds.files is not None:
        out.nearest_file = [ds.files[r] for r in out.nearest_row]
    if ds.has_labels:
        out.predicted, out.predicted_share = knn_class(memory, ds, features)
        out.nearest_label = [ds.label_name(int(r)) for r in out.nearest_row]
    return out


def _found(rp, names: list[str], features: np.ndarray, skipped: list[dict]) -> Encoded:
    memory = rp.features()
    return placed(memory, rp.dataset, typical_of(rp.cache, memory), names, features, skipped)


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

