"""Your own images: a zip archive becomes a dataset under ``SSRL_HOME/data/custom/NAME``.

A zip of two or more class folders (``cat/1.png``, ``dog/2.jpg``; common top folders, however
deep, are allowed: ``photos/2023/cat/1.png``) becomes a labelled dataset; images outside the class folders (a ``cover.png`` beside
them) are skipped and reported. A zip of loose images, or of a single folder, becomes an
unlabelled one (labels -1), and the report says why (``unlabelled_reason``): one class cannot
be classified.

Every archive is treated as hostile. The whole archive is refused, before anything is
written, when a member has an absolute name or a ``..`` component, is a link, is
encrypted, or when there are too many members, too many bytes once uncompressed (declared
sizes are checked first, and actual reads are bounded, since headers can lie) or a
compression ratio that only a zip bomb has. Images are decoded with a pixel limit.
Members that are not images, or are corrupt, are skipped and reported. The report also
gives the train/test split (a fifth of each class is held out) and, for a set too small for
its accuracies to mean much, the caveats (``ImageSet.evaluation_caveats``).

Odd but honest images are accepted: RGBA/LA and palette images are composited on white,
16-bit, 32-bit and float images are stretched to 8 bits, each from its own darkest to its
brightest values (``to_8_bits``; the report counts them), an image of several pages or
frames gives its first (the report counts them too), CMYK is converted, grayscale stays
grayscale (the dataset is grayscale when every image is), mixed sizes are resized (shorter
side, then a centre crop) to ``size``; unicode file names are fine.

The dataset is written to a temporary folder inside ``SSRL_HOME/data/custom`` and renamed
into place when complete, so a failed import leaves nothing behind; nothing is written
outside ``SSRL_HOME``. Files: ``images.npy`` (uint8 [N,C,H,W]), ``labels.npy``,
``is_train.npy``, ``files.json`` (each image's path in the archive, in row order) and
``meta.json`` (class names, the import report, the content fingerprint and the archive's file
name); the arrays are read with ``allow_pickle=False``. Sets imported before ``files.json``
and the fingerprint were written load without file names, their fingerprint computed.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

import numpy as np
import torch

from .. import paths
from ..locks import exclusive
from ..text import count, not_written, one_line
from .imageset import WHITE, ImageSet, content_fingerprint, copies_caveat, evaluation_caveats, grouped_split, stratified_split

MAX_MEMBERS = 20_000
MAX_TOTAL_BYTES = 1 << 30  # uncompressed, all members together
MAX_MEMBER_BYTES = 64 << 20
MAX_RATIO = 200  # uncompressed / compressed, per member and overall
MAX_PIXELS = 40_000_000  # per image, before decoding
# all of an archive's images together, each counted as its header gives it before it is decoded: 9,000 blank 6300x6300
# PNGs (6.3 MB zipped, each under MAX_PIXELS) kept a core decoding for about 105 minutes; at the limit, about half a
# minute (57 megapixels a second here)
MAX_TOTAL_PIXELS = 2_000_000_000
MAX_OUTPUT_BYTES = 1 << 30  # the imported set's images at their size (N x size x size x 3 bytes), before they are read
MAX_UPLOAD_MB = 200  # the archive itself; .streamlit/config.toml's server.maxUploadSize matches
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}\Z")  # \Z: "$" let "digits\n" through, a look-alike of digits


class ArchiveRejected(ValueError):
    """The archive breaks a safety rule; nothing was imported."""


class SameImages(ValueError):
    """The archive's images, at this size, with their labels and split, are an imported set's
    already (``existing``); nothing was written. In a classroom the same zip goes round: one
    copy serves everyone, instead of ``leaves``, ``leaves-2``, ... ``leaves-30``."""

    def __init__(self, existing: str, images: int, size: int):
        super().__init__(f"{'this image is' if images == 1 else f'these {images:,} images are'} imported already, as "
                         f"{existing!r} (the same {'image' if images == 1 else 'images'} at {size} "
                         f"px, with the same labels and train/test split); nothing was imported: use {existing!r} "
                         f"(at another resolution {'it' if images == 1 else 'they'} would make a new set)")
        self.existing, self.images, self.size = existing, images, size


class NameTaken(ValueError):
    """An imported dataset of that name exists and ``replace`` was not asked for; nothing was
    touched. ``name`` is the name asked for."""

    def __init__(self, name: str):
        super().__init__(f"a dataset named {name!r} exists already: choose another name or replace it")
        self.name = name


@dataclass
class ImportReport:
    name: str
    images: int = 0
    labelled: bool = False
    channels: int = 3
    size: int = 32
    per_class: dict[str, int] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)  # {"member": ..., "reason": ...}
    train: int = 0  # images in the train split
    test: int = 0  # images in the test split (a fifth of each class)
    caveats: list[str] = field(default_factory=list)  # why runs' accuracies on it will say little (too small)
    unlabelled_reason: str = ""  # why the set has no labels (no class folders, only one); "" when labelled
    # class -> the folders inside its folder whose images it took (plateA/nucleus/1.png is a plateA image): a plate or
    # condition layout otherwise gave its plates as classes without a word
    merged: dict[str, list[str]] = field(default_factory=dict)
    archive: str | None = None  # the archive's file name, when known (a path's, an upload's)
    fingerprint: str = ""  # of the imported content (``imageset.content_fingerprint``)
    source_sizes: list[str] = field(default_factory=list)  # the smallest and largest image as found, "WxH"
    stretched: int = 0  # 16-bit, 32-bit or float images whose values were stretched to 8 bits (``to_8_bits``)
    # images of several pages or frames (a multi-page TIFF, a stack, an animated GIF) that gave their first only: a
    # microscope's channels or z-planes saved as pages were otherwise dropped without a word
    first_page_only: int = 0
    copies: int = 0  # images identical to another of the set once resized (each in the split of its original)
    # the nickname that imported it (the app's session, `import-images --nickname`): there is no login, and a
    # classmate's Delete or Replace otherwise took a set away from the runs of whoever brought it without a name
    imported_by: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class NotWritten(ValueError):
    """The imported set could not be written (nothing was: the partial copy is removed)."""

    def __init__(self, dest: Path, error: OSError):
        super().__init__(f"nothing was imported: {not_written(error, dest.parent)}, then import again"
                         + (" (or at a smaller size)" if error.errno == errno.ENOSPC else ""))


def custom_root(make: bool = True) -> Path:
    """The folder of the imported sets, made when missing; with ``make=False`` only where it
    would be (for a reader: no folder, no imported set, and nothing made)."""
    d = paths.data_dir(make) / "custom"
    if make:
        d.mkdir(parents=True, exist_ok=True)
    return d


def custom_datasets() -> dict[str, str]:
    """Imported datasets on disk: name -> description."""
    out, root = {}, custom_root(make=False)
    for d in sorted(root.iterdir()) if root.is_dir() else ():
        meta = d / "meta.json"
        if d.is_dir() and not d.name.startswith(".") and meta.exists():
            try:
                m = json.loads(meta.read_text(encoding="utf-8"))
                kind = f"{len(m['class_names'])} classes" if m["report"]["labelled"] else "unlabelled"
                out[d.name] = f"your images: {m['report']['images']:,}, {kind} (imported)"
            except (OSError, ValueError, KeyError):
                continue
    return out


def check_name(name: str, taken: set[str]) -> None:
    if not NAME_RE.match(name or ""):
        raise ValueError(f"dataset name {name!r} must be 1-40 characters: lowercase letters, digits, '-' or '_', "
                         "starting with a letter or digit")
    if name in taken:
        raise ValueError(f"{name!r} is a built-in dataset: choose another name ({suggest_name(name)!r} is free)")


def suggest_name(filename: str, taken: set[str] | None = None) -> str:
    """A dataset name for an archive called ``filename`` that :func:`check_name` accepts and
    that is free: ``"My Leaves (2).zip"`` -> ``"my-leaves-2"``. Accents are dropped, other
    characters become '-', the result is cut to 40 characters; a built-in or already imported
    name gets ``-2``, ``-3``, ...; ``"my-images"`` when nothing usable is left. ``taken``
    defaults to the built-in and imported names."""
    import unicodedata

    if taken is None:
        from . import DATASETS

        taken = set(DATASETS) | set(custom_datasets())
    stem = PurePosixPath(str(filename).replace("\\", "/")).name
    if stem.lower().endswith(".zip"):
        stem = stem[:-4]
    plain = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c)).lower()
    base = re.sub(r"[^a-z0-9_-]+", "-", plain)
    base = re.sub(r"([-_])[-_]+", r"\1", base).strip("-_")[:40].rstrip("-_") or "my-images"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base[:40 - len(str(i)) - 1].rstrip('-_')}-{i}"
    return name


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    raw = info.filename
    name = raw.replace("\\", "/")
    p = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or p.is_absolute():
        raise ArchiveRejected(f"member {raw!r} has an absolute path: refusing the archive")
    if any(part == ".." for part in p.parts):
        raise ArchiveRejected(f"member {raw!r} climbs out of the archive with '..': refusing the archive")
    mode = (info.external_attr >> 16) & 0o177777
    if stat.S_ISLNK(mode):
        raise ArchiveRejected(f"member {raw!r} is a link: refusing the archive")
    if info.flag_bits & 0x1:
        raise ArchiveRejected(f"member {raw!r} is encrypted: refusing the archive")
    return p


def check_archive(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArchiveRejected(f"the archive has {len(infos):,} members, more than the limit of {MAX_MEMBERS:,}: "
                              "split it into archives of fewer images and import each as a set of its own, or import "
                              "a part of it")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        raise ArchiveRejected(f"the archive unpacks to {total / 2**20:,.0f} MiB, more than the limit of "
                              f"{MAX_TOTAL_BYTES / 2**20:,.0f} MiB: the images are resized to 256 px at most here, "
                              "so shrink them before zipping (to 512 px, say, as 8-bit PNG or JPEG), or split the "
                              "archive")
    if packed and total / packed > MAX_RATIO and total > 1 << 20:
        raise ArchiveRejected(f"the archive's compression ratio ({total / packed:,.0f}:1) is that of a zip bomb")
    out = []
    for info in infos:
        path = _member_path(info)
        if info.is_dir():
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            raise ArchiveRejected(f"member {info.filename!r} unpacks to {info.file_size / 2**20:,.0f} MiB, more than "
                                  f"the per-file limit of {MAX_MEMBER_BYTES / 2**20:,.0f} MiB")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20:
            raise ArchiveRejected(f"member {info.filename!r} has a zip-bomb compression ratio")
        out.append((info, path))
    return out


def image_members(zf: zipfile.ZipFile, skipped: list[dict]) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The image members of an archive that passes ``check_archive`` (ArchiveRejected when it
    does not), by their suffix; OS metadata (dot files, ``__MACOSX``) is left out silently, any
    other file is added to ``skipped`` as ``{"member", "reason"}``."""
    files = []
    for info, path in check_archive(zf):
        if path.name.startswith(".") or "__MACOSX" in path.parts:
            continue  # OS metadata, silently
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append({"member": info.filename, "reason": "not an image file"})
            continue
        files.append((info, path))
    return files


def read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read a member, never more than its declared size (``check_archive`` bounds those): a
    header that understates it cannot inflate it, as zipfile stops there, and the bytes read
    then fail the member's CRC (zipfile.BadZipFile), so the member is skipped as unreadable
    (``try_decode``). (A check for more bytes than declared could never fire.)"""
    with zf.open(info) as f:
        return f.read(info.file_size)


class TooManyPixels(ValueError):
    """An image over ``MAX_PIXELS``: refused before it is decoded (a pixel bomb)."""


def decode_image(data: bytes, size: int, sizes: list | None = None,
                 notes: list | None = None, budget: Callable[[int, int], None] | None = None,
                 background: tuple[int, int, int] = WHITE) -> tuple[np.ndarray, bool]:
    """Decode one image to uint8 RGB [size, size, 3]; also whether it was grayscale. ``sizes``
    gets the image's own (width, height) appended, as it was before resizing; ``notes`` what
    was done to it that a report counts, and ``background`` (under any transparency): as
    ``fit_image``'s; ``budget(width, height)``, given the size from the header before any pixel
    is decoded, may refuse it (raising)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    # the size is read from the header, nothing decoded: under twice the limit PIL only warns, and the check below
    # says the image's size; beyond that it refuses to open it, and its message has the pixel count
    shrink = f" (it would be resized to {size} px anyway: shrink it)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:
            found = re.search(r"\((\d+) pixels\)", str(e))
            raise TooManyPixels((f"the image has {int(found[1]):,} pixels, more than twice the limit of {MAX_PIXELS:,}"
                                 if found else f"the image has more pixels than the limit of {MAX_PIXELS:,}")
                                + shrink) from None
        with opened as im:
            if im.width * im.height > MAX_PIXELS:
                raise TooManyPixels(f"the image has {im.width}x{im.height} pixels, more than the limit of "
                                    f"{MAX_PIXELS:,}{shrink}")
            if budget is not None:
                budget(im.width, im.height)
            return fit_image(im, size, sizes, notes, background)


DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "F")  # PIL's modes of 16- and 32-bit integer and float images
# a deep image's values mapped to 0..255: from this percentile of them to the one as far from the top, so that a few hot
# or dead pixels do not squeeze the rest into a handful of grey levels
STRETCH_PERCENTILE = 0.1


def to_8_bits(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """A 16-bit, 32-bit or float image's values (one channel) as uint8, and whether they were
    stretched: from their ``STRETCH_PERCENTILE``th percentile (0) to the one as far from the
    top (255), as ImageJ's 8-bit conversion scales by the display range and microscopy's deep
    learning normalises each image. Their bit depth cannot be read off the file: a 12-bit
    camera's images are 16-bit files with values up to 4,095, which divided by 65,535 came out
    nearly black, and a float image of 0 to 1 divided by 255 all black. Brightness between
    images is not kept. An image of one value is kept as 8-bit values where they are 0 to 255
    (clipped otherwise), unstretched."""
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, np.uint8), False
    a = np.where(finite, a, a[finite].min())  # a float image's NaN or infinity: its darkest value
    lo, hi = np.percentile(a, [STRETCH_PERCENTILE, 100 - STRETCH_PERCENTILE])
    if hi <= lo:  # a few pixels apart from one value: the whole range, or none
        lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.clip(a, 0, 255).astype(np.uint8), False
    return np.clip(np.round((a - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8), True


STRETCHED, FIRST_PAGE = "stretched", "first page"  # what ``fit_image`` notes of an image


def fit_image(im, size: int, sizes: list | None = None, notes: list | None = None,
              background: tuple[int, int, int] = WHITE) -> tuple[np.ndarray, bool]:
    """A PIL image as an import keeps it: uint8 RGB [size, size, 3] (its first page or frame,
    EXIF rotation applied, 16-bit, 32-bit and float stretched to 8 bits (``to_8_bits``),
    transparency composited on ``background`` (white for an import; a trained set's own for an
    image embedded into it, ``ImageSet.background``), the shorter side resized to ``size`` and the
    centre cropped), and whether it was grayscale. ``notes`` gets ``FIRST_PAGE`` appended when
    the image had more pages or frames, ``STRETCHED`` when its values were stretched."""
    from PIL import Image, ImageOps

    # is_animated looks for a second frame; n_frames walked them all (a 60 MB GIF of 4,000,000 frames took 10 s, and
    # Explore decodes a query on every rerun), and was read for a query too, which keeps no notes
    if notes is not None and getattr(im, "is_animated", False):
        notes.append(FIRST_PAGE)
    im.seek(0)  # first frame of animations, first page of a multi-page TIFF
    im = ImageOps.exif_transpose(im)
    gray = im.mode in ("1", "L", "LA", *DEEP_MODES)
    if im.mode in DEEP_MODES:
        eight, spread = to_8_bits(np.asarray(im))
        if spread and notes is not None:
            notes.append(STRETCHED)
        im = Image.fromarray(eight, "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        under = Image.new("RGBA", rgba.size, (*background, 255))
        im = Image.alpha_composite(under, rgba)
    im = im.convert("RGB")
    if sizes is not None:
        sizes.append(im.size)
    im = ImageOps.fit(im, (size, size), method=Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8), gray


UNREADABLE_IMAGE = "not a readable image (damaged, cut short, or not the format its name says)"


def try_decode(read: Callable[[], bytes], size: int, sizes: list | None = None,
               notes: list | None = None, budget: Callable[[int, int], None] | None = None,
               background: tuple[int, int, int] = WHITE) -> tuple[np.ndarray, bool] | str:
    """``decode_image`` of the bytes ``read()`` gives, or why the file is skipped: it cannot be
    read (a permission), is refused by ``read`` (ValueError, its message said), is damaged
    inside its archive (a bad CRC, as when its header understates its size: ``read_bounded``),
    is over the pixel limit, or is not a readable image. ArchiveRejected (the pixel budget of
    the archive as a whole) is raised."""
    try:
        data = read()
    except ArchiveRejected:
        raise
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    except ValueError as e:  # the reader's own refusal, a sentence (a file over the size limit)
        return str(e)
    except Exception:  # noqa: BLE001 (a member damaged inside its archive: bad CRC, a cut deflate stream)
        return UNREADABLE_IMAGE
    try:
        return decode_image(data, size, sizes, notes, budget, background)
    except ArchiveRejected:  # the budget's: the archive as a whole
        raise
    except TooManyPixels as e:
        return str(e)
    except Exception:  # noqa: BLE001 (PIL raises many kinds for a corrupt or undecodable file)
        return UNREADABLE_IMAGE


def _common_folders(folders: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The folders every image in a folder sits under, to strip before the class folders: the
    common top folders, however deep (``outer/inner/`` of ``outer/inner/cat/1.png`` and
    ``outer/inner/dog/2.png``), followed down until the images branch into two or more folders.
    Images beside the folders on the way (``outer/cover.png``) do not stop it. When the images
    never branch (all in ``pets/cat/``), the last folder is kept as their one class folder, and a
    single folder (``cat/``) is stripped whole."""
    top: tuple[str, ...] = ()
    while True:
        below = {f[len(top)] for f in folders if len(f) > len(top) and f[:len(top)] == top}
        if len(below) != 1:
            break
        top += (below.pop(),)
    return top if below else top[:max(1, len(top) - 1)]


def _class_folders(folders: list[tuple[str, ...]]) -> tuple[list[str], list[str | None], str, dict[str, list[str]]]:
    """How images are labelled by the folders they sit in (``folders``, one tuple of folder
    names per image): (class names, each image's class, why the set is unlabelled, the folders
    inside each class folder whose images it takes: ``plateA/nucleus/1.png`` is a plateA image,
    which the report says, since an archive of plates holding conditions gets the plates as its
    classes).

    The folders common to every image in a folder are ignored (an archive of ``pets/``, or of
    ``outer/inner/``: ``_common_folders``); below them, the first folder is the class. Two or
    more classes give a labelled set, whose images outside the class folders have class None
    (to be skipped); fewer give an unlabelled set of every image (classes all None, no class
    names) and the reason, since one class cannot be classified."""
    top = _common_folders(folders)
    rel = [f[len(top):] if f[:len(top)] == top else None for f in folders]  # None: outside the top folders
    classes = [r[0] if r else None for r in rel]
    names = sorted({c for c in classes if c is not None})
    if len(names) >= 2:
        merged: dict[str, set[str]] = {}
        for r in rel:
            if r and len(r) > 1:
                merged.setdefault(r[0], set()).add(r[1])
        return names, classes, "", {c: sorted(v) for c, v in sorted(merged.items())}
    outside = rel.count(None)
    if names or (top and outside):  # cat/ and dog.png alike: one class folder, images beside it
        one, outside = (names[0], classes.count(None)) if names else (top[-1], outside)
        why = f"the archive has only one class folder ({one!r})" + (
            f" besides {count(outside, 'image')} outside it" if outside else "") + ", and one class cannot be classified"
    elif top:
        why = (f"all the images are in one folder ({top[-1]!r}) with no class folders in it, and one class cannot "
               "be classified")
    else:
        why = "the images are loose, not in class folders"
    return [], [None] * len(folders), (f"Unlabelled: {why}. For labels, put each class's images in a folder of "
                                       "its own, two or more (cat/1.png, dog/2.png)."), {}


def import_images(archive: str | Path | BinaryIO, name: str, size: int = 32, replace: bool = False,
                  builtin_names: set[str] | None = None,
                  before_replacing: Callable[[], None] | None = None,
                  imported_by: str | None = None) -> ImportReport:
    """Import a zip archive as dataset ``name``; return the report. Raises ArchiveRejected
    (unsafe archive), NameTaken (an imported set has the name and ``replace`` is false),
    SameImages (another imported set holds the same content), NotWritten (the disk is full, or
    the folder read-only: nothing is written, a set replaced is kept) or ValueError (bad name,
    no images). The archive's file name is recorded when it has one (a
    path, or a file-like object with a ``name``, as an upload has). ``before_replacing`` is
    called under the import's lock just before a set is replaced, to refuse it then (raising):
    a caller that checked only before the decoding, minutes long for a large archive, let a
    run start training on the set meanwhile and then replaced its images. ``imported_by``: the
    nickname to record as the set's importer (the report's ``imported_by``)."""
    if builtin_names is None:
        from . import DATASETS

        builtin_names = set(DATASETS)
    check_name(name, builtin_names)
    if not 8 <= int(size) <= 256:
        raise ValueError(f"size must be between 8 and 256 pixels, got {size}")
    dest = custom_root() / name
    if dest.exists() and not replace:  # said before the archive is read; checked again before writing
        raise NameTaken(name)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        give = "pass" if isinstance(archive, (str, Path)) else "upload"  # a path: the command line's; a file: the app's
        raise ValueError("not a readable zip archive (damaged, cut short by an interrupted download, or not a zip "
                         f"file): {give} a complete .zip of images") from None
    given = str(archive) if isinstance(archive, (str, Path)) else getattr(archive, "name", None)
    # an upload's name is the browser's (a crafted one can hold line breaks): one line of text
    given = one_line(given) if isinstance(given, str) else None
    report = ImportReport(name=name, size=int(size), archive=PurePosixPath(given.replace("\\", "/")).name
                          if given else None, imported_by=(one_line(imported_by or "").strip() or None))
    with zf:
        files = image_members(zf, report.skipped)
        if not files:
            raise ValueError("the archive holds no images (.png, .jpg, .bmp, .gif, .tif, .webp, .ppm)")
        # in the order of their paths, not of the archive's members: the same folder zipped by another tool (or in
        # reverse) was another set, with another split, and not refused as the same images
        files = sorted(files, key=lambda member: member[1].as_posix())
        if (need := len(files) * int(size) ** 2 * 3) > MAX_OUTPUT_BYTES:
            most = max(8, int((MAX_OUTPUT_BYTES / (3 * len(files))) ** 0.5))
            raise ArchiveRejected(f"{len(files):,} images at {size} px would take {need / 2**30:.2f} "
                                  f"GiB, more than the limit of {MAX_OUTPUT_BYTES >> 30} GiB: import them at {most} px "
                                  "or less, or fewer of them")
        decoded_pixels = 0

        def budget(width: int, height: int) -> None:
            nonlocal decoded_pixels
            decoded_pixels += width * height
            if decoded_pixels > MAX_TOTAL_PIXELS:
                raise ArchiveRejected(f"the archive's {count(len(files), 'image')} hold more than "
                                      f"{MAX_TOTAL_PIXELS:,} pixels in all (one is {width}x{height}), the limit, "
                                      f"about half a minute of decoding: shrink them before zipping (they are "
                                      f"resized to {size} px anyway), or import fewer")

        # decoded first, the class folders then read off the images that could be: a folder whose only file was
        # damaged became a class of 0 images, named in the report, offered by Data's filter and counted as a class
        readable = []
        for info, path in files:
            sized, notes = [], []
            decoded = try_decode(lambda: read_bounded(zf, info), int(size), sized, notes, budget)
            if isinstance(decoded, str):
                report.skipped.append({"member": info.filename, "reason": decoded})
                continue
            readable.append((info, path, decoded, sized, notes))
    class_names, classes, report.unlabelled_reason, report.merged = _class_folders([p.parts[:-1]
                                                                                    for _, p, *_ in readable])
    labelled = bool(class_names)
    index = {c: i for i, c in enumerate(class_names)}
    arrays, labels, grays, kept, found, noted = [], [], [], [], [], []
    for (info, path, (arr, gray), sized, notes), cls in zip(readable, classes):
        if labelled and cls is None:
            report.skipped.append({"member": info.filename,
                                   "reason": "outside the class folders: move it into one to include it"})
            continue
        arrays.append(arr)
        grays.append(gray)
        kept.append(info.filename)
        labels.append(index[cls] if labelled else -1)
        found += sized
        noted += notes
    report.stretched, report.first_page_only = noted.count(STRETCHED), noted.count(FIRST_PAGE)
    if not arrays:
        raise ValueError("none of the images could be read: " + "; ".join(
            f"{s['member']}: {s['reason']}" for s in report.skipped[:5]))
    area = lambda wh: wh[0] * wh[1]  # noqa: E731
    report.source_sizes = list(dict.fromkeys(f"{w}x{h}" for w, h in (min(found, key=area), max(found, key=area))))
    images = np.stack(arrays).transpose(0, 3, 1, 2)  # [N,3,H,W]
    channels = 1 if all(grays) else 3
    if channels == 1:
        images = images[:, :1]
    labels_np = np.asarray(labels, dtype=np.int64)
    # copies of one image (after resizing) go to one split: 34 of 48 test images had their copy in train in a review,
    # so kNN found each at similarity 1 and the linear probe had seen it
    copies = np.array([hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=8).hexdigest() for a in arrays])
    is_train = grouped_split((lambda y: stratified_split(y, test_fraction=0.2, seed=0)) if labelled else
                             (lambda y: np.random.default_rng(0).random(len(y)) >= 0.2), labels_np, copies)
    report.copies = len(copies) - len(set(copies))
    report.images, report.labelled, report.channels = len(images), labelled, channels
    report.train, report.test = int(is_train.sum()), int((~is_train).sum())
    report.caveats = evaluation_caveats(labels_np, is_train, class_names)
    if report.copies:
        report.caveats.append(copies_caveat(report.copies))
    report.per_class = {c: int((labels_np == i).sum()) for i, c in enumerate(class_names)} if labelled else \
        {"(unlabelled)": len(images)}
    images = np.ascontiguousarray(images)
    report.fingerprint = content_fingerprint(images, labels_np, is_train, class_names)
    # checked and written as one: a class's sessions importing at once (the app's threads, the CLI's processes)
    # would otherwise each find neither the name nor the images taken, and all write
    with exclusive(custom_root() / ".import.lock"):
        if dest.exists() and not replace:
            raise NameTaken(name)
        same = [other for other, fingerprint in imported_fingerprints().items()
                if fingerprint == report.fingerprint and other != name]  # (replacing a set by itself changes nothing)
        if same:
            raise SameImages(same[0], len(images), int(size))
        if dest.exists() and before_replacing is not None:
            before_replacing()
        _write(dest, images, labels_np, is_train, class_names, kept, report, replace)
    return report


def _write(dest: Path, images, labels, is_train, class_names, files: list[str], report: ImportReport,
           replace: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=custom_root()))
    try:
        np.save(tmp / "images.npy", images)
        np.save(tmp / "labels.npy", labels)
        np.save(tmp / "is_train.npy", is_train)
        (tmp / "files.json").write_text(json.dumps(files, ensure_ascii=False), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps({"class_names": class_names, "report": report.to_dict()},
                                                  indent=2, ensure_ascii=False), encoding="utf-8")
        if dest.exists() and replace:
            old = dest.with_name(f".old-{dest.name}-{os.getpid()}")
            dest.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(dest)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):  # a full disk, a folder made read-only: said as such, not as a traceback
            raise NotWritten(dest, e) from None
        raise


def check_removable(name: str) -> None:
    """ValueError unless ``name`` is a set imported here (a built-in one cannot be deleted)."""
    from . import DATASETS

    if name in DATASETS:
        raise ValueError(f"{name!r} is built in: only a set you imported can be deleted")
    imported = custom_datasets()
    if name not in imported:
        raise ValueError(f"no imported dataset {name!r}: the imported ones are "
                         f"{', '.join(imported) or 'none'} (`python -m ssrl_core list datasets`)")


def remove_imported(name: str) -> None:
    """Delete the imported set ``name`` (its folder under ``custom_root()``): one rename under
    the import lock, so an import of the same name at the same time waits, and a page reading
    the set finds it whole or gone. ValueError (``check_removable``), changing nothing. The
    runs made on it are the caller's (``runs.remove.delete_dataset``)."""
    check_removable(name)
    dest = custom_root() / name
    with exclusive(custom_root() / ".import.lock"):
        trash = dest.with_name(f".old-{name}-{os.getpid()}")
        dest.rename(trash)  # refused here (permissions): nothing has changed
        shutil.rmtree(trash, ignore_errors=True)
    from . import forget_loaded

    forget_loaded(name)  # its images, kept loaded by this process, go too


def imported_fingerprints(names=None) -> dict[str, str]:
    """Each imported set's content fingerprint, from its import report (sets imported before
    fingerprints were recorded are left out); with ``names``, only those sets' reports are read."""
    out = {}
    metas = (custom_root() / n / "meta.json" for n in names) if names is not None else custom_root().glob("*/meta.json")
    for meta in sorted(metas):
        if meta.parent.name.startswith(".") or not meta.exists():  # an import being written, a set being removed
            continue
        try:
            if fingerprint := json.loads(meta.read_text(encoding="utf-8"))["report"].get("fingerprint"):
                out[meta.parent.name] = fingerprint
        except (OSError, ValueError, KeyError, AttributeError):
            continue
    return out


def import_report(name: str) -> dict | None:
    """The imported set ``name``'s import report (``ImportReport.to_dict``, as meta.json keeps it:
    microseconds, no images are read); None for a name that is not an imported set."""
    try:
        report = json.loads((custom_root() / name / "meta.json").read_text(encoding="utf-8"))["report"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return report if isinstance(report, dict) else None


def imported_train_size(name: str) -> int | None:
    """How many training images the imported set ``name`` has, from its import report; None
    for a name that is not an imported set."""
    try:
        return int((import_report(name) or {})["train"])
    except (KeyError, TypeError, ValueError):
        return None


def load_custom(name: str) -> ImageSet:
    d = custom_root() / name
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        images = np.load(d / "images.npy", allow_pickle=False)
        labels = np.load(d / "labels.npy", allow_pickle=False)
        is_train = np.load(d / "is_train.npy", allow_pickle=False)
        files = json.loads((d / "files.json").read_text(encoding="utf-8")) if (d / "files.json").exists() else None
    except FileNotFoundError:
        raise ValueError(f"no imported dataset named {name!r} in {custom_root()}") from None
    except (ValueError, OSError, KeyError) as e:
        raise ValueError(f"the imported dataset {name!r} in {d} is damaged ({e}): import it again") from None
    names = meta.get("class_names") or []
    report = meta.get("report") or {}
    try:
        return ImageSet(name=name, images=torch.from_numpy(images), labels=torch.from_numpy(labels),
                        class_names=names, is_train=torch.from_numpy(is_train.astype(bool)), files=files,
                        archive=report.get("archive"), known_fingerprint=report.get("fingerprint") or None,
                        copies=int(report.get("copies") or 0))
    except ValueError as e:
        raise ValueError(f"the imported dataset {name!r} in {d} is damaged ({e}): import it again") from None
