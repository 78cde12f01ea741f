"""A second student's review of the app (Explore, Lessons, Learn, Gallery, Compare): each
page says only what it shows, and shows what it says."""
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from ssrl_core.figures import NAMED_COLOURS, PALETTE, colour_of, embedding_map, map_png

from .test_app import open_page, series
from .test_scale import drawn_colours


def test_a_factor_named_by_colours_is_drawn_in_those_colours():
    names = ["red", "yellow", "green", "cyan", "blue", "magenta"]
    values = np.array([3, 0, 5, -1])
    assert colour_of(values, names)[:3] == [NAMED_COLOURS["cyan"], NAMED_COLOURS["red"], NAMED_COLOURS["magenta"]]
    assert colour_of(values, ["circle", "square", "x", "y", "z", "w"])[:3] == [PALETTE[3], PALETTE[0], PALETTE[5]]
    fig = embedding_map(np.zeros((4, 2)), values, names)
    legend = {t.name: t.marker.color for t in fig.data[1:]}
    assert legend["cyan"] == NAMED_COLOURS["cyan"] and legend["red"] == NAMED_COLOURS["red"]
    assert drawn_colours(fig.data[0].marker) == colour_of(values[list(fig.data[0].customdata)], names)
    from PIL import Image  # the exported PNG uses the same colours

    png = Image.open(io.BytesIO(map_png(np.array([[0.5, 0.5]]), np.array([3]), size=50, point=5)))
    assert png.getpixel((25, 25)) != tuple(int(NAMED_COLOURS["cyan"][i:i + 2], 16) for i in (1, 3, 5))  # no names
    png = Image.open(io.BytesIO(map_png(np.array([[0.5, 0.5]]), np.array([3]), size=50, point=5, value_names=names)))
    assert png.getpixel((25, 25)) == tuple(int(NAMED_COLOURS["cyan"][i:i + 2], 16) for i in (1, 3, 5))


def test_explore_colours_shapes_by_their_own_colour(finished_run):
    finished_run("shapes-simclr")
    at = open_page("explore")
    at.selectbox(key="explore_colour").select("color").run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points, *legend = spec["data"]
    colours = {t["name"]: t["marker"]["color"] for t in legend if t["name"] in NAMED_COLOURS}
    assert len(colours) == 6 and all(c == NAMED_COLOURS[n] for n, c in colours.items())
    for text, colour in zip(points["text"], drawn_colours(points["marker"])):
        assert colour == NAMED_COLOURS[text]  # a point named cyan is drawn cyan


def test_explore_the_image_box_follows_the_chosen_image_and_the_address_keeps_it(finished_run):
    from .test_app import images

    rid = finished_run("simclr")
    at = open_page("explore")
    at.number_input(key=f"explore_pick_{rid}").set_value(7).run()  # typed and Enter: no button needed
    assert images(at)[0][0].startswith("query #7 · ")
    assert at.query_params["image"] in ("7", ["7"])
    at.button(key="explore_random").click().run()
    chosen = int(images(at)[0][0].split("#")[1].split()[0])
    assert at.number_input(key=f"explore_pick_{rid}").value == chosen  # the box shows it, not a stale 7
    assert not at.exception and not at.warning
    nbrs = [c for row in images(at)[1:] for c in row]
    assert len(nbrs) == 8 and all(c.startswith("#") for c in nbrs)  # each neighbour's number, to open it

    again = open_page("explore", image="12")  # a reload or a shared link
    assert images(again)[0][0].startswith("query #12 · ")
    assert again.number_input(key=f"explore_pick_{rid}").value == 12

    # a link's bad values are named as the address writes them, never as Python (None, ['a', 'b'])
    [bad] = open_page("explore", image="99999").warning
    assert bad.value.startswith("Ignored `image=99999` from the link (") and bad.value.endswith(").")
    other = finished_run("rotation")
    [partly] = open_page("compare", runs=f"{rid},{other},nope").warning
    assert partly.value.startswith(f"Ignored part of `runs={rid},{other},nope` from the link (nope: ")
    assert partly.value.endswith(f"; using `{rid},{other}`.")
    # a rerun the page makes itself (a run it waits for moving on) keeps the warnings: the address holds what the
    # page used by then, not the bad values, so the page alone no longer knew of them
    again = open_page("explore", image="99999").run()
    assert [w.value for w in again.warning] == [bad.value]
    again.number_input(key=f"explore_pick_{other}").set_value(5).run()  # (the newest run) a value of one's own ends it
    assert not again.warning
    again = open_page("compare", runs=f"{rid},{other},nope").run()
    assert [w.value for w in again.warning] == [partly.value]
    again.multiselect(key="cmp_runs").set_value([rid, other][::-1]).run()
    assert not any("Ignored" in w.value for w in again.warning)
    # also where the page ends early: one run left of the link's two, so Compare asks for another and stops there
    again = open_page("compare", runs=f"{rid},nope").run()
    assert any("Pick at least two runs" in i.value for i in again.info)
    assert [w.value for w in again.warning if "Ignored" in w.value][0].startswith(f"Ignored part of `runs={rid},nope`")
    assert not open_page("invariance").warning  # nor on another page


def test_explore_counts_shared_values_of_what_the_map_is_coloured_by(finished_run):
    finished_run("shapes-simclr")
    at = open_page("explore", image="3", colour="color")
    from .test_app import captions

    text = captions(at)
    assert "neighbours share the query's colour (" in text and "share the query's label" not in text
    from .test_app import images

    [query], *grids = images(at)
    assert query.startswith("query #3 · ") and len(query.split(" · ")) == 3  # row · shape · colour counted
    assert all(len(c.split(" · ")) == 4 for g in grids for c in g)  # row · shape · colour · similarity
    [query], *grids = images(open_page("explore", image="3", colour="shape"))  # the label again: said once
    assert query.startswith("query #3 · ") and len(query.split(" · ")) == 2
    assert all(len(c.split(" · ")) == 3 for g in grids for c in g)


def test_explore_on_an_unlabelled_set_claims_no_shared_labels(tmp_path):
    from ssrl_core.config import RunConfig
    from ssrl_core.data.custom import import_images
    from ssrl_core.runs.execute import execute
    from ssrl_core.runs.store import RunStore

    from .test_app import captions, images
    from .test_import_images import make_zip, png

    import_images(make_zip(tmp_path / "loose.zip", {f"{i}.png": png((i * 20, 0, 0)) for i in range(12)}), "loose")
    store = RunStore()
    cfg = RunConfig(dataset="loose", method="random", epochs=0)
    rid = store.submit(cfg)
    store.claim("test")
    store.finish(rid, "done", summary=execute(cfg, Path(store.get(rid)["run_dir"]), with_umap=False))
    at = open_page("explore", image="0")
    assert not at.exception
    text = captions(at)
    assert "share the query's" not in text and "is unknown, so the neighbours cannot be checked" in text
    query, *nbrs = images(at)
    nbrs = [c for row in nbrs for c in row]
    assert 0 < len(nbrs) <= 8
    assert any(f"its {len(nbrs)} nearest neighbours" in m.value for m in at.markdown)


def test_the_live_panel_lists_running_runs_first_then_the_queue_in_order():
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    first = store.submit(RunConfig(dataset="digits", method="simclr", epochs=50), nickname="dave")
    second = store.submit(RunConfig(dataset="digits", method="byol", epochs=50), nickname="ada")
    third = store.submit(RunConfig(dataset="digits", method="moco", epochs=50), nickname="ada")
    assert store.claim("w")["id"] == first  # the oldest: running now
    at = open_page("pretrain", who="ada")
    heads = [m.value for m in at.markdown if " — running" in m.value or " — queued" in m.value]
    assert [h.split("**")[1].split(" ")[0] for h in heads] == ["simclr", "byol", "moco"]
    assert heads[0].endswith("· by dave") and heads[1].endswith("— queued, next in line")
    assert heads[2].endswith("— queued, 2nd in line (1 ahead)")
    # ada's own, said so (a phone review found its run among ten only by its Cancel button), dave's not
    assert ["** (yours) — " in h for h in heads] == [False, True, True]
    for rid in (first, second, third):
        store.request_cancel(rid)


def test_a_queued_run_says_when_it_should_start_from_the_runs_that_finished_before(monkeypatch):
    """One worker, a run training with 2 minutes to go, two queued behind it: each queued run
    says when it should start, from the seconds per epoch of a finished run like it."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs import worker
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    before = store.submit(RunConfig(dataset="digits", method="simclr", epochs=10))
    store.claim("w")
    store.finish(before, "done", summary={"epochs": 10, "train_seconds": 60.0, "total_seconds": 90.0})  # 6 s/epoch
    first = store.submit(RunConfig(dataset="digits", method="simclr", epochs=50), nickname="dave")
    second = store.submit(RunConfig(dataset="digits", method="simclr", epochs=50), nickname="ada")
    third = store.submit(RunConfig(dataset="digits", method="moco", epochs=50), nickname="ada")
    fourth = store.submit(RunConfig(dataset="digits", method="simclr", epochs=20), nickname="ada")
    store.claim("w")
    store.record(first, {"kind": "step", "step": 1, "total_steps": 10, "eta_s": 90.0})
    monkeypatch.setattr(worker, "live_workers", lambda: [{"slot": 0, "pid": 1, "code": "70-1"}])  # (a worker of this version)
    at = open_page("pretrain", who="ada")
    heads = {h.split("**")[1]: h for h in (m.value for m in at.markdown) if " — queued" in h}
    by_id = {rid: next(h for label, h in heads.items() if rid in label) for rid in (second, third, fourth)}
    assert by_id[second].endswith("next in line, starts in about 2 min")  # 90 s of training + 30 s after
    assert by_id[third].endswith("2nd in line (1 ahead), starts in about 8 min")  # 120 + 50 * 6 + 30 = 450 s
    assert by_id[fourth].endswith("3rd in line (2 ahead)")  # no moco has finished: no guess behind it
    for rid in (first, second, third, fourth):
        store.request_cancel(rid)


def test_a_lessons_panel_lists_its_own_runs_and_counts_the_others(monkeypatch):
    from ssrl_core import lessons as L
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    from .test_lessons import TINY

    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="byol", epochs=50), nickname="dave")
    lesson = L.load_by_name("tiny")
    L.launch(lesson, store)
    at = open_page("lessons", lesson="tiny", hide="controls,nav")
    heads = [m.value for m in at.markdown if " — queued" in m.value]
    assert len(heads) == 3 and not any("byol" in h for h in heads)  # the lesson's three, not dave's
    assert heads[0].endswith("— queued, 2nd in line (1 ahead)")  # dave's run was queued first
    assert "Also on this server: 1 other run queued or training" in " ".join(c.value for c in at.caption)
    ours = [r["id"] for r in store.list() if r["nickname"] == L.lesson_nickname(lesson)]
    for rid in ours:  # the teacher frees the worker: `cancel --nickname lesson:tiny`
        store.request_cancel(rid)
    at = open_page("lessons", lesson="tiny", hide="controls,nav")
    # one notice, the runs named as the lesson names them, and no "Queue it again" per run for a student to undo it
    [said] = [i.value for i in at.info if "cancelled" in i.value]
    assert said.startswith("The lesson's runs **") and "were cancelled" in said and "resumes them" in said, said
    assert all(f"{n}" in said for n in ("random", "simclr")), said
    assert not [b for b in at.button if (b.key or "").startswith("resume_")]
    at.button(key="dismiss_lesson_cancelled").click().run()
    assert not [i for i in at.info if "cancelled" in i.value]


def test_learn_clusters_the_best_self_supervised_run_not_a_baseline(finished_run):
    """The self-supervised run with the best kNN accuracy (the newest picked a 1-epoch run whose
    clusters were a poor picture of the idea), never a baseline."""
    from ssrl_core.runs.store import RunStore

    from .test_app import captions

    simclr = finished_run("simclr")
    rotation = finished_run("rotation")  # newer, and worse: its summary's kNN set below simclr's
    store = RunStore()
    best = store.get(simclr)["summary"]["knn_accuracy"]
    with store._conn() as db:
        summary = {**store.get(rotation)["summary"], "knn_accuracy": best - 0.1}
        db.execute("UPDATE runs SET summary = ? WHERE id = ?", (json.dumps(summary), rotation))
    finished_run("random")  # newer still, but an untrained encoder: not what the picture should show
    at = open_page("learn")
    text = captions(at)
    assert "k-means (faiss, as DeepCluster, without its PCA-whitening) on 600 images' features from the " \
           "self-supervised run with the best kNN accuracy here, simclr · digits" in text and simclr in text
    assert "random · digits" not in text and "rotation · digits" not in text
    # held against the same k-means on the images' pixels (which group digits by label better than a short run's
    # features do: the page said nothing of it)
    # out of the most six clusters can give over ten classes (a statistician read 54% as poor, against at most 60%)
    assert re.search(r"\d+% of the clustered images carry their cluster's most common label \(of at most 6\d%: there "
                     r"are fewer clusters than classes\); clustered by their raw pixels instead, \d+%\.", text), text


def test_learn_draws_its_pictures_from_any_set_on_this_disk(tmp_path):
    """An imported set is offered (a teacher's own images); a downloadable set whose files are
    not here is not (its pictures could only fail)."""
    from ssrl_core.data import load_dataset
    from ssrl_core.data.custom import import_images

    from .test_imported_sets import pets_zip

    import_images(pets_zip(tmp_path), "pets")
    at = open_page("learn")
    box = at.selectbox(key="learn_dataset")
    assert "pets" in box.options and "cifar10" not in box.options and box.options[:2] == ["digits", "shapes"]
    box.select("pets").run()
    assert not at.exception and not at.error
    assert len(at.get("image")) >= 4  # masked, rotation, pairs and the clusters, made from the cats and dogs
    n = len(load_dataset("pets"))
    assert n < 600 and f"on the raw pixels of {n} images;" in " ".join(c.value for c in at.caption)  # all of them


@pytest.mark.parametrize("n", [1, 4])
def test_learn_draws_a_set_of_fewer_images_than_its_pictures_ask_for(tmp_path, n):
    """A set of one loose image, or four: the page fell over on faiss ("number of training points
    (4) should be at least as large as number of clusters (6)"), then on RotNet's grid of 4."""
    from ssrl_core.data.custom import import_images

    from .test_import_images import make_zip, png

    import_images(make_zip(tmp_path / "few.zip", {f"{i}.png": png((60 * i, 20, 200)) for i in range(n)}), "few")
    at = open_page("learn", dataset="few")
    assert not at.exception and not at.error and at.get("image")


def test_a_chart_of_one_run_still_names_it():
    from app import charts

    fig = charts.curves({"simclr (1298)": ([1, 2], [3.9, 4.0], None)}, "epoch")
    assert fig.layout.showlegend and fig.data[0].name == "simclr (1298)"


def test_invariance_bars_carry_their_standard_error(finished_run):
    finished_run("shapes-simclr")
    at = open_page("invariance")
    traces = series(json.loads(at.get("plotly_chart")[0].proto.spec)["data"])  # the run's bars, the untrained one's
    assert len(traces) == 2
    for bars in traces:
        errors = bars["error_y"]["array"]
        assert len(errors) == len(bars["x"]) and all(e >= 0 for e in errors) and any(e > 0 for e in errors)
    assert "± one standard error over the test images" in " ".join(c.value for c in at.caption)


def test_ones_own_finished_run_is_announced_with_a_link_to_explore():
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1), nickname="ada")
    store.claim("w")
    store.finish(rid, "done", summary={"knn_accuracy": 0.9})
    at = open_page("pretrain", who="ada")
    [done] = [s.value for s in at.success if "finished" in s.value]
    assert rid in done and "kNN 0.900" in done
    assert not [s for s in open_page("pretrain", who="bob").success if "finished" in s.value]  # not someone else's


def test_a_link_to_runs_opens_on_their_dataset_and_keeps_it(finished_run):
    digits = finished_run("simclr")
    finished_run("shapes-simclr")  # the page would otherwise start on shapes
    for page, key in (("invariance", "inv_dataset"), ("evaluate", "eval_dataset")):
        at = open_page(page, runs=digits)
        assert not at.warning or "Ignored" not in at.warning[0].value
        assert at.selectbox(key=key).value == "digits"
        assert at.multiselect(key=key.split("_")[0] + "_runs").value == [digits]
        at.selectbox(key=key).select("shapes").run()
        # the address opens what is shown: shapes' runs (runs= always names them), and so shapes
        again = open_page(page, **{k: v for k, v in at.query_params.items()})
        assert again.selectbox(key=key).value == "shapes" and digits not in at.query_params["runs"]


def test_each_runs_own_random_reference_is_drawn_when_seeds_differ():
    from app import readouts

    refs0 = {"random-linear/label/1/s3": {"mean": 0.45, "std": 0, "labels_per_class": 1, "n_labels": 10}}
    refs7 = {"random-linear/label/1/s3": {"mean": 0.50, "std": 0, "labels_per_class": 1, "n_labels": 10}}
    out = readouts.reference_curves(refs0, tag="seed 0")
    readouts.reference_curves(refs7, into=out, tag="seed 7")
    assert {k: v[1] for k, v in out.items()} == {"random encoder, linear (seed 0)": [0.45],
                                                 "random encoder, linear (seed 7)": [0.50]}


def test_an_augmentation_strength_from_a_link_is_kept_beyond_the_sliders_usual_range():
    at = open_page("augment", augment="rotate(degrees=270)")
    assert not at.exception
    assert at.query_params["augment"] in ("rotate(degrees=270)", ["rotate(degrees=270)"])
    assert any(s.value == 270 for s in at.slider)


def test_the_augment_sliders_give_only_strengths_that_make_pictures():
    """A crop's min_scale slider went down to 0 and past its max_scale: each gave an error, twice,
    and no pictures. One two-handled slider per min/max pair, from a step above 0 for a crop."""
    at = open_page("augment", augment="crop(min_scale=0.3),flip")
    scale = next(s for s in at.slider if s.label == "scale (min, max)")
    assert scale.min == 0.05 and scale.max == 1.0 and tuple(scale.value) == (0.3, 1.0)
    scale.set_value((0.05, 0.05)).run()
    assert not at.error and not at.exception
    assert at.query_params["augment"] in ("crop(min_scale=0.05,max_scale=0.05),flip",
                                          ["crop(min_scale=0.05,max_scale=0.05),flip"])
    ratio = next(s for s in at.slider if s.label == "ratio (min, max)")
    assert ratio.min > 0 and ratio.value[0] <= ratio.value[1]


def test_a_link_repeating_an_op_says_the_picker_applies_it_once():
    at = open_page("augment", augment="crop,crop(min_scale=0.5),flip")
    assert any("The link's augmentations repeat crop; this picker holds each op once" in w.value for w in at.warning)
    assert at.query_params["augment"] in ("crop(min_scale=0.5),flip", ["crop(min_scale=0.5),flip"])
    assert not open_page("augment", augment="crop,flip").warning


def test_a_link_hiding_an_unknown_part_says_so():
    at = open_page("pretrain", hide="nav,bogus")
    assert any("Ignored `hide=bogus` from the link: it can hide nav, controls, advanced." in w.value for w in at.warning)
    assert not [w for w in open_page("pretrain", hide="nav,controls").warning if "hide=" in w.value]


def test_a_failed_run_without_a_nickname_is_nobodys_notice():
    """A CLI-submitted run has no nickname: its failure is not announced on anyone's page
    (it read as 'The lesson's run … failed' wherever no lesson was open)."""
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1))  # no nickname
    store.claim("w")
    store.finish(rid, "failed", error="boom")
    at = open_page("pretrain", who="ada")
    assert not [e for e in at.error if "boom" in e.value]


def test_the_finish_notice_names_the_run_once(finished_run):
    """'Your run simclr · … · kNN 0.955 · ID finished: kNN 0.955.' said the accuracy twice."""
    rid = finished_run("simclr", nickname="ada")
    at = open_page("pretrain", who="ada")
    [notice] = [s.value for s in at.success if "finished" in s.value]
    assert notice.endswith(f"{rid}** finished. Its map and neighbours are on Explore.") and notice.count("kNN") == 1


def test_a_maps_groups_differ_in_shape_as_well_as_colour():
    """Digits 0 and 4, 6 and 9, 2 and 3 were told apart by colour alone, which for a deuteranope
    is one colour each pair: each group has its own marker shape, on the map and in its legend."""
    from ssrl_core.figures import GROUP_SYMBOLS

    values = np.array([0, 4, 6, 9, 2, 3, -1])
    fig = embedding_map(np.random.default_rng(0).normal(size=(7, 2)), values, [str(d) for d in range(10)])
    points = fig.data[0]
    assert list(points.marker.symbol) == [GROUP_SYMBOLS[max(values[r], 0)] for r in points.customdata]  # (drawn shuffled)
    assert len({GROUP_SYMBOLS[a] for a in (0, 4)} | {GROUP_SYMBOLS[a] for a in (6, 9)}) == 4
    legend = {t.name: t.marker.symbol for t in fig.data[1:] if t.name}
    assert legend["4"] == GROUP_SYMBOLS[4] and legend["unknown"] == 0


def test_a_lessons_finished_run_is_not_announced_to_a_student_as_their_own(monkeypatch):
    """On the class's link a student is told of their own runs' ends, and of the lesson's failures
    and cancels; a lesson run that finished is not "Your run … finished" on every student's phone."""
    from ssrl_core import lessons as L
    from ssrl_core.runs.store import RunStore

    from .conftest import finish_done
    from .test_lessons import TINY

    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    store = RunStore()
    lesson = L.load_by_name("tiny")
    L.launch(lesson, store)
    first = store.claim("w")["id"]  # one of the lesson's runs done, the others still queued: the panel is shown
    finish_done(store, first, summary={"knn_accuracy": 0.9})
    at = open_page("lessons", lesson="tiny", hide="controls,nav", who="alice")
    assert any(" — queued" in m.value for m in at.markdown)
    assert not [s.value for s in at.success if "finished" in s.value]


def test_the_blur_slider_starts_a_step_above_zero_and_says_what_sigma_is():
    """A blur of width 0 is refused (nan images): its slider starts a step above 0, and its help
    says what the number is, in pixels."""
    at = open_page("augment", augment="blur")
    sigma = next(s for s in at.slider if s.label == "sigma (min, max)")
    assert sigma.min == 0.05 and sigma.max == 3.0 and "standard deviation (sigma), in pixels" in sigma.help
    sigma.set_value((0.05, 0.05)).run()
    assert not at.error and not at.exception


def test_explore_shows_the_first_and_the_last_image_typed_and_the_split_each_is_in(finished_run):
    # the bounds of the number box: image #0 without a "no image #0" beside it, and the last image shown, not
    # only accepted in the box with the image before it still shown
    from ssrl_core.data import load_dataset

    from .test_app import images

    rid = finished_run("simclr")
    ds = load_dataset("digits")
    at = open_page("explore")
    for row in (0, len(ds) - 1, 7):
        at.number_input(key=f"explore_pick_{rid}").set_value(row).run()
        assert not at.error and images(at)[0][0].startswith(f"query #{row} · ")
        split = "train" if bool(ds.is_train[row]) else "test"
        assert any(m.value.startswith(f"**Image #{row}** ({split} split") for m in at.markdown), row


def test_explore_colours_each_frame_of_the_map_history_by_its_own_images(finished_run):
    # the frames show a subset of the images (1,383 of digits' 1,797): each point in its own image's colour, not in
    # that of the image of the same position in the whole set
    from ssrl_core.data import load_dataset

    from .test_scale import _array

    finished_run("simclr")
    ds = load_dataset("digits")
    at = open_page("explore")
    points = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    rows = _array(points["customdata"]).astype(int)
    assert len(rows) == 1383 and len(set(rows.tolist())) == 1383
    assert drawn_colours(points["marker"]) == colour_of(ds.labels.numpy()[rows], ds.class_names)


@pytest.fixture
def click_map(monkeypatch):
    """``click_map(at, row)``: a click on the point of image ``row`` of the page's first map. As a browser does, the
    chart's selection is sent with every run after it while that chart is on the page (AppTest has no way to click
    a Plotly chart)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.testing.v1.element_tree import ElementTree

    chosen: dict[str, int] = {}
    sent = ElementTree.get_widget_states

    def states(tree):
        ws = sent(tree)
        for chart in tree.get("plotly_chart"):
            if chart.proto.id in chosen:
                ws.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(
                    {"selection": {"points": [{"customdata": chosen[chart.proto.id]}], "point_indices": [0],
                                   "box": [], "lasso": []}})))
        return ws

    monkeypatch.setattr(ElementTree, "get_widget_states", states)

    def click(at, row: int):
        chosen[at.get("plotly_chart")[0].proto.id] = row
        return at.run()

    return click


def test_explore_shows_a_number_typed_after_a_click_on_the_map_not_the_point_clicked(finished_run, click_map):
    # the map keeps the point clicked selected: an image chosen afterwards by its number (or at random) must start
    # the map afresh, or the old click, still selected, took the page back to its image
    from .test_app import images

    rid = finished_run("simclr")
    at = open_page("explore")
    click_map(at, 5)
    assert not at.exception and images(at)[0][0].startswith("query #5 · ")
    at.number_input(key=f"explore_pick_{rid}").set_value(9).run()
    assert images(at)[0][0].startswith("query #9 · ")
    at.run()  # and it stays
    assert images(at)[0][0].startswith("query #9 · ")
    click_map(at, 5)  # the same point clicked again shows it again
    assert images(at)[0][0].startswith("query #5 · ")


def test_learn_says_the_pixels_group_better_only_where_they_do(finished_run):
    # the clusters' purity on the run's features against on the raw pixels: the sentence that the pixels group by
    # label better stands where their share is the larger one, and only there
    finished_run("simclr")
    at = open_page("learn")
    [said] = [c.value for c in at.caption if "clustered by their raw pixels instead" in c.value]
    features, pixels = (int(x) for x in re.search(r" (\d+)% of the clustered images .*instead, (\d+)%", said).groups())
    if "Here the pixels group by label better than the run's features do" in said:
        assert features <= pixels, said
    else:
        assert features >= pixels, said
