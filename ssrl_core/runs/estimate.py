"""When will a queued run start? An estimate from the runs that finished here before.

A run's duration is its training (seconds per epoch of the newest finished runs with the
same dataset, method, encoder, batch size and the method options that change an epoch's work,
times its epochs: an MAE with a decoder of 8 blocks was told the 2-block default's 81.7 s and took
142 s, while a SimCLR at another temperature trains at the same pace) plus what comes after
(probes, map, map evolution: the newest finished runs on the same dataset, encoder and
evaluation, trained like it or not; an untrained run may borrow trained runs' tail, which is
longer, but a trained one never an untrained one's, nor any run another encoder's or another
evaluation's: a random resnet18 borrowed cnn-small's 9 s and took 47 s, and a basic evaluation
of 2 s was taken for a full one of 9), each the median (the lower middle of an even count)
of up to ``RECENT`` such runs: one run's time swings with what else the machine was doing
(three like 1-epoch runs trained in 2.1, 3.5 and 16.2 s beside a lesson's runs) and the
first evaluation in a process compiles the map's code, so the newest alone made the
estimate jump. A running run has left its training ETA plus that tail. The workers then
take the queue oldest first, each the next run when it is free, so a queued run starts
when the earliest-free worker reaches it. Nothing is guessed: where a
run ahead has no finished run like it, the runs behind it get no estimate.
"""
from __future__ import annotations

import heapq
import json
import time
from functools import lru_cache
from statistics import median_low

from ..config import RunConfig
from ..pretext import METHODS
from .store import in_line


def resolved(config: dict, device_type: str) -> RunConfig | None:
    """A stored run config as ``device_type``'s workers resolve it ("auto" made an encoder), or
    None for one this code can no longer read; each config validated once."""
    return _resolved_json(json.dumps(config, sort_keys=True), device_type)


@lru_cache(maxsize=2048)  # a live panel asks every 2 s, for up to 100 runs: validate each config once
def _resolved_json(config: str, device_type: str) -> RunConfig | None:
    try:
        return RunConfig.from_dict(json.loads(config)).resolved(device_type)
    except (ValueError, TypeError, KeyError):  # a dataset or method this code no longer has
        return None


def _pace(c: RunConfig) -> tuple | None:
    """What of a resolved config's method options sets an epoch's pace (``pace_options``), or
    None for options of a type this code cannot read (a run of another version): no time."""
    return _pace_json(c.method, json.dumps(c.options, sort_keys=True))


@lru_cache(maxsize=2048)  # as ``_resolved_json``: each finished run's options read once, not every 2 s
def _pace_json(method: str, options: str) -> tuple | None:
    try:
        return METHODS[method].pace_options(json.loads(options))
    except ValueError:
        return None


RECENT = 5  # finished runs like it an estimate takes the median of, newest first


class History:
    """Seconds per epoch and seconds after training, read from finished runs: the median of
    the newest ``RECENT`` like each run."""

    def __init__(self, done: list[dict], device_type: str):
        self.device_type = device_type
        per_epoch: dict[tuple, list[float]] = {}
        tail: dict[tuple, list[float]] = {}

        def add(into: dict[tuple, list[float]], key: tuple, seconds: float) -> None:
            if len(seen := into.setdefault(key, [])) < RECENT:
                seen.append(seconds)

        for r in sorted(done, key=lambda r: r["finished"] or r["created"], reverse=True):
            s, c = r.get("summary") or {}, resolved(r["config"], device_type)
            if c is None or s.get("total_seconds") is None or s.get("train_seconds") is None:
                continue
            if s.get("epochs") and METHODS[c.method].trainable and (pace := _pace(c)) is not None:
                add(per_epoch, (c.dataset, c.method, c.encoder, pace, c.batch), s["train_seconds"] / s["epochs"])
                add(per_epoch, (c.dataset, c.method, c.encoder, pace), s["train_seconds"] / s["epochs"])
            after = max(0.0, s["total_seconds"] - s["train_seconds"])
            add(tail, (c.dataset, c.encoder, c.evaluation, c.trains), after)
        # the lower middle of an even count: of two, the run not slowed by whatever slowed the other
        self.per_epoch = {k: median_low(v) for k, v in per_epoch.items()}
        self.tail = {k: median_low(v) for k, v in tail.items()}

    def _tail(self, config: dict) -> tuple[RunConfig | None, float | None]:
        """The stored ``config`` resolved, and the seconds after training of the finished runs like it
        (None for either where there is none)."""
        c = resolved(config, self.device_type)
        if c is None:
            return None, None
        trained = self.tail.get((c.dataset, c.encoder, c.evaluation, True))
        return c, trained if c.trains else self.tail.get((c.dataset, c.encoder, c.evaluation, False), trained)

    def duration(self, config: dict, epochs_done: int = 0) -> float | None:
        """Seconds from start to end of a run with this (submitted) config, or None; with
        ``epochs_done`` (a run requeued or resumed, continuing from its checkpoint) the
        epochs left only."""
        c, tail = self._tail(config)
        if tail is None:
            return None
        if not c.trains:
            return tail
        if (pace := _pace(c)) is None:
            return None
        per_epoch = self.per_epoch.get((c.dataset, c.method, c.encoder, pace, c.batch))
        if per_epoch is None and self.device_type == "cpu":
            # at another batch size where none finished at this one: on a CPU an epoch is the same images at a like
            # pace (`python -m ssrl_core bench --dataset digits --method simclr --encoder cnn-small --steps 8
            # --no-reference --batch-size B` on 2 cores, 2026-12-05: 1,169, 1,318 and 1,148 images/s at batch 32, 128
            # and 512), and contrastive-knobs' Launch said no time after four SimCLR runs on digits at the default
            # batch had finished; a GPU's pace moves with the batch, which small ones leave idle
            per_epoch = self.per_epoch.get((c.dataset, c.method, c.encoder, pace))
        return None if per_epoch is None else per_epoch * max(0, c.epochs - epochs_done) + tail

    def evaluation_left(self, run: dict, evaluating_for: float) -> float | None:
        """Seconds a run past its training has left: what came after training (embedding,
        maps, probes) in the newest finished runs like it, less the ``evaluating_for`` seconds
        it has spent on that already; None without such a run."""
        _, tail = self._tail(run["config"])
        return None if tail is None else max(0.0, tail - evaluating_for)

    def remaining(self, run: dict, now: float) -> float | None:
        """Seconds a running run has left, or None: in training, its ETA and what comes
        after; otherwise (starting, or past training) this attempt's duration, the epochs it
        continues from left out, less the time since it was claimed."""
        if run["phase"] == "training" and run["eta_s"] is not None:
            _, tail = self._tail(run["config"])
            return None if tail is None else run["eta_s"] + tail
        total = self.duration(run["config"], run.get("claimed_epoch") or 0)
        if total is None:
            return None
        return max(0.0, total - (now - (run.get("claimed_at") or run["started"] or now)))


def start_estimates(runs: list[dict], workers: int, device_type: str, now: float | None = None) -> dict[str, float]:
    """Seconds until each queued run of ``runs`` (store rows, any statuses: the finished ones
    are the history) starts, with ``workers`` workers taking the queue oldest first. Runs
    behind one whose duration cannot be estimated are left out, as are all when a running
    run's end cannot be."""
    now = time.time() if now is None else now
    history = History([r for r in runs if r["status"] == "done"], device_type)
    running = [r for r in runs if r["status"] == "running"]
    queue = sorted((r for r in runs if r["status"] == "queued"), key=in_line)
    free = [history.remaining(r, now) for r in running]
    if None in free or workers < 1:
        return {}
    free += [0.0] * max(0, workers - len(free))  # idle workers take the next run at once
    heapq.heapify(free)
    out: dict[str, float] = {}
    for r in queue:
        t = heapq.heappop(free)
        out[r["id"]] = t
        d = history.duration(r["config"], r.get("epoch") or 0)
        if d is None:
            break
        heapq.heappush(free, t + d)
    return out
