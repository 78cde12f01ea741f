"""The classroom parts: the Learn page, page state in the URL (and hidden parts), the
gallery, and the export of a finished run (library, CLI and the Explore downloads)."""
import csv
import json
import re
import shlex
from pathlib import Path

import numpy as np

from ssrl_core import cli
from ssrl_core.config import RunConfig
from ssrl_core.lessons import load_all
from ssrl_core.runs.store import RunStore

from .conftest import finish_done
from .test_app import open_page

LESSONS = {lesson.id for lesson in load_all()}  # every lesson file in assets/lessons


def page_links(at) -> list[tuple[str, str]]:
    return [(el.proto.page, el.proto.query_string) for el in at.get("page_link")]


def warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


# -- Learn ---------------------------------------------------------------------------------

def test_learn_page_shows_each_family_with_pictures_and_links_to_its_lesson():
    at = open_page("learn")
    assert [h.value for h in at.header] == ["1. Masked prediction", "2. Transformation prediction",
                                            "3. Instance discrimination", "4. Clustering"]
    imgs = at.get("image")
    pictures = [i for el in imgs for i in el.proto.imgs]
    assert len(pictures) >= 4 + 2  # masked, rotation, pairs, and several clusters
    captions = " ".join(i.caption for i in pictures)
    assert "0°, 90°, 180°, 270°" in captions and "MAE" in captions and "positive pair" in captions
    assert "cluster of" in captions
    md = " ".join(m.value for m in at.markdown)
    links = [part.split(")")[0] for part in md.split("lessons?lesson=")[1:]]
    assert {link.split("&")[0] for link in links} == LESSONS  # every lesson linked, each one exists
    # each named as the Lessons page names it ("collapse without a stop-gradient" matched no title there)
    from ssrl_core.lessons import load_by_name

    for lid in LESSONS:
        assert f"[Lesson: {load_by_name(lid).title}](./lessons?lesson={lid}" in md, lid
    # they open in a new tab, the same student there by the browser's cookie: no nickname in the link to share
    assert not any("who=" in link for link in links)
    # each family also opens Pretrain with its method chosen
    assert ("pretrain", "dataset=digits&method=rotation") in page_links(at)


# -- URL state -----------------------------------------------------------------------------

def test_pretrain_reads_its_widgets_from_the_link_and_writes_changes_back():
    at = open_page("pretrain", dataset="shapes", method="rotation", epochs="3", augment="crop(min_scale=0.5),flip",
                   lr="0.01")
    # nothing from the link is refused; the one caution is rotation's on a set drawn at every angle
    [caution] = [w.value for w in at.warning]
    assert caution.startswith("rotation predicts how far an image was turned, but the images of shapes are drawn at")
    assert at.selectbox(key="pt_dataset").value == "shapes"
    assert at.selectbox(key="pt_method").value == "rotation"
    assert at.selectbox(key="pt_preset").value == "custom…"
    assert at.multiselect(key="pt_ops").value == ["crop", "flip"]
    assert at.number_input(key="pt_epochs").value == 3
    at.number_input(key="pt_epochs").set_value(5).run()
    assert at.query_params["epochs"] in ("5", ["5"])  # a copied link reproduces the change
    at.selectbox(key="pt_method").select("simclr").run()
    assert "method" not in at.query_params  # the default is left out of the link
    at.selectbox(key="pt_dataset").select("digits").run()  # (launching on shapes would generate it: seconds)
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    c = run["config"]
    assert (c["dataset"], c["method"], c["epochs"], c["lr"]) == ("digits", "simclr", 5, 0.01)
    assert c["augment"] == "crop(min_scale=0.5),flip"


def test_invalid_link_values_warn_and_fall_back():
    at = open_page("pretrain", dataset="nope", method="simclr", epochs="-4", lr="abc", augment="crop(size=oops")
    w = warnings(at)
    for bad in ("dataset=nope", "epochs=-4", "lr=abc", "augment=crop(size=oops"):
        assert bad in w
    assert at.selectbox(key="pt_dataset").value == "digits" and at.number_input(key="pt_epochs").value == 10
    at = open_page("explore", run="no-such-run")  # no runs at all: the page says so, no crash
    assert "No finished runs" in at.info[0].value


def test_hide_controls_shows_only_the_launch_button_with_the_linked_config():
    at = open_page("pretrain", hide="controls,nav", method="rotation", epochs="2", augment="flip")
    assert not at.selectbox and not at.number_input and not at.multiselect
    assert not at.sidebar.caption  # hide=nav: no sidebar contents
    assert any("**rotation**" in m.value and "`flip`" in m.value and "2 epochs" in m.value for m in at.markdown)
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    assert (run["method"], run["dataset"], run["epochs"], run["config"]["augment"]) == ("rotation", "digits", 2, "flip")
    assert run["config"]["batch_size"] == 32  # digits' default batch size
    at = open_page("pretrain", hide="advanced")
    assert at.selectbox(key="pt_method") and not [n for n in at.number_input
                                                  if n.key.startswith(("pt_batch", "pt_lr", "pt_seed"))]
    assert open_page("pretrain").number_input(key="pt_batch_digits").value == 32
    assert open_page("pretrain", batch="64").number_input(key="pt_batch_digits").value == 64


def test_augment_page_reads_dataset_and_augmentations_from_the_link():
    at = open_page("augment", augment="crop")
    assert at.selectbox(key="aug_preset").value == "crop"
    at.selectbox(key="aug_preset").select("color").run()
    assert at.query_params["augment"] in ("color", ["color"])
    at = open_page("augment", augment="flip", hide="controls")
    assert not at.selectbox and "`flip`" in " ".join(m.value for m in at.markdown)


def test_a_links_nickname_is_read_once_and_never_kept_in_the_address():
    """Every page wrote ?who= into its address, and a teacher who pasted the address bar to
    the class gave every student the teacher's nickname and run limit. The browser's cookie
    keeps it across reloads and tabs (tests/test_browser.py); the address never carries it."""
    at = open_page("pretrain")
    guest = at.sidebar.text_input(key="nickname").value
    assert guest.startswith("guest-") and "who" not in at.query_params
    at.sidebar.text_input(key="nickname").set_value("ada").run()
    assert "who" not in at.query_params and "No nickname" not in " ".join(c.value for c in at.sidebar.caption)
    at.sidebar.text_input(key="nickname").set_value("").run()  # emptied: said, not silently a guest
    assert f"runs you launch now are **{guest}**'s" in " ".join(c.value for c in at.sidebar.caption)
    again = open_page("pretrain", who="ada", epochs="3")  # a link that names a nickname: taken, then dropped
    assert again.sidebar.text_input(key="nickname").value == "ada"
    assert "who" not in again.query_params and again.query_params["epochs"] == "3"
    again.run()
    assert again.sidebar.text_input(key="nickname").value == "ada"
    # a teacher's link that hides the navigation still shows whose runs these are
    hidden = open_page("lessons", who="bea", hide="nav")
    assert hidden.sidebar.text_input(key="nickname").value == "bea"


# -- The live panel: whose run, and what happened to it -------------------------------------

def test_cancel_is_one_click_on_your_own_run_and_asks_first_on_a_classmates():
    store = RunStore()
    mine = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    theirs = store.submit(RunConfig(dataset="digits", method="rotation", epochs=5), nickname="dave")
    at = open_page("pretrain", who="ada")
    assert at.button(key=f"cancel_{mine}").label == "Cancel"
    panel = " ".join(m.value for m in at.markdown)
    assert "by dave" in panel and "**dave**'s run, not yours" in panel  # said inside the popover
    assert at.button(key=f"cancel_{theirs}").label == "Cancel dave's run"
    at.button(key=f"cancel_{mine}").click().run()
    assert store.get(mine)["status"] == "cancelled" and store.get(theirs)["status"] == "queued"
    at.button(key=f"cancel_{theirs}").click().run()  # the confirmation, as the teacher would
    assert store.get(theirs)["status"] == "cancelled"


def test_a_class_link_offers_no_cancel_of_a_classmates_run():
    """With the class's ``hide=controls`` every student's page offered "Cancel…" on every
    classmate's run (on a lesson's link, "Cancel the lesson's run" on each of its runs): a
    class of 30 could stop each other's work. There, each stops their own runs only."""
    store = RunStore()
    mine = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    theirs = store.submit(RunConfig(dataset="digits", method="rotation", epochs=5), nickname="dave")
    at = open_page("pretrain", who="ada", hide="controls")
    assert at.button(key=f"cancel_{mine}").label == "Cancel"
    assert not [b for b in at.button if b.key == f"cancel_{theirs}"]
    panel = " ".join(m.value for m in at.markdown)
    assert "by dave" in panel and "not yours" not in panel  # still listed, with whose it is


def test_a_cancel_confirmed_as_the_run_starts_is_not_lost(monkeypatch):
    """The live panel reruns the whole page when a run it showed starts, before it draws the
    runs' buttons; a Cancel clicked in that very rerun was read by nobody, and Dave's run,
    taken by the worker as the teacher confirmed its Cancel, trained on."""
    from app.services import ACTIVE

    store = RunStore()
    theirs = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="dave")
    assert store.claim("w")["id"] == theirs  # running
    at = open_page("pretrain", who="ada")
    real, seen = RunStore.list, []

    def as_the_page_last_saw_it(self, *args, **kwargs):  # the panel's first look: the run queued, as drawn before
        rows = real(self, *args, **kwargs)
        if not seen and args and args[0] == ACTIVE:
            seen.append(True)
            rows = [{**r, "status": "queued"} if r["id"] == theirs else r for r in rows]
        return rows

    monkeypatch.setattr(RunStore, "list", as_the_page_last_saw_it)
    at.button(key=f"cancel_{theirs}").click().run()
    assert not at.exception and store.get(theirs)["cancel_requested"]
    assert "Cancelling " + theirs in [t.value for t in at.toast]


def test_a_failed_run_says_so_and_why_until_dismissed():
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    other = store.submit(RunConfig(dataset="digits", method="byol", epochs=5), nickname="dave")
    for r in (rid, other):
        store.claim("host:1:0")
        store.finish(r, "failed", error="diverged: the loss became nan at epoch 1, step 20")
    at = open_page("pretrain", who="ada")
    [err] = at.error  # ada's failure only, with the whole reason
    assert rid in err.value and "failed: diverged: the loss became nan at epoch 1, step 20" in err.value
    assert at.dataframe[0].value.columns[:4].tolist() == ["run", "who", "status", "note"]  # the reason in view
    # a run that never finished has no encoder of its own: its "auto" says what this machine chooses, explained on hover
    assert at.dataframe[0].value["encoder"].tolist() == ["auto (cnn-small)", "auto (cnn-small)"]
    assert "auto** (a run not finished): chosen as the run starts, cnn-small on a CPU" in \
        json.loads(at.dataframe[0].proto.columns)["encoder"]["help"]
    at.button(key=f"dismiss_{rid}").click().run()
    assert not at.error


def test_the_runs_table_has_a_note_column_only_when_a_run_has_a_note(finished_run):
    """Empty, the note column's 200 px pushed the table's last columns off a 1280 px projector's page
    (1,115 px of table in 981)."""
    finished_run("random")
    at = open_page("pretrain")
    assert "note" not in at.dataframe[0].value.columns and "kNN acc" in at.dataframe[0].value.columns


def test_the_runs_table_tells_runs_of_one_method_apart_and_keeps_their_whole_ids():
    """Two SimCLR runs, with and without colour jitter, read "simclr · digits" alike in the table's
    method column, and its first column was a 20-character id that a 1366 px screen paid for with
    the last scores."""
    store = RunStore()
    jitter = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5, augment="crop,flip,color_jitter"))
    plain = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5, augment="crop,flip"))
    at = open_page("pretrain")
    table = at.dataframe[0].value
    assert table.columns[0] == "run" and table.columns[-1] == "id" and "method" not in table.columns
    assert dict(zip(table["id"], zip(table["run"], table["differs in"]))) == {
        jitter: (f"simclr ({jitter[-4:]})", "aug: crop,flip,color_jitter"), plain: (f"simclr ({plain[-4:]})", "aug: crop,flip")}
    # after the status, in a column of its own: in the pinned name column, cut to 200 px, it was out of sight
    assert list(table.columns[:4]) == ["run", "who", "status", "differs in"]
    assert "what tells the run apart" in json.loads(at.dataframe[0].proto.columns)["differs in"]["help"]


def test_the_runs_table_says_when_each_run_was_queued_in_the_browsers_time_zone():
    """The submitted column was the server's clock, hour to second: a container's UTC read an hour off
    in Paris, and a run queued yesterday at 22:00 sorted after one queued today at 09:00."""
    import contextlib
    import sqlite3
    from datetime import datetime
    from zoneinfo import ZoneInfo

    store = RunStore()
    old, new = (store.submit(RunConfig(dataset="digits", method=m, epochs=5)) for m in ("simclr", "byol"))
    yesterday, today = 1_765_051_200.0, 1_765_098_000.0  # 2025-12-06 20:00 and 2025-12-07 09:00 UTC
    with contextlib.closing(sqlite3.connect(store.path)) as c, c:
        for rid, ts in ((old, yesterday), (new, today)):
            c.execute("UPDATE runs SET created = ? WHERE id = ?", (ts, rid))
    at = open_page("pretrain")
    at.context = {"timezone": "Asia/Tokyo"}
    at.run()
    table = at.dataframe[0].value
    when = dict(zip(table["id"], table["submitted"]))
    tokyo = ZoneInfo("Asia/Tokyo")
    assert when[old] == datetime(2025, 12, 7, 5, 0, tzinfo=tokyo) and when[new] == datetime(2025, 12, 7, 18, 0, tzinfo=tokyo)
    assert str(when[old].tzinfo) == "Asia/Tokyo"  # shown in the browser's zone, not the server's
    column = json.loads(at.dataframe[0].proto.columns)["submitted"]
    assert column["type_config"]["format"] == "calendar" and "time zone" in column["help"]  # "Today at 6:00 PM"
    at.context = {"timezone": "Not/AZone"}  # a zone this machine does not know: the server's, not a crash
    at.run()
    assert not at.exception and at.dataframe[0].value["submitted"].notna().all()


def test_a_lessons_run_is_not_deleted_in_the_app_nor_its_nickname_taken_by_a_student(finished_run):
    """From a class's link without its ``hide=``, four taps deleted a lesson's run: every student's
    verdict went back to "incomplete". Typing the lesson's nickname gave a student its runs to
    cancel as theirs."""
    rid = finished_run("simclr", nickname="lesson:collapse")
    at = open_page("pretrain")
    at.selectbox(key="pt_again_pick").select(rid).run()
    assert not [b for b in at.button if b.key == f"delete_{rid}"]
    said = " ".join(m.value for m in at.markdown)
    assert "belongs to the lesson **collapse**" in said and f"`python -m ssrl_core delete {rid}`" in said
    at.sidebar.text_input(key="nickname").input("Lesson:Collapse").run()  # in any case ("lesson:" alone was caught)
    assert not at.exception
    assert any("are the lessons' own" in c.value for c in at.sidebar.caption)
    at.button(key="pt_launch").click().run()  # launched under the session's guest name, not the lesson's
    [new] = [r for r in RunStore().list() if r["id"] != rid]
    assert new["nickname"] == at.session_state["_guest_nickname"] and new["nickname"].startswith("guest-")


# -- Gallery and Explore -------------------------------------------------------------------

def test_gallery_tells_cards_of_one_method_apart_by_what_differs():
    """contrastive-knobs' runs at batch 32 and 512 (no options given) made cards that read alike,
    and their boxes said "compare simclr · digits" alike."""
    store = RunStore()
    ids = {}
    for batch in (32, 512):
        ids[batch] = store.submit(RunConfig(dataset="digits", method="simclr", epochs=10, batch_size=batch),
                                  nickname="lesson:contrastive-knobs")
        store.claim("w")
        finish_done(store, ids[batch], summary={"knn_accuracy": 0.9}, worker="w")
    large = ids[512]
    at = open_page("gallery")
    text = " ".join(m.value for m in at.markdown)
    assert "**simclr** · batch 32 · digits" in text and "**simclr** · batch 512 · digits" in text, text
    assert at.checkbox(key=f"gal_tick_{large}").label == \
        "compare simclr · batch 512 · digits · 10 epochs · by lesson\\:contrastive-knobs"


def test_gallery_shows_each_finished_run_with_its_nickname_and_opens_it(finished_run):
    a = finished_run("simclr", nickname="ada")
    b = finished_run("simclr")
    at = open_page("gallery", hide="nav")
    text = " ".join(m.value for m in at.markdown)
    assert "by **ada**" in text and "by **someone**" in text and "**simclr** · digits" in text
    assert "kNN\u00a00." in " ".join(c.value for c in at.caption)
    assert len(at.get("image")) == 2  # a map thumbnail per run
    assert {("explore", f"run={r}&hide=nav") for r in (a, b)} <= set(page_links(at))
    at.checkbox(key=f"gal_tick_{a}").check().run()
    assert "Tick one more run to compare them." in " ".join(c.value for c in at.caption)
    at.checkbox(key=f"gal_tick_{b}").check().run()
    assert ("compare", f"runs={b}%2C{a}&hide=nav") in page_links(at) or \
        ("compare", f"runs={a}%2C{b}&hide=nav") in page_links(at)
    # at the top of the page and under the box just ticked: on a phone the top was 1,900 px away from it
    assert [p for p, _ in page_links(at)].count("compare") == 2


def test_a_ta_finds_a_students_best_runs_and_ticks_runs_across_filters(finished_run):
    """At a term's end (40 runs, 12 students) a TA looked for "Ada's best run on shapes" card by
    card: the Gallery had no filter by who made a run nor any order but the newest; a tick made
    under one filter was lost under another; the pickers' labels read alike but for the ids."""
    ada = finished_run("simclr", nickname="ada")
    bob = finished_run("random", nickname="Bob")
    ada2 = finished_run("rotation", nickname="ADA")  # the same student, typed in capitals
    at = open_page("gallery")
    box = at.selectbox(key="gal_by")
    assert len(box.options) == 3 and box.options[0] == "everyone" and "Bob" in box.options
    box.select(next(o for o in box.options if o.casefold() == "ada")).run()
    assert {c.key for c in at.checkbox} == {f"gal_tick_{ada}", f"gal_tick_{ada2}"}  # both spellings, not Bob's
    assert at.checkbox(key=f"gal_tick_{ada}").label.endswith(" · by ada")  # told apart by ear too
    at.checkbox(key=f"gal_tick_{ada}").check().run()
    at.selectbox(key="gal_by").select("Bob").run()
    at.checkbox(key=f"gal_tick_{bob}").check().run()
    at.selectbox(key="gal_by").select("everyone").run()
    assert at.checkbox(key=f"gal_tick_{ada}").value  # still ticked
    assert ("compare", f"runs={ada}%2C{bob}") in page_links(at)  # the two ticks under two filters
    at.selectbox(key="gal_sort").select("kNN accuracy").run()
    knn = {r: RunStore().get(r)["summary"]["knn_accuracy"] for r in (ada, bob, ada2)}
    order = [c.key.removeprefix("gal_tick_") for c in at.checkbox]
    scores = [knn[r] for r in order]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]  # best first (ties: newest first)
    assert at.query_params["sort"] in ("kNN accuracy", ["kNN accuracy"])
    picker = open_page("compare")
    labels = [picker.multiselect(key="cmp_runs").format_func(i) for i in (ada, bob)]
    assert " · by ada · " in labels[0] and " · by Bob · " in labels[1], labels
    # a teacher's link in any case, the order by its first word: as the box offers them, no warning
    at = open_page("gallery", by="ada", sort="knn")
    assert at.selectbox(key="gal_by").value == "ADA" and at.selectbox(key="gal_sort").value == "kNN accuracy"
    assert not at.warning and {c.key for c in at.checkbox} == {f"gal_tick_{ada}", f"gal_tick_{ada2}"}
    assert RunStore().nicknames() == ["ADA", "Bob"]  # the runs table's box: the same spelling
    from ssrl_core.runs.remove import delete_run  # a ticked run deleted from another tab: said, not silently dropped

    at = open_page("gallery")
    at.checkbox(key=f"gal_tick_{bob}").check().run()
    at.checkbox(key=f"gal_tick_{ada}").check().run()
    delete_run(RunStore(), bob)
    at.run()
    [said] = [i.value for i in at.info if "you ticked" in i.value]
    assert said.startswith(f"A run you ticked ({bob}) is no longer finished here") and "its tick is dropped" in said
    at.run()
    assert not [i for i in at.info if "you ticked" in i.value]  # said once


def test_runs_finished_before_hundreds_of_cancelled_ones_stay_on_the_results_pages(finished_run):
    """The pages read the newest 500 runs of any status: on a class's server a run finished
    before some hundreds of cancelled ones was on none of them (25 of 70 in a review)."""
    from ssrl_core.runs.store import Limits

    done = finished_run("random", nickname="ada")
    store = RunStore()
    for seed in range(501):
        store.request_cancel(store.submit(RunConfig(method="random", seed=seed + 1), limits=Limits(per_nickname=0, queued=0)))
    at = open_page("gallery")
    assert f"gal_tick_{done}" in {c.key for c in at.checkbox}
    at = open_page("pretrain")  # the table holds the newest 50: a box picks whose, the rest is said
    assert at.selectbox(key="pt_runs_who").options == ["everyone's", "ada"]
    assert "The newest 50 of 502 runs; `python -m ssrl_core runs --limit 0` lists them all." in captions(at)
    at.selectbox(key="pt_runs_who").select("ada").run()
    assert done in at.dataframe[0].value["id"].tolist()


def test_explore_opens_the_linked_run_and_offers_the_export(finished_run):
    a = finished_run("simclr", nickname="ada")
    finished_run("simclr")  # newer: the default without a link
    at = open_page("explore", run=a, hide="controls")
    assert not at.selectbox and "by ada" in " ".join(m.value for m in at.markdown)
    at.button(key="explore_export").click().run()
    assert not at.exception
    labels = {el.proto.label for el in at.get("download_button")}
    assert {"Everything (.zip)", "run_card.md", "run_card.json", "embeddings.npz", "embeddings.csv",
            "checkpoint.safetensors", "map.html", "map.png"} <= labels
    assert "python -m ssrl_core train" in at.code[0].value


def test_an_export_cut_short_by_a_full_disk_is_said_and_never_served_as_complete(finished_run, ssrl_home, monkeypatch,
                                                                                 tmp_path, capsys):
    """The export's card was written first, then the disk filled on the embeddings: the next
    click served the card alone as the whole export (and its zip was missing). It is now
    written beside and moved into place whole; the page says why it failed."""
    import errno

    from ssrl_core.runs import export

    rid = finished_run("simclr")
    write = export.write_embeddings

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "write_embeddings", full)
    at = open_page("explore", run=rid)
    at.button(key="explore_export").click().run()
    assert at.error[0].value == (f"Export failed: nothing of it is kept: the disk holding {ssrl_home / 'exports'} is "
                                 "full: free some space there (deleting ended runs frees the most), then try again")
    assert not at.get("download_button") and not [p for p in (ssrl_home / "exports").iterdir() if p.suffix != ".lock"]
    assert cli.main(["export", "--run", rid, "--out", str(tmp_path / "out")]) == 2  # the CLI says it alike
    assert capsys.readouterr().err == (f"error: the disk holding {tmp_path / 'out'} is full: free some space there "
                                       "(deleting ended runs frees the most), then try again\n")
    monkeypatch.setattr(export, "write_embeddings", write)  # space freed: the next click writes all of it
    (ssrl_home / "exports" / f".{rid}-killed").mkdir()  # and clears the half of one whose server was killed
    at.button(key="explore_export").click().run()
    assert not at.error and "embeddings.npz" in {el.proto.label for el in at.get("download_button")}
    # the zip alone: the folder kept beside it made each export 1.6 times the folder's size on the server
    assert sorted(p.name for p in (ssrl_home / "exports").iterdir()) == [f".{rid}.lock", f"{rid}.zip"]
    from ssrl_core.runs.remove import delete_run

    delete_run(RunStore(), rid)
    assert not list((ssrl_home / "exports").iterdir())  # deleting the run leaves nothing of its export


def test_an_export_rewritten_for_a_newer_summary_is_never_missing_to_a_session_reading_it(finished_run, ssrl_home,
                                                                                          tmp_path):
    """A probe rewrites a run's summary, so the next export is written again; it used to
    delete the old folder before moving the new one in, and a session listing or
    downloading it meanwhile found no export. Now the zip is replaced whole, by a rename."""
    import os
    import subprocess
    import sys
    import time

    from app import services

    import zipfile

    run = RunStore().get(finished_run("simclr"))
    files = services.export_run(run)
    zipped, names = files["all"], sorted(n for n in files if n != "all")
    assert json.loads(files["run_card.json"].read_text())["id"] == run["id"]
    # the zip's files in a folder named after the run: two runs' zips unzipped in one Downloads folder mixed their files
    listed = zipfile.ZipFile(zipped).namelist()
    members = [f"{run['id']}/{n}" for n in names]
    assert sorted(n for n in listed if not n.endswith("/")) == members
    stop = tmp_path / "stop"
    # another session, as the Explore page reads an export: list the zip, read a file; in
    # a process of its own, so it polls as fast as it can without slowing the writer
    reader = subprocess.Popen([sys.executable, "-c", f"""
import pathlib, zipfile
zipped, stop, seen, bad = pathlib.Path({str(zipped)!r}), pathlib.Path({str(stop)!r}), 0, set()
print("reading", flush=True)
while not stop.exists():
    try:
        with zipfile.ZipFile(zipped) as z:
            listed = sorted(n for n in z.namelist() if not n.endswith("/"))
            z.read({members[0]!r})
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        listed = ["unreadable: " + repr(e)]
    seen += 1
    if listed != {members!r}:
        bad.add(str(listed))
print(seen, sorted(bad))
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline() == "reading\n"
        summary = Path(run["run_dir"]) / "summary.json"
        os.utime(summary, (time.time() + 5, time.time() + 5))  # a probe wrote it after the export
        before = zipped.stat().st_mtime_ns
        services.export_run(run)
        assert zipped.stat().st_mtime_ns != before  # written again
    finally:
        stop.touch()
        seen, bad = reader.communicate(timeout=60)[0].split(" ", 1)
    assert int(seen) > 20 and bad.strip() == "[]", bad  # (it read the zip throughout the rewrite, 85 times on a busy machine)


# -- Export --------------------------------------------------------------------------------

def test_export_cli_writes_a_card_embeddings_checkpoint_figures_and_a_reproducing_command(
        finished_run, tmp_path, ssrl_home, capsys):
    rid = finished_run("simclr", nickname="ada")
    run = RunStore().get(rid)
    out = tmp_path / "export"
    def files():
        return {p.relative_to(ssrl_home): p.stat().st_mtime_ns for p in ssrl_home.rglob("*")
                if p.is_file() and "store.sqlite" not in p.name}

    before = files()
    assert cli.main(["export", "--run", rid, "--out", str(out)]) == 0
    listed = json.loads(capsys.readouterr().out)
    after = files()
    # nothing written but the export folder (and the dataset's own cache in SSRL_HOME/data)
    assert {k: v for k, v in after.items() if k.parts[0] != "data"} == before
    assert {"run_card.json", "run_card.md", "embeddings.npz", "embeddings.csv", "checkpoint.safetensors", "map.html",
            "map.png", "training.html", "reproduce.sh", "probes.json", "epochs.jsonl",
            "references.json"} == set(listed) == {p.name for p in out.iterdir()}
    # what the pages show beyond the card (label efficiency, invariance, the untrained network's readouts), as they
    # read it: a handed-in export backs them
    assert json.loads((out / "probes.json").read_text()) == json.loads(open(f"{run['run_dir']}/probes.json").read())
    from ssrl_core.runs.artifacts import RunArtifacts

    assert json.loads((out / "references.json").read_text()) == RunArtifacts(run["run_dir"]).references()
    # the figures in colours of their own: from the app, plotly's default template is Streamlit's placeholder, and
    # the file drew both training curves in black
    for figure in ("training.html", "map.html"):
        html = (out / figure).read_text()
        assert '"colorway":["#636efa"' in html and '"#000032"' not in html, figure  # plotly_white's, not a placeholder

    card = json.loads((out / "run_card.json").read_text())
    cfg = json.loads(open(f"{run['run_dir']}/config.json").read())
    # the config as trained, with every option of the method as reproduce.sh passes it (config.json holds the
    # options given, {} for the defaults, and a card reading "options {}" beside a command with three looked wrong)
    assert cfg["options"] == {} and card["config"] == {**cfg, "options": card["config"]["options"]}
    assert card["config"]["options"] == {"temperature": 0.5, "proj_dim": 128, "hidden_dim": 512}
    assert all(f"--option {k}={v}" in card["reproduce"] for k, v in card["config"]["options"].items())
    assert card["id"] == rid and card["nickname"] == "ada" and card["seed"] == cfg["seed"]
    assert card["metrics"]["knn_accuracy"] == run["summary"]["knn_accuracy"]
    assert "torch" in card["exported_on"]["packages"] and card["trained_on"]["device"] == "cpu"
    assert card["durations_s"]["train_seconds"] > 0
    md = (out / "run_card.md").read_text()
    assert md.startswith("# Run card: simclr on digits by ada") and card["reproduce"] in md
    # what a reproduction needs beyond the config: the code and packages it trained with, the CPU (whether it has
    # native bfloat16 decides the numbers), when, and which images (a built-in set's fingerprint too)
    [trained_with] = [line for line in md.splitlines() if line.startswith("- packages when it trained: ")]
    assert f"ssrl_core {card['trained_on']['packages']['ssrl_core']}" in trained_with and "torch 2." in trained_with
    assert card["trained_on"]["hardware"]["cpu"] not in ("", "x86_64") or not Path("/proc/cpuinfo").exists()
    assert re.search(r"^Finished 20\d\d-\d\d-\d\d \d\d:\d\d UTC$", md, re.M)
    assert f"Dataset digits: 1,797 images, 32 px, fingerprint `{card['dataset']['fingerprint']}`" in md
    # its numbers as the pages round them (a shapes kNN of 0.42449 read 0.4245 on the card, 0.424 on every page)
    assert f"| knn_accuracy | {card['metrics']['knn_accuracy']:.3f} |" in md
    assert f"| train | {card['durations_s']['train_seconds']:,.1f} |" in md
    assert f"| effective_rank | {card['metrics']['effective_rank']:.1f} |" in md
    assert "| data_dir | – |" in md and "None" not in md  # a default, not Python's None
    # what the collapse measures were read on: a review's embedding_std of embeddings.npz was not the card's
    assert "`embedding_std` and `embedding_dim` are read on the method's embedding (its projector's output" in md

    emb = np.load(f"{run['run_dir']}/embeddings.npy")
    z = np.load(out / "embeddings.npz")
    assert z["embeddings"].shape == emb.shape and np.allclose(z["embeddings"], emb)
    assert len(z["label"]) == len(emb) and set(z["split"]) == {"train", "test"}
    with open(out / "embeddings.csv") as f:
        rows = list(csv.reader(f))
    assert len(rows) == len(emb) + 1 and len(rows[1]) == len(rows[0])
    assert rows[0][:4] == ["row", "split", "label", "label_name"] and f"f{emb.shape[1] - 1}" == rows[0][-1]
    # the trained weights and the config, without the optimiser's moments (two thirds of the run's file)
    import torch
    from safetensors.torch import load_file

    from ssrl_core.checkpoint import read_meta

    ours, theirs = load_file(out / "checkpoint.safetensors"), load_file(f"{run['run_dir']}/checkpoint.safetensors")
    assert ours.keys() == {k for k in theirs if k.startswith("model.")} and all(torch.equal(v, theirs[k])
                                                                                  for k, v in ours.items())
    assert read_meta(out / "checkpoint.safetensors") == read_meta(Path(run["run_dir"]) / "checkpoint.safetensors")
    assert (out / "checkpoint.safetensors").stat().st_size < Path(run["run_dir"], "checkpoint.safetensors").stat().st_size / 2
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "map.html").read_text()
    assert "Scattergl" in html or "scattergl" in html
    assert "<script src=" not in html and "plotly.js v" in html  # plotly.js inlined: opens offline

    # on a CPU the thread count it trained with (another one gives numbers about a point apart), which the card says
    threads = run["summary"]["train_threads"]
    assert threads == card["trained_on"]["train_threads"] and len(threads) == 1 and threads[0] >= 1
    env, *argv = shlex.split(card["reproduce"])
    assert env == f"OMP_NUM_THREADS={threads[0]}" and argv[:4] == ["python", "-m", "ssrl_core", "train"]
    assert f"trained with {threads[0]} CPU thread" in md
    # a folder of the run's own: two cards' commands one after the other both wrote runs/reproduced
    assert argv[argv.index("--out") + 1] == f"runs/reproduced-{rid}"
    args = cli.build_parser().parse_args(argv[3:])
    from ssrl_core.pretext import check_options

    # every field as the run had it, and every option spelled out, defaults included; the device and
    # precision it trained with, not auto (on a colleague's GPU auto trains another way)
    trained = card["trained_on"]
    assert cfg["device"] == cfg["precision"] == "auto" and trained["device"] == "cpu" and trained["precision"]
    assert cli._config(args)[0].to_dict() == {**cfg, "options": check_options(cfg["method"], cfg["options"]),
                                           "device": trained["device"], "precision": trained["precision"]}
    script = (out / "reproduce.sh").read_text().splitlines()
    assert script[-3].startswith("# device and precision as the run trained") and script[-1] == card["reproduce"]
    assert script[-2].startswith(f"# trained with {threads[0]} CPU thread")
    assert "run_dir" not in card and run["run_dir"] not in (out / "run_card.json").read_text()  # the server's path


def test_export_reproduces_method_options(tmp_path):
    from ssrl_core.runs.export import reproduce_command

    cfg = RunConfig(dataset="shapes", method="simclr", augment="crop,color_jitter", options={"temperature": 0.2},
                    weight_decay=0.0, seed=7, evaluation="basic")
    args = cli.build_parser().parse_args(shlex.split(reproduce_command(cfg))[3:])
    # the command pins the batch size the run used (the dataset's default) and every option,
    # so a later change of a default does not change the reproduced run
    assert cli._config(args)[0].to_dict() == {**cfg.to_dict(), "batch_size": 128,
                                           "options": {"temperature": 0.2, "proj_dim": 128, "hidden_dim": 512}}


def test_the_reproduce_command_sets_the_cpu_threads_only_where_the_run_kept_one_count():
    """OMP_NUM_THREADS=N before the command where the run trained on a CPU at N threads all
    along; a run whose threads changed midway (a probe job beside it) or trained on a GPU gets
    none (its first count would claim a setting it did not train at throughout)."""
    from ssrl_core.runs.export import reproduce_command, threads_note

    cfg = RunConfig(dataset="digits", method="random", epochs=0)
    cpu = {"device": "cpu", "precision": "fp32"}
    assert reproduce_command(cfg, trained_on={**cpu, "train_threads": [2]}).startswith(
        "OMP_NUM_THREADS=2 python -m ssrl_core train ")
    changed = {**cpu, "train_threads": [2, 1]}
    assert reproduce_command(cfg, trained_on=changed).startswith("python -m ssrl_core train ")
    assert threads_note(changed).startswith("trained with 2 then 1 CPU threads")
    assert "OMP_NUM_THREADS" not in reproduce_command(cfg, trained_on={"device": "cuda", "precision": "fp32",
                                                                        "train_threads": [2]})


def test_export_of_a_bad_run_is_an_error_with_exit_2(tmp_path, capsys):
    assert cli.main(["export", "--run", "no-such-run", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: 'no-such-run' is neither a run folder nor a run id")
    (tmp_path / "empty").mkdir()  # a folder, mistaken for a run's: said as such
    assert cli.main(["export", "--run", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'empty'} holds no run (no checkpoint.safetensors): give a "
                                       "finished run's folder, or a run id (`python -m ssrl_core runs` lists them)\n")
    assert not (tmp_path / "o").exists()


# -- probe jobs ----------------------------------------------------------------------------

def test_one_click_computes_the_runs_in_one_job_and_the_server_caps_jobs(finished_run, monkeypatch):
    """Each probe job is a process that loads torch and a dataset (fine-tuning trains for
    minutes). One click on Evaluate started a process per run, and with SSRL_MAX_PROBE_JOBS
    reached it started some and told the user to click again for the others. One click now
    starts one job that computes the runs one after another; past the cap it starts none
    and says why and what to do."""
    from ssrl_core.evaluate import jobs
    from ssrl_core.runs import worker

    spawned = []
    monkeypatch.setattr(worker, "spawn_detached", lambda args, log, env=None: spawned.append(args))
    monkeypatch.setenv("SSRL_MAX_PROBE_JOBS", "1")
    a, b = finished_run("simclr", references=False), finished_run("simclr", references=False)  # both lack their
    # untrained encoder's readouts
    store = RunStore()
    dirs = [store.get(a)["run_dir"], store.get(b)["run_dir"]]
    other = jobs._jobs_dir() / "someone-else.pending"  # a job a classmate started a moment ago
    other.touch()
    at = open_page("evaluate", runs=f"{a},{b}")
    assert f"simclr ({a[-4:]}) and simclr ({b[-4:]}) lack probes" in warnings(at)
    at.button(key="eval_probe_missing").click().run()
    assert not spawned
    assert ("Not started: 1 probe job already runs on this server, the most it runs at once (SSRL_MAX_PROBE_JOBS). "
            "Click again in a few minutes, when one is done.") in warnings(at)

    other.unlink()
    at.button(key="eval_probe_missing").click().run()
    [args] = spawned  # one process for both runs
    assert args[:2] == ["-m", "ssrl_core.evaluate.jobs"] and sorted(args[2:4]) == sorted(dirs)
    assert "--finetune" not in args and any(x.startswith("--who=guest-") for x in args)
    assert jobs.running() == 1  # the job counts from the click, before its process has started
    assert "lack probes" not in warnings(at)  # both are being computed: no second button
    assert "starting" in captions(at)


def test_the_live_panel_tells_a_screen_reader_each_runs_step_not_its_loss():
    """The panel's changes were told to no one; its loss, speed and ETA change every 2 s and would
    be read out as often: a polite live region says each run's place in line or step."""
    store = RunStore()
    training = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    store.submit(RunConfig(dataset="digits", method="byol", epochs=5, seed=1), nickname="ada")  # waits behind it
    store.claim("w")  # the older one: simclr
    store.record(training, {"kind": "epoch_end", "epoch": 2, "epochs": 5, "loss": 1.0}, worker="w")
    at = open_page("pretrain", who="ada")
    [region] = [m.value for m in at.markdown if "aria-live" in m.value]
    assert 'aria-live="polite"' in region and "training, epoch 3/5" in region and "queued, next in line" in region  # (as its card says)
    assert "loss" not in region and "img/s" not in region
    # the same region when nothing trains: the last run's end is told as a change of it, not by its going
    for rid in (training, store.claim("w")["id"]):
        store.finish(rid, "cancelled", error="stopped", worker="w")
    at.run()
    [region] = [m.value for m in at.markdown if "aria-live" in m.value]
    assert region.endswith(">Nothing is training right now.</div>")


def test_the_gallery_ranks_runs_within_each_dataset_never_across(finished_run):
    """Sorted by kNN with every dataset shown, digits runs (0.93) stood above every shapes run
    (0.41), as if better: accuracies on different sets do not compare. Best first within each
    set, the set of the newest run first, said in a caption."""
    a, b = finished_run("simclr"), finished_run("rotation")
    shapes = finished_run("shapes-simclr")  # the newest run
    at = open_page("gallery", sort="knn")
    order = [c.key.removeprefix("gal_tick_") for c in at.checkbox]
    assert order[0] == shapes and set(order[1:]) == {a, b}
    knn = [RunStore().get(r)["summary"]["knn_accuracy"] for r in order[1:]]
    assert knn == sorted(knn, reverse=True)
    assert "Best first within each dataset (shapes, digits): accuracies on different datasets do not compare." in \
        [c.value for c in at.caption]
    at.selectbox(key="gal_dataset").select("digits").run()  # one set: ranked as it was, no caption
    assert [c.key.removeprefix("gal_tick_") for c in at.checkbox] == order[1:]
    assert not [c for c in at.caption if "within each dataset" in c.value]


def test_the_gallery_sorted_by_accuracy_puts_a_run_without_one_last(finished_run):
    # a run with no kNN accuracy (its evaluation wrote none) is not the best: last, though it is the newest
    a, b = finished_run("simclr"), finished_run("rotation")
    store = RunStore()
    unscored = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1))
    store.claim("test")
    finish_done(store, unscored, summary={"epochs": 1})
    order = [c.key.removeprefix("gal_tick_") for c in open_page("gallery", sort="knn").checkbox]
    assert order[-1] == unscored and set(order) == {a, b, unscored}, order
    assert [c.key.removeprefix("gal_tick_") for c in open_page("gallery").checkbox][0] == unscored  # newest first



def test_a_run_that_ended_over_a_quarter_hour_ago_is_not_announced_again():
    """A failure is said for 15 minutes after the run ended, not on every later visit."""
    import contextlib
    import sqlite3

    store = RunStore()
    old = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5), nickname="ada")
    new = store.submit(RunConfig(dataset="digits", method="byol", epochs=5), nickname="ada")
    for r in (old, new):
        store.claim("host:1:0")
        store.finish(r, "failed", error=f"diverged: run {r}")
    with contextlib.closing(sqlite3.connect(store.path)) as c, c:  # (closed, not only committed)
        c.execute("UPDATE runs SET finished=? WHERE id=?", (store.get(old)["finished"] - 20 * 60, old))
    at = open_page("pretrain", who="ada")
    [err] = at.error
    assert f"diverged: run {new}" in err.value


def test_the_launch_again_box_names_runs_of_one_method_by_what_tells_them_apart():
    """Pretrain's "Launch a run again" box: two SimCLR runs, with and without colour jitter, read
    alike but for their ids (which a phone's box cut)."""
    store = RunStore()
    jitter = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5, augment="crop,flip,color_jitter"))
    plain = store.submit(RunConfig(dataset="digits", method="simclr", epochs=5, augment="crop,flip"))
    at = open_page("pretrain")
    assert at.selectbox(key="pt_again_pick").options == [
        f"simclr · aug: crop,flip · digits · 5 ep · {plain} — queued",
        f"simclr · aug: crop,flip,color_jitter · digits · 5 ep · {jitter} — queued"]
