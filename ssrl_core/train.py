"""The pretraining loop, readable top to bottom.

``pretrain(cfg, run_dir)`` trains a method's encoder on a dataset's train split and leaves
``run_dir/checkpoint.safetensors`` (weights, optimiser and loop state, written after every
epoch so a run resumes where it stopped). Progress goes to ``on_event`` as plain dicts;
``should_cancel`` is polled between steps. It only trains: the folder it leaves holds no
evaluation, so the commands that need a finished run refuse it. ``runs.execute.execute(cfg,
run_dir)`` trains and evaluates (what ``python -m ssrl_core train`` and the workers run).
"""
from __future__ import annotations

import math
import shlex
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch.profiler import record_function

from .augment import parse_augment
from .checkpoint import load_checkpoint, read_meta, save_checkpoint, weight_names
from .config import RunConfig
from .data import ImageSet, load_dataset
from .device import (MEMORY_FORMAT, Precision, autocast, generator_for, global_rng_state, grad_scaler,
                     optimizer_options, pick_device, precision_for, set_global_rng_state, to_device_batch,
                     tune_for_training)
from .evaluate.epochs import EpochProbe
from .models import build_encoder
from .pretext import METHODS, PretextMethod, build_method
from .pretext.base import as_trained
from .runs.artifacts import CHECKPOINT, forget_evaluation
from .stops import Cancelled
from .text import count

Event = dict


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class Trained:
    method: PretextMethod
    dataset: ImageSet
    config: RunConfig  # resolved
    device: torch.device
    precision: str
    train_seconds: float
    images_per_s: float
    final_loss: float | None  # the last epoch's mean loss: the loss curve's last point (a step's is noisier)
    trained_before: float = 0.0  # of train_seconds, the earlier attempts' (a resumed run's)
    # the batch the loop took (the config's, cut to the training set) and its steps an epoch; None: nothing trained
    batch: int | None = None
    steps_per_epoch: int | None = None


# numbers (parameters and buffers) a run's model may hold: the largest of the papers' settings here (Barlow
# Twins' 8192-wide heads on resnet18) hold about 150 million; each option's range allows more in combination
# (mae's decoder at width 8192 and depth 16: 13 billion, 52 GB), which preflight would allocate in the app's
# own process before Launch, and a worker again
MAX_MODEL_NUMBERS = 300_000_000


class _NoValues(torch.overrides.TorchFunctionMode):
    """While a model is built on the meta device only to be counted, what would compute values
    computes nothing: a meta tensor holds none, and PyTorch runs a random draw or a norm there
    through its Python meta kernels, whose first use imports its compiler (sympy among it):
    2.3 s of the Pretrain page's first view, paid by whichever method's construction came
    first (MAE's mask token, MoCo's and SwAV's queues, DeepCluster's head). Initialisers and
    in-place draws leave the tensor as it is; new draws are empty tensors; a normalisation
    keeps its input's shape."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.normal_, torch.Tensor.uniform_, torch.nn.functional.normalize) or \
                getattr(func, "__module__", "") == "torch.nn.init":
            t = args[0] if args else kwargs.get("tensor", kwargs.get("input"))  # (some pass it by name)
            if isinstance(t, torch.Tensor) and t.is_meta:
                return t
        if func in (torch.randn, torch.rand) and torch.device(kwargs.get("device") or "meta").type == "meta":
            return torch.empty(*args, **{k: v for k, v in kwargs.items() if k != "generator"})
        return func(*args, **kwargs)


def model_numbers(cfg: RunConfig, dataset: ImageSet) -> int | None:
    """How many numbers (parameters and buffers) ``cfg``'s model holds, counted on PyTorch's
    meta device (nothing allocated, nothing drawn: milliseconds); None where the model cannot
    be built there (a construction that reads values off a tensor it made: colorization makes
    its fixed colour bins on the CPU for this reason)."""
    try:
        with torch.device("meta"), _NoValues():
            encoder = build_encoder(cfg.encoder, dataset.channels)
            method = build_method(cfg.method, encoder, dataset.num_classes, dataset.channels, cfg.options)
    except Exception:  # the real build below says what is wrong, if anything
        return None
    return sum(t.numel() for t in (*method.parameters(), *method.buffers()))


def build(cfg: RunConfig, device: torch.device, dataset: ImageSet) -> PretextMethod:
    torch.manual_seed(cfg.seed)
    encoder = build_encoder(cfg.encoder, dataset.channels)
    method = build_method(cfg.method, encoder, dataset.num_classes, dataset.channels, cfg.options)
    return method.to(device, memory_format=MEMORY_FORMAT)


# a finished run's checkpoint that cannot be read: deleting it, as a run being continued may, would lose the run
FINISHED_DAMAGED = ("the run's trained weights are damaged, so nothing more can be measured on it; its results "
                    "so far stay. Train it again with the same settings (the export's reproduce.sh) for new probes")


class DamagedWeights(ValueError):
    """A run's checkpoint that cannot be read back (``FINISHED_DAMAGED`` in its message): trying
    again fails the same way until the file changes, so a probe job records it as lasting."""


def as_trained_config(cfg: RunConfig, ckpt: Path) -> RunConfig:
    """``cfg`` with the options its checkpoint was trained with but does not record
    (``PretextMethod.legacy_options``: an option added later, whose default changed the
    architecture), so a run trained before the change still loads and resumes as it trained."""
    if not METHODS[cfg.method].needs_weights(cfg.options):
        return cfg
    legacy = METHODS[cfg.method].legacy_options(weight_names(ckpt))
    missing = {k: v for k, v in legacy.items() if k not in cfg.options}
    return replace(cfg, options={**cfg.options, **missing}) if missing else cfg


def load_trained(run_dir: Path | str, device: str = "auto") -> Trained:
    """A finished (or checkpointed) run back in memory, from its folder or its store id: its
    resolved config, dataset and method with the checkpoint's weights, in eval mode. Raises
    ValueError with advice when the folder holds no run."""
    from .runs import run_folder

    run_dir = run_folder(run_dir, finished=False)  # a run id from `runs` too
    ckpt = run_dir / CHECKPOINT
    try:
        meta = read_meta(ckpt)
    except ValueError as e:
        raise DamagedWeights(f"{e}: {FINISHED_DAMAGED}") from None
    if "config" not in meta:
        raise ValueError(f"{ckpt} carries no run config; it was not written by this tool")
    dev = pick_device(device)
    cfg = RunConfig.from_dict(meta["config"]).resolved(dev.type, sized_options=False)  # the options it trained with
    try:
        cfg = as_trained_config(cfg, ckpt)
    except ValueError as e:
        raise DamagedWeights(f"{e}: {FINISHED_DAMAGED}") from None
    dataset = load_dataset(cfg.dataset, cfg.data_dir)
    # options checked at submission (a range narrowed since does not apply); build's seeding (the run's initial weights,
    # overwritten here by the checkpoint's) left a notebook's torch.manual_seed(...) sequence changed
    # (every GPU's generator: torch.manual_seed seeds them all)
    gpus = list(range(torch.cuda.device_count())) if dev.type == "cuda" else [] if dev.type == "cpu" else [dev]
    with as_trained(), torch.random.fork_rng(devices=gpus):
        method = build(cfg, dev, dataset)
    try:
        load_checkpoint(ckpt, method)
    except ValueError as e:
        raise DamagedWeights(f"{e}: {FINISHED_DAMAGED}") from None
    method.eval()
    return Trained(method, dataset, cfg, dev, precision_for(dev).name, 0.0, 0.0, None)


def check_training_images(name: str, dataset: ImageSet) -> int:
    """The number of training images of ``dataset`` (named ``name``); ValueError saying what
    to do when there are none (a run's steps are taken from them, its probes fit on them)."""
    n_train = int(dataset.is_train.sum())
    if n_train == 0:
        raise ValueError(f"{name} has no training images ({count(len(dataset), 'image')}, none of them in its "
                         "training split): a run trains on them and fits its probes on them. Replace its files with a "
                         "good copy, or import a set that holds training images.")
    return n_train


def data_warnings(cfg: RunConfig, dataset: ImageSet) -> list[str]:
    """The method's options checked against ``dataset``'s training split at the run's batch
    (``pretext.check_data``): ValueError for a value that cannot train there (more DeepCluster
    clusters than training images), else a warning for each that trains degenerately (a MoCo
    queue longer than the training set, SimCLR at a batch of 8), and one for a batch larger
    than the training set; [] for a run that trains nothing. Cheap: no method is built."""
    from .pretext import check_data

    cfg = cfg.resolved("cpu")
    n_train = check_training_images(cfg.dataset, dataset)
    if not cfg.trains:
        return []
    cautions = check_data(cfg.method, cfg.options, n_train, cfg.batch_size)
    if METHODS[cfg.method].needs_upright and dataset.drawn_at_every_angle:
        cautions.append(f"{cfg.method} predicts how far an image was turned, but the images of {cfg.dataset} are drawn at "
                        "every angle: a turned image is just another image of the set, so the task cannot be solved "
                        "(its loss stays near log 4 = 1.386) and the features learn little beyond the untrained "
                        "encoder's. Train it on digits or photos, or pick another pretext task for this set.")
    if cfg.batch_size > n_train:  # the loop takes min(batch, training images) a step
        cautions.insert(0, f"Batch size {cfg.batch_size:,} is more than the {n_train:,} training images of "
                        f"{cfg.dataset}: each step takes all {n_train:,} of them (the batch is cut to the training "
                        f"set), so every epoch is a single optimiser step, {cfg.epochs} in all. A batch of "
                        f"{max(2, n_train // 4):,} or less makes 4 or more steps an epoch.")
    return cautions


# measured with `python -m ssrl_core bench --encoder E --batch-size 128 --steps 4 --no-reference` on 2 cores (load 3 to
# 5), peak memory by GNU time, 2026-12-06: resnet18 53 images/s and 2.0 GB, cnn-small 715 images/s and 1.2 GB (a memory
# review trained resnet18 on digits at 2.8 GB, an epoch in 5.5 min under a load of 8)
RESNET_ON_CPU = ("resnet18 is the GPU's encoder: on a CPU it trains about 13 times slower than cnn-small and needs "
                 "nearly twice the memory (on 2 cores at batch 128: 53 against 715 images a second, 2.0 against "
                 "1.2 GB). Choose cnn-small unless you can wait.")


def device_cautions(cfg: RunConfig, device_type: str) -> list[str]:
    """What the run's encoder costs on a ``device_type`` where it is far from what a user
    expects, one message each: resnet18 on a CPU (``RESNET_ON_CPU``); [] otherwise, and for a
    run that trains nothing."""
    cfg = cfg.resolved(device_type)
    return [RESNET_ON_CPU] if device_type == "cpu" and cfg.encoder == "resnet18" and cfg.trains else []


def preflight(cfg: RunConfig, here: bool | None = None) -> list[str]:
    """Refuse, before queueing, a run that could not start: method options out of range or
    not fitting together, a method that cannot train on its dataset or encoder (colorization
    on grayscale images, mae without vit-tiny, supervised without labels) or whose options
    cannot train on the dataset's size (``data_warnings``), and, when the run
    will execute on this host, a device or precision this host cannot provide (``--device
    cuda`` or ``--precision float16`` without a CUDA GPU) or a dataset whose files are not
    here. Checks the options, the hardware (with ``device.pick_device`` and
    ``device.precision_for``, which the training loop calls too), then builds the method once
    on the CPU, which takes milliseconds. Raises ValueError saying what to do, or
    ``DatasetMissing`` (saying where to put the files); returns the warnings of options that
    train but degenerately on this dataset and batch (``data_warnings``; [] when the dataset
    is not here to check), and, on this host, of an encoder slow here (``device_cautions``).

    ``here``: whether the run executes on this host; by default it does unless
    ``SSRL_BACKEND=ray``, whose runs execute on the cluster's nodes: they may have the GPU this
    host lacks, and they load the dataset themselves (and say so if they lack it too), so then
    the device and precision are not checked, nor is a dataset missing here (the options are,
    and the method where the dataset is here too)."""
    from .data import DatasetMissing
    from .pretext import check_options
    from .runs.ray_backend import backend

    check_options(cfg.method, cfg.options)  # no data needed, so first
    if here is None:
        here = backend() != "ray"
    device_type = "cpu"  # (on Ray, the node's is unknown here: the CPU's encoder, as before)
    if here:
        device = pick_device(cfg.device)
        precision_for(device, cfg.precision)
        device_type = device.type
    # the network the worker will train (``auto`` is resnet18 on a GPU): sized and built here
    resolved = cfg.resolved(device_type)
    try:
        dataset = load_dataset(resolved.dataset, resolved.data_dir)
    except DatasetMissing:
        if not here:
            return []
        raise
    numbers = model_numbers(resolved, dataset)
    if numbers is not None and numbers > MAX_MODEL_NUMBERS:
        options = ", ".join(f"{k}={v}" for k, v in cfg.options.items()) or "the defaults"
        raise ValueError(f"{cfg.method} with encoder {resolved.encoder} and options {options} would hold "
                         f"{numbers / 1e6:,.0f} million numbers ({numbers * 4 / 1e9:,.1f} GB in float32, several "
                         f"times that to train), more than the {MAX_MODEL_NUMBERS / 1e6:,.0f} million a run may have "
                         "here: lower the widths, depths, prototypes or queue sizes you raised")
    build(resolved, torch.device("cpu"), dataset)
    return data_warnings(resolved, dataset) + (device_cautions(resolved, device_type) if here else [])


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to zero."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


@dataclass
class Loop:
    """What the training loop's steps work with, built once per run: the train split
    resident on the device (uint8), the augmentation pipeline, AdamW over the trainable
    parameters, the gradient scaler (float16 only) and the run's random generator."""

    cfg: RunConfig  # resolved
    device: torch.device
    precision: Precision
    method: PretextMethod
    images: torch.Tensor
    labels: torch.Tensor
    batch: int
    augment: object
    optimizer: torch.optim.Optimizer
    scaler: object
    gen: torch.Generator

    @classmethod
    def for_method(cls, cfg: RunConfig, device: torch.device, precision: Precision, dataset: ImageSet,
                   method: PretextMethod) -> "Loop":
        check_training_images(cfg.dataset, dataset)  # a step of 0 images: no ZeroDivisionError later
        images = dataset.images[dataset.train_idx].to(device)
        labels = dataset.labels[dataset.train_idx].to(device)
        params = [p for p in method.parameters() if p.requires_grad]
        tune_for_training(device)
        return cls(cfg, device, precision, method, images, labels, min(cfg.batch_size, images.shape[0]),
                   parse_augment(cfg.augment),
                   torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **optimizer_options(device)),
                   grad_scaler(device, precision), generator_for(device, cfg.seed))

    @classmethod
    def for_config(cls, cfg: RunConfig) -> "Loop":
        """Device, precision, dataset and a freshly built method for ``cfg`` (as ``pretrain``)."""
        device = pick_device(cfg.device)
        cfg = cfg.resolved(device.type)
        dataset = load_dataset(cfg.dataset, cfg.data_dir)
        return cls.for_method(cfg, device, precision_for(device, cfg.precision), dataset, build(cfg, device, dataset))


class Pace:
    """The live ETA's pace: seconds a step and images a second, over the steps of the epoch under
    way, or of the previous epoch while this one's first quarter runs (its few first steps carry
    its start: the epoch's hook, such as DeepCluster's clustering, and the first batch's
    warm-up); plus, for each epoch end still to come, what the last one took after its steps
    (its checkpoint and its per-epoch probe, 0.5 to 1 s on digits). Measured since training
    began instead, a slow first epoch (a worker warming up, another run ending on the same
    cores) held the ETA at 2 to 10 times the time left for the rest of the run (a review,
    2026-12-06: 85.8 s said after a first epoch of 20 s, with 8 s of training left)."""

    def __init__(self, steps_per_epoch: int):
        self.steps_per_epoch = steps_per_epoch
        self.last: tuple[float, float] | None = None  # the previous epoch's (seconds a step, images a second)
        self.after_steps = 0.0  # what the last epoch took after its steps
        self.start, self.steps, self.images, self.steps_done_at = 0.0, 0, 0, 0.0

    def epoch_started(self, now: float) -> None:
        self.start, self.steps, self.images = now, 0, 0

    def stepped(self, images: int) -> None:
        self.steps += 1
        self.images += images

    def steps_ended(self, now: float) -> None:
        """The epoch's steps are done (its checkpoint and probe follow)."""
        self.last, self.steps_done_at = self.now_at(now), now

    def epoch_ended(self, now: float) -> None:
        self.after_steps = now - self.steps_done_at

    def now_at(self, now: float) -> tuple[float, float]:
        """(seconds a step, images a second) as the ETA reads them at ``now``."""
        if self.last is not None and self.steps * 4 < self.steps_per_epoch:
            return self.last
        took = max(now - self.start, 1e-9)
        return took / max(self.steps, 1), self.images / took

    def eta(self, now: float, steps_left: int, epoch_ends_left: int) -> float:
        """Seconds left: ``steps_left`` steps and ``epoch_ends_left`` epoch ends (the one under way's included)."""
        return self.now_at(now)[0] * steps_left + self.after_steps * epoch_ends_left


def scaler_state(scaler) -> dict[str, torch.Tensor]:
    """What a float16 run's gradient scaler has learnt, for its checkpoint: the loss scale
    and the steps since it last changed. A resumed run without them starts again at 2**16
    and skips a step for each halving back down to the scale it had found (the steps whose
    gradients overflow are not taken), so it would not train as the run it continues."""
    if scaler is None:
        return {}
    sd = scaler.state_dict()
    return {"scaler.scale": torch.tensor(float(sd["scale"]), dtype=torch.float64),
            "scaler.growth_tracker": torch.tensor(int(sd["_growth_tracker"]))}


def make_views(images: torch.Tensor, idx: torch.Tensor, augment, gen: torch.Generator,
               n_views: int) -> list[torch.Tensor]:
    """The augmented views of one batch: uint8 rows of the resident dataset to float on the
    device, each view augmented as one batch (per-sample random parameters) and laid out
    channels-last."""
    with record_function("augment"):
        x = images[idx].float().div_(255)
        return [to_device_batch(augment(x, gen)) for _ in range(n_views)]


def train_step(method: PretextMethod, optimizer: torch.optim.Optimizer, scaler, views: list[torch.Tensor],
               labels: torch.Tensor, idx: torch.Tensor, device: torch.device, precision: Precision):
    """One optimisation step under the device's precision policy; returns (loss, logs) as
    tensors on the device (no host synchronisation here). The phases are labelled for
    ``torch.profiler`` (see ``speed.step_profile``)."""
    with record_function("forward"), autocast(device, precision):
        loss, logs = method.training_step(views, labels, idx)
    if loss.ndim:  # (a shape is known without waiting for the device) PyTorch's own words named neither method nor fix
        raise ValueError(f"{method.name}'s training_step returned a loss of shape {tuple(loss.shape)}: it must return "
                         "one number, a 0-d tensor (average per-sample losses with .mean())")
    optimizer.zero_grad(set_to_none=True)
    with record_function("backward"):
        (scaler.scale(loss) if scaler is not None else loss).backward()
    with record_function("optimizer"):
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        method.after_step()
    return loss, logs


# what must match for a checkpoint to be continued (the epochs may grow: a run can be extended). The
# learning rate and weight decay too: config.json and the export's reproduce.sh give one of each for
# the whole run, which would be false for the epochs trained before a change
RESUME_KEYS = ("dataset", "method", "encoder", "augment", "batch_size", "seed", "lr", "weight_decay", "options")


def _as_compared(key: str, value, method):
    """A setting as the resume check compares it: the same run however it was written. An
    augmentation by the ops it parses to (``Pipeline.spec``: 'crop, flip' is 'crop,flip');
    options by the values they give, defaults filled in ({} is temperature=0.5;
    stop_gradient=yes is =1). What no longer parses is compared as written."""
    if key == "augment" and isinstance(value, str):
        try:
            return parse_augment(value).spec()
        except ValueError:
            return value
    if key == "options" and isinstance(value, dict):
        try:
            with as_trained():  # options a run trained with, even if a check added since refuses them
                return method.validate_options(value)
        except ValueError:
            return value
    return value


def check_resumable(meta: dict, cfg: RunConfig, path: Path, dataset=None) -> None:
    """Refuse to continue a checkpoint that belongs to a different run, or whose dataset's
    images changed under the same name since it was written (an imported set imported again):
    continuing would train one encoder on two sets. Checkpoints written before the content
    fingerprint was stored in them (``data``) are not checked for it."""
    old = meta.get("config")
    if not old:
        return
    # options a checkpoint trained with but did not record (``as_trained_config``) count as given
    # (the checkpoint's weight names read only for a method whose options changed its architecture: MoCo)
    options, method = old.get("options") or {}, METHODS[cfg.method]
    legacy = (method.legacy_options(weight_names(path))
              if old.get("method") == cfg.method and method.needs_weights(options) else {})
    old = {**old, "options": {**legacy, **options}}
    diff = [k for k in RESUME_KEYS if _as_compared(k, old.get(k), method) != _as_compared(k, getattr(cfg, k), method)]
    if diff:
        was = ", ".join(f"{k}={old.get(k)!r}" for k in diff)
        now = ", ".join(f"{k}={getattr(cfg, k)!r}" for k in diff)
        flags = {"augment": "--augment", "encoder": "--encoder", "batch_size": "--batch-size", "seed": "--seed",
                 "lr": "--lr", "weight_decay": "--weight-decay"}
        # a setting left to its default, whose default changed (an imported set's batch after a re-import), is
        # continued by giving the run's own value
        same = (" (to continue it, give its own: " + " ".join(f"{flags[k]} {shlex.quote(str(old.get(k)))}" for k in diff) + ")"
                if all(k in flags and old.get(k) is not None for k in diff) else "")
        raise ValueError(f"{path.parent} already holds a run with {was}, not {now}{same}: "
                         f"choose another output folder, or delete {path.name} to start over")
    trained = int(meta.get("epoch") or 0)
    if cfg.epochs < trained:
        raise ValueError(f"{path.parent} already holds this run trained for {count(trained, 'epoch')}, more than the "
                         f"{cfg.epochs} asked for: ask for {trained} to evaluate it again or more to continue it, "
                         f"or choose another output folder")
    began_on = meta.get("data")
    if dataset is not None and began_on and began_on != dataset.fingerprint:
        raise ValueError(f"{cfg.dataset}'s images changed since this run began training (fingerprint "
                         f"{dataset.fingerprint} now, {began_on} then: an imported set imported again), so "
                         f"continuing would train one encoder on two sets: import the original archive again to "
                         f"continue it, or start a new run (another output folder, or delete {path} to start over)")


def pretrain(
    cfg: RunConfig,
    run_dir: Path,
    on_event: Callable[[Event], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Trained:
    emit = on_event or (lambda e: None)
    device = pick_device(cfg.device)
    given, cfg = cfg, cfg.resolved(device.type)
    precision = precision_for(device, cfg.precision)
    dataset = load_dataset(cfg.dataset, cfg.data_dir)
    check_training_images(cfg.dataset, dataset)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / CHECKPOINT
    if ckpt.exists():
        try:
            meta = read_meta(ckpt)
        except ValueError as e:
            raise ValueError(f"{e}: delete it to start the run over") from None
        unsized = given.resolved(device.type, sized_options=False)
        if (meta.get("config") or {}).get("options") == unsized.options != cfg.options:
            cfg = unsized  # begun before an imported set's options were scaled to its size: continue as begun
        try:
            cfg = as_trained_config(cfg, ckpt)  # begun before an option changed its architecture: as begun
        except ValueError as e:
            raise ValueError(f"{e}: delete it to start the run over") from None
        check_resumable(meta, cfg, ckpt, dataset)
    method = build(cfg, device, dataset)

    if not cfg.trains:
        save_checkpoint(ckpt, method, None, {"epoch": 0, "done": True, "config": cfg.to_dict(),
                                             "data": dataset.fingerprint})
        emit({"kind": "epoch_end", "epoch": 0, "epochs": 0, "loss": None, "images_per_s": None})
        return Trained(method, dataset, cfg, device, precision.name, 0.0, 0.0, None)

    loop = Loop.for_method(cfg, device, precision, dataset, method)
    images, labels, batch, augment = loop.images, loop.labels, loop.batch, loop.augment
    optimizer, scaler, gen = loop.optimizer, loop.scaler, loop.gen
    n = images.shape[0]
    steps_per_epoch = n // batch
    total_steps = steps_per_epoch * cfg.epochs
    warmup = min(total_steps // 10, 10 * steps_per_epoch)

    start_epoch, trained_before, loss_before, record_before = 0, 0.0, None, None
    if ckpt.exists():
        try:
            meta, extra = load_checkpoint(ckpt, method, optimizer)
        except ValueError as e:
            raise ValueError(f"{e}: delete it to start the run over") from None
        start_epoch = int(meta.get("epoch", 0))
        trained_before = float(meta.get("train_seconds", 0.0))  # the earlier attempts' epochs kept
        loss_before = meta.get("loss")  # their last epoch's mean loss (their last step's before 2026-12-04; none
        # before 2026-12-02)
        record_before = meta.get("record") or {"loss": loss_before}  # its epoch's record (since 2026-12-05)
        emit({"kind": "resumed", "epoch": start_epoch, "epochs": cfg.epochs})
        if scaler is not None and "scaler.scale" in extra:  # float16: the scale it had found, not 2**16 again
            scaler.load_state_dict({**scaler.state_dict(), "scale": float(extra["scaler.scale"]),
                                    "_growth_tracker": int(extra["scaler.growth_tracker"])})
        set_global_rng_state(device, extra)  # a method's own draws (MAE's masks) continue as they would have
        if "rng" in extra:
            if extra["rng"].numel() == gen.get_state().numel():
                gen.set_state(extra["rng"])
            else:  # a CUDA generator's state (16 bytes) on a CPU, or the other way round
                emit({"kind": "warning", "message": f"continued on {device.type} from a checkpoint written on another "
                      "kind of device: the rest of its training draws other random augmentations and batches than "
                      "it would have there"})

    if start_epoch < cfg.epochs:  # it trains: what was evaluated of its earlier epochs no longer holds
        forget_evaluation(run_dir)
    # a fixed subset measured before training and after every epoch (one forward pass)
    epoch_probe = EpochProbe(dataset, run_dir, cfg.seed, cfg.epochs, device, precision)
    kept = epoch_probe.start(start_epoch)
    if start_epoch == 0:
        epoch_probe(method.encoder, 0, embedder=method.embedder())
    elif not any(r.get("epoch") == start_epoch for r in kept):
        # stopped after the checkpoint of its last epoch was written, before that epoch's record and snapshot
        # were: measured now on the same weights, or the epoch would be missing from every per-epoch curve
        epoch_probe(method.encoder, start_epoch, record_before, method.embedder())
    t_train = time.perf_counter()
    seen = 0
    last_loss: float | None = None  # the last step's that was reported (live)
    final_loss = loss_before  # the last epoch's mean: the earlier attempts' until this one ends an epoch
    step = start_epoch * steps_per_epoch
    pace = Pace(steps_per_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        t_epoch = time.perf_counter()
        pace.epoch_started(t_epoch)
        hook_logs = method.on_epoch_start(epoch, images)
        for p in method.reinitialised_parameters():
            optimizer.state.pop(p, None)
        method.train()  # after the hook, which may embed the data in eval mode
        perm = torch.randperm(n, device=device, generator=gen)
        loss_sum = torch.zeros((), device=device)
        logs_sum: dict[str, torch.Tensor] = {}
        last_report = time.perf_counter()
        for i in range(steps_per_epoch):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"cancelled at epoch {epoch + 1} of {cfg.epochs}, step {i}", done=epoch, epochs=cfg.epochs)
            idx = perm[i * batch : (i + 1) * batch]
            views = make_views(images, idx, augment, gen, method.n_views)
            lr = lr_at(step, total_steps, cfg.lr, warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            method.progress = step / max(1, total_steps)
            loss, logs = train_step(method, optimizer, scaler, views, labels[idx], idx, device, precision)
            step += 1
            seen += batch
            pace.stepped(batch)
            loss_sum += loss.detach()
            for k, v in logs.items():
                logs_sum[k] = logs_sum.get(k, 0) + v.detach().float()
            now = time.perf_counter()
            if now - last_report > 1.0 or i in (0, steps_per_epoch - 1):
                # one host sync per report, never per step; each epoch's first step too: the loss curve began a
                # second into training, after its steepest fall, beside an epoch mean that included it
                last_loss = float(loss.detach())
                if not math.isfinite(last_loss):
                    raise Diverged(f"the loss became {last_loss} at epoch {epoch + 1}, step {i + 1}")
                emit({
                    "kind": "step", "epoch": epoch + 1, "epochs": cfg.epochs, "step": step,
                    "total_steps": total_steps, "loss": last_loss, "lr": lr,
                    "images_per_s": pace.now_at(now)[1], "eta_s": pace.eta(now, total_steps - step, cfg.epochs - epoch),
                })
                last_report = now
        pace.steps_ended(time.perf_counter())
        epoch_logs = {k: float(v) / steps_per_epoch for k, v in logs_sum.items()}
        epoch_loss = final_loss = float(loss_sum) / steps_per_epoch
        # the CPU threads it trained with: on a CPU the same seed gives other numbers at another count (a worker
        # gives cores to a probe job mid-run), which a reproduction must know
        record = {"loss": epoch_loss, **epoch_logs, **hook_logs, "seconds": time.perf_counter() - t_epoch,
                  "images_per_s": seen / (time.perf_counter() - t_train), "threads": torch.get_num_threads()}
        save_checkpoint(ckpt, method, optimizer, {"epoch": epoch + 1, "config": cfg.to_dict(),
                                                   "data": dataset.fingerprint,
                                                   "train_seconds": trained_before + time.perf_counter() - t_train,
                                                   "loss": epoch_loss, "record": record},
                        {"rng": gen.get_state(), **global_rng_state(device), **scaler_state(scaler)})
        diagnostics = epoch_probe(method.encoder, epoch + 1, record, method.embedder())
        pace.epoch_ended(time.perf_counter())
        emit({"kind": "epoch_end", "epoch": epoch + 1, "epochs": cfg.epochs, **record, **diagnostics})
    this_attempt = time.perf_counter() - t_train
    # the training time of every epoch the run kept, over its attempts (a resumed run's too), and its speed over
    # the same epochs: a review found a resumed run's 900 images/s (its last attempt's) beside 23.8 s for both
    # attempts' 2,816 images, which are 118 a second
    before = start_epoch * steps_per_epoch * batch
    speed = (before + seen) / (trained_before + this_attempt) if trained_before + this_attempt > 0 else 0.0
    return Trained(method, dataset, cfg, device, precision.name, trained_before + this_attempt,
                   speed, final_loss, trained_before, batch, steps_per_epoch)
