"""When a queued run starts: estimated from the runs that finished before, by simulating the
workers taking the queue oldest first."""
import pytest

from ssrl_core.config import RunConfig
from ssrl_core.runs.estimate import History, start_estimates

NOW = 10_000.0


def row(rid, status, created, summary=None, phase=None, eta_s=None, started=None, **cfg):
    return {"id": rid, "status": status, "created": created, "finished": created + 1 if status == "done" else None,
            "config": RunConfig(**cfg).to_dict(), "summary": summary, "phase": phase, "eta_s": eta_s,
            "started": started}


def done(rid, created, train_s, total_s, epochs=10, **cfg):
    return row(rid, "done", created, {"train_seconds": train_s, "total_seconds": total_s, "epochs": epochs},
               epochs=epochs, **cfg)


HISTORY = [
    done("old", 1, 999.0, 1999.0),  # an older run like it, slowed by something else: the median of the two is the lower
    done("simclr", 2, 20.0, 30.0),  # 2 s an epoch, 10 s after training
    done("byol", 3, 40.0, 52.0, method="byol"),  # 4 s an epoch, 12 s after
]


def test_a_duration_is_seconds_per_epoch_times_epochs_plus_the_tail():
    h = History(HISTORY, "cpu")
    assert h.duration(RunConfig(epochs=30).to_dict()) == pytest.approx(2 * 30 + 12)  # tail: newest on digits
    assert h.duration(RunConfig(method="random", epochs=0).to_dict()) == pytest.approx(12)  # untrained: tail only
    assert h.duration(RunConfig(method="moco").to_dict()) is None  # no moco finished here: no guess
    # another batch size: on a CPU at a like pace per image (1,148 to 1,318 images/s from batch 32 to 512), so the
    # same seconds an epoch; a GPU's moves with the batch: no guess
    assert h.duration(RunConfig(batch_size=512).to_dict()) == pytest.approx(2 * 10 + 12)
    assert History(HISTORY, "cuda").duration(RunConfig(batch_size=512).to_dict()) is None
    assert History(HISTORY, "cuda").duration(RunConfig().to_dict()) == pytest.approx(2 * 10 + 12)  # (its own batch)
    assert h.duration(RunConfig(dataset="shapes").to_dict()) is None


def test_what_comes_after_training_is_read_off_runs_evaluated_alike():
    """A random resnet18 run was given cnn-small's 9 s after training and took 47 s; a basic
    evaluation's 2 s was taken for a full one's 9 s: the tail is another encoder's or another
    evaluation's no more (no estimate rather than a wrong one). An untrained run, whose evaluation
    is the shorter (no epochs' maps), reads its own kind's, else a trained run's."""
    h = History(HISTORY, "cpu")
    assert h.duration(RunConfig(method="random", epochs=0, encoder="resnet18").to_dict()) is None
    assert h.duration(RunConfig(evaluation="basic").to_dict()) is None
    basic = done("basic", 4, 20.0, 22.0, evaluation="basic")
    assert History(HISTORY + [basic], "cpu").duration(RunConfig(evaluation="basic", epochs=5).to_dict()) == \
        pytest.approx(2 * 5 + 2)
    assert History(HISTORY + [basic], "cpu").duration(RunConfig(epochs=5).to_dict()) == pytest.approx(2 * 5 + 12)
    untrained = row("u", "done", 5, {"train_seconds": 0.0, "total_seconds": 4.0, "epochs": 0}, method="random", epochs=0)
    with_it = History(HISTORY + [untrained], "cpu")
    assert with_it.duration(RunConfig(method="random", epochs=0).to_dict()) == pytest.approx(4)
    assert with_it.duration(RunConfig(method="simclr", epochs=0).to_dict()) == pytest.approx(4)  # (untrained too)
    assert with_it.duration(RunConfig(epochs=5).to_dict()) == pytest.approx(2 * 5 + 12)  # not the untrained one's 4


def test_a_run_that_logged_less_total_time_than_training_adds_no_negative_tail():
    """A finished run whose summary says fewer seconds in all than in training (a clock
    step, a resumed run) adds 0 s after training, never a negative tail: the estimate is
    its epochs' time, not less."""
    odd = [done("odd", 1, 20.0, 15.0)]  # 2 s an epoch, total 5 s below training
    h = History(odd, "cpu")
    assert h.duration(RunConfig(epochs=10).to_dict()) == pytest.approx(2 * 10)
    assert h.duration(RunConfig(method="random", epochs=0).to_dict()) == 0


def test_a_duration_is_the_median_of_the_newest_runs_like_it():
    """Three like 1-epoch runs trained in 2.1, 3.5 and 16.2 s beside a lesson's runs: the newest
    alone made Start's estimate jump; their median holds. Only the newest RECENT count."""
    from ssrl_core.runs.estimate import RECENT

    like = [done(f"r{i}", i, t, t + 5.0, epochs=1) for i, t in enumerate((2.1, 3.5, 16.2), start=1)]
    assert History(like, "cpu").duration(RunConfig(epochs=1).to_dict()) == pytest.approx(3.5 + 5.0)
    slow_long_ago = [done(f"s{i}", i, 100.0, 105.0, epochs=1) for i in range(RECENT)]
    fast_now = [done(f"f{i}", 100 + i, 1.0, 6.0, epochs=1) for i in range(RECENT // 2 + 1)]
    assert History(slow_long_ago + fast_now, "cpu").duration(RunConfig(epochs=1).to_dict()) == pytest.approx(6.0)


def test_queued_runs_start_when_the_earliest_free_worker_reaches_them():
    running = row("r", "running", 10, phase="training", eta_s=15.0, started=NOW - 5)  # 15 s + 12 s tail left
    q = [row(f"q{i}", "queued", 20 + i, epochs=5) for i in range(3)]  # each 2 * 5 + 12 = 22 s
    one = start_estimates(HISTORY + [running] + q, workers=1, device_type="cpu", now=NOW)
    assert one == pytest.approx({"q0": 27, "q1": 49, "q2": 71})
    two = start_estimates(HISTORY + [running] + q, workers=2, device_type="cpu", now=NOW)
    assert two == pytest.approx({"q0": 0, "q1": 22, "q2": 27})  # the idle worker starts q0 now
    # the queue order is the submission order, whatever order the rows come in
    assert start_estimates(HISTORY + [running] + q[::-1], workers=1, device_type="cpu", now=NOW) == one
    # a cancelled run resumed after q2 was queued waits behind it, and trains only its epochs left
    resumed = {**row("old", "queued", 1, epochs=5), "queued_at": 30, "epoch": 3}  # 2 * 2 + 12 = 16 s
    assert start_estimates(HISTORY + [running] + q + [resumed, row("q3", "queued", 40, epochs=5)], workers=1,
                           device_type="cpu", now=NOW) == pytest.approx({**one, "old": 93, "q3": 109})


def test_no_estimate_behind_a_run_nothing_like_has_finished():
    q = [row("q0", "queued", 20), row("q1", "queued", 21, method="moco"), row("q2", "queued", 22)]
    assert start_estimates(HISTORY + q, workers=1, device_type="cpu", now=NOW) == pytest.approx({"q0": 0, "q1": 32})  # 2 * 10 + 12
    # a running run past its training: what is left of its estimated whole
    probing = row("r", "running", 10, phase="probes", started=NOW - 25)
    assert start_estimates(HISTORY + [probing, q[0]], 1, "cpu", now=NOW) == pytest.approx({"q0": 32 - 25})
    # ... of this attempt's whole, for a run resumed at epoch 8 of 10: from its claim, with 2 epochs to train
    resumed = {**probing, "started": NOW - 86_400, "claimed_at": NOW - 10, "claimed_epoch": 8}  # 2 * 2 + 12 = 16 s
    assert start_estimates(HISTORY + [resumed, q[0]], 1, "cpu", now=NOW) == pytest.approx({"q0": 16 - 10})
    stuck = row("r", "running", 10, phase="probes", started=NOW - 25, method="moco")
    assert start_estimates(HISTORY + [stuck, q[0]], 1, "cpu", now=NOW) == {}  # its end is unknown
    assert start_estimates(HISTORY + q, workers=0, device_type="cpu", now=NOW) == {}  # no worker: nothing starts


def test_a_method_option_that_changes_an_epochs_work_needs_runs_with_its_value():
    """An MAE with a decoder of 8 blocks was told the default's 81.7 s and took 142 s: the
    options that change an epoch's work are part of what a run must share with the runs it is
    timed from; a loss's weight or a temperature is not (the lessons' knobs keep their times)."""
    h = History(HISTORY, "cpu")
    assert h.duration(RunConfig(options={"temperature": 0.1}).to_dict()) == pytest.approx(2 * 10 + 12)
    assert h.duration(RunConfig(options={"temperature": "0.1"}).to_dict()) == pytest.approx(2 * 10 + 12)  # (CLI text)
    assert h.duration(RunConfig(options={"proj_dim": 1024}).to_dict()) is None
    assert h.duration(RunConfig(method="byol", options={"hidden_dim": 64}, batch_size=512).to_dict()) is None
    # the default given by name is the default
    assert h.duration(RunConfig(options={"proj_dim": 128}).to_dict()) == pytest.approx(2 * 10 + 12)
    wide = done("wide", 6, 70.0, 80.0, options={"proj_dim": 1024})
    with_it = History(HISTORY + [wide], "cpu")
    assert with_it.duration(RunConfig(options={"proj_dim": 1024}).to_dict()) == pytest.approx(7 * 10 + 10)
    assert with_it.duration(RunConfig().to_dict()) == pytest.approx(2 * 10 + 10)  # its pace is not the default's
    assert with_it.duration(RunConfig(options={"proj_dim": 1024, "temperature": 0.2}, epochs=4).to_dict()) == \
        pytest.approx(7 * 4 + 10)
    # an option this code cannot read (a stored run of another version): no time, and no error in the live panel
    odd = done("odd", 7, 10.0, 20.0, options={"proj_dim": "wide"})
    assert History(HISTORY + [odd], "cpu").duration(RunConfig(options={"proj_dim": "wide"}).to_dict()) is None


def test_every_pace_free_option_is_an_option_of_its_method():
    from ssrl_core.pretext import METHODS
    for name, m in METHODS.items():
        assert m.pace_free <= set(m.defaults), name
