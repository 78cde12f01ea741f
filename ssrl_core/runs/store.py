"""The run store: SQLite in WAL mode, shared by the app (reads, submits, cancels) and
the worker (claims, progress, results). Nothing is shared in memory between them.

Statuses: queued -> running -> done | failed | cancelled. A queued run is claimed by
exactly one worker (an UPDATE ... WHERE status='queued' inside BEGIN IMMEDIATE); a
running run whose worker stops beating goes back to the queue and resumes from its last
checkpoint.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from .. import paths
from ..config import RunConfig

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

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
    summary TEXT
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


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class RunStore:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else paths.store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript(_SCHEMA)

    @contextmanager
    def _conn(self):
        # one short-lived connection per operation: safe across threads and processes
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        c.row_factory = sqlite3.Row
        c.execute("PRAGMA busy_timeout=30000")
        c.execute("PRAGMA synchronous=NORMAL")
        try:
            yield c
        finally:
            c.close()

    # -- submitting and reading -------------------------------------------------------
    def submit(self, cfg: RunConfig, nickname: str | None = None) -> str:
        cfg.validate()
        run_id = new_run_id()
        run_dir = paths.runs_dir() / run_id
        with self._conn() as c:
            c.execute(
                "INSERT INTO runs (id, created, status, config, run_dir, nickname, epochs) VALUES (?,?,?,?,?,?,?)",
                (run_id, time.time(), "queued", cfg.to_json(), str(run_dir), nickname, cfg.epochs),
            )
        return run_id

    def get(self, run_id: str) -> dict | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _row(row) if row else None

    def list(self, status: str | None = None, limit: int = 200) -> list[dict]:
        q, args = "SELECT * FROM runs", []
        if status:
            q += " WHERE status=?"
            args.append(status)
        q += " ORDER BY created DESC LIMIT ?"
        args.append(limit)
        with self._conn() as c:
            return [_row(r) for r in c.execute(q, args).fetchall()]

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
            row = c.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                c.execute("ROLLBACK")
                raise KeyError(f"no run with id {run_id!r}: see `python -m ssrl_core runs`")
            status = row["status"]
            if status == "queued":
                c.execute("UPDATE runs SET status='cancelled', finished=?, error=? WHERE id=?",
                          (time.time(), "cancelled before it started", run_id))
                status = "cancelled"
            elif status == "running":
                c.execute("UPDATE runs SET cancel_requested=1 WHERE id=?", (run_id,))
            else:
                c.execute("ROLLBACK")
                raise ValueError(f"run {run_id} has already ended ({status}); nothing to cancel")
            c.execute("COMMIT")
        return status

    def cancel_requested(self, run_id: str) -> bool:
        with self._conn() as c:
            row = c.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    # -- the worker's side ------------------------------------------------------------
    def claim(self, worker: str) -> dict | None:
        """Atomically take the oldest queued run for ``worker``."""
        now = time.time()
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            row = c.execute("SELECT id FROM runs WHERE status='queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                c.execute("COMMIT")
                return None
            c.execute(
                "UPDATE runs SET status='running', worker=?, heartbeat=?, started=COALESCE(started, ?), "
                "attempts=attempts+1, phase='starting' WHERE id=? AND status='queued'",
                (worker, now, now, row["id"]),
            )
            c.execute("COMMIT")
        return self.get(row["id"])

    def heartbeat(self, run_id: str, worker: str) -> None:
        with self._conn() as c:
            c.execute("UPDATE runs SET heartbeat=? WHERE id=? AND worker=? AND status='running'",
                      (time.time(), run_id, worker))

    def requeue_stale(self, max_age_s: float = 30.0, exclude_worker: str | None = None) -> list[str]:
        """Put running runs whose worker stopped beating back in the queue."""
        cutoff = time.time() - max_age_s
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            rows = c.execute(
                "SELECT id FROM runs WHERE status='running' AND (heartbeat IS NULL OR heartbeat<?) "
                "AND (worker IS NOT ? OR ? IS NULL)", (cutoff, exclude_worker, exclude_worker)
            ).fetchall()
            ids = [r["id"] for r in rows]
            for run_id in ids:
                c.execute("UPDATE runs SET status='queued', worker=NULL, phase='requeued' WHERE id=?", (run_id,))
                c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                          (run_id, time.time(), "requeued", json.dumps({"reason": "its worker stopped"})))
            c.execute("COMMIT")
        return ids

    def requeue(self, run_id: str, worker: str, reason: str) -> bool:
        """Put one running run of ``worker`` back in the queue (it resumes from its last
        checkpoint), with a 'requeued' event saying why. False when it is not running there."""
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            n = c.execute("UPDATE runs SET status='queued', worker=NULL, phase='requeued' "
                          "WHERE id=? AND worker=? AND status='running'", (run_id, worker)).rowcount
            if n:
                c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                          (run_id, time.time(), "requeued", json.dumps({"reason": reason})))
            c.execute("COMMIT")
        return bool(n)

    def record(self, run_id: str, event: dict) -> None:
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
        with self._conn() as c:
            c.execute("INSERT INTO events (run_id, t, kind, data) VALUES (?,?,?,?)",
                      (run_id, time.time(), kind, json.dumps(data)))
            c.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?", (*sets.values(), run_id))

    def finish(self, run_id: str, status: str, summary: dict | None = None, error: str | None = None) -> None:
        if status not in FINISHED:
            raise ValueError(status)
        with self._conn() as c:
            c.execute(
                "UPDATE runs SET status=?, finished=?, summary=?, error=?, phase=?, "
                "progress=CASE WHEN ?='done' THEN 1.0 ELSE progress END WHERE id=?",
                (status, time.time(), json.dumps(summary) if summary else None, error, status, status, run_id),
            )


def _row(r: sqlite3.Row) -> dict:
    d = dict(r)
    d["config"] = json.loads(d["config"])
    d["summary"] = json.loads(d["summary"]) if d["summary"] else None
    d["method"], d["dataset"] = d["config"]["method"], d["config"]["dataset"]
    d["cancel_requested"] = bool(d["cancel_requested"])
    return d
