"""Method options that depend on the data, on a small imported set (a reviewer's 160 images,
128 for training, batch 16): the rules on fake sizes, the defaults an imported set gets, and
what the CLI and the Pretrain page say before a run is queued. The set is conftest's ``small``."""
from __future__ import annotations

import json

import pytest

from ssrl_core.config import RunConfig, batch_for, default_options
from ssrl_core.pretext import METHODS, check_data
from ssrl_core.runs.store import RunStore

from .test_cli import cli
from .test_import_images import make_zip, png

DIGITS, SHAPES = (1438, 32), (8000, 128)  # training images and default batch of the built-in sets measured


# ----------------------------------------------------------------------------- the rules, on sizes alone


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("n_train, batch", [DIGITS, SHAPES])
def test_the_defaults_say_nothing_on_the_built_in_sets(name, n_train, batch):
    """Their numbers in docs/methods.md were measured with these defaults."""
    assert check_data(name, {}, n_train, batch) == []
    sized = METHODS[name].sized_defaults(n_train, batch)  # were they imported, they would get the same
    assert all(METHODS[name].defaults[k] == v for k, v in sized.items())


def test_deepcluster_refuses_more_clusters_than_images_and_warns_of_too_few_images_a_cluster():
    with pytest.raises(ValueError, match=r"^deepcluster option n_clusters must be at most the 128 training images, "
                                         r"got 500: k-means cannot make more clusters than it has images"):
        check_data("deepcluster", {"n_clusters": 500}, 128, 8)
    [warning] = check_data("deepcluster", {}, 128, 8)  # the paper default, 100
    assert warning.startswith("deepcluster option n_clusters 100 leaves 1.3 training images a cluster")
    assert "10,000 clusters, still about 128 images each" in warning and "n_clusters=25 or fewer" in warning
    assert "n_clusters=12 (about 10 images a cluster)" in warning
    assert check_data("deepcluster", {"n_clusters": 25}, 128, 8) == []
    assert check_data("deepcluster", {"n_clusters": 128}, 128, 8)  # one image a cluster: trains, warned
    with pytest.raises(ValueError, match="needs at least 2 training images"):
        check_data("deepcluster", {}, 1, 8)


def test_swav_warns_of_a_queue_beside_the_batch_longer_than_the_set_and_of_too_few_embeddings_a_prototype():
    [warning] = check_data("swav", {}, 128, 8)  # its queue of 256
    assert "puts 264 embeddings of each view in every Sinkhorn split, more than the 128 training images" in warning
    assert "queue_size=120 or less" in warning
    assert check_data("swav", {"queue_size": 120}, 128, 8) == []
    [warning] = check_data("swav", {"queue_size": 0}, 1438, 16)  # no queue: 16 embeddings for 30 prototypes
    assert warning.startswith("swav option n_prototypes 30 is more than the 16 embeddings")
    assert "Lower n_prototypes to 16 or fewer, or raise queue_size to 14" in warning
    assert check_data("swav", {"queue_size": 0}, 1438, 32) == []  # 32 for 30: at least one each


def test_moco_warns_of_a_queue_that_must_hold_the_batchs_own_images():
    [warning] = check_data("moco", {}, 128, 8)  # 1,024 keys: the last 512 images
    assert "keys of the last 512 images" in warning and "a query's own image among its negatives" in warning
    assert "queue_size=240 or less" in warning
    assert check_data("moco", {"queue_size": 240}, 128, 8) == []
    assert check_data("moco", {"queue_size": 242}, 128, 8)


def test_simclr_warns_of_few_negatives_at_a_small_batch_cut_to_the_set():
    [warning] = check_data("simclr", {}, 128, 8)
    assert warning.startswith("simclr at batch 8 compares each view with only 14 negatives")
    assert "raise the batch size to 16" in warning and "use moco" in warning
    assert check_data("simclr", {}, 128, 16) == []
    [warning] = check_data("simclr", {}, 10, 128)  # the loop takes the 10 images there are
    assert warning.startswith("simclr at batch 10 ") and "raise the batch" not in warning  # none to raise it to
    # and why the form's default is that small, where it warns of its own default (48 images: batch 8)
    assert warning.endswith("This set's 10 training images are too few for batch 16 (under 4 steps an epoch): that "
                            "is why its default batch is smaller.")
    assert "too few for batch" not in check_data("simclr", {}, 128, 8)[0]


SIZED = [name for name, cls in METHODS.items() if cls.sized_defaults(100, 16)]  # every method that scales one


def test_the_methods_that_scale_their_defaults_are_all_checked():
    assert {"deepcluster", "swav", "moco"} <= set(SIZED)


@pytest.mark.parametrize("name", SIZED)
def test_an_imported_sets_scaled_defaults_are_never_warned_of(name):
    for n in range(30, 3000, 7):
        sized = METHODS[name].sized_defaults(n, batch_for(n))
        assert check_data(name, sized, n, batch_for(n)) == [], n
        assert all(v <= METHODS[name].defaults[k] for k, v in sized.items())


# ----------------------------------------------------------------------------- an imported set's run config


def test_an_imported_set_gets_options_scaled_to_its_size_recorded_in_the_config(small):
    assert default_options(small, "deepcluster") == {"n_clusters": 12}
    assert default_options(small, "moco") == {"queue_size": 224} and default_options(small, "swav") == {"queue_size": 112}
    assert default_options(small, "simclr") == {} and default_options("digits", "deepcluster") == {}
    assert RunConfig(dataset=small, method="deepcluster").resolved("cpu").options == {"n_clusters": 12}
    given = RunConfig(dataset=small, method="moco", options={"queue_size": 64, "temperature": 0.1})
    assert given.resolved("cpu").options == {"queue_size": 64, "temperature": 0.1}
    assert RunConfig(dataset="digits", method="moco").resolved("cpu").options == {}  # built-in: unchanged


# ----------------------------------------------------------------------------- the command line


def test_the_cli_refuses_clusters_the_set_cannot_hold_and_warns_of_a_degenerate_queue(small, tmp_path, capsys):
    out = tmp_path / "run"
    res = cli("train", "--dataset", small, "--method", "deepcluster", "--option", "n_clusters=500", "--out", str(out),
              check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr and not out.exists()
    assert res.stderr.startswith("error: deepcluster option n_clusters must be at most the 128 training images, got 500")
    assert "n_clusters=12" in res.stderr

    res = cli("submit", "--dataset", small, "--method", "moco", "--option", "queue_size=1024", capsys=capsys)
    [line] = res.stderr.splitlines()  # in this process: the refusal above was the real one
    assert line.startswith("warning: moco option queue_size 1,024 ") and "queue_size=224 or less" in line
    [run] = RunStore().list()
    assert res.stdout.strip() == run["id"]  # queued all the same: it trains
    from ssrl_core.cli import main  # the scaled default: nothing to say

    assert main(["submit", "--dataset", small, "--method", "moco"]) == 0 and capsys.readouterr().err == ""
    # a batch over the training set: said as on the Pretrain page, and queued all the same
    assert main(["submit", "--dataset", small, "--method", "simclr", "--batch-size", "4000", "--epochs", "3"]) == 0
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("warning: Batch size 4,000 is more than the 128 training images of small: each step takes all "
                    "128 of them (the batch is cut to the training set), so every epoch is a single optimiser "
                    "step, 3 in all. A batch of 32 or less makes 4 or more steps an epoch.")
    assert main(["submit", "--dataset", small, "--method", "random", "--batch-size", "4000"]) == 0  # trains nothing
    assert capsys.readouterr().err == ""


def test_a_run_on_an_imported_set_trains_with_and_records_its_scaled_options(small, tmp_path):
    res = cli("train", "--dataset", small, "--method", "deepcluster", "--epochs", "1", "--evaluation", "basic",
              "--no-umap", "--out", str(tmp_path / "run"))
    assert res.stderr.count("warning:") == 0
    summary = json.loads(res.stdout)
    assert summary["options"] == {"n_clusters": 12} and summary["batch_size"] == 16
    assert json.loads((tmp_path / "run" / "config.json").read_text())["options"] == {"n_clusters": 12}


# ----------------------------------------------------------------------------- the Pretrain page


def test_pretrain_page_scales_the_defaults_and_says_what_the_set_is_too_small_for(small):
    from .test_app_review_data import open_page

    at = open_page("pretrain", dataset=small, method="deepcluster")
    assert at.number_input(key=f"pt_batch_{small}").value == 16
    k = at.number_input(key=f"pt_opt_deepcluster_{small}_n_clusters")
    assert k.value == 12 and "scaled to this dataset's size (built-in sets: 100)" in k.help
    assert not at.warning and not at.button(key="pt_launch").disabled

    k.set_value(100).run()  # trains, but degenerately: said, and Launch stays
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("deepcluster option n_clusters 100 leaves 1.3 training images a cluster")
    assert not at.button(key="pt_launch").disabled
    at.number_input(key=f"pt_opt_deepcluster_{small}_n_clusters").set_value(500).run()  # cannot: refused
    assert at.warning[0].value.startswith("Can't launch: deepcluster option n_clusters must be at most the 128 "
                                          "training images, got 500")
    assert at.button(key="pt_launch").disabled

    # a link asking for the built-in default on this set: kept, not taken for the scaled default
    linked = open_page("pretrain", dataset=small, method="deepcluster", options="n_clusters=100")
    assert linked.number_input(key=f"pt_opt_deepcluster_{small}_n_clusters").value == 100

    at.selectbox(key="pt_method").select("moco").run()
    assert at.number_input(key=f"pt_opt_moco_{small}_queue_size").value == 224 and not at.warning
    at.number_input(key=f"pt_opt_moco_{small}_queue_size").set_value(1024).run()
    assert any("moco option queue_size 1,024 " in w.value for w in at.warning)

    at.selectbox(key="pt_method").select("simclr").run()
    assert not at.warning  # the set's default batch, 16, is one SimCLR (the default method) does not warn of
    at.number_input(key=f"pt_batch_{small}").set_value(8).run()
    assert [w.value for w in at.warning][0].startswith("simclr at batch 8 compares each view with only 14 negatives")
    assert RunStore().list() == []


def test_a_run_begun_before_the_scaling_continues_with_the_options_it_began_with(small, tmp_path, monkeypatch):
    from ssrl_core import config
    from ssrl_core.train import load_trained, pretrain

    with monkeypatch.context() as m:  # as this code was: the paper's queue of 1,024 on 128 images
        m.setattr(config, "default_options", lambda dataset, method: {})
        pretrain(RunConfig(dataset=small, method="moco", epochs=1), tmp_path)
    events = []
    trained = pretrain(RunConfig(dataset=small, method="moco", epochs=2), tmp_path, on_event=events.append)
    assert events[0] == {"kind": "resumed", "epoch": 1, "epochs": 2}
    assert trained.config.options == {} and len(trained.method.queue) == 1024
    assert len(load_trained(tmp_path).method.queue) == 1024  # and it loads as it trained


def test_a_run_is_not_continued_on_a_set_imported_again_with_other_images(small, tmp_path):
    """The worker resumes an interrupted run from its checkpoint; if the set was imported
    again in between, continuing would train one encoder on two sets. It is refused, the
    checkpoint is left as it was, and with the original images back the run continues."""
    from ssrl_core.data.custom import import_images
    from ssrl_core.train import pretrain

    run = tmp_path / "run"
    pretrain(RunConfig(dataset=small, method="simclr", epochs=1, batch_size=16), run)
    before = (run / "checkpoint.safetensors").read_bytes()
    original = {f"{c}/{i}.png": png((3 * i, 100 * k, 255 - 3 * i)) for k, c in enumerate(("leaf", "bark"))
                for i in range(80)}
    other = {f"{c}/{i}.png": png((255 - 3 * i, 50 * k, 3 * i)) for k, c in enumerate(("leaf", "bark"))
             for i in range(80)}
    import_images(make_zip(tmp_path / "other.zip", other), small, replace=True)
    with pytest.raises(ValueError, match=r"small's images changed since this run began training .* import the "
                                         r"original archive again to continue it, or start a new run"):
        pretrain(RunConfig(dataset=small, method="simclr", epochs=2, batch_size=16), run)
    assert (run / "checkpoint.safetensors").read_bytes() == before

    import_images(make_zip(tmp_path / "again.zip", original), small, replace=True)
    events = []
    pretrain(RunConfig(dataset=small, method="simclr", epochs=2, batch_size=16), run, on_event=events.append)
    assert events[0] == {"kind": "resumed", "epoch": 1, "epochs": 2}


def test_rotation_prediction_on_a_set_drawn_at_every_angle_is_cautioned_before_it_trains():
    """A browser review: rotation on shapes ended at loss 1.386 (log 4: chance) and effective rank
    1.4, its kNN under the untrained encoder's, and nothing had said the task cannot be solved
    there. Launch (and `train`/`submit`) say so first; digits, upright, trains without a word."""
    from ssrl_core.config import RunConfig
    from ssrl_core.data import load_dataset
    from ssrl_core.train import data_warnings

    shapes, digits = load_dataset("shapes"), load_dataset("digits")
    [said] = [w for w in data_warnings(RunConfig(dataset="shapes", method="rotation"), shapes) if "every angle" in w]
    assert "rotation predicts how far an image was turned" in said and "cannot be solved" in said
    assert not data_warnings(RunConfig(dataset="digits", method="rotation"), digits)
    assert not [w for w in data_warnings(RunConfig(dataset="shapes", method="simclr"), shapes) if "every angle" in w]
    assert not data_warnings(RunConfig(dataset="shapes", method="rotation", epochs=0), shapes)  # trains nothing
