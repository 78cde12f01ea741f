"""Run folders the store does not list, listed again.

    python -m ssrl_core restore-runs [--yes]

A store moved aside because it was damaged, deleted by mistake, or replaced by an empty one
(a zero-length ``store.sqlite`` opens as a new store) leaves the folders in
``SSRL_HOME/runs/`` unlisted: no page shows them and no command finds them by id. Each folder
there holding a run the store does not know is listed again under its folder's name, from
what the folder holds:

- ``summary.json`` and a checkpoint: done, with its summary (accuracies, timings);
- a readable checkpoint only (it stopped during training or evaluation): cancelled at the
  epoch its checkpoint finished, so ``resume`` continues it. ``config.json`` is written once
  pretraining ends, so a run stopped during training has none: its settings are the ones its
  checkpoint records (every run folder that was cancelled, failed or killed mid-training was
  left out, "no readable config.json");
- anything else (no config and no checkpoint, a damaged checkpoint) is left as it is, and
  said why.

A run keeps the nickname it was queued with and its place in time, from the folder's
``submitted.json`` (written by the worker that ran it). A folder without one (made by ``train
--out``, or by a version before it was recorded) or with an unreadable one gives a run with no
nickname (anyone may resume or delete it, as with the CLI's runs), submitted when its config was
written.
"""
from __future__ import annotations

import json

from .. import paths
from . import artifacts as art
from .store import RunStore, checked_nickname, epoch_text

RESTORED = ("restored from its folder after the run store was replaced: it had stopped at epoch {epoch} of "
            "{epochs}; resume it to continue")


def unlisted(store: RunStore) -> tuple[list[dict], list[tuple[str, str]]]:
    """(rows to insert, [(folder, why it is left)]) for the folders of ``SSRL_HOME/runs`` that
    hold a run ``store`` does not list."""
    from ..checkpoint import read_meta
    from ..config import RunConfig

    rows, left = [], []
    listed = {r["id"] for r in store.list(limit=-1)}
    for folder in sorted(paths.runs_dir().iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in listed:
            continue  # (a ".deleting-ID" a killed delete left: the next delete or worker settles it, remove.py)
        config = art.read_json(folder / art.CONFIG)
        if config is None:  # stopped during pretraining: the settings its checkpoint was saved with
            try:
                config = read_meta(folder / art.CHECKPOINT).get("config")
            except (ValueError, FileNotFoundError):
                config = None
        if not isinstance(config, dict):
            left.append((str(folder), f"no readable {art.CONFIG} nor checkpoint: not a run folder, or a damaged one"))
            continue
        try:
            cfg = RunConfig.from_dict(config)
        except (TypeError, ValueError) as e:
            left.append((str(folder), f"its {art.CONFIG} is not a run's settings this version reads ({e})"))
            continue
        try:
            epoch = int(read_meta(folder / art.CHECKPOINT).get("epoch", 0))
        except (ValueError, FileNotFoundError) as e:
            left.append((str(folder), f"its checkpoint cannot be read ({e}): nothing to resume or evaluate"))
            continue
        summary = art.read_json(folder / art.SUMMARY)
        nickname, created = _submitted(folder)
        row = {"id": folder.name, "created": created, "config": cfg.to_json(), "run_dir": str(folder),
               "epochs": cfg.epochs, "epoch": epoch, "started": created, "nickname": nickname}
        if summary is not None:
            row.update(status="done", summary=json.dumps(summary), epoch=cfg.epochs, progress=1.0,
                       finished=(folder / art.SUMMARY).stat().st_mtime, phase="done")
        else:
            row.update(status="cancelled", error=RESTORED.format(epoch=epoch, epochs=cfg.epochs),
                       finished=(folder / art.CHECKPOINT).stat().st_mtime, phase="cancelled")
        rows.append(row)
    return rows, left


def _submitted(folder) -> tuple[str | None, float]:
    """(nickname, time queued) that ``folder``'s ``SUBMITTED`` records; what it lacks, or
    holds that a submission could not have (a nickname the store would refuse, a time that is
    not one), is none and the time its config was written."""
    import math

    got = art.read_json(folder / art.SUBMITTED) or {}
    try:
        nickname = checked_nickname(got["nickname"]) if isinstance(got.get("nickname"), str) else None
    except ValueError:
        nickname = None
    created = got.get("created")
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created) or created <= 0:
        written = folder / art.CONFIG
        created = (written if written.exists() else folder / art.CHECKPOINT).stat().st_mtime
    return nickname, float(created)


def describe(row: dict) -> list[str]:
    cfg = json.loads(row["config"])
    knn = json.loads(row["summary"]).get("knn_accuracy") if row.get("summary") else None
    return [row["id"], row["status"], cfg["method"], cfg["dataset"], epoch_text(row),
            f"knn {knn:.3f}" if knn is not None else "", row["nickname"] or ""]
