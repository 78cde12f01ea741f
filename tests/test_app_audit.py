"""A researcher's audit of what the app reports: the same number reads the same on every
page, and what a caption says about a chart is true of it."""
from __future__ import annotations

from pathlib import Path

from ssrl_core.config import RunConfig
from ssrl_core.evaluate.suite import RunProbes
from ssrl_core.runs.execute import execute
from ssrl_core.runs.store import RunStore

from .test_app import captions, open_page


def basic_run(**cfg) -> tuple[str, Path]:
    """A finished run evaluated with ``--evaluation basic`` (no UMAP, probes or map evolution)."""
    store = RunStore()
    config = RunConfig(**{"dataset": "digits", "method": "random", "epochs": 0, "evaluation": "basic", **cfg})
    rid = store.submit(config)
    run_dir = Path(store.get(rid)["run_dir"])
    store.claim("test")
    store.finish(rid, "done", summary=execute(config, run_dir))
    return rid, run_dir


def test_gallery_gives_a_basic_runs_one_label_accuracy_once_its_probes_are_computed(ssrl_home):
    """Gallery read the 1-label accuracy from the summary, written at the end of training, so a
    run evaluated without probes kept "–" there after a probe job had computed it, while
    Compare showed the number."""
    rid, run_dir = basic_run()
    at = open_page("gallery")
    assert "1\u00a0label/class\u00a0– ·" in captions(at)  # unbroken: a line broke after its "1"
    RunProbes(run_dir).standard()  # what Evaluate's "Compute their probes" runs
    one = RunProbes(run_dir).linear(1)["mean"]
    at = open_page("gallery")
    assert f"1\u00a0label/class\u00a0{one:.3f} ·" in captions(at)  # as Compare reads it, from the probes


def test_explore_says_a_basic_run_has_no_umap_or_frames_because_of_its_evaluation(ssrl_home):
    """A basic run's map caption said the UMAP "is still being computed", and its frames that it
    "finished before they were recorded": neither is true of it."""
    rid, _ = basic_run()
    at = open_page("explore", run=rid)
    said = captions(at)
    assert "still being computed" not in said and "before they were recorded" not in said
    assert "PCA of the features: this run was evaluated with `--evaluation basic`, which makes no UMAP." in said
    assert "This run was evaluated with `--evaluation basic`, which lays out no map per epoch" in said


def test_reference_curves_are_told_apart_by_what_they_depend_on():
    """Compare named a shapes run's and a digits run's random-encoder curves "(aug simclr)" and
    "(aug digits)": they differ by dataset, and an untrained encoder's readout does not depend
    on the augmentations at all (supervised training from scratch does)."""
    from app import readouts

    def run(rid, dataset, augment, seed=0):
        return {"id": rid, "dataset": dataset, "method": "simclr", "summary": {},
                "config": {"dataset": dataset, "encoder": "cnn-small", "augment": augment, "seed": seed}}

    tags = readouts.reference_tags([run("a", "shapes", "simclr"), run("b", "digits", "digits")])
    assert tags == {"a": {"random-linear": "shapes", "supervised-scratch": "shapes, aug simclr preset"},
                    "b": {"random-linear": "digits", "supervised-scratch": "digits, aug digits preset"}}
    # a preset named as one (a legend's "aug: simclr" read as trained with SimCLR); ops, and no augmentation, as written
    assert [readouts.augment_name(run("a", "shapes", spec)) for spec in ("simclr", "crop,flip", "none")] == \
        ["simclr preset", "crop,flip", "none"]
    tags = readouts.reference_tags([run("a", "digits", "crop,flip"), run("b", "digits", "digits", seed=7)])
    assert tags["a"] == {"random-linear": "seed 0", "supervised-scratch": "seed 0, aug crop,flip"}
    refs = {"random-linear/label/1/s3": {"mean": 0.45, "std": 0, "labels_per_class": 1, "n_labels": 10},
            "supervised-scratch/label/1/s3": {"mean": 0.3, "std": 0, "labels_per_class": 1, "n_labels": 10}}
    same = [run("a", "digits", "crop,flip"), run("b", "digits", "digits")]  # one random encoder, two scratch curves
    tags = readouts.reference_tags(same)
    out = readouts.reference_curves(refs, tag=tags["a"])
    readouts.reference_curves(refs, into=out, tag=tags["b"])
    assert sorted(out) == ["random encoder, linear", "supervised from scratch (aug crop,flip)",
                           "supervised from scratch (aug digits preset)"]


def test_evaluate_counts_a_shared_partial_reference_once_and_says_which_point_has_no_spread(finished_run):
    """Two runs of one dataset, encoder, augmentations and seed share one supervised reference:
    with it partial, Evaluate said "the supervised reference is partial for 2 runs". Its text
    said every point is a mean over 3 draws, but the every-label point is one fit; and it gave
    digits' measured gaps (in points, beside fractions) whatever the dataset."""
    from ssrl_core.evaluate.suite import Cache, reference_cache

    store = RunStore()
    a, b = finished_run("simclr"), finished_run("simclr")
    point = {"mean": 0.5, "std": 0.01, "values": [0.5], "seeds": 3, "labels_per_class": 1, "n_labels": 10,
             "classes": 10, "steps": 200}
    from ssrl_core.runs.artifacts import RunArtifacts

    cfg = RunArtifacts(Path(store.get(a)["run_dir"])).run_config()  # as the run trained: its encoder resolved
    reference_cache(cfg).get("supervised-scratch/label/1/s3/t200", lambda: point)  # one budget of five
    Cache(Path(store.get(a)["run_dir"]) / "probes.json").get("finetune/label/1/s3/t200", lambda: point)
    at = open_page("evaluate", runs=f"{a},{b}")
    assert not at.exception
    assert ("Partial so far: fine-tuning of 1 run and the supervised reference; the curves end where the computed "
            "budgets end; the button below computes the rest.") in captions(at)
    said = " ".join(m.value for m in at.markdown)
    assert "(mean over 3 random draws of the labelled images, the whiskers ± their standard deviation; the rightmost " \
           "point uses every label, one fit and no spread)" in said
    assert "level with it at 5, and 0.003 to 0.014 below it with more" in captions(at) and "points" not in captions(at)


def test_invariance_leaves_an_unmeasured_run_out_of_its_charts(finished_run):
    """A run picked before its invariance was measured had a legend entry and no bars, its
    hidden labels "n/a", which the caption explains as an op that changes nothing; it is named
    in the warning above the chart, with the button that measures it. Rotation predictability
    is given to 3 decimals, as in Compare's table."""
    import json

    store = RunStore()
    a, b = finished_run("simclr"), finished_run("rotation")
    (Path(store.get(b)["run_dir"]) / "probes.json").unlink()  # as a run from before probes existed
    at = open_page("invariance", runs=f"{a},{b}")
    assert "finished before invariance" in at.warning[0].value
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t["name"] for t in spec["data"]]
    assert any(n.startswith(f"simclr ({a[-4:]})") for n in names)
    assert not any(n.startswith(f"rotation ({b[-4:]})") for n in names), names
    lines = [m.value for m in at.main.markdown if m.value.startswith("- **")][0].splitlines()
    assert len(lines) == 2 and all(line[4:9].replace(".", "").isdigit() and line[5] == "." and line[9:11] == "**"
                                   for line in lines), lines  # the run and its untrained network, 0.xyz each


def test_a_runs_colour_stays_when_its_fine_tuned_curve_is_drawn():
    """As fine-tuning points arrived, byol's curve turned from orange to green and simclr's from
    green to red, unlike their colours in the page's other charts; a run's linear and fine-tuned
    curves had two colours. A run keeps its colour; its fine-tuned curve is dotted in it."""
    from app import charts

    pt = ([1, 5], [0.5, 0.6], [0.0, 0.0])
    refs = {"random encoder, linear": pt}
    before = charts.label_efficiency({"rotation (a) linear": pt, "byol (b) linear": pt, "simclr (c) linear": pt}, refs)
    after = charts.label_efficiency({"rotation (a) linear": pt, "rotation (a) fine-tuned": pt, "byol (b) linear": pt,
                                     "simclr (c) linear": pt, "simclr (c) fine-tuned": pt}, refs)
    colour = lambda fig: {t.name: (t.line.color, t.line.dash, t.marker.symbol) for t in fig.data}  # noqa: E731
    b, a = colour(before), colour(after)
    for run in ("rotation (a)", "byol (b)", "simclr (c)"):
        assert a[f"{run} linear"] == b[f"{run} linear"]
    assert a["simclr (c) fine-tuned"] == (b["simclr (c) linear"][0], "dot", b["simclr (c) linear"][2])
    assert len({b[f"{r} linear"][0] for r in ("rotation (a)", "byol (b)", "simclr (c)")}) == 3
    assert a["random encoder, linear"][1] == "dash"
