"""From cached probe results to chart series (app/readouts.py, no Streamlit)."""
import pytest

from app import readouts
from app.text import quiet_icon


def entry(mean, per_class, n_labels, classes=10, std=0.01):
    return {"mean": mean, "std": std, "labels_per_class": per_class, "n_labels": n_labels, "classes": classes}


def test_budget_curve_sorts_budgets_and_places_all_at_its_mean_per_class():
    cache = {
        "linear/label/all/s3": entry(0.97, 0, 1438),
        "linear/label/10/s3": entry(0.91, 10, 100),
        "linear/label/1/s3": entry(0.55, 1, 10),
        "linear/color/1/s3": entry(0.9, 1, 6, classes=6),  # another target
        "finetune/label/1/s3/t200": entry(0.58, 1, 10),  # another kind
        "knn_k": {"1": 0.9},
        # `probe --seeds 5` and a fine-tune of other steps beside them: not a second point at their budget (the
        # curve had two at 1 label, and the lower, from 5 draws, became the headline; an evaluation-protocol review)
        "linear/label/1/s5": entry(0.45, 1, 10),
        "finetune/label/1/s3/t50": entry(0.40, 1, 10),
    }
    x, y, err = readouts.budget_curve(cache, "linear")
    assert x == [1.0, 10.0, 143.8] and y == [0.55, 0.91, 0.97] and err == [0.01] * 3
    assert readouts.budget_curve(cache, "finetune")[1] == [0.58]
    assert readouts.budget_curve(cache, "linear", target="color")[0] == [1.0]
    assert readouts.budget_curve(cache, "supervised-scratch") is None
    assert readouts.value_at((x, y, err), 10) == 0.91 and readouts.value_at(None, 1) is None
    assert readouts.budget_ticks([(x, y, err)]) == ([1.0, 10.0, 143.8], ["1", "10", "all (144)"])
    # a lesson's supervised reference at its own draws and steps (a preview's 1 and 20) is drawn, at those only
    refs = {"supervised-scratch/label/1/s1/t20": entry(0.3, 1, 10), "supervised-scratch/label/1/s3/t200": entry(0.5, 1, 10),
            "random-linear/label/1/s3": entry(0.2, 1, 10)}
    assert {k: v[1] for k, v in readouts.reference_curves(refs, scratch=(1, 20)).items()} == {
        "random encoder, linear": [0.2], "supervised from scratch": [0.3]}
    assert readouts.reference_curves(refs)["supervised from scratch"][1] == [0.5]


def test_mismatches_name_what_makes_a_comparison_unfair():
    same = {"dataset": "digits", "seed": 0, "epochs": 10, "batch_size": 128, "encoder": "cnn-small"}
    assert readouts.mismatches([same, dict(same)]) == []
    out = readouts.mismatches([same, {**same, "seed": 1, "epochs": 0}])
    assert out == ["seed (0, 1)", "epochs (0, 10)"]
    # a run left at the dataset's default batch size is the same as one that names it
    default = {**same, "batch_size": None}
    assert readouts.mismatches([default, {**same, "batch_size": 32}]) == []
    assert readouts.mismatches([default, same]) == ["batch size (128, 32)"]
    # with names, each value says whose it is
    out = readouts.mismatches([same, {**same, "seed": 1}, {**same, "dataset": "shapes"}], ["a", "b", "c"])
    assert out == ["dataset (digits: a, b; shapes: c)", "seed (0: a, c; 1: b)"]
    # the learning rate, and one method's options: neither is a column of Compare's table
    sim = {**same, "method": "simclr", "lr": 0.002, "options": {}}
    out = readouts.mismatches([sim, {**sim, "lr": 1.0}, {**sim, "method": "rotation"}], ["a", "b", "c"])
    assert out == ["learning rate (0.002: a, c; 1: b)"]
    out = readouts.mismatches([sim, {**sim, "options": {"temperature": 0.1}}, {**sim, "method": "byol",
                                                                                 "options": {"tau_base": 0.99}}])
    assert out == ["simclr options (defaults, temperature=0.1)"]  # byol's own options differ from simclr's by nature
    # as --option and the pickers write them (a browser check: "stop_gradient=False" beside "stop_gradient=false")
    siam = {**same, "method": "simsiam", "options": {}}
    assert readouts.mismatches([siam, {**siam, "options": {"stop_gradient": False}}]) == [
        "simsiam options (defaults, stop_gradient=false)"]


def test_runs_launched_with_auto_and_cnn_small_trained_the_same_encoder():
    """The Pretrain page stores encoder "auto", a lesson "cnn-small": on a CPU both trained
    cnn-small, and Compare warned that their encoders differed. What a finished run's summary
    says it trained with is compared; a queued run's own setting, before that."""
    cfg = {"dataset": "digits", "seed": 0, "epochs": 3, "batch_size": 32, "method": "rotation", "lr": 0.002,
           "options": {}}
    auto = {"config": {**cfg, "encoder": "auto"}, "summary": {"encoder": "cnn-small", "augment": "digits"}}
    named = {"config": {**cfg, "encoder": "cnn-small", "method": "simclr"}, "summary": {"encoder": "cnn-small"}}
    queued = {"config": {**cfg, "encoder": "auto"}, "summary": None}
    assert readouts.trained_config(auto) == {**cfg, "encoder": "cnn-small", "augment": "digits"}
    assert readouts.mismatches([readouts.trained_config(r) for r in (auto, named)]) == []
    assert readouts.mismatches([readouts.trained_config(r) for r in (queued, named)]) == ["encoder (auto, cnn-small)"]
    assert readouts.encoder_of(auto) == "cnn-small" and readouts.encoder_of(queued) == "auto"
    from app import services  # pickers name the encoder a finished run trained, whichever way it was asked for

    assert services.run_label({**auto, "id": "x"}) == "rotation · digits · cnn-small · 3 ep · x"
    assert services.run_label({**queued, "id": "x"}) == "rotation · digits · 3 ep · x"


def test_a_runs_label_says_whose_only_in_a_picker_and_a_score_of_zero_as_zero():
    """A picker's label (``who``) adds who made the run, so typing "by ada" finds it; the
    Markdown that names a run says whose in its own words. A kNN accuracy of 0 is a score."""
    from app import services

    run = {"id": "x", "nickname": "ada", "config": {"method": "simclr", "dataset": "digits", "epochs": 1},
           "summary": {"knn_accuracy": 0.0, "encoder": "cnn-small"}}
    assert services.run_label(run) == "simclr · digits · cnn-small · 1 ep · kNN 0.000 · x"
    assert services.run_label(run, who=True) == "simclr · digits · cnn-small · 1 ep · kNN 0.000 · by ada · x"


def test_epoch_and_probe_series():
    recs = [{"epoch": 0, "epoch_knn": 0.8}, {"epoch": 1, "loss": 4.0, "epoch_knn": 0.85}]
    assert readouts.epoch_curve(recs, "epoch_knn") == ([0, 1], [0.8, 0.85])
    assert readouts.epoch_curve(recs, "loss") == ([1], [4.0])
    assert readouts.epoch_curve([], "loss") is None
    probes = {"knn_k": {"20": 0.9, "1": 0.95, "100": 0.8, "5": 0.93},
              "invariance": {"flip": {"score": 0.9}, "grayscale": {"skipped": "no colour"}},
              "factors": {"color": {"2": {"mean": 0.8}}}}
    assert readouts.knn_k_curve(probes) == ([1, 5, 20, 100], [0.95, 0.93, 0.9, 0.8])
    assert readouts.invariance_values(probes, ["flip", "grayscale", "crop"]) == [0.9, None, None]
    assert readouts.factor_values(probes, ["color", "shape"], "2") == [0.8, None]


def test_the_lessons_invariance_chart_labels_a_run_on_an_unreliable_scale():
    """The color-invariance lesson's chart: a run whose unrelated images are nearly alike in
    its features (cached before the mark existed) is named as on an unreliable scale."""
    from app.lessons import figures
    from ssrl_core import lessons as L

    def run(unrelated, score):
        inv = {"color_jitter": {"score": score, "similarity": 0.5, "unrelated": unrelated}}
        return L.RunData(summary={}, probes={"invariance": inv}, epochs=[], references={})

    lesson = L.load_by_name("color-invariance")
    data = {"jitter": run(0.6, 0.94), "no-jitter": run(0.997, -93.45)}
    [fig] = [f for title, f, _ in figures(lesson, data) if "invariance" in f.layout.yaxis.title.text]
    from app.charts import VALUE_LABELS

    assert [t.name for t in fig.data if t.name != VALUE_LABELS] == ["jitter", "no-jitter · unreliable scale"]
    assert readouts.invariance_series({"a": data["jitter"].probes}, ["color_jitter"]) == {"a": [0.94]}


def test_a_lessons_chart_of_numbers_names_them_in_words_with_room_for_their_labels():
    """labels-are-expensive's bars were named 'simclr.supervised_scratch@1', turned and cut at
    the bottom, on an axis called 'value', with the tallest bar's label cut at the top; then six
    names of three and four lines each, which a phone turned upright into each other. Its six
    numbers are a grid: a group per budget, a bar per kind of readout, the random encoder's gray."""
    from app.charts import REF_GRAYS, VALUE_LABELS
    from app.lessons import figures
    from ssrl_core import lessons as L

    lesson = L.load_by_name("labels-are-expensive")
    point = lambda b, m: {"mean": m, "std": 0.02, "labels_per_class": int(b), "n_labels": 10 * int(b), "classes": 10}  # noqa: E731
    refs = {f"random-linear/label/{b}/s3": point(b, m) for b, m in (("1", 0.37), ("10", 0.80))}
    refs |= {f"supervised-scratch/label/{b}/s3/t200": point(b, m) for b, m in (("1", 0.54), ("10", 0.93))}
    probes = {f"linear/label/{b}/s3": point(b, m) for b, m in (("1", 0.63), ("10", 0.94))}
    data = {"simclr": L.RunData(summary={}, probes=probes, epochs=[], references=refs)}
    [fig] = [f for title, f, _ in figures(lesson, data) if title == "One and ten labels per class"]
    bars = {t.name: t for t in fig.data if t.type == "bar" and t.name != VALUE_LABELS}
    assert list(bars) == ["linear readout", "supervised from scratch", "random encoder's readout"]
    assert all(list(t.x) == ["1 label/class", "10 labels/class"] for t in bars.values())
    assert [list(t.y) for t in bars.values()] == [[0.63, 0.94], [0.54, 0.93], [0.37, 0.80]]
    assert bars["random encoder's readout"].marker.color in REF_GRAYS and fig.layout.yaxis.title.text == "accuracy"
    low, high = fig.layout.yaxis.range
    assert low == 0 and high >= 0.94 * 1.1  # room above 0.94 for its label
    # a lesson of several runs names the run too; a number that is no accuracy is a "value"
    collapse = L.load_by_name("canonical-view")
    assert L.metric_label(collapse, "rotation-digits.epoch:rotation_acc@last") == \
        "rotation-digits: rotation-prediction accuracy in training, last epoch"
    assert L.is_accuracy(collapse, "rotation-digits.rotation_equivariance")
    assert not L.is_accuracy(collapse, "rotation-digits.effective_rank")


def test_a_lessons_numbers_of_several_runs_are_grouped_by_run_and_what_makes_no_grid_is_named_whole():
    from app.lessons import metric_grid
    from ssrl_core import lessons as L

    view = L.load_by_name("canonical-view")
    refs = [f"{r}.rotation_equivariance" for r in ("rotation-digits", "random-digits", "rotation-shapes", "random-shapes")]
    cats, series, grays = metric_grid(view, refs, [0.9, 0.3, 0.26, 0.25])
    assert cats == ["rotation-digits", "random-digits", "rotation-shapes", "random-shapes"]
    assert series == {"rotation read off the features": [0.9, 0.3, 0.26, 0.25]} and grays == []
    # a kNN accuracy (no qualifier) beside a budget's readout: no grid, each number a bar named whole
    one = L.load_by_name("labels-are-expensive")
    cats, series, grays = metric_grid(one, ["simclr.knn_accuracy", "simclr.linear@1"], [0.95, None])
    assert cats == ["kNN accuracy", "linear readout<br>1 label/class"]
    assert series == {"measured": [0.95, None]} and grays == []
    # a grid with a hole (two budgets, a readout missing at one): named whole too, not drawn as n/a
    cats, _, _ = metric_grid(one, ["simclr.linear@1", "simclr.random_linear@1", "simclr.linear@10"], [0.6, 0.3, 0.9])
    assert len(cats) == 3


def test_references_of_one_kind_are_told_apart_by_their_dashes():
    """Several seeds' random encoders are each drawn in the random gray, in a dash of its own."""
    from app import charts

    line = ([1, 5], [0.4, 0.5], None)
    refs = ["random encoder (seed 0)", "random encoder (seed 1)", "supervised from scratch (seed 0)"]
    fig = charts.curves({"simclr (ab12) linear": line, **{r: line for r in refs}}, "labels", dashed=refs)
    style = {t.name: (t.line.dash, t.line.color) for t in fig.data}
    assert style["simclr (ab12) linear"][0] == "solid"
    assert style["random encoder (seed 0)"][1] == style["random encoder (seed 1)"][1] != style[refs[2]][1]
    assert len({style[r][0] for r in refs[:2]}) == 2 and "solid" not in {style[r][0] for r in refs}
    # the two kinds differ in their markers too, not in shade alone (they sat on each other at 1 label per class)
    marker = {t.name: t.marker.symbol for t in fig.data}
    assert marker[refs[0]] == marker[refs[1]] != marker[refs[2]] and marker[refs[2]] != marker["simclr (ab12) linear"]


def test_a_run_keeps_its_colour_and_marker_in_a_chart_of_some_of_the_runs():
    """``colour_order``: Compare draws each dataset's runs in charts of their own, where a shapes run
    drawn first in its chart would take the colour a digits run has in the row above."""
    from app import charts

    line = ([1, 5], [0.4, 0.5], None)
    look = lambda fig: {t.name: (t.line.color, t.marker.symbol) for t in fig.data}  # noqa: E731
    every = look(charts.curves({n: line for n in ("a", "b", "c")}, "labels"))
    some = look(charts.curves({"c": line, "ref": line}, "labels", dashed=["ref"], colour_order=["a", "b", "c"]))
    assert some["c"] == every["c"] != look(charts.curves({"c": line}, "labels"))["c"]
    assert some["ref"] == (charts.OTHER_GRAY, "hexagon-open") and "hexagon" not in charts.SYMBOLS  # (a reference stays gray, dashed)


def test_a_run_keeps_its_bars_colour_and_pattern_in_a_chart_of_some_of_the_runs():
    """``bars``' ``colour_order``, as ``curves``': Invariance's chart of ops leaves out a run not
    measured yet, and the run after it took its colour."""
    from app import charts

    look = lambda fig: {t.name: (t.marker.color, t.marker.pattern.shape) for t in fig.data if t.type == "bar" and t.name}  # noqa: E731
    every = look(charts.bars(["crop"], {"a": [0.5], "b": [0.6], "ref": [0.2]}, "invariance", references=["ref"]))
    some = look(charts.bars(["crop"], {"b": [0.6], "ref": [0.2]}, "invariance", references=["ref"],
                            colour_order=["a", "b"]))
    assert some["b"] == every["b"] != look(charts.bars(["crop"], {"b": [0.6]}, "invariance"))["b"]
    assert some["ref"] == every["ref"]  # (a reference stays gray)


def test_curves_on_a_log_axis_are_drawn_aside_of_each_other_at_one_budget():
    """At 1 label per class four runs and two references within 0.02 of each other drew their
    markers and whiskers on one another: on a log axis each curve is moved aside a little, in its
    order, the points of neighbouring budgets (5 and 10, 0.3 decades apart) never mixing; the
    hover gives the true budget. On a linear axis (epochs) nothing moves."""
    import math

    from app import charts

    budgets = [1, 5, 10, 50, 180]
    names = [f"run {i}" for i in range(6)]
    fig = charts.curves({n: (budgets, [0.5] * 5, [0.02] * 5) for n in names}, "labelled images per class (log scale)",
                        log_x=True, dashed=names[4:])
    for j, b in enumerate(budgets):
        at = [math.log10(t.x[j]) for t in fig.data]
        assert at == sorted(at) and len(set(at)) == 6 and all(t.customdata[j] == b for t in fig.data)
        assert max(at) - min(at) == pytest.approx(charts.DODGE_DECADES) and abs(sum(at) / 6 - math.log10(b)) < 1e-9
    assert max(math.log10(t.x[1]) for t in fig.data) < min(math.log10(t.x[2]) for t in fig.data)  # 5 and 10 apart
    assert "labelled images per class: %{customdata}" in fig.data[0].hovertemplate
    # a point with a tick is hovered with its words: "all (180)", not 179.6 labelled images per class
    ticked = charts.label_efficiency({"a linear": ([1, 179.6], [0.5, 0.9], [0.0, 0.0])}, {})
    assert list(ticked.data[0].customdata) == [1, "all (180)"]
    flat = charts.curves({n: ([0, 1, 2], [0.5, 0.6, 0.7], None) for n in names[:2]}, "epoch")
    assert [list(t.x) for t in flat.data] == [[0, 1, 2]] * 2


def test_a_flat_curve_gets_an_axis_around_its_value():
    """A constant accuracy (a tiny set's kNN stuck at 0.5) is drawn on 0.45..0.55, not Plotly's
    -0.5..1.5; a curve that moves keeps the automatic range."""
    from app import charts

    flat = charts.curves({"run": ([0, 1, 2], [0.5, 0.5, 0.5], None)}, "epoch")
    assert list(flat.layout.yaxis.range) == [0.45, 0.55]
    assert charts.curves({"run": ([0, 1], [0.5, 0.6], None)}, "epoch").layout.yaxis.range is None
    # an accuracy curve moving 1.5 points is not stretched to the chart's height (it read as a collapse)
    close = {"a": ([0, 1], [0.312, 0.297], None), "b": ([0, 1], [0.30, 0.305], None)}
    lo, hi = charts.curves(close, "epoch", min_span=charts.ACCURACY_SPAN).layout.yaxis.range
    assert hi - lo == pytest.approx(0.1) and (lo + hi) / 2 == pytest.approx(0.3045)
    # a chart's plot keeps its height when its legend grows: six lines below a third-of-a-page chart left it 42 px
    many = {f"run {i}": ([0, 1], [0.3, 0.6], None) for i in range(6)}
    assert charts.curves(many, "epoch", height=320).layout.height - charts.curves(close, "epoch", height=320).layout.height \
        == 3 * charts.LEGEND_ROW_PX
    wide = {"a": ([0, 1], [0.3, 0.6], None)}
    assert charts.curves(wide, "epoch", min_span=charts.ACCURACY_SPAN).layout.yaxis.range is None


def test_runs_of_one_method_are_named_by_what_tells_them_apart():
    """Two SimSiam runs, one without stop-gradient, were 'simsiam (9c9a)' and 'simsiam (31d0)' in
    every legend; a run of another method keeps its short name."""
    from app import readouts

    def run(i, method, augment="simclr", options=None, epochs=10, seed=0, summary=None, dataset="digits"):
        return {"id": f"20261205-000{i}", "method": method, "summary": summary, "dataset": dataset,
                "config": {"method": method, "dataset": dataset, "augment": augment, "encoder": "cnn-small",
                           "epochs": epochs, "seed": seed, "options": options or {}}}

    runs = [run(1, "simsiam"), run(2, "simsiam", options={"stop_gradient": False}), run(3, "byol")]
    assert readouts.run_names(runs) == {"20261205-0001": "simsiam (0001) · stop_gradient=true",
                                        "20261205-0002": "simsiam (0002) · stop_gradient=false",
                                        "20261205-0003": "byol (0003)"}
    # augmentations first, then the options that differ (not those that agree), then the budget and seed
    runs = [run(1, "simclr", "crop,flip", {"temperature": 0.2, "proj_dim": 64}, epochs=10),
            run(2, "simclr", "crop,flip,color_jitter", {"temperature": 0.5, "proj_dim": 64}, epochs=30, seed=1)]
    assert list(readouts.run_names(runs).values()) == [
        "simclr (0001) · aug: crop,flip · temperature=0.2 · 10 epochs · seed 0",
        "simclr (0002) · aug: crop,flip,color_jitter · temperature=0.5 · 30 epochs · seed 1"]
    # a summary's resolved augmentations count, not the config's ("simclr" is a preset: said so)
    same = [run(1, "simclr"), run(2, "simclr", summary={"augment": "crop,flip"})]
    assert list(readouts.run_names(same).values()) == ["simclr (0001) · aug: simclr preset",
                                                      "simclr (0002) · aug: crop,flip"]
    # runs on two datasets are told apart by them (Compare draws a row per dataset): 1 epoch, not "1 epochs"
    apart = [run(1, "simclr", epochs=1), run(2, "simclr", epochs=3, dataset="shapes"), run(3, "simclr", epochs=3)]
    assert list(readouts.run_names(apart).values()) == ["simclr (0001) · 1 epoch", "simclr (0002)", "simclr (0003) · 3 epochs"]
    # an augmentation read as it parses: one recorded as typed before ('flip,', spaces) is the run beside it
    typed = [run(1, "simclr", "crop(min_scale=0.3), flip,"), run(2, "simclr", "crop(min_scale=0.3),flip", epochs=3)]
    assert list(readouts.run_names(typed).values()) == ["simclr (0001) · 10 epochs", "simclr (0002) · 3 epochs"]
    # Invariance always says what a run was augmented with, even alone
    assert readouts.run_names(runs[:1], augment=True) == {"20261205-0001": "simclr (0001) · aug: crop,flip"}
    # runs alike but for who made them say whose (a class's SimCLR runs read alike but for their ids); a run
    # of other settings, or twins of one person, do not
    class_runs = [{**run(1, "simclr"), "nickname": "Ada"}, {**run(2, "simclr"), "nickname": "bo"},
                  {**run(3, "simclr"), "nickname": None}, {**run(4, "simclr", epochs=3), "nickname": "cy"},
                  {**run(5, "byol"), "nickname": "ada"}, {**run(6, "byol"), "nickname": "ADA"},
                  {**run(7, "byol"), "nickname": "lesson:four_families"}]
    assert list(readouts.run_names(class_runs).values()) == [
        "simclr (0001) · 10 epochs · by Ada", "simclr (0002) · 10 epochs · by bo", "simclr (0003) · 10 epochs · by someone",
        "simclr (0004) · 3 epochs", "byol (0005) · by ada", "byol (0006) · by ADA", "byol (0007) · lesson four_families"]


def test_the_epoch_knn_note_quotes_the_runs_own_numbers_and_names_their_set():
    """Under a kNN-over-epochs chart: each curve's end beside the table's kNN accuracy of that
    run, not a fixed example that matched nothing on screen. It said "(digits has 1,438)" and
    "the curve usually ends a little below it" under every chart, also under a shapes run whose
    curve ended at 0.303 against the table's 0.406 (1,024 of shapes' 8,000 train images vote)."""
    from app import readouts

    runs = [{"id": "20261204-0001", "method": "simclr", "dataset": "shapes", "summary": {"knn_accuracy": 0.406}},
            {"id": "20261204-0002", "method": "byol", "dataset": "shapes", "summary": None}]  # (not finished)
    curves = {"simclr (0001)": ([0, 1], [0.312, 0.303], None), "byol (0002)": ([0], [0.3], None)}
    names = {r["id"]: readouts.short_name(r) for r in runs}
    note = readouts.epoch_knn_note(runs, curves, names, train_images={"shapes": 8000})
    assert "(shapes has 8,000): fewer vote here" in note and "digits" not in note and "a little" not in note
    assert "can end well below it (0.103 here)" in note
    assert "can end below it (0.025 here)" in readouts.epoch_knn_ends([("a", 0.9, 0.925)])  # "well" only past 0.05
    assert note.endswith(" Here: simclr (0001) 0.303 at its last epoch, 0.406 in the table.")
    # a gap of 0.02 at most is "a little"; a set whose train images all vote says so; nothing quoted, nothing claimed
    digits = [{**runs[0], "dataset": "digits", "summary": {"knn_accuracy": 0.928}}]
    close = readouts.epoch_knn_note(digits, {"simclr (0001)": ([0, 1], [0.8, 0.908], None)}, names,
                                    train_images={"digits": 1438})
    assert "(digits has 1,438): fewer vote here, and the curve ends a little below it (within 0.02 here)" in close
    small = readouts.epoch_knn_note([{**digits[0], "dataset": "mine"}], {"simclr (0001)": ([0, 1], [0.5, 0.92], None)},
                                    names, train_images={"mine": 800})
    assert "(mine has 800): all of them vote here too" in small
    unknown = readouts.epoch_knn_note(runs[1:], curves, names)
    assert "Here" not in unknown and "a little" not in unknown and "usually ends below it" in unknown
    assert "has" not in unknown.split(":")[0]  # no set's count where none is known
    assert unknown.count("\n") == 0  # one paragraph


def test_epochs_are_ticked_at_whole_numbers():
    """A 2-epoch run's curves had ticks at 0.5 and 1.5, epochs no run has; whole-number x over
    a short span is ticked at every whole number, and Plotly keeps its own ticks otherwise."""
    from app import charts

    assert charts.curves({"run": ([0, 1, 2], [0.5, 0.6, 0.7], None)}, "epoch").layout.xaxis.dtick == 1
    assert charts.curves({"run": (list(range(31)), [0.5] * 31, None)}, "epoch").layout.xaxis.dtick is None
    assert charts.curves({"run": ([0.5, 1.0], [3.9, 3.1], None)}, "epoch").layout.xaxis.dtick is None
    assert charts.curves({"run": ([1, 5, 10], [0.4, 0.5, 0.6], None)}, "labels", log_x=True).layout.xaxis.dtick is None


def test_every_chart_names_its_text_sizes_for_a_projector():
    """Streamlit's chart theme sets the ticks', legend's and titles' sizes itself (12 to 14 px), so a
    plain ``layout.font`` did nothing: each part is sized by name, at least 14 px."""
    import numpy as np

    from app import charts

    line = {"run": ([1, 5], [0.4, 0.5], None)}
    figs = [charts.loss_curve([0, 1], [2.0, 1.0]), charts.accuracy_bars(["a"], {"kNN": [0.9]}),
            charts.curves(line, "epoch"), charts.bars(["crop"], {"a": [0.5]}, "score"),
            charts.label_efficiency(line, {}),
            charts.embedding_map(np.zeros((3, 2)), np.array([0, 1, 0]), ["x", "y"])]
    for fig in figs:
        lay = fig.layout
        assert min(lay.font.size, lay.legend.font.size, lay.xaxis.tickfont.size, lay.yaxis.tickfont.size,
                   lay.xaxis.title.font.size, lay.yaxis.title.font.size) >= 14


def test_runs_are_told_apart_by_more_than_colour():
    """Four runs (the four-families lesson) in the palette's first four colours: green and red
    are 7 CIELAB units apart for a deuteranope, so each run's line has its own marker and each
    run's bars their own fill pattern; the references keep their grays."""
    from app import charts

    line = ([1, 5], [0.4, 0.5], None)
    runs = ["simclr", "rotation", "inpainting", "deepcluster"]
    fig = charts.curves({**{r: line for r in runs}, "random encoder (seed 0)": line}, "epoch",
                        dashed=["random encoder (seed 0)"])
    assert len({t.marker.symbol for t in fig.data[:4]}) == 4
    bars = charts.bars(["crop"], {**{r: [0.5] for r in runs}, "random encoder": [0.3]}, "score",
                       references=["random encoder"])
    assert len({t.marker.pattern.shape for t in bars.data[:4]}) == 4 and bars.data[4].marker.pattern.shape == ""


# Machado et al. (2009), severity 1, on linear RGB: how a deuteranope and a protanope see a colour
DEUTERANOPIA = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881))
PROTANOPIA = ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998))


def _lab(colour: str, seen_as=None):
    """CIELAB (D65) of "#rrggbb", as seen through a Machado matrix ``seen_as`` where given."""
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    if seen_as:
        lin = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, lin)))) for row in seen_as]
    xyz = [sum(m * c for m, c in zip(row, lin)) / w for row, w in zip(
        ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041)),
        (0.95047, 1.0, 1.08883))]
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def test_the_palette_stands_out_from_the_page_and_stays_apart_for_colour_blind_students():
    """WCAG 1.4.11: a run's line or a group's marker is 3:1 or more against the white page (the
    app's theme is light only); orange, pink, olive and cyan were 2.5, 2.7, 2.0 and 2.3:1. Darkened,
    no two of the first ten colours (the runs of a lesson, a map's ten digits) came closer for a
    deuteranope or a protanope: green and red stay the closest pair for the first, 7.3 CIELAB units,
    and orange and green (4.6) for the second. Named colours too, but yellow and white (see figures)."""
    import itertools
    import math

    from app.charts import contrast
    from ssrl_core.figures import NAMED_COLOURS, PALETTE

    low = {c: round(contrast(c, "#ffffff"), 2) for c in PALETTE if contrast(c, "#ffffff") < 3}
    assert not low, f"palette colours under 3:1 on white: {low}"
    named = {n: c for n, c in NAMED_COLOURS.items() if n not in ("yellow", "white") and contrast(c, "#ffffff") < 3}
    assert not named, f"named colours under 3:1 on white: {named}"
    for seen_as, closest in ((DEUTERANOPIA, 7.2), (PROTANOPIA, 4.5), (None, 27)):
        nearest = min((math.dist(_lab(a, seen_as), _lab(b, seen_as)), a, b)
                      for a, b in itertools.combinations(PALETTE[:10], 2))
        assert nearest[0] >= closest, nearest
    shapes = ["red", "yellow", "green", "cyan", "blue", "magenta"]  # shapes' colours, as a map draws them
    for seen_as, closest in ((DEUTERANOPIA, 7.2), (PROTANOPIA, 20)):
        assert min(math.dist(_lab(NAMED_COLOURS[a], seen_as), _lab(NAMED_COLOURS[b], seen_as))
                   for a, b in itertools.combinations(shapes, 2)) >= closest


def test_bar_charts_write_their_categories_on_short_level_lines_whole_and_apart():
    """A browser review at 390x844: Evaluate's "random encoder (seed 0)" beside two runs did not fit
    level under its bars, Plotly slanted the labels 30 degrees, and the last one reached past the
    plot's right edge, which Streamlit's automargin moved in: the bars had 165 px of the chart's 358
    (Invariance's factor probes, 241). Each label is now on lines of at most ``TICK_CHARS``, nothing
    lost and none like another, slanted (where at all) to end at its tick, never rightwards; the chart
    grows by its extra lines, and a bar's hover names its run whole."""
    from app import charts

    runs = ["rotation (9e10)", "simclr (4728)", "barlow_twins (1a2b)", "random encoder (seed 0)",
            "random cnn-small (seed 1)", "random · cnn-small seed 0 · untrained"]
    ops = ["crop", "flip", "color_jitter", "grayscale", "blur", "rotate", "solarize", "erase", "noise"]
    named = charts.bars(runs, {"kNN": [0.9] * 6, "linear": [0.95] * 6}, "accuracy", references=runs[3:])
    inv = charts.bars(ops, {"simclr (4728) · aug: digits preset": [0.5] * 9}, "score")
    for fig, labels in ((named, runs), (inv, ops)):
        axis = fig.layout.xaxis
        assert list(axis.tickvals) == labels and axis.tickmode == "array"
        text = list(axis.ticktext)
        assert [t.replace("<br>", " ") for t in text] == labels  # each whole, in order ...
        assert len(set(text)) == len(labels)  # ... and told apart
        for t in text:  # each line short, unless it is one word, which is never broken
            assert all(len(line) <= charts.TICK_CHARS or " " not in line for line in t.split("<br>")), t
            assert not any(line.startswith("·") for line in t.split("<br>")), t
        # level, else slanted up to its tick (into the value axis's margin), else upright: Plotly's own 30
        # degrees (its default, [0, 30, 90]) reach past the right edge
        assert axis.tickangle in (None, "auto") and list(axis.autotickangles) == [0, -30, 90]
        for bar in [t for t in fig.data if t.type == "bar" and t.hoverinfo != "skip"]:
            assert list(bar.hovertext) == labels and "%{hovertext}" in bar.hovertemplate and "%{x}" not in bar.hovertemplate
    assert text == ops  # one word each: as they were
    assert charts.wrap("random encoder (seed 0)") == "random<br>encoder<br>(seed 0)"
    assert charts.wrap("random · cnn-small seed 0 · untrained") == "random ·<br>cnn-small<br>seed 0 ·<br>untrained"
    # the plot keeps its height: the chart grows by each line its tallest label has beyond one
    assert named.layout.height - charts.bars(["simclr"], {"kNN": [0.9]}, "accuracy").layout.height == 3 * charts.TICK_LINE_PX
    assert inv.layout.height == charts.bars(["crop"], {"a": [0.5]}, "score").layout.height


def test_accuracy_bars_lie_down_one_row_per_run_named_level_beside_it():
    """A phone review: Evaluate's seven runs and untrained encoders, named under upright bars, had
    their names turned upright, and at 358 px each ran into the next (6 of 6), the plot 172 px of
    the chart's 380. The bars lie down: one row per run, top to bottom in the table's order, its
    name on short level lines beside it (whole, told apart), each value level at its bar's end
    (past the plot's edge for a bar that reaches 1), the chart a row taller per run."""
    from app import charts

    runs = ["rotation (9e10)", "simclr (4728)", "random encoder (seed 0)", "random · cnn-small seed 0 · untrained"]
    acc = charts.accuracy_bars(runs, {"kNN": [0.9, 1.0, None, 0.3], "linear": [0.95, 0.5, 0.4, 0.2]},
                               references=runs[2:])
    axis = acc.layout.yaxis
    assert list(axis.tickvals) == runs and axis.autorange == "reversed"  # the first run on top
    assert [t.replace("<br>", " ") for t in axis.ticktext] == runs and len(set(axis.ticktext)) == 4
    assert all(len(line) <= charts.TICK_CHARS or " " not in line for t in axis.ticktext for line in t.split("<br>"))
    knn, lin = acc.data
    assert (knn.orientation, list(knn.y), list(knn.x)) == ("h", runs, [0.9, 1.0, None, 0.3])
    assert list(knn.text) == ["0.900", "1.000", "", "0.300"] and knn.textposition == "outside" and knn.cliponaxis is False
    assert list(knn.hovertext) == runs and "%{hovertext}" in knn.hovertemplate and "%{y}" not in knn.hovertemplate
    assert list(acc.layout.xaxis.range) == [0, 1] and acc.layout.xaxis.title.text == charts.ACCURACY_AXIS
    assert acc.layout.margin.r >= charts.VALUE_ROOM_PX
    # a row per run, as high as the tallest name's lines (4 here)
    one = charts.accuracy_bars(["simclr"], {"kNN": [0.9]})
    assert acc.layout.height - one.layout.height == 4 * (4 * charts.TICK_LINE_PX + 8) - charts.BAR_ROW_PX
    # its runs' axis has no title: no placeholder ("test accuracy by category"), the values name each bar
    assert charts.describe(acc).startswith("bar chart: test accuracy; kNN, linear. Values: kNN: rotation (9e10) 0.900")
    assert not acc.layout.shapes  # no chance line unless the classes are known
    # shapes' 0.41 beside a guess's 0.17: a dotted line at chance, named in the legend
    six = charts.accuracy_bars(runs, {"kNN": [0.41, 0.3, 0.2, 0.1]}, references=runs[2:], classes=6)
    [line] = six.layout.shapes
    assert (line.x0, line.x1, line.yref, line.y0, line.y1) == (pytest.approx(1 / 6), pytest.approx(1 / 6), "paper", 0, 1)
    assert [t.name for t in six.data if t.type == "scatter"] == ["chance (1 in 6: 0.17)"]
    assert "Values: kNN: rotation (9e10) 0.900, simclr (4728) 1.000, random · cnn-small seed 0 · untrained 0.300;" \
        in charts.describe(acc)


def test_chart_colours_stand_out_from_the_page_and_their_labels_from_the_bars():
    """WCAG's ratios, computed: a reference's gray bar or line 3:1 against the white page (the
    bar for graphics; #cfcfcf was 1.6:1), a value written inside any bar 4.5:1 against it (white
    on orange was 2.1:1), and Evaluate's two metrics told apart by a pattern, not colour only."""
    from app import charts

    assert charts.contrast("#000000", "#ffffff") == 21 and charts.contrast("#777777", "#777777") == 1
    assert min(charts.contrast(g, "#ffffff") for g in charts.REF_GRAYS) >= 3
    assert charts.contrast(charts.LABEL_INK, "#ffffff") >= 4.5  # values are written on the page, beside their bars
    # and above them, on white (Streamlit's theme drew Evaluate's "0.905" at 3.7:1)
    outside = charts.accuracy_bars(["simclr"], {"kNN": [0.9]}).data[0]
    assert outside.textposition == "outside" and charts.contrast(outside.outsidetextfont.color, "#ffffff") >= 4.5
    cut = charts.bars(["crop"], {"a": [1.4], "random encoder": [1.3]}, "score", y_range=(0, 1),
                      references=["random encoder"])
    # a cut bar's value at the axis's edge, on white (upright inside a patterned bar, '-1.63' could not be read)
    labels = [(a.text, a.y, a.bgcolor) for a in cut.layout.annotations]
    assert labels == [("1.40", 1, "rgba(255,255,255,0.9)"), ("1.30", 1, "rgba(255,255,255,0.9)")]
    line = ([1, 5], [0.4, 0.5], None)
    refs = charts.curves({"random encoder": line, "supervised": line}, "labels", dashed=["random encoder", "supervised"])
    assert min(charts.contrast(t.line.color, "#ffffff") for t in refs.data) >= 3
    acc = charts.accuracy_bars(["simclr"], {"kNN": [0.9], "linear": [0.95]})
    assert acc.layout.xaxis.title.text == charts.ACCURACY_AXIS and len({t.marker.pattern.shape for t in acc.data}) == 2


def test_charts_and_images_are_described_for_screen_readers():
    import numpy as np

    from app import charts, readouts

    fig = charts.curves({"simclr (ab12)": ([1, 5], [0.4, 0.5], None)}, "epoch", y_title="kNN accuracy")
    assert charts.describe(fig) == "line chart: kNN accuracy by epoch; simclr (ab12). Values: simclr (ab12): 1 0.400, 5 0.500."
    # a screen reader gets the values, which only the hover gave: a log axis's true x, a bar cut at the axis its own
    le = charts.label_efficiency({"a linear": ([1, 5], [0.4, 0.5], [0.01, 0.02])}, {"random encoder, linear": ([1, 5], [0.3, 0.4], None)})
    assert charts.describe(le).endswith("Values: a linear: 1 0.400, 5 0.500; random encoder, linear: 1 0.300, 5 0.400.")
    bars = charts.bars(["crop", "flip"], {"run": [0.5, -3.0]}, "invariance", y_range=(-1.0, 1.15))
    assert charts.describe(bars).endswith("Values: run: crop 0.500, flip -3.000.")
    # a chart that shows no legend names no series ("loss by step; loss."): hidden, or one series (Plotly's default)
    assert charts.describe(charts.loss_curve([1, 2], [3.0, 2.5])) == \
        "line chart 'pretext loss': loss by step. Values: loss: 1 3.000, 2 2.500."
    assert charts.describe(charts.bars(["a", "b"], {"run": [0.5, 0.6]}, "accuracy")) == \
        "bar chart: accuracy. Values: run: a 0.500, b 0.600."
    long = charts.curves({"r": (list(range(100)), [i / 100 for i in range(100)], None)}, "epoch")
    assert charts.describe(long).endswith("Values: r: 0 0.000, 99 0.990.")
    m = charts.embedding_map(np.zeros((3, 2)), np.array([0, 1, 0]), ["cat", "dog"], highlight=[1], selected=0)
    assert charts.describe(m) == ("map of 3 images, each a point placed near images with similar features, "
                                  "coloured by cat, dog; each group's name is written where most of its points are; "
                                  "marked: neighbours, selected")
    # a class folder named '<img src=x>': Plotly's escape of it is read back (the page escapes the alt text itself,
    # and a screen reader read out '&amp;lt;img')
    odd = charts.embedding_map(np.zeros((2, 2)), np.array([0, 1]), ["<img src=x>", "a & b"])
    assert "coloured by <img src=x>, a & b" in charts.describe(odd)

    class Set:
        name = "pets"

        def label_name(self, row):
            return "cat"

        def file_name(self, row):
            return "a.png"

    assert readouts.image_alt(Set(), 3, 0.5) == "pets image #3 (a.png), labelled cat, similarity 0.500 to the query"


def test_an_unlabelled_imports_captions_say_its_images_have_no_label():
    """Data's and Augment's captions end in "?" on a set without labels: the line above them says why."""
    import torch

    from app import readouts
    from ssrl_core.data.imageset import ImageSet

    ds = ImageSet(name="loose", images=torch.zeros(2, 3, 8, 8, dtype=torch.uint8), labels=torch.tensor([-1, -1]),
                  class_names=[], is_train=torch.tensor([True, False]), files=["leaves/x.png", "leaves/y.png"])
    assert readouts.image_caption(ds, 1) == "#1 · y.png · ?"
    assert readouts.neighbour_caption(ds, 1, 0.5) == "#1 · y.png · ? · sim\u00a00.500"
    assert readouts.caption_key(ds) == ("its number in the set (#), its file's name, "
                                        "then its label (?: this set has none)")


def test_an_unknown_labels_image_is_described_without_a_label():
    """A screen reader heard "loose image #1 (y.png), labelled ?" for an image of a set without labels: "?" is the
    captions' mark of an unknown label, not a label; a labelled image of the same set keeps its own."""
    import torch

    from app import readouts
    from ssrl_core.data.imageset import ImageSet

    ds = ImageSet(name="loose", images=torch.zeros(2, 3, 8, 8, dtype=torch.uint8), labels=torch.tensor([0, -1]),
                  class_names=["leaf"], is_train=torch.tensor([True, False]), files=["leaves/x.png", "leaves/y.png"])
    assert ds.label_name(1) == "?"
    assert readouts.image_alt(ds, 1) == "loose image #1 (y.png)"
    assert readouts.image_alt(ds, 1, 0.5) == "loose image #1 (y.png), similarity 0.500 to the query"
    assert readouts.image_alt(ds, 0) == "loose image #0 (x.png), labelled leaf"


def test_a_query_opens_on_a_clear_example_of_its_class():
    """Compare opened on digits' first test image, a 5 drawn like a 9, whose neighbours in every
    run were 9s ("0 of 8 share the query's label"). It opens on the test image, of the first 20,
    whose nearest training images in pixel space share its label most, found in chunks of the
    training split as large sets need (the same answer in chunks of 100 as in one)."""
    import numpy as np

    from app.readouts import clear_example
    from ssrl_core.data import load_dataset

    ds = load_dataset("digits")
    row = clear_example(ds)
    assert row in ds.test_idx.numpy()[:20] and row == clear_example(ds, chunk=100)
    x = ds.images.reshape(len(ds), -1).float().numpy()
    train = ds.train_idx.numpy()
    near = train[np.argsort(((x[train] - x[row]) ** 2).sum(1))[:8]]
    first = int(ds.test_idx[0])
    near_first = train[np.argsort(((x[train] - x[first]) ** 2).sum(1))[:8]]
    labels = ds.labels.numpy()
    assert (labels[near] == labels[row]).sum() == 8 > (labels[near_first] == labels[first]).sum()


def test_a_factors_note_names_the_ops_that_change_it_and_what_a_two_view_loss_did_with_them():
    def run(method: str, augment: str) -> dict:
        return {"method": method, "config": {"augment": augment}, "summary": None, "dataset": "shapes"}

    assert readouts.factor_ops_note(run("simclr", "crop,flip"), "color") == (
        "None of this run's augmentations (`crop,flip`) change an image's colour, so nothing in its training asked "
        "it to ignore colour.")
    jitter = readouts.factor_ops_note(run("byol", "crop,color_jitter(hue=0.5),grayscale"), "color")
    assert jitter.startswith("This run trained with `color_jitter` (hue up to ±180°) and `grayscale`, which change an "
                             "image's colour: its loss pulled two views of each image together")
    assert jitter.endswith("which asks its features to ignore colour (how far they do: the Invariance page, beside a "
                           "run without them).")  # turned all round
    # the default hue turn is smaller than the gap between shapes' nearest colours: the map's colours can stay apart
    # (a review: the note said colour groups less, and the map below it showed six clean colour groups)
    small = readouts.factor_ops_note(run("simclr", "simclr"), "color")
    assert small.endswith("Its hue turns by at most ±36°, less than the 40° between the nearest two colours of "
                          "shapes, so no view of one colour looks like another and the colours can still stand apart "
                          "on the map (`color_jitter(hue=0.5)` turns hue all the way round).")
    from ssrl_core.data.shapes import hue_gaps

    assert [round(g) for g in hue_gaps()] == [40, 86]
    # a single-view task (rotation) is told the ops, not a pull between views it does not have
    assert readouts.factor_ops_note(run("rotation", "simclr"), "size_bin") == (
        "This run trained with `crop`, which changes an image's size.")
    assert readouts.factor_ops_note(run("simclr", "simclr"), "shape") is None  # no op changes the label
    assert readouts.factor_ops_note(run("simclr", "crop"), "label") is None


def test_maps_side_by_side_coloured_by_a_factor_say_which_runs_trained_to_ignore_it_and_why_colour_still_groups():
    """A student compared SimCLR with and without colour jitter on Compare, coloured by colour: both maps showed six
    clean colour groups, against the Invariance page's 0.95 and 0.46, and the reason was on Explore and Invariance
    only."""
    def run(i: int, augment: str) -> dict:
        return {"id": f"20261206-0000-{i:04d}", "method": "simclr", "config": {"augment": augment}, "summary": None,
                "dataset": "shapes"}

    plain, jitter = run(1, "crop,flip"), run(2, "crop,flip,color_jitter,grayscale")
    assert readouts.factor_maps_note([plain, jitter], "color") == (
        "Trained with augmentations that change an image's colour: simclr (0002) (`color_jitter` and `grayscale`). "
        "simclr (0002), comparing two views of each image, was asked to ignore colour; how far its features do is the "
        "Invariance page's measurement. simclr (0002) turns hue by at most ±36°, less than the 40° between the nearest "
        "two colours of shapes, so colours can still stand apart on its map.")
    whole_turn = run(3, "crop,color_jitter(hue=0.5)")
    note = readouts.factor_maps_note([plain, jitter, whole_turn], "color")
    assert "simclr (0002) (`color_jitter` and `grayscale`) and simclr (0003) (`color_jitter`)" in note
    assert "simclr (0002) and simclr (0003), comparing two views of each image, were asked" in note
    assert note.endswith("simclr (0002) turns hue by at most ±36°, less than the 40° between the nearest two colours "
                         "of shapes, so colours can still stand apart on its map.")  # not the one turning all round
    # a random run trained nothing; a rotation run compares no views (a code review)
    untrained = {**run(4, "crop,color_jitter"), "method": "random"}
    rotation = {**run(5, "crop,color_jitter(hue=0.5)"), "method": "rotation"}
    note = readouts.factor_maps_note([untrained, rotation], "color")
    assert note == ("Trained with augmentations that change an image's colour: rotation (0005) (`color_jitter`).")
    assert readouts.factor_maps_note([plain], "color") == (
        "None of these runs trained with an augmentation that changes an image's colour.")
    assert readouts.factor_maps_note([plain, run(6, "crop,zoom_blur")], "color") is None  # one cannot be read
    assert readouts.factor_maps_note([plain, jitter], "shape") is None  # the label: no op changes it
    assert readouts.factor_maps_note([plain, jitter], "label") is None


def test_a_run_whose_features_collapsed_is_said_to_have_collapsed():
    """A review: a rotation run on shapes ended at effective rank 1.4 (loss log 4) and no page said so."""
    assert "**Its features collapsed**: an effective rank of 1.4 means they vary along about one direction" in \
        readouts.collapse_note({"effective_rank": 1.4, "epochs": 3})
    assert "about two directions" in readouts.collapse_note({"effective_rank": 1.9, "epochs": 3})
    assert readouts.collapse_note({"effective_rank": 2.5, "epochs": 3}) is None and readouts.collapse_note({}) is None
    assert readouts.collapse_note({"effective_rank": 1.4, "epochs": 0}) is None  # untrained: nothing collapsed
    assert readouts.collapse_note(None) is None


def test_the_colour_by_boxes_name_factors_in_words():
    assert readouts.colour_choice("size_bin") == "size (size_bin)"
    assert readouts.colour_choice("rotation_bin") == "orientation (rotation_bin)"
    assert readouts.colour_choice("color") == "colour (color)"
    assert readouts.colour_choice("label") == "label" and readouts.colour_choice("shape") == "shape"


def test_the_image_that_shows_the_ops_is_one_a_flip_and_a_turn_visibly_move():
    """Invariance's strip of ops showed a large circle near the centre: its flip and its turn
    looked like the original. A disc near the centre, however large, is passed over for a shape
    away from it, and of those the largest is taken."""
    from types import SimpleNamespace

    import torch

    from app import readouts

    imgs = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    # a big disc 3 px off the centre: a flip changes more of its pixels than of any other image here, and it looks
    # the same
    imgs[0, :, (yy - 15.5) ** 2 + (xx - 18.5) ** 2 < 13 ** 2] = 200
    imgs[1, :, 2:6, 2:6] = 200  # a small square in a corner
    imgs[2, :, 2:12, 2:12] = 200  # a larger one in the same corner: moved as far, seen better
    imgs[3, :, 10:22, 10:22] = 200  # a centred square: unmoved
    ds = SimpleNamespace(images=imgs, test_idx=torch.arange(4).numpy())
    assert readouts.showcase_image(ds) == 2


def test_the_label_efficiency_note_gives_each_runs_gap_to_supervised_training_where_both_were_measured():
    """'As labels grow, supervised training catches up' stood under a reference measured at one
    budget, its curves within 0.02 of each other there."""
    from app import readouts

    lin = ([1.0, 5.0, 10.0, 50.0, 143.8], [0.62, 0.86, 0.93, 0.965, 0.972], [0.03, 0.02, 0.01, 0.004, 0.0])
    full = ([1.0, 5.0, 10.0, 50.0, 143.8], [0.5, 0.85, 0.92, 0.96, 0.975], [0.02] * 5)
    one = ([1.0], [0.61], [0.02])
    note = readouts.scratch_gaps({"simclr (0001)": (lin, full), "byol (0002)": (lin, one), "mae (0003)": (lin, None)})
    assert note == ("Here, the readout minus supervised from scratch: simclr (0001): +0.120 at 1 label per class, "
                    "-0.003 at all labels (supervised from scratch catches up at 5 labels per class, within the draws' "
                    "spread from there); byol (0002): +0.010 at 1 label per class. The supervised reference is "
                    "measured at one budget so far: where it catches up shows as the others are computed.")
    assert readouts.scratch_gaps({"mae (0003)": (lin, None)}) == ""


def test_the_label_efficiency_note_says_where_supervised_training_catches_up_or_that_it_was_ahead_from_the_start():
    """A 1-epoch SimCLR read 0.072 under supervised training at 1 label, under "as labels grow supervised training
    catches up (measured on digits: level ... at 5 labels per class)": a student answered "at 5 labels". Only what
    the draws' spread cannot make is said: ahead at the fewest labels, then level or behind for good; or never ahead."""
    from app import readouts

    x = [1.0, 5.0, 10.0, 50.0, 143.8]
    lin = (x, [0.62, 0.86, 0.93, 0.965, 0.972], [0.0] * 5)
    sup = (x, [0.5, 0.86, 0.94, 0.97, 0.975], [0.0] * 5)  # behind at 1, level at 5, ahead from then on
    assert readouts.scratch_gaps({"simclr (0001)": (lin, sup)}) == (
        "Here, the readout minus supervised from scratch: simclr (0001): +0.120 at 1 label per class, -0.003 at all "
        "labels (supervised from scratch catches up at 5 labels per class).")
    short = (x, [0.462, 0.80, 0.93, 0.965, 0.972], [0.0] * 5)
    assert readouts.scratch_gaps({"simclr (06c7)": (short, sup)}) == (
        "Here, the readout minus supervised from scratch: simclr (06c7): -0.038 at 1 label per class, -0.003 at all "
        "labels. For simclr (06c7), supervised training from scratch is level or ahead at every budget measured: its "
        "pretraining did not make the labels go further, and there is nothing to catch up.")
    # said once for every run it holds for (a browser check: three runs repeated a 25-word bracket three times)
    assert readouts.scratch_gaps({"a (1)": (short, sup), "b (2)": (lin, sup), "c (3)": (short, sup)}).endswith(
        "For a (1) and c (3), supervised training from scratch is level or ahead at every budget measured: their "
        "pretraining did not make the labels go further, and there is nothing to catch up.")
    one = ([1.0], [0.534], [0.02])  # one budget measured: nothing said of where the curves meet
    assert readouts.scratch_gaps({"simclr (06c7)": (short, one)}) == (
        "Here, the readout minus supervised from scratch: simclr (06c7): -0.072 at 1 label per class. The supervised "
        "reference is measured at one budget so far: where it catches up shows as the others are computed.")
    # behind at 1 label, ahead at every other budget (a code review): no claim
    ahead_later = ([1.0, 5.0, 10.0, 50.0], [0.59, 0.75, 0.8, 0.9], [0.0] * 4)
    sup_later = ([1.0, 5.0, 10.0, 50.0], [0.6, 0.7, 0.78, 0.89], [0.0] * 4)
    assert "(" not in readouts.scratch_gaps({"a": (ahead_later, sup_later)})
    # ahead, level, ahead again: the curves cross back, so no "catches up"
    back = (x, [0.62, 0.86, 0.95, 0.98, 0.98], [0.0] * 5)
    assert "catches up" not in readouts.scratch_gaps({"a": (back, sup)})
    # +0.050 at 1 label inside the draws' ±0.06 is level, not ahead: level or behind at every budget
    spread = (x, [0.55, 0.80, 0.93, 0.965, 0.972], [0.06, 0.02, 0.01, 0.004, 0.0])
    assert "level or ahead at every budget measured" in readouts.scratch_gaps({"a": (spread, sup)})
    ahead = (x, [0.6, 0.9, 0.95, 0.98, 0.98], [0.0] * 5)  # ahead everywhere: nothing added
    assert readouts.scratch_gaps({"simclr (0001)": (ahead, sup)}) == (
        "Here, the readout minus supervised from scratch: simclr (0001): +0.100 at 1 label per class, +0.005 at all "
        "labels.")


def test_a_run_trained_with_an_option_its_method_says_collapses_is_told_how_to_read_it():
    """A student turned SimSiam's stop-gradient off (rank 2.3 against 3.4, above the 2 that marks a collapse; std
    0.0209 against 0.0198) and no page said the run collapsed. Evaluate and Compare say which runs trained with an
    option their method's help says collapses, and to read the effective rank against the defaults."""
    from app import readouts

    def run(i, method, options, summary=None):
        return {"id": f"20261206-0000-{i:04d}", "method": method, "dataset": "digits", "summary": summary,
                "config": {"method": method, "options": options}}

    off = run(1, "simsiam", {"stop_gradient": False})
    both = run(2, "simsiam", {"stop_gradient": "false", "predictor": False, "proj_dim": 512})  # as a link gives it
    runs = [off, run(3, "simsiam", {"stop_gradient": True}), run(4, "simclr", {"temperature": 0.5}), both,
            run(5, "byol", {}), run(6, "simsiam", {"output_bn": False}),  # (collapses only without the stop-gradient)
            run(7, "simsiam", {}, summary={"options": {"predictor": False}})]
    assert readouts.collapse_options(off) == ["stop_gradient=false"]
    assert readouts.collapse_options(both) == ["stop_gradient=false", "predictor=false"]
    assert [readouts.collapse_options(r) for r in runs[1:3] + runs[4:6]] == [[], [], [], []]
    assert readouts.collapse_options(runs[6]) == ["predictor=false"]  # the summary's resolved options count
    for given in (0, "no", "False", " 0 "):  # as the method reads them (a code review: only False and "false" were)
        assert readouts.collapse_options(run(8, "simsiam", {"stop_gradient": given})) == ["stop_gradient=false"]
    assert readouts.collapse_options(run(9, "simsiam", {"stop_gradient": "yes", "predictor": "maybe"})) == []
    note = readouts.collapse_options_note(runs)
    assert note.startswith(f"{quiet_icon('compress')} simsiam (0001) with `stop_gradient=false`; simsiam (0002) with "
                           "`stop_gradient=false` and `predictor=false`; simsiam (0007) with `predictor=false`: trained "
                           "without what keeps their method from collapsing. Read the **effective rank** against the "
                           "same method's run with the defaults"), note
    assert readouts.collapse_options_note(runs[1:3]) is None


def test_a_pickers_label_says_what_tells_a_run_apart_right_after_its_method():
    from app import readouts, services

    def run(i, augment):
        return {"id": f"20261205-00000{i}", "method": "simclr", "dataset": "shapes", "status": "done",
                "summary": {"knn_accuracy": 0.5}, "config": {"method": "simclr", "dataset": "shapes",
                                                             "augment": augment, "encoder": "cnn-small", "epochs": 10}}

    runs = [run(1, "crop,flip"), run(2, "crop,flip,color_jitter")]
    tells = readouts.run_names(runs, keys=("augment",))
    labels = [services.run_label(r, tells[r["id"]].removeprefix(readouts.short_name(r))) for r in runs]
    assert labels == ["simclr · aug: crop,flip · shapes · cnn-small · 10 ep · kNN 0.500 · 20261205-000001",
                      "simclr · aug: crop,flip,color_jitter · shapes · cnn-small · 10 ep · kNN 0.500 · 20261205-000002"]


def test_fine_tuning_is_guessed_from_the_runs_training_speed_before_any_job_timed_one():
    from app import readouts
    from ssrl_core.evaluate.finetune import BATCH, STEPS
    from ssrl_core.evaluate.probes import SEEDS

    run = {"method": "simclr", "summary": {"images_per_s": 620.0}}  # two views an image: 1,240 views a second
    # digits: 10 classes; 5 labels per class is 50 images a step: 3 draws of 200 steps, fine-tuned and from scratch
    assert readouts.finetune_guess([run], (5,), 10) == 2 * STEPS * SEEDS * 50 / (2 * 620.0)
    every = readouts.finetune_guess([run, run], (1, 5, 10, 50, 0), 10)
    assert every == 2 * 2 * STEPS * SEEDS * (10 + 50 + BATCH * 3) / (2 * 620.0)  # 1 label/class: 10 images a step
    # the fastest run's speed serves all: a short run's is mostly its start-up; one without a speed takes it too
    slow = {"method": "simclr", "summary": {"images_per_s": 150.0}}
    assert readouts.finetune_guess([slow, run, {"method": "rotation", "summary": None}], (5,), 10) == \
        pytest.approx(3 * readouts.finetune_guess([run], (5,), 10))
    assert readouts.finetune_guess([{"method": "simclr", "summary": None}], (5,), 10) is None  # no speed: no guess


def test_a_legend_name_breaks_between_its_parts_and_a_part_longer_than_a_line_between_its_words():
    from app.charts import LEGEND_CHARS, legend_name

    long = "supervised from scratch (aug crop,flip,color_jitter,grayscale)"  # no " · ": ran past Compare's chart
    assert legend_name(long) == "supervised from scratch (aug<br>crop,flip,color_jitter,grayscale)"
    named = legend_name("simclr (0001) · aug: crop,flip,color_jitter,grayscale · temperature=0.5")
    assert named == "simclr (0001) ·<br>aug: crop,flip,color_jitter,grayscale ·<br>temperature=0.5"
    assert all(len(line) <= LEGEND_CHARS for line in named.split("<br>"))
    assert legend_name("simclr (0001) · aug: crop,flip") == "simclr (0001) · aug: crop,flip"  # short: as it is


def test_colorizations_untrained_network_is_named_apart_from_the_one_seeing_colour():
    """Colorization's untrained reference sees gray, as its encoder does: Evaluate drew one
    untrained row per encoder and seed, whichever run came first, and one reference curve."""
    from app import readouts

    def run(i, method):
        return {"id": f"20261205-000{i}", "method": method, "dataset": "shapes", "summary": None,
                "config": {"method": method, "dataset": "shapes", "encoder": "cnn-small", "seed": 0, "augment": "simclr"}}

    colour, gray = run(1, "simclr"), run(2, "colorization")
    assert readouts.pairing(colour) == ("cnn-small", 0, None) and readouts.pairing(gray) == ("cnn-small", 0, "luminance")
    assert [readouts.random_name(readouts.pairing(r), False) for r in (colour, gray)] == [
        "random encoder (seed 0)", "random encoder seeing gray (seed 0)"]
    tags = readouts.reference_tags([colour, gray])
    assert tags[colour["id"]]["random-linear"] == "seeing the images" and tags[gray["id"]]["random-linear"] == "seeing gray"


def test_a_gain_inside_the_test_images_noise_is_marked_not_shown_as_a_win():
    """A statistician's review: on digits' 359 test images one standard error of an accuracy
    near 0.92 is 0.014, and gains of +0.006 and +0.011 over the untrained encoder were shown as
    wins. Twice sqrt(p (1 - p) / n), at the two accuracies' mean, never under one image."""
    import math

    from app import readouts

    assert readouts.noise_band(0.925, 0.919, 359) == pytest.approx(2 * math.sqrt(0.922 * 0.078 / 359))  # 0.0283
    assert readouts.noise_band(1.0, 1.0, 40) == pytest.approx(1 / 40)  # no spread at 1: one image still moves it
    refs = {"random-knn/label": {"20": 0.919}}
    assert readouts.knn_gain({"knn_accuracy": 0.925, "test_images": 359}, refs) == "+0.006 (noise)"
    assert readouts.knn_gain({"knn_accuracy": 0.972, "test_images": 359}, refs) == "+0.053"
    assert readouts.knn_gain({"knn_accuracy": 0.925, "test_images": 10_000}, refs) == "+0.006"  # CIFAR-10's test set
    assert readouts.knn_gain({"knn_accuracy": 0.925}, refs) == "+0.006"  # not known: no mark
    assert readouts.knn_gain({"knn_accuracy": 0.925}, refs, 359) == "+0.006 (noise)"  # (a run made before it was kept)
    # a random run is the encoder it would be compared with: no gain over itself (Compare said "+0.000 (noise)")
    assert readouts.knn_gain({"knn_accuracy": 0.919, "epochs": 0, "test_images": 359}, refs) == "baseline"
    assert readouts.knn_gain({"knn_accuracy": 0.880, "test_images": 359}, refs) == "-0.039"  # a loss past the noise
    assert readouts.knn_gain({"knn_accuracy": None}, refs) == "–"
    assert "0.028, twice the standard error of an accuracy on these 359 test images" in readouts.noise_words(0.925, 0.919, 359)


def test_a_gain_is_called_noise_by_the_numbers_shown_not_the_unrounded_ones():
    """The "(noise)" mark follows the gain a student reads: +0.035 (0.890 over 0.855) is inside its band of 0.0352
    on 359 test images though the unrounded difference, 0.0354, is not; -0.039 (0.818 under 0.857) is past its band
    of 0.0389 though the unrounded -0.0386 is inside."""
    from app import readouts

    assert readouts.within_noise(0.8904, 0.855, 359) and not readouts.within_noise(0.8184, 0.857, 359)
    assert readouts.knn_gain({"knn_accuracy": 0.8904, "test_images": 359}, {"random-knn/label": {"20": 0.855}}) == \
        "+0.035 (noise)"
    assert readouts.knn_gain({"knn_accuracy": 0.8184, "test_images": 359}, {"random-knn/label": {"20": 0.857}}) == \
        "-0.039"


def test_every_log_axis_the_charts_draw_says_log_scale_in_its_title():
    """Compare's label-efficiency axis read "labels per class" and the kNN-vs-k chart's "k
    (neighbours voting)", 1, 5, 20 and 100 evenly apart with no word that the axis is a log one
    (only Evaluate's label efficiency said it). Every log axis is drawn by ``charts.curves``,
    which marks its title once, whoever calls it; a linear axis is left unmarked."""
    from app import charts

    line = {"run": ([1, 5, 20, 100], [0.9, 0.92, 0.91, 0.88], None)}
    budgets = {"run linear": ([1, 5, 10, 50, 144], [0.3, 0.5, 0.6, 0.7, 0.8], [0.02] * 5)}
    figs = {"compare": charts.curves(budgets, "labels per class", log_x=True),
            "knn_k": charts.curves(line, "k (neighbours voting)", log_x=True),
            "label_efficiency": charts.label_efficiency(budgets, {}),
            "marked already": charts.curves(line, "labelled images per class (log scale)", log_x=True)}
    for what, fig in figs.items():
        axes = [fig.layout[k] for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
        logs = [a for a in axes if a.type == "log"]
        assert logs, what
        assert all(a.title.text.count("log scale") == 1 for a in logs), [a.title.text for a in logs]
    assert figs["compare"].layout.xaxis.title.text == "labels per class (log scale)"
    assert figs["knn_k"].layout.xaxis.title.text == "k (neighbours voting; log scale)"
    assert figs["label_efficiency"].layout.xaxis.title.text == "labelled images per class (log scale)"
    assert "%{customdata}" in figs["knn_k"].data[0].hovertemplate and figs["knn_k"].data[0].hovertemplate.startswith("k:")
    assert "log" not in charts.curves(line, "epoch").layout.xaxis.title.text


def test_the_purity_of_fewer_clusters_than_classes_has_a_ceiling():
    """Six clusters over ten balanced classes can give at most 60% of images their cluster's
    most common label (each of six classes a cluster, the other four mixed in): the share of
    the six largest classes; 1 with as many clusters as classes."""
    import numpy as np

    from app.images import purity_ceiling

    assert purity_ceiling(np.repeat(np.arange(10), 10), 6) == pytest.approx(0.6)
    assert purity_ceiling(np.array([0] * 50 + [1] * 30 + [2] * 20), 2) == pytest.approx(0.8)
    assert purity_ceiling(np.repeat(np.arange(4), 5), 6) == 1.0
    assert purity_ceiling(np.array([-1, -1]), 6) is None


def test_the_fewest_labels_sentence_gives_each_share_with_the_number_the_charts_give():
    """Evaluate's first reading said 56% and 45% where its curves' hovers, Compare and the Gallery said
    0.559 and 0.451 (a consistency review)."""
    probes = {"linear/label/1/s3": {"mean": 0.5594}, "linear/label/all/s3": {"mean": 0.97}}
    refs = {"random-linear/label/1/s3": {"mean": 0.4513}, "random-linear/label/all/s3": {"mean": 0.96}}
    said = readouts.fewest_labels("simclr (e635)", probes, refs)
    assert said.endswith("labels **56%** (0.559) of the test images right, the untrained network's 45% (0.451)")
    # one label's draws spread by ±0.06: 0.462 beside 0.451 is no gain to read (a student read it as one)
    probes["linear/label/1/s3"] = {"mean": 0.462, "values": [0.40, 0.46, 0.526]}
    refs["random-linear/label/1/s3"] = {"mean": 0.451, "values": [0.44, 0.45, 0.463]}
    said = readouts.fewest_labels("simclr (06c7)", probes, refs)
    assert said.endswith("the untrained network's 45% (0.451) (inside the ±0.063 spread between draws of the "
                         "labelled images: no gain or loss to read)"), said
    probes["linear/label/1/s3"] = {"mean": 0.6, "values": [0.55, 0.6, 0.65]}
    assert readouts.fewest_labels("simclr (06c7)", probes, refs).endswith("the untrained network's 45% (0.451)")


def test_invariance_says_what_a_run_lacks_ops_added_since_included():
    """Invariance's warning over the runs it offers to measure: their own scores missing, ops added to the code since
    their own scores were measured, or only their untrained network's (gray) bars lacking: a code review found the
    second wording said where only the gray bars lacked an op, whose own bar was drawn."""
    from ssrl_core.augment import OPS
    from ssrl_core.evaluate.probes import RANDOM_FACTORS, RANDOM_INVARIANCE

    whole = {op: {"score": 0.5} for op in OPS}
    less = {op: e for op, e in whole.items() if op != "noise"}
    run = {"id": "a"}

    def said(own, ref, factors=True):
        refs = {"a": {RANDOM_INVARIANCE: {"invariance": ref}, RANDOM_FACTORS: {}} if ref is not None else {}}
        probes = {"a": {"invariance": own, "factors": {}} if own is not None else {}}
        return readouts.invariance_unmeasured([run], probes, refs, has_factors=factors)

    assert said(whole, whole)[0] == []  # nothing to measure
    assert said(None, whole)[1].startswith("finished before invariance and the factor probes")
    assert said(less, whole) == ([run], "was measured before noise was added to the ops: not yet for it (the others "
                                        "are drawn below)")
    assert said(whole, less) == ([run], "has its own scores, drawn below, but not yet its untrained encoder's score "
                                        "for noise to read them against (the gray bars)")
    assert said(whole, None)[1] == ("has its own scores, drawn below, but not yet its untrained encoder's invariance "
                                    "and the factor probes to read them against (the gray bars)")


def test_invariance_measures_a_run_whose_untrained_encoder_lacks_its_factor_probes():
    """On a set with factors, a run's gray bars need its untrained encoder's factor probes too: a run whose
    references hold only that encoder's invariance is offered to measure; on a set without factors they are not
    needed, and a run with the rest is measured."""
    from ssrl_core.augment import OPS
    from ssrl_core.evaluate.probes import RANDOM_INVARIANCE

    whole = {op: {"score": 0.5} for op in OPS}
    run = {"id": "a"}
    probes = {"a": {"invariance": whole, "factors": {}}}
    no_factors = {"a": {RANDOM_INVARIANCE: {"invariance": whole}}}
    assert readouts.invariance_unmeasured([run], probes, no_factors, has_factors=True) == (
        [run], "has its own scores, drawn below, but not yet its untrained encoder's invariance and the factor probes "
               "to read them against (the gray bars)")
    assert readouts.invariance_unmeasured([run], {"a": {"invariance": whole}}, no_factors, has_factors=False)[0] == []


def test_a_budgets_whisker_is_the_sample_std_of_its_draws():
    """The label-efficiency chart's whisker at a budget is the spread of its draws (sample std), not a standard error."""
    draws = [0.5, 0.6, 0.7]
    cache = {"linear/label/1/s3": {**entry(0.6, 1, 10, std=0.0), "values": draws}}
    x, y, err = readouts.budget_curve(cache, "linear")
    assert x == [1.0] and y == [0.6] and err == [pytest.approx(0.1)]  # np.std(draws, ddof=1), not 0.1 / sqrt(3)


def test_the_random_encoders_linear_score_is_its_readout_on_all_labels():
    """Evaluate's untrained row and every "gain" read the random encoder's linear accuracy on all labels, not at 1 label."""
    refs = {"random-knn/label": {"20": 0.91}, "random-linear/label/1/s3": entry(0.45, 1, 10),
            "random-linear/label/all/s3": entry(0.95, 0, 1438)}
    assert readouts.random_encoder_scores(refs) == (0.91, 0.95)
    assert readouts.random_encoder_scores({"random-linear/label/1/s3": entry(0.45, 1, 10)}) == (None, None)


def test_a_gain_is_the_difference_of_the_two_numbers_as_shown():
    """A gain column's "+0.005" is what a student gets subtracting the shown 0.967 from 0.972, not the unrounded +0.006."""
    assert readouts.gain(0.97214, 0.96657) == "+0.005"
    assert readouts.gain(0.96657, 0.97214) == "-0.005"


def test_with_exactly_two_shared_budgets_the_note_gives_both_gaps():
    """The label-efficiency note gives a run's gap to supervised training at its fewest and its most labels, also with only two budgets."""
    lin = ([1.0, 10.0], [0.62, 0.93], [0.0, 0.0])
    sup = ([1.0, 10.0], [0.5, 0.92], [0.0, 0.0])
    assert readouts.scratch_gaps({"simclr (0001)": (lin, sup)}) == (
        "Here, the readout minus supervised from scratch: simclr (0001): +0.120 at 1 label per class, "
        "+0.010 at 10 labels per class.")


def test_twins_made_by_one_person_are_not_named_by_whom():
    """A legend says "by ada" only to tell runs of different people apart: two alike runs by ada (Ada) read by their ids alone."""
    def run(i, nickname):
        return {"id": f"20261205-000{i}", "method": "simclr", "summary": None, "dataset": "digits", "nickname": nickname,
                "config": {"method": "simclr", "dataset": "digits", "augment": "simclr", "encoder": "cnn-small",
                           "epochs": 10, "seed": 0, "options": {}}}

    assert list(readouts.run_names([run(1, "ada"), run(2, "Ada")]).values()) == ["simclr (0001)", "simclr (0002)"]
    assert list(readouts.run_names([run(1, "ada"), run(2, "bo")]).values()) == ["simclr (0001) · by ada",
                                                                              "simclr (0002) · by bo"]


class _Page:
    """Stands in for ``streamlit`` where a widget only writes: what it warned."""

    def __init__(self):
        self.warnings = []

    def warning(self, text, **_):
        self.warnings.append(text)


def _run(i, method, config, summary=None):
    cfg = {"dataset": "digits", "seed": 0, "epochs": 3, "batch_size": 32, "lr": 0.002, "options": {},
           "encoder": "cnn-small", "method": method, **config}
    return {"id": f"20261205-000{i}", "method": method, "dataset": cfg["dataset"], "config": cfg, "summary": summary}


def test_compare_does_not_warn_that_an_auto_encoder_run_differs_from_a_cnn_small_one(monkeypatch):
    """Compare and Evaluate warn of no encoder difference between a run launched with "auto" and one with "cnn-small" that trained the same network."""
    from app import widgets

    page = _Page()
    monkeypatch.setattr(widgets, "st", page)
    auto = _run(1, "rotation", {"encoder": "auto"}, {"encoder": "cnn-small"})
    named = _run(2, "simclr", {}, {"encoder": "cnn-small"})
    widgets.differences_warning([auto, named])
    assert page.warnings == []
    widgets.differences_warning([_run(1, "rotation", {"encoder": "auto"}), named])  # queued: not known yet
    assert page.warnings and "encoder" in page.warnings[0]


def test_runs_on_two_datasets_are_warned_not_to_compare(monkeypatch):
    """The warning above runs of two datasets ends saying their accuracies do not compare (not "not only due to the pretext task")."""
    from app import widgets

    page = _Page()
    monkeypatch.setattr(widgets, "st", page)
    widgets.differences_warning([_run(1, "simclr", {}), _run(2, "rotation", {"dataset": "shapes"})])
    [said] = page.warnings
    assert "differ in dataset" in said and said.endswith(": accuracies on different datasets do not compare.")


def test_invariances_strip_is_the_image_then_each_op_in_turn_and_the_same_each_time():
    """The Invariance page's strip of ops: the image, then under each op's name that op's effect on it. Each picture
    stands under its op's name (a flip drawn under 'crop' teaches the wrong op), an op that needs colour leaves a
    grayscale set's image as it was, and a redraw (another session, the cache cleared) is the same picture."""
    import numpy as np

    from app import services
    from app.images import to_hwc
    from ssrl_core.augment import OPS
    from ssrl_core.data import load_dataset

    services._op_strip.clear()
    row, pics = services.op_strip("digits")
    image = load_dataset("digits").images[row]
    assert len(pics) == 1 + len(OPS)
    assert np.array_equal(pics[0], to_hwc(image, 3))
    at = {name: pics[1 + i] for i, name in enumerate(OPS)}
    assert np.array_equal(at["flip"], to_hwc(image.flip(-1), 3))
    assert np.array_equal(at["grayscale"], pics[0])  # digits are gray already
    assert all(not np.array_equal(at[name], pics[0]) for name in ("crop", "rotate", "solarize", "noise"))
    services._op_strip.clear()
    assert services.op_strip("digits")[0] == row
    assert all(np.array_equal(a, b) for a, b in zip(services.op_strip("digits")[1], pics))


def test_an_image_is_drawn_as_rgb_bytes_enlarged_and_a_grid_places_each_in_turn():
    """``to_hwc``: a float image in [0, 1] (values outside clipped) as rounded bytes, a grey one
    as three equal channels, a colour one's channels kept per pixel, each pixel an s x s block.
    ``grid``: row by row, padding between the pictures (none around), the background in the
    padding and an unfilled last row's empty places."""
    import numpy as np
    import torch

    from app.images import grid, to_hwc

    grey = torch.tensor([[[0.0, 0.5, 1.0], [2.0, -1.0, 0.25]]])  # [1, 2, 3]
    one = to_hwc(grey, scale=1)
    assert one.dtype == np.uint8 and one.shape == (2, 3, 3)
    assert one[..., 0].tolist() == [[0, 128, 255], [255, 0, 64]] and (one == one[..., :1]).all()
    assert np.array_equal(to_hwc(grey, scale=2), one.repeat(2, axis=0).repeat(2, axis=1))
    rgb = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4)  # uint8 [C, H, W], as stored
    assert to_hwc(rgb, scale=1).shape == (2, 4, 3) and to_hwc(rgb, scale=1)[0, 1].tolist() == [1, 9, 17]

    tiles = np.stack([np.full((1, 2, 2), v, np.uint8) for v in (10, 20, 30, 40, 50)])  # five 2x2 grey images
    g = grid(tiles, cols=2, scale=1, pad=1, background=7)[..., 0]
    assert g.shape == (3 * 2 + 2, 2 * 2 + 1)  # 3 rows of 2
    assert g.tolist() == [[10, 10, 7, 20, 20], [10, 10, 7, 20, 20], [7] * 5,
                          [30, 30, 7, 40, 40], [30, 30, 7, 40, 40], [7] * 5,
                          [50, 50, 7, 7, 7], [50, 50, 7, 7, 7]]
    assert grid(tiles, cols=5, scale=2, pad=2).shape == (4, 5 * 4 + 4 * 2, 3)
    assert grid(tiles[:0], cols=3).tolist() == [[[255, 255, 255]]]


def test_a_budget_some_class_could_not_give_is_not_a_point_of_the_curve():
    """A readout cached at 50 labels per class on a set of 10 classes that had 300 labels in all
    (some class short) is not that budget: the curve keeps only the budgets each class gave."""
    cache = {"linear/label/50/s3": {"mean": 0.9, "labels_per_class": 50, "n_labels": 300, "classes": 10},
             "linear/label/1/s3": {"mean": 0.5, "labels_per_class": 1, "n_labels": 10, "classes": 10}}
    assert readouts.budget_curve(cache, "linear")[0] == [1.0]


def test_the_fewest_labels_spread_is_the_wider_of_the_runs_and_the_untrained_networks():
    """A run's draws 0.002 apart beside an untrained network's 0.06 apart: a gain of 0.011 is inside
    the wider spread, so no gain to read; and the name, from a legend, is escaped for Markdown."""
    from ssrl_core.text import md

    one = {"labels_per_class": 1, "n_labels": 10, "classes": 10}
    probes = {"linear/label/1/s3": {"mean": 0.462, "values": [0.460, 0.462, 0.464], **one}}
    refs = {"random-linear/label/1/s3": {"mean": 0.451, "values": [0.39, 0.45, 0.513], **one}}
    said = readouts.fewest_labels("simclr (e635) · aug: my_crop*", probes, refs)
    assert "(inside the ±0.062 spread between draws" in said, said
    assert said.startswith(md("simclr (e635) · aug: my_crop*") + ": with 1 label per class"), said


def test_supervised_training_is_not_said_to_catch_up_at_only_the_last_budget():
    """Ahead at 1 and 5 labels per class, behind only at 10: one budget behind is no catching up
    "for good", which the sentence says only where two or more budgets are level or behind."""
    lin = ([1.0, 5.0, 10.0], [0.7, 0.7, 0.5], [0.0, 0.0, 0.0])
    sup = ([1.0, 5.0, 10.0], [0.5, 0.5, 0.7], [0.0, 0.0, 0.0])
    said = readouts.scratch_gaps({"simclr (0001)": (lin, sup)})
    assert "simclr (0001): +0.200 at 1 label per class, -0.200 at 10 labels per class" in said
    assert "catches up" not in said, said


def test_runs_on_two_datasets_are_not_named_by_whom():
    """Two SimCLR runs of ada and bo, one on digits and one on shapes, are told apart by their
    dataset (each has its row): their names do not add who made them."""
    def run(i, nickname, dataset):
        return {"id": f"20261205-000{i}", "method": "simclr", "summary": None, "dataset": dataset, "nickname": nickname,
                "config": {"method": "simclr", "dataset": dataset, "augment": "simclr", "encoder": "cnn-small",
                           "epochs": 10, "seed": 0, "options": {}}}

    names = readouts.run_names([run(1, "ada", "digits"), run(2, "bo", "shapes")])
    assert list(names.values()) == ["simclr (0001)", "simclr (0002)"]


def test_a_run_trained_without_augmentations_says_so_not_that_none_is_a_preset():
    run = {"id": "20261205-0001", "method": "simclr", "dataset": "digits", "summary": None,
           "config": {"method": "simclr", "dataset": "digits", "augment": "none"}}
    assert readouts.augment_line(run) == "Trained with no augmentations (two identical views)."


def test_neighbours_sharing_a_query_of_label_zero_are_counted():
    """Label 0 is a class like any other (digits' zeros): only -1 means unknown."""
    import numpy as np

    values = np.array([0, 1, 0, -1])
    assert readouts.sharing(values, 0, [(2, 0.9), (1, 0.8)]) == 1
    assert readouts.sharing(values, 3, [(2, 0.9)]) is None


def test_a_name_of_exactly_the_limit_is_kept_whole_and_an_unknown_value_is_a_question_mark():
    import numpy as np

    assert readouts.shortened("a" * 20, 20) == "a" * 20
    cut = readouts.shortened("b" * 21, 20)
    assert len(cut) == 20 and "…" in cut
    assert readouts.value_name(np.array([-1, 0]), ["red"], 0) == "?"  # not the last name
    assert readouts.value_name(np.array([-1, 0]), ["red"], 1) == "red"


def test_an_uploaded_images_class_and_an_imports_folder_names_are_escaped():
    """A class is a folder's name from whoever made the archive: it goes through ``md``."""
    from ssrl_core.text import md

    said = readouts.knn_verdict("cat_s*", 0.5, 0.9)
    assert f"calls it **{md('cat_s*')}**" in said and "cat_s*" not in said
    merged = readouts.merged_folders({"merged": {"cl_a*ss": ["in_ner"]}})
    assert md("cl_a*ss") in merged and "cl_a*ss" not in merged


def test_a_query_opens_on_a_clear_example_of_class_zero_too():
    """Class 0 counts as labelled: its clear example is chosen over a first test image drawn
    like the other class (only -1, no label, is left out)."""
    from types import SimpleNamespace

    import torch

    images = torch.tensor([0, 0, 0, 255, 255, 255, 100, 0], dtype=torch.uint8).reshape(8, 1, 1, 1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 1, 0])
    ds = SimpleNamespace(images=images, labels=labels, train_idx=torch.arange(6), test_idx=torch.tensor([6, 7]))
    assert readouts.clear_example(ds, k=2) == 7


def test_the_epoch_knn_note_says_not_all_vote_where_one_set_is_larger_than_the_memory():
    from ssrl_core.evaluate.epochs import MEMORY

    note = readouts.epoch_knn_ends([("simclr (0001)", 0.5, 0.6)], train_images={"a": 100, "b": MEMORY + 1000})
    assert f"on a set of more than {MEMORY:,} train images fewer vote here" in note
    assert "all of them vote" not in note


def test_a_factor_probe_of_one_fit_has_no_whisker():
    probes = {"factors": {"shape": {"all": {"mean": 0.9, "seeds": 1, "values": [0.9]}},
                          "color": {"1": {"mean": 0.5, "seeds": 3, "values": [0.4, 0.5, 0.6]}}}}
    assert readouts.factor_errors(probes, ["shape"], "all") == [None]
    assert readouts.factor_errors(probes, ["color"], "1") == [pytest.approx(0.1)]
