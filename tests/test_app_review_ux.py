"""A first-time user's and a teacher's flows through the app: what a page says while runs
are queued or training, where a step leads next, what survives a reload."""
import re

from app.text import quiet_icon
from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore

from .conftest import finish_done
from .test_app import open_page


def test_results_pages_name_the_run_in_training_instead_of_saying_to_launch_one():
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=10), nickname="ada")
    store.claim("w")
    store.record(rid, {"kind": "step", "epoch": 2, "epochs": 10, "step": 10, "total_steps": 440, "loss": 3.0,
                       "images_per_s": 900.0, "eta_s": 60.0})
    store.record(rid, {"kind": "epoch_end", "epoch": 2, "epochs": 10, "loss": 2.75})
    for page in ("explore", "evaluate", "invariance", "gallery", "compare"):
        at = open_page(page, who="ada")
        [info] = at.info
        assert "Launch" not in info.value, (page, info.value)  # the student has launched: it is training
        assert "simclr · digits" in info.value and "yours, training, epoch 3/10" in info.value, (page, info.value)
        assert "updates by itself" in info.value
    store.finish(rid, "cancelled", error="cancelled by ada")
    at = open_page("explore", who="ada")  # nothing active any more: the usual advice
    assert "No finished runs yet. Launch one on the Pretrain page" in at.info[0].value


def test_compare_with_one_finished_run_counts_the_one_in_training(finished_run):
    finished_run("simclr")
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="rotation", epochs=3), nickname="bo")
    at = open_page("compare", who="ada")
    [info] = at.info
    assert "1 of the 2 finished runs" in info.value and "rotation · digits" in info.value
    assert "by bo, queued" in info.value


def test_an_import_leads_on_to_pretraining_on_it_and_offers_no_replacement_of_itself(tmp_path):
    from .test_classroom import page_links
    from .test_import_images import make_zip, png

    archive = make_zip(tmp_path / "pets.zip", {"cat/1.png": png(), "cat/2.png": png(),
                                               "dog/1.png": png((0, 0, 255))}).read_bytes()
    at = open_page("data")
    at.file_uploader(key="data_upload").set_value(("pets.zip", archive, "application/zip")).run()
    assert not at.checkbox  # a new name: nothing to replace
    at.button(key="data_import").click().run()
    assert "Imported **pets**" in at.success[0].value
    assert ("pretrain", "dataset=pets") in page_links(at)  # the next step, with the set chosen
    # right after the import, the page did not ask whether to replace the set it has just made,
    # and the same archive cannot be imported again by a second click (it became 'pets-2')
    assert not at.checkbox and at.button(key="data_import").disabled
    at.text_input(key="data_import_name").input("pets").run()  # any rerun: still the set just made
    assert not at.checkbox
    at.text_input(key="data_import_name").input("pets-bis").run()  # another name: importable again
    assert not at.button(key="data_import").disabled
    at.text_input(key="data_import_name").input("pets").run()
    assert at.button(key="data_import").disabled


def test_explore_keeps_a_run_whose_probes_are_computed_and_says_it_is_still_evaluating(finished_run):
    from pathlib import Path

    rid = finished_run("simclr")
    store = RunStore()
    run_dir = Path(store.get(rid)["run_dir"])
    from ssrl_core.evaluate.epochs import MAPS, SNAPSHOTS

    (run_dir / "map_umap.npy").unlink()
    (run_dir / SNAPSHOTS / MAPS).unlink()  # the frames are laid out last
    for phase, said in (("umap", "the UMAP map"), ("probes: kNN and label efficiency", "kNN and label efficiency"),
                        ("map evolution", "the maps of earlier epochs")):
        with store._conn() as c:  # as the worker leaves it after its accuracies and PCA map
            c.execute("UPDATE runs SET status='running', phase=?, summary=NULL WHERE id=?", (phase, rid))
        at = open_page("explore", run=rid)
        # the map stays on screen through the probes (it vanished after the UMAP: "No finished runs yet")
        assert not at.info and at.get("plotly_chart"), (phase, [i.value for i in at.info])
        note = " ".join(c.value for c in at.caption)
        assert f"Still evaluating ({said})" in note and "updates by itself" in note  # in words, not the code's
        assert "when it is done" in note and "finished before they were recorded" not in note


def test_start_says_what_a_first_run_waits_for_and_offers_the_one_already_finished():
    from .test_classroom import page_links

    store = RunStore()
    quick = RunConfig(dataset="digits", method="simclr", epochs=10)
    at = open_page()
    assert "queued or training" not in " ".join(c.value for c in at.caption)
    assert not [p for p in page_links(at) if p[0] == "explore" and "run=" in p[1]]
    done = store.submit(quick, nickname="bo")  # a classmate's, finished
    store.claim("w")
    store.finish(done, "done", summary={"knn_accuracy": 0.955})
    for n in range(3):  # and three runs ahead in the queue
        store.submit(RunConfig(dataset="digits", method="rotation", epochs=10, seed=n), nickname="cy")
    at = open_page()
    assert "3 runs are queued or training" in " ".join(c.value for c in at.caption)
    assert ("explore", f"run={done}") in page_links(at)
    # the sentence wraps in a caption; the link's label, one line, is short enough not to be cut
    assert f"Run {done} with these very settings and seed has finished (they give the same result)." in \
        " ".join(c.value for c in at.caption)


def test_a_classmates_identical_run_in_the_queue_is_offered_before_queueing_another():
    """Thirty students press the same first-run button: each got an identical run queued behind
    the others'. A classmate's run with the very settings and seed, queued or training, is said
    on Start (with a link to watch it) and above Launch; one's own is left to Launch to say."""
    from .test_classroom import page_links

    store = RunStore()
    quick = RunConfig(dataset="digits", method="simclr", epochs=10)
    theirs = store.submit(quick, nickname="bo")
    at = open_page(who="ada")
    said = f"Run {theirs}, **bo**'s, with these very settings and seed is queued: its result will be the one yours " \
           "would give, and before yours."
    assert said in " ".join(c.value for c in at.caption)
    assert any(p[0] == "pretrain" for p in page_links(at))
    store.claim("w")
    at = open_page("pretrain", who="ada", method="simclr", epochs="10")
    assert f"Run {theirs}, **bo**'s, with these very settings and seed is training now" in \
        " ".join(c.value for c in at.caption) and "Launch would train it again." in " ".join(c.value for c in at.caption)
    assert not [c for c in open_page(who="bo").caption if "these very settings" in c.value]  # bo's own
    assert not [c for c in open_page("pretrain", who="ada", method="simclr", epochs="10", seed="1").caption  # another seed
                if "these very settings" in c.value]


def test_lessons_give_the_teacher_the_class_link_without_their_nickname():
    from ssrl_core.lessons import load_by_name

    at = open_page("lessons", who="teacher")
    link = at.code[0].value
    assert link.endswith("/lessons?lesson=four-families&hide=controls,nav") and "who=" not in link
    assert at.code[0].proto.wrap_lines  # whole on a phone (cut at 358 of 603 px), where no mouse shows the copy button
    at.radio(key="lesson_pick").set_value("collapse").run()
    assert at.code[0].value.endswith("?lesson=collapse&hide=controls,nav")
    at = open_page("lessons", lesson="collapse", hide="controls,nav")  # the class's page: no link to share
    assert not at.code
    # the run names its checks and charts use, spelled out (the runs table, which says it, is hidden here)
    assert "**no-stop-gradient**: stop_gradient=false, predictor=true" in " ".join(c.value for c in at.caption)
    # the words a student may not know, said: those this lesson uses, not every one
    at = open_page("lessons", lesson="contrastive-knobs", hide="controls,nav")
    words = next(e for e in at.expander if e.label.startswith("Words used in this lesson"))
    said = " ".join(m.value for m in words.markdown)
    assert "- **softmax**: turns a list of scores into chances" in said and "**anchor**" in said
    assert "**stop-gradient**" not in said
    for typed in ("four_families", "Four-Families"):  # a link typed by hand: the one lesson it means, not a dead end
        at = open_page("lessons", lesson=typed, hide="controls,nav" if typed.islower() else "CONTROLS,Nav")
        assert not at.warning and not [i for i in at.info if "link" in i.value]
        assert at.header[0].value == load_by_name("four-families").title


def test_a_class_link_on_this_computers_address_says_what_to_change():
    """The warning under a class link opened on the teacher's own computer: IPv6's loopback ([::1]) was
    read as the host "[" and not warned of; through a tunnel the port is the tunnel's, so it says the
    port may need changing too."""
    from app.lessons import this_computer

    for url, host in (("http://localhost:8732/lessons", "localhost"), ("http://[::1]:8730/lessons", "[::1]"),
                      ("http://127.0.0.1:8501/lessons", "127.0.0.1"), ("http://0.0.0.0:8501/lessons", "0.0.0.0")):
        said = this_computer(url)
        assert said.startswith(f"`{host}` means this computer. For the students' computers, put the server's "
                               "name or address in its place.") and "is the port this browser used: if that " \
            "was a tunnel or a forwarded port, put the port the server itself listens on." in said
    assert this_computer("http://localhost/lessons").endswith("name or address in its place.")
    assert this_computer("http://[::ffff:127.0.0.1]:8501/").startswith("`[::ffff:127.0.0.1]` means this computer")
    assert this_computer("http://localhost.:8501/").startswith("`localhost.` means this computer")
    for url in ("https://hub.example.edu/user/ada/proxy/8501/lessons", "http://10.0.0.5:8501/lessons", "",
                "/lessons", "http://localhost:port/lessons", "http://127.example.edu:8501/lessons",
                "http://127.0.0.1.nip.io/"):
        assert this_computer(url) is None, url


def test_lessons_hiding_controls_without_a_lesson_keeps_the_picker_and_shows_the_lesson_picked():
    # ``lesson=`` written by the picker made the next rerun a class's locked link: the picker gone, the first lesson
    # kept whatever was picked, and the teacher's box shown to students on the first render
    from ssrl_core.lessons import load_by_name
    at = open_page("lessons", hide="controls")
    assert at.radio(key="lesson_pick") and not at.code  # no class link for a page that names no lesson
    at.run()
    at.radio(key="lesson_pick").set_value("collapse").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.header[0].value == load_by_name("collapse").title
    assert at.radio(key="lesson_pick").value == "collapse" and not at.code
    assert "lesson" not in at.query_params  # the address stays the link as opened
    at.run()
    assert at.radio(key="lesson_pick").value == "collapse" and at.header[0].value == load_by_name("collapse").title


def test_pretrain_keeps_its_form_when_the_student_visits_another_page_and_comes_back():
    at = open_page("pretrain", who="ada")
    at.selectbox(key="pt_method").select("rotation").run()
    at.number_input(key="pt_epochs").set_value(3).run()
    at.switch_page("../pages/augment.py").run()  # a look at the augmentations, from the sidebar
    assert at.title[0].value == "Augment"
    for k in list(at.query_params):  # the sidebar's link carries the nickname only
        if k != "who":
            del at.query_params[k]
    at.switch_page("../pages/pretrain.py").run()
    assert not at.exception
    assert at.selectbox(key="pt_method").value == "rotation" and at.number_input(key="pt_epochs").value == 3
    at.button(key="pt_launch").click().run()
    [run] = RunStore().list()
    assert (run["method"], run["epochs"]) == ("rotation", 3)


def test_start_leads_a_newcomer_to_the_lessons_learn_and_the_gallery_too():
    from .test_classroom import page_links

    at = open_page()
    linked = {p for p, _ in page_links(at)}
    assert {"lessons", "learn", "gallery"} <= linked  # the teaching pages, not only the tools
    # each label one line on a phone (a link's label does not wrap: "Read how the four families … with p…" was cut)
    labels = [el.proto.label for el in at.get("page_link")]
    assert labels and all(len(label) <= 36 for label in labels), labels


def test_explore_reached_from_the_sidebar_opens_the_newest_run_not_the_one_seen_before(finished_run):
    old = finished_run("random")
    at = open_page("explore", who="ada", run=old)
    assert at.query_params["run"] == [old] or at.query_params["run"] == old
    at.switch_page("../pages/pretrain.py").run()
    new = finished_run("simclr")  # finished meanwhile
    for k in list(at.query_params):
        if k != "who":
            del at.query_params[k]
    at.switch_page("../pages/explore.py").run()
    assert at.selectbox(key="explore_run").value == new


def test_a_button_that_opens_another_page_keeps_the_nickname_typed_in_the_sidebar():
    """Start's quick start (and Explore's "Train it again with changes") open Pretrain with
    st.switch_page, which drops every widget's state on a change of page: the sidebar's
    nickname box came back as the session's guest name, so the student's run, launched as
    ada, was no longer theirs on Pretrain, and the next one was launched as the guest."""
    at = open_page()
    at.text_input(key="nickname").set_value("ada").run()
    at.button(key="quick_start").click().run()
    assert not at.exception and at.title[0].value == "Pretrain"
    [run] = RunStore().list()
    assert run["nickname"] == "ada"
    assert at.text_input(key="nickname").value == "ada"
    assert "who" not in at.query_params  # the browser keeps it, not the address
    assert at.button(key=f"cancel_{run['id']}").label == "Cancel"  # hers: no "Cancel…" asking whose it is


def test_explore_says_when_the_run_it_showed_was_deleted_meanwhile(finished_run):
    """A student looks at a run; the teacher deletes it from another tab. The student's next
    click (say, Random image) showed another run's map without a word, or at most with a
    warning that blamed "the link" and vanished with the click's own rerun."""
    from ssrl_core.runs.remove import delete_run

    old, new = finished_run("random"), finished_run("random")
    at = open_page("explore", who="ada", run=old)
    assert at.selectbox(key="explore_run").value == old and not at.warning
    delete_run(RunStore(), old)
    at.button(key="explore_random").click().run()
    assert not at.exception and at.selectbox(key="explore_run").value == new
    [note] = [w.value for w in at.warning]
    assert f"Run {old}, shown here until now, is gone (deleted)" in note and "link" not in note
    at.button(key="explore_random").click().run()  # still said on the next click, until another run is picked
    assert any(old in w.value for w in at.warning)


def test_a_click_in_a_tab_whose_runs_were_deleted_meanwhile_is_not_done_on_other_runs(finished_run):
    """A teacher deletes runs from the command line while a student's tab shows them: the tab's
    next click was done on the newest runs, which nobody picked: Explore's "Prepare the export"
    wrote another run's export, Evaluate's "Compute fine-tuning" started a job on the newest
    four (a review of several tabs at once)."""
    from pathlib import Path

    from ssrl_core.paths import ssrl_home
    from ssrl_core.runs.remove import delete_run

    old, new = finished_run("simclr"), finished_run("simclr")
    at = open_page("explore", run=old, image="5")
    delete_run(RunStore(), old)
    at.button(key="explore_export").click().run()
    assert not at.exception and at.selectbox(key="explore_run").value == new
    assert not (ssrl_home() / "exports").exists() or not any((ssrl_home() / "exports").iterdir())
    assert any(w.value.endswith("this is the newest run instead; a click meant for a run that is gone is not carried "
                                "out on another.") for w in at.warning), [w.value for w in at.warning]
    assert "image" not in at.query_params  # the gone run's image number is not taken for one of the newest
    at.button(key="explore_random").click().run()  # a click on the run shown now is carried out
    assert "image" in at.query_params

    other = finished_run("simclr")
    at = open_page("evaluate", runs=other)
    assert at.multiselect(key="eval_runs").value == [other]
    delete_run(RunStore(), other)
    at.button(key="eval_finetune").click().run()
    assert not at.exception
    assert not [p for p in Path(RunStore().get(new)["run_dir"]).iterdir() if p.name.startswith("probe_job")]
    assert any(w.value.startswith(f"Run {other}, picked here, is gone (deleted, from another tab or the command "
                                  "line): pick the runs to show in the box; a click meant for a run that is gone")
               for w in at.warning), [w.value for w in at.warning]
    # none is picked in its place: a click a moment after the redraw found the newest four ready for a fine-tuning job
    assert at.multiselect(key="eval_runs").value == [] and "eval_finetune" not in {b.key for b in at.button}
    assert any(i.value == "Pick runs to compare." for i in at.info)


def test_pretrain_links_a_finished_run_with_the_forms_very_settings():
    """Launching a copy of a finished run trains the same result again: the form says so,
    with a link to that run, and Launch still queues it (say, to watch it train)."""
    from .test_classroom import page_links

    store = RunStore()
    done = store.submit(RunConfig(dataset="digits", method="rotation", epochs=2), nickname="bo")
    store.claim("w")
    store.finish(done, "done", summary={"knn_accuracy": 0.9})
    at = open_page("pretrain", method="rotation", epochs="2")
    assert ("explore", f"run={done}") in page_links(at)
    at = open_page("pretrain", method="rotation", epochs="2", seed="1")  # another seed: another result
    assert not [p for p in page_links(at) if p[0] == "explore"]


def test_compare_says_why_a_linked_run_is_missing_when_too_few_are_left():
    """?runs=A,B with B deleted since and A the only finished run: the page needs two, and
    says what became of B instead of only asking for another run."""
    store = RunStore()
    a = store.submit(RunConfig(dataset="digits", method="random", epochs=0))
    store.claim("w")
    finish_done(store, a, summary={})
    at = open_page("compare", runs=f"{a},20260101-000000-dead")
    said = " ".join(w.value for w in at.warning)
    assert "20260101-000000-dead" in said and "deleted since" in said and a not in said
    assert "needs 2 finished runs" in " ".join(i.value for i in at.info)
    # a link of 3,000 unknown ids (a security review's): 8.6 s and a warning of 3,000 parts; read up to 100, 5 named
    many = ",".join([a] + [f"20260101-000000-{i:04d}" for i in range(3000)])
    said = [w.value for w in open_page("compare", runs=many).warning]
    assert len(said) == 6 and said[-1] == ("The link names 2,995 more runs this page cannot show or did not read (a link is "
                                           "read up to 100).")  # 94 unknown and 2,901 unread: not the run it shows
    b = store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=1))  # two finished: the comparison
    store.claim("w")
    finish_done(store, b, summary={})
    [said] = [w.value for w in open_page("compare", runs=many).warning if "Ignored part of" in w.value]
    assert said.count("no run has that id") == 5 and "and 94 more; 2,901 more not read (a link is read up to 100)" \
        in said, said


def test_zero_epochs_says_the_run_is_the_untrained_encoder():
    """A new user typed 0 epochs and got a "simclr" run scoring exactly the untrained encoder's
    kNN, with nothing said: the form says what 0 epochs gives, for every method but random."""
    said = lambda at: " ".join(c.value for c in at.caption)  # noqa: E731
    at = open_page("pretrain", epochs="0")
    assert not at.exception and "0 epochs trains nothing: the run measures the untrained encoder" in said(at)
    assert "listed as simclr" in said(at)
    assert "0 epochs trains nothing" not in said(open_page("pretrain", epochs="1"))
    assert "0 epochs trains nothing" not in said(open_page("pretrain", epochs="0", method="random"))
    # random at 1 epoch: every page after said "0 epochs" (a homework review); the form says so first
    random = said(open_page("pretrain", epochs="1", method="random"))
    assert "`random` trains nothing: it is the untrained encoder of this seed, recorded with 0 epochs" in random
    assert "trains nothing: it is the untrained" not in said(open_page("pretrain", epochs="1"))


def _finish_later(_prepared_runs, name: str) -> tuple[str, callable]:
    """A run submitted and training now (claimed); the returned function finishes it, with the
    folder a worker would have written."""
    import shutil
    from pathlib import Path

    cfg, folder, summary = _prepared_runs(name)
    store = RunStore()
    rid = store.submit(cfg)
    assert store.claim("w")["id"] == rid

    def finish():
        shutil.copytree(folder, Path(store.get(rid)["run_dir"]), dirs_exist_ok=True)
        store.finish(rid, "done", summary=summary)
    return rid, finish


def test_a_link_to_a_run_still_training_shows_it_once_it_is_done(finished_run, _prepared_runs):
    """A student opened a classmate's Explore link while the run trained: the page showed
    another run's map and kept it after the linked one was done. It waits for it now."""
    a = finished_run("simclr")
    c, finish = _finish_later(_prepared_runs, "rotation")
    at = open_page("explore", run=c)
    assert at.selectbox(key="explore_run").value == a  # meanwhile: the newest finished run
    assert (f"Waiting for {c}, which the link names: it is still running. This page shows it when it is done; "
            "meanwhile, the newest finished run.") in " ".join(x.value for x in at.caption)
    # said once: a warning beside it called the link's run "ignored", "using" another "instead"
    assert not at.warning
    at.run()  # (the page's own 3 s poll reruns it too)
    assert at.selectbox(key="explore_run").value == a
    finish()
    at.run()
    assert at.selectbox(key="explore_run").value == c and at.query_params["run"] == c
    assert f"The run the link names is done and shown now: {c}." in [s.value for s in at.success]
    at.run()
    assert not at.success and "Waiting for" not in " ".join(x.value for x in at.caption)


def test_a_link_to_runs_still_training_adds_them_once_done_unless_the_pick_changed(finished_run, _prepared_runs):
    a, b = finished_run("simclr"), finished_run("inpainting")
    c, finish = _finish_later(_prepared_runs, "rotation")
    at = open_page("compare", runs=f"{a},{b},{c}")
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted([a, b])
    assert not at.warning and "meanwhile, the other runs picked." in " ".join(x.value for x in at.caption)
    finish()
    at.run()
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted([a, b, c])
    d, finish_d = _finish_later(_prepared_runs, "rotation")
    at = open_page("compare", runs=f"{a},{b},{d}")
    at.multiselect(key="cmp_runs").unselect(b).run()  # the student chose what to compare meanwhile
    finish_d()
    at.run()
    assert at.multiselect(key="cmp_runs").value == [a]


def test_pretrain_says_what_a_run_will_take_before_launch_from_runs_like_it(finished_run):
    """A teacher timing a class saw no estimate before Launch, though identical runs had
    finished here; the ETA only came once the run trained."""
    said = lambda at: " ".join(c.value for c in at.caption)  # noqa: E731
    at = open_page("pretrain", dataset="digits", method="simclr", epochs="1", batch="256")
    assert "on this machine, training and evaluation" not in said(at)  # no run like it has finished: said why
    assert "No time estimate yet: none is guessed until a run like this one (the same dataset, method, encoder and " \
        "evaluation, the same method options that change an epoch's work, and on a GPU batch size) has finished on " \
        "this machine." in said(at)
    finished_run("simclr")  # digits, SimCLR, 1 epoch, batch 256
    at.run()
    # (its words hang on how long the prepared run took: over a minute on a 2-core machine busy with other work)
    assert re.search(r"Takes (less than a minute|about \d+ min) on this machine, training and evaluation, estimated "
                     r"from the runs like it that finished here", said(at))
    [epochs] = [n for n in at.number_input if n.label == "Epochs"]
    epochs.set_value(400).run()  # its seconds per epoch times 400: minutes
    assert re.search(r"Takes about \d+ min on this machine", said(at))
    # said under Launch, and not once a run was launched: above it, with the launched note, it pushed the run's
    # Cancel off a 1280x720 projector's first screen
    at.button(key="pt_launch").click().run()
    assert "Takes about" not in said(at) and "No time estimate yet" not in said(at)
    store = RunStore()
    [queued] = store.list(("queued",))
    store.request_cancel(queued["id"])  # it ended: the next run's cost is said again
    at.run()
    assert re.search(r"Takes about \d+ min on this machine", said(at))


def test_every_page_explains_its_words_in_the_sidebar(finished_run):
    """A newcomer read kNN, linear probe, effective rank, UMAP and fine-tuning unexplained on
    every page but a lesson's, whose box of words was the only one: each page's sidebar has a
    closed box of the words it uses, from the same glossary as the lessons'."""
    from app.glossary import PAGE_WORDS, page_words

    finished_run("simclr")
    for page, must, not_here in (("explore", ("UMAP map", "kNN accuracy", "cosine similarity"), "fine-tuning"),
                                 ("evaluate", ("label efficiency", "fine-tuning", "untrained network"), "UMAP map")):
        at = open_page(page)
        [box] = [e for e in at.sidebar.expander if e.label.startswith("Words on this page")]
        said = " ".join(m.value for m in box.markdown)
        assert box.label == f"Words on this page ({len(PAGE_WORDS[page])})"
        assert all(f"- **{w}**: " in said for w in must) and f"**{not_here}**" not in said, said
    home = open_page()
    assert [e.label for e in home.sidebar.expander] == [f"Words on this page ({len(page_words(''))})"]
    # every word a page names is in the glossary (a typo would drop it without a word)
    from app.glossary import MEANING

    assert {w for words in PAGE_WORDS.values() for w in words} <= set(MEANING)


def test_a_page_without_words_of_its_own_has_no_box_of_another_pages_words():
    # Data names no glossary word of its own: no box, rather than the Start page's words
    assert not [e.label for e in open_page("data").sidebar.expander if e.label.startswith("Words on this page")]


def test_start_counts_a_single_run_ahead_in_the_singular():
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="rotation", epochs=10), nickname="cy")
    at = open_page()
    assert f"{quiet_icon('hourglass_top')} 1 run is queued or training on this server now; " in \
        " ".join(c.value for c in at.caption)



def test_a_comparisons_address_names_its_runs_even_when_they_are_the_newest(finished_run):
    """The address left out runs= while they were the newest (the default): a teacher's copied
    link showed other runs once new ones finished, or after one was deleted, without a word."""
    a, b = finished_run("simclr"), finished_run("simclr")
    for page, key in (("compare", "cmp_runs"), ("evaluate", "eval_runs")):
        at = open_page(page)
        picked = at.multiselect(key=key).value
        assert set(picked) == {a, b} and at.query_params["runs"] in (",".join(picked), [",".join(picked)]), page
    at = open_page("compare", runs=a, hide="controls")  # a class's link naming one run: no box to pick in
    assert not at.exception and any("The link names fewer than two runs" in i.value for i in at.info)


def test_a_links_value_is_the_one_option_it_plainly_means():
    from app.urlstate import loose

    assert loose("mia", ["Mia", "Bo"]) == "Mia" and loose("four_families", ["four-families", "collapse"]) == "four-families"
    assert loose("mia", ["Mia Chen", "Bo"]) is None  # a name's first word is not the name (a browser review)
    assert loose("knn", ["newest", "kNN accuracy", "linear accuracy"], first_word=True) == "kNN accuracy"
    assert loose("ada", ["Ada", "ADA"]) is None and loose("  ", ["a"]) is None  # two it could mean, or nothing


def _fake_streamlit(params: dict):
    """``urlstate``'s view of Streamlit, as a page at an address with ``params`` sees it."""
    from types import SimpleNamespace

    class Params(dict):
        def to_dict(self):
            return dict(self)

    return SimpleNamespace(query_params=Params(params), session_state={}, warnings=[],
                           warning=lambda text, **kw: None)


def test_a_links_list_keeps_its_known_values_names_five_unknown_and_reads_a_hundred(monkeypatch):
    """?runs= with known and unknown ids: the known ones are used, up to 5 unknown ones are named
    and the rest counted, and a link of hundreds is read up to 100 values (a warning of 3,000
    parts took 8.6 s)."""
    from app import urlstate

    said = []
    fake = _fake_streamlit({"runs": "a, b,zz,a," + ",".join(f"x{i}" for i in range(200))})
    fake.warning = lambda text, **kw: said.append(text)
    monkeypatch.setattr(urlstate, "st", fake)
    assert urlstate.listed("runs")[:3] == ["a", "b", "zz"] and len(urlstate.listed("runs")) == 203  # each once
    assert urlstate.read("runs", urlstate.choices(["a", "b"]), []) == ["a", "b"]  # not the default: the part known
    [warning] = said
    assert warning.startswith("Ignored part of") and "zz: not one of a, b" in warning, warning
    assert "; and 93 more; 103 more not read (a link is read up to 100))" in warning, warning
    said.clear()
    fake.query_params["runs"] = "a,q1,q2,q3,q4,q5"  # five unknown: each named, no "and 0 more"
    assert urlstate.read("runs", urlstate.choices(["a", "b"]), []) == ["a"]
    [warning] = said
    assert "q5: not one of a, b" in warning and "more" not in warning, warning
    said.clear()
    fake.query_params["runs"] = "q1,q2"  # none known: the default, saying why
    assert urlstate.read("runs", urlstate.choices(["a", "b"]), ["b"]) == ["b"] and "using `b` instead" in said[0]


def test_a_links_number_at_either_end_of_its_range_is_used(monkeypatch):
    """?epochs=0 (the untrained encoder) and ?epochs=1000 are in range; ?epochs=1001 is not."""
    from app import urlstate

    fake = _fake_streamlit({"epochs": "0", "lr": "10"})
    monkeypatch.setattr(urlstate, "st", fake)
    assert urlstate.read("epochs", urlstate.integer(0, 1000), 10) == 0
    assert urlstate.read("lr", urlstate.number(1e-5, 10.0), 2e-3) == 10.0
    fake.query_params.update(epochs="1000", lr="0.00001")
    assert urlstate.read("epochs", urlstate.integer(0, 1000), 10) == 1000
    assert urlstate.read("lr", urlstate.number(1e-5, 10.0), 2e-3) == 1e-5
    fake.query_params["epochs"] = "1001"
    assert urlstate.read("epochs", urlstate.integer(0, 1000), 10) == 10


def test_a_page_comes_back_as_it_was_left_but_not_on_its_own_rerun(monkeypatch):
    """Pretrain set to shapes, Augment opened from the sidebar, then Pretrain again: its form is
    back at shapes. On Pretrain itself, an address with nothing of the page's own (its
    sidebar link clicked again) shows the defaults and is not refilled."""
    from app import urlstate

    fake = _fake_streamlit({"dataset": "shapes", "hide": "nav"})
    monkeypatch.setattr(urlstate, "st", fake)
    urlstate.remember("pretrain")
    assert urlstate.remembered("pretrain") == {"dataset": "shapes"}  # the teacher's hide is not the page's
    fake.query_params.clear()
    fake.query_params["hide"] = "nav"
    urlstate.restore("pretrain")  # the same page: left alone
    assert dict(fake.query_params) == {"hide": "nav"}
    urlstate.remember("augment")
    urlstate.restore("pretrain")  # back from Augment
    assert dict(fake.query_params) == {"hide": "nav", "dataset": "shapes"}


def test_the_first_worker_of_a_home_is_said_to_be_starting_not_to_have_stopped(ssrl_home):
    """A new home's first Pretrain view said "The worker stopped; a new one is starting",
    though no worker had ever run there: a first start says so."""
    from app import services
    from ssrl_core.runs import worker

    assert services.replacing_text().startswith("The worker is starting: the queue's runs begin in a few seconds (if "
                                                f"they do not, `{ssrl_home / 'worker-0.log'}` says why).")
    worker.code_file(0).write_text("host:1:0 abc\n")  # a worker held slot 0 once, and is gone
    assert services.replacing_text().startswith("The worker stopped; a new one is starting")


def test_explore_on_a_run_without_a_map_offers_to_launch_it_again(finished_run):
    """It said "Re-run it from the Pretrain page", where no button re-runs: a button here
    opens Pretrain with the run's settings."""
    from pathlib import Path

    from ssrl_core.runs.store import RunStore

    rid = finished_run("simclr")
    for name in ("map_umap.npy", "map_pca.npy"):  # an evaluation that ended before its maps were written
        (Path(RunStore().get(rid)["run_dir"]) / name).unlink(missing_ok=True)
    at = open_page("explore")
    assert [w.value for w in at.warning] == ["This run has no map: its map's files are missing (its evaluation "
                                             "stopped before writing them, or they were deleted). To get one, launch "
                                             "the run again: the button below opens Pretrain with its settings."]
    at.button(key="ex_again").click().run()
    assert not at.exception
    assert at.title[0].value == "Pretrain"
    assert at.selectbox(key="pt1_method").value == "simclr" and at.selectbox(key="pt1_dataset").value == "digits"


def test_evaluate_without_label_efficiency_results_says_what_brings_them(finished_run):
    """"No label-efficiency results for the chosen runs yet." said nothing of what to do."""
    from pathlib import Path

    from ssrl_core.runs.store import RunStore

    rid = finished_run("simclr")
    (Path(RunStore().get(rid)["run_dir"]) / "probes.json").unlink()  # as a run evaluated before these probes
    at = open_page("evaluate")
    assert "No label-efficiency results for the chosen runs yet: *Compute their probes* above computes them." in \
        [i.value for i in at.info]
    assert at.button(key="eval_probe_missing").label.startswith("Compute their probes")


def test_a_finished_twins_note_gives_way_to_the_run_launched_again(finished_run):
    """Launching a finished run's very settings again kept its note ("… has finished (they give the
    same result): Launch would train it again") above Launch, and the new run's Cancel fell below
    a 1280x720 screen's first view: the note is not drawn while that run is queued or training."""
    rid = finished_run("simclr")  # digits, SimCLR, 1 epoch, batch 256
    twin = "with these very settings and seed has finished"
    texts = lambda at: " ".join(e.value for e in (*at.markdown, *at.caption, *at.info, *at.warning))  # noqa: E731
    at = open_page("pretrain", dataset="digits", method="simclr", epochs="1", batch="256")
    assert twin in texts(at) and rid in texts(at)
    at.button(key="pt_launch").click().run()
    assert twin not in texts(at)
    [queued] = RunStore().list(("queued",))
    RunStore().request_cancel(queued["id"])
    at.run()
    assert twin in texts(at)


def test_results_pages_name_a_queued_run_instead_of_saying_to_launch_one():
    """Launched a moment ago, not yet started by a worker: the run is named as queued, not "Launch one"."""
    RunStore().submit(RunConfig(dataset="digits", method="simclr", epochs=10), nickname="ada")
    at = open_page("explore", who="ada")
    [info] = at.info
    assert "Launch" not in info.value and "simclr · digits" in info.value and "yours, queued" in info.value, info.value
    assert "updates by itself" in info.value


def test_a_links_values_are_read_written_back_shortest_and_dropped_at_the_default(monkeypatch):
    """What a link's address gives the page and what the page writes back: empty parts of a
    list are no values, a number at the bottom of its range is valid (no problem said), an
    empty or bad value is warned of and the default used, a value back at its default leaves
    the address, a float is written as typed (lr=10, not 10.0), and a link to another page
    carries the teacher's ``hide`` but never the nickname."""
    from app import urlstate

    said = []
    fake = _fake_streamlit({"runs": "a,,b, ,a", "epochs": "0", "batch": "", "lr": "0.01", "dataset": "shapes",
                            "who": "ada", "hide": "controls"})
    fake.warning = lambda text, **kw: said.append(text)
    monkeypatch.setattr(urlstate, "st", fake)
    assert urlstate.listed("runs") == ["a", "b"]
    problems = []
    assert urlstate.number_input("Epochs", 0, 1000, 10, 1, key="e", param="epochs", problems=problems, hide=True) == 0
    assert problems == [] and fake.query_params["epochs"] == "0"
    assert urlstate.read("batch", urlstate.integer(2, 4096), 256) == 256
    assert said == ["Ignored `batch=` from the link (not a whole number); using `256` instead."]
    assert urlstate.carried() == {"hide": "controls"}
    urlstate.write("lr", 10.0, 2e-3)
    urlstate.write("dataset", "digits", "digits")  # back at the default: out of the address
    assert fake.query_params["lr"] == "10" and "dataset" not in fake.query_params
    fake.query_params["names"] = "on"  # a toggle at its default
    assert urlstate.toggle("Names on the map", key="n", param="names", default=True, hide=True) is True
    assert "names" not in fake.query_params
    fake.query_params["names"] = "off"
    assert urlstate.toggle("Names on the map", key="n", param="names", default=True, hide=True) is False
    assert fake.query_params["names"] == "off"
    assert urlstate.toggle("Views", key="v", param="views", default=False, hide=True) is False
    assert "views" not in fake.query_params  # a default off is not written either
    del fake.query_params["hide"]
    assert urlstate.carried() == {}


def test_a_links_warning_stays_while_the_address_holds_what_the_page_used_and_only_on_its_page(monkeypatch):
    """?epochs=abc: warned of, and the page writes its default back (the value leaves the
    address); the page's own reruns repeat the warning, until a value is chosen, and another
    page never shows it."""
    from app import urlstate

    from types import SimpleNamespace

    fake = _fake_streamlit({"epochs": "abc"})
    said = []
    fake.warning = lambda text, **kw: None
    monkeypatch.setattr(urlstate, "st", fake)
    slot = SimpleNamespace(warning=lambda text, **kw: said.append(text))
    fake.container = lambda: slot

    def run(page):  # one run of a page with an epochs box, as the pages do it
        urlstate.replay_slot(page)
        problems = []
        urlstate.number_input("Epochs", 0, 1000, 10, 1, key="e", param="epochs", problems=problems, hide=True)
        urlstate.replay(page, slot)

    run("pretrain")
    assert said == [] and "epochs" not in fake.query_params
    run("pretrain")  # its rerun: the warning again
    assert said == ["Ignored `epochs=abc` from the link (not a whole number); using `10` instead."]
    said.clear()
    run("augment")  # another page
    assert said == []
    fake.session_state.clear()
    fake.query_params["epochs"] = "abc"
    run("pretrain")
    fake.query_params["epochs"] = "5"  # chosen since
    run("pretrain")
    assert said == []


def test_a_box_whose_pick_was_deleted_elsewhere_says_so_and_a_links_own_value_stands(monkeypatch):
    """The Data box's imported set, picked here and deleted from another tab: said so, and the
    default shown. A link opened since that names another set: that set, and no such note."""
    from app import urlstate

    said = []
    fake = _fake_streamlit({"dataset": "mine"})
    fake.warning = lambda text, **kw: said.append(text)
    fake.selectbox = lambda label, options, key, index=0, **kw: (
        fake.session_state[key] if fake.session_state.get(key) in options else options[index])
    monkeypatch.setattr(urlstate, "st", fake)
    fake.session_state["box"] = "mine"
    assert urlstate.selectbox("Dataset", ["digits", "shapes"], key="box", param="dataset", default="digits") == "digits"
    assert said == ["mine, picked here, is no longer offered (deleted or changed elsewhere: another tab or the command "
                    "line); showing digits instead."]
    assert "dataset" not in fake.query_params
    said.clear()
    fake.session_state["box"] = "mine"
    fake.query_params["dataset"] = "shapes"
    assert urlstate.selectbox("Dataset", ["digits", "shapes"], key="box", param="dataset", default="digits") == "shapes"
    assert said == [] and fake.query_params["dataset"] == "shapes"


def test_an_icon_before_a_note_is_drawn_but_not_read_aloud(finished_run):
    """Streamlit draws ``:material/x:`` in Markdown as an image named "x icon": a screen reader
    said "hourglass_top icon" before the queue's note, "info icon" before Pretrain's and
    Evaluate's. The notes' icons are marked aria-hidden (``app.text.quiet_icon``), as an
    element's own ``icon=`` is by Streamlit; the words beside each say what it shows."""
    finished_run("random")
    finished_run("simclr")
    RunStore().submit(RunConfig(dataset="digits", method="rotation", epochs=10), nickname="cy")
    quiet = []
    for page, params in ((None, {}), ("pretrain", {"method": "random"}), ("evaluate", {}),
                         ("augment", {"dataset": "digits", "augment": "crop,color_jitter"})):
        at = open_page(page, **params)
        said = [e.value for e in [*at.caption, *at.markdown]]
        assert not [s for s in said if s.lstrip().startswith(":material/")], page  # read as "... icon"
        quiet += [s for s in said if s.startswith(quiet_icon("")[:-len(":</span>")])]
    assert len(quiet) >= 4, quiet  # each page drew one
