"""One run from config to summary: pretrain, evaluate, write the run folder.

Both the foreground CLI (``train``) and the background worker call ``execute``. The
worker stops a run by raising ``train.Interrupted`` (cancel, disk budget) from
``should_cancel`` or ``on_event``: training checks between steps, evaluation at every
phase event (each probe budget, each map-evolution frame), and the optional extras
(probes, evolution maps) pass it on instead of recording it as their own failure.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ..config import RunConfig
from ..device import hardware
from ..evaluate import evaluate_trained
from ..evaluate.epochs import evolution_maps
from ..evaluate.suite import RunProbes
from ..locks import hold, let_go
from ..stops import Interrupted
from ..train import pretrain
from . import artifacts as art
from .export import package_versions


class RunBusy(RuntimeError):
    """Another process is training into the same run folder."""


def execute(cfg: RunConfig, run_dir: Path | str, on_event: Callable[[dict], None] | None = None,
            should_cancel: Callable[[], bool] | None = None, with_umap: bool = True,
            submitted: dict | None = None) -> dict:
    """Pretrain and evaluate ``cfg`` into ``run_dir``; returns the summary. With
    ``cfg.evaluation == "basic"`` (or ``with_umap=False`` for the UMAP alone) the extras
    are skipped: no UMAP, and for "basic" no probes and no map evolution. A worker's run
    passes ``submitted`` (``artifacts.submission`` of its store row), recorded in the folder
    before anything else. ``RunBusy`` when
    another process is training into ``run_dir`` (two writers would interleave their epochs
    in one checkpoint and log); nothing is written then."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    art.check_writable(run_dir)  # said now, not when the first checkpoint is written after an epoch
    lock_path = run_dir / art.TRAINING_LOCK
    lock = hold(lock_path)  # the kernel frees it if this process dies
    if lock is None:
        try:
            pid = lock_path.read_text().strip() or "unknown"
        except FileNotFoundError:  # it ended just now, removing its lock
            pid = "unknown"
        raise RunBusy(f"another process (pid {pid}) is training into {run_dir} now: wait for it to end or stop "
                      "it, then try again (the run continues from its last finished epoch); nothing was written")
    try:
        if submitted is not None:
            art.write_json(run_dir / art.SUBMITTED, submitted)
        return _execute(cfg, run_dir, on_event, should_cancel, with_umap)
    finally:  # ended, failed or cancelled: the lock file goes too (a killed process's stays, its lock freed)
        let_go(lock, lock_path)


def train_threads(run_dir: Path) -> list[int]:
    """The CPU thread counts the run's epochs trained with, each once, in order (``epochs.jsonl``;
    [] for epochs recorded before they were): one count, the run reproduces with it; several (a
    worker shared its cores with a probe job part-way), not exactly."""
    from ..evaluate.epochs import read_epochs

    return list(dict.fromkeys(r["threads"] for r in read_epochs(run_dir) if isinstance(r.get("threads"), int)))


def _execute(cfg: RunConfig, run_dir: Path, on_event, should_cancel, with_umap: bool) -> dict:
    t0 = time.perf_counter()
    full = cfg.evaluation == "full"
    with_umap = with_umap and full
    trained = pretrain(cfg, run_dir, on_event=on_event, should_cancel=should_cancel)
    art.write_json(run_dir / art.CONFIG, trained.config.to_dict())
    art.record_dataset(run_dir, trained.dataset)  # before the maps: pages showing them check it
    metrics = evaluate_trained(trained, run_dir, on_event=on_event, with_umap=with_umap)
    # Probes and map-evolution frames are extras: if one fails, the trained run and its
    # accuracies are kept, the error is recorded, and the pages offer to compute it again.
    emit = on_event or (lambda e: None)
    if full:
        t1 = time.perf_counter()
        try:
            probes = RunProbes(run_dir, trained).standard(on_event)
            if "1" in probes.get("label_efficiency", {}):  # (a set whose classes hold one training image each: not)
                metrics["linear_1_per_class"] = probes["label_efficiency"]["1"]["mean"]
        except Interrupted:
            raise
        except Exception as e:  # noqa: BLE001
            metrics["probe_error"] = f"{type(e).__name__}: {e}"
            emit({"kind": "warning", "message": f"probes failed: {metrics['probe_error']}"})
        metrics["probe_seconds"] = round(time.perf_counter() - t1, 3)
    if with_umap:
        emit({"kind": "phase", "phase": "map evolution"})
        t2 = time.perf_counter()
        try:
            evolution_maps(run_dir, seed=cfg.seed, on_epoch=lambda e: emit({"kind": "evolution", "epoch": e}))
        except Interrupted:
            raise
        except Exception as e:  # noqa: BLE001
            metrics["evolution_error"] = f"{type(e).__name__}: {e}"
        metrics["evolution_seconds"] = round(time.perf_counter() - t2, 3)
    c = trained.config
    # the batch as asked (``batch_size``: what a comparison of runs reads) and as trained: the loop cuts it to the
    # training set (500 asked of 96 images trains at 96, one step an epoch; preflight warns so)
    used = {"batch_size_used": trained.batch, "steps_per_epoch": trained.steps_per_epoch} if trained.batch else {}
    summary = {
        "method": c.method, "dataset": c.dataset, "encoder": c.encoder, "augment": c.augment,
        "epochs": c.epochs, "batch_size": c.batch_size, **used, "lr": c.lr, "seed": c.seed, "options": c.options,
        "device": trained.device.type, "precision": trained.precision, "hardware": hardware(),
        "train_threads": train_threads(run_dir), "packages": package_versions(),
        "train_seconds": round(trained.train_seconds, 3),
        "images_per_s": round(trained.images_per_s, 1),
        "final_loss": trained.final_loss,
        "n_images": len(trained.dataset),
        **metrics,
        # with the earlier attempts' training, as train_seconds: total less train is what came after training
        "total_seconds": round(time.perf_counter() - t0 + trained.trained_before, 3),
    }
    art.write_json(run_dir / art.SUMMARY, summary)
    return summary
