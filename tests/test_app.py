"""Every page driven with Streamlit's AppTest: widgets, submits, errors, switch_page."""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.text import quiet_icon
from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore

from .conftest import ROOT, finish_done

MAIN = str(ROOT / "app" / "main.py")


# the pages st.navigation registers (learnt from the first run of the session): with them AppTest opens a page at
# its first run, as a link to it does, where it could only switch to one after a run of the Start page (0.1 to 0.2 s
# of every page's test, some 40 s of the suite's)
_PAGES: dict = {}


def open_page(page: str | None = None, **params) -> AppTest:
    """The app opened (at ``page``) with ``params`` in its address, as a link would."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    if page and _PAGES and hasattr(at, "_registered_pages"):  # (AppTest's own map, which Streamlit 1.67 keeps there)
        at._registered_pages = dict(_PAGES)
        at.switch_page(f"../pages/{page}.py")
        at.run()
    else:
        at.run()
        _PAGES.update(getattr(at, "_registered_pages", {}))
        if page:
            at.switch_page(f"../pages/{page}.py")
            at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def images(at) -> list[list[str]]:
    """Captions of every st.image call on the page, one list per call."""
    return [[i.caption for i in el.proto.imgs] for el in at.get("image")]


def all_images(at) -> list[str]:
    """Captions of every image on the page, in order (a grid draws each with its own call)."""
    return [c for row in images(at) for c in row]


def test_start_page_quick_start_queues_a_run_and_opens_pretrain():
    at = open_page()
    assert at.title[0].value == "SSRL Playground"
    at.button(key="quick_start").click()
    at.run()
    runs = RunStore().list()
    assert len(runs) == 1 and runs[0]["status"] == "queued"
    assert runs[0]["method"] == "simclr" and runs[0]["dataset"] == "digits" and runs[0]["epochs"] == 10
    assert at.title[0].value == "Pretrain"  # switched page
    assert any("simclr · digits" in m.value for m in at.markdown)  # shown in the live panel
    assert at.success[0].value.startswith(f"Queued run {runs[0]['id']}: its loss curve and cancel button are under "
                                          "**Training now**")
    # said first, where the page opens, not under Launch at the form's end (1,200 px down on a phone)
    first = list(at.main.children.values())[1]  # after the title: the note's block, not the form's columns
    assert [s.value for s in first.get("success")] == [at.success[0].value] and not first.get("selectbox")
    assert len(at.success) == 1  # once
    # what to do meanwhile: a newcomer sat through minutes with nothing said (a class's link without nav: nothing)
    from .test_classroom import page_links

    assert "While it trains, two pages need no finished run:" in captions(at)
    assert {p for p, _ in page_links(at)} >= {"augment", "learn"}
    again = open_page()  # the same session's button pressed again: the run it queued, not a second one
    again.session_state["nickname"] = at.session_state["nickname"]
    again.button(key="quick_start").click().run()
    assert len(RunStore().list()) == 1 and again.title[0].value == "Pretrain"


def test_start_page_says_how_long_its_first_run_took_here(monkeypatch):
    """'About a minute' is a 2-core CPU's figure; once a run like the first one has finished on
    this machine, the page says how long that one took (under a class's load it was 4 minutes).
    Before that, a machine busy with other work is said to make it longer (a newcomer waited 8)."""
    import os

    from ssrl_core.config import RunConfig

    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    at = open_page()
    assert "On a 2-core CPU the run takes about a minute" in captions(at)  # nothing finished here yet
    assert "busy" not in captions(at)
    assert "A first path: while the run trains, see what augmentations do" in captions(at)
    monkeypatch.setattr(os, "getloadavg", lambda: (6.4, 5.0, 4.0))
    at = open_page()
    assert ("On an idle 2-core CPU the run takes about a minute, but this machine is busy now (load 6.4 on 2 cores: "
            "more work than it has cores), so it will take longer.") in captions(at)
    assert at.header[0].value == "Your first run"  # no minute promised above it
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=10))
    store.claim("w")
    store.finish(rid, "done", summary={"epochs": 10, "train_seconds": 200.0, "total_seconds": 230.0})
    at = open_page()
    # (not "(230 s, ...": runs like it took 20 to 42 s here, more precision than the estimate has)
    assert ("On this machine it should take about 4 min, the map included (going by the runs like it that "
            "finished here; longer while other runs train).") in captions(at)
    assert at.header[0].value == "Your first run, in about 4 min"  # not "about a minute" above "about 4 min"
    # under a minute: said as Pretrain says it ("about 1 min" here beside Pretrain's "less than a minute")
    store.delete(rid)
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=10))
    store.claim("w")
    store.finish(rid, "done", summary={"epochs": 10, "train_seconds": 15.0, "total_seconds": 22.0})
    at = open_page()
    assert "On this machine it should take less than a minute, the map included (going by" in captions(at)
    assert at.header[0].value == "Your first run, in less than a minute"


def test_a_load_of_one_run_per_core_is_not_called_busy(monkeypatch):
    """The start page calls the machine busy (and its minute longer) only past 1.5 runs per core: load 2.0 on 2 cores is not, 3.2 is."""
    import os

    from app import services

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    assert services.busy() == ""
    monkeypatch.setattr(os, "getloadavg", lambda: (3.2, 2.0, 2.0))
    assert services.busy() == "load 3.2 on 2 cores"


def _done(store, dataset: str) -> str:
    rid = store.submit(RunConfig(dataset=dataset, method="simclr", epochs=1))
    store.claim("w")
    finish_done(store, rid, summary={"epochs": 1})
    return rid


def test_finished_runs_of_a_dataset_are_that_datasets_only():
    """The results pages' runs of one dataset (its picker, its counts) are that dataset's finished runs, not every dataset's."""
    from app import services

    store = RunStore()
    digits, shapes = _done(store, "digits"), _done(store, "shapes")
    assert [r["id"] for r in services.finished_runs("shapes")] == [shapes]
    assert [r["id"] for r in services.finished_runs("digits")] == [digits]
    assert {r["id"] for r in services.finished_runs()} == {digits, shapes}


def test_a_run_still_computing_its_probes_is_not_offered_as_finished():
    """Compare and Evaluate list done runs only: a run whose probes are still being computed is offered only where its map is asked for."""
    from app import services

    store = RunStore()
    done = _done(store, "digits")
    running = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1))
    store.claim("w")
    store.record(running, {"kind": "phase", "phase": "probes: linear readout"})
    assert [r["id"] for r in services.finished_runs()] == [done]
    assert {r["id"] for r in services.finished_runs(with_mapping=True)} == {done, running}


def test_a_running_run_is_offered_for_its_map_from_its_umap_to_its_map_evolution():
    """Explore offers a running run once its accuracies and PCA map are written: during its
    UMAP, its probes and its map-evolution frames; not while its first numbers are computed."""
    from app import services

    store = RunStore()
    runs = {}
    for seed, phase in enumerate(("linear probe", "umap", "probes: invariance", "map evolution")):
        rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1, seed=seed))
        store.claim("w")
        store.record(rid, {"kind": "phase", "phase": phase})
        runs[phase] = rid
    assert {r["id"] for r in services.finished_runs(with_mapping=True)} == \
        {runs[p] for p in ("umap", "probes: invariance", "map evolution")}
    assert services.finished_runs() == []


def test_a_run_identical_to_one_training_is_found_as_its_twin():
    """Pretrain says a classmate's run with these very settings and seed is queued or training now (its result
    will be the one a new run gives): found while it trains too, not only while it waits or once it is done;
    a cancelled one is no twin."""
    from app import services

    store = RunStore()
    cfg = RunConfig(dataset="digits", method="simclr", epochs=1)
    rid = store.submit(cfg, nickname="ada")
    assert services.twin_run(cfg)["id"] == rid  # queued
    store.claim("w")
    assert services.twin_run(cfg)["id"] == rid  # training
    assert services.twin_run(RunConfig(dataset="digits", method="simclr", epochs=1, seed=1)) is None  # another seed
    store.finish(rid, "cancelled", error="stopped", worker="w")
    assert services.twin_run(cfg) is None


def test_a_resumed_runs_evaluation_time_is_its_latest_attempts():
    """The live panel's evaluation ETA counts from this attempt's first step past training: a run whose worker was
    lost during its UMAP, requeued and resumed, is training again (no evaluation time), not still evaluating since
    its earlier attempt's UMAP began."""
    from app import services

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1))
    store.claim("w")
    store.record(rid, {"kind": "phase", "phase": "umap"}, worker="w")
    left, since = services.evaluation_time(store.get(rid))
    assert left is None and since is not None and 0 <= since < 60  # (no finished run like it: nothing to estimate)
    assert store.requeue(rid, "w", "its worker stopped")
    store.claim("w2")  # resumed from its checkpoint: training again
    assert services.evaluation_time(store.get(rid)) == (None, None)
    store.record(rid, {"kind": "phase", "phase": "umap"}, worker="w2")
    assert services.evaluation_time(store.get(rid))[1] is not None


def test_a_links_hide_names_its_parts_in_any_case(monkeypatch):
    """A teacher's link with ?hide=CONTROLS,Nav hides the pickers and the navigation as ?hide=controls,nav does."""
    from types import SimpleNamespace

    from app import urlstate

    monkeypatch.setattr(urlstate, "st", SimpleNamespace(query_params={"hide": "CONTROLS, Nav"}))
    assert urlstate.hidden("controls") and urlstate.hidden("nav") and not urlstate.hidden("advanced")
    assert urlstate.unknown_parts() == []


def numbers(at) -> str:
    """The Data page's line of the dataset's numbers."""
    [line] = [m.value for m in at.markdown if " held out for testing" in m.value and " images of " in m.value]
    return line


def grids(at) -> list:
    """The ``st.grid`` blocks on the page, each a protobuf GridContainer, with its images' captions."""
    from streamlit.testing.v1.element_tree import Block

    def walk(node):
        if isinstance(node, Block) and node.type == "grid_container":
            yield node.proto, [i.caption for el in node.get("image") for i in el.proto.imgs]
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return list(walk(at.main))


def test_data_page_shows_digits_and_explains_a_missing_dataset():
    at = open_page("data")
    # one line: five metrics stacked one per row on a phone and filled its first screen before any image
    assert numbers(at) == "**1,797** images of 32×32 px, 1 channel · **10** classes · **1,438** for training, " \
                          "**359** held out for testing"
    assert not at.metric
    # each caption says what its parts are, as Explore's do ("#4 4" read as two numbers of one kind)
    assert "Under each image: its number in the set (#), then its label." in captions(at)
    shown = all_images(at)
    assert len(shown) == 32 and all(re.fullmatch(r"#\d+ · \d", c) for c in shown), shown
    at.multiselect(key="data_classes").select("3").run()
    assert all(c.endswith(" · 3") for c in all_images(at))
    at.selectbox(key="data_dataset").select("cifar10").run()
    assert not at.exception
    msg = at.error[0].value + "\n" + at.get("text")[0].value  # the files, a line each, under the error
    assert "cifar" in msg and "data_batch_1" in msg  # says which files go where


def test_augment_page_shows_two_views_and_regenerates():
    at = open_page("augment")
    # 8 images, each shown with its two views in a frame of its own: side by side with no gap the
    # pictures read as one strip of six images; two frames to a row beside the controls, one on a phone
    [(grid, first)] = grids(at)
    assert len(first) == 8 and grid.border and grid.columns == 2 and grid.min_column_width_px >= 200
    assert all(re.fullmatch(r"#\d+ · \d", c) for c in first), first  # captioned as on Data and Explore
    assert "Under it: its number in the set (#), then its label." in captions(at)
    at.button(key="aug_regenerate").click().run()
    assert grids(at)[0][1] != first  # other images drawn
    # in the address, so a link shows the same draw (Regenerate's views could not be shared or found again)
    assert at.query_params["sample"] in ("1", ["1"]) and grids(open_page("augment", sample="1"))[0][1] == grids(at)[0][1]
    at.selectbox(key="aug_preset").select("custom…").run()
    at.multiselect(key="aug_ops").set_value(["flip", "noise"]).run()
    # custom ops start from the preset's strengths (digits: noise(p=0.3)), not the ops' defaults
    assert not at.exception and "`flip`, `noise(p=0.3)`" in captions(at)
    assert "one channel" not in captions(at)
    at.multiselect(key="aug_ops").set_value(["grayscale", "color_jitter"]).run()  # on gray images: said why alike
    assert ("digits has one channel (gray): `grayscale` changes nothing here; `color_jitter` changes only brightness "
            "and contrast (its saturation and hue need colour).") in captions(at)


def test_augmentations_typed_on_augment_set_its_boxes_and_a_bad_spec_is_said_and_not_used():
    """A hand-written spec could be given to the Augment page only by editing its address."""
    at = open_page("augment", dataset="shapes")
    at.text_input(key="aug_typed").input("Flip").run()  # not used: said why, the boxes as they were
    assert at.error[0].value.startswith("Not used: cannot read augmentation spec at 'Flip' (names are written in "
                                        "lowercase: 'flip')")
    assert at.selectbox(key="aug_preset").value == "simclr"
    at.text_input(key="aug_typed").input("crop(min_scale=0.3),color_jitter(hue=0.5)").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="aug1_preset").value == "custom…" and at.multiselect(key="aug1_ops").value == [
        "crop", "color_jitter"]
    assert at.query_params["augment"] in ("crop(min_scale=0.3),color_jitter(hue=0.5)",
                                          ["crop(min_scale=0.3),color_jitter(hue=0.5)"])
    assert "hue 0.5 = ±180°" in captions(at) and at.text_input(key="aug_typed1").value == ""
    at.text_input(key="aug_typed1").input("digits").run()  # a preset typed: the box says it
    assert at.selectbox(key="aug2_preset").value == "digits"


def test_augmentations_chosen_on_augment_go_to_pretrains_form_with_its_other_boxes_kept():
    """A review chose augmentations on Augment, opened Pretrain and found digits' preset there (each page keeps its own
    boxes), with no way across but retyping them."""
    at = open_page("pretrain")
    at.selectbox(key="pt_method").select("byol").run()
    at.number_input(key="pt_epochs").set_value(3).run()
    at.switch_page("../pages/augment.py").run()
    at.selectbox(key="aug_dataset").select("shapes").run()
    at.selectbox(key="aug_preset").select("custom…").run()
    at.multiselect(key="aug_ops").set_value(["crop", "color_jitter"]).run()
    at.button(key="aug_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Pretrain" and at.selectbox(key="pt1_dataset").value == "shapes"
    assert at.selectbox(key="pt1_method").value == "byol" and at.number_input(key="pt1_epochs").value == 3
    assert at.selectbox(key="pt1_preset").value == "custom…" and at.multiselect(key="pt1_ops").value == ["crop",
                                                                                                        "color_jitter"]
    at.switch_page("../pages/pretrain.py").run()  # (AppTest's next run is of the page it was told, not the script's)
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    assert (run["dataset"], run["method"], run["epochs"]) == ("shapes", "byol", 3)
    from ssrl_core.augment import parse_augment

    assert [o.name for o in parse_augment(run["config"]["augment"]).ops] == ["crop", "color_jitter"]


def test_the_app_goes_on_with_a_new_store_when_its_home_is_deleted_while_it_runs(ssrl_home):
    """A teacher deleted SSRL_HOME between classes with the app still served: its store, kept for
    the app's life, made an empty file there on the next page, and every page failed on "no such
    table: runs" until the app was restarted."""
    import shutil

    at = open_page("pretrain")
    assert not at.warning
    shutil.rmtree(ssrl_home)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # said until a run is made in the new store (the runs had gone from every page with no word: an admin's review)
    assert at.warning[0].value.startswith(f"The run store at `{ssrl_home / 'store.sqlite'}` was gone (moved aside, or "
                                          "SSRL_HOME deleted")
    at.button(key="pt_launch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(RunStore().list()) == 1
    at.run()
    assert not [w for w in at.warning if "run store" in w.value]


def test_pretrain_launches_validates_and_cancels():
    at = open_page("pretrain")
    at.selectbox(key="pt_method").select("rotation")
    at.number_input(key="pt_epochs").set_value(3)
    at.button(key="pt_launch").click().run()
    assert not at.error, at.error[0].value
    [run] = RunStore().list()
    assert run["method"] == "rotation" and run["epochs"] == 3 and run["status"] == "queued"
    assert run["config"]["augment"] == "digits"  # the dataset's preset
    # said while the run is queued or training, not on the click's rerun only: the live panel redraws
    # the page when the run starts, and the note went with it
    assert at.success[0].value.startswith(f"Queued run {run['id']}:")
    RunStore().claim("test")
    at.run()
    assert at.success[0].value.startswith(f"Queued run {run['id']}: watch it below, under **Training now**")
    # the live panel right under Launch and the note (in Launch's column; on a phone too) draws its progress: the note
    # does not draw it again (it did while the panel was at the top of the other column, on a projector scrolled away)
    launch = at.button(key="pt_launch")
    column = next(c for c in at.columns if launch in c.get("button"))
    assert column.get("header")[0].value == "Training now"
    RunStore().record(run["id"], {"kind": "step", "epoch": 2, "epochs": 3, "step": 5, "total_steps": 15,
                                  "loss": 3.0, "images_per_s": 900.0, "eta_s": 12.0})
    at.run()
    bars = [p.proto.text for p in at.get("progress")]
    assert bars == ["in epoch 1 of 3 · 33% of the training done"], bars  # the live panel's
    RunStore().requeue(run["id"], "test", "the test's claim let go")
    at.run()
    # the live panel lists it with a cancel button that works
    at.button(key=f"cancel_{run['id']}").click().run()
    assert RunStore().get(run["id"])["status"] == "cancelled"
    # and the notice of its end offers to queue it again (it finished no epoch: it starts over)
    again = at.button(key=f"resume_{run['id']}")
    assert again.label == "Queue it again" and "starts over" in again.help
    again.click().run()
    assert RunStore().get(run["id"])["status"] == "queued" and len(RunStore().list()) == 1
    RunStore().request_cancel(run["id"])  # cancelled elsewhere (the CLI, another tab) as this page still offers it
    at.button(key=f"cancel_{run['id']}").click().run()
    # said where it outlasts the rerun the run's end makes (in the live panel it was gone within 2 s)
    assert [t.value for t in at.toast] == [f"Not cancelled: run {run['id']} has already ended (cancelled); "
                                           "nothing to cancel"]

    # a dataset whose files are missing is refused before anything is queued
    at.selectbox(key="pt_dataset").select("mnist").run()
    at.button(key="pt_launch").click().run()
    assert "Not launched" in at.error[0].value and "mnist" in at.error[0].value
    assert len(RunStore().list()) == 1


def test_any_finished_run_of_the_runs_table_opens_in_explore(finished_run):
    """The runs table has no links: a finished run's results were reached from Pretrain only by
    one's own run's note, for 15 minutes after it ended (by keyboard, not at all: an
    accessibility review). Its actions open any finished run in Explore; a run not finished, or
    one whose folder is gone, has nothing to open."""
    import shutil

    from .test_classroom import page_links

    def to_explore(at) -> list[tuple[str, str]]:
        return [(p, q) for p, q in page_links(at) if p == "explore"]

    done = finished_run("random", nickname="bo")
    store = RunStore()
    queued = store.submit(RunConfig(dataset="digits", method="rotation", epochs=5))
    gone = finished_run("random", nickname="cy")
    shutil.rmtree(store.get(gone)["run_dir"])
    at = open_page("pretrain", who="ada")
    assert not at.exception, [e.value for e in at.exception]
    opens = to_explore(at)
    at.selectbox(key="pt_again_pick").select(done).run()
    assert to_explore(at) == opens + [("explore", f"run={done}")]
    assert [b.label for b in at.get("page_link") if b.proto.page == "explore"][-1] == f"Open run {done} in Explore"
    for nothing in (queued, gone):
        at.selectbox(key="pt_again_pick").select(nothing).run()
        assert to_explore(at) == opens


def test_a_failed_runs_settings_fill_the_form_and_a_cancelled_run_resumes_from_its_epoch():
    at = open_page("pretrain")
    me, store = at.session_state["nickname"], RunStore()
    failed = store.submit(RunConfig(dataset="digits", method="simsiam", epochs=7, batch_size=64, lr=5e-4, seed=3,
                                    augment="crop,flip", options={"stop_gradient": False}, weight_decay=0.05),
                          nickname=me)
    cancelled = store.submit(RunConfig(dataset="digits", method="rotation", epochs=5), nickname=me)
    theirs = store.submit(RunConfig(dataset="digits", method="rotation", epochs=5, seed=1), nickname="bo")
    full = store.submit(RunConfig(dataset="digits", method="rotation", epochs=5, seed=2), nickname=me)
    for rid, epoch in ((failed, 2), (cancelled, 3), (theirs, 1), (full, 1)):
        store.claim("w")
        store.record(rid, {"kind": "epoch_end", "epoch": epoch, "epochs": 5, "loss": 1.0}, worker="w")
    store.finish(failed, "failed", error="its worker stopped 3 times", worker="w")
    store.finish(full, "failed", error="disk full: the disk holding x is full: free some space there, then resume "
                 "the run", worker="w")
    for rid in (cancelled, theirs):
        store.finish(rid, "cancelled", error="cancelled at epoch 4, step 2", worker="w")
    at.run()
    # a run failed for what was around it (a full disk, since freed) resumes where it stopped; one failed on
    # its settings is launched again with changed ones
    assert at.button(key=f"resume_{full}").label == "Resume at epoch 2"
    assert not [b for b in at.button if b.key == f"resume_{failed}"]
    # the cancelled run continues from the checkpoint of the epoch it finished, behind the queue
    resume = at.button(key=f"resume_{cancelled}")
    assert resume.label == "Resume at epoch 4" and "epochs 4 to 5" in resume.help
    resume.click().run()
    assert store.get(cancelled)["status"] == "queued" and store.get(cancelled)["phase"] == "resumed"
    assert len(store.list()) == 4  # the same run, not a new one
    # someone else's cancelled run: its owner resumes it, not this session
    at.selectbox(key="pt_again_pick").select(theirs).run()
    assert not [b for b in at.button if b.key == "pt_again_resume"] and "Only bo can resume it" in captions(at)
    # a student back in a new session (a new guest name) is told how to be bo again
    assert "If that was you in another session, type **bo** in the sidebar's nickname box" in captions(at)
    # and deletes it only through a pop-over that says whose it is
    assert any("This is **bo**'s run, not yours" in m.value for m in at.markdown)
    at.button(key=f"delete_{theirs}").click().run()
    assert not at.exception and store.get(theirs) is None and theirs not in {r["id"] for r in store.list()}
    assert not [b for b in at.button if b.key == f"delete_{cancelled}"]  # queued again: not deletable
    # the failed run's settings fill the form, after this session changed its boxes
    at.selectbox(key="pt_method").select("byol").run()
    at.number_input(key="pt_epochs").set_value(2).run()
    at.button(key=f"again_{failed}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # (in new boxes, pt1_…: a browser keeps a box's value under its key, whatever the address says)
    assert at.selectbox(key="pt1_method").value == "simsiam" and at.number_input(key="pt1_epochs").value == 7
    assert at.number_input(key="pt1_batch_digits").value == 64 and at.number_input(key="pt1_seed").value == 3
    assert at.number_input(key="pt1_lr").value == 5e-4 and at.checkbox(key="pt1_opt_simsiam_stop_gradient").value is False
    assert at.selectbox(key="pt1_preset").value == "custom…" and at.multiselect(key="pt1_ops").value == ["crop", "flip"]
    note = " ".join(i.value for i in at.info)
    assert f"set to run {failed}'s settings" in note and "weight decay 0.05" in note
    # the page reruns itself when any run starts or ends (the live panel): the note stays until Launch
    at.run()
    assert f"set to run {failed}'s settings" in " ".join(i.value for i in at.info)
    at.switch_page("../pages/gallery.py").run()  # another page, then back: the form as left, the note said
    at.switch_page("../pages/pretrain.py").run()
    assert not [i for i in at.info if "set to run" in i.value] and at.selectbox(key="pt1_method").value == "simsiam"
    at.button(key="pt_launch").click().run()
    at.run()
    assert not [i for i in at.info if "set to run" in i.value]  # launched: the note has done its work
    newest = store.list(limit=1)[0]
    assert newest["id"] not in (failed, cancelled)
    assert {k: v for k, v in newest["config"].items() if k != "weight_decay"} == \
        {k: v for k, v in store.get(failed)["config"].items() if k != "weight_decay"}


def test_pretrain_method_options_reach_the_run_config_with_the_sessions_nickname(monkeypatch):
    monkeypatch.setenv("SSRL_MAX_ACTIVE_PER_NICKNAME", "1")
    at = open_page("pretrain")
    assert at.sidebar.text_input(key="nickname").value.startswith("guest-")  # every session has one
    at.sidebar.text_input(key="nickname").set_value("ada")
    at.number_input(key="pt_opt_simclr_temperature").set_value(0.2)
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    assert run["config"]["options"] == {"temperature": 0.2} and run["nickname"] == "ada"
    assert list(at.dataframe[0].value["who"]) == ["ada"]  # the runs table says whose it is
    assert list(at.dataframe[0].value["encoder"]) == ["auto (cnn-small)"]  # queued: what this CPU machine will use
    # Launch pressed again with the same settings: the run is already queued, not queued twice
    at.button(key="pt_launch").click().run()
    assert not at.error and any(f"Run {run['id']}, with these very settings" in i.value for i in at.info)
    assert len(RunStore().list()) == 1
    # another run of the same nickname is over the classroom limit: refused, with why
    at.number_input(key="pt_seed").set_value(1)
    at.button(key="pt_launch").click().run()
    assert "Not launched" in at.error[0].value and "'ada' already has 1 run queued or running" in at.error[0].value
    assert len(RunStore().list()) == 1


def test_values_outside_the_forms_range_are_refused_before_launch_saying_the_range():
    """The boxes had the range as bounds, and a browser keeps a bounded box's last valid value
    when one outside is typed: Launch then trained 10 epochs where the box showed 100000. The
    boxes are unbounded now (a browser sends what is typed: test_browser.py), and the page
    says what is wrong."""
    at = open_page("pretrain")
    proj = at.number_input(key="pt_opt_simclr_proj_dim")
    assert (proj.min, proj.max) == (None, None) and "allowed: from 2 to 8192" in proj.help
    proj.set_value(9000).run()
    assert "Can't launch: simclr option proj_dim must be" in at.warning[0].value and "8192" in at.warning[0].value
    at.number_input(key="pt_opt_simclr_proj_dim").set_value(128)
    at.number_input(key="pt_opt_simclr_temperature").set_value(0.0).run()  # below its least
    assert "Can't launch: simclr option temperature must be from 0.01 to 10" in at.warning[0].value
    assert at.button(key="pt_launch").disabled and RunStore().list() == []  # nothing to queue
    at.number_input(key="pt_opt_simclr_temperature").set_value(0.5)
    for box, value, said in [("pt_epochs", 100000, "Epochs must be from 0 to 1000; the box says 100000"),
                             ("pt_batch_digits", 1, "Batch size must be from 2 to 4096; the box says 1"),
                             ("pt_lr", 2.0, "Learning rate must be from 1e-05 to 1; the box says 2"),
                             ("pt_seed", -1, "Seed must be from 0 to 2147483647; the box says -1")]:
        start = at.number_input(key=box).value
        assert (at.number_input(key=box).min, at.number_input(key=box).max) == (None, None)
        at.number_input(key=box).set_value(value).run()
        assert at.warning[0].value == f"Can't launch: {said}: type a number in that range", box
        assert at.button(key="pt_launch").disabled and not at.query_params.get(box[3:7])  # not put in the link
        at.number_input(key=box).set_value(start).run()
        assert not at.warning and not at.button(key="pt_launch").disabled
    # a text option with a fixed set of values is a choice, not a free text box
    at.selectbox(key="pt_method").select("deepcluster").run()
    head_init = at.selectbox(key="pt_opt_deepcluster_head_init")
    assert sorted(head_init.options) == ["centroids", "random"] and head_init.value == "centroids"  # the default


def qp(at, name):
    """A query parameter's value as AppTest holds it (a str, or a one-item list)."""
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def test_a_link_carries_method_options_into_the_form_and_the_run(monkeypatch):
    """The collapse demo as a teacher shares it: ?method=simsiam&options=stop_gradient=false."""
    at = open_page("pretrain", method="simsiam", options="stop_gradient=false,pred_hidden_dim=256")
    assert at.checkbox(key="pt_opt_simsiam_stop_gradient").value is False
    assert at.number_input(key="pt_opt_simsiam_pred_hidden_dim").value == 256
    at.number_input(key="pt_opt_simsiam_pred_hidden_dim").set_value(512).run()  # back to the default: left out
    assert qp(at, "options") == "stop_gradient=false"
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    assert run["config"]["options"] == {"stop_gradient": False}
    # with the form hidden (hide=advanced) the link's options still reach the run, and are said
    at = open_page("pretrain", method="simclr", options="temperature=0.2", seed="3", hide="advanced")
    assert "pt_opt_simclr_temperature" not in [n.key for n in at.number_input]
    assert "simclr options from the link: `temperature=0.2`" in captions(at)
    at.button(key="pt_launch").click().run()
    [seed3] = [r for r in RunStore().list() if r["config"]["seed"] == 3]
    assert seed3["config"]["options"] == {"temperature": 0.2}
    # a bad value is ignored with a message naming it, the run starts at the defaults
    at = open_page("pretrain", method="simclr", options="temperature=-1")
    assert any("Ignored `options=temperature=-1`" in w.value and "temperature must be from 0.01 to 10" in w.value
               and w.value.endswith("using the defaults instead.") for w in at.warning)  # not "using `{}`"
    assert at.number_input(key="pt_opt_simclr_temperature").value == 0.5 and qp(at, "options") is None
    # another method chosen: the link's options were the old method's, so they go
    at = open_page("pretrain", method="simclr", options="temperature=0.2")
    at.selectbox(key="pt_method").select("byol").run()
    assert not at.exception and qp(at, "options") is None, [w.value for w in at.warning]
    assert not any("Ignored" in w.value for w in at.warning), [w.value for w in at.warning]
    # a method without options: a link giving it some says they were ignored, not silently
    at = open_page("pretrain", method="random", options="temperature=0.2")
    assert any("Ignored `options=temperature=0.2`" in w.value and "random has no option temperature: it takes no options" in w.value
               for w in at.warning), [w.value for w in at.warning]
    assert qp(at, "options") is None


def test_a_new_session_reattaches_to_a_running_run_and_its_progress():
    """As after an app restart: the store is the only state; a fresh session's pretrain
    page shows the run another process is training, with its progress."""
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    store.claim("host:123:0")  # a worker elsewhere is training it
    for step in (10, 20):
        store.record(rid, {"kind": "step", "epoch": 2, "epochs": 5, "step": step, "total_steps": 50, "loss": 3.0 - step / 100,
                           "images_per_s": 900.0, "eta_s": 12.0})
    store.record(rid, {"kind": "epoch_end", "epoch": 2, "epochs": 5, "loss": 2.75, "effective_rank": 7.5})
    at = open_page("pretrain")  # a new AppTest: a new session of a new app process
    panel = " ".join(m.value for m in at.markdown)
    assert rid in panel and "running" in panel
    assert at.get("progress")[0].proto.text == "in epoch 3 of 5 · 40% of the training done"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["loss"] == "2.750" and metrics["images/s"] == "900" and metrics["effective rank"] == "7.5"
    assert at.button(key=f"cancel_{rid}")  # and it can be cancelled from here
    # trained, now evaluating: the step in words ("running, umap" and "epoch 5/5 · 100%" said it in the code's)
    store.record(rid, {"kind": "epoch_end", "epoch": 5, "epochs": 5, "loss": 2.5, "effective_rank": 7.5})
    store.record(rid, {"kind": "phase", "phase": "probes: the random encoder's invariance"})
    at = open_page("pretrain")
    panel = " ".join(m.value for m in at.markdown)
    assert "running, evaluating: the untrained encoder's invariance" in panel and "probes:" not in panel
    assert at.get("progress")[0].proto.text == "training done (epoch 5/5), evaluating now"


def test_explore_without_runs_says_what_to_do():
    at = open_page("explore")
    assert "No finished runs yet" in at.info[0].value


def test_explore_map_and_neighbours(finished_run):
    rid = finished_run("simclr")
    at = open_page("explore")
    chart = at.get("plotly_chart")[0]  # the map (the map-evolution frame follows)
    spec = json.loads(chart.proto.spec)
    assert spec["data"][0]["type"] == "scattergl" and "customdata" in spec["data"][0]
    assert at.metric[0].value.startswith("0.")  # kNN accuracy of the run
    # what it trained with (a review found a run's augmentations in its config and card only)
    assert ("Trained with the `digits` preset: `crop(min_scale=0.4),rotate(degrees=15),blur(p=0.3),noise(p=0.3)`."
            in captions(at))
    # each beside the untrained network of its architecture and seed (is 0.955 good? it was said on Evaluate only)
    from app.readouts import random_encoder_scores, within_noise
    from ssrl_core.runs.artifacts import RunArtifacts

    summary, refs = RunStore().get(rid)["summary"], RunArtifacts(RunStore().get(rid)["run_dir"]).references()
    for m, key, base in zip(at.metric[:2], ("knn_accuracy", "linear_accuracy"), random_encoder_scores(refs)):
        # of the numbers as shown: 0.972 and 0.967 say +0.005, not the +0.006 of 0.97214 - 0.96657; a gain the test
        # images' draw alone could make is marked, and gray, not a green win (in place of "vs untrained", which cut it
        # from a 1280 px screen's column)
        noise = within_noise(summary[key], base, summary["test_images"])
        assert m.proto.delta == f"{round(summary[key], 3) - round(base, 3):+.3f} " + (
            "(noise)" if noise else "vs untrained"), m.proto.delta
        assert (m.proto.color == m.proto.MetricColor.GRAY) == noise
        assert f"The untrained network of this run's architecture and seed scores {base:.3f}" in m.help
        assert ("twice the standard error of an accuracy on these 359 test images" in m.help) == noise
    assert at.query_params["run"] == [rid] or at.query_params["run"] == rid
    # how to read the map, under it: what a clump means, and that the neighbours are the features', not the map's
    assert "Tight clumps of one colour mean the features group images by class without having seen a label. The " \
           "map squeezes 256 numbers per image into two, so distances on it are rough" in captions(at)
    # nothing chosen yet: the box is empty (a 0 there read as image #0 chosen), and no error says so
    assert at.number_input(key=f"explore_pick_{rid}").value is None and not at.error
    assert "No image chosen yet" in captions(at)
    # the region a screen reader is told the image chosen in is there already, empty (one put there with its text
    # is not read out)
    [empty] = [m.value for m in at.markdown if "aria-live" in m.value]
    assert empty.endswith('aria-live="polite" aria-atomic="true"></div>')
    at.button(key="explore_show").click().run()  # an empty box shows nothing (not image #0)
    assert not at.exception and not images(at)[1:] and "No image chosen yet" in captions(at)
    assert not [w for w in at.warning if "Session State" in w.value]  # (value=None beside a value set in the state)
    at.number_input(key=f"explore_pick_{rid}").set_value(7)
    at.button(key="explore_show").click().run()
    query, *nbrs = images(at)
    nbrs = [c for n in nbrs for c in n]
    assert query[0].startswith("query #7 · ")
    assert len(nbrs) == 8 and all(" · sim\u00a0" in c for c in nbrs)
    # told to a screen reader, whose focus stays in the box below what it drew
    [told] = [m.value for m in at.markdown if "aria-live" in m.value]
    assert "Showing image 7 (" in told and ") beside 8 neighbours; " in told and " share its label" in told
    # what a similarity is read against: its invariance probe's two unrelated images
    from app import readouts

    unrelated = readouts.unrelated_similarity(json.loads((Path(RunStore().get(rid)["run_dir"]) / "probes.json").read_text()))
    assert f"Unrelated images of this run are {unrelated:.2f} alike on average" in captions(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t.get("name") for t in spec["data"]} >= {"neighbours", "selected"}  # highlighted on the map
    # coloured by label, digits' only choice: each point named and drawn as its row's label
    # (selecting "label" here, as this test did, picked the default again and checked nothing)
    from ssrl_core.data import load_dataset
    from ssrl_core.figures import colour_of

    from .test_scale import _array, drawn_colours

    assert at.selectbox(key="explore_colour").options == ["label"]
    ds = load_dataset("digits")
    points = spec["data"][0]
    labels = ds.labels.numpy()[_array(points["customdata"]).astype(int)]
    assert len(labels) == len(ds) and list(points["text"]) == [ds.class_names[v] for v in labels]
    assert drawn_colours(points["marker"]) == colour_of(labels, ds.class_names)
    # and its settings go back to Pretrain's form, to change one and train it again
    at.button(key="explore_again").click().run()
    assert at.title[0].value == "Pretrain" and at.selectbox(key="pt1_method").value == "simclr"
    assert at.number_input(key="pt1_epochs").value == 1 and at.number_input(key="pt1_batch_digits").value == 256


def test_evaluate_pairs_each_run_with_the_random_encoder_of_its_seed(finished_run):
    from app.readouts import gain as gain_shown, within_noise
    from ssrl_core.runs.artifacts import RunArtifacts

    rid = finished_run("simclr", references=False)  # its probes.json came along; the shared references did not
    at = open_page("evaluate")
    assert f"simclr ({rid[-4:]}) lacks probes this page draws" in at.warning[0].value  # named, as few are
    assert list(at.dataframe[0].value["kNN gain over random"]) == ["–"]
    at.button(key="eval_probe_missing").click().run()  # the background job the button starts fills them
    run_dir = RunStore().get(rid)["run_dir"]
    _wait_for_probe_job(run_dir)
    at = open_page("evaluate")
    assert not at.warning
    # no button to compute what is there: the gain column's help does not point at one (a browser check)
    assert "button above" not in json.dumps(at.dataframe[0].proto.columns)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = {t["name"]: t["y"] for t in series(spec["data"]) if t["type"] == "bar"}
    assert set(bars) == {"kNN (k=20)", "linear probe"}
    assert [t["name"] for t in spec["data"] if t["type"] == "scatter"] == ["chance (1 in 10: 0.10)"]  # digits' ten
    assert bars["kNN (k=20)"][-1] == "random encoder (seed 0)" and bars["kNN (k=20)"][0].startswith("simclr")
    table = at.dataframe[0].value
    # the table's rows named as the chart's bars: the runs' full labels (kNN and id again) made it
    # 951 px wide, scrolling sideways on a 1024x768 projector with the gain column cut
    assert list(table["run"])[:-1] == bars["kNN (k=20)"][:-1]
    gains = dict(zip(table["run"], table["kNN gain over random"]))
    assert gains["random encoder (seed 0) · untrained"] == "baseline"
    random_knn = RunArtifacts(run_dir).references()["random-knn/label"]["20"]
    simclr_knn = RunStore().get(rid)["summary"]["knn_accuracy"]
    [gain] = [g for run, g in gains.items() if run.startswith("simclr")]
    value, *mark = gain.split(" ")
    assert value == gain_shown(simclr_knn, random_knn)  # the numbers as shown, subtracted
    n = RunStore().get(rid)["summary"]["test_images"]
    assert mark == (["(noise)"] if within_noise(simclr_knn, random_knn, n) else []), (gain, n)
    below = "below the untrained network of the same architecture and seed"
    assert (below in captions(at)) == (gain.startswith("-") and not mark)  # a loss inside the noise is not one
    store = RunStore()  # the same run scoring under its untrained network: the page says so
    store.finish(rid, "done", summary={**store.get(rid)["summary"], "knn_accuracy": random_knn - 0.05})
    at = open_page("evaluate")
    assert f"simclr ({rid[-4:]}) scores {below}" in captions(at)
    # 0.005 under it, on digits' 359 test images: "-0.005 (noise)" in the table, and no word of a loss under it (a
    # browser check read the two at once)
    store.finish(rid, "done", summary={**store.get(rid)["summary"], "knn_accuracy": random_knn - 0.005})
    at = open_page("evaluate")
    assert below not in captions(at)
    assert [g for run, g in zip(at.dataframe[0].value["run"], at.dataframe[0].value["kNN gain over random"])
            if run.startswith("simclr")] == ["-0.005 (noise)"]
    knn_k = next(c for c in at.get("plotly_chart") if "k (neighbours voting; log scale)" in c.proto.spec)
    lines = {t["name"]: t["line"]["dash"] for t in json.loads(knn_k.proto.spec)["data"]}
    assert lines["random encoder (seed 0)"] == "dash" and any(n.startswith("simclr") for n in lines)


def _rescore(rid: str, knn: float, linear: float) -> dict:
    """The run's summary with these accuracies (distinct, so a column reading the other one shows)."""
    store = RunStore()
    summary = {**store.get(rid)["summary"], "knn_accuracy": knn, "linear_accuracy": linear}
    store.finish(rid, "done", summary=summary)
    return summary


def test_evaluate_shows_each_runs_own_accuracies_and_gain_over_its_own_untrained_encoder(finished_run):
    """Evaluate's kNN and linear columns, each run's gain and the untrained rows' bars are each run's own numbers against the random encoder of its own seed."""
    import shutil

    from app.readouts import gain, random_encoder_scores
    from ssrl_core.evaluate.suite import reference_cache
    from ssrl_core.runs.artifacts import RunArtifacts

    store = RunStore()
    a = finished_run("simclr")
    seed0 = _rescore(a, 0.812, 0.934)
    # a run of seed 1: its own untrained encoder, whose scores differ from seed 0's by far
    cfg = RunConfig(dataset="digits", method="rotation", epochs=1, batch_size=256, seed=1)
    b = store.submit(cfg)
    run_dir = Path(store.get(b)["run_dir"])
    shutil.copytree(store.get(a)["run_dir"], run_dir, dirs_exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict()))
    cache = reference_cache(RunArtifacts(run_dir).run_config())
    cache.get("random-knn/label", lambda: {"20": 0.5})
    cache.get("random-linear/label/all/s3", lambda: {"mean": 0.7, "std": 0.0, "labels_per_class": 0, "n_labels": 1438,
                                                     "classes": 10})
    store.claim("w")
    store.finish(b, "done", summary={**seed0, "seed": 1})
    seed1 = _rescore(b, 0.612, 0.884)
    refs = {rid: RunArtifacts(store.get(rid)["run_dir"]).references() for rid in (a, b)}
    assert random_encoder_scores(refs[b]) == (0.5, 0.7) and random_encoder_scores(refs[a])[0] not in (None, 0.5)

    at = open_page("evaluate", runs=f"{a},{b}")
    table = at.dataframe[0].value
    rows = {run.split(" ")[0]: row for run, row in zip(table["run"], table.to_dict("records"))}
    assert {r: (row["kNN acc"], row["linear acc"]) for r, row in rows.items() if r != "random"} == {
        "simclr": (0.812, 0.934), "rotation": (0.612, 0.884)}
    n = seed0["test_images"]
    for r, s, rid in (("simclr", seed0, a), ("rotation", seed1, b)):
        assert rows[r]["kNN gain over random"].split(" ")[0] == gain(s["knn_accuracy"], random_encoder_scores(refs[rid])[0]), (r, n)
    assert rows["rotation"]["kNN gain over random"] == "+0.112"  # 0.612 over seed 1's 0.5, not over seed 0's
    untrained = {run: (row["kNN acc"], row["linear acc"]) for run, row in zip(table["run"], table.to_dict("records"))
                 if run.endswith("· untrained")}
    assert untrained["random encoder (seed 1) · untrained"] == (0.5, 0.7)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = {t["name"]: dict(zip(t["y"], t["text"])) for t in series(spec["data"]) if t["type"] == "bar"}
    for name, (knn, linear) in untrained.items():
        label = name.removesuffix(" · untrained")
        assert bars["linear probe"][label] == f"{linear:.3f}" and bars["kNN (k=20)"][label] == f"{knn:.3f}", label


def test_explore_shows_the_pca_map_while_the_umap_is_computed(finished_run):
    rid = finished_run("simclr")
    store = RunStore()
    run = store.get(rid)
    (__import__("pathlib").Path(run["run_dir"]) / "map_umap.npy").unlink()
    with store._conn() as c:  # as the worker leaves it between the accuracies and the UMAP
        c.execute("UPDATE runs SET status='running', phase='umap', summary=NULL WHERE id=?", (rid,))
    at = open_page("explore")
    assert "PCA of the features; the UMAP is still being computed" in captions(at)
    assert at.metric[0].value.startswith("0.")  # accuracies from metrics.json
    assert len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["customdata"]["bdata"]) > 0


def test_data_page_imports_an_uploaded_archive_and_refuses_a_hostile_one(tmp_path):
    from .test_import_images import make_zip, png

    good = make_zip(tmp_path / "good.zip", {"pets/cat/1.png": png(), "pets/cat/2.png": png(),
                                            "pets/dog/1.png": png((0, 0, 255)), "pets/notes.txt": b"x"}).read_bytes()
    at = open_page("data")
    at.file_uploader(key="data_upload").set_value(("good.zip", good, "application/zip")).run()
    at.text_input(key="data_import_name").input("my-pets").run()
    at.button(key="data_import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Imported **my-pets**: 3 images, labelled: cat 2, dog 1" in at.success[0].value
    assert "Resized from 20x12 to 32x32 (shorter side, then a centre crop" in at.success[0].value  # said, not silent
    assert "Skipped 1 file" in at.warning[0].value
    assert at.selectbox(key="data_dataset").value == "my-pets"
    assert numbers(at).startswith("**3** images of 32×32 px, 3 channels · **2** classes · ")
    # its images named by file, as on Explore: "#0 · 1.png · cat"
    assert "Under each image: its number in the set (#), its file's name, then its label." in captions(at)
    assert sorted(re.sub(r"^#\d · ", "", c) for c in all_images(at)) == ["1.png · cat", "1.png · dog", "2.png · cat"]

    evil = make_zip(tmp_path / "evil.zip", {"../../evil.png": png()}).read_bytes()
    at.file_uploader(key="data_upload").set_value(("evil.zip", evil, "application/zip")).run()
    at.text_input(key="data_import_name").input("evil").run()
    at.button(key="data_import").click().run()
    assert "Not imported" in at.error[0].value and "climbs out" in at.error[0].value
    assert "evil" not in at.selectbox(key="data_dataset").options


def test_pretrain_refuses_a_method_its_dataset_cannot_feed():
    at = open_page("pretrain")
    at.selectbox(key="pt_method").select("colorization").run()
    # said before the click, and the click is not offered
    assert "Can't launch: colorization needs a colour" in at.warning[0].value and at.button(key="pt_launch").disabled
    assert RunStore().list() == []


def series(traces) -> list:
    """A chart's traces (figure's, or a spec's dicts) but the clear bars that write its bars' values
    (``charts.VALUE_LABELS``): the runs' bars, lines and references."""
    from app.charts import VALUE_LABELS

    return [t for t in traces if (t.get("name") if isinstance(t, dict) else t.name) != VALUE_LABELS]


def charts_by_title(at) -> dict[str, dict]:
    """Plotly specs of the page keyed by x-axis title (or figure title)."""
    out = {}
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        lay = spec.get("layout", {})
        title = ((lay.get("xaxis") or {}).get("title") or {}).get("text") or (lay.get("title") or {}).get("text")
        out[title] = spec
    return out


def test_evaluate_shows_label_efficiency_knn_vs_k_and_accuracy_over_epochs(finished_run):
    from ssrl_core.evaluate.suite import RunProbes

    rid = finished_run("simclr")
    RunProbes(RunStore().get(rid)["run_dir"]).standard()  # as the worker does: fills this home's random reference
    at = open_page("evaluate")
    specs = charts_by_title(at)
    le = specs["labelled images per class (log scale)"]
    [curve] = [t for t in le["data"] if t["name"].startswith("simclr") and t["name"].endswith(" linear")]
    # (drawn a little aside of the reference's points at the same budget: the true budgets are the hover's)
    assert curve["name"].startswith("simclr") and len(curve["x"]) == 5 and curve["customdata"][:4] == [1, 5, 10, 50]
    assert le["layout"]["xaxis"]["type"] == "log"
    assert all(0 <= y <= 1 for y in curve["y"]) and curve["error_y"]["array"][-1] == 0  # one draw with all labels
    [ref] = [t for t in le["data"] if t["name"] == "random encoder, linear"]
    assert ref["line"]["dash"] == "dash" and ref["customdata"] == curve["customdata"] and ref["x"] != curve["x"]
    knn_k = specs["k (neighbours voting; log scale)"]
    assert knn_k["data"][0]["customdata"] == [1, 5, 20, 100]
    epochs = specs["epoch (0 = before pretraining)"]
    assert epochs["data"][0]["x"] == [0, 1]  # the initial encoder and one epoch
    # the note under it names the run's set and how many train images it has (it said digits' under every set's)
    assert any("every train image votes (digits has 1,438)" in c.value for c in at.caption)
    assert at.button(key="eval_finetune")  # fine-tuning is offered, not computed on page load
    # where self-supervision pays, said first in words: the run's 1-label readout beside its untrained network's
    from app.readouts import budget_curve, value_at
    from ssrl_core.runs.artifacts import RunArtifacts

    art = RunArtifacts(RunStore().get(rid)["run_dir"])
    mine, base = budget_curve(art.probes, "linear")[1][0], value_at(budget_curve(art.references(), "random-linear"), 1)
    [line] = [m.value for m in at.markdown if m.value.startswith("**With few labels**")]
    assert (f": with 1 label per class, a linear readout of its features labels **{mine:.0%}** ({mine:.3f}) of the "
            f"test images right, the untrained network's {base:.0%} ({base:.3f})") in line and "simclr" in line
    # the 1-epoch run's readout is within the draws' spread of its untrained network's: said so, not read as a gain
    assert line.endswith("spread between draws of the labelled images: no gain or loss to read).") == (
        abs(round(mine, 3) - round(base, 3)) < max(budget_curve(art.probes, "linear")[2][0],
                                                   budget_curve(art.references(), "random-linear")[2][0])), line


def test_a_run_keeps_its_colour_in_evaluates_epoch_chart_where_another_run_has_no_curve(finished_run):
    """A run from before the per-epoch kNN was recorded has no line over epochs: the others keep
    the colours they have in the kNN-vs-k chart beside it, not the next ones up."""
    from ssrl_core.evaluate.epochs import EPOCHS_LOG

    finished_run("simclr")
    rid = finished_run("rotation")
    (Path(RunStore().get(rid)["run_dir"]) / EPOCHS_LOG).unlink()
    specs = charts_by_title(open_page("evaluate"))
    colour = {k: {t["name"]: t["line"]["color"] for t in specs[k]["data"] if t["name"].startswith(("simclr", "rot"))}
              for k in ("k (neighbours voting; log scale)", "epoch (0 = before pretraining)")}
    by_k, by_epoch = colour.values()
    assert len(by_k) == 2 and len(by_epoch) == 1 and [by_k[n] for n in by_epoch] == list(by_epoch.values())


def test_evaluate_says_once_what_fine_tuning_costs_and_warns_of_unequal_budgets(finished_run, _prepared_runs):
    """What the fine-tuning button costs was said three times (the text above the chart, the
    caption under it, and a two-line button label): once now, beside the button. Runs of
    different budgets side by side got no word, where Compare warns: the same warning now."""
    import shutil

    from ssrl_core.evaluate.suite import RunProbes

    rid = finished_run("simclr")
    RunProbes(RunStore().get(rid)["run_dir"]).standard()  # the random reference drawn, the supervised one not yet
    at = open_page("evaluate")
    said = [m.value for m in at.markdown] + [c.value for c in at.caption] + [b.label for b in at.button]
    assert sum("steps per budget" in s for s in said) == 1, said
    assert ("Fine-tuning and the supervised reference each train 200 steps on each of 3 draws of the labelled images, "
            "1,200 steps per budget and run: ") in captions(at)
    assert at.button(key="eval_finetune").label == "Compute fine-tuning and the supervised reference"
    assert not at.warning

    cfg, folder, summary = _prepared_runs("simclr")  # the same run at another budget: 4 epochs
    store = RunStore()
    longer = store.submit(cfg.__class__.from_dict({**cfg.to_dict(), "epochs": 4}))
    shutil.copytree(folder, store.get(longer)["run_dir"])
    store.claim("test")
    store.finish(longer, "done", summary=summary)
    at = open_page("evaluate")
    assert at.multiselect(key="eval_runs").value == [longer, rid]
    [warning] = at.warning
    assert warning.value == (f"These runs differ in epochs (1: simclr ({rid[-4:]}); 4: simclr ({longer[-4:]})): "
                             "all simclr, so that is what sets their results apart.")


def _wait_for_probe_job(run_dir: str, timeout: float = 180.0) -> None:
    import time

    from ssrl_core.runs.artifacts import job_running

    t0 = time.time()  # (a job started but not yet holding its lock counts as running: no head start needed)
    while job_running(__import__("pathlib").Path(run_dir)):
        assert time.time() - t0 < timeout, "probe job did not finish"
        time.sleep(0.5)


def test_invariance_measures_an_old_run_in_the_background(finished_run):
    rid = finished_run("simclr")
    run_dir = RunStore().get(rid)["run_dir"]
    (__import__("pathlib").Path(run_dir) / "probes.json").unlink()  # as a run from before probes existed
    at = open_page("invariance")
    assert "finished before invariance (theirs, or their untrained encoder's) was measured" in at.warning[0].value
    at.button(key="inv_compute").click().run()
    _wait_for_probe_job(run_dir)
    at.run()
    assert not at.exception and not at.warning
    ops, untrained = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][:2]
    assert ops["x"][:3] == ["crop", "flip", "color_jitter"]
    scores = dict(zip(ops["x"], ops["y"]))
    assert scores["grayscale"] is None  # digits has no colour: n/a
    # and the caption names it alone: "colour ops on grayscale data" was said beside colour jitter's bars
    assert any("n/a: grayscale changes nothing on these images (they have no colour)." in c.value for c in at.caption)
    assert -1.5 < scores["crop"] < 1.0 and scores["noise"] > 0
    # beside it, in gray, the untrained encoder of the same seed: what the architecture ignores before training
    assert untrained["name"].startswith("random encoder (seed 0) · untrained") and untrained["marker"]["color"] == "#8c8c8c"
    [rotation] = [m.value for m in at.main.markdown if m.value.startswith("- **")]  # a line per run, the value first
    run_line, untrained_line = rotation.splitlines()
    assert 0 <= float(re.match(r"- \*\*(\d\.\d\d\d)\*\* simclr", run_line).group(1)) <= 1
    assert re.match(r"- \*\*\d\.\d\d\d\*\* random encoder \(seed 0\) · untrained", untrained_line)
    assert images(at)[-1][:2] == ["original", "crop"]
    # its own scores there, its untrained encoder's not (an older version's run, in an upgrade review): said as such, not
    # "finished before invariance was measured" over the scores drawn below
    from ssrl_core.evaluate.suite import reference_cache
    from ssrl_core.runs import artifacts as art

    cache = reference_cache(art.RunArtifacts(run_dir).run_config()).path
    art.write_json(cache, {k: v for k, v in art.read_json(cache).items() if k != "random-invariance"})
    at = open_page("invariance")
    assert [w.value for w in at.warning] == [f"simclr ({rid[-4:]}) has its own scores, drawn below, but not yet its "
                                             "untrained encoder's invariance to read them against (the gray bars)."]
    assert "above its gray bar, the untrained network's (not measured yet: the button above measures it)" in captions(at)


def test_invariance_measures_an_op_added_since_a_run_was_measured(finished_run):
    """A contributor's review: with an op added since a run's scores were cached, the page drew
    "n/a" over it and said it "changes nothing on these images", offering no way to measure it."""
    from ssrl_core.runs import artifacts as art

    rid = finished_run("simclr")
    run_dir = __import__("pathlib").Path(RunStore().get(rid)["run_dir"])
    probes = art.read_json(run_dir / art.PROBES)
    art.write_json(run_dir / art.PROBES, {**probes, "invariance": {
        op: e for op, e in probes["invariance"].items() if op not in ("noise", "erase")}})
    at = open_page("invariance")
    assert [w.value for w in at.warning] == [f"simclr ({rid[-4:]}) was measured before erase and noise were added to "
                                             "the ops: not yet for them (the others are drawn below)."]
    # grayscale alone changes nothing on digits: the ops not measured yet are not said to
    assert "n/a: grayscale changes nothing on these images (they have no colour)." in captions(at)
    at.button(key="inv_compute").click().run()
    _wait_for_probe_job(str(run_dir))
    at.run()
    assert not at.exception and not at.warning
    scores = dict(zip(*(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0][k] for k in ("x", "y"))))
    assert scores["noise"] is not None and scores["erase"] is not None


def test_invariance_page_marks_scores_on_an_unreliable_scale(finished_run):
    """A run whose unrelated images are nearly alike in its features (cosine 0.997, as a
    collapsed run gave, cached before the mark existed): its bars are labelled as on an
    unreliable scale and a warning says why; the other run is left as it is."""
    from pathlib import Path

    collapsed, healthy = finished_run("simclr"), finished_run("rotation")
    run_dir = Path(RunStore().get(collapsed)["run_dir"])
    probes = json.loads((run_dir / "probes.json").read_text())
    probes["invariance"] = {"crop": {"score": -3.0, "similarity": 0.988, "unrelated": 0.997},
                            "color_jitter": {"score": -93.45, "similarity": 0.71665, "unrelated": 0.997}}
    (run_dir / "probes.json").write_text(json.dumps(probes))
    at = open_page("invariance")
    at.multiselect(key="inv_runs").set_value([collapsed, healthy]).run()
    assert not at.exception
    [warning] = [w for w in at.warning if "unreliable" in w.value]
    assert warning.value.startswith(f"**simclr ({collapsed[-4:]}) · aug: ") and "its scores are unreliable: the " \
        "features barely tell unrelated images apart (their mean cosine similarity is 0.997" in warning.value
    bars = {t["name"].replace("<br>", " "): t for t in series(json.loads(at.get("plotly_chart")[0].proto.spec)["data"])}
    # (the untrained encoder's gray bars are marked too: digits' barely tell images apart either)
    [marked] = [n for n in bars if n.endswith(" · unreliable scale") and not n.startswith("random encoder")]
    assert marked.startswith("simclr") and bars[marked]["customdata"][2] == -93.45  # colour jitter, its value kept
    assert any(n.startswith("rotation") and "unreliable" not in n for n in bars)


def test_invariance_page_says_what_unreliable_scale_means_on_the_gray_bars(finished_run):
    """The untrained cnn-small's features on digits are nearly alike for unrelated images (cosine
    0.99): its gray bars' legend said "unreliable scale" and nothing on the page said what that
    meant (the warnings are the runs'). Said once, under the chart; a run marked too has its
    warning give the reason, and the gray bars' line then only says how to read them."""
    from pathlib import Path

    from ssrl_core.evaluate.suite import RunProbes

    rid = finished_run("simclr")
    run_dir = Path(RunStore().get(rid)["run_dir"])
    RunProbes(run_dir).standard()  # as the worker does: the untrained encoder's invariance, shared
    at = open_page("invariance")
    assert not at.exception and not at.warning  # the run's own scores are fine
    bars = [t["name"].replace("<br>", " ") for t in series(json.loads(at.get("plotly_chart")[0].proto.spec)["data"])]
    assert "random encoder (seed 0) · untrained · unreliable scale" in bars
    [said] = [c for c in captions(at).split(f"{quiet_icon('straighten')} ")[1:] if "unreliable scale" in c]
    assert said.startswith("*random encoder (seed 0) · untrained*: **unreliable scale**. An untrained network's "
                           "features barely tell unrelated images apart: their mean cosine similarity is 0.9")
    assert "So read those gray bars only roughly" in said and "They are not the line a run's bar must rise above" in said
    # and "how to read it" below does not send the reader back to them (it said "rises above its gray bar", no more)
    assert "except where that bar is marked *unreliable scale* (above): there, compare with a run trained without " \
        "the op instead" in captions(at)

    probes = json.loads((run_dir / "probes.json").read_text())  # the run collapsed too: its warning says why
    from ssrl_core.augment import OPS  # (every op: one missing would be offered for measuring, with its own warning)

    probes["invariance"] = {op: {"score": -3.0, "similarity": 0.988, "unrelated": 0.997} for op in OPS}
    (run_dir / "probes.json").write_text(json.dumps(probes))
    at = open_page("invariance")
    [warning] = at.warning
    assert "barely tell unrelated images apart" in warning.value
    assert "barely tell" not in captions(at)  # not said twice
    assert ("*random encoder (seed 0) · untrained*: **unreliable scale**, for the reason the warning above gives. "
            "So read those gray bars only roughly") in captions(at)


def test_invariance_page_shows_factor_probes_on_shapes(finished_run):
    finished_run("shapes-simclr")
    at = open_page("invariance")
    assert at.selectbox(key="inv_dataset").value == "shapes"
    factors = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][1]
    # the run beside its untrained network, as the invariance chart above draws it, each with its spread over draws
    bars, untrained = [t for t in series(factors["data"]) if t["type"] == "bar"]
    assert bars["name"].startswith("simclr (") and untrained["name"] == "random encoder (seed 0) · untrained"
    [chance] = [t for t in factors["data"] if t["name"] == "chance"]
    assert set(bars["x"]) == {"shape", "color", "size_bin", "rotation_bin", "position_bin"}
    assert all(0 <= y <= 1 for y in bars["y"] + untrained["y"]) and all(0 < c < 1 for c in chance["y"])
    assert all(e > 0 for e in untrained["error_y"]["array"])  # 3 draws of 2 labels per value
    assert untrained["y"][bars["x"].index("color")] > 0.5  # random features already keep colour
    assert chance["y"][chance["x"].index("position_bin")] == pytest.approx(1 / 9)  # 2 labels of each cell
    at.radio(key="inv_budget").set_value("all").run()
    assert not at.exception and "decodability" in captions(at)
    assert "by at most 36 degrees, less than the 40 to 86 degrees between neighbouring colours" in captions(at)
    # with every label, a probe learns that most shapes sit in the middle cell: that is its chance
    [chance] = [t for t in json.loads(at.get("plotly_chart")[1].proto.spec)["data"] if t["name"] == "chance"]
    assert chance["y"][chance["x"].index("position_bin")] == pytest.approx(0.646, abs=0.01)
    assert "rotation_bin cannot reach 1" in captions(at)
    assert "**Not shown on shapes**: its images are drawn at every angle" in captions(at)  # rotation equivariance
    assert not any(re.search(r"^- \*\*(\d\.\d{3}|–)\*\* ", m.value) for m in at.markdown)  # no score to misread
    assert "the question shapes can answer." in captions(at) and "{md(" not in captions(at)  # a sentence, not code


def test_compare_warns_on_unequal_budgets_and_shows_each_runs_neighbours(finished_run):
    a, b = finished_run("simclr", references=False), finished_run("rotation", references=False)
    at = open_page("compare")
    assert not at.warning  # same dataset, seed, epochs and batch size
    table = at.dataframe[0].value
    assert list(table["run"]) == [f"rotation ({b[-4:]})", f"simclr ({a[-4:]})"]
    # a table wider than the page scrolls sideways: the run's name stays in view
    assert json.loads(at.dataframe[0].proto.columns)["run"]["pinned"] is True
    # the scores, then how each run was trained, for the same runs: one table of 15 columns was 1,454 px
    # wide, its right ones behind a scrollbar shown only under the mouse on a 1280 px projector
    assert len(table.columns) == 7 and len(at.dataframe[1].value.columns) == 9
    assert list(at.dataframe[1].value["run"]) == list(table["run"])
    assert {"final loss", "effective rank", "train s", "augment"} <= set(at.dataframe[1].value.columns)
    assert table["linear, 1 label/class"].between(0, 1).all()
    assert table["rotation predictable"].between(0, 1).all()  # digits: upright, so the score means something
    assert list(table["kNN gain over random"]) == ["–", "–"]  # the shared random reference is not computed yet
    from ssrl_core.evaluate.suite import RunProbes

    RunProbes(RunStore().get(a)["run_dir"]).standard()  # the simclr run's, as the worker computes them
    at = open_page("compare")
    table = at.dataframe[0].value
    gain = dict(zip(table["run"], table["kNN gain over random"]))
    # rotation shares simclr's dataset, encoder, augmentations and seed, hence its random reference
    assert all(g[0] in "+-" and abs(float(g.removesuffix(" (noise)"))) < 1 for g in gain.values())
    specs = charts_by_title(at)
    assert {t["name"] for t in specs["epoch"]["data"]} == {f"rotation ({b[-4:]})", f"simclr ({a[-4:]})"}
    assert "Losses of different methods are on different scales" in captions(at)  # (two methods)
    # the untrained encoder's readout on the same labelled images, dashed, once for the two runs (same seed)
    le = {t["name"]: t for t in specs["labels per class (log scale)"]["data"]}
    assert le["random encoder, linear"]["line"]["dash"] == "dash" and len(le) == 3
    # beside a random run, its own curve is that reference: drawn once (the two lay one on the other)
    rnd = finished_run("random")
    RunProbes(RunStore().get(rnd)["run_dir"]).standard()
    le = {t["name"]: t for t in charts_by_title(open_page("compare", runs=f"{a},{rnd}"))["labels per class (log scale)"]["data"]}
    assert set(le) == {f"simclr ({a[-4:]})", f"random ({rnd[-4:]})"}, set(le)
    nbrs = [c for row in images(at)[1:] for c in row]  # after the query: 8 neighbours in each run
    assert len(nbrs) == 16 and all(" · sim\u00a0" in c for c in nbrs), nbrs

    finished_run("random")
    at = open_page("compare")
    # the untrained baseline has no budget to differ in: its batch is said, its 0 epochs are not
    assert "epochs" not in at.warning[0].value and "batch size" in at.warning[0].value
    assert at.warning[0].value.endswith("differences between them are not only due to the pretext task.")  # methods


def test_compares_score_columns_show_each_runs_own_knn_linear_and_one_label_readout(finished_run):
    """Compare's "kNN acc", "linear acc" and "linear, 1 label/class" cells are each run's summary kNN and linear accuracy and its 1-label readout from probes.json."""
    from ssrl_core.runs.artifacts import RunArtifacts

    store = RunStore()
    a, b = finished_run("simclr", references=False), finished_run("rotation", references=False)
    expected = {}
    for rid, knn, linear, one in ((a, 0.812, 0.934, 0.4321), (b, 0.612, 0.884, 0.2345)):
        _rescore(rid, knn, linear)
        path = Path(store.get(rid)["run_dir"]) / "probes.json"
        probes = json.loads(path.read_text())
        probes["linear/label/1/s3"] = {**probes["linear/label/1/s3"], "mean": one, "values": [one] * 3}
        probes["linear/label/5/s3"] = {**probes["linear/label/5/s3"], "mean": 0.789, "values": [0.789] * 3}
        path.write_text(json.dumps(probes))
        assert RunArtifacts(path.parent).probes["linear/label/1/s3"]["mean"] == one
        expected[rid[-4:]] = (knn, linear, round(one, 3))
    table = open_page("compare", runs=f"{a},{b}").dataframe[0].value
    shown = {run.split("(")[1][:4]: (row["kNN acc"], row["linear acc"], row["linear, 1 label/class"])
             for run, row in zip(table["run"], table.to_dict("records"))}
    assert shown == expected


def test_a_teachers_link_with_hide_controls_shows_its_runs_without_pickers(finished_run):
    a, c = finished_run("simclr"), finished_run("simclr")  # two runs (copies of one prepared run)
    finished_run("rotation")  # the newest: a page's default, not the link's
    for page in ("compare", "evaluate", "invariance"):
        at = open_page(page, runs=f"{a},{c}", hide="controls")
        assert not at.multiselect and not at.selectbox, page  # no run or dataset box
        assert qp(at, "runs") == f"{a},{c}", page
    table = open_page("compare", runs=f"{a},{c}", hide="controls").dataframe[0].value
    assert sorted(table["run"]) == sorted([f"simclr ({a[-4:]})", f"simclr ({c[-4:]})"])  # the link's, not the newest
    # what the page shows is said where its boxes were: a review found Evaluate and Invariance naming the runs
    # only as "simclr (7bdd)" in their charts, the dataset nowhere
    for page in ("evaluate", "invariance"):
        said = " ".join(m.value for m in open_page(page, runs=f"{a},{c}", hide="controls").markdown)
        assert "· digits · " in said and a in said and c in said, page
    # nothing a click of each student's would start for minutes, or open as a bare form (the export stays: written
    # once a run, it is the run's files to take home, test_classroom)
    at = open_page("evaluate", runs=f"{a},{c}", hide="controls")
    assert not [b for b in at.button if b.key == "eval_finetune"]
    assert not any("the button below the chart computes it" in m.value for m in at.markdown)
    assert [b for b in open_page("evaluate", runs=f"{a},{c}").button if b.key == "eval_finetune"]
    at = open_page("explore", run=a, hide="controls")
    assert not at.exception and not [b for b in at.button if b.key == "explore_again"]
    assert [b for b in at.button if b.key == "explore_export"]
    assert [b for b in open_page("explore", run=a).button if b.key == "explore_again"]


def test_explore_map_evolution_and_an_uploaded_query(finished_run, tmp_path):
    from .test_import_images import png

    rid = finished_run("simclr")
    at = open_page("explore")
    slider = at.select_slider(key=f"explore_epoch_{rid}")
    assert slider.options == ["0", "1"] and slider.value == 1
    slider.set_value(0).run()
    assert not at.exception
    # which images the frames show, and why the last one is laid out unlike the map above
    assert any("UMAP of the same 1,383 images after each epoch (1,024 training and 359 test images" in c.value
               and "not all 1,797" in c.value and "move rather than jump. Epoch 0" in c.value for c in at.caption)
    at.file_uploader(key=f"explore_upload_{rid}").set_value(("mine.png", png((200, 200, 200)), "image/png")).run()
    assert not at.error
    got = [c for row in images(at) for c in row]
    assert got[-9] == "your image at 32×32, grayscale" and all(" · sim\u00a0" in c for c in got[-8:]), got
    # on the map, a cross among its neighbours (no row of its own, so a click on it selects nothing)
    traces = {t["name"]: t for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]}
    cross = traces["your image (among its neighbours)"]
    assert cross["customdata"] == [None] and len(cross["x"]) == 1
    from ssrl_core.runs.artifacts import RunArtifacts

    coords, _ = RunArtifacts(RunStore().get(rid)["run_dir"]).map()
    lo, hi = coords.min(0), coords.max(0)
    assert lo[0] <= cross["x"][0] <= hi[0] and lo[1] <= cross["y"][0] <= hi[1]  # within the map
    # a digit of the set, uploaded: the class the run's kNN classifier gives that image of the set
    import io

    import numpy as np
    from PIL import Image

    from ssrl_core.data import load_dataset
    from ssrl_core.evaluate.knn import knn_predict

    ds, buf = load_dataset("digits"), io.BytesIO()
    Image.fromarray(ds.images[5, 0].numpy(), "L").save(buf, "PNG")
    at.file_uploader(key=f"explore_upload_{rid}").set_value(("five.png", buf.getvalue(), "image/png")).run()
    emb, y, tr = np.load(f"{RunStore().get(rid)['run_dir']}/embeddings.npy"), ds.labels.numpy(), ds.train_idx.numpy()
    [expected] = knn_predict(emb[tr], y[tr], emb[5:6], ds.num_classes)
    knn = RunStore().get(rid)["summary"]["knn_accuracy"]
    said = [m.value for m in at.markdown if m.value.startswith("This run's kNN classifier")]
    assert said and said[0].startswith("This run's kNN classifier (the similarity-weighted vote of its 20 nearest "
                                       f"training images, right on {knn:.0%} of the test images) calls it "
                                       f"**{ds.class_names[expected]}**, with "), said
    at.file_uploader(key=f"explore_upload_{rid}").set_value(("oops.png", b"not an image", "image/png")).run()
    assert "not a readable image (damaged, cut short" in at.error[0].value


def test_explore_says_what_the_runs_augmentations_did_to_the_factor_its_map_is_coloured_by(finished_run):
    """A class read a colour-jitter run's map coloured by colour with no word that its training had
    asked two views differing in colour to embed alike."""
    rid = finished_run("shapes-simclr")  # crop,flip,color_jitter
    at = open_page("explore", run=rid, colour="color")
    assert ("This run trained with `color_jitter` (hue up to ±36°), which changes an image's colour: its loss pulled "
            "two views of each image together, views that differ in colour, which asks its features to ignore colour "
            "(how far they do: the Invariance page, beside a run without it).") in captions(at)
    at.selectbox(key="explore_colour").select("position_bin").run()
    assert any(c.value.startswith("This run trained with `crop` and `flip`, which change an image's position:")
               for c in at.caption)
    at.selectbox(key="explore_colour").select("label").run()
    assert not any(c.value.startswith(("This run trained with", "None of this run's")) for c in at.caption)


def test_data_page_opens_on_the_dataset_its_link_names_and_keeps_the_choice_in_the_address():
    at = open_page("data", dataset="shapes")  # a teacher's link to the set with factors
    assert at.selectbox(key="data_dataset").value == "shapes"
    assert "Ground-truth factors" in captions(at)
    at.selectbox(key="data_dataset").select("digits").run()
    assert at.query_params.get("dataset") in (None, [], "digits", ["digits"])  # the default may be left out
    at.selectbox(key="data_dataset").select("shapes").run()
    assert at.query_params["dataset"] in ("shapes", ["shapes"])  # a reload comes back to it
    odd = open_page("data", dataset="no-such-set")
    assert odd.selectbox(key="data_dataset").value == "digits" and "no-such-set" in odd.warning[0].value


def test_a_teachers_data_link_with_hide_controls_shows_its_set_without_the_box_import_or_delete():
    """README's links say ``hide=controls`` leaves no knobs, the page using the link's values;
    Data hid only an imported set's Delete: its dataset box and "Import your own images" stayed,
    so a class could leave the set the link names or import into the teacher's server. Browsing
    (classes, captions, shuffle) stays: that is what the page is for."""
    at = open_page("data", dataset="shapes", hide="controls")
    assert not at.exception and not [s for s in at.selectbox if s.key == "data_dataset"]
    assert not at.expander or all("Import" not in e.label for e in at.expander)
    assert any(m.value.startswith("**shapes** — ") for m in at.markdown)
    assert "Ground-truth factors" in captions(at)  # the set the link names
    assert at.selectbox(key="data_caption") and at.button(key="data_shuffle")  # browsing stays
    assert at.query_params["dataset"] in ("shapes", ["shapes"])
    plain = open_page("data", dataset="shapes")
    assert plain.selectbox(key="data_dataset") and any("Import" in e.label for e in plain.expander)


def test_a_teachers_start_link_with_hide_controls_keeps_it_on_every_page_it_leads_to():
    """From ``/?hide=controls,nav`` the quick start and the "Then" links opened pages with no
    ``hide``: a full Pretrain form, the sidebar back, where the link promised no knobs."""
    from .test_classroom import page_links

    at = open_page(hide="controls,nav")
    then = [(p, q) for p, q in page_links(at) if p != "explore" or "run=" not in q]  # the twin's link has a run too
    assert {p for p, _ in then} >= {"data", "augment", "pretrain", "explore", "evaluate", "learn", "lessons", "gallery"}
    assert all(q == "hide=controls%2Cnav" for _, q in then), then
    at.button(key="quick_start").click()
    at.run()
    assert not at.exception and at.title[0].value == "Pretrain"
    assert qp(at, "hide") == "controls,nav"  # Pretrain without its knobs, as the link said
    assert not [s for s in at.selectbox if "dataset" in str(s.key)]
    plain = open_page()
    assert {q for _, q in page_links(plain)} == {""}  # a plain start's links carry nothing


def test_a_teachers_gallery_link_with_hide_controls_names_the_filter_it_applies(finished_run):
    """The link's dataset and method filtered the runs silently under a caption that said
    "Every finished run on this server"."""
    from .test_classroom import page_links

    digits = finished_run("simclr")
    shapes = finished_run("shapes-simclr")
    at = open_page("gallery", dataset="shapes", method="simclr", hide="controls")
    assert not at.selectbox
    assert "Runs of **simclr** on **shapes** (from the link)." in captions(at)
    assert "Every finished run" not in captions(at)
    links = {q for p, q in page_links(at) if p == "explore"}
    assert f"run={shapes}&hide=controls" in links and not [q for q in links if digits in q]
    assert "(from the link)" in captions(open_page("gallery", dataset="shapes", hide="controls"))
    assert "(from the link)" not in captions(open_page("gallery", hide="controls"))  # no filter: every run
    plain = open_page("gallery", dataset="shapes", method="simclr")  # the boxes say it
    assert plain.selectbox(key="gal_dataset").value == "shapes" and "(from the link)" not in captions(plain)


def test_a_teachers_learn_link_with_hide_controls_names_the_dataset_of_its_pictures():
    """The "Pictures from" box hidden, nothing named the set the pictures came from."""
    at = open_page("learn", dataset="shapes", hide="controls")
    assert not [s for s in at.selectbox if s.key == "learn_dataset"]
    assert any(m.value.startswith("Pictures from **shapes** — ") for m in at.markdown)
    plain = open_page("learn", dataset="shapes")
    assert plain.selectbox(key="learn_dataset").value == "shapes"
    assert not any(m.value.startswith("Pictures from") for m in plain.markdown)


def test_learns_lesson_links_keep_a_teachers_hide():
    # a lesson link on Learn opened from a class's link leads to the lesson as the class sees it, without controls
    at = open_page("learn", hide="controls")
    said = " ".join(m.value for m in at.markdown)
    assert "(./lessons?lesson=four-families&hide=controls)" in said
    assert "(./lessons?lesson=labels-are-expensive&hide=controls)" in said
    assert "(./lessons?lesson=four-families)" in " ".join(m.value for m in open_page("learn").markdown)



def test_data_captions_name_the_label_then_the_factor_chosen_as_explore_does():
    """Data captioned by a factor gave its value alone ("#1730 cyan", the shape unsaid); Explore
    and Compare say "#1730 · cross · cyan", and Data now reads the same way."""
    from ssrl_core.data import load_dataset

    ds = load_dataset("shapes")
    at = open_page("data", dataset="shapes")
    at.selectbox(key="data_caption").select("color").run()
    assert "Under each image: its number in the set (#), its label, then its colour." in captions(at)
    colours = ds.factor_names["color"]
    for caption in all_images(at):
        row, shape, colour = caption.split(" · ")
        row = int(row[1:])
        assert (shape, colour) == (ds.label_name(row), colours[int(ds.factors["color"][row])])
    at.selectbox(key="data_caption").select("shape").run()  # shapes' label: said once
    assert "Under each image: its number in the set (#), then its label." in captions(at)
    assert all(len(c.split(" · ")) == 2 for c in all_images(at))


def test_explore_says_its_accuracies_score_the_label_on_a_set_with_factors(finished_run):
    """A class colouring a shapes map by colour read the kNN accuracy as colour's."""
    rid = finished_run("shapes-simclr")
    at = open_page("explore", run=rid)
    [knn, linear] = [m for m in at.metric if m.label in ("kNN accuracy", "linear probe")]
    assert all("They score the label, here the **shape**, whatever the map is coloured by." in m.help
               for m in (knn, linear))
    digits = finished_run("simclr")
    at = open_page("explore", run=digits)
    assert not any("They score the label" in (m.help or "") for m in at.metric)
    at = open_page("explore", run=finished_run("random"))  # the untrained network itself: nothing to add
    assert not any(m.proto.delta for m in at.metric) and not any("untrained" in (m.help or "") for m in at.metric)


def test_compare_colours_the_maps_and_counts_the_neighbours_by_a_factor(finished_run):
    """A teacher comparing a colour-jitter run on shapes could colour Compare's maps by shape only."""
    a, b = finished_run("shapes-simclr"), finished_run("shapes-simclr")
    at = open_page("compare", runs=f"{a},{b}")
    # in words, the factor's name after them (the box listed size_bin and position_bin alone)
    assert at.selectbox(key="cmp_colour").options == ["label", "shape", "colour (color)", "size (size_bin)",
                                                      "orientation (rotation_bin)", "position (position_bin)"]
    # no rotation score on a set drawn at every angle: it cannot say what a run keeps (a review read 0.249 as one)
    assert at.dataframe[0].value["rotation predictable"].isna().all()
    assert "–: not on a set drawn at every angle" in json.loads(at.dataframe[0].proto.columns)["rotation predictable"]["help"]
    at.selectbox(key="cmp_colour").select("color").run()
    assert not at.exception and at.query_params["colour"] == "color"
    maps = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "umap" in json.dumps(json.loads(c.proto.spec)
                                                                                             .get("layout", {}).get("title", ""))]
    assert maps and all({"red", "blue"} <= {t.get("name") for t in m["data"]} for m in maps)
    said = " ".join(m.value for m in at.markdown)
    assert said.count("share the query's colour") == 2 and "share the query's label" not in said
    # why a colour-jitter run's map still groups by colour, under the maps (the prepared runs' crop,flip,color_jitter)
    assert (f"simclr ({a[-4:]}) and simclr ({b[-4:]}) turn hue by at most ±36°, less than the 40° between the nearest "
            "two colours of shapes, so colours can still stand apart on their maps.") in captions(at)
    # each image names its shape and, counted by it, its colour: the captions named only the shape
    from ssrl_core.data import load_dataset

    ds = load_dataset("shapes")
    colours = ds.factor_names["color"]
    [query], *grids = images(at)
    row = int(query.split("#")[1].split(" ")[0])
    assert query == f"query #{row} · {ds.label_name(row)} · {colours[int(ds.factors['color'][row])]}"
    for caption in [c for g in grids for c in g]:
        nb, shape, colour, _ = caption.split(" · ")
        nb = int(nb[1:])
        assert (shape, colour) == (ds.label_name(nb), colours[int(ds.factors["color"][nb])])
    # coloured by shape, which is shapes' label: said once ("cross, shape cross" said it twice)
    at.selectbox(key="cmp_colour").select("shape").run()
    [query], *grids = images(at)
    assert query == f"query #{row} · {ds.label_name(row)}"
    assert all(len(c.split(" · ")) == 3 for g in grids for c in g)
    digits = open_page("compare", runs=f"{finished_run('simclr')},{finished_run('rotation')}")
    assert "cmp_colour" not in [s.key for s in digits.selectbox]  # no factors: nothing else to colour by


def test_every_page_says_to_stop_a_worker_of_an_older_version(ssrl_home):
    """After an upgrade, a worker started by the older version (it outlives the app) trains the
    queued runs with its old code: every page says so, with its pid and what to do."""
    import subprocess
    import sys

    from ssrl_core.runs.worker import slot_lock

    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               str(slot_lock(0))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        slot_lock(0).write_text("vm:4242:0\n")  # no code stamp: a worker of a version before them
        for page in (None, "gallery"):
            at = open_page(page)
            [said] = [w.value for w in at.warning if "older version" in w.value]
            assert said.startswith("A worker of an older version of SSRL Playground is still running on this "
                                   "SSRL_HOME (process 4242)") and "`kill 4242`" in said
        # a class's link: a student cannot stop it, so one line says who can (eleven took a phone's first screen)
        at = open_page("lessons", lesson="four-families", hide="controls,nav")
        [said] = [w.value for w in at.warning if "older version" in w.value]
        assert said.startswith("A worker of an older version still runs on this server") and "kill" not in said
    finally:
        holder.kill()
        holder.wait()
    assert not [w for w in open_page().warning if "older version" in w.value]


def test_a_server_whose_files_changed_since_it_started_says_to_restart(monkeypatch):
    """After a checkout of another version under a running server, its imported modules stayed old while the pages
    were read afresh: a page failed on "cannot import name ... from ssrl_core..." with nothing saying why."""
    from app import services

    monkeypatch.setattr(services, "_CODE_LOOKED", [0.0, 0.0])
    at = open_page("data")
    assert not [w for w in at.warning if "files changed" in w.value]  # the files as the server imported them
    monkeypatch.setattr(services, "SERVED_CODE", "the stamp of the files as they were before a checkout")
    monkeypatch.setattr(services, "_CODE_LOOKED", [0.0, 0.0])
    at = open_page("data")
    [said] = [w.value for w in at.warning if "files changed" in w.value]
    assert said.startswith("The app's files changed after this server started (an update?).") and \
        "start it again as before (`python -m streamlit run app/main.py` and the options" in said
    monkeypatch.setattr(services, "_CODE_LOOKED", [0.0, 0.0])
    at = open_page("data", hide="controls")
    assert any(w.value.endswith("whoever runs the server should restart it.") for w in at.warning)


def test_a_done_run_whose_folder_was_deleted_by_hand_is_on_no_results_page_and_pretrain_says_what_to_do(finished_run):
    """An admin's `rm -rf SSRL_HOME/runs/ID`: the run stayed on Evaluate with its accuracies and a button to compute
    its probes, which failed "click again in a few minutes"; Gallery showed its card without a map."""
    import shutil

    gone, kept = finished_run("simclr"), finished_run("rotation")
    run_dir = RunStore().get(gone)["run_dir"]
    shutil.rmtree(run_dir)
    at = open_page("evaluate")
    assert [o for o in at.multiselect(key="eval_runs").options if gone[-4:] in o] == []
    assert any(kept[-4:] in o for o in at.multiselect(key="eval_runs").options)
    at = open_page("explore", run=gone)
    assert "is gone (deleted by hand?): put it back, or delete the run (Pretrain's list)" in at.warning[0].value
    at = open_page("pretrain")
    notes = dict(zip(at.dataframe[0].value["id"], at.dataframe[0].value["note"]))
    assert notes[gone] == f"its folder {run_dir} is gone (deleted by hand?): put it back, or delete the run"
    assert notes[kept] == ""


def test_a_links_option_at_its_default_is_no_setting_of_the_run():
    """?options=temperature=0.5, SimCLR's default, in a class's link with the form hidden: the
    run is launched at the defaults, as from the form, not with the default kept as a setting."""
    at = open_page("pretrain", method="simclr", options="temperature=0.5", hide="advanced")
    assert "options from the link" not in captions(at)
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    assert run["config"]["options"] == {}


def test_the_live_panels_eta_is_minutes_and_two_digit_seconds():
    """65 s of training left reads 1:05 (not 1:5)."""
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    store.claim("host:123:0")
    store.record(rid, {"kind": "step", "epoch": 1, "epochs": 5, "step": 10, "total_steps": 50, "loss": 3.0,
                       "images_per_s": 900.0, "eta_s": 65.4})
    at = open_page("pretrain")
    assert {m.label: m.value for m in at.metric}["ETA (training)"] == "1:05"


def test_a_runs_settings_without_a_box_in_the_form_are_those_changed_from_the_defaults():
    """Launch again names the settings the form cannot set only where they differ from the defaults."""
    from app.widgets import form_params

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simsiam", epochs=7, seed=3, weight_decay=0.05,
                                 options={"stop_gradient": False}))
    params, other = form_params(store.get(rid)["config"])
    assert other == ["weight decay 0.05"]
    assert params["method"] == "simsiam" and params["epochs"] == "7" and params["seed"] == "3"
    assert params["options"] == "stop_gradient=false"
    plain = store.submit(RunConfig(dataset="digits", method="simclr"))
    params, other = form_params(store.get(plain)["config"])
    assert other == [] and "options" not in params


def test_a_runs_progress_bar_never_reads_past_the_whole_training():
    """A step counted past the epoch's total (the store keeps what the worker says) fills the bar, no more (Streamlit's
    progress bar refuses a share past 1)."""
    from app.widgets import progress_of

    run = {"status": "running", "phase": "training", "epoch": 4, "epochs": 5}
    assert progress_of({**run, "progress": 1.3}) == (1.0, "in epoch 5 of 5 · 100% of the training done")
    assert progress_of({**run, "progress": None})[0] == 0.0


def test_a_resumed_runs_loss_curve_leaves_out_steps_only_its_earlier_attempt_reached():
    """A run cancelled at step 5 and resumed from its checkpoint at step 2: its curve, at step 3,
    ends at step 3 (the first attempt's steps 4 and 5 are not this attempt's yet)."""
    from app import services

    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1))
    for step in (1, 2, 3, 4, 5):
        store.record(rid, {"kind": "step", "step": step, "loss": 10.0 - step})
    for step in (3,):
        store.record(rid, {"kind": "step", "step": step, "loss": 1.0})
    assert [(e["step"], e["loss"]) for e in services.loss_steps(rid)] == [(1, 9.0), (2, 8.0), (3, 1.0)]
