"""Lessons: every lesson file validates, broken files are refused with a message naming the
field, the verdict logic on hand-made numbers, planning against the store, one lesson run
headless through the CLI on a quick budget, and the lessons page driven with AppTest."""
import json
import os
import re
import subprocess
import sys

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from app.text import quiet_icon
from ssrl_core import cli
from ssrl_core import lessons as L
from ssrl_core.config import RunConfig
from ssrl_core.runs.store import LimitReached, RunStore

from .conftest import ROOT
from .test_app import open_page

TINY = ROOT / "tests" / "lessons"
LESSON_NAMES = ["four-families", "color-invariance", "collapse", "labels-are-expensive", "canonical-view",
                "contrastive-knobs"]


def test_every_lesson_file_validates():
    lessons = L.load_all()
    assert [l.id for l in lessons] == LESSON_NAMES  # teaching order
    for lesson in lessons:
        assert lesson.checks and lesson.runs and lesson.charts
        for cfg in lesson.runs.values():
            cfg.validate()
            assert cfg.encoder != "auto"  # the same runs on every machine


GOOD = """
id = "x"
title = "t"
question = "q"
explanation = "e"
expected = "x"
how_to_read = "h"
[runs.a]
dataset = "digits"
method = "simclr"
augment = "digits"
encoder = "cnn-small"
epochs = 2
batch_size = 64
seed = 0
[[checks]]
left = "a.knn_accuracy"
op = ">"
right = 0.5
says = "s"
"""


@pytest.mark.parametrize("old, new, field", [
    ('question = "q"\n', "", "question: missing"),
    ('method = "simclr"', 'method = "simclear"', "runs.a: unknown method 'simclear'"),
    ("epochs = 2", 'epochs = "two"', "runs.a: epochs must be a whole number"),
    ("epochs = 2", "epochs = true", "runs.a: epochs must be a number, got True"),
    ("seed = 0", "seed = true", "runs.a: seed must be a number, got True"),
    ("seed = 0", "seed = 0\nlr = true", "runs.a: lr must be a number, got True"),
    ('says = "s"', 'says = "s"\nmargin = true', "checks[0].margin: must be a number"),
    ('id = "x"', 'id = "x"\norder = true', "order: must be a whole number"),
    ('says = "s"', 'says = "s"\n[probes]\nseeds = true', "probes.seeds"),
    ('says = "s"', 'says = "s"\n[probes]\nsupervised_scratch = [true]', "probes.supervised_scratch"),
    ('says = "s"', 'says = "s"\n[[charts]]\nkind = "accuracy"\ntitle = 3', "charts[0].title: must be text"),
    ('seed = 0\n', "", "runs.a.seed: missing"),
    ('encoder = "cnn-small"', 'encoder = "auto"', "runs.a.encoder"),
    ('augment = "digits"', 'augment = "digits"\noptions = { tempo = 1 }', "runs.a: simclr has no option tempo"),
    ('augment = "digits"', 'augment = "digits"\noptions = { temperature = -1 }', "runs.a: simclr option temperature must be"),
    ('augment = "digits"', 'augment = "digits"\noptions = { proj_dim = "big" }', "runs.a: simclr option proj_dim"),
    ('[[checks]]', '[runs.b]\ndataset = "digits"\nmethod = "simclr"\naugment = "digits"\nencoder = "cnn-small"\n'
                   'epochs = 2\nbatch_size = 64\nseed = 0\noptions = { temperature = 0.5 }\n[[checks]]',
     "runs.b: the same run as runs.a"),  # 0.5 is simclr's default: the teacher forgot to change it
    ('left = "a.knn_accuracy"', 'left = "b.knn_accuracy"', "checks[0].left: 'b.knn_accuracy' names run 'b'"),
    ('left = "a.knn_accuracy"', 'left = "a.knn_accurcy"',
     "checks[0].left: 'a.knn_accurcy': unknown metric 'knn_accurcy', did you mean 'knn_accuracy'?"),
    ('left = "a.knn_accuracy"', 'left = "a.random_knn20"', "unknown metric 'random_knn20', did you mean 'random_knn@20'?"),
    ('left = "a.knn_accuracy"', 'left = "a.epoch:effective_rank@3"', "checks[0].left"),
    ('left = "a.knn_accuracy"', 'left = "a.factor:color@2"', "digits has no factor 'color'"),
    ('left = "a.knn_accuracy"', 'left = "a.supervised_scratch@1"', "[probes] supervised_scratch"),
    ('left = "a.knn_accuracy"', 'left = "a.linear@1"', "checks[0].left: 'a.linear@1': run 'a' has evaluation = 'basic'"),
    ('op = ">"', 'op = "=>"', "checks[0].op"),
    ('id = "x"', 'id = "y"', "id: must match the file name"),
    ('title = "t"', 'title = "t"\ncolour = 1', "colour: unknown field"),
    ('says = "s"', 'says = "s"\n[[charts]]\nkind = "pie"', "charts[0].kind"),
    ('[[checks]]', '[[checks', "not valid TOML"),
    ('says = "s"', 'says = "s"\n[[charts]]\nkind = "accuracy"\nmetrics = ["a.knn@5"]', "charts[0].metrics: only a chart"),
    # a misspelt key is named as typed, before the required one it stands for is missed
    ("epochs = 2", "epoch = 2", "runs.a.epoch: unknown field: did you mean 'epochs'?"),
    ('method = "simclr"', 'metod = "simclr"', "runs.a.metod: unknown field: did you mean 'method'?"),
    ('question = "q"', 'questoin = "q"', "questoin: unknown field: did you mean 'question'?"),
    ("[[checks]]", "[[check]]", "check: unknown field: did you mean 'checks'?"),
    ('says = "s"', 'sayz = "s"', "checks[0].sayz: unknown field: did you mean 'says'?"),
    # a side written as an expression: said with the way to write it, not as an unknown metric
    ('left = "a.knn_accuracy"', 'left = "a.knn_accuracy-a.linear_accuracy"',
     "checks[0].left: 'a.knn_accuracy-a.linear_accuracy' is not a check's side: a side is a number, one metric "
     "(RUN.METRIC), or a sum and difference of them with spaces around each + and -"),
    ('left = "a.knn_accuracy"', 'left = "a.knn_accuracy + 0.05"', "the comparison goes in op (>, >=, <, <=) and a "
                                                                  "constant offset in margin"),
    ('left = "a.knn_accuracy"', 'left = "(a.knn_accuracy - a.linear_accuracy)"', "is not a check's side"),
    ('left = "a.knn_accuracy"', 'left = "a.knn_accuracy+a.linear_accuracy"', "is not a check's side"),
    ('left = "a.knn_accuracy"', 'left = "a.knn_accuracy - 0.05"', "constant offset in margin"),
    ('left = "a.knn_accuracy"', 'left = "a.knn_accuracy > a.linear_accuracy"', "is not a check's side"),
    ('left = "a.knn_accuracy"', 'left = "a.knn_acc"', "unknown metric 'knn_acc', did you mean 'knn_accuracy'?"),
    # a number in quotes is text in TOML: the run kept "0.2", unlike the same run's 0.2 (not reused, not found alike)
    ('augment = "digits"', 'augment = "digits"\noptions = { temperature = "0.2" }',
     "runs.a.options.temperature: must be a number, got '0.2' (text, in quotes): drop the quotes"),
    ('method = "simclr"\naugment = "digits"', 'method = "simsiam"\naugment = "digits"\noptions = { predictor = "false" }',
     "runs.a.options.predictor: must be true or false, got 'false'"),
    # a slip of a key every run logs after each epoch: said now, not once the lesson has trained
    ('left = "a.knn_accuracy"', 'left = "a.epoch:rank@last"', "'a.epoch:rank@last': did you mean "
                                                               "'epoch:effective_rank@last'? Every run logs loss, "),
    ('left = "a.knn_accuracy"', 'left = "a.epoch:los@last"', "did you mean 'epoch:loss@last'?"),
    ('says = "s"', 'says = "s"\n[[charts]]\nkind = "bars"', f"charts[0].kind: must be one of {', '.join(L.CHART_KINDS)}, got 'bars'"),
    ('says = "s"', 'says = "s"\n[[charts]]\nkind = "accuracy"\nruns = ["a", "byl"]',
     "charts[0].runs: 'byl': not a run of this lesson (its runs: a)"),
    ('left = "a.knn_accuracy"\nop = ">"\nright = 0.5\nsays = "s"', 'left = "a.knn_accuracy"\nop = ">"\nright = 0.5\n'
     'says = "s"\n[[charts]]\nkind = "invariance"\nruns = ["a"]', "charts[0].runs: 'a' has evaluation = 'basic'"),
    # a chart naming no runs draws them all: the basic run among them is said as well
    ('says = "s"', 'says = "s"\n[[charts]]\nkind = "label_efficiency"', "charts[0].runs: 'a' has evaluation = 'basic', "
     "which computes no probes, so a 'label_efficiency' chart would never draw it: leave evaluation out of the run"),
])
def test_a_broken_lesson_file_is_refused_naming_the_file_and_field(tmp_path, old, new, field):
    assert old in GOOD
    path = tmp_path / "x.toml"
    text = GOOD.replace(old, new, 1)
    if "evaluation = 'basic'" in field:
        text = text.replace("seed = 0", 'seed = 0\nevaluation = "basic"', 1)
    path.write_text(text)
    with pytest.raises(L.LessonError) as e:
        L.load(path)
    assert str(e.value).startswith("x.toml: ") and field in str(e.value), str(e.value)


def test_a_lesson_file_not_in_utf8_is_named_and_the_others_stay_usable(tmp_path, monkeypatch, capsys):
    """A file saved as Latin-1 ("café") took the whole Lessons page down, a class's link to
    another lesson too, and `list lessons` named no file. A byte-order mark (Windows' Notepad)
    is read past; a NAME.TOML is a lesson file too."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    (tmp_path / "tiny.toml").write_text((TINY / "tiny.toml").read_text())
    latin = GOOD.replace('id = "x"', 'id = "cafe"').replace('title = "t"', 'title = "t"\n# a note')
    (tmp_path / "cafe.toml").write_bytes(latin.replace("a note", "caf\u00e9").encode("latin-1"))
    lessons, broken = L.load_each()
    assert [l.id for l in lessons] == ["tiny"] and list(broken) == ["cafe"]
    assert str(broken["cafe"]) == ("cafe.toml: not UTF-8 text (byte 0xe9 on line 4, e.g. an accented letter saved as "
                                   "Latin-1 or Windows-1252): save the file as UTF-8")
    assert L.load_by_name("tiny").id == "tiny"
    assert cli.main(["list", "lessons"]) == 2 and "error: cafe.toml: not UTF-8 text" in capsys.readouterr().err
    (tmp_path / "cafe.toml").unlink()
    (tmp_path / "bom.TOML").write_bytes(b"\xef\xbb\xbf" + GOOD.replace('id = "x"', 'id = "bom"').encode())
    assert [l.id for l in L.load_each()[0]] == ["bom", "tiny"]  # (order 100 each: by id)
    at = open_lessons({"lesson": "tiny", "hide": "controls,nav"})  # a class's link beside a broken file: its lesson
    assert at.header[0].value == "A tiny lesson for the tests"


def test_a_lesson_file_is_tried_by_its_path_and_a_missing_name_says_where_lessons_are_read(tmp_path, capsys):
    """An author's new file, outside the lessons' folder: `lesson` takes its path, and a name
    that is no lesson says where lessons are read from and how to read one's own."""
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace('id = "x"', 'id = "mine"'))
    assert L.load_by_name(str(path)).id == "mine"
    assert cli.main(["lesson", str(path), "--out", str(tmp_path / "o"), "--no-train"]) == 3  # incomplete: untrained
    capsys.readouterr()
    with pytest.raises(L.LessonError, match=r"\. Lessons are read from .*assets/lessons: for a lesson file of your "
                                            r"own, give its path \(NAME.toml\), or set SSRL_LESSONS_DIR to its folder"):
        L.load_by_name("mine")


def test_list_lessons_names_a_run_that_could_not_train_here(tmp_path, monkeypatch, capsys):
    """Colorization on grayscale digits validates as a file, and only a preview or a student's
    Launch said it could not train: `list lessons` says so, exit 2, the lesson still listed."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    (tmp_path / "grey.toml").write_text(GOOD.replace('id = "x"', 'id = "grey"').replace('"simclr"', '"colorization"'))
    assert cli.main(["list", "lessons", "--json"]) == 2
    out, err = capsys.readouterr()
    assert [i["name"] for i in json.loads(out)] == ["grey"]
    assert err.startswith("error: grey.toml: runs.a cannot train here: colorization needs a colour dataset")
    # a set whose files are not here: said, not downloaded, and the listing goes on (it ended on the dataset's error,
    # after trying CIFAR-10's download)
    far = GOOD.replace('id = "x"', 'id = "far"').replace('dataset = "digits"', 'dataset = "cifar10"')
    (tmp_path / "far.toml").write_text(far)
    from ssrl_core.data import torchvision_sets as tvs

    monkeypatch.setattr(tvs, "_download", lambda *a, **k: pytest.fail("a listing downloaded a dataset"))
    assert cli.main(["list", "lessons", "--json"]) == 2
    out, err = capsys.readouterr()
    assert [i["name"] for i in json.loads(out)] == ["far", "grey"]
    assert "error: far.toml: runs.a cannot train here yet: CIFAR-10 is not in the data folder yet" in err


def test_two_lessons_of_one_order_and_title_are_told_apart_by_the_picker(tmp_path, monkeypatch):
    """A lesson copied and changed kept its order and title: Streamlit takes a pick back by its
    words, so the copy's page launched the first one's runs."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    for i in ("first", "second"):
        (tmp_path / f"{i}.toml").write_text(GOOD.replace('id = "x"', f'id = "{i}"').replace("seed = 0", f"seed = {len(i)}"))
    at = open_lessons({"lesson": "second"})
    assert at.radio(key="lesson_pick").options == ["100. t (first)", "100. t (second)"]
    assert at.radio(key="lesson_pick").value == "second" and at.query_params["lesson"] in ("second", ["second"])


def test_a_lesson_id_fit_for_a_link_is_required(tmp_path):
    """The id goes into the class's link: 'BYOL Prädiktor?' (a space, an umlaut, a '?' that
    would end the link's query) is refused; unicode in the title is welcome."""
    (tmp_path / "BYOL Prädiktor?.toml").write_text(GOOD.replace('id = "x"', 'id = "BYOL Prädiktor?"'))
    with pytest.raises(L.LessonError, match=r"^BYOL Prädiktor\?.toml: id: .* lowercase letters"):
        L.load(tmp_path / "BYOL Prädiktor?.toml")
    (tmp_path / "byol.toml").write_text(GOOD.replace('id = "x"', 'id = "byol"').replace('title = "t"', 'title = "Prädiktor? ✨"'))
    assert L.load(tmp_path / "byol.toml").title == "Prädiktor? ✨"


def test_a_preview_judges_a_check_at_an_epoch_it_did_not_train_as_undecided_saying_why(tmp_path):
    """`lesson --quick` trained every run, then failed: the check's epoch 2 was out of range
    for the runs the preview had capped at 1 epoch."""
    (tmp_path / "x.toml").write_text(GOOD.replace('left = "a.knn_accuracy"', 'left = "a.epoch:effective_rank@2"'))
    preview = L.load(tmp_path / "x.toml").scaled(1)
    assert preview.runs["a"].epochs == 1
    logged = [{"epoch": 0, "effective_rank": 9.0}, {"epoch": 1, "effective_rank": 8.0}]
    [row] = L.judge(preview, {"a": _data(summary={"knn_accuracy": 0.9}, epochs=logged)})["checks"]
    assert row["passed"] is None and row["caveats"] == [
        "a.epoch:effective_rank@2: this preview trains 'a' for 1 epoch, not 2, so this check is decided only at "
        "the lesson's budget (without --quick)"]


def test_good_file_loads(tmp_path):
    (tmp_path / "x.toml").write_text(GOOD)
    assert L.load(tmp_path / "x.toml").runs["a"].epochs == 2


def _data(summary=None, probes=None, epochs=None, references=None):
    return L.RunData(summary or {}, probes or {}, epochs or [], references or {})


def test_verdict_on_hand_made_numbers():
    lesson = L.load_by_name("labels-are-expensive")
    refs = {"random-linear/label/1/s3": {"mean": 0.45}, "supervised-scratch/label/1/s3/t200": {"mean": 0.50},
            "supervised-scratch/label/10/s3/t200": {"mean": 0.93}}
    probes = {"linear/label/1/s3": {"mean": 0.60}, "linear/label/10/s3": {"mean": 0.91}}
    v = L.judge(lesson, {"simclr": _data(probes=probes, references=refs)})
    assert [c["passed"] for c in v["checks"]] == [True, True, True] and v["verdict"] == "pass"
    diff = v["checks"][2]
    assert diff["left_value"] == pytest.approx(0.10) and diff["right_value"] == pytest.approx(-0.02)
    assert diff["numbers"]["simclr.supervised_scratch@10"] == 0.93
    assert L.describe_check(v["checks"][0]) == "0.600 > 0.450 + 0.03 (= 0.480)"  # the bar it must pass, written out
    # a review's rotation against SimCLR on digits' 359 test images (334 and 332 right) passed as "0.930 > 0.925 +
    # 0.005 (= 0.930)": where 3 places print the two sides equal, a place more tells them apart
    close = {"left": "a", "op": ">", "right": "b", "margin": 0.005, "left_value": 334 / 359, "right_value": 332 / 359}
    assert L.describe_check(close) == "0.9304 > 0.9248 + 0.005 (= 0.9298)"
    assert L.describe_check({**close, "op": "<", "margin": 0.0, "right_value": 0.93042}) == "0.93036 < 0.93042"
    assert L.describe_check({**close, "right_value": 0.9}) == "0.930 > 0.900 + 0.005 (= 0.905)"  # apart at 3: 3

    probes["linear/label/1/s3"]["mean"] = 0.47  # within the 0.03 margin of random, below supervised
    v = L.judge(lesson, {"simclr": _data(probes=probes, references=refs)})
    assert [c["passed"] for c in v["checks"]] == [False, False, False] and v["verdict"] == "fail"

    del refs["supervised-scratch/label/10/s3/t200"]  # not computed yet
    v = L.judge(lesson, {"simclr": _data(probes=probes, references=refs)})
    assert v["checks"][2]["passed"] is None and v["verdict"] == "incomplete"
    assert L.describe_check(v["checks"][2]) == "-0.030 > simclr.linear@10 - simclr.supervised_scratch@10"  # named
    assert L.describe_check(L.judge(lesson, {})["checks"][0]) == "simclr.linear@1 > simclr.random_linear@1 + 0.03"
    assert L.judge(lesson, {})["verdict"] == "incomplete"  # no run finished
    # in words where a student reads it (the page, the CLI's stderr): a side still to be measured is not code
    assert L.describe_check(L.judge(lesson, {})["checks"][0], lesson) == \
        "simclr's linear readout (1 label/class) > random encoder's readout (1 label/class) + 0.03"
    assert L.describe_check(v["checks"][2], lesson) == ("-0.030 > simclr's linear readout (10 labels/class) - "
                                                        "supervised from scratch (10 labels/class)")


def test_a_check_exactly_on_its_bar_passes_when_it_allows_equality(tmp_path):
    """A ">=" check whose two sides are equal passes (and "<=" likewise): a run that reaches
    its bar exactly is told it passed, not that it failed."""
    for op in (">=", "<="):
        (tmp_path / "x.toml").write_text(GOOD.replace('op = ">"', f'op = "{op}"'))
        lesson = L.load(tmp_path / "x.toml")
        v = L.judge(lesson, {"a": _data(summary={"knn_accuracy": 0.5})})
        assert v["checks"][0]["passed"] is True and v["verdict"] == "pass", op
    (tmp_path / "x.toml").write_text(GOOD.replace('op = ">"', 'op = ">="').replace("right = 0.5", "right = 0.45\nmargin = 0.05"))
    v = L.judge(L.load(tmp_path / "x.toml"), {"a": _data(summary={"knn_accuracy": 0.5})})
    assert v["checks"][0]["passed"] is True  # 0.5 >= 0.45 + 0.05: on the bar with a margin too


def test_a_scaled_lesson_is_marked_a_quick_preview(tmp_path):
    """A lesson capped at fewer epochs (``lesson --quick``, the page's preview) is marked
    quick, so its verdict and budget say it is a preview and not the lesson's result."""
    (tmp_path / "x.toml").write_text(GOOD)
    lesson = L.load(tmp_path / "x.toml")
    assert not lesson.quick and lesson.scaled(None) is lesson
    preview = lesson.scaled(1)
    assert preview.quick is True and preview.runs["a"].epochs == 1
    assert preview.budget().startswith("QUICK PREVIEW")
    assert L.judge(preview, {})["quick"] is True


def test_a_check_decided_inside_the_test_images_noise_says_it_could_go_the_other_way():
    """simclr.knn_accuracy > random.knn_accuracy + 0.005 on digits' 359 test images, where twice the
    standard error of an accuracy is about 0.03: a pass by a point said as plainly as a pass by ten."""
    lesson = L.load_by_name("four-families")
    [check] = [c for c in L.judge(lesson, {})["checks"] if c["left"] == "simclr.knn_accuracy" and
               c["right"] == "random.knn_accuracy"]

    def row(simclr, random, n=359):
        v = L.judge(lesson, {"simclr": _data(summary={"knn_accuracy": simclr, "test_images": n}),
                             "random": _data(summary={"knn_accuracy": random, "test_images": n})})
        return next(c for c in v["checks"] if c["left"] == check["left"] and c["right"] == check["right"])

    close = row(0.935, 0.919)  # 0.011 above its bar of 0.924
    assert close["passed"] is True
    [said] = [c for c in close["caveats"] if "standard error" in c]
    assert said == ("simclr's kNN accuracy is 0.011 above its bar (0.924). That is less than 0.027, twice the standard "
                    "error of an accuracy on these 359 test images, so this check could come out the other way on "
                    "other test images or another seed.")
    # the gap between the numbers as shown: 0.8364 and 0.8376 read 0.836 and 0.838, 0.002 apart (not 0.001)
    assert any(c.startswith("simclr's kNN accuracy is 0.002 below its bar (0.838).")
               for c in row(0.8364, 0.8326)["caveats"])
    below = row(0.915, 0.919)
    assert below["passed"] is False and any("0.009 below its bar" in c for c in below["caveats"])
    assert not any("standard error" in c for c in row(0.975, 0.919)["caveats"])  # 0.051 above: clear
    assert not any("standard error" in c for c in row(0.935, 0.919, n=20_000)["caveats"])  # 0.004 on 20,000
    # runs from before the summary kept its test images: nothing guessed
    v = L.judge(lesson, {"simclr": _data(summary={"knn_accuracy": 0.935}), "random": _data(summary={"knn_accuracy": 0.919})})
    assert not any("standard error" in c for r in v["checks"] for c in r["caveats"])


def test_a_preview_never_lengthens_a_run_or_a_reference_already_within_its_budget(tmp_path):
    """`lesson --quick` caps each run at 1 epoch and the supervised reference at the preview's
    steps: a 0-epoch run stays the untrained encoder (not trained for 1 epoch) and a reference
    cheaper than the preview's keeps its steps; the budget line says what the preview runs."""
    extra = ('[runs.b]\ndataset = "digits"\nmethod = "rotation"\naugment = "digits"\nencoder = "cnn-small"\n'
             'epochs = 0\nbatch_size = 64\nseed = 0\n[probes]\nsupervised_scratch = [1]\nsupervised_steps = 10\n'
             'seeds = 2\n[[checks]]')
    (tmp_path / "x.toml").write_text(GOOD.replace("[[checks]]", extra))
    preview = L.load(tmp_path / "x.toml").scaled(1)
    assert {n: c.epochs for n, c in preview.runs.items()} == {"a": 1, "b": 0}
    assert {n: c.epochs for n, c in preview.full_runs.items()} == {"a": 2, "b": 0}
    assert preview.budget() == ("QUICK PREVIEW (not the lesson's budget): epochs 0, 1; supervised reference 10 steps "
                                "x 1 draws")


def test_a_preview_decides_a_check_at_the_last_epoch_it_trained(tmp_path):
    """A preview capped at 1 epoch measures epoch 1: a check on it is decided, without the
    note that the preview did not train that far."""
    (tmp_path / "x.toml").write_text(GOOD.replace('left = "a.knn_accuracy"', 'left = "a.epoch:effective_rank@1"')
                                     .replace("right = 0.5", "right = 5.0"))
    preview = L.load(tmp_path / "x.toml").scaled(1)
    logged = [{"epoch": 0, "effective_rank": 9.0}, {"epoch": 1, "effective_rank": 8.0}]
    [row] = L.judge(preview, {"a": _data(summary={"knn_accuracy": 0.9}, epochs=logged)})["checks"]
    assert row["passed"] is True and row["left_value"] == 8.0 and row["caveats"] == []


def test_two_accuracies_on_different_test_splits_get_no_noise_note():
    """The noise note is about one test split: runs scored on 359 and on 400 images (one before
    the split changed) have no one count of test images to quote, so nothing is guessed."""
    lesson = L.load_by_name("four-families")
    v = L.judge(lesson, {"simclr": _data(summary={"knn_accuracy": 0.935, "test_images": 359}),
                         "random": _data(summary={"knn_accuracy": 0.919, "test_images": 400})})
    [row] = [c for c in v["checks"] if c["left"] == "simclr.knn_accuracy" and c["right"] == "random.knn_accuracy"]
    assert row["passed"] is True and not any("standard error" in c for c in row["caveats"])


def test_a_side_adds_and_subtracts_terms_so_a_claim_is_judged_over_seeds():
    """four-families' rotation check read one seed: its kNN gain over random ran from 0.000
    (seed 0 on this CPU) to +0.056 by seed and machine, so the flagship lesson passed or failed
    by the draw. A side now adds terms as well as subtracting them, and the check adds up
    each seed's gain over the random encoder of its seed."""
    lesson = L.load_by_name("four-families")
    [check] = [c for c in lesson.checks if "rotation" in c.says]
    assert [n for _, n in L.signed_terms(check.left)][::2] == ["rotation.knn@20", "rotation-seed1.knn@20",
                                                                "rotation-seed2.knn@20"]
    assert [s for s, _ in L.signed_terms(check.left)] == [1, -1] * 3
    assert {lesson.runs[n].seed for n in ("rotation", "rotation-seed1", "rotation-seed2")} == {0, 1, 2}

    def gains(*pairs):  # (kNN, random kNN) per seed
        return {name: _data(probes={"knn_k": {"20": k}}, references={"random-knn/label": {"20": r}})
                for name, (k, r) in zip(("rotation", "rotation-seed1", "rotation-seed2"), pairs)}

    row = L.judge(lesson, gains((0.919, 0.919), (0.916, 0.869), (0.925, 0.905)))["checks"][2]
    assert row["passed"] is True and row["left_value"] == pytest.approx(0.067)  # 0 + 0.047 + 0.020
    assert row["numbers"]["rotation-seed1.random_knn@20"] == 0.869
    row = L.judge(lesson, gains((0.919, 0.919), (0.874, 0.869), (0.910, 0.905)))["checks"][2]
    assert row["passed"] is False and row["left_value"] == pytest.approx(0.010)  # under 0.015: half a point a seed
    assert L.judge(lesson, gains((0.919, 0.919), (0.916, 0.869)))["checks"][2]["passed"] is None  # seed 2 not in
    # canonical-view compares rotation's gains on digits and shapes the same way: each over seeds 0, 1, 2
    view = L.load_by_name("canonical-view")
    [gap] = [c for c in view.checks if "larger on digits than on shapes" in c.says]
    for side, ds in ((gap.left, "digits"), (gap.right, "shapes")):
        runs = [t.split(".")[0] for t in L.terms(side)]
        assert sorted({view.runs[r].seed for r in runs}) == [0, 1, 2] and {view.runs[r].dataset for r in runs} == {ds}
    # each random encoder named by its seed where a student reads the numbers
    assert [L.term_words(lesson, t) for t in L.terms(check.left)][:4] == [
        "rotation's kNN (k=20)", "random encoder's kNN (k=20), seed 0", "rotation-seed1's kNN (k=20)",
        "random encoder's kNN (k=20), seed 1"]


def test_a_kNN_gain_over_random_needs_no_random_run(tmp_path):
    """``random_knn@K`` reads the shared reference of the run's seed: a check of the gain
    over random names one run only."""
    (tmp_path / "x.toml").write_text(GOOD.replace('left = "a.knn_accuracy"', 'left = "a.knn@20 - a.random_knn@20"')
                                     .replace("right = 0.5", "right = 0.03"))
    lesson = L.load(tmp_path / "x.toml")
    v = L.judge(lesson, {"a": _data(probes={"knn_k": {"20": 0.95}}, references={"random-knn/label": {"20": 0.90}})})
    assert v["checks"][0]["passed"] is True and v["checks"][0]["left_value"] == pytest.approx(0.05)
    v = L.judge(lesson, {"a": _data(probes={"knn_k": {"20": 0.95}})})  # the reference not computed yet
    assert v["checks"][0]["passed"] is None
    (tmp_path / "x.toml").write_text(GOOD.replace('left = "a.knn_accuracy"', 'left = "a.random_knn@3"'))
    with pytest.raises(L.LessonError, match="k must be one of 1, 5, 20, 100"):
        L.load(tmp_path / "x.toml")


def test_a_check_on_an_invariance_score_of_an_unreliable_scale_says_so(tmp_path):
    (tmp_path / "x.toml").write_text(GOOD.replace('left = "a.knn_accuracy"', 'left = "a.invariance:flip"'))
    lesson = L.load(tmp_path / "x.toml")
    spread = {"flip": {"score": 0.9, "similarity": 0.999, "unrelated": 0.99}}  # unrelated images 0.01 apart
    v = L.judge(lesson, {"a": _data(probes={"invariance": spread})})
    assert v["checks"][0]["passed"] is True and v["checks"][0]["caveats"] == []
    collapsed = {"flip": {"score": 0.9, "similarity": 0.9999, "unrelated": 0.999}}
    v = L.judge(lesson, {"a": _data(probes={"invariance": collapsed})})
    [caveat] = v["checks"][0]["caveats"]
    assert v["checks"][0]["passed"] is True and caveat.startswith("a: ")


def test_a_check_on_an_epoch_key_the_run_never_logs_says_so(tmp_path):
    """simclr logs no rotation_acc: once its run has finished the check says it can never be
    decided, instead of waiting for it as if the run were still training."""
    (tmp_path / "x.toml").write_text(GOOD.replace('left = "a.knn_accuracy"', 'left = "a.epoch:rotation_acc@last"'))
    lesson = L.load(tmp_path / "x.toml")
    assert L.judge(lesson, {})["checks"][0]["caveats"] == []  # not finished yet: waiting is right
    assert L.judge(lesson, {"a": _data()})["checks"][0]["caveats"] == []  # no epoch log read (yet): nothing claimed
    epochs = [{"epoch": 0, "effective_rank": 11.0}, {"epoch": 2, "loss": 4.1, "effective_rank": 9.0}]
    row = L.judge(lesson, {"a": _data(epochs=epochs)})["checks"][0]
    assert row["passed"] is None
    [note] = row["caveats"]
    assert "'a' (simclr) finished without logging 'rotation_acc'" in note and "effective_rank, loss" in note


def test_verdict_reads_epochs_invariance_and_factors():
    collapse = L.load_by_name("collapse")
    runs = {"simsiam": _data(summary={"effective_rank": 5.0, "knn_accuracy": 0.90}),
            "no-stop-gradient": _data(summary={"effective_rank": 2.6, "knn_accuracy": 0.81},
                                      epochs=[{"epoch": 0, "effective_rank": 11.9}, {"epoch": 10, "effective_rank": 2.5}]),
            "no-predictor": _data(summary={"effective_rank": 4.5}),
            "byol": _data(summary={"effective_rank": 7.0})}
    v = L.judge(collapse, runs)
    assert [c["passed"] for c in v["checks"]] == [True, True, True, False, True] and v["verdict"] == "partial"
    assert v["checks"][0]["numbers"] == {"no-stop-gradient.epoch:effective_rank@last": 2.5,
                                         "no-stop-gradient.epoch:effective_rank@0": 11.9}
    colour = L.load_by_name("color-invariance")
    inv = lambda s: {"invariance": {"color_jitter": {"score": s}}}  # noqa: E731
    fac = lambda c2, call, s2: {"factors": {"color": {"2": {"mean": c2}, "all": {"mean": call}},  # noqa: E731
                                            "shape": {"2": {"mean": s2}}}}
    runs = {"jitter": _data(probes={**inv(0.94), **fac(0.84, 1.0, 0.22)}),
            "no-jitter": _data(probes={**inv(-0.19), **fac(0.98, 1.0, 0.25)}),
            "full-hue": _data(probes={**inv(0.95), **fac(0.30, 1.0, 0.37)})}
    v = L.judge(colour, runs)
    assert v["verdict"] == "pass" and v["checks"][0]["left_value"] == 0.94
    assert [c["left_value"] for c in v["checks"][3:]] == [0.30, 0.37]
    # full hue that leaves colour as readable as the default jitter fails its check, and only that one
    runs["full-hue"] = _data(probes={**inv(0.95), **fac(0.70, 1.0, 0.37)})
    assert [c["passed"] for c in L.judge(colour, runs)["checks"]] == [True, True, True, False, True]
    del runs["full-hue"]
    assert L.judge(colour, runs)["verdict"] == "incomplete"


def test_plan_reuses_identical_finished_runs_and_waits_for_queued_ones(monkeypatch):
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    lesson = L.load_by_name("tiny")
    store = RunStore()
    assert {p["action"] for p in L.plan(lesson, store, "cpu").values()} == {"submit"}
    # the same run submitted the way the Pretrain page does (augment and encoder left to defaults)
    done = store.submit(RunConfig(dataset="digits", method="random", epochs=0))
    store.claim("w")
    store.finish(done, "done", summary={})
    queued = store.submit(RunConfig(dataset="digits", method="simclr", epochs=1, batch_size=256))
    store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=2))  # another seed: not the same run
    p = L.plan(lesson, store, "cpu")
    assert (p["random"]["action"], p["random"]["run"]["id"]) == ("reuse", done)
    assert (p["simclr"]["action"], p["simclr"]["run"]["id"]) == ("wait", queued)
    assert p["random-seed1"]["action"] == "submit"
    assert list(L.launch(lesson, store)) == ["random-seed1"]
    assert L.launch(lesson, store) == {}  # nothing twice


def test_plan_reuses_the_newest_of_identical_finished_runs(monkeypatch):
    """Of two identical finished runs a lesson reuses the newer one (the one whose results a
    teacher just produced), not the oldest."""
    import time

    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    lesson = L.load_by_name("tiny")
    store = RunStore()
    ids = []
    for _ in range(2):
        ids.append(store.submit(lesson.runs["random"]))
        store.claim("w")
        store.finish(ids[-1], "done", summary={})
        time.sleep(0.02)  # distinct creation times
    p = L.plan(lesson, store, "cpu")["random"]
    assert (p["action"], p["run"]["id"]) == ("reuse", ids[1])


def test_runs_whose_options_were_given_in_another_order_are_twins(monkeypatch):
    """The same options typed in another order are the same run: a lesson reuses a finished
    run with options {temperature, proj_dim} for its own {proj_dim, temperature}, and their
    config keys are equal."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    base = dict(dataset="digits", method="simclr", augment="digits", encoder="cnn-small", epochs=1, batch_size=256)
    one = RunConfig(**base, options={"temperature": 0.2, "proj_dim": 64})
    other = RunConfig(**base, options={"proj_dim": 64, "temperature": 0.2})
    assert L.config_key(one, "cpu") == L.config_key(other, "cpu")
    store = RunStore()
    done = store.submit(one)
    store.claim("w")
    store.finish(done, "done", summary={})
    assert L.best_runs({"mine": other}, store, "cpu")["mine"]["id"] == done


def test_a_run_on_an_imported_set_is_a_twin_unless_it_recorded_other_images(tmp_path):
    """A queued or training run records no images yet: the lesson waits for it rather than
    queueing its twin. One that trained on the set's earlier content (re-imported since) is
    no twin; one on today's content is."""
    now = {"ab": "fp-now"}
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert L.on_current_images("ab", run_dir, now)  # queued: nothing recorded yet
    (run_dir / "dataset.json").write_text(json.dumps({"name": "ab", "fingerprint": "fp-old"}))
    assert not L.on_current_images("ab", run_dir, now)
    (run_dir / "dataset.json").write_text(json.dumps({"name": "ab", "fingerprint": "fp-now"}))
    assert L.on_current_images("ab", run_dir, now)


def test_a_lesson_launches_all_its_runs_or_none_whatever_the_per_nickname_limit(monkeypatch):
    """A lesson's runs belong to the lesson: a limit of 1 run per student does not stop a
    three-run lesson, but a queue without room for all three takes none of them."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    monkeypatch.setenv("SSRL_MAX_ACTIVE_PER_NICKNAME", "1")
    monkeypatch.setenv("SSRL_MAX_QUEUED", "2")
    lesson = L.load_by_name("tiny")
    store = RunStore()
    with pytest.raises(LimitReached, match="the queue is full for 3 more runs"):
        L.launch(lesson, store)
    assert store.list() == []  # nothing half-launched
    monkeypatch.setenv("SSRL_MAX_QUEUED", "3")
    ids = L.launch(lesson, store)
    assert sorted(ids) == ["random", "random-seed1", "simclr"]
    assert {r["nickname"] for r in store.list()} == {"lesson:tiny"}


def test_no_more_lessons_train_at_once_than_the_server_allows(monkeypatch):
    """A lesson's runs are not counted against the student who pressed Launch: one student
    opening every lesson's link queued some forty runs ahead of the class's own. Past
    SSRL_MAX_ACTIVE_LESSONS lessons with runs queued or training, another lesson's launch is
    refused, naming them, and nothing of it is queued; a lesson already active, or one whose
    runs are all reused, is not held back; 0 turns the limit off."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "2")
    tiny = L.load_by_name("tiny")
    store = RunStore()
    def lesson(i: str) -> L.Lesson:  # a lesson of tiny's runs at seeds of its own (identical runs would be waited for)
        k = 10 * (1 + "alpha beta gamma delta".split().index(i))
        return replace(tiny, id=i, runs={n: replace(c, seed=c.seed + k) for n, c in tiny.runs.items()})

    assert sorted(L.launch(lesson("alpha"), store)) == ["random", "random-seed1", "simclr"]
    L.launch(lesson("beta"), store)
    assert store.active_lessons() == ["alpha", "beta"] and store.active_lessons(but="lesson:alpha") == ["beta"]
    before = len(store.list())
    with pytest.raises(LimitReached, match=r"2 other lessons have runs queued or training \(alpha and beta; the "
                                           r"limit is 2 at once\): launch this one when one of them has finished"):
        L.launch(lesson("gamma"), store)
    assert len(store.list()) == before  # nothing of it queued
    assert L.launch(lesson("beta"), store) == {}  # an active lesson launched again: nothing new, no refusal
    for r in store.list():
        if r["nickname"] == "lesson:alpha":
            store.request_cancel(r["id"])
    assert store.active_lessons() == ["beta"]
    assert len(L.launch(lesson("gamma"), store)) == 3  # alpha's ended: room for one
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "0")
    assert len(L.launch(lesson("delta"), store)) == 3
    store.submit(RunConfig(dataset="digits", method="simclr", epochs=1), nickname="ada")  # a student's: no lesson
    assert store.active_lessons() == ["beta", "delta", "gamma"]


def test_two_launches_that_both_planned_to_submit_queue_one_set(monkeypatch):
    """Two students press Launch at once: both plans (read before the store's write lock)
    say "submit", yet the lesson's runs are queued once, and both get the same run ids."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    lesson = L.load_by_name("tiny")
    store = RunStore()
    stale = L.plan(lesson, store, "cpu")  # what the second student's page computed
    first = L.launch(lesson, store)
    monkeypatch.setattr(L, "plan", lambda *a, **k: stale)
    second = L.launch(lesson, store)
    assert second == first and len(store.list()) == len(first) == 3
    # a run of the lesson that failed is not reused: it is queued again
    store.claim("w")
    failed = store.list(status="running")[0]
    store.finish(failed["id"], "failed", error="boom")
    third = L.launch(lesson, store)
    name = next(n for n, i in first.items() if i == failed["id"])
    assert third[name] != failed["id"] and {n: i for n, i in third.items() if n != name} == \
        {n: i for n, i in first.items() if n != name}
    assert len(store.list()) == 4
    # without reuse_same (a student's own submits) the same config twice is two runs
    cfg = lesson.runs["random"]
    assert len(set(store.submit_many([cfg, cfg], nickname="ann"))) == 2


def test_a_lessons_cancelled_run_resumes_on_launch_and_a_students_is_not_requeued(monkeypatch):
    """A teacher cancels the lesson's runs to free the worker; Launch later continues them
    (same ids, from their checkpoints) instead of training them over. A student's own
    cancelled run with the same settings stays theirs: the lesson queues its own."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    lesson = L.load_by_name("tiny")
    store = RunStore()
    first = L.launch(lesson, store)
    for rid in first.values():
        store.request_cancel(rid)  # queued: cancelled at once
    p = L.plan(lesson, store, "cpu")
    assert {n: (q["action"], q["run"] and q["run"]["id"]) for n, q in p.items()} == \
        {n: ("resume", i) for n, i in first.items()}
    assert L.launch(lesson, store) == first
    assert {r["id"]: r["status"] for r in store.list()} == {i: "queued" for i in first.values()}
    assert [e["kind"] for e in store.events(first["simclr"])][-1] == "queued_again"
    assert {q["action"] for q in L.plan(lesson, store, "cpu").values()} == {"wait"}
    # the student's cancelled twin is not the lesson's to resume: the lesson trains its own
    store.request_cancel(first["random"])
    store.delete(first["random"])
    mine = store.submit(lesson.runs["random"], nickname="ann")
    store.request_cancel(mine)
    p = L.plan(lesson, store, "cpu")["random"]
    assert (p["action"], p["run"]) == ("submit", None)
    again = L.launch(lesson, store)
    assert list(again) == ["random"] and again["random"] not in (mine, first["random"])
    assert store.get(mine)["status"] == "cancelled"


def test_lesson_cli_runs_a_quick_preview_headless_and_reuses_its_folders(tmp_path, capsys):
    out = tmp_path / "lesson"
    cmd = [sys.executable, "-m", "ssrl_core", "lesson", "labels-are-expensive", "--out", str(out), "--quick"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ, timeout=300)
    v = json.loads(r.stdout)
    assert r.returncode == cli.LESSON_EXIT[v["verdict"]], r.stderr  # 0 pass, 1 partial or fail
    assert v["quick"] is True and v["budget"].startswith("QUICK PREVIEW") and v["lesson"] == "labels-are-expensive"
    assert v["runs"]["simclr"]["status"] == "trained" and (out / "simclr" / "summary.json").exists()
    assert json.loads((out / "simclr" / "config.json").read_text())["epochs"] == 1
    assert v["verdict"] in ("pass", "partial", "fail") and v["checks_total"] == 3
    for c in v["checks"]:
        assert isinstance(c["left_value"], float) and isinstance(c["right_value"], float) and c["passed"] in (True, False)
    assert v["seconds"] > 0 and v["runs"]["simclr"]["seconds"] > 0
    summary = json.loads((out / "simclr" / "summary.json").read_text())
    assert v["runs"]["simclr"]["knn_accuracy"] == round(summary["knn_accuracy"], 6)  # as the checks' numbers
    # a second call reuses the finished folder and gives the same numbers
    assert cli.main(["lesson", "labels-are-expensive", "--out", str(out), "--quick"]) == r.returncode
    again = json.loads(capsys.readouterr().out)
    assert again["runs"]["simclr"]["status"] == "reused" and again["checks"] == v["checks"]
    # --no-train judges what is there: nothing in a new folder
    assert cli.main(["lesson", "labels-are-expensive", "--out", str(tmp_path / "empty"), "--no-train"]) == 3
    said = capsys.readouterr()
    empty = json.loads(said.out)
    assert empty["runs"]["simclr"]["status"] == "missing" and empty["verdict"] == "incomplete"
    # the verdict in words on stderr, as the page gives it: a check not measured names what it reads
    assert "[labels-are-expensive] verdict: incomplete (0 of 3 checks passed)" in said.err
    assert "  waiting: " in said.err and "simclr's linear readout (1 label/class)" in said.err
    assert not (tmp_path / "empty").exists()  # and writes nothing
    # the default budget is a different run: refused in this folder, with advice
    assert cli.main(["lesson", "labels-are-expensive", "--out", str(out)]) == 2


def test_lesson_cli_refuses_a_run_that_cannot_train_before_training_the_others(tmp_path, monkeypatch, capsys):
    """colorization on grayscale digits cannot train: said at once, naming the run, and the
    runs before it are not trained first (minutes each at a lesson's budget)."""
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    text = GOOD.replace('id = "x"', 'id = "colour"').replace('method = "simclr"', 'method = "random"')
    text = text.replace("epochs = 2", "epochs = 0").replace("[[checks]]", "[runs.colorize]\ndataset = \"digits\"\n"
                        "method = \"colorization\"\naugment = \"digits\"\nencoder = \"cnn-small\"\nepochs = 1\n"
                        "batch_size = 64\nseed = 0\n\n[[checks]]")
    (lessons / "colour.toml").write_text(text)
    monkeypatch.setenv(L.ENV_DIR, str(lessons))
    out = tmp_path / "out"
    assert cli.main(["lesson", "colour", "--out", str(out), "--max-epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: colour: run 'colorize' cannot train here, so nothing was trained: ") and "colo" in err
    assert not (out / "a").exists() and not (out / "colorize").exists()
    # --no-train trains nothing, so it judges what is there without refusing
    assert cli.main(["lesson", "colour", "--out", str(out), "--no-train"]) == 3  # incomplete
    assert json.loads(capsys.readouterr().out)["verdict"] == "incomplete"


def test_lesson_cli_exit_status_says_the_verdict(tmp_path, monkeypatch, capsys):
    """A script or CI job reads the verdict from the exit status: 0 pass, 1 partial or fail,
    3 incomplete, 2 stays a refusal (it was 0 whatever the verdict)."""
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    run = GOOD.replace('method = "simclr"', 'method = "random"').replace("epochs = 2", 'epochs = 0\nevaluation = "basic"')
    never = '[[checks]]\nleft = "a.knn_accuracy"\nop = ">"\nright = 2\nsays = "never"\n'
    for name, text in {"passes": run, "fails": run.replace("right = 0.5", "right = 2"), "partly": run + never}.items():
        (lessons / f"{name}.toml").write_text(text.replace('id = "x"', f'id = "{name}"'))
    monkeypatch.setenv(L.ENV_DIR, str(lessons))
    out = tmp_path / "out"
    assert cli.main(["lesson", "passes", "--out", str(out), "--no-train"]) == 3  # incomplete: nothing trained yet
    assert json.loads(capsys.readouterr().out)["verdict"] == "incomplete"
    for name, verdict, status in (("passes", "pass", 0), ("fails", "fail", 1), ("partly", "partial", 1)):
        assert cli.main(["lesson", name, "--out", str(out)]) == status, name  # the one run, trained once, reused
        assert json.loads(capsys.readouterr().out)["verdict"] == verdict
    assert cli.main(["lesson", "nope", "--out", str(out)]) == 2
    help_text = cli.build_parser("lesson")._subparsers._group_actions[0].choices["lesson"].format_help()
    assert "0 pass, 1 partial or fail, 3 incomplete" in " ".join(help_text.split())


def test_lesson_cli_bad_name_and_list(tmp_path, capsys):
    assert cli.main(["lesson", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no lesson 'nope'") and all(n in err for n in LESSON_NAMES)
    assert cli.main(["list", "lessons", "--json"]) == 0
    assert [i["name"] for i in json.loads(capsys.readouterr().out)] == LESSON_NAMES


def _with_broken_files(folder, monkeypatch):
    """tiny.toml next to two broken files, in ``folder`` (SSRL_LESSONS_DIR)."""
    (folder / "tiny.toml").write_text((TINY / "tiny.toml").read_text())
    (folder / "a-draft.toml").write_text('id = "a-draft"\ntitle = "half written"\n')
    (folder / "zz-typo.toml").write_text(GOOD.replace('id = "x"', 'id = "zz-typo"').replace('"simclr"', '"simclear"'))
    monkeypatch.setenv(L.ENV_DIR, str(folder))


def test_list_lessons_names_every_broken_file_and_still_lists_the_others(tmp_path, monkeypatch, capsys):
    _with_broken_files(tmp_path, monkeypatch)
    assert cli.main(["lesson", "tinny", "--out", str(tmp_path / "o")]) == 2  # the ones to choose, the broken apart
    assert capsys.readouterr().err == ("error: no lesson 'tinny': choose one of tiny (a-draft, zz-typo: broken, see "
                                       f"`python -m ssrl_core list lessons`). Lessons are read from {tmp_path}: for a "
                                       "lesson file of your own, give its path (NAME.toml), or set SSRL_LESSONS_DIR "
                                       "to its folder\n")
    assert cli.main(["list", "lessons", "--json"]) == 2  # a validator: not 0 while a file is broken
    out, err = capsys.readouterr()
    assert [i["name"] for i in json.loads(out)] == ["tiny"]
    assert "error: a-draft.toml: question: missing" in err and "error: zz-typo.toml: runs.a: unknown method" in err


def test_a_lesson_file_nested_too_deeply_is_refused_alone(tmp_path, monkeypatch, capsys):
    """`a = [[[[...` 100,000 deep: tomllib's RecursionError took `list lessons` and the Lessons
    page down whole ("error: maximum recursion depth exceeded", no lesson listed)."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    (tmp_path / "tiny.toml").write_text((TINY / "tiny.toml").read_text())
    (tmp_path / "deep.toml").write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert cli.main(["list", "lessons", "--json"]) == 2
    out, err = capsys.readouterr()
    assert [i["name"] for i in json.loads(out)] == ["tiny"]
    assert "error: deep.toml: not valid TOML: arrays or tables nested too deeply to read" in err


def test_list_lessons_says_when_there_are_none_and_when_their_folder_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SSRL_LESSONS_DIR", str(tmp_path))
    assert cli.main(["list", "lessons"]) == 0
    assert capsys.readouterr() == ("", f"no lessons in {tmp_path}: it holds no .toml files\n")
    monkeypatch.setenv("SSRL_LESSONS_DIR", str(tmp_path / "typo"))
    assert cli.main(["list", "lessons", "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == [] and err == (f"error: no lessons: {tmp_path / 'typo'} is not a folder (set by "
                                             "SSRL_LESSONS_DIR): point SSRL_LESSONS_DIR at a folder of lesson .toml "
                                             "files, or unset it for the built-in lessons\n")
    assert not (tmp_path / "typo").exists()


# -- the page ----------------------------------------------------------------------------------------
def open_lessons(query: dict | None = None) -> AppTest:
    return open_page("lessons", **(query or {}))


def test_lessons_page_lists_lessons_and_opens_one():
    at = open_lessons()
    assert at.title[0].value == "Lessons"
    assert at.radio(key="lesson_pick").options[0].startswith("1. The four families")
    assert len(at.radio(key="lesson_pick").options) == len(LESSON_NAMES)
    at.radio(key="lesson_pick").set_value("collapse").run()
    assert at.header[0].value.startswith("Collapse")
    assert at.query_params["lesson"] in ("collapse", ["collapse"])  # the link opens this lesson
    # nothing trained yet: not "Verdict: incomplete (0 of 5 checks passed)", which read as a lesson run and failed
    assert any(i.value.startswith("**Not run yet:** the 5 checks below") for i in at.info)
    assert not any("Verdict" in i.value for i in at.info)
    # no run like its runs finished here: no guess, and it says so
    assert not any("of training and evaluation on this machine" in c.value for c in at.caption)
    assert any(c.value.startswith(f"{quiet_icon('schedule')} No time estimate yet") for c in at.caption)


def test_lessons_page_shows_a_metric_name_with_a_colon_whole(tmp_path, monkeypatch, finished_run):
    """'a.factor:color@2' under a check: Streamlit's Markdown takes ':color' for a directive
    and drops it, so the raw text must carry no ':' before a letter."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    text += '\n[[checks]]\nleft = "simclr.epoch:epoch_knn@last"\nop = ">"\nright = 0.1\nsays = "kNN in the last epoch"\n'
    (tmp_path / "tiny.toml").write_text(text)
    finished_run("simclr")
    at = open_lessons({"lesson": "tiny"})
    small = [m.value.split("<small>")[1] for m in at.markdown if "<small>" in m.value]
    assert any("simclr's kNN accuracy on a fixed subset (last epoch) = " in s for s in small), small  # in words, as the check's line
    assert not any(re.search(r":[a-z]", s) for s in small), small


def test_a_lessons_question_stays_bold_whole_with_a_bold_word_inside(tmp_path, monkeypatch):
    """A teacher's question "Does **one** epoch ...": the page wrapped it in ** as a whole, so the
    inner pair ended the bold at "Does " and the rest was plain."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    (tmp_path / "tiny.toml").write_text(text.replace("Does one epoch", "Does **one** epoch"))
    at = open_lessons({"lesson": "tiny"})
    assert "**Does one epoch of SimCLR beat a random encoder?**" in [m.value for m in at.main.markdown]
    # no run like its own has finished in this store: no time is guessed, and it says so
    assert any(c.value.startswith(f"{quiet_icon('schedule')} No time estimate yet: none is guessed until a run like "
                                  "each of this lesson's") for c in at.caption)


def test_lessons_page_launches_reuses_and_shows_the_verdict(monkeypatch, finished_run):
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    rand, simclr = finished_run("random"), finished_run("simclr")
    at = open_lessons({"lesson": "tiny", "hide": "controls,nav"})
    assert not at.radio and not at.dataframe  # a student sees no lesson picker and no run table
    assert at.header[0].value == "A tiny lesson for the tests"
    checks = " ".join(m.value for m in at.markdown)
    assert "SimCLR's kNN gain over random is above -1** — passed" in checks  # finished runs judged at once
    assert "far above chance** — waiting: random-seed1's kNN accuracy > 0.500" in checks  # in words, not code
    # not "Verdict: incomplete (1 of 2 checks passed)", which read as a failure while runs were still to train
    assert [i.value for i in at.info if "Verdict" in i.value][0].startswith(
        "**Verdict: not yet** (1 of 2 checks judged so far, 1 passed).")
    # the run to train is like the finished random run (untrained, digits): its time is known from it
    [took] = [c.value for c in at.caption if "of training and evaluation on this machine" in c.value]
    assert took.startswith(f"{quiet_icon('schedule')} About 1 min")
    # the random encoder trains nothing: the button says what the worker will do ("train 1 run" said more)
    assert at.button(key="lesson_launch").label == "Launch this lesson: evaluate 1 untrained encoder"
    at.button(key="lesson_launch").click().run()
    assert not at.exception
    runs = RunStore().list()
    new = [r for r in runs if r["id"] not in (rand, simclr)]
    assert len(runs) == 3 and len(new) == 1 and new[0]["status"] == "queued"  # prepared runs not resubmitted
    assert new[0]["config"]["seed"] == 1 and new[0]["method"] == "random"
    # nothing left to launch; its progress shows, with no Cancel on a class's link: it is the lesson's, the whole
    # class's, and only a page without hide=controls (the teacher's) offers to cancel it
    assert not at.button and any("random · digits" in m.value and "queued" in m.value for m in at.markdown)
    # named as the lesson names it (a lesson's three SimSiam runs read alike where its chart said "no-stop-gradient")
    assert any(m.value.startswith("**random-seed1**: **random · digits") for m in at.markdown), \
        [m.value for m in at.markdown]
    assert [b.key for b in open_lessons({"lesson": "tiny"}).button] == [f"cancel_{new[0]['id']}"]
    # the worker finishes it: the verdict is complete
    store = RunStore()
    store.claim("test")
    store.finish(new[0]["id"], "done", summary={"knn_accuracy": 0.9})
    at.run()
    assert any("Verdict: pass" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 3  # accuracy bars, label efficiency, kNN over epochs
    # the page that watched it keeps its panel: its live region tells the end, and the verdict (the panel, its region
    # with it, left as the last run ended, and a screen reader heard nothing of the verdict)
    [region] = [m.value for m in at.markdown if "aria-live" in m.value]
    assert region.endswith(">Nothing is training right now. Verdict: pass (2 of 2 checks passed).</div>"), region
    # a page opened on a finished lesson has no panel to keep
    assert not [m.value for m in open_lessons({"lesson": "tiny"}).markdown if "aria-live" in m.value]


def test_lessons_page_says_before_the_click_that_other_lessons_fill_the_servers_room(monkeypatch, finished_run):
    """As many other lessons as the server runs at once are training: Launch is off, the page
    names them by title, and the button comes back once they have ended."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "1")
    finished_run("random"), finished_run("simclr")
    store = RunStore()
    other = store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=7), nickname="lesson:tiny-two")
    store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=8), nickname="ada")  # no lesson's
    at = open_lessons({"lesson": "tiny", "hide": "controls,nav"})
    assert at.button(key="lesson_launch").disabled
    assert [i.value for i in at.info if "other lesson" in i.value] == [
        "1 other lesson is training now, as many as this server runs at once: *tiny-two*. Launch comes back when "
        "one of them has finished."]
    store.request_cancel(other)
    at.run()
    assert not at.button(key="lesson_launch").disabled and not [i for i in at.info if "other lesson" in i.value]


def test_lessons_page_offers_the_supervised_reference_and_judges_with_it(tmp_path, monkeypatch, finished_run):
    """A lesson whose check needs supervised training from scratch: the page offers the
    background job; once the job has run (here in this process, 5 steps) the verdict has it."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text().replace('id = "tiny"', 'id = "scratch"')
    text = text.replace("[runs.random]", "[probes]\nsupervised_scratch = [1]\nseeds = 1\nsupervised_steps = 5\n\n[runs.random]")
    # the simclr run alone: every run of the lesson finished, only the reference missing
    head, _, rest = text.partition("[runs.random]")
    simclr_run = "[runs.simclr]" + rest.split("[runs.simclr]")[1].split("[runs.random-seed1]")[0]
    text = head + simclr_run + '[[charts]]\nkind = "accuracy"\n'
    text += '\n[[checks]]\nleft = "simclr.linear@1"\nop = ">"\nright = "simclr.supervised_scratch@1"\nsays = "pretrained beats scratch"\n'
    (tmp_path / "scratch.toml").write_text(text)
    simclr = finished_run("simclr")
    at = open_lessons({"lesson": "scratch"})
    assert at.button(key="lesson_extras").label.startswith("Compute the supervised-from-scratch reference (1 label per")
    # the verdict said it waited "for the runs (or probes) still missing" when every run had finished
    assert "waits for the supervised-from-scratch reference, which *Compute the supervised-from-scratch " \
           "reference* above computes" in at.info[-1].value
    lesson = L.load_by_name("scratch")
    pending = L._job_paths(lesson)[1]
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.touch()  # as the button does: the job started, still importing
    at.run()
    # the page watching the job has the live panel, so a screen reader hears the verdict when the job is done
    assert [m.value for m in at.markdown if "aria-live" in m.value][0].endswith(
        ">Nothing is training right now. Verdict: not yet (0 of 1 check judged so far, 0 passed).</div>")
    assert L._extras_job(str(lesson.path), [f"simclr={RunStore().get(simclr)['run_dir']}"]) == 0
    assert not L.extras_running(lesson) and not pending.exists()
    at.run()
    assert not [b for b in at.button if b.key == "lesson_extras"]
    [region] = [m.value for m in at.markdown if "aria-live" in m.value]
    assert re.search(r">Nothing is training right now\. Verdict: (pass|fail) \([01] of 1 checks passed\)\.</div>$",
                     region), region
    assert "pretrained beats scratch** — " in " ".join(m.value for m in at.markdown)
    assert re.search(r"supervised from scratch \(1 label/class\) = 0\.\d{3}", " ".join(m.value for m in at.markdown))


def test_a_broken_lesson_file_leaves_the_other_lessons_on_the_page(tmp_path, monkeypatch):
    """A teacher's half-written file is named on the page; the class's lessons stay usable."""
    _with_broken_files(tmp_path, monkeypatch)
    at = open_lessons({"lesson": "tiny"})
    assert at.header[0].value == "A tiny lesson for the tests"
    errors = " ".join(e.value for e in at.error)
    assert "a-draft.toml: question: missing" in errors and "zz-typo.toml: runs.a: unknown method 'simclear'" in errors
    # a class's link shows its lesson, not the errors of the teacher's drafts beside it
    at = open_lessons({"lesson": "tiny", "hide": "controls,nav"})
    assert at.header[0].value == "A tiny lesson for the tests" and not at.error
    at = open_lessons({"lesson": "zz-typo", "hide": "controls,nav"})  # its own lesson broken: that is said
    errors = " ".join(e.value for e in at.error)
    assert "zz-typo.toml: runs.a: unknown method 'simclear'" in errors and "a-draft" not in errors
    assert "No lesson 'zz-typo'" not in errors  # not "no such lesson" besides
    # a class's link to a lesson that is broken or not there: no other lesson, picker or Launch in its place
    for name in ("zz-typo", "nosuch"):
        at = open_lessons({"lesson": name, "hide": "controls,nav"})
        assert not at.header and not at.button and not at.selectbox, name
        assert "made for a class and opens no other lesson" in at.info[0].value
    assert "No lesson `nosuch`" in at.warning[0].value and not at.error  # a link's bad value, as on every page
    for f in ("tiny.toml",):
        (tmp_path / f).unlink()  # nothing left that validates: said so, no crash
    at = open_lessons()
    assert any("No lesson in" in i.value and "validates" in i.value for i in at.info)


def test_launch_neither_reuses_nor_resumes_a_run_trained_with_mocos_old_bn_head(monkeypatch, tmp_path):
    """The plan does not take a MoCo run whose checkpoint has the BN'd head (before 2026-12-02)
    for the lesson's today's MoCo; Launch must not either (its store check compares the
    submitted configs, which are the same): it queues a new run, and the plan then waits for it."""
    from pathlib import Path

    import torch
    from safetensors.torch import save_file

    from ssrl_core.runs.artifacts import CHECKPOINT

    head = (TINY / "tiny.toml").read_text().split("[runs.random]")[0]
    (tmp_path / "moco.toml").write_text(head.replace('id = "tiny"', 'id = "moco"') + """
[runs.moco]
dataset = "digits"
method = "moco"
augment = "digits"
encoder = "cnn-small"
epochs = 1
batch_size = 32
seed = 0

[[checks]]
left = "moco.knn_accuracy"
op = ">"
right = 0.1
says = "above chance"
""")
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    lesson = L.load_by_name("moco")
    store = RunStore()
    for status in ("done", "cancelled"):
        old = store.submit(lesson.runs["moco"], nickname=L.lesson_nickname(lesson))
        store.claim("w")
        store.finish(old, status, summary={}, worker="w")
        folder = Path(store.get(old)["run_dir"])
        folder.mkdir(parents=True)
        save_file({"model.projector.1.running_mean": torch.zeros(4)}, str(folder / CHECKPOINT))  # the BN'd head
        assert L.plan(lesson, store, "cpu")["moco"]["action"] == "submit"
        new = L.launch(lesson, store)["moco"]
        assert new != old and store.get(old)["status"] == status and store.get(new)["status"] == "queued"
        assert L.plan(lesson, store, "cpu")["moco"] == {"action": "wait", "run": store.get(new)}
        store.request_cancel(new)
        store.delete(new)
        store.delete(old)


def test_a_lessons_launch_button_counts_the_untrained_encoders_apart():
    from app.lessons import launch_words

    collapse = L.load_by_name("collapse")  # SimSiam, its two ablations and BYOL, next to the random encoder
    assert launch_words(collapse, list(collapse.runs)) == "train 4 runs and evaluate 1 untrained encoder"
    assert launch_words(collapse, ["byol"]) == "train 1 run"
    assert launch_words(collapse, ["random"]) == "evaluate 1 untrained encoder"


def test_a_verdicts_numbers_read_as_every_page_rounds_them():
    """0.785515 (a kNN accuracy) was kept as 0.7855, whose 3 places read 0.785 beside the 0.786 of
    the charts, the Gallery and Compare."""
    lesson = L.load_by_name("collapse")
    runs = {name: _data(summary={"knn_accuracy": 0.785515, "effective_rank": 5.0}) for name in lesson.runs}
    rows = [r for r in L.judge(lesson, runs)["checks"] if "knn_accuracy" in str(r["left"]) + str(r["right"])]
    text = " ".join(L.describe_check(row, lesson) for row in rows)
    assert rows and "0.786" in text and "0.785" not in text, text


def test_a_lesson_page_announces_the_lessons_runs_not_the_students_own(monkeypatch):
    """A student's own run cancelled elsewhere (by the teacher) put its notice, with Resume and
    Dismiss, above the lesson's progress on the class's link; Pretrain still announces it."""
    from ssrl_core.config import RunConfig

    from .test_app import open_page

    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    store = RunStore()
    own = store.submit(RunConfig(dataset="digits", method="byol", epochs=4), nickname="alice")
    store.claim("host:1:0")
    store.finish(own, "cancelled", error="cancelled while evaluating (kNN accuracy); its training had finished: "
                                         "resuming runs only the evaluation")
    at = open_lessons({"lesson": "tiny", "hide": "controls,nav", "who": "alice"})
    assert not any(own in i.value for i in at.info) and f"resume_{own}" not in [b.key for b in at.button]
    at = open_page("pretrain", who="alice")
    assert any(own in i.value and "was cancelled while evaluating (kNN accuracy)" in i.value for i in at.info)
    assert {f"resume_{own}", f"dismiss_{own}"} <= {b.key for b in at.button}


def test_the_collapse_chart_draws_each_runs_effective_rank_in_words():
    """Its embedding std (about 0.02) shared the effective rank's axis (0 to 12): four flat lines on
    0; and the checks named the per-epoch rank and the run's final one alike (2.398 and 2.425)."""
    from app.lessons import figures

    lesson = L.load_by_name("collapse")
    runs = {n: _data(summary={"effective_rank": 5.0, "knn_accuracy": 0.9},
                     epochs=[{"epoch": 0, "effective_rank": 11.9, "embedding_std": 0.02},
                             {"epoch": 10, "effective_rank": 2.5, "embedding_std": 0.01}]) for n in lesson.runs}
    [(title, fig, _)] = [f for f in figures(lesson, runs) if f[0] == "Collapse diagnostics after every epoch"]
    names = [t.name for t in fig.data if t.name]
    assert names == ["simsiam", "no-stop-gradient", "no-predictor", "byol"], names
    assert all(list(t.y) == [11.9, 2.5] for t in fig.data if t.name in names)
    assert L.term_words(lesson, "no-stop-gradient.epoch:effective_rank@last") == \
        "no-stop-gradient's effective rank on a fixed subset (last epoch)"
    assert L.term_words(lesson, "no-stop-gradient.effective_rank") == "no-stop-gradient's effective rank (all images)"


def test_a_lessons_chart_of_knn_after_every_epoch_says_it_is_a_subsets():
    """A class read t0_1's curve ending at 0.908 against the verdict's 0.928: the note under the
    chart says why, with each run's two numbers."""
    from app.lessons import figures

    lesson = L.load_by_name("contrastive-knobs")
    runs = {n: _data(summary={"knn_accuracy": 0.928}, epochs=[{"epoch": 0, "epoch_knn": 0.8},
                                                                {"epoch": 10, "epoch_knn": 0.908}]) for n in lesson.runs}
    notes = {title: note for title, _, note in figures(lesson, runs)}
    note = notes["kNN accuracy after every epoch"]
    assert "the kNN accuracy the checks read" in note and "t0\\_1 0.908 at its last epoch, 0.928 in the checks" in note
    # the lesson's own set, and "a little" for a gap of 0.02 (digits' 1,438 train images: not all vote)
    assert "(digits has 1,438): fewer vote here, and the curve ends a little below it" in note
    runs = {n: _data(summary={"knn_accuracy": 0.95}, epochs=[{"epoch": 0, "epoch_knn": 0.8},
                                                              {"epoch": 10, "epoch_knn": 0.85}]) for n in lesson.runs}
    far = {title: note for title, _, note in figures(lesson, runs)}["kNN accuracy after every epoch"]
    assert "a little" not in far and "can end well below it (0.100 here)" in far
    assert notes["kNN and linear accuracy per temperature and batch size"] == ""


def test_a_lessons_knn_over_epochs_chart_spans_ten_points_as_the_pages_accuracy_curves_do():
    """A lesson's kNN-after-every-epoch chart was drawn without ``min_span``: a 1-point wiggle
    (0.905 to 0.915) filled its height, where Evaluate and Compare give an accuracy axis 10 points
    at least. The collapse chart's effective rank keeps its own range."""
    from app import charts
    from app.lessons import figures

    lesson = L.load_by_name("contrastive-knobs")
    runs = {n: _data(summary={"knn_accuracy": 0.92}, epochs=[{"epoch": 0, "epoch_knn": 0.905},
                                                               {"epoch": 10, "epoch_knn": 0.915}]) for n in lesson.runs}
    fig = {title: f for title, f, _ in figures(lesson, runs)}["kNN accuracy after every epoch"]
    lo, hi = fig.layout.yaxis.range
    assert hi - lo == pytest.approx(charts.ACCURACY_SPAN) and lo <= 0.905 and hi >= 0.915
    collapse = L.load_by_name("collapse")
    ranks = {n: _data(summary={"effective_rank": 5.0}, epochs=[{"epoch": 0, "effective_rank": 2.45},
                                                               {"epoch": 10, "effective_rank": 2.40}])
             for n in collapse.runs}
    [rank] = [f for title, f, _ in figures(collapse, ranks) if title == "Collapse diagnostics after every epoch"]
    assert rank.layout.yaxis.range is None  # Plotly's own, not an accuracy's 10 points around 2.4


def test_a_lessons_accuracy_chart_has_the_untrained_network_beside_its_runs():
    """Two of contrastive-knobs' runs scored under an untrained network (0.905 and 0.914 against
    0.919), with no bar to show it: the untrained network of the runs' architecture and seed is
    drawn in gray, as on Evaluate; a lesson that trains a random run of its own draws that."""
    from app import charts
    from app.lessons import figures

    lesson = L.load_by_name("contrastive-knobs")
    refs = {"random-knn/label": {"20": 0.919}, "random-linear/label/all/s3": {"mean": 0.95, "std": 0.0}}
    runs = {n: _data(summary={"knn_accuracy": 0.905, "linear_accuracy": 0.96}, references=refs) for n in lesson.runs}
    [(fig, note)] = [(f, note) for title, f, note in figures(lesson, runs) if title.startswith("kNN and linear")]
    knn = fig.data[0]
    assert list(knn.y) == [*lesson.runs, "random encoder (seed 0)"] and list(knn.x)[-1] == 0.919
    assert knn.marker.color[-1] == charts.REF_GRAYS[0] and note.startswith("Gray: the untrained network")
    families = L.load_by_name("four-families")  # its own "random" run: no second one
    runs = {n: _data(summary={"knn_accuracy": 0.9}, references=refs) for n in families.runs}
    [(fig, note)] = [(f, note) for title, f, note in figures(families, runs) if fig_kind(families, title) == "accuracy"]
    assert "random encoder (seed 0)" not in list(fig.data[0].y) and note == ""


def fig_kind(lesson, title: str) -> str:
    return next(c.kind for c in lesson.charts if (c.title or L.CHART_KINDS[c.kind]) == title)


def test_a_lessons_run_table_puts_each_runs_status_beside_its_name():
    """Last, after the wide augment column, the status was cut to "running · 20261" at 1280 px."""
    from app.lessons import run_rows

    lesson = L.load_by_name("collapse")
    rows = run_rows(lesson, L.plan(lesson, RunStore()))
    assert list(rows[0])[:2] == ["run", "status"] and rows[0]["status"] == "to train"
    # a run's id in a column of its own, last: beside its status it was cut to "done · 20261" at 1366 px
    store = RunStore()
    rid = store.submit(lesson.runs[rows[0]["run"]])
    rows = run_rows(lesson, L.plan(lesson, store))
    assert list(rows[0])[-1] == "id" and (rows[0]["status"], rows[0]["id"]) == ("queued", rid)


def test_a_lessons_glossary_has_the_words_its_checks_and_chart_titles_use(tmp_path, monkeypatch):
    """A word a lesson uses only in a check's line or a chart's title is explained too: a class's
    link shows the checks and charts, not the runs table."""
    from app.lessons import glossary

    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    text = text.replace('says = "an untrained encoder with another seed is far above chance"',
                        'says = "an untrained encoder with another seed is far above chance, softmax or not"')
    text = text.replace('[[charts]]\nkind = "label_efficiency"', '[[charts]]\nkind = "label_efficiency"\ntitle = "Each anchor"')
    (tmp_path / "tiny.toml").write_text(text)
    terms = [term for term, _ in glossary(L.load_by_name("tiny"))]
    assert "softmax" in terms and "anchor" in terms, terms


def test_a_lessons_glossary_finds_a_word_written_with_a_capital(tmp_path, monkeypatch):
    # a chart's title starts with a capital: "Softmax ..." is the word softmax all the same
    from app.lessons import glossary

    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    text = text.replace('[[charts]]\nkind = "label_efficiency"', '[[charts]]\nkind = "label_efficiency"\ntitle = "Softmax"')
    (tmp_path / "tiny.toml").write_text(text)
    assert "softmax" in [term for term, _ in glossary(L.load_by_name("tiny"))]



def test_a_lessons_invariance_and_factor_charts_draw_what_each_run_measured():
    """color-invariance's two charts: each op's score where the invariance probe measured it (the
    others not yet: the chart is drawn all the same), and the factor probes at 2 labels per value,
    the chart's title, not at 1."""
    from app.lessons import figures

    lesson = L.load_by_name("color-invariance")
    probes = {"invariance": {"crop": {"score": 0.8, "se": 0.01}},
              "factors": {"color": {"1": {"mean": 0.1}, "2": {"mean": 0.7}, "chance": 0.2}}}
    runs = {n: _data(summary={"knn_accuracy": 0.9}, probes=probes) for n in lesson.runs}
    drawn = {fig_kind(lesson, title): fig for title, fig, _ in figures(lesson, runs)}
    inv = [t for t in drawn["invariance"].data if t.name in lesson.runs]
    assert [t.name for t in inv] == list(lesson.runs) and all(list(t.y)[0] == 0.8 for t in inv)
    bars = [t for t in drawn["factors"].data if t.name in lesson.runs]
    assert [list(t.x) for t in bars] == [["color"]] * len(lesson.runs) and all(list(t.y) == [0.7] for t in bars)
    assert [list(t.y) for t in drawn["factors"].data if t.name == "chance"] == [[0.2]]


def _tiny_plan(monkeypatch):
    """The tiny lesson, with one run to reuse, one to resume and one to train."""
    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    return L.load_by_name("tiny"), {"random": {"action": "reuse", "run": {"id": "a", "status": "done"}},
                                    "simclr": {"action": "resume", "run": {"id": "b", "status": "cancelled"}},
                                    "random-seed1": {"action": "submit", "run": None}}


def test_a_lessons_run_table_says_which_run_launch_resumes_and_each_runs_epochs_and_batch(monkeypatch):
    from app.lessons import run_rows

    lesson, planned = _tiny_plan(monkeypatch)
    rows = {r["run"]: r for r in run_rows(lesson, planned)}
    assert [rows[n]["status"] for n in planned] == ["done", "cancelled (Launch resumes it)", "to train"]
    assert [rows[n]["id"] for n in planned] == ["a", "b", ""]
    assert (rows["simclr"]["epochs"], rows["simclr"]["batch"]) == (1, 256)
    assert (rows["random"]["epochs"], rows["random"]["batch"]) == (0, 32)


def _panel(function, *args):
    """A page of one of ``app.lessons``' Streamlit pieces, called with ``args``."""
    def page(name, *args):
        from app import lessons as ui
        getattr(ui, name)(*args)

    return AppTest.from_function(page, args=(function.__name__, *args), default_timeout=60).run()


def test_a_lessons_launch_panel_trains_the_runs_it_resumes_and_says_what_it_reuses(monkeypatch):
    from app.lessons import launch_panel

    lesson, planned = _tiny_plan(monkeypatch)
    at = _panel(launch_panel, lesson, planned, True, {"tiny": lesson.title})
    assert not at.exception
    assert at.button(key="lesson_launch").label == "Launch this lesson: train 1 run and evaluate 1 untrained encoder"
    assert not at.button(key="lesson_launch").disabled
    assert "1 finished run with identical configs is reused; 1 cancelled run continues from its last finished " \
           "epoch." in [c.value for c in at.caption]
    # one run still queued, the others reused: no button, and it says the runs are on their way
    waiting = {n: {"action": "reuse", "run": {"id": n, "status": "done"}} for n in planned}
    waiting["simclr"] = {"action": "wait", "run": {"id": "b", "status": "queued"}}
    at = _panel(launch_panel, lesson, waiting, False, {})
    assert not at.button and [i.value for i in at.info] == [
        "The lesson's runs are queued or training; results appear below as they finish."]
    at = _panel(launch_panel, lesson, {n: {"action": "reuse", "run": {"id": n, "status": "done"}} for n in planned},
                False, {})
    assert not at.button and at.success[0].value.startswith("Every run of this lesson has finished")


def test_a_lessons_verdict_counts_the_checks_judged_and_shows_their_caveats(monkeypatch, tmp_path):
    """A failed check is judged as much as a passed one: "2 of 3 checks judged so far, 1 passed"."""
    from app.lessons import verdict_panel

    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    text += '\n[[checks]]\nleft = "simclr.knn_accuracy"\nop = ">"\nright = 0.5\nsays = "SimCLR above one half"\n'
    (tmp_path / "tiny.toml").write_text(text)
    lesson = L.load_by_name("tiny")
    data = {"random": _data(summary={"knn_accuracy": 0.9}), "simclr": _data(summary={"knn_accuracy": 0.2})}
    verdict = L.judge(lesson, data)
    verdict["checks"][2]["caveats"] = ["a caveat of the test's"]
    at = _panel(verdict_panel, lesson, verdict, data)
    assert [i.value for i in at.info][0].startswith("**Verdict: not yet** (2 of 3 checks judged so far, 1 passed).")
    lines = [m.value for m in at.markdown]
    assert any("**SimCLR above one half** — failed: `0.200 > 0.500`" in m for m in lines), lines
    assert quiet_icon("warning") + " a caveat of the test's" in [c.value for c in at.caption]
    # a check's icon is drawn but not read: Streamlit names an icon in Markdown by its ligature, and a
    # screen reader said "cancel icon" before a failed check, "check_circle icon" before a passed one
    rows = [m for m in lines if " — failed: " in m or " — passed: " in m]
    assert len(rows) == 2 and all(m.startswith(quiet_icon("")[:-len(':</span>')]) for m in rows), rows


def test_a_lessons_verdict_waits_for_the_supervised_reference_being_computed(monkeypatch, tmp_path):
    """Every run finished, the reference's job running: the verdict says it is being computed,
    not to press the button (which the page no longer shows)."""
    from app.lessons import verdict_panel

    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    text = text.replace("[runs.random]", "[probes]\nsupervised_scratch = [1]\nseeds = 1\nsupervised_steps = 5\n\n[runs.random]")
    text += '\n[[checks]]\nleft = "simclr.linear@1"\nop = ">"\nright = "simclr.supervised_scratch@1"\nsays = "beats scratch"\n'
    (tmp_path / "tiny.toml").write_text(text)
    lesson = L.load_by_name("tiny")
    data = {n: _data(summary={"knn_accuracy": 0.9}) for n in lesson.runs}
    monkeypatch.setattr(L, "extras_running", lambda lesson: True)
    at = _panel(verdict_panel, lesson, L.judge(lesson, data), data)
    assert "waits for the supervised-from-scratch reference, which is being computed." in at.info[0].value
    monkeypatch.setattr(L, "extras_running", lambda lesson: False)
    del data["random-seed1"]  # a run still training: the verdict waits for it too, not for the button alone
    at = _panel(verdict_panel, lesson, L.judge(lesson, data), data)
    assert "which *Compute the supervised-from-scratch reference* above computes" not in at.info[0].value
    assert "still missing" in at.info[0].value


def test_a_class_link_opened_on_the_teachers_computer_is_this_pages_address_and_says_what_to_change(monkeypatch):
    """The link is the page's own address (its nickname and fragment cut off), on /lessons, with
    the lesson and hide=controls,nav; opened as localhost, it says what to change."""
    from streamlit.runtime.context import ContextProxy

    from app.lessons import class_link

    lesson = L.load_by_name("collapse")
    monkeypatch.setattr(ContextProxy, "url", property(lambda self: "http://localhost:8501/lessons?who=teacher#top"))
    at = _panel(class_link, lesson)
    assert [c.value for c in at.code] == ["http://localhost:8501/lessons?lesson=collapse&hide=controls,nav"]
    assert any(c.value.startswith(f"{quiet_icon('warning')} `localhost` means this computer") for c in at.caption)
    monkeypatch.setattr(ContextProxy, "url", property(lambda self: "https://hub.example.edu/user/ada/proxy/8501/"))
    at = _panel(class_link, lesson)
    assert [c.value for c in at.code] == [
        "https://hub.example.edu/user/ada/proxy/8501/lessons?lesson=collapse&hide=controls,nav"]
    assert not any("means this computer" in c.value for c in at.caption)


def test_a_lessons_bar_charts_draw_each_number_in_its_place():
    """labels-are-expensive's bars before the supervised reference is computed: drawn with the
    numbers there are, the random encoder's readout in gray; an accuracy chart's linear-probe
    bars are the runs' linear accuracy, not their kNN one."""
    from app import charts
    from app.lessons import figures

    lesson = L.load_by_name("labels-are-expensive")
    refs = {"random-linear/label/1/s3": {"mean": 0.45}, "random-linear/label/10/s3": {"mean": 0.7}}
    probes = {"linear/label/1/s3": {"mean": 0.60}, "linear/label/10/s3": {"mean": 0.91}}
    runs = {n: _data(summary={"knn_accuracy": 0.9}, probes=probes, references=refs) for n in lesson.runs}
    [fig] = [f for title, f, _ in figures(lesson, runs) if fig_kind(lesson, title) == "metrics"]
    bars = {t.name: t for t in fig.data if t.name != "values"}
    assert {n: list(t.y) for n, t in bars.items()} == {
        "linear readout": [0.6, 0.91], "supervised from scratch": [None, None], "random encoder's readout": [0.45, 0.7]}
    assert bars["random encoder's readout"].marker.color in charts.REF_GRAYS
    assert bars["linear readout"].marker.color not in charts.REF_GRAYS
    tiny = L.load_by_name("contrastive-knobs")
    runs = {n: _data(summary={"knn_accuracy": 0.9, "linear_accuracy": 0.8}) for n in tiny.runs}
    [fig] = [f for title, f, _ in figures(tiny, runs) if fig_kind(tiny, title) == "accuracy"]
    assert [t.name for t in fig.data] == ["kNN (k=20)", "linear probe"]
    assert list(fig.data[0].x) == [0.9] * len(tiny.runs) and list(fig.data[1].x) == [0.8] * len(tiny.runs)


def test_a_lessons_run_key_spells_out_only_the_runs_a_name_alone_does_not_tell_apart():
    from app.lessons import run_key

    key = run_key(L.load_by_name("collapse"))
    assert key == ("The runs, as the charts and checks below name them: **simsiam**: stop_gradient=true, "
                   "predictor=true · **no-stop-gradient**: stop_gradient=false, predictor=true · **no-predictor**: "
                   "stop_gradient=true, predictor=false.")  # byol and random: one run of their method each
    key = run_key(L.load_by_name("four-families"))
    assert "**rotation-seed1**: seed\xa01" in key and "**simclr**" not in key and "**random**" not in key


def test_a_lessons_own_queued_runs_do_not_stand_in_its_way(monkeypatch):
    """A lesson launched by one student, opened by the next: its own runs in the queue are no other
    lesson's, so the server's one lesson at a time does not turn its page's Launch off."""
    from app.lessons import lessons_in_the_way

    monkeypatch.setenv(L.ENV_DIR, str(TINY))
    lesson = L.load_by_name("tiny")
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=7), nickname=L.lesson_nickname(lesson))
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "1")
    assert lessons_in_the_way(lesson, {"tiny": lesson.title}) == ""
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "2")  # (the store's own limit lets the second lesson in)
    store.submit(RunConfig(dataset="digits", method="random", epochs=0, seed=8), nickname="lesson:collapse")
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "1")
    assert lessons_in_the_way(lesson, {"collapse": "Collapse"}) == (
        "1 other lesson is training now, as many as this server runs at once: *Collapse*")
    # 0 turns the limit off (as the store reads it): Launch stays on, whatever trains ("0 other lessons are training
    # now, as many as this server runs at once" turned it off on every lesson: a mutation round)
    monkeypatch.setenv("SSRL_MAX_ACTIVE_LESSONS", "0")
    assert lessons_in_the_way(lesson, {"collapse": "Collapse"}) == ""


def test_a_lesson_watched_training_keeps_its_panel_but_another_lesson_opened_after_it_does_not(tmp_path, monkeypatch,
                                                                                                finished_run):
    """The page that watched one lesson's runs keeps its live panel as they end; a lesson done
    before it was opened, picked next in the same session, has no panel to keep."""
    monkeypatch.setenv(L.ENV_DIR, str(tmp_path))
    text = (TINY / "tiny.toml").read_text()
    (tmp_path / "tiny.toml").write_text(text)
    head, _, rest = text.partition("[runs.random]")
    simclr_run = "[runs.simclr]" + rest.split("[runs.simclr]")[1].split("[runs.random-seed1]")[0]
    (tmp_path / "done.toml").write_text(
        head.replace('id = "tiny"', 'id = "done"') + simclr_run + '[[charts]]\nkind = "accuracy"\n'
        '\n[[checks]]\nleft = "simclr.knn_accuracy"\nop = ">"\nright = 0.0\nsays = "SimCLR above nothing"\n')
    finished_run("random"), finished_run("simclr")
    at = open_lessons({"lesson": "tiny"})  # random-seed1 to train: the panel shows
    assert [m for m in at.markdown if "aria-live" in m.value]
    at.radio(key="lesson_pick").set_value("done").run()
    assert not at.exception and at.query_params["lesson"] in ("done", ["done"])
    assert not [m.value for m in at.markdown if "aria-live" in m.value]


def test_a_checks_words_are_shown_as_written_not_run_as_html(tmp_path, monkeypatch):
    """A check's line is drawn with ``unsafe_allow_html=True`` (its quiet icon, its numbers in
    <small>): the ``says`` of a lesson file, which a teacher writes or is given, went into it raw,
    and ``<img src=x onerror=alert(1)>`` there was HTML run in every student's browser."""
    from app.text import md

    hostile = "<img src=x onerror=alert(1)>"
    text = (ROOT / "tests" / "lessons" / "tiny.toml").read_text()
    (tmp_path / "tiny.toml").write_text(text.replace('"SimCLR\'s kNN gain over random is above -1"', f'"{hostile}"'))
    monkeypatch.setenv("SSRL_LESSONS_DIR", str(tmp_path))
    at = open_page("lessons", lesson="tiny")
    [line] = [m.value for m in at.markdown if "onerror" in m.value]
    assert md(hostile) in line, line
    assert not re.search(r"(?<!\\)<(?!span aria-hidden|/span>|small>|/small>)", line), line
