import pytest
import torch

from ssrl_core.checkpoint import load_checkpoint, read_meta
from ssrl_core.config import RunConfig
from ssrl_core.train import CHECKPOINT, Cancelled, build, pretrain, lr_at
from ssrl_core.device import pick_device


def test_lr_schedule_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 0.01


def test_the_live_eta_goes_at_the_pace_of_the_latest_epoch_not_of_the_whole_run():
    """A first epoch of 10 steps at 2 s each, then a second whose steps take 0.2 s after a 1 s start:
    measured since training began, its ETA went at 1.3 s a step (15 steps in 19.8 s) when 0.36 was
    the pace; now the epoch's own, once its first quarter has run (the previous epoch's before), and
    each epoch end still to come costs what the last one's checkpoint and probe took."""
    from ssrl_core.train import Pace

    pace, t = Pace(steps_per_epoch=10), 0.0
    pace.epoch_started(t)
    for _ in range(10):
        t += 2.0
        pace.stepped(32)
    assert pace.eta(t, 30, 4) == pytest.approx(60.0) and pace.now_at(t)[1] == pytest.approx(16.0)
    pace.steps_ended(t)
    t += 0.5  # its checkpoint and per-epoch probe
    pace.epoch_ended(t)
    pace.epoch_started(t)
    t += 1.0  # the epoch's start (a hook, the first batch): its first steps are not its pace
    pace.stepped(32)
    assert pace.eta(t, 29, 3) == pytest.approx(2.0 * 29 + 0.5 * 3)  # (the first quarter: the previous epoch's pace)
    for _ in range(4):
        t += 0.2
        pace.stepped(32)
    assert pace.eta(t, 25, 3) == pytest.approx((1.0 + 0.8) / 5 * 25 + 0.5 * 3)  # this epoch's: 0.36 s a step, not 1.3
    assert pace.now_at(t)[1] == pytest.approx(5 * 32 / 1.8)


def test_a_runs_live_eta_comes_down_to_its_last_epochs_end(tmp_path, small):
    """In a real run: the ETA the steps report falls as training goes, and the last step's is the
    last epoch end's work (its checkpoint and probe), not nothing."""
    events = []
    pretrain(RunConfig(dataset=small, method="simclr", epochs=3, batch_size=32, evaluation="basic"), tmp_path / "r",
             on_event=events.append)
    steps = [e for e in events if e["kind"] == "step"]
    assert steps[-1]["step"] == steps[-1]["total_steps"] and 0 < steps[-1]["eta_s"] < steps[0]["eta_s"]
    assert all(e["images_per_s"] > 0 for e in steps)


def test_pretrain_emits_events_writes_checkpoint_and_resumes(tmp_path, small):
    cfg = RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16)
    events = []
    t = pretrain(cfg, tmp_path, on_event=events.append)
    kinds = [e["kind"] for e in events]
    assert "step" in kinds and kinds[-1] == "epoch_end" and events[-1]["epoch"] == 1
    assert t.config.encoder == "cnn-small" and t.device.type == "cpu" and t.images_per_s > 0
    step = next(e for e in events if e["kind"] == "step")
    assert {"loss", "lr", "images_per_s", "eta_s", "epoch", "epochs"} <= set(step)
    assert step["step"] == 1  # the loss curve starts at the first step, not a second in (after its steepest fall)
    assert (tmp_path / CHECKPOINT).exists()

    # asking for 2 epochs on the same folder resumes after epoch 1 instead of starting over
    first = read_meta(tmp_path / CHECKPOINT)["train_seconds"]  # the training time of the epoch it keeps
    assert 0 < first <= t.train_seconds
    events2 = []
    t2 = pretrain(RunConfig(dataset=small, method="simclr", epochs=2, batch_size=16), tmp_path, on_event=events2.append)
    assert events2[0] == {"kind": "resumed", "epoch": 1, "epochs": 2}
    [end2] = [e for e in events2 if e["kind"] == "epoch_end"]
    assert end2["epoch"] == 2
    # its training time is both attempts' (the estimates divide it by the epochs)
    assert first < read_meta(tmp_path / CHECKPOINT)["train_seconds"] <= t2.train_seconds


def test_a_runs_steps_see_its_warm_up_and_progress_and_its_epochs_record_their_steps_mean(tmp_path, small, monkeypatch):
    """One run of 2 epochs of 8 steps (128 training images, 16 a step), read step by step."""
    import math

    from ssrl_core import train as train_module

    progress, logged, step = [], [], train_module.train_step

    def recording(method, *a, **k):
        progress.append(method.progress)
        loss, logs = step(method, *a, **k)
        logged.append({key: float(v) for key, v in logs.items()})
        return loss, logs

    monkeypatch.setattr(train_module, "train_step", recording)
    events = []
    t = train_module.pretrain(RunConfig(dataset=small, method="simclr", epochs=2, batch_size=16, lr=0.003), tmp_path,
                              on_event=events.append)
    # the learning rate warms up over a tenth of the 16 steps (1), then decays along a cosine
    lr = {e["step"]: e["lr"] for e in events if e["kind"] == "step"}
    assert math.isclose(lr[1], 0.003) and math.isclose(lr[9], 0.003 * 0.5 * (1 + math.cos(math.pi * 7 / 15)))
    assert progress == [s / 16 for s in range(16)]  # the share of the run's steps done; epoch 2 goes on from 0.5
    ends = [e for e in events if e["kind"] == "epoch_end"]
    assert len(ends) == 2 and logged[0]
    for end, steps in zip(ends, (logged[:8], logged[8:])):
        for key in logged[0]:
            assert abs(end[key] - sum(s[key] for s in steps) / 8) < 1e-5, key  # the mean, not the sum
    # the epoch probe reads the spread of the method's embedding (SimCLR's projector output), not the features
    z_dim = t.method.embedder()(torch.zeros(2, t.method.encoder.feature_dim)).shape[1]
    assert z_dim != t.method.encoder.feature_dim
    assert [e["embedding_dim"] for e in ends] == [z_dim, z_dim]


def test_cancel_stops_between_steps_and_keeps_the_last_checkpoint(tmp_path, small):
    cfg = dict(dataset=small, method="rotation", batch_size=8)  # 16 steps an epoch
    pretrain(RunConfig(epochs=1, **cfg), tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    calls = {"n": 0}

    def should_cancel():
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled, match="cancelled at epoch 2 of 3, step 3"):
        pretrain(RunConfig(epochs=3, **cfg), tmp_path, should_cancel=should_cancel)
    assert calls["n"] == 4  # it stopped at the first step boundary after the request
    assert (tmp_path / CHECKPOINT).read_bytes() == before  # epoch 1's checkpoint, as it was
    events = []
    pretrain(RunConfig(epochs=2, **cfg), tmp_path, on_event=events.append)
    assert events[0] == {"kind": "resumed", "epoch": 1, "epochs": 2}  # and the run goes on from it


def test_a_resumed_optimizers_moments_are_laid_out_as_their_parameters(tmp_path):
    """The file holds the moments contiguous; the conv weights are channels-last. Loaded as they
    were, a resumed AdamW on a GPU left its multi-tensor path for the rest of the run (a review
    found 4 of 4 conv weights mismatched after a resume); values unchanged."""
    import torch

    from ssrl_core.checkpoint import save_checkpoint

    def model_and_optimizer():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 4, 3)).to(memory_format=torch.channels_last)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-2)

    model, opt = model_and_optimizer()
    model(torch.rand(2, 3, 8, 8).to(memory_format=torch.channels_last)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, {"epoch": 1})
    model2, opt2 = model_and_optimizer()
    load_checkpoint(tmp_path / "c.safetensors", model2, opt2)
    for p, p2 in zip(model.parameters(), model2.parameters()):
        for key in ("exp_avg", "exp_avg_sq"):
            assert opt2.state[p2][key].stride() == p2.stride() == opt.state[p][key].stride(), (key, p2.shape)
            assert torch.equal(opt2.state[p2][key], opt.state[p][key])
        assert opt2.state[p2]["step"] == opt.state[p]["step"]


def test_checkpoint_is_safetensors_and_a_foreign_file_is_refused(tmp_path):
    cfg = RunConfig(dataset="digits", method="random")
    pretrain(cfg, tmp_path)
    path = tmp_path / CHECKPOINT
    assert path.read_bytes()[8:9] == b"{"  # safetensors: 8-byte header length, then JSON
    model = build(cfg.resolved("cpu"), pick_device("cpu"), _digits())
    meta, _ = load_checkpoint(path, model)
    assert meta["done"] is True
    import pickle

    path.write_bytes(pickle.dumps({"evil": "payload"}))
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        load_checkpoint(path, model)


def _digits():
    from ssrl_core.data import load_dataset

    return load_dataset("digits")


def test_a_folder_holding_another_run_is_refused_not_overwritten(tmp_path, small):
    pretrain(RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16), tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    for other in (RunConfig(dataset=small, method="rotation", epochs=1),
                  RunConfig(dataset=small, method="random"),
                  RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16, seed=1),
                  # the learning rate and weight decay are the whole run's in its config (and reproduce.sh)
                  RunConfig(dataset=small, method="simclr", epochs=2, batch_size=16, lr=0.01),
                  RunConfig(dataset=small, method="simclr", epochs=2, batch_size=16, weight_decay=0.5)):
        with pytest.raises(ValueError, match="already holds a run with .*choose another output folder"):
            pretrain(other, tmp_path)
    assert (tmp_path / CHECKPOINT).read_bytes() == before


def test_the_same_run_written_another_way_continues(tmp_path, small):
    """Spaces in --augment and options given at their defaults were "a different run": the
    command an export writes (every option spelled out) was refused on its own folder."""
    pretrain(RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16, augment="crop, flip"), tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    again = pretrain(RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16, augment="crop,flip",
                               options={"temperature": 0.5, "proj_dim": 128}), tmp_path)
    assert again.config.augment == "crop,flip" and (tmp_path / CHECKPOINT).read_bytes() == before  # not retrained
    with pytest.raises(ValueError, match=r"already holds a run with options=\{\}, not options=\{'temperature': 0.2\}"):
        pretrain(RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16, augment="crop,flip",
                           options={"temperature": 0.2}), tmp_path)
    # a batch left to the dataset's default, which changed (a set re-imported): how to continue is said
    with pytest.raises(ValueError, match=r"with batch_size=16, not batch_size=8 \(to continue it, give its own: "
                                         r"--batch-size 16\): choose another output folder"):
        pretrain(RunConfig(dataset=small, method="simclr", epochs=1, batch_size=8, augment="crop,flip"), tmp_path)


def test_a_run_continued_with_more_epochs_is_evaluated_afresh_and_never_with_fewer(tmp_path, small):
    """``train`` again on the same folder: the earlier epochs' maps, accuracies and cached
    probes must not be read back as the longer run's; fewer epochs than it trained is refused."""
    import json

    from ssrl_core.runs.execute import execute

    cfg = dict(dataset=small, method="simclr", batch_size=16)
    execute(RunConfig(epochs=1, **cfg), tmp_path)
    probes = tmp_path / "probes.json"
    assert (tmp_path / "map_umap.npy").exists() and (tmp_path / "snapshots" / "maps.npz").exists()
    probes.write_text(json.dumps({**json.loads(probes.read_text()), "left from epoch 1": True}))
    kept = (tmp_path / "snapshots" / "e00001.npy").read_bytes()

    summary = execute(RunConfig(epochs=2, evaluation="basic", **cfg), tmp_path)  # no map, no probes this time
    assert summary["epochs"] == 2 and json.loads((tmp_path / "summary.json").read_text())["epochs"] == 2
    for stale in ("map_umap.npy", "probes.json", "snapshots/maps.npz"):
        assert not (tmp_path / stale).exists(), stale
    assert (tmp_path / "snapshots" / "e00001.npy").read_bytes() == kept  # epoch 1's own snapshot stays
    assert json.loads((tmp_path / "metrics.json").read_text())["knn_accuracy"] == summary["knn_accuracy"]

    before = (tmp_path / CHECKPOINT).read_bytes()
    with pytest.raises(ValueError, match="already holds this run trained for 2 epochs, more than the 1 asked for: "
                                         "ask for 2 to evaluate it again or more to continue it"):
        pretrain(RunConfig(epochs=1, **cfg), tmp_path)
    assert (tmp_path / CHECKPOINT).read_bytes() == before
    execute(RunConfig(epochs=2, evaluation="basic", **cfg), tmp_path)  # the same epochs: evaluated again, trained no more
    assert read_meta(tmp_path / CHECKPOINT)["epoch"] == 2


def test_a_run_without_a_batch_size_takes_its_datasets_default_and_records_it():
    from ssrl_core.config import default_batch
    from ssrl_core.train import Loop

    small = RunConfig(dataset="digits", method="simclr")
    assert small.batch_size is None and small.batch == 32 == default_batch("digits")
    loop = Loop.for_config(small)
    assert loop.batch == 32 and loop.cfg.batch_size == 32  # 44 steps per epoch on 1,438 images
    assert loop.images.shape[0] // loop.batch == 44
    assert RunConfig(dataset="shapes", method="simclr").resolved("cpu").batch_size == 128
    assert RunConfig(dataset="digits", method="simclr", batch_size=256).resolved("cpu").batch_size == 256
    with pytest.raises(ValueError, match="batch size must be a whole number"):
        RunConfig(dataset="digits", batch_size=1)


def test_an_imported_set_defaults_to_a_batch_scaled_to_its_size(tmp_path):
    """digits' measured rule (about 40 steps an epoch, 1,438 images -> 32) for sets the tool
    has not measured, from 16 up (where SimCLR stops warning); tiny ones still get at least
    4 steps an epoch."""
    from ssrl_core.config import batch_for, default_batch
    from ssrl_core.data.custom import import_images

    from .test_import_images import make_zip, png

    assert batch_for(1438) == 32 == default_batch("digits")
    assert [batch_for(n) for n in (10, 20, 60, 100, 2000, 5000, 8000, 60000)] == [2, 4, 8, 16, 32, 64, 128, 128]
    assert all(n // batch_for(n) >= 4 for n in range(8, 3000))
    members = {f"{c}/{i}.png": png((40 * i % 255, 0, 90 * k)) for k, c in enumerate(("a", "b")) for i in range(60)}
    import_images(make_zip(tmp_path / "ab.zip", members), "ab")  # 96 for training
    cfg = RunConfig(dataset="ab", method="simclr")
    assert default_batch("ab") == 16 and cfg.batch == 16 and cfg.resolved("cpu").batch_size == 16  # 6 steps an epoch
    assert default_batch("shapes") == 128 and default_batch("no-such-set") == 128


def test_a_float16_run_resumed_from_its_checkpoint_scales_its_loss_as_if_never_stopped(tmp_path, monkeypatch, small):
    """The gradient scaler's state is saved with the checkpoint. It is what a float16 run
    (older GPUs) has learnt about its gradients: a resumed run that started it over at 2**16
    would skip steps (those whose gradients overflow) that the uninterrupted run took. Shown
    on the CPU with a scaler over float32 that grows every second step: the loss scale of
    each step of epoch 2 is the same whether or not the run stopped after epoch 1."""
    import torch

    from ssrl_core import train
    from ssrl_core.device import Precision

    monkeypatch.setattr(train, "precision_for", lambda device, preference: Precision(None, True))
    monkeypatch.setattr(train, "grad_scaler", lambda device, precision: torch.amp.GradScaler("cpu", growth_interval=2))
    scales: list[float] = []
    step = train.train_step

    def recorded(method, optimizer, scaler, *args):
        scales.append(scaler.get_scale())
        return step(method, optimizer, scaler, *args)

    monkeypatch.setattr(train, "train_step", recorded)
    cfg = dict(dataset=small, method="simclr", batch_size=32)  # 4 steps an epoch
    pretrain(RunConfig(**cfg, epochs=2), tmp_path / "straight")
    straight, steps = list(scales), len(scales) // 2
    assert straight[steps] > straight[0]  # it grew during epoch 1
    pretrain(RunConfig(**cfg, epochs=1), tmp_path / "resumed")
    scales.clear()
    pretrain(RunConfig(**cfg, epochs=2), tmp_path / "resumed")
    assert scales == straight[steps:]


def test_moco_has_v2s_head_and_a_run_trained_with_the_old_bn_head_still_loads_and_resumes(tmp_path, small):
    """MoCo v2's head has no batch norm; until 2026-12-02 MoCo's had one, and a run trained
    then records no option saying so: its checkpoint's weights do (``legacy_options``)."""
    import json

    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from ssrl_core.train import load_trained

    def head_bn(method) -> bool:
        return any(isinstance(m, torch.nn.BatchNorm1d) for m in method.projector.modules())

    cfg = dict(dataset=small, method="moco", batch_size=16)
    pretrain(RunConfig(epochs=1, **cfg), tmp_path / "new")
    assert not head_bn(load_trained(tmp_path / "new").method)

    old = tmp_path / "old"
    pretrain(RunConfig(epochs=1, options={"head_bn": True}, **cfg), old)
    ckpt = old / CHECKPOINT
    meta = read_meta(ckpt)  # rewritten as before the option existed: no head_bn in its config
    meta["config"]["options"].pop("head_bn")
    with safe_open(str(ckpt), framework="pt") as f:
        metadata = {**f.metadata(), "meta": json.dumps(meta)}
    save_file(load_file(str(ckpt)), str(ckpt), metadata=metadata)
    loaded = load_trained(old)
    assert loaded.config.options["head_bn"] is True and head_bn(loaded.method)
    events = []
    t = pretrain(RunConfig(epochs=2, **cfg), old, on_event=events.append)  # resumed as it trained
    assert events[0] == {"kind": "resumed", "epoch": 1, "epochs": 2}
    assert t.config.options["head_bn"] is True and head_bn(t.method)

    # ... and is not taken for today's MoCo with the same settings (a lesson's or the app's reuse)
    import shutil

    from ssrl_core import lessons
    from ssrl_core.runs.store import RunStore

    store = RunStore(tmp_path / "home" / "runs.db")
    want = RunConfig(epochs=2, **cfg)
    ids = {}
    for name, trained in (("old", old), ("new", tmp_path / "new")):
        ids[name] = rid = store.submit(want)
        store.claim("w")
        shutil.copytree(trained, store.get(rid)["run_dir"], dirs_exist_ok=True)
        store.finish(rid, "done", summary={})
        best = lessons.best_runs({"moco": want, "bn": RunConfig(epochs=2, options={"head_bn": True}, **cfg)},
                                 store, "cpu")
        assert (best["moco"] and best["moco"]["id"]) == ids.get("new")
        assert best["bn"]["id"] == ids["old"]  # the old run is the BN'd head's, as it trained


def test_a_resumed_runs_total_seconds_counts_its_earlier_attempts_training_too(tmp_path, small):
    """train_seconds counts every attempt's kept epochs; total_seconds must too, or the
    start estimates' 'after training' time (total less train) of a resumed run is too
    short, or nothing (a first attempt longer than the second's evaluation)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from ssrl_core.runs.execute import execute

    cfg = dict(dataset=small, method="rotation", batch_size=16, evaluation="basic")
    pretrain(RunConfig(epochs=1, **cfg), tmp_path)
    ckpt = tmp_path / CHECKPOINT
    meta = {**read_meta(ckpt), "train_seconds": 1000.0}  # the first attempt's epoch took 1000 s
    with safe_open(str(ckpt), framework="pt") as f:
        metadata = {**f.metadata(), "meta": json.dumps(meta)}
    save_file(load_file(str(ckpt)), str(ckpt), metadata=metadata)
    s = execute(RunConfig(epochs=2, **cfg), tmp_path)  # resumed: trains epoch 2, then evaluates
    assert s["train_seconds"] > 1000
    assert s["total_seconds"] > s["train_seconds"]  # the evaluation's time is after training
    # resumed once more with every epoch trained (cancelled during its evaluation): nothing trains, and the
    # summary keeps the earlier attempts' last loss and speed instead of none and 0 images/s
    again = pretrain(RunConfig(epochs=2, **cfg), tmp_path)
    assert again.final_loss == s["final_loss"] is not None
    # the final loss is the last epoch's mean, the loss curve's last point (Compare showed the last step's beside
    # that curve: 2.641 in the table, 2.661 where the curve ended)
    epochs = [json.loads(line) for line in (tmp_path / "epochs.jsonl").read_text().splitlines()]
    assert s["final_loss"] == pytest.approx(epochs[-1]["loss"], rel=1e-6)
    # the speed over the same epochs as train_seconds, every attempt's (it was the last attempt's alone: 900
    # images/s beside 23.8 s for 2,816 images in a review), so the two agree, and again after nothing trained
    trained = 2 * s["steps_per_epoch"] * s["batch_size_used"]
    assert s["images_per_s"] == pytest.approx(trained / s["train_seconds"], abs=0.051)  # (kept to 1 decimal)
    assert again.images_per_s == pytest.approx(trained / s["train_seconds"], rel=1e-3)


@pytest.mark.parametrize("method, options", [("inpainting", {"mask_mode": "random"}), ("deepcluster", {"n_clusters": 8})])
def test_a_run_stopped_and_resumed_trains_as_one_never_stopped(tmp_path, small, method, options):
    """The loop's generator (augmentations, batch order) and PyTorch's global one (a method's
    own draws: inpainting's masks at random places, DeepCluster's k-means starts and new
    heads) both continue from the checkpoint, so a run stopped after its first epoch and
    resumed ends with the very weights of the same run never stopped."""
    import torch
    from safetensors.torch import load_file

    cfg = RunConfig(dataset=small, method=method, epochs=2, batch_size=32, options=options)
    pretrain(cfg, tmp_path / "whole")

    def stop_after_the_first_epoch(event):
        if event["kind"] == "epoch_end" and event["epoch"] == 1:
            raise Cancelled("stopped", done=1, epochs=2)

    with pytest.raises(Cancelled):
        pretrain(cfg, tmp_path / "stopped", on_event=stop_after_the_first_epoch)
    pretrain(cfg, tmp_path / "stopped")
    whole, resumed = (load_file(tmp_path / d / CHECKPOINT) for d in ("whole", "stopped"))
    weights = [k for k in whole if k.startswith("model.")]
    assert weights and all(torch.equal(whole[k], resumed[k]) for k in weights)


def test_a_run_stopped_between_its_checkpoint_and_its_epochs_record_keeps_every_epoch(tmp_path, small, monkeypatch):
    """A Ctrl-C in the seconds after an epoch's checkpoint was written, before its record in
    epochs.jsonl and its snapshot were: the run continued from that epoch, and the epoch was
    missing for good from kNN over epochs, the map's slider and a lesson's `epoch:KEY@1`."""
    import json

    import numpy as np

    from ssrl_core.evaluate import epochs as E

    cfg = RunConfig(dataset=small, method="rotation", epochs=2, batch_size=32)
    pretrain(cfg, tmp_path / "whole")
    measure = E.EpochProbe.__call__

    def interrupted(self, encoder, epoch, *args, **kwargs):
        if epoch == 1:
            raise KeyboardInterrupt
        return measure(self, encoder, epoch, *args, **kwargs)

    monkeypatch.setattr(E.EpochProbe, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrain(cfg, tmp_path / "stopped")
    assert read_meta(tmp_path / "stopped" / CHECKPOINT)["epoch"] == 1  # the checkpoint was written, the record not
    monkeypatch.setattr(E.EpochProbe, "__call__", measure)
    pretrain(cfg, tmp_path / "stopped")

    def records(d):
        return [json.loads(line) for line in (tmp_path / d / E.EPOCHS_LOG).read_text().splitlines()]

    whole, stopped = records("whole"), records("stopped")
    assert [r["epoch"] for r in stopped] == [0, 1, 2]
    for a, b in zip(whole, stopped):  # the same record, measured on the same weights (all but the times)
        assert {k: v for k, v in a.items() if k not in ("seconds", "images_per_s")} == \
            pytest.approx({k: v for k, v in b.items() if k not in ("seconds", "images_per_s")})
    assert np.array_equal(np.load(tmp_path / "whole" / E.SNAPSHOTS / "e00001.npy"),
                          np.load(tmp_path / "stopped" / E.SNAPSHOTS / "e00001.npy"))


def test_training_further_forgets_the_earlier_evaluation_and_keeps_the_training(tmp_path):
    """A run continued with more epochs: what evaluating the earlier encoder wrote (its scores,
    maps, embeddings, cached probes, the map-evolution frames) goes, or it would be read back as
    the longer run's; the checkpoint, config, epochs and each epoch's snapshot stay."""
    from ssrl_core.evaluate.epochs import EPOCHS_LOG, MAPS, SNAPSHOTS
    from ssrl_core.runs import artifacts as art

    run = tmp_path / "run"
    (run / SNAPSHOTS).mkdir(parents=True)
    stale = ["summary.json", "metrics.json", "embeddings.npy", "map_pca.npy", "map_umap.npy", "probes.json",
             f"{SNAPSHOTS}/{MAPS}"]
    kept = [art.CHECKPOINT, art.CONFIG, art.DATASET, EPOCHS_LOG, f"{SNAPSHOTS}/e00001.npy"]
    for name in stale + kept:
        (run / name).write_bytes(b"x")
    art.forget_evaluation(run)
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()) == sorted(kept)
    art.forget_evaluation(run)  # nothing left to forget: no error
