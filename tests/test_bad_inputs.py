"""Bad input on every surface (links, the command line, files a user hands in): a message
that says what was wrong and what to do, never a traceback, nothing lost or misplaced."""
import json
from pathlib import Path

import pytest

from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore

from .test_app import open_page
from .test_cli import cli


def _warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


# -- links -----------------------------------------------------------------------------------

def test_a_link_naming_a_run_twice_shows_it_once(finished_run):
    a, b = finished_run("random"), finished_run("random")
    for hide in ("", "controls"):  # the box, and a teacher's link without one
        at = open_page("compare", runs=f"{a},{a},{b}", **({"hide": hide} if hide else {}))
        assert not at.exception
        if not hide:
            assert at.multiselect(key="cmp_runs").value == [a, b]
        assert at.query_params["runs"] == f"{a},{b}"


def test_a_links_bad_run_ids_are_named_with_why_and_its_good_ones_kept(finished_run):
    a, b = finished_run("random"), finished_run("random")
    queued = RunStore().submit(RunConfig(dataset="digits", method="simclr", epochs=1))
    at = open_page("compare", runs=f"{a},nope,{queued},{b}")
    assert at.multiselect(key="cmp_runs").value == [a, b]  # the runs that can be shown still are
    said = _warnings(at)
    assert "nope" in said and "no run has that id" in said
    assert f"{queued}: " not in said  # not "unknown" either: it will be there when done, and the page waits for it
    waiting = lambda at: " ".join(c.value for c in at.caption)  # noqa: E731
    assert f"Waiting for {queued}, which the link names: it is still queued." in waiting(at)
    at = open_page("explore", run=queued)
    assert f"Waiting for {queued}, which the link names: it is still queued." in waiting(at) and not at.warning


# -- the command line ------------------------------------------------------------------------

def _cli(capsys, *args) -> tuple[int, str]:
    """``python -m ssrl_core ARGS`` in this process: (exit status, stderr)."""
    res = cli(*args, check=False, capsys=capsys)
    return res.returncode, res.stderr


def test_a_seed_a_run_cannot_train_with_is_refused_at_submission(capsys):
    for seed in ("-1", str(2**63)):  # numpy's generators refuse the first mid-run; SQLite cannot store the second
        rc, err = _cli(capsys, "submit", "--dataset", "digits", "--method", "simclr", "--seed", seed)
        assert rc == 2 and f"seed must be a whole number from 0 to {2**31 - 1}, got {seed}" in err
    assert RunStore().list() == []  # nothing queued


def test_the_largest_settings_the_help_gives_are_accepted_and_one_more_refused():
    """The help and the errors say seed 0 to 2147483647, epochs 0 to 10000, batch size 2 to
    65536: both ends are settings a run may have, one past them is refused naming the setting."""
    from ssrl_core.config import SEED_MAX, BadSetting

    cfg = RunConfig(dataset="digits", method="simclr", seed=SEED_MAX, epochs=10_000, batch_size=65_536)
    assert (cfg.seed, cfg.epochs, cfg.batch) == (2**31 - 1, 10_000, 65_536)
    assert RunConfig(dataset="digits", method="simclr", seed=0, epochs=0, batch_size=2).batch == 2
    for key, value in (("seed", SEED_MAX + 1), ("epochs", 10_001), ("batch_size", 65_537), ("batch_size", 1)):
        with pytest.raises(BadSetting) as e:
            RunConfig(dataset="digits", method="simclr", **{key: value})
        assert e.value.field == key and f"got {value}" in str(e.value)


def test_an_option_given_twice_is_refused_not_silently_the_last(capsys):
    rc, err = _cli(capsys, "submit", "--dataset", "digits", "--method", "simclr",
                   "--option", "temperature=0.2", "--option", "temperature=0.3")
    assert rc == 2 and "temperature is given twice (0.2 and 0.3)" in err
    assert RunStore().list() == []


def test_out_naming_a_file_is_refused_in_a_line_and_the_file_kept(capsys, finished_run, tmp_path):
    rid = finished_run("random")
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    for args in (["export", "--run", rid, "--out", str(file)],
                 ["lesson", "four-families", "--no-train", "--out", str(file)],
                 ["train", "--dataset", "digits", "--method", "simclr", "--epochs", "1", "--out", str(file)]):
        rc, err = _cli(capsys, *args)
        assert rc == 2 and err.startswith("error: ") and "Traceback" not in err, (args, err)
        assert f"--out {file} is a file" in err and "folder" in err, err
    assert file.read_text() == "mine"


def test_a_data_dir_that_is_a_file_is_refused_and_one_a_dataset_does_not_read_is_left_out(capsys, tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    for dataset in ("digits", "shapes", "cifar10"):  # cifar10 advised copying its files "into" the file
        rc, err = _cli(capsys, "submit", "--dataset", dataset, "--method", "random", "--data-dir", str(file))
        assert rc == 2 and f"--data-dir {file} is a file, not a folder" in err, err
    assert RunStore().list() == [] and file.read_text() == "mine"
    rc, err = _cli(capsys, "submit", "--dataset", "digits", "--method", "random", "--data-dir", str(tmp_path))
    assert rc == 0 and "warning: --data-dir is not used: digits reads no data folder" in err, err
    [run] = RunStore().list()
    assert run["config"]["data_dir"] is None  # the same run as without it: same references, same reproduce.sh
    rc, err = _cli(capsys, "submit", "--dataset", "shapes", "--method", "random", "--data-dir", str(tmp_path))
    assert rc == 0 and "not used" not in err
    assert {r["config"]["data_dir"] for r in RunStore().list()} == {None, str(tmp_path)}


# -- augmentation strengths (CLI --augment, ?augment=, the Augment page's sliders) ------------------

def test_augmentation_strengths_that_break_training_are_refused_with_why():
    import pytest

    from ssrl_core.augment import parse_augment

    for spec, words in [("crop(min_scale=nan)", "crop(min_scale=nan): must be a finite number"),
                        ("noise(sigma=inf)", "noise(sigma=inf): must be a finite number"),
                        ("color_jitter(brightness=inf)", "must be a finite number"),
                        ("crop(min_ratio=0)", "crop(min_ratio=0): must be above 0"),
                        ("erase(max_area=nan)", "erase(max_area=nan): must be a finite number"),
                        ("blur(min_sigma=0)", "blur(min_sigma=0): must be above 0"),
                        # past where the op does anything more: no pixel inverted, a hue turned past every colour
                        ("solarize(threshold=5)", "solarize(threshold=5): must be between 0 and 1 (pixels run from 0 "
                                                  "to 1: above 1, no pixel is inverted)"),
                        ("color_jitter(hue=0.9)", "color_jitter(hue=0.9): must be between 0 and 0.5"),
                        # common slips, said as such ("cannot read augmentation spec at 'Flip'" alone did not)
                        ("Flip", "cannot read augmentation spec at 'Flip' (names are written in lowercase: 'flip')"),
                        ("crop,FLIP", "at 'FLIP' (names are written in lowercase: 'flip')"),
                        ("flip crop", "at 'flip crop' (separate ops with commas, e.g. 'crop,flip')"),
                        ("flip(0.5)", "flip(0.5): write each parameter as name=value, e.g. flip(p=0.5); flip takes p")]:
        with pytest.raises(ValueError, match=r".*") as e:
            parse_augment(spec)
        assert words in str(e.value), (spec, str(e.value))


def test_a_strong_blur_on_small_images_blurs_instead_of_failing():
    import torch

    from ssrl_core.augment import parse_augment

    x = torch.rand(4, 3, 8, 8)  # the smallest imported size
    y = parse_augment("blur(p=1,min_sigma=2,max_sigma=20)")(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.isfinite(y).all()


# -- damaged or hand-edited run folders ----------------------------------------------------------

def _damage(rid: str, name: str, content: bytes) -> None:
    from pathlib import Path

    (Path(RunStore().get(rid)["run_dir"]) / name).write_bytes(content)


def test_an_export_of_a_finished_run_missing_its_embeddings_says_the_folder_was_damaged(finished_run, capsys,
                                                                                         tmp_path):
    """It said "the run's evaluation did not finish" of a run that is done (its evaluation wrote
    the file, since deleted), where Explore rightly said the folder was damaged."""
    from pathlib import Path

    from .test_cli import cli

    rid = finished_run("random", references=False)
    (Path(RunStore().get(rid)["run_dir"]) / "embeddings.npy").unlink()
    res = cli("export", "--run", rid, "--out", str(tmp_path / "out"), check=False, capsys=capsys)
    assert res.returncode == 2 and "has no embeddings.npy: the run folder was damaged or edited by hand" in res.stderr


def test_explore_says_a_finished_runs_map_file_went_missing_not_that_it_never_had_one(finished_run):
    """Its map_umap.npy deleted, Explore said "this run has no UMAP (its evaluation made none)" of
    a run whose evaluation made one (a chaos review)."""
    from pathlib import Path

    rid = finished_run("simclr")
    (Path(RunStore().get(rid)["run_dir"]) / "map_umap.npy").unlink()
    said = " ".join(c.value for c in open_page("explore", run=rid).caption)
    assert "its UMAP, which its evaluation made, is missing from its folder (damaged or edited by hand)" in said


def test_a_run_with_an_unreadable_config_opens_on_every_page_and_the_cli_says_which_file(finished_run, capsys,
                                                                                       tmp_path):
    from pathlib import Path

    from ssrl_core.evaluate.suite import reference_cache
    from ssrl_core.runs.artifacts import RunArtifacts

    good, bad = finished_run("random", references=False), finished_run("random", references=False)
    folder = RunArtifacts(Path(RunStore().get(bad)["run_dir"]))
    reference_cache(folder.run_config()).get("random-knn/label", lambda: {"20": 0.5})  # the only reference
    for content in (b'\xff\xfe garbage', json.dumps({"dataset": "digits", "future_key": 1}).encode(), b"[1, 2]"):
        _damage(bad, "config.json", content)
        # its references are still found, through the config its checkpoint records (the one a probe
        # job computes them with): otherwise pages asked for probes that never showed up
        assert folder.references() == {"random-knn/label": {"20": 0.5}}
        _damage(bad, "epochs.jsonl", b'\xff\xfe\n[1]\n"x"\n')  # a cut or overwritten log: no curve, no crash
        for page in ("compare", "evaluate", "invariance"):
            open_page(page, runs=f"{bad},{good}")  # asserts no exception
        rc, err = _cli(capsys, "export", "--run", bad, "--out", str(tmp_path / "export"))
        assert rc == 2 and "config.json cannot be read" in err and "train the run again" in err, err
    assert not (tmp_path / "export").exists() or not any((tmp_path / "export").iterdir())  # nothing half-written


def test_explore_says_when_a_runs_embeddings_are_damaged_and_ignores_an_old_index_file(finished_run, capsys,
                                                                                       tmp_path):
    rid = finished_run("random")
    # a run folder from before the index was made in memory holds an index.faiss: damaged or not, it is
    # not read (the neighbours come from the embeddings)
    _damage(rid, "index.faiss", b"garbage")
    at = open_page("explore", run=rid, image="3")
    assert any("8 nearest neighbours" in m.value for m in at.markdown)
    _damage(rid, "embeddings.npy", b"\x93NUMPY")  # cut short
    at = open_page("explore", run=rid, image="3")
    assert "embeddings.npy cannot be read" in _warnings(at) and "train the run again" in _warnings(at)
    from ssrl_core.cli import main

    assert main(["export", "--run", rid, "--out", str(tmp_path / "export")]) == 2
    assert "embeddings.npy cannot be read" in capsys.readouterr().err  # not "the evaluation did not finish"


def test_a_nickname_with_a_line_break_is_refused_by_the_cli_and_cleaned_from_a_link(capsys):
    rc, err = _cli(capsys, "submit", "--dataset", "digits", "--method", "simclr", "--nickname", "ada\nrm -rf")
    assert rc == 2 and "nickname" in err and "line break" in err
    assert RunStore().list() == []
    at = open_page(who="ada\n**bob**\tx")
    assert at.session_state["nickname"] == "ada **bob** x"  # one line, as the box could have been typed


def test_a_worker_idle_exit_that_is_no_duration_is_refused(capsys):
    for value in ("-5", "nan", "inf"):  # with nan the worker served forever
        rc, err = _cli(capsys, "worker", "--idle-exit", value)
        assert rc == 2 and f"--idle-exit must be a number of seconds, 0 or more, got {value}" in err, err


def test_a_damaged_checkpoint_is_never_advised_away_from_a_finished_run(finished_run, capsys, tmp_path):
    """Deleting the checkpoint is the way out for a run being continued, not for a finished
    one: its weights are what every later probe reads. A probe says so, and the file stays."""
    from pathlib import Path

    from ssrl_core.train import pretrain

    rid = finished_run("random")
    _damage(rid, "checkpoint.safetensors", b"\x00" * 64)
    rc, err = _cli(capsys, "probe", "--run", rid)
    assert rc == 2 and "not a readable safetensors checkpoint" in err and "delete" not in err, err
    assert "results so far stay" in err and "Train it again" in err
    assert (Path(RunStore().get(rid)["run_dir"]) / "checkpoint.safetensors").read_bytes() == b"\x00" * 64

    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x00" * 64)  # a run being continued: start over
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint .*: delete it to "
                                          "start the run over"):
        pretrain(RunConfig(dataset="digits", method="rotation", epochs=1), tmp_path)


def test_out_holding_files_of_its_own_or_a_run_is_refused_and_left_as_it_was(capsys, finished_run, tmp_path):
    """train wrote a run among a folder's own files (replacing a config.json or metrics.json
    of the same name), and export into another run's folder replaced its checkpoint."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text("my notes")
    rc, err = _cli(capsys, "train", "--dataset", "digits", "--method", "random", "--epochs", "0", "--out", str(mine))
    assert rc == 2 and err == (f"error: --out {mine} holds files of its own and no run (config.json): give a new or "
                               "empty folder (or a run's folder, to continue that run); nothing was written\n")
    assert [p.name for p in mine.iterdir()] == ["config.json"] and (mine / "config.json").read_text() == "my notes"
    for command in (["train", "--dataset", "digits", "--method", "random", "--epochs", "0"],
                    ["export", "--run", finished_run("random")]):
        rc, err = _cli(capsys, *command, "--out", " ")
        assert rc == 2 and "--out is empty: give the path of a folder" in err, err  # not the current folder
    other = RunStore().get(finished_run("random"))["run_dir"]
    before = {p.name: p.read_bytes() for p in Path(other).iterdir() if p.is_file()}
    rc, err = _cli(capsys, "export", "--run", finished_run("random"), "--out", other)
    assert rc == 2 and err == (f"error: {other} holds a run (its config.json), whose files would be replaced: give "
                               "a new folder for the export; nothing was written\n")
    rc, err = _cli(capsys, "export", "--run", finished_run("random"), "--out", f"{other}/export")
    assert rc == 2 and err == (f"error: {other}/export is inside the run folder {other}, and deleting the run would "
                               "delete it: give a folder of your own for the export; nothing was written\n")
    assert not Path(other, "export").exists()
    assert {p.name: p.read_bytes() for p in Path(other).iterdir() if p.is_file()} == before


def test_a_full_disk_while_training_is_said_and_leaves_no_half_file(capsys, tmp_path, monkeypatch):
    """numpy reports a short write as "N requested and M written", without an errno: the CLI
    said "check the path and its permissions" and left half of embeddings.npy behind."""
    import numpy as np

    save = np.save

    def full(file, array, *args, **kwargs):
        if "embeddings" not in getattr(file, "name", str(file)):
            return save(file, array, *args, **kwargs)
        file.write(b"\x93NUMPY" + b"0" * 100)  # the start of it, then the disk is full
        raise OSError(f"{array.nbytes} requested and 106 written")

    monkeypatch.setattr(np, "save", full)
    out = tmp_path / "run"
    rc, err = _cli(capsys, "train", "--dataset", "digits", "--method", "random", "--epochs", "0", "--evaluation",
                   "basic", "--out", str(out))
    # after the progress lines (stderr is no terminal here: a line per epoch and per phase), one error line
    assert rc == 2 and err.endswith(f"\nerror: the disk holding {out / 'embeddings.npy'} is full: free some space "
                                    "there (deleting ended runs frees the most), then try again\n"), err
    assert err.count("error: ") == 1 and "Traceback" not in err
    assert not (out / "embeddings.npy").exists() and not list(out.glob("*.tmp*"))


def test_a_checkpoint_that_cannot_be_written_is_an_os_error_naming_its_path(tmp_path):
    """safetensors' own writer raised a SafetensorError: a full disk or a folder without write
    permission read as a crash (a traceback from the CLI, "SafetensorError" from the worker)."""
    import errno

    import torch

    from ssrl_core.checkpoint import save_checkpoint
    from ssrl_core.runs import artifacts as art

    path = tmp_path / "gone" / "checkpoint.safetensors"
    with pytest.raises(OSError) as e:
        save_checkpoint(path, torch.nn.Linear(2, 2), None, {"epoch": 1})
    assert e.value.errno == errno.ENOENT and str(path.parent) in str(e.value.filename)
    if _cannot_write("/sys"):  # a folder no one may write into here, root included (chmod stops no root)
        with pytest.raises(PermissionError) as e:
            art.check_writable(Path("/sys"))
        assert e.value.filename == "/sys"


def _cannot_write(folder: str) -> bool:
    import tempfile

    try:
        tempfile.TemporaryFile(dir=folder).close()
        return False
    except OSError:
        return True


def test_ctrl_c_during_train_is_one_line_saying_how_to_continue(capsys, tmp_path, monkeypatch):
    from ssrl_core.runs import execute

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute, "execute", interrupted)
    out = tmp_path / "run"
    args = ("train", "--dataset", "digits", "--method", "random", "--epochs", "1", "--out", str(out))
    # stopped before its first epoch ended: no checkpoint to continue from (it said there was one)
    rc, err = _cli(capsys, *args)
    assert rc == 130 and err == (f"interrupted before the first epoch finished: no checkpoint was saved in {out}, so "
                                 "the same command starts the run over\n"), err
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(b"an epoch's")  # an epoch had finished
    rc, err = _cli(capsys, *args)
    assert rc == 130 and err == ("interrupted: the same command continues from the last finished epoch (its "
                                 f"checkpoint is in {out})\n")


def test_a_ray_dispatcher_cpus_per_run_that_is_no_number_of_cpus_is_refused(capsys):
    for value in ("0", "nan", "inf"):  # nan failed inside Ray, inf was taken: no run could be scheduled
        rc, err = _cli(capsys, "worker", "--backend", "ray", "--cpus-per-run", value)
        assert rc == 2 and f"--cpus-per-run must be a number of CPUs more than 0, got {value}" in err, err


def test_a_local_worker_refuses_cpus_per_run_and_a_slot_it_does_not_have(capsys, monkeypatch, ssrl_home):
    """--cpus-per-run -5 was taken by a local worker without a word (it uses no such thing), and
    --slot 5 was said to be beyond SSRL_WORKERS=1 where SSRL_WORKERS was not set."""
    monkeypatch.delenv("SSRL_BACKEND", raising=False)
    monkeypatch.delenv("SSRL_WORKERS", raising=False)
    monkeypatch.setattr("ssrl_core.runs.worker.gpu_count", lambda: 0)
    rc, err = _cli(capsys, "worker", "--once", "--cpus-per-run", "-5")
    assert rc == 2 and err == "error: --cpus-per-run must be a number of CPUs more than 0, got -5\n", err
    rc, err = _cli(capsys, "worker", "--once", "--cpus-per-run", "2")
    assert rc == 2 and err.startswith("error: --cpus-per-run is for the Ray dispatcher (--backend ray); a local "
                                      "worker trains one run at a time"), err
    rc, err = _cli(capsys, "worker", "--once", "--slot", "5")
    assert rc == 2 and "SSRL_WORKERS=" not in err, err
    assert err == ("error: --slot must be 0 (this home has 1 worker slot: one per GPU, or one without a GPU; "
                   "SSRL_WORKERS sets how many), got 5\n"), err
    monkeypatch.setenv("SSRL_WORKERS", "3")
    rc, err = _cli(capsys, "worker", "--once", "--slot", "5")
    assert rc == 2 and err == "error: --slot must be from 0 to 2 (SSRL_WORKERS=3), got 5\n", err
    assert not (ssrl_home / "workers").exists()  # no worker started


def test_export_refuses_a_run_whose_summary_is_damaged(capsys, finished_run, tmp_path):
    """The card came out without the device, precision and timings, with no word of why."""
    rid = finished_run("random")
    summary = Path(RunStore().get(rid)["run_dir"]) / "summary.json"
    summary.write_text('{"device": "cpu", "train_sec')  # cut short
    rc, err = _cli(capsys, "export", "--run", rid, "--out", str(tmp_path / "out"))
    assert rc == 2 and err == (f"error: {summary} cannot be read (not a JSON object): the run folder was damaged or "
                               "edited by hand: restore the file, or train the run again\n")
    assert not (tmp_path / "out").exists()


def test_an_empty_augment_a_missing_reuse_folder_and_a_long_nickname_are_refused(capsys, tmp_path):
    """Each was taken without a word: '' trained with no augmentation, a mistyped --reuse-from
    only meant training again, and a 5,000-character nickname filled the runs table."""
    rc, err = _cli(capsys, "train", "--dataset", "digits", "--method", "simclr", "--augment", " ", "--out",
                   str(tmp_path / "a"))
    assert rc == 2 and "--augment is empty: give a preset or ops (`list augmentations` names them)" in err, err
    rc, err = _cli(capsys, "lesson", "collapse", "--no-train", "--out", str(tmp_path / "b"),
                   "--reuse-from", str(tmp_path / "typo"))
    assert rc == 2 and f"--reuse-from {tmp_path / 'typo'}: no such folder" in err, err
    rc, err = _cli(capsys, "submit", "--dataset", "digits", "--method", "simclr", "--nickname", "a" * 5000)
    assert rc == 2 and "is 5,000 characters long: give one of at most 32" in err, err
    assert RunStore().list() == [] and not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_lessons_damaged_run_config_is_said_as_damaged_not_as_another_run(capsys, tmp_path):
    run = tmp_path / "les" / "simsiam"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{not json")
    rc, err = _cli(capsys, "lesson", "collapse", "--no-train", "--out", str(tmp_path / "les"))
    assert rc == 2 and f"{run / 'config.json'} cannot be read" in err and "different run" not in err, err


def test_a_second_train_into_a_folder_being_trained_is_refused(capsys, tmp_path):
    """Two `train`s on one --out used to interleave their epochs in one checkpoint and log.
    The second is refused while the first trains; the first, stopped, frees the folder."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from ssrl_core.locks import lock_held

    from .conftest import ROOT, ctrl_c_as_at_a_terminal

    out = tmp_path / "run"
    args = ("train", "--dataset", "digits", "--method", "simclr", "--epochs", "50", "--no-umap", "--out", str(out))
    first = subprocess.Popen([sys.executable, "-m", "ssrl_core", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=ctrl_c_as_at_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not lock_held(out / "training.lock"):
            assert first.poll() is None and time.monotonic() < deadline, first.stderr and first.stderr.read()
            time.sleep(0.1)
        rc, err = _cli(capsys, *args)
        assert rc == 2 and err == (f"error: another process (pid {first.pid}) is training into {out} now: wait for it "
                                   "to end or stop it, then try again (the run continues from its last finished "
                                   "epoch); nothing was written\n"), err
        assert first.poll() is None  # the first trains on
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=60) == 130
    finally:
        first.kill()
        first.wait()
    assert not lock_held(out / "training.lock")


@pytest.mark.parametrize("flags, said", [
    (["--method", "simclear"], "unknown method 'simclear' (did you mean 'simclr'?): choose one of"),
    (["--dataset", "digts"], "unknown dataset 'digts' (did you mean 'digits'?): choose one of"),
    (["--encoder", "cnn-smal"], "unknown encoder 'cnn-smal' (did you mean 'cnn-small'?): choose auto or"),
    (["--option", "temprature=0.1"], "simclr has no option temprature (did you mean 'temperature'?): its options"),
    (["--augment", "crop,colour_jitter"], "unknown augmentation 'colour_jitter' (did you mean 'color_jitter'?)"),
    (["--augment", "crop(min_scal=0.2)"], "crop has no parameter 'min_scal' (did you mean 'min_scale'?): it takes"),
    (["--option", "zzz=1"], "simclr has no option zzz: its options"),  # nothing near: no guess
])
def test_a_typo_on_the_command_line_is_answered_with_the_name_it_likely_meant(flags, said, capsys):
    """`submit --method simclear` listed all sixteen methods and left the reader to find the slip."""
    args = {"--method": "simclr", "--dataset": "digits"}
    args.update(dict(zip(flags[::2], flags[1::2])))
    res = cli("submit", *[x for kv in args.items() for x in kv], check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith(f"error: {said}"), res.stderr
    assert not RunStore().list()  # nothing submitted


def test_a_file_written_whole_is_the_old_one_or_the_new_one_and_a_damaged_one_reads_as_none(tmp_path):
    """A write cut short (a full disk, a Ctrl-C) leaves the earlier file as it was and no
    temporary file beside it; a JSON file cut short, not text or not an object reads as None."""
    import errno

    from ssrl_core.runs import artifacts as art

    run = tmp_path / "run"
    run.mkdir()
    path = run / "metrics.json"
    art.write_json(path, {"knn": 0.5})

    def cut_short(f):
        f.write(b'{"knn": 0.')
        raise OSError(errno.ENOSPC, "No space left on device")

    def interrupted(f):
        f.write(b"{")
        raise KeyboardInterrupt

    with pytest.raises(OSError) as e:
        art.write_whole(path, cut_short)
    assert e.value.errno == errno.ENOSPC
    with pytest.raises(KeyboardInterrupt):
        art.write_whole(path, interrupted)
    assert art.read_json(path) == {"knn": 0.5} and [p.name for p in run.iterdir()] == ["metrics.json"]
    art.write_json(path, {"knn": 0.75})
    assert art.read_json(path) == {"knn": 0.75} and [p.name for p in run.iterdir()] == ["metrics.json"]
    for damaged in (b'{"knn": 0.', b"[0.5]", b"0.5", b"\xff\xfe{}"):
        path.write_bytes(damaged)
        assert art.read_json(path) is None, damaged
    assert art.read_json(run / "missing.json") is None and art.read_json(run) is None
    gone = run / "gone" / "metrics.json"  # an error names the file that could not be written, not its temporary
    with pytest.raises(FileNotFoundError) as e:
        art.write_json(gone, {"knn": 0.5})
    assert e.value.filename == str(gone)


def test_threads_of_one_process_writing_one_file_leave_it_whole(tmp_path):
    """The app server's sessions are threads of one process: with one temporary file per process, two writing the
    same file mixed their bytes (a mutation round's reviewer read 220 of 400 files back as damaged) or lost it
    under the other's rename (50 writes failed)."""
    import threading

    from ssrl_core.runs import artifacts as art

    path = tmp_path / "run" / "progress.json"
    path.parent.mkdir()
    failed, damaged = [], []

    def write(n: int):
        for _ in range(150):
            try:
                art.write_json(path, {"writer": n, "pad": "x" * 4000 * n})
            except OSError as e:
                failed.append(e)
            if art.read_json(path) is None:
                damaged.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == [] and damaged == []
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]


def test_a_links_queued_run_is_said_to_be_still_queued_and_a_tiny_file_is_one_kb():
    """A link's run that waits in the queue is one that can be shown once done, not one "that
    was queued, so it has no result"; a download of a few hundred bytes reads "1 kB", not "0 kB"."""
    from app import services

    rid = RunStore().submit(RunConfig(method="simclr", epochs=1))
    assert services.not_offered(rid) == "that run is still queued: it can be shown once it is done"
    assert services.size_text(400) == "1 kB"
    assert services.size_text(2_500_000) == "2 MB"
