"""Deleting a run: its row and events in the store, its folder, and the app's export of it.

Only what the playground made is removed: the run's folder when it is ``SSRL_HOME/runs/ID``
(a run row pointing elsewhere keeps its folder, and says so) and ``SSRL_HOME/exports/ID``
with its zip; never an export written with ``--out`` to a folder of the user's. A queued
or running run is refused (cancel it first), as is a run whose probe job is computing.
The folder is first renamed out of the way (one atomic step: a page reading it sees it gone,
not half deleted) while the store's write lock is held, so a resume cannot put the run back in
the queue without its files; then the row is deleted, then the files.
"""
from __future__ import annotations

import errno
import shutil
from contextlib import ExitStack
from pathlib import Path

from .. import paths
from ..locks import exclusive
from .store import ACTIVE, RunStore, no_run


def dataset_deletion(store: RunStore, name: str) -> dict:
    """What deleting the imported set ``name`` would remove and leave: {"name", "description",
    "mb", "runs": ids of the runs made on it, which stay}. ValueError, as the deletion gives
    it, for a built-in or unknown set, or while a run on it is queued or training (it would
    fail without its images), or while a run's probes on it are being computed."""
    from ..data.custom import check_removable, custom_datasets, custom_root
    from ..text import agree, count
    from .worker import folder_mb

    check_removable(name)
    mine = store.list(limit=-1, settings={"dataset": (name,)})  # SQLite's LIMIT -1: all
    active = [r["id"] for r in mine if r["status"] in ACTIVE]
    if active:
        n = len(active)
        raise ValueError(f"{count(n, 'run')} on {name!r} {agree(n, 'is', 'are')} queued or training "
                         f"({', '.join(active)}): cancel {agree(n, 'it', 'them')} first (`python -m ssrl_core cancel "
                         "ID`), then delete the dataset")
    from .artifacts import job_running

    # a probe job reading its images: it went on computing on a set no longer listed (as ``delete_run`` refuses)
    probing = [r["id"] for r in mine if job_running(Path(r["run_dir"]))]
    if probing:
        n = len(probing)
        raise ValueError(f"the probes of {count(n, 'run')} on {name!r} are being computed "
                         f"({', '.join(probing)}, by the app's background job or a `probe` command): wait for "
                         f"{agree(n, 'it', 'them')} to end, or press Stop beside the job, then delete the dataset")
    return {"name": name, "description": custom_datasets()[name], "mb": round(folder_mb(custom_root() / name), 3),
            "runs": [r["id"] for r in mine]}


def check_replaceable(name: str, store: RunStore | None = None) -> None:
    """ValueError while a run on the imported set ``name`` is training: replacing its images
    then (which ``dataset_deletion`` refuses for a deletion) let the run finish on the old ones
    and Explore say they were "re-imported after this run trained". Queued runs, which have not
    read the images yet, train on the new ones. A name no imported set has (a new one, a
    built-in one, which the import refuses) has nothing to replace: no run store is opened
    (``store``, by default this home's, is opened only to look)."""
    from ..data.custom import custom_datasets
    from ..text import agree, count

    if name not in custom_datasets():
        return
    store = store or RunStore()
    training = [r["id"] for r in store.list(limit=-1, settings={"dataset": (name,)}) if r["status"] == "running"]
    if training:
        n = len(training)
        raise ValueError(f"{count(n, 'run')} on {name!r} {agree(n, 'is', 'are')} training on its images now "
                         f"({', '.join(training)}): nothing was imported; wait for {agree(n, 'it', 'them')} to finish, "
                         f"or cancel {agree(n, 'it', 'them')} (`python -m ssrl_core cancel ID`), then replace the set")


def delete_dataset(store: RunStore, name: str) -> dict:
    """Delete the imported set ``name`` (``data.custom.remove_imported``) after the checks of
    ``dataset_deletion``, whose record it returns. The runs that ended keep their rows,
    folders and accuracies; their maps, neighbours and probes need the images again, which
    importing the same archive under the same name brings back."""
    from ..data.custom import remove_imported

    plan = dataset_deletion(store, name)
    remove_imported(name)
    return plan


def _put_back(trash: Path, folder: Path) -> None:
    if trash.exists() and not folder.exists():
        trash.rename(folder)


TRASH = ".deleting-"  # SSRL_HOME/runs/.deleting-ID: a run's folder moved aside while its deletion is recorded


def settle_killed_deletions(store: RunStore) -> list[tuple[str, str]]:
    """Finish what a deletion killed midway (a power cut, a SIGKILL) left in the runs folder,
    a ``.deleting-ID`` folder: removed when the store no longer lists ID (the deletion was
    recorded), put back as the run's folder when it still does (it was not: the run stays,
    whole). Returns (id, "removed" or "put back") for each. Under the store's write lock, so a
    deletion in progress elsewhere (folder moved, row not yet deleted) is never undone."""
    runs = paths.runs_dir()
    done: list[tuple[str, str]] = []

    def settle(ids: set[str]) -> None:
        for trash in sorted(runs.glob(f"{TRASH}*")):
            run_id = trash.name[len(TRASH):]
            if run_id not in ids:
                shutil.rmtree(trash, ignore_errors=True)
                done.append((run_id, "removed"))
            elif not (runs / run_id).exists():
                trash.rename(runs / run_id)
                done.append((run_id, "put back"))

    if runs.is_dir() and any(runs.glob(f"{TRASH}*")):  # the usual case opens no transaction
        store.with_ids_locked(settle)
    return done


def _app_export(run_id: str) -> list[Path]:
    """What the app keeps of ``run_id``'s export: its zip, the folder an older version kept
    beside it, its lock and the half of an export whose writer was killed."""
    exports = paths.ssrl_home() / "exports"
    return [exports / f"{run_id}.zip", exports / run_id, exports / f".{run_id}.lock", *exports.glob(f".{run_id}-*")]


def _mb(path: Path) -> float:
    from .worker import folder_mb

    return folder_mb(path) if path.is_dir() else path.stat().st_size / 1e6 if path.exists() else 0.0


def space_mb(run: dict) -> float:
    """MB that deleting ``run`` frees: its folder (when the store's own for it: one elsewhere
    stays) and the app's export of it (the preview counted the folder alone, a quarter of what
    a run exported from Explore frees)."""
    folder = Path(run["run_dir"])
    ours = folder.resolve() == paths.runs_dir(make=False).resolve() / run["id"]
    return (_mb(folder) if ours else 0.0) + sum(map(_mb, _app_export(run["id"])))


def delete_run(store: RunStore, run_id: str) -> dict:
    """Delete ``run_id``. Returns {"id", "freed_mb", "kept": a folder left in place and why,
    or None}. Raises KeyError (no such run) or ValueError (active, or its probes computing),
    changing nothing."""
    from .artifacts import job_running

    settle_killed_deletions(store)
    run = store.get(run_id)
    if run is None:
        raise no_run(run_id)
    if run["status"] in ACTIVE:
        raise ValueError(f"run {run_id} is {run['status']}: cancel it first (`python -m ssrl_core cancel {run_id}`), "
                         "then delete it")
    folder = Path(run["run_dir"])
    if job_running(folder):
        raise ValueError(f"run {run_id}'s probes are being computed (by the app's background job or a `probe` "
                         "command): delete it when they are done")
    exports = paths.ssrl_home() / "exports"
    held = ExitStack()
    if (exports / f".{run_id}.lock").exists():  # an export the app is writing finishes first: it reads the folder
        held.enter_context(exclusive(exports / f".{run_id}.lock"))  # moved here (it failed, blaming exports/)
    with held:
        runs = paths.runs_dir().resolve()
        ours = folder.resolve() == runs / run_id
        trash = runs / f"{TRASH}{run_id}"
        kept = None if ours else f"{folder} (not the store's own folder for it, {runs / run_id}: left for whoever made it)"
        moving = ours and folder.exists()
        freed = space_mb(run)  # (counted before the files go: what the preview said)

        def move_away() -> None:  # under the store's write lock: no resume can requeue the run meanwhile
            if moving:
                folder.rename(trash)  # refused here (permissions): nothing has changed yet

        try:
            store.delete(run_id, while_locked=move_away)
        except OSError as e:
            if e.errno != errno.ENOSPC or not trash.exists():
                _put_back(trash, folder)
                raise
            # the disk is too full for the store to record the deletion, and the files the person asked to delete
            # are what would make room: they go first, then the deletion is recorded (if even that fails, the row
            # stays, naming a folder that is gone, and the same command deletes it once there is room). Under the
            # store's lock again, so that no other process settling killed deletions puts the folder back meanwhile
            store.delete(run_id, while_locked=lambda: shutil.rmtree(trash, ignore_errors=True))
        except BaseException:  # the row stays (the check refused, or the commit failed): so do its files
            _put_back(trash, folder)
            raise
        for path in (trash, *_app_export(run_id)):
            if path.exists():
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return {"id": run_id, "freed_mb": round(freed, 1), "kept": kept}
