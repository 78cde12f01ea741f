"""Runs: the SQLite store, run folders, the worker that executes queued runs."""
from __future__ import annotations

from pathlib import Path


def run_folder(ref: str | Path, finished: bool = True) -> Path:
    """The folder of a run given as a folder or as a store id (``python -m ssrl_core runs``);
    with ``finished``, only a run whose evaluation has ended. ValueError with advice otherwise."""
    from . import artifacts as art

    if not str(ref).strip():
        raise ValueError("no run was given (an empty name): give a run folder or a run id (`python -m ssrl_core "
                         "runs` lists them)")
    path = Path(ref)
    if (path / art.CHECKPOINT).exists() and not (path / art.CONFIG).exists() and (path / "run_card.json").exists():
        raise ValueError(f"{path} is an export of a run (its run_card.json), not the run's folder: give the run's "
                         "own folder or its id (`python -m ssrl_core runs`); elsewhere, the export's reproduce.sh "
                         "trains the run again")
    if (path / art.CHECKPOINT).exists():
        if finished and not (path / art.SUMMARY).exists():  # written last, when the run's evaluation has ended
            raise ValueError(f"{path} holds a run that has not finished (no {art.SUMMARY}: it was stopped, or "
                             "failed, before its evaluation ended): finish it (`python -m ssrl_core train` with "
                             f"its settings and --out {path}), or give a finished run")
        return path
    from .store import RunStore

    store = RunStore.if_made() if "/" not in str(ref) else None  # none made: no run has that id
    row = store.get(str(ref)) if store else None
    if row is None and path.is_dir():
        raise ValueError(f"{path} holds no run (no {art.CHECKPOINT}): give a finished run's folder, or a run id "
                         "(`python -m ssrl_core runs` lists them)")
    if row is None:
        raise ValueError(f"{str(ref)!r} is neither a run folder nor a run id: see `python -m ssrl_core runs`")
    if finished and row["status"] != "done":
        todo = (f"wait for it to end (`python -m ssrl_core wait {ref}`), then run this again"
                if row["status"] in ("queued", "running") else
                f"resume it (`python -m ssrl_core resume {ref}`) and wait for it to end, or give a finished run")
        raise ValueError(f"run {ref} is {row['status']}: this needs a finished run: {todo}")
    folder = Path(row["run_dir"])
    if not (folder / art.CHECKPOINT).exists():
        if row["status"] in ("queued", "running"):
            raise ValueError(f"run {ref} is {row['status']} and has no checkpoint yet: wait for its first epoch "
                             "to end, or give another run")
        raise ValueError(f"run {ref} ({row['status']}) has no checkpoint in {folder}: its folder was moved or "
                         "emptied; give the folder where it is now")
    return folder
