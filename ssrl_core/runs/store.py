"""The run store: SQLite in WAL mode, shared by the app (reads, submits, cancels) and
the worker (claims, progress, results). Nothing is shared in memory between them.

Statuses: queued -> running -> done | failed | cancelled. A queued run is claimed by
exactly one worker (an UPDATE ... WHERE status='queued' inside BEGIN IMMEDIATE); a
running run whose worker is gone goes back to the queue and resumes from its last
checkpoint (``requeue_orphans``), keeping its place in line; a cancelled run put back in
the queue (``resume``) continues from its checkpoint too, at the end of the line. A worker's progress, heartbeat and result are written
only while the run is still its own, so a worker that lost its run cannot overwrite it.

Classroom limits (``Limits``, from environment variables) are checked inside the same
transaction as the insert, so simultaneous submits cannot overshoot them.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

from .. import paths
from ..config import RunConfig
from ..text import agree, count, listing, one_line, visible

# a run whose worker dies this many times at one epoch (no epoch finished in between) fails
# instead of going back to the queue: it is what kills its worker (a batch the machine's memory
# cannot hold gets the worker killed by the kernel), and requeued it would hold the queue forever
MAX_STALLED_DEATHS = 3
FINISHED = ("done", "failed", "cancelled")
ACTIVE = ("queued", "running")  # with FINISHED, every status a run can have
STATUSES = ACTIVE + FINISHED
RESUMABLE = ("cancelled", "failed")  # what ``resume`` puts back in the queue
# a lesson's runs are the class's (``lessons.lesson_nickname``): the per-nickname limit is not theirs
LESSON_NICKNAME = "lesson:"
NICKNAME_MAX = 32  # characters: one short line in the runs table (the app's box holds no more)
CONFIG_FIELDS = frozenset(f.name for f in fields(RunConfig))  # what ``list(settings=...)`` can select on

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    nickname TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    epochs INTEGER NOT NULL DEFAULT 0,
    progress REAL NOT NULL DEFAULT 0,
    phase TEXT,
    loss REAL,
    images_per_s REAL,
    eta_s REAL,
    error TEXT,
    worker TEXT,
    heartbeat REAL,
    started REAL,
    finished REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    summary TEXT,
    queued_at REAL,
    claimed_at REAL,
    claimed_epoch INTEGER
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, id);
"""
# columns added since the first stores were made: (name, SQL type), added to an older store on open
_ADDED = (("queued_at", "REAL"), ("claimed_at", "REAL"), ("claimed_epoch", "INTEGER"))


def checked_nickname(nickname: str | None) -> str | None:
    """``nickname`` stripped (None for none or blanks); ValueError saying what to change when
    it is not one short line of plain text."""
    nickname = visible(nickname or "").strip() or None
    if nickname and one_line(nickname) != nickname:  # it is one line of the runs table and of every page
        raise ValueError(f"nickname {nickname!r} has a line break, tab or other control character: "
                         "give it as one line of plain text")
    if nickname and len(nickname) > NICKNAME_MAX:  # the app's box holds no more
        raise ValueError(f"nickname {nickname[:NICKNAME_MAX]!r}… is {len(nickname):,} characters long: give one "
                         f"of at most {NICKNAME_MAX}")
    return nickname


def lessons_own(nickname: str | None) -> bool:
    """Whether ``nickname`` is in the lessons' own namespace ("lesson:collapse"), whatever its
    case, as ``same_nickname`` matches owners: "Lesson:collapse" typed in the sidebar made a
    student the owner of the lesson's runs (cancelled in one click, no confirmation)."""
    return bool(nickname) and visible(nickname).casefold().startswith(LESSON_NICKNAME)


def same_nickname(a: str | None, b: str | None) -> bool:
    """Whether two nicknames name one person: equal whatever their case, as the limits and
    ``RunStore.list`` match them ("Ada" is "ada"); no nickname is nobody's."""
    return bool(a) and bool(b) and visible(a).casefold() == visible(b).casefold()


def one_per_person(nicknames) -> list[str]:
    """``nicknames`` in alphabetical order, one spelling per person ("ADA" for "Ada" and "ada":
    the first in code-point order), as every box of nicknames offers them."""
    one: dict[str, str] = {}
    for name in sorted(set(nicknames), key=lambda n: (n.casefold(), n)):
        one.setdefault(name.casefold(), name)
    return list(one.values())


def _casefold(text: str | None) -> str | None:
    """``str.casefold`` as SQL's ``casefold()``: "Élodie", "ÉLODIE" and "élodie" are one nickname."""
    return text.casefold() if isinstance(text, str) else None


class StoreUnusable(ValueError):
    """The run store cannot be used as it is (damaged, or on a disk too full to open it); the
    message says what to do. The app says it in a box instead of a traceback."""


class LimitReached(ValueError):
    """A submit refused by a classroom limit; the message says which and what to do."""


class ClaimLost(RuntimeError):
    """The run is no longer this worker's (requeued, or finished by someone else)."""


def _env_number(name: str, default: float, cast=int):
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    """Classroom limits; 0 turns one off.

    - ``per_nickname``: queued + running runs one nickname may have (``SSRL_MAX_ACTIVE_PER_NICKNAME``, default 3)
    - ``queued``: runs waiting in the queue, everyone together (``SSRL_MAX_QUEUED``, default 50)
    - ``lessons``: lessons with runs queued or running at once, everyone together
      (``SSRL_MAX_ACTIVE_LESSONS``, default 2): a lesson's runs are the class's, not counted
      against the student who pressed Launch, so one student opening every lesson's link
      queued some forty runs ahead of the class's own
    - ``run_disk_mb``: size of one run folder; the worker fails a run that grows past it
      (``SSRL_RUN_DISK_MB``, default 2048)
    - ``probe_jobs``: probe jobs (a finished run's missing probes, fine-tuning) the app runs at
      once, everyone together (``SSRL_MAX_PROBE_JOBS``, default 2): each is a process that
      loads torch and a dataset, and fine-tuning trains for minutes
    """

    per_nickname: int = 3
    queued: int = 50
    lessons: int = 2
    run_disk_mb: float = 2048.0
    probe_jobs: int = 2

    @classmethod
    def from_env(cls) -> "Limits":
        d = cls()
        return cls(per_nickname=_env_number("SSRL_MAX_ACTIVE_PER_NICKNAME", d.per_nickname),
                   queued=_env_number("SSRL_MAX_QUEUED", d.queued),
                   lessons=_env_number("SSRL_MAX_ACTIVE_LESSONS", d.lessons),
                   run_disk_mb=_env_number("SSRL_RUN_DISK_MB", d.run_disk_mb, float),
                   probe_jobs=_env_number("SSRL_MAX_PROBE_JOBS", d.probe_jobs))


def in_line(run: dict) -> float:
    """A queued run's place in line: the worker takes the smallest first. When it was
    submitted, or last resumed (``RunStore.resume``); ``IN_LINE`` in SQL."""
    return run.get("queued_at") or run["created"]


IN_LINE = "COALESCE(queued_at, created)"


def epoch_text(run: dict) -> str:
    """A run's epoch as the pages and ``runs`` say it: "epoch 2/5" is the epoch in progress
    while it trains (the store's ``epoch`` counts those finished: ``runs`` said "epoch 0/5"
    beside the page's "epoch 1/5"), else the epochs it has finished; "untrained" for a run of
    no epochs (the random encoder, a method's untrained encoder)."""
    if not run["epochs"]:
        return "untrained"
    current = min(run["epoch"] + 1, run["epochs"]) if run["status"] == "running" and run["phase"] == "training" \
        else run["epoch"]
    return f"epoch {current}/{run['epochs']}"


# what each phase a run records (``phase`` events: identifiers the code compares) is, for a person reading a
# run's status: "running, umap" and "probes: the random encoder's invariance" were the code's words
PHASE_WORDS = {"starting": "starting: loading the data and the model", "embedding": "evaluating: embedding the images",
               "knn": "evaluating: kNN accuracy", "linear probe": "evaluating: the linear probe",
               "umap": "evaluating: the UMAP map", "map evolution": "evaluating: the maps of earlier epochs",
               "probes: random reference": "evaluating: the untrained encoder's scores",
               "probes: factors": "evaluating: the factor probes",
               "probes: the random encoder's invariance": "evaluating: the untrained encoder's invariance",
               "requeued": "back in line after its worker stopped", "resumed": "resumed, back in line"}


def phase_text(phase: str | None) -> str:
    """A run's phase in words ("evaluating: the UMAP map" for ``umap``); a probe phase not
    listed in ``PHASE_WORDS`` ("probes: label efficiency (1 per class)") is "evaluating: " and
    what follows "probes: "; "" for none."""
    if not phase:
        return ""
    return PHASE_WORDS.get(phase) or (f"evaluating: {phase.removeprefix('probes: ')}" if phase.startswith("probes: ")
                                      else phase)


def no_run(run_id: str) -> KeyError:
    """The error for a run id the store does not have."""
    return KeyError(f"no run with id {run_id!r}: see `python -m ssrl_core runs`")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class RunStore:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else paths.store_path()
        self._own: bool | None = None  # whether this is SSRL_HOME's own store (``_here``)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + 30  # as long as any other operation waits for the store (busy_timeout)
        while True:
            try:
                return self._create()
            except sqlite3.OperationalError as e:
                # SQLite can answer "database is locked" at once, without waiting out busy_timeout, while
                # another connection switches a new store to WAL: one of 30 threads opening a new store at the
                # same moment got it (once, in a full run of the test suite), the app and a worker could too
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def if_made(cls) -> "RunStore | None":
        """SSRL_HOME's store when one has been made, else None, making nothing (not even
        SSRL_HOME): for a command that only reads it, to which no store means no runs
        (``runs`` in a new home, ``cancel`` of an unknown id)."""
        home = paths.home_path()
        if home.exists():
            paths.ssrl_home()  # a file of that name: said as such (an existing folder is left as it is)
        path = home / paths.STORE
        return cls(path) if path.exists() else None

    def _create(self) -> None:
        """The store in WAL mode, with the schema and every column added since (idempotent)."""
        with self._conn(make=True) as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript(_SCHEMA)
            have = {r["name"] for r in c.execute("PRAGMA table_info(runs)")}
            for name, kind in _ADDED:
                if name not in have:
                    try:
                        c.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as e:  # another process added it first
                        if "duplicate column" not in str(e):
                            raise

    @contextmanager
    def _conn(self, make: bool = False):
        # one short-lived connection per operation: safe across threads and processes. Only ``_create``
        # makes the file: an empty one made where the store was removed (SSRL_HOME deleted while a worker
        # polled it) had no tables ("no such table: runs") and kept the removal of its folder from finishing
        try:
            c = sqlite3.connect(Path(os.path.abspath(self.path)).as_uri() + ("" if make else "?mode=rw"),
                                timeout=30, isolation_level=None, uri=True)
            c.row_factory = sqlite3.Row
            # one person's nickname whatever its case, in every query (SQLite's NOCASE folds ASCII letters only)
            c.create_function("casefold", 1, _casefold, deterministic=True)
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as e:
            raise self._said(e, opening=True) or e
        try:
            yield c
        except sqlite3.DatabaseError as e:
            raise self._said(e) or e
        finally:
            c.close()

    def _said(self, e: sqlite3.DatabaseError, opening: bool = False) -> OSError | StoreUnusable | None:
        """SQLite's errors that a person can act on, in words naming the store, else None: a
        read-only store or SSRL_HOME (a PermissionError: SQLite writes beside the file even to
        read it in WAL mode), a full disk (OSError ENOSPC, which the CLI and the worker word
        as such; SQLite says "disk I/O error" when it cannot even grow its shared-memory file)
        and a damaged store (ValueError). A store too full to be opened at all cannot record a
        deletion either, so that is said with what else can go (a ValueError)."""
        said = str(e).lower()
        if "unable to open" in said and not self.path.exists():
            return FileNotFoundError(errno.ENOENT, f"the run store was removed ({e}; SSRL_HOME deleted or moved?): "
                                     "what opened it makes a new one when started again", str(self.path))
        if "readonly" in said or "unable to open" in said:
            return PermissionError(errno.EACCES, f"the run store cannot be written ({e}: SQLite writes beside it "
                                   "even to read it; point SSRL_HOME at a folder this user can write)", str(self.path))
        if "disk is full" in said or ("disk i/o error" in said and _nearly_full(self.path.parent)):
            if opening:
                home = self.path.parent
                return StoreUnusable(f"the disk holding the run store {self.path} is full, so the store cannot even be "
                                  f"opened: free some space on it ({home / 'cache'} and {home / 'references'} can go: "
                                  "they are made again when needed), then deleting ended runs frees the most")
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        if "malformed" in said or "not a database" in said:
            # with its -wal and -shm files: left behind, SQLite could replay the old log into the new store (the command
            # names those there: mv of one missing failed, "cannot stat")
            there = " ".join(str(p) for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
                             if p.exists())
            return StoreUnusable(f"the run store {self.path} is damaged ({e}): move it aside with its -wal and -shm "
                                 f"files (mkdir {self.path}.damaged && mv {there or self.path} {self.path}.damaged/) "
                                 "and the app and commands start a new, empty one; "
                                 "then `python -m ssrl_core restore-runs --yes` lists the runs of "
                                 f"{self.path.parent / 'runs'} in it again")
        return None

    def _here(self, run_id: str, stored: str) -> str:
        """Where run ``run_id``'s folder is now. The store records it as an absolute path; after
        SSRL_HOME was moved or copied, a row still names the old home's ``runs/ID``, gone or
        another copy's: the folder beside this store of that name is the run's when it is there,
        and, for the home's own store (whose runs are always made beside it), also when it is
        not yet (a queued run: its worker must not train into the old home, or the copy's
        original)."""
        path = Path(stored)
        if path.parts[-2:] == ("runs", run_id):
            own = self.path.parent / "runs" / run_id
            if path != own and (own.is_dir() or self._homes_own()):
                return str(own)
        return stored

    def _homes_own(self) -> bool:
        if self._own is None:
            try:
                self._own = self.path.absolute() == paths.store_path()
            except ValueError:  # SSRL_HOME cannot be made: this store, given by its path, is not its
                self._own = False
        return self._own

    def _row(self, r: sqlite3.Row) -> dict:
        d = _row(r)
        d["run_dir"] = self._here(d["id"], d["run_dir"])
        return d

    # -- submitting and reading -------------------------------------------------------
    def submit(self, cfg: RunConfig, nickname: str | None = None, limits: Limits | None = None) -> str:
        """Queue a run; raises ``LimitReached`` when a classroom limit (``Limits.from_env()``
        unless given) says no. The check and the insert are one transaction."""
        return self.submit_many([cfg], nickname, limits)[0]

    def submit_many(self, cfgs: list[RunConfig], nickname: str | None = None, limits: Limits | None = None,
                    reuse_same: bool = False, reusable: Callable[[str, str], bool] | None = None) -> list[str]:
        """Queue several runs at once, all or none: the limits count the whole batch, in the
        same transaction as the inserts. With ``reuse_same``, a config identical to a run of
        the same nickname that is queued, running or done is not queued again: its id is
        returned instead; one identical to a cancelled run of the nickname resumes that run
        (as ``resume``: from its last finished epoch). The check is inside the write
        transaction, so two callers that both decided to submit (two students pressing a
        lesson's Launch at once) queue one set. ``reusable(config JSON, run folder)``, when
        given, says which of those runs may be reused or resumed (a lesson's: not one trained
        before its method's architecture changed, ``lessons.config_key``)."""
        for cfg in cfgs:
            cfg.validate()
        limits = limits or Limits.from_env()
        nickname = checked_nickname(nickname)
        ids: list[str] = []
        keys = [cfg.to_json() for cfg in cfgs]
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                have, stopped = ({}, {}) if not reuse_same else (
                    self._same_configs(c, nickname, keys, ("queued", "running", "done"), reusable),
                    self._same_configs(c, nickname, keys, ("cancelled",), reusable))
                self._check_limits(c, nickname, limits, len(set(keys) - set(have)) if reuse_same else len(keys))
                for cfg, key in zip(cfgs, keys):
                    if key in have:
                        ids.append(have[key])
                        continue
                    if key in stopped:
                        self._requeue(c, stopped[key])
                        ids.append(have.setdefault(key, stopped[key]))
                        continue
                    run_id = new_run_id()
                    # the same second and random suffix as a run of this batch or of the store (a class submitting
                    # at once: 30 runs in one second collide with odds of 1 in 150); the write lock is held
                    while run_id in ids or c.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():
                        run_id = new_run_id()
                    c.execute(
                        "INSERT INTO runs (id, created, status, config, run_dir, nickname, epochs) VALUES (?,?,?,?,?,?,?)",
                        (run_id, time.time(), "queued", key, str(paths.runs_dir() / run_id), nickname, cfg.epochs),
                    )
                    ids.append(run_id)
                    if reuse_same:
                        have[key] = run_id
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
        return ids

    def _same_configs(self, c: sqlite3.Connection, nickname: str | None, keys: list[str],
                      statuses: tuple[str, ...], reusable: Callable[[str, str], bool] | None = None) -> dict[str, str]:
        """{config JSON: id of the newest run of ``nickname`` with it, in one of ``statuses``}."""
        if not nickname or not keys:
            return {}
        rows = c.execute(f"SELECT id, config, run_dir FROM runs WHERE nickname=? AND "
                         f"status IN ({','.join('?' * len(statuses))}) AND config IN ({','.join('?' * len(keys))}) "
                         "ORDER BY created", (nickname, *statuses, *keys)).fetchall()
        return {r["config"]: r["id"] for r in rows
                if reusable is None or reusable(r["config"], self._here(r["id"], r["run_dir"]))}

    def active_twin(self, cfg: RunConfig, nickname: str | None) -> str | None:
        """The id of a queued or running run of ``nickname`` with the very same config (a
        second press of Launch, say), or None: identical runs give identical results."""
        key = cfg.to_json()
        with self._conn() as c:
            return self._same_configs(c, (nickname or "").strip() or None, [key], ("queued", "running")).get(key)

    @staticmethod
    def _check_limits(c: sqlite3.Connection, nickname: str | None, limits: Limits, n: int = 1) -> None:
        batch = f" for {n} more runs" if n > 1 else ""
        if limits.queued:
            waiting = c.execute("SELECT COUNT(*) FROM runs WHERE status='queued'").fetchone()[0]
            if waiting + n > limits.queued:
                raise LimitReached(f"the queue is full{batch} ({count(waiting, 'run')} waiting, the limit is {limits.queued}): "
                                   "try again when some have started")
        if limits.lessons and lessons_own(nickname) and n:
            others = RunStore._active_lessons(c, but=nickname)
            if len(others) >= limits.lessons:
                raise LimitReached(f"{count(len(others), 'other lesson')} {agree(len(others), 'has', 'have')} runs "
                                   f"queued or training ({listing(others)}; the limit is {limits.lessons} at once): "
                                   "launch this one when one of them has finished")
        if limits.per_nickname and nickname and not lessons_own(nickname):
            # counted whatever its case: "ada" beside "Ada" was a second allowance (a review queued a fourth run so)
            mine = c.execute("SELECT COUNT(*) FROM runs WHERE status IN ('queued','running') AND casefold(nickname) = ?",
                             (nickname.casefold(),)).fetchone()[0]
            if mine + n > limits.per_nickname:
                raise LimitReached(f"{nickname!r} already has {count(mine, 'run')} queued or running (the limit is "
                                   f"{limits.per_nickname}){batch}: wait for one to finish or cancel one")

    @staticmethod
    def _active_lessons(c: sqlite3.Connection, but: str | None = None) -> list[str]:
        rows = c.execute("SELECT DISTINCT nickname FROM runs WHERE nickname LIKE ? AND status IN ('queued','running') "
                         "ORDER BY nickname", (LESSON_NICKNAME + "%",)).fetchall()
        return [r[0][len(LESSON_NICKNAME):] for r in rows if r[0] != but]

    def active_lessons(self, but: str | None = None) -> list[str]:
        """The ids of the lessons with runs queued or running, but the one of nickname ``but``
        (``Limits.lessons`` counts them)."""
        with self._conn() as c:
            return self._active_lessons(c, but)

    def statuses(self, run_ids) -> dict[str, str]:
        """The status of each of ``run_ids`` that exists, in one query (a page polls its runs'
        for a deletion elsewhere)."""
        ids = list(run_ids)
        if not ids:
            return {}
        with self._conn() as c:
            rows = c.execute(f"SELECT id, status FROM runs WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return {r["id"]: r["status"] for r in rows}

    def get(self, run_id: str) -> dict | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return self._row(row) if row else None

    def list(self, status: str | tuple[str, ...] | None = None, limit: int = 200,
             settings: dict[str, tuple] | None = None, nickname: str | None = None) -> list[dict]:
        """The newest ``limit`` runs (by submission), of one status or several, or all;
        ``settings`` keeps those whose config field (a ``RunConfig`` field name) has one of
        the values given, e.g. ``{"method": ("moco",), "seed": (0, 1)}``; ``nickname`` those
        submitted under it, whatever its case ("élodie" finds "Élodie")."""
        q, where, args = "SELECT * FROM runs", [], []
        if nickname is not None:
            where.append("casefold(nickname) = ?")
            args.append(nickname.casefold())
        if status:
            statuses = (status,) if isinstance(status, str) else tuple(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += statuses
        for name, values in (settings or {}).items():
            if name not in CONFIG_FIELDS:  # a column name in the SQL: never one from outside the code
                raise ValueError(f"{name!r} is not a run setting: one of {', '.join(sorted(CONFIG_FIELDS))}")
            where.append(f"json_extract(config, '$.{name}') IN ({','.join('?' * len(values))})")
            args += values
        if where:
            q += " WHERE " + " AND ".join(where)
        q += " ORDER BY created DESC LIMIT ?"
        args.append(limit)
        with self._conn() as c:
            return [self._row(r) for r in c.execute(q, args).fetchall()]

    def recent(self, limit: int = 100) -> list[dict]:
        """The newest ``limit`` runs and every queued or running run besides, newest first, in
        one query: what a live panel shows (a cancelled run resumed long after it was submitted
        is queued, but may be older than the newest ``limit``)."""
        with self._conn() as c:
            rows = c.execute("SELECT * FROM runs WHERE status IN (?, ?) OR id IN "
                             "(SELECT id FROM runs ORDER BY created DESC LIMIT ?) ORDER BY created DESC",
                             (*ACTIVE, limit)).fetchall()
        return [self._row(r) for r in rows]

    def count(self, statuses: tuple[str, ...], nickname: str | None = None) -> int:
        """How many runs have one of ``statuses`` (and ``nickname``, as ``list`` matches it): a
        count, not the rows (a page polls it)."""
        q = f"SELECT COUNT(*) FROM runs WHERE status IN ({','.join('?' * len(statuses))})"
        with self._conn() as c:
            if nickname is None:
                return c.execute(q, statuses).fetchone()[0]
            return c.execute(q + " AND casefold(nickname) = ?", (*statuses, nickname.casefold())).fetchone()[0]

    def nicknames(self) -> list[str]:
        """The nicknames runs were submitted under, lessons' left out, in alphabetical order: one
        per person, whatever the case it was typed in ("Ada" stands for "ada" too, as ``list``
        and the limits match them)."""
        with self._conn() as c:
            rows = c.execute("SELECT DISTINCT nickname FROM runs WHERE nickname IS NOT NULL AND nickname NOT LIKE ?",
                             (LESSON_NICKNAME + "%",)).fetchall()
        return one_per_person(r[0] for r in rows)

    def events(self, run_id: str, kind: str | None = None, after: int = 0) -> list[dict]:
        q, args = "SELECT id, t, kind, data FROM events WHERE run_id=? AND id>?", [run_id, after]
        if kind:
            q += " AND kind=?"
            args.append(kind)
        with self._conn() as c:
            rows = c.execute(q + " ORDER BY id", args).fetchall()
        return [{"id": r["id"], "t": r["t"], "kind": r["kind"], **json.loads(r["data"])} for r in rows]

    # -- cancel -----------------------------------------------------------------------
    def request_cancel(self, run_id: str) -> str:
        """Cancel a run: a queued run is cancelled at once, a running one at its next step.
        Returns the resulting status; raises KeyError / ValueError with a clear message."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT status, attempts, epoch FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                c.execute("ROLLBACK")
                raise no_run(run_id)
            status = row["status"]
            if status == "queued":  # not started, or resumed (or requeued) and not yet taken up again
                said = ("cancelled before it started" if not row["attempts"] else
                        f"cancelled while queued to continue from epoch {row['epoch']}" if row["epoch"] else
                        "cancelled while queued again, before any epoch had finished")
                c.execute("UPDATE runs SET status='cancelled', finished=?, error=? WHERE id=?",
                          (time.time(), said, run_id))
                status = "cancelled"
            elif status == "running":
                c.execute("UPDATE runs SET cancel_requested=1 WHERE id=?", (run_id,))
            else:
                c.execute("ROLLBACK")
                raise ValueError(f"run {run_id} has already ended ({status}); nothing to cancel")
            c.execute("COMMIT")
        return status

    def resume(self, run_id: str, limits: Limits | None = None) -> None:
        """Put a cancelled or failed run back in the queue, behind the runs queued now; the
        worker that takes it continues from its last finished epoch's checkpoint
        (``train.pretrain``), or starts it over when there is none (stopped before its first
        epoch). A failed run is worth resuming when what failed was around it (a full disk, a
        dataset missing, now back); one that failed on its settings fails again. The classroom
        limits count it for its nickname, as a submit. Raises KeyError (no such run),
        ValueError (a run queued, running or done, saying which) or ``LimitReached``."""
        limits = limits or Limits.from_env()
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT status, nickname FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:
                    raise no_run(run_id)
                if row["status"] not in RESUMABLE:
                    raise ValueError(f"run {run_id} is {row['status']}: only a cancelled or failed run can be resumed")
                if lessons_own(row["nickname"]):  # as the lesson's Launch submits them
                    limits = replace(limits, per_nickname=0)
                self._check_limits(c, row["nickname"], limits)
                self._requeue(c, run_id)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    @staticmethod
    def _requeue(c: sqlite3.Connection, run_id: str) -> None:
        """A cancelled or failed run back in the queue, at its end (inside the caller's write transaction)."""
        now = time.time()
        c.execute("UPDATE runs SET status='queued', queued_at=?, finished=NULL, error=NULL, worker=NULL, "
                  f"cancel_requested=0, phase='resumed', {_REDONE} WHERE id=? AND status IN (?, ?)",
                  (now, run_id, *RESUMABLE))
        c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                  (run_id, now, "queued_again", json.dumps({})))

    def delete(self, run_id: str, while_locked: Callable[[], None] | None = None) -> None:
        """Remove an ended run's row and events (``runs.remove.delete_run`` also removes its
        files). ``while_locked`` runs after the check, inside the write transaction: no resume
        or claim can reach the run while it moves the run's files away, and if it raises,
        nothing is deleted. Raises KeyError (no such run) or ValueError (queued or running)."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:
                    raise no_run(run_id)
                if row["status"] in ACTIVE:
                    raise ValueError(f"run {run_id} is {row['status']}: cancel it first")
                if while_locked is not None:
                    while_locked()
                c.execute("DELETE FROM events WHERE run_id=?", (run_id,))
                c.execute("DELETE FROM runs WHERE id=?", (run_id,))
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def with_ids_locked(self, fn: Callable[[set[str]], None]) -> None:
        """Call ``fn`` with the ids of every run, inside a write transaction: no delete,
        submit or restore can change them until it returns (``runs.remove`` settles a killed
        deletion's files against them)."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                fn({r[0] for r in c.execute("SELECT id FROM runs")})
            finally:
                c.execute("ROLLBACK")

    def insert_restored(self, rows: list[dict]) -> list[str]:
        """Insert rows of runs found in their folders (``runs.restore``: columns of the runs
        table), each with a ``restored`` event; the ids inserted. A row whose id the store has
        (another process restored it meanwhile) is left."""
        done = []
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    cols = ", ".join(row)
                    cur = c.execute(f"INSERT OR IGNORE INTO runs ({cols}) VALUES ({','.join('?' * len(row))})",
                                    tuple(row.values()))
                    if cur.rowcount:
                        c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                                  (row["id"], time.time(), "restored", json.dumps({"status": row["status"]})))
                        done.append(row["id"])
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
        return done

    def cancel_requested(self, run_id: str) -> bool:
        with self._conn() as c:
            row = c.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    # -- the worker's side ------------------------------------------------------------
    def claim(self, worker: str) -> dict | None:
        """Atomically take the oldest queued run for ``worker`` (a ``claimed`` event says who)."""
        now = time.time()
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            row = c.execute(f"SELECT id FROM runs WHERE status='queued' ORDER BY {IN_LINE} LIMIT 1").fetchone()
            if row is None:
                c.execute("COMMIT")
                return None
            c.execute(
                # started: the first attempt's start; claimed_at and claimed_epoch: this attempt's, and the
                # epoch it continues from (a run resumed or requeued), for the estimate of its end
                "UPDATE runs SET status='running', worker=?, heartbeat=?, started=COALESCE(started, ?), "
                "claimed_at=?, claimed_epoch=epoch, attempts=attempts+1, phase='starting' "
                "WHERE id=? AND status='queued'",
                (worker, now, now, now, row["id"]),
            )
            c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                      (row["id"], now, "claimed", json.dumps({"worker": worker})))
            c.execute("COMMIT")
        return self.get(row["id"])

    def heartbeat(self, run_id: str, worker: str) -> None:
        with self._conn() as c:
            c.execute("UPDATE runs SET heartbeat=? WHERE id=? AND worker=? AND status='running'",
                      (time.time(), run_id, worker))

    def requeue_orphans(self, worker_alive: Callable[[str | None], bool | None], stale_s: float = 30.0) -> list[str]:
        """Put running runs whose worker is gone back in the queue (they resume from their
        last checkpoint). ``worker_alive(worker_id)`` says True (alive: never requeued),
        False (gone: requeued at once) or None (cannot tell, e.g. another host or a Ray
        dispatcher: requeued when its heartbeat is older than ``stale_s``)."""
        ids = []
        with self._conn() as c:
            query = "SELECT id, worker, heartbeat, epoch, cancel_requested FROM runs WHERE status='running'"
            if not any(orphaned(r, worker_alive, stale_s) for r in c.execute(query).fetchall()):
                return ids  # the usual case: no write lock taken
            c.execute("BEGIN IMMEDIATE")
            for r in c.execute(query).fetchall():
                if not orphaned(r, worker_alive, stale_s):
                    continue
                if r["cancel_requested"]:  # asked to stop: ended so, not run again only to stop at its first step
                    c.execute("UPDATE runs SET status='cancelled', finished=?, phase='cancelled', error=? WHERE id=? "
                              "AND status='running' AND worker IS ?",
                              (time.time(), _cancelled_orphan(r["epoch"]), r["id"], r["worker"]))
                elif _deaths_at(c, r["id"], r["epoch"]) + 1 >= MAX_STALLED_DEATHS:
                    c.execute("UPDATE runs SET status='failed', finished=?, phase='failed', error=? WHERE id=? AND "
                              "status='running' AND worker IS ?", (time.time(), _stalled(r["epoch"]), r["id"], r["worker"]))
                elif _requeue(c, r["id"], r["worker"], "its worker stopped", r["epoch"]):
                    ids.append(r["id"])
            c.execute("COMMIT")
        return ids

    def requeues(self, run_id: str, because: str) -> int:
        """How often ``run_id`` went back to the queue for a reason beginning with ``because``
        since a person last resumed it (its claims count every start: a cancel and resume, a
        dispatcher stopped)."""
        with self._conn() as c:
            return sum(1 for r in _requeued_since_resume(c, run_id) if (r.get("reason") or "").startswith(because))

    def requeue(self, run_id: str, worker: str, reason: str) -> bool:
        """Put one running run of ``worker`` back in the queue (it resumes from its last
        checkpoint), with a 'requeued' event saying why. False when it is not running there."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            done = _requeue(c, run_id, worker, reason)
            c.execute("COMMIT")
        return done

    def record(self, run_id: str, event: dict, worker: str | None = None) -> None:
        """Store an event from the training loop and fold it into the run's progress row."""
        kind = event.get("kind", "info")
        data = {k: v for k, v in event.items() if k != "kind"}
        sets: dict = {"heartbeat": time.time()}
        if kind in ("step", "epoch_end"):
            epochs = event.get("epochs") or 0
            if kind == "step" and event.get("total_steps"):
                sets["progress"] = event["step"] / event["total_steps"]
            elif kind == "epoch_end":
                sets["progress"] = (event["epoch"] / epochs) if epochs else 1.0
                sets["epoch"] = event["epoch"]
            for k in ("loss", "images_per_s", "eta_s"):
                if event.get(k) is not None:
                    sets[k] = event[k]
            sets["phase"] = "training"
        elif kind == "phase":
            sets["phase"] = event["phase"]
        elif kind == "resumed" and isinstance(event.get("epoch"), int):
            # the epochs its checkpoint holds: a worker killed after an epoch's checkpoint, before that epoch's end was
            # recorded (its probe takes seconds), left the row an epoch behind; three such kills at three epochs were
            # counted as three deaths "after epoch 0" and failed a run that was making progress (a chaos review)
            sets["epoch"] = event["epoch"]
            if event.get("epochs"):
                sets["progress"] = event["epoch"] / event["epochs"]
        where, args = _owned(run_id, worker)
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            cur = c.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in sets)} WHERE {where}",
                            (*sets.values(), *args))
            if cur.rowcount == 0 and worker is not None:
                c.execute("ROLLBACK")
                raise ClaimLost(f"run {run_id} is no longer worker {worker}'s")
            c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                      (run_id, time.time(), kind, json.dumps(data)))
            c.execute("COMMIT")

    def finish(self, run_id: str, status: str, summary: dict | None = None, error: str | None = None,
               worker: str | None = None) -> bool:
        """End a run. With ``worker``, only while the run is still that worker's running run
        (returns False, changing nothing, when it is not)."""
        if status not in FINISHED:
            raise ValueError(status)
        where, args = _owned(run_id, worker)
        with self._conn() as c:
            cur = c.execute(
                "UPDATE runs SET status=?, finished=?, summary=?, error=?, phase=?, "
                f"progress=CASE WHEN ?='done' THEN 1.0 ELSE progress END WHERE {where}",
                (status, time.time(), json.dumps(summary) if summary else None, error, status, status, *args),
            )
        return cur.rowcount > 0


# a run back in the queue continues from its last finished epoch's checkpoint: the steps of the epoch it was in are done
# again, so its progress is its finished epochs' share (it read "epoch 1/10 · 20% of the training done" as it restarted)
_REDONE = "progress=CASE WHEN epochs > 0 THEN CAST(epoch AS REAL) / epochs ELSE progress END"


def _requeue(c: sqlite3.Connection, run_id: str, worker: str | None, reason: str, epoch: int | None = None) -> bool:
    """Inside a write transaction: ``run_id`` back to the queue if ``worker`` still runs it
    (``epoch``: the last one it finished, recorded for ``_deaths_at``)."""
    n = c.execute(f"UPDATE runs SET status='queued', worker=NULL, phase='requeued', {_REDONE} WHERE id=? AND "
                  "status='running' AND worker IS ?", (run_id, worker)).rowcount
    if n:
        c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                  (run_id, time.time(), "requeued", json.dumps({"reason": reason, "worker": worker, "epoch": epoch})))
    return bool(n)


def _requeued_since_resume(c: sqlite3.Connection, run_id: str) -> list[dict]:
    """The data of ``run_id``'s 'requeued' events since a person last resumed it (a resume is a
    fresh try: memory freed, another worker, the cluster's nodes mended)."""
    rows = c.execute("SELECT data FROM events WHERE run_id=? AND kind='requeued' AND id > "
                     "(SELECT COALESCE(MAX(id), 0) FROM events WHERE run_id=? AND kind='queued_again')",
                     (run_id, run_id)).fetchall()
    return [json.loads(r["data"]) for r in rows]


def _deaths_at(c: sqlite3.Connection, run_id: str, epoch: int) -> int:
    """How often ``run_id`` went back to the queue with its worker gone at ``epoch`` since a
    person last resumed it."""
    return sum(1 for d in _requeued_since_resume(c, run_id) if d.get("epoch") == epoch)


def _cancelled_orphan(epoch: int | None) -> str:
    done = f"after epoch {epoch}" if epoch else "before its first epoch ended"
    return f"cancelled {done}: its worker stopped before the cancel reached it"


def _stalled(epoch: int) -> str:
    return (f"its worker stopped {MAX_STALLED_DEATHS} times while running it, each time after epoch {epoch} and before "
            "the next epoch (or the evaluation) ended: most likely the run itself gets the worker killed, by the "
            "system when the machine "
            "runs out of memory. Lower the batch size or use a smaller encoder (for deaths in the evaluation: "
            "`--evaluation basic`, which makes no UMAP) and submit it again, or with memory freed resume it "
            "(`python -m ssrl_core resume ID`, which counts its deaths afresh); the run was not put back in the "
            "queue, where it would have held up every run behind it")


def _owned(run_id: str, worker: str | None) -> tuple[str, tuple]:
    if worker is None:
        return "id=?", (run_id,)
    return "id=? AND worker=? AND status='running'", (run_id, worker)


def orphaned(run, worker_alive: Callable[[str | None], bool | None], stale_s: float) -> bool:
    """Whether running ``run`` (a row with its worker and heartbeat) has lost its worker:
    ``worker_alive`` says so, or, when it cannot tell (another host), the heartbeat is older
    than ``stale_s`` (``RunStore.requeue_orphans``)."""
    alive = worker_alive(run["worker"])
    if alive is None:
        alive = run["heartbeat"] is not None and time.time() - run["heartbeat"] < stale_s
    return not alive


def worker_parts(worker_id: str | None) -> tuple[str | None, str | None, str | None]:
    """(host, pid, slot) of the id a worker claims runs under: "HOST:PID:SLOT" a local worker's,
    "ray:HOST:PID" the Ray dispatcher's (no slot); None for a part it lacks, and for a pid or a
    slot that is not a number."""
    if not worker_id:
        return None, None, None
    if worker_id.startswith("ray:"):
        host, _, pid = worker_id[len("ray:"):].rpartition(":")
        return host or None, pid if pid.isdigit() else None, None
    parts = worker_id.rsplit(":", 2)
    if len(parts) != 3:
        return parts[0], None, None
    host, pid, slot = parts
    return host, pid if pid.isdigit() else None, slot if slot.isdigit() else None


# a running run whose worker has not beaten this long (its watcher thread beats every second; a long native call holding
# the interpreter, a large UMAP, may delay it) is said to be silent
SILENT_S = 120.0


def silence(run: dict, now: float | None = None) -> str | None:
    """For a running run whose worker still holds its slot but has not beaten for
    ``SILENT_S`` (stopped with SIGSTOP or Ctrl-Z, hung, or a machine swapping), what to say
    and do; else None. The row said "training" for ever meanwhile, its cancel did nothing and
    the queue behind it waited (a chaos review)."""
    if run.get("status") != "running" or run.get("heartbeat") is None:
        return None
    quiet = (now or time.time()) - run["heartbeat"]
    if quiet < SILENT_S:
        return None
    _, pid, _ = worker_parts(run.get("worker"))
    if (run.get("worker") or "").startswith("ray:"):  # the dispatcher on the app's host
        pid = pid or "PID"
        return (f"no word from its Ray dispatcher (process {pid}) for {int(quiet)} s: it may have lost the cluster "
                "(the end of SSRL_HOME/dispatcher.log says), be stopped (`kill -CONT " + pid + "` goes on) or hung (`kill "
                + pid + "`: the next dispatcher puts the run back in the queue, to resume from its last finished epoch)")
    what = f"its worker (process {pid})" if pid else "its worker"
    return (f"no word from {what} for {int(quiet)} s: it may be stopped (Ctrl-Z; `kill -CONT {pid or 'PID'}` goes "
            f"on) or hung (`kill {pid or 'PID'}`, and the run resumes from its last finished epoch)")


def folder_gone(run: dict) -> str | None:
    """For a done run whose folder is not there (deleted by hand to free space, lost with a
    disk), what to say, and what to do (put it back, or delete the run); else None. The
    run read as finished on every page and list, and computing its probes failed with "click
    again in a few minutes" (an admin's review). (A queued run has no folder yet, nor has one
    cancelled or failed before it started: only done runs are looked at.)"""
    if run.get("status") != "done" or Path(run["run_dir"]).is_dir():
        return None
    return f"its folder {run['run_dir']} is gone (deleted by hand?): put it back, or delete the run"


def _nearly_full(folder: Path) -> bool:
    """Whether the disk holding ``folder`` has under 1 MB free."""
    import shutil

    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _row(r: sqlite3.Row) -> dict:
    d = dict(r)
    d["config"] = json.loads(d["config"])
    d["summary"] = json.loads(d["summary"]) if d["summary"] else None
    d["method"], d["dataset"] = d["config"]["method"], d["config"]["dataset"]
    d["cancel_requested"] = bool(d["cancel_requested"])
    return d
