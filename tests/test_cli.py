"""The command line as a user runs it: real processes, JSON out, one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


def cli(*args, check=True, timeout=300, capsys=None):
    """``python -m ssrl_core ARGS`` as a process; with ``capsys``, through ``cli.main`` in this
    one instead (the same parsing and messages without the 2 to 4 s each process spends
    importing torch; each test below keeps one case as a real process)."""
    if capsys is None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        res = subprocess.run([sys.executable, "-m", "ssrl_core", *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=timeout)
    else:
        from ssrl_core.cli import main

        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as e:  # argparse's own refusals
            rc = e.code
        said = capsys.readouterr()
        res = subprocess.CompletedProcess(args, rc, said.out, said.err)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def test_train_refuses_a_run_stores_folder_whose_numbers_the_app_would_keep_showing(finished_run, capsys):
    """`train --out SSRL_HOME/runs/ID --epochs 3` on a finished 2-epoch run continued it, and its store
    row stayed: every page and `runs` went on showing the old numbers beside the new files'."""
    from ssrl_core.runs.store import RunStore

    rid = finished_run("simclr")
    folder = Path(RunStore().get(rid)["run_dir"])
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    res = cli("train", "--dataset", "digits", "--method", "simclr", "--epochs", "2", "--batch-size", "256",
              "--out", str(folder), check=False, capsys=capsys)
    assert res.returncode == 2
    assert f"is the folder of run {folder.name} of the run store" in res.stderr
    assert f"`resume {folder.name}`" in res.stderr and "nothing was written" in res.stderr
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    link = folder.parent.parent / "link"  # a link to it is it (a browser review trained through one)
    link.symlink_to(folder)
    res = cli("train", "--dataset", "digits", "--method", "simclr", "--epochs", "2", "--batch-size", "256",
              "--out", str(link), check=False, capsys=capsys)
    assert res.returncode == 2 and f"`resume {folder.name}`" in res.stderr
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_train_writes_and_prints_the_summary(tmp_path, small):
    """What ``train`` writes and prints, on a set of 160 images (what training learns is
    test_models_methods' pretraining-beats-its-untrained-encoder: any score passes here)."""
    out = tmp_path / "run"
    res = cli("train", "--dataset", small, "--method", "simclr", "--epochs", "1", "--batch-size", "64",
              "--option", "temperature=0.2", "--augment", "crop(min_scale=0.3),flip", "--out", str(out))
    printed = json.loads(res.stdout)
    assert printed == json.loads((out / "summary.json").read_text())
    for key in ("method", "dataset", "encoder", "augment", "epochs", "seed", "device", "train_seconds",
                "total_seconds", "images_per_s", "knn_accuracy", "linear_accuracy"):
        assert key in printed, key
    assert printed["encoder"] == "cnn-small" and printed["device"] == "cpu" and printed["options"] == {"temperature": 0.2}
    assert printed["augment"] == "crop(min_scale=0.3),flip"
    assert 0 <= printed["knn_accuracy"] <= 1 and 0 <= printed["linear_accuracy"] <= 1
    assert (printed["dataset"], printed["batch_size"], printed["steps_per_epoch"]) == (small, 64, 2)
    for f in ("checkpoint.safetensors", "embeddings.npy", "map_pca.npy", "map_umap.npy", "config.json"):
        assert (out / f).exists(), f
    assert not (out / "index.faiss").exists()  # made from embeddings.npy when searched: not a second copy on disk


def test_train_off_a_terminal_says_each_epoch_and_phase_and_the_batch_it_trained_at(tmp_path, small):
    """Under nohup, a batch job or `> out 2> err` the progress bar turned itself off and a long
    run printed nothing until its summary: now a line per epoch and per evaluation phase. A
    batch above the training set is recorded as asked and as used (the loop cuts it)."""
    import re

    out = tmp_path / "run"
    res = cli("train", "--dataset", small, "--method", "simclr", "--epochs", "2", "--batch-size", "500",
              "--evaluation", "basic", "--out", str(out))  # stderr: a pipe, as in a redirect
    lines = res.stderr.splitlines()
    assert "\r" not in res.stderr  # no bar redrawn in the log
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2, res.stderr
    for n, line in enumerate(epochs, 1):
        assert re.fullmatch(rf"epoch {n}/2 · loss \d+\.\d{{3}} · kNN \(subset\) [01]\.\d{{3}} · \d+ img/s · \d+\.\d s", line), line
    phases = lines[lines.index(epochs[-1]) + 1:]
    assert [line.split(" (")[0] for line in phases] == ["evaluating: embedding the images", "evaluating: kNN accuracy",
                                                        "evaluating: the linear probe"], res.stderr
    assert lines[0].startswith("warning: Batch size 500 is more than the 128 training images")
    summary = json.loads(res.stdout)
    assert (summary["batch_size"], summary["batch_size_used"], summary["steps_per_epoch"]) == (500, 128, 1)
    assert json.loads((out / "summary.json").read_text()) == summary


def test_train_on_a_terminal_draws_the_bar():
    import io

    from ssrl_core.cli import progress_printer

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    on_event, close = progress_printer(screen)
    on_event({"kind": "step", "epoch": 1, "epochs": 2, "step": 3, "total_steps": 10, "loss": 4.5, "images_per_s": 90})
    on_event({"kind": "epoch_end", "epoch": 1, "epochs": 2, "loss": 4.5, "seconds": 1.0})  # the bar says it
    close()
    said = screen.getvalue()
    assert "\r" in said and "epoch 1/2" in said and "3/10" in said and "loss=4.500" in said
    assert "· loss" not in said  # no plain epoch line beside the bar


@pytest.mark.parametrize("args, words", [
    (["--dataset", "imagenet", "--method", "simclr"], "unknown dataset 'imagenet': choose one of digits"),
    (["--dataset", "digits", "--method", "simclr", "--augment", "sharpen"], "unknown augmentation 'sharpen'"),
    (["--dataset", "digits", "--method", "simclr", "--option", "temprature=0.1"], "simclr has no option temprature"),
    (["--dataset", "digits", "--method", "simclr", "--epochs", "-1"], "--epochs must be a whole number"),
    (["--dataset", "digits", "--method", "simclr", "--option", "oops"], "must look like key=value"),
    (["--dataset", "cifar10", "--method", "random"], "cifar-10-batches-py"),
])
def test_bad_input_gives_one_clear_line_and_exit_2(tmp_path, args, words, capsys):
    in_process = "imagenet" not in args  # the first case as a real process
    res = cli("train", *args, "--out", str(tmp_path / "x"), check=False, capsys=capsys if in_process else None)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and words in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_submit_runs_and_cancel(capsys):
    """submit and a refused cancel as processes (exit status, stdout, stderr); the commands
    between them in this process (each process spends two seconds importing torch)."""
    from ssrl_core.cli import main

    rid = cli("submit", "--dataset", "digits", "--method", "rotation", "--epochs", "2", "--nickname", "ada").stdout.strip()
    assert main(["runs", "--json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert run["id"] == rid and run["status"] == "queued" and run["method"] == "rotation"
    assert {"id", "status", "method", "dataset", "epoch", "epochs", "error"} <= set(run)
    assert main(["runs"]) == 0 and rid in capsys.readouterr().out
    assert main(["cancel", rid]) == 0 and capsys.readouterr().out.strip() == f"{rid}: cancelled"
    assert main(["runs", "--json"]) == 0 and json.loads(capsys.readouterr().out)[0]["status"] == "cancelled"
    res = cli("cancel", rid, check=False)  # a script's cleanup cancels what it started, ended or not
    assert res.returncode == 0 and res.stdout.strip() == f"{rid}: already ended (cancelled): nothing to cancel"
    assert main(["cancel", "no-such-run"]) == 2 and "no run with id" in capsys.readouterr().err
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    more = [RunStore().submit(RunConfig(method="random", seed=n)) for n in range(2)]
    assert main(["runs", "--json", "--limit", "2"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == more[::-1]  # the newest 2
    assert main(["runs", "--json", "--limit", "0"]) == 0 and len(json.loads(capsys.readouterr().out)) == 3  # all
    assert main(["runs", "--limit", "-1"]) == 2 and "--limit must be 0 (all runs) or more" in capsys.readouterr().err


def test_the_commands_on_the_run_store_load_no_pytorch():
    """`runs`, `cancel`, `resume`, `delete` and `--help` only read or change the run store: a
    process running them imports neither PyTorch nor the other heavy libraries, which took
    2 to 3 s of each such command before."""
    import socket

    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    store.submit(RunConfig(method="random", epochs=0))
    store.claim(f"{socket.gethostname()}:4242:0")  # then its worker was killed: `runs` says so
    rid = store.submit(RunConfig(method="random", epochs=0, seed=1))
    commands = [["runs"], ["runs", "--json"], ["cancel", rid], ["resume", rid], ["cancel", rid], ["delete", rid]]
    script = ("import sys\nfrom ssrl_core.cli import main\n"
              f"for argv in {commands!r}:\n    assert main(argv) == 0, argv\n"
              "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'sklearn', 'faiss', "
              "'umap', 'numba'}))")
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    said = res.stdout.strip().splitlines()
    assert said[-1] == "[]", said[-1]
    assert any("its worker is gone (starting: loading the data and the model)" in line for line in said) and f"deleted {rid} (0 MB freed)" in said
    assert any(line.lstrip().startswith("submit") for line in said)  # the --help listing of the commands


def test_cancel_a_selection_lists_it_first_and_acts_only_with_yes(capsys):
    """The end of a lesson: a teacher cancels one student's runs, or the whole queue."""
    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    ada = [store.submit(RunConfig(method="random", seed=s), nickname="ada") for s in range(2)]
    bo = store.submit(RunConfig(method="random", seed=2), nickname="bo")
    store.claim("w")  # ada's first is running
    assert main(["cancel", "--nickname", "ada"]) == 0
    out = capsys.readouterr().out
    assert {line.split()[0] for line in out.splitlines()[:-1]} == set(ada) and "add --yes" in out
    assert [store.get(r)["status"] for r in ada + [bo]] == ["running", "queued", "queued"]  # listed, not cancelled
    assert main(["cancel", "--nickname", "ADA", "--yes"]) == 0  # whatever its case, as runs --nickname finds them
    assert capsys.readouterr().out.splitlines() == [f"{ada[1]}: cancelled",
                                                    f"{ada[0]}: cancel requested: the run stops at its next step"]
    assert store.cancel_requested(ada[0]) and store.get(ada[1])["status"] == "cancelled"
    assert store.get(bo)["status"] == "queued"
    assert main(["cancel", "--all", "--yes"]) == 0 and store.get(bo)["status"] == "cancelled"
    assert main(["cancel", "--nickname", "nobody"]) == 0 and "nothing cancelled" in capsys.readouterr().out
    for argv, said in ((["cancel"], "say which runs"), (["cancel", bo, "--all"], "not both")):
        assert main(argv) == 2 and said in capsys.readouterr().err, argv


@pytest.mark.parametrize("what, name", [("datasets", "shapes"), ("methods", "rotation"),
                                        ("augmentations", "color_jitter"), ("encoders", "resnet18")])
def test_list(what, name, capsys):
    from ssrl_core.cli import main

    items = json.loads(cli("list", what, "--json", capsys=None if what == "methods" else capsys).stdout)
    assert name in [i["name"] for i in items] and all(i["description"] for i in items)
    assert main(["list", what]) == 0 and name in capsys.readouterr().out
    if what == "datasets":  # whether each one's files are here: the built-ins are, cifar10 is not downloaded here
        here = {i["name"]: i["here"] for i in items}
        assert here["digits"] and here["shapes"] and here["cifar10"] is False
    if what == "augmentations":  # which datasets train with which augmentations unless told (`train --help` only)
        defaults = {i["name"]: i["default_for"] for i in items if i["kind"] in ("preset", "default")}
        assert defaults["digits"] == ["digits", "mnist"] and defaults["crop,flip"] == ["fashion-mnist"]
        assert "flip" not in defaults and defaults["crop,color_jitter,grayscale,blur"] == ["svhn"]  # digits: no mirror
        assert main(["list", what]) == 0 and "the default on every other dataset" in capsys.readouterr().out


def test_list_methods_tags_each_method_with_its_family(capsys):
    items = json.loads(cli("list", "methods", "--json", capsys=capsys).stdout)
    lines = cli("list", "methods", capsys=capsys).stdout.splitlines()
    assert len({it["family"] for it in items}) > 2 and "masked prediction" in {it["family"] for it in items}
    for it in items:
        [line] = [s for s in lines if s.split()[:1] == [it["name"]]]
        assert f"[{it['family']}]" in line, line  # each method beside its family


# -- a device or precision this host lacks ----------------------------------------------------------
@pytest.fixture
def cpu_only(monkeypatch):
    """This host as one without a CUDA GPU (the check must hold on a GPU machine too)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("flags, words", [
    (["--device", "cuda"], "device 'cuda' was asked for but no CUDA GPU is visible: use --device auto or cpu"),
    (["--precision", "float16"], "float16 training needs a CUDA GPU: on a CPU use --precision bfloat16 or float32"),
])
def test_submit_refuses_a_device_or_precision_this_host_lacks(cpu_only, capsys, tmp_path, flags, words):
    """Refused at once (exit 2, nothing queued) instead of queued to fail in the worker; `train`
    refuses the same before making its folder."""
    from ssrl_core.cli import main
    from ssrl_core.runs.store import RunStore

    assert main(["submit", "--dataset", "digits", "--method", "simclr", *flags]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err == f"error: {words}\n"
    assert RunStore().list() == []
    assert main(["train", "--dataset", "digits", "--method", "simclr", *flags, "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"error: {words}\n" and not (tmp_path / "run").exists()


def test_with_ray_the_cluster_provides_the_device(cpu_only, capsys, monkeypatch, tmp_path):
    """With SSRL_BACKEND=ray the runs execute on the cluster's nodes, which may have the GPU this
    host lacks: `submit` queues them; `train`, which trains here whatever the backend, refuses."""
    from ssrl_core.cli import main
    from ssrl_core.runs.store import RunStore

    monkeypatch.setenv("SSRL_BACKEND", "ray")
    assert main(["submit", "--dataset", "digits", "--method", "simclr", "--device", "cuda", "--precision", "float16"]) == 0
    [run] = RunStore().list()
    assert capsys.readouterr().out.strip() == run["id"]
    assert (run["config"]["device"], run["config"]["precision"]) == ("cuda", "float16")
    assert main(["train", "--dataset", "digits", "--method", "simclr", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA GPU is visible" in capsys.readouterr().err and not (tmp_path / "r").exists()


# -- help and tables ---------------------------------------------------------------------------------
def test_every_command_has_a_description_and_every_argument_a_help():
    """`COMMAND --help` opens with what the command does, and says what each argument is."""
    import argparse

    from ssrl_core.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, p in commands.choices.items():
        assert p.description, name
        for action in p._actions:
            assert action.help, f"{name} {action.dest}"
    assert "a run id from `runs`" in commands.choices["cancel"].format_help()


def test_the_parser_made_for_one_command_is_that_commands_whole_parser():
    """``main`` builds the flags of the command given only (the others' help reads the
    registries, which import PyTorch): each command's help is the same as in the whole parser."""
    import argparse

    from ssrl_core.cli import build_parser

    def commands(ap):
        [sub] = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
        return sub.choices

    whole = commands(build_parser())
    for name, p in whole.items():
        assert commands(build_parser(name))[name].format_help() == p.format_help(), name
    assert build_parser("").format_help() == build_parser().format_help()  # `--help`: the commands' list


def test_list_and_runs_align_their_columns_to_the_longest_entry(capsys):
    """Columns as wide as their widest entry ("labels-are-expensive", "deepcluster"), so every
    description, status, method, dataset and epoch starts in the same column."""
    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    assert main(["list", "lessons", "--json"]) == 0
    lessons = json.loads(capsys.readouterr().out)
    assert main(["list", "lessons"]) == 0
    lines = capsys.readouterr().out.splitlines()
    col = max(len(item["name"]) for item in lessons) + 2
    assert [(line[:col].rstrip(), line[col:]) for line in lines] == [(i["name"], i["description"]) for i in lessons]
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="deepcluster", epochs=12), nickname="a-long-nickname")
    store.submit(RunConfig(dataset="shapes", method="mae", epochs=3))
    assert main(["runs"]) == 0
    mae, deepcluster = capsys.readouterr().out.splitlines()  # newest first
    for a, b in (("queued", "queued"), ("mae", "deepcluster"), ("shapes", "digits"), ("epoch 0/3", "epoch 0/12")):
        assert mae.index(f" {a}") == deepcluster.index(f" {b}"), (mae, deepcluster)
    assert deepcluster.endswith("epoch 0/12  [a-long-nickname]") and mae.endswith("epoch 0/3")
    # a run in training: the epoch in progress, as the Pretrain page says it ("epoch 0/3" beside the page's "1/3")
    rid = store.claim("w")["id"]
    store.record(rid, {"kind": "step", "epoch": 1, "epochs": 12, "step": 3, "total_steps": 120, "loss": 5.0})
    assert main(["runs"]) == 0
    assert f"{rid}  running  deepcluster  digits  epoch 1/12" in capsys.readouterr().out
    store.record(rid, {"kind": "epoch_end", "epoch": 1, "epochs": 12, "loss": 4.0})
    store.record(rid, {"kind": "phase", "phase": "umap"})  # past training: the epochs it finished
    assert main(["runs"]) == 0
    said = capsys.readouterr().out
    assert f"{rid}  running  deepcluster  digits  epoch 1/12" in said
    assert "evaluating: the UMAP map" in said and " umap" not in said  # the step in words, as the page says it


def test_submit_says_on_a_terminal_that_it_is_checking_the_run(capsys, monkeypatch):
    """Checking the run takes seconds (dataset, method): a person at a terminal is told on stderr;
    stdout stays the id alone, and scripts (no terminal) get nothing on stderr."""
    import sys

    from ssrl_core.cli import main

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["submit", "--dataset", "digits", "--method", "random", "--epochs", "0"]) == 0
    out = capsys.readouterr()
    assert out.err == "checking the run (dataset, method, options)…\n" and len(out.out.split()) == 1
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert main(["submit", "--dataset", "digits", "--method", "random", "--epochs", "0"]) == 0
    assert capsys.readouterr().err == ""


def test_a_selection_goes_on_past_a_run_that_changed_since_it_was_listed(capsys, monkeypatch):
    """Between the listing and the act, another process may end a run (cancel --all) or
    resume one (delete --status cancelled): the rest of the selection is still acted on."""
    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    a, b = (store.submit(RunConfig(method="random", seed=s), nickname="ada") for s in range(2))
    listed = RunStore.list

    def then(change):
        def list_(self, *args, **kw):
            rows = listed(self, *args, **kw)
            change(rows)
            return rows
        return list_

    monkeypatch.setattr(RunStore, "list", then(lambda rows: store.finish(rows[0]["id"], "done")))  # it ended
    assert main(["cancel", "--all", "--yes"]) == 0
    assert store.get(a)["status"] == "cancelled" and store.get(b)["status"] == "done"
    assert "already ended" in capsys.readouterr().err

    c = store.submit(RunConfig(method="random", seed=2), nickname="ada")
    store.request_cancel(c)
    monkeypatch.setattr(RunStore, "list", then(lambda rows: store.resume(rows[0]["id"])))  # resumed
    assert main(["delete", "--status", "cancelled,done", "--yes"]) == 2  # one was not deleted
    assert [r["id"] for r in listed(store)] == [c] and store.get(c)["status"] == "queued"
    assert "cancel it first" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["train", "--epochs", "-1"], "error: --epochs must be a whole number from 0 to 10000, got -1"),
    (["submit", "--epochs", "-3"], "error: --epochs must be a whole number from 0 to 10000, got -3"),
    (["train", "--batch-size", "1"], "error: --batch-size must be a whole number from 2 to 65536, got 1"),
    (["submit", "--lr", "0"], "error: --lr must be above 0 and at most 10, got 0.0"),
    (["train", "--weight-decay", "2"], "error: --weight-decay must be between 0 and 1, got 2.0"),
    (["submit", "--seed", "-1"], "error: --seed must be a whole number from 0 to"),
])
def test_a_flag_out_of_range_is_named_as_the_flag_not_the_config_field(tmp_path, capsys, args, words):
    """The config's check said "epochs must be ...", "learning rate must be ...": the user typed --epochs, --lr."""
    from ssrl_core.runs.store import RunStore

    command, *flags = args
    out = ["--out", str(tmp_path / "x")] if command == "train" else []
    res = cli(command, "--dataset", "digits", "--method", "simclr", *flags, *out, check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith(words), res.stderr
    res = cli("bench", "--batch-size", "1", check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith("error: --batch-size must be a whole number"), res.stderr
    assert not (tmp_path / "x").exists() and RunStore().list() == []


def test_a_refused_run_is_not_preceded_by_a_warning_about_another_flag(tmp_path, capsys):
    """An unknown method came after "warning: --data-dir is not used": the refusal alone now;
    a run that goes ahead still gets the warning."""
    res = cli("submit", "--dataset", "digits", "--method", "nosuch", "--data-dir", str(tmp_path), check=False,
              capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith("error: unknown method 'nosuch'"), res.stderr
    assert "warning" not in res.stderr
    res = cli("submit", "--dataset", "digits", "--method", "simclr", "--epochs", "-1", "--data-dir", str(tmp_path),
              check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith("error: --epochs must be"), res.stderr
    res = cli("submit", "--dataset", "digits", "--method", "rotation", "--data-dir", str(tmp_path), capsys=capsys)
    assert res.stderr == "warning: --data-dir is not used: digits reads no data folder\n"


@pytest.mark.parametrize("given", ["usb/stick", "./usb/../usb/stick", "~/usb/stick"])
def test_a_relative_data_dir_is_stored_absolute(tmp_path, capsys, monkeypatch, given):
    """A relative --data-dir (or ~) was checked against this folder and queued as given: a worker
    started in another folder then failed the run with "dataset missing"."""
    from ssrl_core.runs.store import RunStore

    from .test_torchvision_sets import write_mnist

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    write_mnist(tmp_path / "usb" / "stick", ("mnist", "MNIST", "raw"), 8, 4)
    res = cli("submit", "--dataset", "mnist", "--method", "rotation", "--epochs", "1", "--batch-size", "4",
              "--data-dir", given, capsys=capsys)
    [run] = RunStore().list()
    assert run["id"] == res.stdout.strip()
    assert run["config"]["data_dir"] == str(tmp_path / "usb" / "stick")


@pytest.mark.parametrize("args, said", [
    (["runs"], "no runs yet"),
    (["runs", "--json"], "[]"),
    (["cancel", "X"], "error: no run with id 'X'"),
    (["cancel", "--all"], "no run matches that selection"),
    (["resume", "X"], "error: no run with id 'X'"),
    (["delete", "X"], "error: no run with id 'X'"),
    (["delete", "--status", "done"], "no run matches that selection"),
    (["invariance", "--run", "X"], "error: 'X' is neither a run folder nor a run id"),
    (["probe", "--run", "X"], "error: 'X' is neither a run folder nor a run id"),
    (["restore-runs"], "no run folders in "),
    (["delete-dataset", "foo"], "error: no imported dataset 'foo'"),
    (["list", "datasets"], "digits"),  # (it made SSRL_HOME/data to see whether the downloadable sets were there)
])
def test_a_command_that_finds_nothing_makes_no_state_to_say_so(tmp_path, monkeypatch, capsys, args, said):
    """Each of these made SSRL_HOME, its store.sqlite (and runs/ or data/custom/) in a new home."""
    home = tmp_path / "new-home"
    monkeypatch.setenv("SSRL_HOME", str(home))
    res = cli(*args, check=False, capsys=capsys)
    assert said in res.stdout + res.stderr, res
    assert not home.exists(), sorted(p.name for p in home.rglob("*"))
    if args == ["runs"]:  # where it looked, so a mistyped SSRL_HOME shows
        assert f"no runs yet in {home / 'store.sqlite'} (no store there yet)" in res.stdout


def test_import_images_says_pass_not_upload(tmp_path, capsys):
    bad = tmp_path / "notes.zip"
    bad.write_text("just some text")
    res = cli("import-images", str(bad), check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.endswith(": pass a complete .zip of images\n"), res.stderr


def test_epochs_0_evaluates_the_untrained_encoder_and_the_run_leaves_no_lock(tmp_path, capsys):
    """--epochs 0 is a random-encoder baseline (its help says so); the run folder it leaves
    holds no training.lock, as a folder of any run that ended."""
    from ssrl_core.cli import build_parser

    for command in ("train", "submit"):
        sub = next(a for a in build_parser(command)._actions if a.dest == "command").choices[command]
        [epochs] = [a for a in sub._actions if a.dest == "epochs"]
        assert "0 trains nothing and evaluates the untrained encoder" in epochs.help
    out = tmp_path / "run"
    res = cli("train", "--dataset", "digits", "--method", "rotation", "--epochs", "0", "--evaluation", "basic",
              "--no-umap", "--out", str(out), capsys=capsys)
    summary = json.loads(res.stdout)
    assert summary["epochs"] == 0 and summary["train_seconds"] == 0 and 0 < summary["knn_accuracy"] <= 1
    assert "batch_size_used" not in summary and "steps_per_epoch" not in summary  # it made no step
    assert (out / "checkpoint.safetensors").exists() and not (out / "training.lock").exists()


def test_the_random_encoder_is_stored_untrained_whatever_epochs_were_asked(capsys):
    """`submit --method random --epochs 3` kept 3: `runs` said "epoch 0/3" of a run that trains
    no epoch, and Compare warned that it differed in budget from a 10-epoch run beside it."""
    import app.readouts as readouts
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    rid = cli("submit", "--method", "random", "--dataset", "digits", "--epochs", "3", capsys=capsys).stdout.strip()
    run = RunStore().get(rid)
    assert run["epochs"] == 0 and run["config"]["epochs"] == 0
    assert cli("runs", capsys=capsys).stdout.split()[4] == "untrained"
    assert RunConfig(method="random", epochs=3) == RunConfig(method="random", epochs=0)  # the same run, reused
    random, trained = RunConfig(method="random", epochs=3).to_dict(), RunConfig(epochs=10).to_dict()
    assert readouts.mismatches([random, trained]) == []  # the baseline has no budget to differ in
    assert readouts.mismatches([random, trained, RunConfig(epochs=2).to_dict()]) == ["epochs (10, 2)"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc, where no folder can be made")
def test_an_out_folder_that_cannot_be_made_is_said_with_what_to_do(tmp_path, capsys, finished_run):
    """`train --out /proc/xyz` printed Python's "[Errno 2] No such file or directory: '/proc/xyz'":
    the system's FileNotFoundError went through the branch meant for the CLI's own messages."""
    rid = finished_run("random")
    for res in (cli("train", "--dataset", "digits", "--method", "random", "--evaluation", "basic", "--out",
                    "/proc/xyz", check=False),  # a real process: what a shell shows
                cli("export", "--run", rid, "--out", "/proc/xyz/card", check=False, capsys=capsys)):
        assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
        assert res.stderr.startswith("error: --out /proc/xyz") and "the folder could not be made" in res.stderr
        assert "No such file or directory" in res.stderr and "check the path and its permissions" in res.stderr
        assert "Errno" not in res.stderr and "Traceback" not in res.stderr
    # the CLI's own FileNotFoundErrors keep their words
    res = cli("import-images", str(tmp_path / "none.zip"), check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr == f"error: no file {str(tmp_path / 'none.zip')!r}: give the path of a .zip archive\n"


def test_submit_out_says_where_a_queued_run_writes_and_how_to_get_its_files(capsys):
    from ssrl_core.cli import build_parser
    from ssrl_core.runs.store import RunStore

    res = cli("submit", "--dataset", "digits", "--method", "simclr", "--out", "/tmp/x", check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith("error: submit takes no --out: ") and "unrecognized" not in res.stderr
    assert "SSRL_HOME/runs/ID" in res.stderr and "export --run ID --out DIR" in res.stderr
    assert RunStore.if_made() is None or RunStore().list() == []  # nothing queued
    submit = next(a for a in build_parser("submit")._actions if a.dest == "command").choices["submit"]
    assert "--out" not in submit.format_help()  # not offered: only explained when given
    # train's other flag of its own, given to submit as to train: said with what submit has instead
    res = cli("submit", "--dataset", "digits", "--method", "simclr", "--no-umap", check=False, capsys=capsys)
    assert res.returncode == 2 and res.stderr.startswith("error: submit takes no --no-umap (a `train` flag): ")
    assert "--evaluation basic" in res.stderr and "nothing was queued" in res.stderr
    assert RunStore.if_made() is None or RunStore().list() == []
    assert "--no-umap" not in submit.format_help()


@pytest.mark.parametrize("evaluation, summary, no_umap", [
    ("full", {"device": "cpu", "umap_seconds": 3.1}, False),  # trained with the UMAP map
    ("full", {"device": "cpu"}, True),  # `train --no-umap`, a lesson's run
    ("basic", {"device": "cpu"}, False),  # basic makes no UMAP map anyway
    ("full", None, False),  # no summary: nothing known
])
def test_reproduce_sh_evaluates_as_the_run_did(evaluation, summary, no_umap):
    import shlex

    from ssrl_core.cli import build_parser
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.export import reproduce_command

    command = reproduce_command(RunConfig(dataset="digits", method="simclr", evaluation=evaluation), trained_on=summary)
    args = build_parser("train").parse_args(shlex.split(command)[3:])
    assert args.no_umap is no_umap and args.evaluation == evaluation


def test_runs_keeps_a_students_runs_and_gives_a_class_scores_as_csv(capsys, finished_run):
    """A TA grading twelve students wrote a script around `runs --json` to find one student's
    runs and put the class's scores in a spreadsheet; `runs` had no filter and no CSV."""
    import csv
    import io

    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    done = finished_run("simclr")
    store = RunStore()
    with store._conn() as c:  # the finished run was Ada's
        c.execute("UPDATE runs SET nickname='Ada' WHERE id=?", (done,))
    queued = store.submit(RunConfig(dataset="digits", method="random", seed=4), nickname="ada")
    other = store.submit(RunConfig(dataset="shapes", method="random"), nickname="=1+1")
    capsys.readouterr()

    def ids(*argv):
        assert main(["runs", "--json", *argv]) == 0
        return [r["id"] for r in json.loads(capsys.readouterr().out)]

    assert ids("--nickname", "ADA") == [queued, done]  # any case
    assert ids("--nickname", "ada", "--status", "done") == [done]
    assert ids("--status", "queued", "--dataset", "shapes") == [other]
    assert ids("--method", "simclr") == [done] and ids("--nickname", "ada", "--limit", "1") == [queued]
    assert main(["runs", "--csv"]) == 0
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert set(rows) == {done, queued, other}
    assert rows[done]["nickname"] == "Ada" and rows[done]["status"] == "done" and rows[done]["epochs"] == "1"
    assert 0 < float(rows[done]["knn_accuracy"]) <= 1 and rows[done]["augment"]  # as it trained
    assert rows[queued]["knn_accuracy"] == "" and rows[other]["nickname"] == "'=1+1"  # never run as a formula
    # how far a run got, and why it stopped: a class's failures in a spreadsheet had neither
    assert rows[done]["epochs_done"] == "1" and rows[queued]["epochs_done"] == "0" and rows[done]["note"] == ""
    assert main(["cancel", queued]) == 0 and main(["runs", "--csv", "--status", "cancelled"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out.split("\n", 1)[1]))
    assert row["id"] == queued and row["note"].startswith("cancelled")
    assert main(["runs", "--status", "finished"]) == 2
    assert "--status finished: not a status; the statuses are queued, running, done" in capsys.readouterr().err
    assert main(["runs", "--nickname", "nobody"]) == 0 and capsys.readouterr().err == "no runs match --nickname nobody\n"
    assert main(["runs", "--dataset", "digts", "--method", "simclear"]) == 0
    assert capsys.readouterr().err == ("no runs match --dataset digts (did you mean 'digits'?), --method simclear (did you "
                                       "mean 'simclr'?)\n")


def test_an_empty_store_beside_run_folders_says_how_to_list_them_again(finished_run, ssrl_home, capsys):
    """A store emptied (truncated to 0 bytes, or moved aside as damaged) said "no runs yet ...
    submit one", beside a runs/ folder full of runs."""
    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig

    finished_run("simclr")
    (ssrl_home / "store.sqlite").unlink()
    (ssrl_home / "runs" / "notes").mkdir()  # not a run: no checkpoint (restore-runs leaves it)
    (ssrl_home / "runs" / "notes" / "config.json").write_text(RunConfig().to_json())
    assert main(["runs"]) == 0
    assert capsys.readouterr().out == (f"no runs yet in {ssrl_home / 'store.sqlite'} (no store there yet): "
                                       f"{ssrl_home / 'runs'} holds 1 run folder, which `python -m ssrl_core "
                                       "restore-runs` lists in it again\n")


def test_a_probe_holds_its_run_so_that_no_second_probe_nor_a_delete_runs_meanwhile(finished_run, capsys):
    """Two `probe --finetune` of one run computed the same networks at once (twice the wait on 2
    cores), and `delete` took the run from under one, whose results went nowhere."""
    from pathlib import Path

    from ssrl_core.cli import main
    from ssrl_core.locks import try_lock
    from ssrl_core.runs import artifacts as art
    from ssrl_core.runs.store import RunStore

    rid = finished_run("random", references=False)
    folder = Path(RunStore().get(rid)["run_dir"])
    with open(folder / art.JOB_LOCK, "a") as fh:  # another probe (or the app's job) computes it now
        assert try_lock(fh)
        assert main(["probe", "--run", rid, "--labels-per-class", "1", "--seeds", "1", "--no-references"]) == 2
        assert f"a probe job computes the probes of {folder} now" in capsys.readouterr().err
        assert main(["delete", rid]) == 2 and "probes are being computed" in capsys.readouterr().err
    assert main(["probe", "--run", rid, "--labels-per-class", "1", "--seeds", "1", "--no-references"]) == 0


def test_runs_given_by_id_take_a_yes_a_script_passes_to_be_safe(capsys):
    """`delete ID --yes` failed (exit 2, "--yes confirms a selection"): a cleanup script that
    passes --yes everywhere to never be asked stopped there."""
    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(method="random"))
    assert main(["cancel", rid, "--yes"]) == 0 and store.get(rid)["status"] == "cancelled"
    assert main(["delete", rid, "--yes"]) == 0 and store.get(rid) is None


def test_wait_says_no_worker_serves_only_once_none_has_come_for_a_while(monkeypatch, capsys):
    """`worker &` then `wait ID` a second later said "no worker serves this SSRL_HOME": the worker
    was importing (1.4 s here before it holds its slot). Said after NO_WORKER_S without one, or
    when the wait gives up, and once."""
    import ssrl_core.cli as C
    import ssrl_core.runs.worker as W
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="random"))
    monkeypatch.setattr(C, "NO_WORKER_S", 0.6)
    checks = iter([False] + [True] * 100)  # the worker holds its slot from the second look on
    monkeypatch.setattr(W, "worker_alive", lambda: next(checks))
    assert C.wait_for(store, [rid], timeout=1.5, poll_s=0.2) is None
    assert "no worker" not in capsys.readouterr().err
    monkeypatch.setattr(W, "worker_alive", lambda: False)  # none comes
    assert C.wait_for(store, [rid], timeout=1.5, poll_s=0.2) is None
    assert capsys.readouterr().err.count("no worker serves this SSRL_HOME, so the queued runs wait") == 1


def test_a_script_submits_waits_and_collects_without_polling(capsys, finished_run):
    """`wait` returns once the runs given have ended, one line each as it ends, with an exit
    status a script can branch on and `runs --json`'s rows with --json; `runs --json` gives a
    run's settings and whether its worker is gone; `cancel --wait` returns once the run has
    stopped, so `delete` may follow; an ended run is no reason to fail a cleanup, a typo is."""
    import time

    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    done = finished_run("random")
    store = RunStore()
    quick = store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=3, evaluation="basic"))
    long = store.submit(RunConfig(dataset="digits", method="simclr", epochs=50, batch_size=256, evaluation="basic",
                                  seed=4))
    capsys.readouterr()
    assert main(["wait", quick, "--timeout", "0"]) == 3  # no worker: said, and the wait gives up at its timeout
    err = capsys.readouterr().err
    assert "no worker serves this SSRL_HOME, so the queued runs wait" in err
    assert f"still not ended after 0 s: {quick} (queued)" in err
    assert main(["wait", "no-such-run"]) == 2 and "no run with id 'no-such-run'" in capsys.readouterr().err
    assert main(["runs", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[long]["config"]["batch_size"] == 256 and rows[long]["config"]["seed"] == 4  # a queued run's settings
    assert rows[done]["worker_gone"] is False and "loss" in rows[long] and "eta_s" in rows[long]

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    worker = subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert main(["wait", done, quick, "--json"]) == 0
        out = capsys.readouterr().out
        lines, _, listing = out.partition("[")
        assert lines.splitlines()[0].startswith(f"{done}: done, knn 0.")  # ended already: said at once
        assert lines.splitlines()[1].startswith(f"{quick}: done, knn 0.")
        assert [r["status"] for r in json.loads("[" + listing)] == ["done", "done"]
        end = time.time() + 120
        while store.get(long)["status"] != "running" and time.time() < end:
            time.sleep(0.2)
        assert main(["cancel", long, "--wait"]) == 0  # returns once stopped: delete may follow at once
        assert store.get(long)["status"] == "cancelled"
        assert main(["delete", long]) == 0
        assert main(["wait", done, quick]) == 0
        cancelled = store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=5))
        store.request_cancel(cancelled)
        capsys.readouterr()
        assert main(["wait", done, cancelled]) == 1  # one did not end done
        assert capsys.readouterr().out.splitlines()[1] == f"{cancelled}: cancelled: cancelled before it started"
        assert main(["cancel", done, "no-such-run"]) == 2  # a typo refused before anything is cancelled
    finally:
        worker.kill()
        worker.wait()


def test_a_classroom_limit_exits_4_which_a_sweep_can_tell_from_a_refused_run(capsys, monkeypatch):
    """Every refusal exited 2: a sweep could not tell "the queue is full, try later" from "this
    run cannot start". A limit now exits 4; a run that cannot start still 2."""
    from ssrl_core.cli import main

    monkeypatch.setenv("SSRL_MAX_ACTIVE_PER_NICKNAME", "1")
    run = ["submit", "--dataset", "digits", "--method", "random", "--nickname", "sweep"]
    assert main(run) == 0
    capsys.readouterr()
    assert main([*run, "--seed", "1"]) == 4
    assert "'sweep' already has 1 run queued or running (the limit is 1)" in capsys.readouterr().err
    assert main(["submit", "--dataset", "digits", "--method", "random", "--option", "x=1"]) == 2


def test_export_training_html_stacks_the_loss_over_a_knn_axis_at_least_ten_points_high(tmp_path, monkeypatch):
    """The export's training.html drew the per-epoch kNN on a second axis over the loss's,
    fitted to the curve: 0.861 to 0.914 filled the height (5 points looked huge), its ticks sat
    on the loss's grid lines, and the legend said the log's fields, "loss" and "epoch_knn". Now
    two plots on one epoch axis, the kNN's as the app's accuracy curves (10 points at least)."""
    import plotly.graph_objects as go

    from ssrl_core.evaluate.epochs import EPOCHS_LOG
    from ssrl_core.runs import export

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    knn = [0.861, 0.884, 0.902, 0.914]
    (run_dir / EPOCHS_LOG).write_text("".join(
        json.dumps({"epoch": e, "loss": None if e == 0 else 5.0 - e, "epoch_knn": k}) + "\n" for e, k in enumerate(knn)))
    figs = {}
    monkeypatch.setattr(go.Figure, "write_html", lambda self, path, **kw: figs.__setitem__(os.path.basename(path), self))
    export.write_figures(run_dir, {}, [], tmp_path, "simclr (0001)")
    lay = figs["training.html"].layout
    axes = [lay[k] for k in lay if k.startswith("yaxis")]
    assert len(axes) == 2 and not any(a.overlaying for a in axes)  # stacked, not one over the other
    loss_axis, knn_axis = sorted(axes, key=lambda a: -a.domain[0])  # the loss above
    assert loss_axis.title.text == "pretext loss" and knn_axis.title.text == "kNN accuracy (subset)"
    lo, hi = knn_axis.range
    assert hi - lo >= 0.1 - 1e-9 and lo <= min(knn) and hi >= max(knn)
    assert [t.name for t in figs["training.html"].data] == ["pretext loss", "kNN accuracy (subset)"]
    # one epoch axis: the loss's follows the kNN's, which is ticked and titled at the bottom
    xaxes = [lay[k] for k in lay if k.startswith("xaxis")]
    assert len(xaxes) == 2 and len({a.matches for a in xaxes} - {None}) == 1


def test_runs_shows_the_first_line_of_a_multi_line_failure(tmp_path, capsys):
    """A missing dataset's reason lists its files a line each: printed whole, it broke the table."""
    from ssrl_core.cli import main
    from ssrl_core.config import RunConfig
    from ssrl_core.data import check_files
    from ssrl_core.runs.store import RunStore

    why = f"dataset missing: {check_files('cifar10', tmp_path)}"
    assert why.count("\n") >= 5
    store = RunStore()
    rid = store.submit(RunConfig(dataset="cifar10", method="rotation", epochs=1))
    other = store.submit(RunConfig(dataset="digits", method="rotation", epochs=1))
    store.claim("w")
    store.finish(rid, "failed", error=why, worker="w")
    capsys.readouterr()
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and any(ln.startswith(other) for ln in lines)  # a row a run
    [row] = [ln for ln in lines if ln.startswith(rid)]
    assert row.endswith(f"{why.splitlines()[0]} (more in `runs --json`)")
    assert main(["runs", "--json"]) == 0
    assert [r["error"] for r in json.loads(capsys.readouterr().out) if r["id"] == rid] == [why]  # whole there


def test_batch_size_help_says_the_floor_batch_for_uses():
    """The help writes SimCLR's MIN_BATCH as a number (the parser is built for `runs` too, which
    imports no PyTorch): the two must not drift apart."""
    import re

    from ssrl_core.cli import build_parser
    from ssrl_core.config import BATCH_SIZE, batch_for
    from ssrl_core.pretext.simclr import MIN_BATCH

    train = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if "--batch-size" in a.option_strings)
    said = re.sub(r"\s+", " ", train.help)
    assert f"from {MIN_BATCH} to {BATCH_SIZE}" in said and batch_for(64 * 40) == 64 and batch_for(100) == MIN_BATCH


def test_a_done_run_whose_folder_was_deleted_by_hand_is_listed_saying_so_and_what_to_do(capsys, finished_run):
    """An admin freed space with `rm -rf SSRL_HOME/runs/ID`: the run still read as done, with its kNN accuracy and
    nothing else, on every list; `delete` is what takes it off (restore-runs does the opposite)."""
    import shutil

    from ssrl_core.cli import main
    from ssrl_core.runs.store import RunStore

    rid, kept = finished_run("simclr"), finished_run("rotation")
    run_dir = RunStore().get(rid)["run_dir"]
    shutil.rmtree(run_dir)
    capsys.readouterr()
    assert main(["runs"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"its folder {run_dir} is gone (deleted by hand?): put it back, or delete the run " \
           f"(`python -m ssrl_core delete {rid}`)" in lines[rid]
    assert "gone" not in lines[kept]
    assert main(["delete", rid]) == 0 and RunStore().get(rid) is None


def test_a_notes_first_line_is_its_first_written_line_with_the_rest_apart():
    """A failure's reason as a table row or a box's line: blank lines and spaces around it are
    not its first line, and the rest (one file a line) is kept apart, stripped."""
    from ssrl_core.text import first_line

    assert first_line(None) == ("", "") and first_line("") == ("", "") and first_line(" \n\n ") == ("", "")
    assert first_line("out of memory\n") == ("out of memory", "")
    assert first_line("\n\n  dataset missing: cifar10\n  a <- missing\n  b <- missing\n\n") == (
        "dataset missing: cifar10", "a <- missing\n  b <- missing")
    assert first_line("one\n\ntwo") == ("one", "two")
    assert first_line("dataset missing: cifar10  \n  a <- missing") == ("dataset missing: cifar10", "a <- missing")


@pytest.mark.parametrize("status, todo", [
    ("queued", "wait for it to end (`python -m ssrl_core wait {rid}`), then run this again"),
    ("cancelled", "resume it (`python -m ssrl_core resume {rid}`) and wait for it to end, or give a finished run"),
])
def test_a_run_not_finished_given_to_probe_says_what_to_do(capsys, status, todo):
    """`probe --run ID` of a run still queued or training, or one that ended unfinished, said
    only "this needs a finished run": what was wrong, not what to do about it."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(method="random", epochs=0))
    if status == "cancelled":
        store.request_cancel(rid)
    for command in (["probe", "--run", rid], ["invariance", "--run", rid], ["export", "--run", rid, "--out", "x"]):
        res = cli(*command, check=False, capsys=capsys)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert res.stderr == f"error: run {rid} is {status}: this needs a finished run: {todo.format(rid=rid)}\n", res


def test_an_option_without_a_value_says_how_to_write_one(tmp_path, capsys):
    """`--option temperature` (no `=`) said "must look like key=value" without an example."""
    res = cli("submit", "--dataset", "digits", "--method", "simclr", "--option", "temperature", check=False,
              capsys=capsys)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr == "error: option 'temperature' must look like key=value, e.g. temperature=0.2\n", res.stderr


def _readme_item(start: str) -> str:
    text = (ROOT / "README.md").read_text()
    at = text.index(f"\n- {start}")
    return " ".join(text[at:text.index("\n- ", at + 1)].split())


def test_the_readme_names_every_field_probe_and_invariance_print(finished_run, capsys):
    """A script reads these JSONs by the README's words: every key they print is named there
    (`results`, keyed by budget, held the curve unsaid; an op with `skipped` has no `score`)."""
    import json

    rid = finished_run("simclr")
    printed = {}
    for name, command in (("probe", ["probe", "--run", rid, "--no-references"]),
                          ("probe", ["probe", "--run", rid, "--no-references", "--labels-per-class", "1"]),
                          ("invariance", ["invariance", "--run", rid])):
        out = json.loads(cli(*command, capsys=capsys).stdout)
        keys = set(out)
        for entry in out.get("results", {}).values():  # keyed by budget: 1, 5, 10, 50, all
            keys |= set(entry)
        for entry in out.get("invariance", {}).values():  # keyed by op
            keys |= set(entry)
        printed.setdefault(name, set()).update(keys)
    assert "skipped" in printed["invariance"] and "results" in printed["probe"]  # digits: grayscale changes nothing
    printed["probe"] |= {"random_linear", "supervised_scratch"}  # the references' (minutes to compute)
    for name, keys in printed.items():
        item = _readme_item(f"`{name}` prints JSON")
        assert not [k for k in sorted(keys) if f"`{k}`" not in item and f'`"{k}"' not in item], item


def test_a_warning_under_a_threshold_does_not_round_up_to_it(capsys):
    """n_clusters=288 on digits leaves 4.99 images a cluster, under deepcluster's 5: the
    warning said "leaves 5.0 training images a cluster ... a cluster of fewer than 5 images"."""
    res = cli("submit", "--dataset", "digits", "--method", "deepcluster", "--option", "n_clusters=288", "--epochs", "1",
              capsys=capsys)
    assert res.stderr.startswith("warning: deepcluster option n_clusters 288 leaves 4.99 training images a cluster "
                                 "(1,438 images in 288 clusters): a cluster of fewer than 5 images"), res.stderr
