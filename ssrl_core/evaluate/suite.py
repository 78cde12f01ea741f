"""Probes of a run folder, computed once and cached in ``RUN/probes.json``.

``run_probes`` is what the worker runs after training (seconds: frozen features only) and
what ``python -m ssrl_core probe`` / ``invariance`` call; every entry is computed only when
it is missing from the cache, so pages and repeated commands read it back for free.

Keys of ``probes.json``:

    knn_k                    {k: accuracy}
    linear/<target>/<budget> {mean, std, values, seeds, labels_per_class, n_labels}
    finetune/<target>/<budget>   the same, fine-tuning the whole encoder
    factors                  {factor: {chance, chance_all, classes, "2": {...}, "all": {...}}}
    invariance               {op: {score, similarity, unrelated, reliable[, note]} | {skipped}}
    rotation_equivariance    accuracy of predicting the rotation (chance 0.25)
    typical_similarity       the 1% quantile of each image's similarity to its nearest other
                             (``encode``: what an outside image is judged unlike by)

References shared by every run of a dataset and encoder live in ``SSRL_HOME/references``:
the random encoder's linear readout (``random-linear/...``), kNN accuracy as k varies
(``random-knn/label``), invariance (``random-invariance``) and factor probes
(``random-factors``), and supervised training from scratch on the same labelled subsets
(same augmentations, same seeds), keyed by what determines them.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import paths
from ..device import MEMORY_FORMAT
from ..locks import exclusive
from ..models import build_encoder
from ..runs import artifacts as art
from . import probes as pr
from ..data.imageset import KNN_K
from .embed import embed
from .knn import knn_accuracy
from .finetune import STEPS, train_classifier
from .linear import fit_linear_head
from .invariance import (SUBSET, fixed_subset, invariance_scores, mark_reliability, missing_ops,
                         rotation_equivariance)

PROBES = art.PROBES


class Cache:
    """A JSON file of results, read-modify-written under a lock (the worker and a CLI
    command may fill the same run's cache at once).

    ``shared``: a cache that many runs read (the untrained encoder's references of a
    dataset, encoder and seed), where two processes often miss the same value at once (two
    probe jobs of two clicks, two workers ending runs of the same seed):
    the first computes it while the others wait for it, under a lock per key in the cache's
    folder's ``.computing/``, instead of each computing it too.

    ``defer``: a value that cannot be cached (a read-only folder, a full disk) is returned
    all the same, and the first such OSError kept in ``unsaved``, for a caller that shows
    the value first and then says it was not saved (the command line's ``probe``).

    A cache file that is there but holds no JSON object (cut short, edited by hand into bad
    JSON) reads as empty, and the first write moves it aside to ``NAME.unreadable`` (numbered
    beside an earlier one) before writing afresh, its path kept in ``set_aside``: what it
    held can still be mended by hand instead of being replaced unseen. One that cannot be
    read at all (an OSError) is left as it is, and the write fails as a folder that cannot be
    written does."""

    def __init__(self, path: Path, shared: bool = False, defer: bool = False):
        self.path = Path(path)
        self.shared = shared
        self.defer = defer
        self.unsaved: OSError | None = None
        self.set_aside: Path | None = None

    def read(self) -> dict:
        return art.read_json(self.path) or {}

    def get(self, key: str, compute: Callable[[], object], optional: bool = False):
        """The value cached under ``key``, computed and cached when missing. ``optional``: a
        folder that cannot be written (read-only, a colleague's, a full disk) caches nothing
        and the value is computed each time, for a reader that must not fail for want of a
        cache (otherwise the OSError is raised: a probe job's result is its cache entry)."""
        have = self.read()
        if key in have:
            return have[key]
        with self._computing(key):
            if self.shared:
                have = self.read()
                if key in have:  # another process computed it while this one waited
                    return have[key]
            value = compute()
            self._write(key, lambda now: value, optional)
        return value

    def merge(self, key: str, part: dict, optional: bool = False) -> dict:
        """The dict cached under ``key`` with ``part``'s entries added (or replaced), written
        back and returned; entries another process added meanwhile under other keys of that dict
        are kept (one level: a nested dict in ``part`` replaces the cached one). ``optional``:
        as ``get``'s."""
        return self._write(key, lambda now: {**now.get(key, {}), **part}, optional)

    def _write(self, key: str, value: Callable[[dict], object], optional: bool):
        """Cache ``value(what is cached now)`` under ``key`` (read and written under the lock);
        return it. A folder that cannot be written: see ``get``."""
        try:
            self._folder()
            with exclusive(self.path.with_name(self.path.name + ".lock"), make_folder=False):
                now = self._held()
                now[key] = new = value(now)
                art.write_json(self.path, now)
        except OSError as e:
            new = value(self.read())
            if self.defer:
                self.unsaved = self.unsaved or e
            elif not optional:
                raise
        return new

    def _held(self) -> dict:
        """What the cache file holds, read under the lock before a write: {} when there is none;
        one that is there but holds no JSON object (cut short, bad JSON, a list, a folder) is moved
        aside first (``set_aside``). An OSError reading it (too many open files, an I/O error, no
        permission) is raised: the file may be whole, and must be neither moved nor written over."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except IsADirectoryError:
            text = b""
        try:
            held = json.loads(text)
        except ValueError:  # bad JSON, or bytes that are not UTF-8
            held = None
        if isinstance(held, dict):
            return held
        self.set_aside = self._set_aside()
        return {}

    def _set_aside(self) -> Path:
        """Move the unreadable cache file to the first free ``NAME.unreadable[-N]``."""
        n = 1
        while (aside := self.path.with_name(self.path.name + ".unreadable" + (f"-{n}" if n > 1 else ""))).exists():
            n += 1
        self.path.rename(aside)
        return aside

    def _computing(self, key: str) -> contextlib.AbstractContextManager:
        """The lock on computing ``key`` of a shared cache (none for a run's own cache, or where
        the folder cannot hold the lock: then each process computes for itself, as before)."""
        stack = contextlib.ExitStack()
        if self.shared:
            digest = hashlib.sha1(key.encode()).hexdigest()[:12]
            try:
                self._folder(".computing")
                stack.enter_context(exclusive(self.path.parent / ".computing" / f"{self.path.stem}-{digest}.lock",
                                              make_folder=False))
            except OSError:
                pass
        return stack

    def _folder(self, sub: str | None = None) -> None:
        """A shared cache's folder (and ``sub`` in it), made when missing, but not the folder it
        is in (SSRL_HOME): one deleted or moved meanwhile is not made anew (FileNotFoundError).
        A run's cache makes nothing: its folder is the run's."""
        if self.shared:
            self.path.parent.mkdir(exist_ok=True)
            if sub:
                (self.path.parent / sub).mkdir(exist_ok=True)


class RunProbes:
    """The probes of one finished run (its folder or its id), cached in its ``probes.json``.
    The model is loaded only when a probe needs it."""

    def __init__(self, run_dir: Path | str, trained=None, device: str = "auto", defer_saving_errors: bool = False):
        """``run_dir``: a run folder or a store id. Only a finished run's, unless ``trained`` is
        given (the run's own evaluation, ``execute``): probes of a run still training were read
        off an epoch's checkpoint and cached beside its final summary for good, and an id was
        taken for a folder under the working directory, where the probes were written."""
        from ..runs import run_folder

        self.dir = Path(run_dir) if trained is not None else run_folder(run_dir)
        self.cache = Cache(self.dir / PROBES, defer=defer_saving_errors)  # ``Cache.unsaved``
        self._trained = trained
        self._device = device
        self._features: np.ndarray | None = None

    @property
    def trained(self):
        if self._trained is None:
            from ..train import load_trained

            trained = load_trained(self.dir, self._device)
            stale = art.RunArtifacts(self.dir).dataset_mismatch(trained.dataset)
            if stale:  # its cached features and probes are of the old images; new ones would mix the two
                raise ValueError(f"no probes computed: {stale}")
            self._trained = trained
        return self._trained

    @property
    def dataset(self):
        return self.trained.dataset

    def features(self) -> np.ndarray:
        """The run's frozen features (``embeddings.npy``, or embedded once when missing)."""
        if self._features is None:
            if (self.dir / art.EMBEDDINGS).exists():
                self._features = np.load(self.dir / art.EMBEDDINGS)
            else:
                t = self.trained
                self._features = embed(t.method.encoder, t.dataset.images, t.device)
        return self._features

    # -- frozen features -------------------------------------------------------------------
    def train_labels(self, target: str = "label") -> np.ndarray:
        """The labels of ``target`` on the labelled training images (what budgets draw from)."""
        y = pr.target_labels(self.dataset, target)
        tr, _ = pr.labelled_split(self.dataset, y)
        return y[tr]

    def budgets(self, target: str = "label") -> tuple[int, ...]:
        """The label budgets this dataset can give (``probes.budgets_for``)."""
        return pr.budgets_for(self.train_labels(target))

    def knn_k(self) -> dict:
        def compute():
            y = self.dataset.labels.numpy()
            tr, te = pr.labelled_split(self.dataset, y)
            f = self.features()
            return pr.knn_curve(f[tr], y[tr], f[te], y[te], self.dataset.num_classes)
        return self.cache.get("knn_k", compute)

    def linear(self, per_class: int, target: str = "label", seeds: int = pr.SEEDS) -> dict:
        def compute():
            y = pr.target_labels(self.dataset, target)
            tr, te = pr.labelled_split(self.dataset, y)
            if per_class == 0 and target == "label" and (done := self._readout_of_all_labels()) is not None:
                return {**pr.spread([done]), **pr.budget_info(y[tr], 0)}
            f = self.features()
            return pr.linear_at_budget(f[tr], y[tr], f[te], y[te], per_class, seeds)
        return self.cache.get(pr.budget_key("linear", target, per_class, seeds), compute)

    def _readout_of_all_labels(self) -> float | None:
        """The run's own linear accuracy (``metrics.json``, from ``evaluate_trained``) when its
        features are the ones saved beside it: the same readout, on the same features, as the
        curve's every-label point, which a 50,000-image set would otherwise fit a second time."""
        if not (self.dir / art.EMBEDDINGS).exists():
            return None
        return art.RunArtifacts(self.dir).metrics.get("linear_accuracy")  # None where it had no labels to fit

    def label_efficiency(self, budgets=pr.BUDGETS, seeds: int = pr.SEEDS) -> dict:
        return {pr.budget_name(b): self.linear(b, seeds=seeds) for b in pr.budgets_for(self.train_labels(), budgets)}

    def factors(self) -> dict:
        return self.cache.get("factors", lambda: pr.factor_probes(self.features(), self.dataset))

    # -- the model itself ----------------------------------------------------------------------
    def finetune(self, per_class: int, target: str = "label", seeds: int = pr.SEEDS, steps: int = STEPS,
                 on_draw: Callable[[int, int], None] | None = None) -> dict:
        def compute():
            return classifier_curve_point(self.trained, per_class, target, seeds, steps, pretrained=True,
                                          features=self.features(), on_draw=on_draw)
        return self.cache.get(pr.budget_key("finetune", target, per_class, seeds, steps), compute)

    def invariance(self) -> dict:
        """Every op's score (``OPS``), the ops added since the rest were cached measured now."""
        t = self.trained

        def measure(ops: list[str] | None = None) -> dict:
            return encoder_invariance(t.method.encoder, t.dataset, t.device, self.features(), ops=ops)

        scores = self.cache.get("invariance", measure)
        if missing := missing_ops(scores):
            scores = self.cache.merge("invariance", measure(missing))
        return mark_reliability(scores)  # marks results cached before the mark

    def rotation_equivariance(self) -> float:
        t = self.trained
        return self.cache.get("rotation_equivariance",
                              lambda: encoder_rotation_equivariance(t.method.encoder, t.dataset, t.device,
                                                                    self.features()))

    def standard(self, on_event: Callable[[dict], None] | None = None) -> dict:
        """The probes the worker computes after training: all from frozen features, seconds
        (the random encoder's readout included, cached once per dataset, encoder and seed)."""
        emit = on_event or (lambda e: None)
        out = {}
        # the untrained encoder, built once, only if a reference is missing (a random run's own features)
        random_net = _RandomFeatures(self.trained, own_features=self.features)
        if self.dataset.has_labels:
            emit({"kind": "phase", "phase": "probes: kNN and label efficiency"})
            out["knn_k"] = self.knn_k()
            out["label_efficiency"] = {}
            budgets = self.budgets()
            for b in budgets:  # one event per budget: the worker can stop between them
                emit({"kind": "phase", "phase": f"probes: label efficiency ({pr.budget_name(b)} per class)"})
                out["label_efficiency"][pr.budget_name(b)] = self.linear(b)
            emit({"kind": "phase", "phase": "probes: random reference"})
            random_reference(self.trained, budgets, features=random_net)
            random_knn(self.trained, features=random_net)
        if self.dataset.discrete_factors():
            emit({"kind": "phase", "phase": "probes: factors"})
            out["factors"] = self.factors()
            random_factors(self.trained, features=random_net)
        emit({"kind": "phase", "phase": "probes: invariance"})
        out["invariance"] = self.invariance()
        out["rotation_equivariance"] = self.rotation_equivariance()
        emit({"kind": "phase", "phase": "probes: the random encoder's invariance"})
        own = {k: out[k] for k in ("invariance", "rotation_equivariance")} if random_net.is_the_run else None
        random_invariance(self.trained, features=random_net, own=own)
        return out


def encoder_invariance(encoder, dataset, device, features: np.ndarray | None = None,
                       ops: list[str] | None = None) -> dict:
    """``invariance_scores`` of ``encoder`` on the dataset's fixed subset of test images;
    ``features``: the encoder's features of the whole dataset, when computed (their rows are
    used, not embedded again: 1 s of a default digits run, 25 s of an MAE one); ``ops``: only
    these (all by default)."""
    rows = fixed_subset(dataset.test_idx.numpy(), SUBSET, seed=0)
    return invariance_scores(encoder, dataset.images[rows], device, ops=ops, features=_rows(features, rows))


def encoder_rotation_equivariance(encoder, dataset, device, features: np.ndarray | None = None) -> float:
    """``rotation_equivariance`` of ``encoder`` on the dataset's fixed train and test subsets
    (``features``: as ``encoder_invariance``'s)."""
    tr = fixed_subset(dataset.train_idx.numpy(), SUBSET, seed=0)
    te = fixed_subset(dataset.test_idx.numpy(), SUBSET // 2, seed=0)
    return rotation_equivariance(encoder, dataset.images[tr], dataset.images[te], device,
                                 _rows(features, tr), _rows(features, te))


def _rows(features: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if features is None else features[rows]


def classifier_curve_point(trained, per_class: int, target: str, seeds: int, steps: int, pretrained: bool,
                           features: np.ndarray | None = None,
                           on_draw: Callable[[int, int], None] | None = None) -> dict:
    """Accuracy of a classifier trained end to end on ``per_class`` labels per class (mean
    and spread over the labelled-subset seeds) from ``trained``'s encoder (fine-tuning,
    whose head starts from a readout of its frozen ``features``) or from a fresh random
    one (the supervised reference). ``on_draw(i, draws)`` is called before each draw's
    training (i from 1; one draw for every label): tens of seconds each on a CPU."""
    ds = trained.dataset
    y = pr.target_labels(ds, target)
    tr, te = pr.labelled_split(ds, y)
    draws = 1 if per_class == 0 else seeds
    n_classes = int(y.max()) + 1
    feats = None
    if pretrained:
        feats = features if features is not None else embed(trained.method.encoder, ds.images, trained.device)
    accs = []
    for s in range(draws):
        if on_draw is not None:
            on_draw(s + 1, draws)
        rows = tr[pr.labelled_subset(y[tr], per_class, s)]
        head = None
        if pretrained:  # LP-FT: the head starts as the fitted linear readout
            encoder = trained.method.encoder
            head = fit_linear_head(feats[rows], y[rows], n_classes, scaler_x=feats[tr])
        else:
            torch.manual_seed(trained.config.seed + 1000 * s)
            encoder = build_encoder(trained.config.encoder, ds.channels)
            _adapted(encoder, trained.config.method)  # seeing what the run's encoder sees
        accs.append(train_classifier(encoder, ds.images, y, rows, te, n_classes, trained.config.augment,
                                     trained.device, pretrained=pretrained, seed=s, steps=steps, head_init=head))
    return {**pr.spread(accs), **pr.budget_info(y[tr], per_class), "steps": steps}


# -- references shared by runs ----------------------------------------------------------------
def reference_cache(cfg, fingerprint: str | None = None) -> Cache:
    """One cache per (dataset, encoder, augmentation, seed, and the encoder's input where a method changes
    it: colorization's gray): what the references depend on; for
    a set imported into SSRL_HOME also its content, so a set replaced or imported again under
    the same name gets references of its own images, not the old ones' (a run's dataset name
    alone had kept the old set's random readout on the new set's runs: 0.46 shown for 0.92).
    ``fingerprint``: the content a run trained on (its ``dataset.json``'s, or its loaded set's);
    by default the set's as imported now."""
    from ..data import DATASETS

    from ..pretext import encoder_input

    fields = {"dataset": cfg.dataset, "encoder": cfg.encoder, "augment": cfg.augment, "seed": cfg.seed,
              "data_dir": cfg.data_dir}
    if seen := encoder_input(cfg.method):  # colorization's gray input: references of its own
        fields["input"] = seen
    if cfg.dataset not in DATASETS:  # (built-in and torchvision sets keep the key they always had)
        from ..data.custom import imported_fingerprints

        fields["fingerprint"] = fingerprint or imported_fingerprints([cfg.dataset]).get(cfg.dataset)
    key = json.dumps(fields, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    d = paths.home_path() / "references"  # (not ``ssrl_home``: a job's step would make a deleted home anew)
    return Cache(d / f"{cfg.dataset}-{cfg.encoder}-{digest}.json", shared=True)


def references_of(trained) -> Cache:
    """``reference_cache`` of a loaded run: of the content it is loaded with."""
    from ..data import DATASETS

    return reference_cache(trained.config, None if trained.config.dataset in DATASETS else trained.dataset.fingerprint)


def _adapted(encoder, method: str):
    """``encoder`` seeing what ``method``'s encoder sees (``PretextMethod.adapt_encoder``)."""
    from ..pretext import METHODS

    if method in METHODS:
        METHODS[method].adapt_encoder(encoder)
    return encoder


class _RandomFeatures:
    """The random encoder of a run's architecture and seed, embedding the dataset once, on
    first use (a reference whose results are all cached never builds it)."""

    def __init__(self, trained, own_features: Callable[[], np.ndarray] | None = None):
        """``own_features``: the run's features, used when the run is itself that untrained
        encoder (a ``random`` run: the same architecture and seed give the same weights), so
        the dataset is not embedded a second time (25 to 45 s at CIFAR-10's size)."""
        self.trained = trained
        self._feats: np.ndarray | None = None
        self._encoder: torch.nn.Module | None = None
        self._own = own_features if trained.config.method == "random" else None

    @property
    def is_the_run(self) -> bool:
        """Whether the run's encoder is this untrained encoder itself (a ``random`` run)."""
        return self._own is not None

    def encoder(self) -> torch.nn.Module:
        """The untrained encoder: the run's architecture, initialised with the run's seed
        (built on first use, once)."""
        if self._encoder is None:
            t = self.trained
            torch.manual_seed(t.config.seed)
            encoder = _adapted(build_encoder(t.config.encoder, t.dataset.channels), t.config.method)
            self._encoder = encoder.to(t.device, memory_format=MEMORY_FORMAT).eval()
        return self._encoder

    def computed(self) -> np.ndarray | None:
        """The features, if embedded already (or the run's own, for a ``random`` run); None."""
        return self._feats if self._feats is not None else self._own() if self._own is not None else None

    def __call__(self) -> np.ndarray:
        if self._feats is None:
            self._feats = self._own() if self._own is not None else embed(
                self.encoder(), self.trained.dataset.images, self.trained.device)
        return self._feats


def random_reference(trained, budgets=pr.BUDGETS, target: str = "label", seeds: int = pr.SEEDS,
                     features: _RandomFeatures | None = None) -> dict[str, dict]:
    """Linear readout on a random encoder of the run's architecture and seed, at each budget;
    the random encoder embeds the dataset once, and only when a budget is missing."""
    ds = trained.dataset
    cache = references_of(trained)
    feats = features or _RandomFeatures(trained)

    def compute(per_class: int) -> dict:
        f = feats()
        y = pr.target_labels(ds, target)
        tr, te = pr.labelled_split(ds, y)
        return pr.linear_at_budget(f[tr], y[tr], f[te], y[te], per_class, seeds)

    return {pr.budget_name(b): cache.get(pr.budget_key("random-linear", target, b, seeds), lambda b=b: compute(b))
            for b in budgets}


def random_linear(trained, per_class: int, target: str = "label", seeds: int = pr.SEEDS) -> dict:
    """``random_reference`` at one budget."""
    return random_reference(trained, (per_class,), target, seeds)[pr.budget_name(per_class)]


def random_knn(trained, features: _RandomFeatures | None = None) -> dict[str, float]:
    """kNN accuracy of the random encoder of the run's architecture and seed, {k: accuracy}
    for k in 1, 5, 20, 100: what a run's own ``knn_k`` is paired with, seed for seed, so a
    kNN gain over random needs no separate baseline run. Labels only (kNN votes need classes).
    On a set with fewer labelled training images than the summary's k, the curve stops below
    it, and the run's summary kNN (every image voting) is paired with the same number for the
    random encoder, cached beside it (``pr.RANDOM_KNN_EVERY_IMAGE``)."""
    ds = trained.dataset
    feats = features or _RandomFeatures(trained)
    y = ds.labels.numpy()

    def labelled() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        f = feats()  # (embedded once, on first use)
        tr, te = pr.labelled_split(ds, y)
        return f[tr], y[tr], f[te], y[te]

    cache = references_of(trained)
    curve = cache.get(pr.RANDOM_KNN, lambda: pr.knn_curve(*labelled(), ds.num_classes))
    if str(KNN_K) not in curve:
        cache.get(pr.RANDOM_KNN_EVERY_IMAGE, lambda: knn_accuracy(*labelled(), ds.num_classes, k=KNN_K))
    return curve


def random_factors(trained, features: _RandomFeatures | None = None) -> dict:
    """The untrained encoder's factor probes (``probes.factor_probes``): what a run's own are
    read against. On shapes an untrained small CNN's features already give colour at about 0.83
    with 2 labels per value (a review's 8-epoch colour-jitter run was at 0.86: at the untrained
    network's level, not below it), so a factor's bar means what training did to it only beside
    this one."""
    feats = features or _RandomFeatures(trained)
    return references_of(trained).get(pr.RANDOM_FACTORS, lambda: pr.factor_probes(feats(), trained.dataset))


def random_invariance(trained, features: _RandomFeatures | None = None, own: dict | None = None) -> dict:
    """The untrained encoder's invariance per op and rotation equivariance, {"invariance":
    {op: ...}, "rotation_equivariance": accuracy}: what a run's own are read against. A
    random network is already fairly invariant to small pixel changes (noise, blur), so a
    tall bar is what training bought only where it stands above this one. ``own``: the run's
    own two, when the run is that untrained encoder (a ``random`` run, ``_RandomFeatures.is_the_run``):
    the same numbers, not measured a second time (6 of a digits random run's 18 s)."""
    random_net = features or _RandomFeatures(trained)

    def measure(ops: list[str] | None = None) -> dict:
        if own is not None:
            return {op: e for op, e in own["invariance"].items() if ops is None or op in ops}
        enc, done = random_net.encoder(), random_net.computed()  # its features where embedded already (not for this)
        return encoder_invariance(enc, trained.dataset, trained.device, done, ops=ops)

    def compute() -> dict:
        if own is not None:
            return own
        return {"invariance": measure(), "rotation_equivariance": encoder_rotation_equivariance(
            random_net.encoder(), trained.dataset, trained.device, random_net.computed())}

    cache = references_of(trained)
    out = cache.get(pr.RANDOM_INVARIANCE, compute)
    if missing := missing_ops(out["invariance"]):  # ops added since it was cached (``missing_ops``)
        out = cache.merge(pr.RANDOM_INVARIANCE, {"invariance": {**out["invariance"], **measure(missing)}})
    return {**out, "invariance": mark_reliability(out["invariance"])}


def supervised_scratch(trained, per_class: int, target: str = "label", seeds: int = pr.SEEDS, steps: int = STEPS,
                       on_draw: Callable[[int, int], None] | None = None) -> dict:
    """Supervised training from scratch on the same labelled subsets and augmentations
    (``on_draw``: as ``classifier_curve_point``'s; not called when it is cached)."""
    return references_of(trained).get(
        pr.budget_key("supervised-scratch", target, per_class, seeds, steps),
        lambda: classifier_curve_point(trained, per_class, target, seeds, steps, pretrained=False, on_draw=on_draw))
