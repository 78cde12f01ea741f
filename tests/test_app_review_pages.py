"""What a student's review of the app found on Evaluate, Invariance, Compare, Explore,
Gallery and Augment: each page says only what it shows, and shows what it says."""
import json
from pathlib import Path

import pytest

from ssrl_core.runs.store import RunStore

from .conftest import finish_done
from .test_app import captions, charts_by_title, images, open_page, series


def _label_efficiency_text(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("SSRL exists to make labels go further"))


def test_evaluate_says_which_random_reference_it_draws_and_never_shows_none(finished_run):
    from ssrl_core.config import RunConfig
    from ssrl_core.evaluate.suite import RunProbes, reference_cache
    from ssrl_core.runs.artifacts import RunArtifacts

    rid = finished_run("simclr")
    run_dir = RunStore().get(rid)["run_dir"]
    RunProbes(run_dir).standard()  # as the worker does: the random encoder's readout, no random run
    at = open_page("evaluate")
    # the chart draws the random encoder's linear readout, but no supervised reference yet ...
    le = charts_by_title(at)["labelled images per class (log scale)"]
    assert {t["name"] for t in le["data"]} >= {"random encoder, linear"}
    assert "supervised from scratch" not in {t["name"] for t in le["data"]}
    # ... so the text says so, and says how to get the missing one
    text = _label_efficiency_text(at)
    assert "The dashed line is" in text and "not drawn yet" in text and "button below the chart" in text
    assert "sits above *supervised from scratch*" not in captions(at)
    assert "dashed *random encoder* line" in captions(at)
    assert at.button(key="eval_finetune")
    # each run is paired with its own random encoder: no random run is needed for the gain
    assert not at.warning
    table = at.dataframe[0].value
    assert list(table["kNN gain over random"])[-1] == "baseline"
    assert all(g[0] in "+-" for g in list(table["kNN gain over random"])[:-1])

    # with the supervised reference in the shared cache, both dashed lines are drawn and described
    cache = reference_cache(RunConfig.from_dict(RunArtifacts(run_dir).config))
    for key, value in list(cache.read().items()):
        if key.startswith("random-linear/"):
            cache.get(key.replace("random-linear/", "supervised-scratch/", 1) + "/t200", lambda v=value: v)
    at = open_page("evaluate")
    le = charts_by_title(at)["labelled images per class (log scale)"]
    assert {t["name"] for t in le["data"]} >= {"random encoder, linear", "supervised from scratch"}
    assert "The dashed lines are" in _label_efficiency_text(at)
    assert "sits above *supervised from scratch*" in captions(at)


def _cut_bars():
    from app import charts

    return charts.bars(["crop", "flip", "grayscale"], {"simclr (cc4a) · aug: digits": [-1.14, 0.5, None]},
                       "invariance score (1 = unchanged)", y_range=(-1.0, 1.15))


def test_bars_cut_at_the_axis_keep_their_value_as_a_label():
    """Invariance scores below -1 are cut at the axis; their value is written at the axis's edge
    inside the plot (outside the bar it would be drawn below the plot, where nothing is
    visible), on white: over a patterned bar a teacher's class could not read "-1.63"."""
    bar, labels = _cut_bars().data
    assert list(bar.y) == [-1.0, 0.5, None]  # drawn to the axis edge ...
    assert list(bar.text) == ["-1.14", "0.50", "n/a"] and list(bar.customdata)[0] == -1.14  # (the hover's)
    assert list(labels.text) == ["", "0.50", ""]  # no bar for grayscale: ...
    n_a, cut = sorted(_cut_bars().layout.annotations, key=lambda a: a.text)[::-1]
    assert (n_a.text, n_a.x, n_a.y) == ("n/a", 2, 0)  # ... one label says why
    assert (cut.text, cut.y, cut.yanchor) == ("-1.14", -1.0, "bottom") and cut.bgcolor.startswith("rgba(255,255,255")


def test_a_category_without_any_value_says_n_a_even_among_many_bars():
    """Three runs and their untrained networks on grayscale digits: 27 bars, past
    ``CROWDED_BARS``, so bars carry no labels, and the colour ops' empty places said nothing
    while the caption under the chart explained an "n/a" never drawn. A category where every
    value is None gets one "n/a" over its place; one where some runs have a value gets none."""
    from app import charts

    ops = ["crop", "flip", "color_jitter", "grayscale", "blur", "rotate", "solarize", "erase", "noise"]
    scores = [0.9, 0.98, None, None, 0.99, 0.5, 0.7, 0.8, 0.6]
    series = {f"run{i}": scores for i in range(3)} | {f"ref{i}": scores for i in range(3)}
    series["run0"] = [0.9, 0.98, 0.3, None, 0.99, 0.5, 0.7, 0.8, 0.6]  # one run on colour images
    fig = charts.bars(ops, series, "invariance", y_range=(-1.0, 1.15), references=["ref0", "ref1", "ref2"])
    assert [(a.text, a.x) for a in fig.layout.annotations] == [("n/a", 3)]


@pytest.fixture(scope="module")
def _plotly_page(_chromium, tmp_path_factory):
    """A page of ``_chromium`` with plotly.js loaded once (the package's own copy): loading its 4.6 MB afresh for each
    figure cost a second a figure."""
    import plotly

    html = tmp_path_factory.mktemp("plotly") / "figure.html"
    js = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").as_uri()
    html.write_text(f'<html><body style="margin: 0"><script src="{js}"></script><div id="figure"></div></body></html>')
    page = _chromium.new_page()
    page.goto(html.as_uri())
    page.wait_for_function("() => window.Plotly !== undefined")
    yield page
    page.close()


def _in_chromium(page, fig, ready: str, script: str, width: int = 700):
    """What ``script`` returns on the figure drawn ``width`` px wide (as ``write_html`` draws it) in ``page`` (the
    ``_plotly_page`` fixture, which skips without chromium or Playwright), once an element matching ``ready`` is
    there."""
    fig.update_layout(width=width)
    page.set_viewport_size({"width": width + 100, "height": 500})
    page.evaluate("""spec => { const div = document.getElementById('figure'); Plotly.purge(div);
                               return Plotly.newPlot(div, spec.data, spec.layout).then(() => true); }""",
                  json.loads(fig.to_json()))
    page.wait_for_selector(ready, state="attached")  # (a label hidden where it does not fit is there too)
    return page.evaluate(script)


@pytest.mark.browser
def test_bars_cut_at_the_axis_show_every_value_label_in_a_browser(_plotly_page):
    fig = _cut_bars()
    boxes = _in_chromium(_plotly_page, fig, ".bartext", """() => {
            const plot = document.querySelector('.bglayer rect, .nsewdrag').getBoundingClientRect();
            return [...document.querySelectorAll('.bartext, .annotation-text')].map(t => {
                const r = t.getBoundingClientRect();
                return {text: t.textContent, inside: r.top >= plot.top && r.bottom <= plot.bottom && r.height > 0};
            });
        }""")
    assert {b["text"]: b["inside"] for b in boxes} == {"-1.14": True, "0.50": True, "n/a": True}


@pytest.mark.browser
def test_evaluates_seven_runs_are_named_apart_and_every_value_shows_on_a_phone_in_a_browser(_plotly_page):
    """At 358 px (a phone's chart) seven runs' names stood upright under their bars and each ran
    into the next; lying down, each name is level beside its row, none on another (the legend's
    three entries stacked under the plot take none of its rows' height), and every value is
    drawn whole inside the figure, a bar that reaches 1 too."""
    from app import charts

    runs = ["simclr (9c9a)", "random encoder (seed 0)", "rotation (31d0) · by ada", "random encoder (seed 1)",
            "byol (21e6)", "simsiam (12dd) · stop_gradient=false", "random encoder (seed 2)"]
    fig = charts.accuracy_bars(runs, {"kNN (k=20)": [0.451, 0.99, 0.2, 1.0, 0.7, 0.05, 0.6], "linear probe": [0.6] * 7},
                               references=[r for r in runs if r.startswith("random")], classes=10)
    seen = _in_chromium(_plotly_page, fig, ".ytick", """() => {
            const box = e => { const r = e.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
            return {names: [...document.querySelectorAll('.ytick text')].map(box),
                    values: [...document.querySelectorAll('.bartext')].filter(t => getComputedStyle(t).display !== 'none')
                                .map(t => ({text: t.textContent, ...box(t)})),
                    figure: box(document.querySelector('.main-svg'))};
        }""", width=358)
    names = seen["names"]
    assert len(names) == 7 and all(a["b"] <= b["t"] + 1 for a, b in zip(names, names[1:]))  # apart, top to bottom
    assert sorted(v["text"] for v in seen["values"]) == sorted(["0.451", "0.990", "0.200", "1.000", "0.700", "0.050",
                                                                "0.600"] + ["0.600"] * 7)
    fig_box = seen["figure"]
    assert all(fig_box["l"] <= v["l"] and v["r"] <= fig_box["r"] for v in seen["values"])


def _labels(fig) -> list[tuple[str, float | None, float | None]]:
    """Each label ``bars`` writes, series after series: (text, where it starts, how far its clear
    carrier reaches), "" and None where a bar gets none."""
    from app.charts import VALUE_LABELS

    return [(t, b, n) for c in fig.data if c.name == VALUE_LABELS for t, b, n in zip(c.text, c.base, c.y)]


@pytest.mark.browser
def test_a_bars_label_sits_above_its_whisker_not_on_it_in_a_browser(_plotly_page):
    """Invariance bars carry ± one standard error; a label drawn just outside its bar sat on
    the whisker. Each bar with a whisker is labelled beyond the whisker's end, over its bar: its
    clear carrier starts there and reaches the axis's edge, with the bar's place in the group."""
    from app import charts

    fig = charts.bars(["crop", "flip", "blur"], {"a": [0.8, -0.3, 1.4], "b": [0.6, 0.1, None], "untrained": [0.5, 0.4, 0.9]},
                      "invariance", y_range=(-1.0, 1.15), errors=[[0.05, 0.1, 0.02], [0.08, 0.02, None], [0.01] * 3],
                      references=["untrained"])
    a, b, _, *carriers = fig.data
    assert a.textposition == "none" and list(a.text) == ["0.80", "-0.30", "1.40"]  # (the hover's text)
    assert [c.offsetgroup for c in carriers] == [a.offsetgroup, b.offsetgroup, "2"] and a.offsetgroup != b.offsetgroup
    lo, hi = fig.layout.yaxis.range
    assert [(t, round(s, 6) if s is not None else s) for t, s, _ in _labels(fig)] == [
        ("0.80", 0.85), ("-0.30", -0.4), ("", None),  # 1.40 is cut: at the axis's edge (an annotation)
        ("0.60", 0.68), ("0.10", 0.12), ("n/a", 0.0),  # no value: "n/a" in its place
        ("0.50", 0.51), ("0.40", 0.41), ("0.90", 0.91)]
    assert all(round(s + n, 9) == (hi if s >= 0 else lo) for t, s, n in _labels(fig) if t)
    assert [x.text for x in fig.layout.annotations] == ["1.40"]

    boxes = _in_chromium(_plotly_page, fig, ".bartext", """() => {
            const box = e => { const r = e.getBoundingClientRect(); return {x: (r.left + r.right) / 2, top: r.top,
                                                                            bottom: r.bottom, h: r.height}; };
            return {labels: [...document.querySelectorAll('.bartext')].filter(t => getComputedStyle(t).display !== 'none')
                                .map(t => ({text: t.textContent, ...box(t)})),
                    whiskers: [...document.querySelectorAll('.errorbar path')].map(box).filter(w => w.h > 0)};
        }""")
    assert len(boxes["whiskers"]) == 7 and len(boxes["labels"]) == 8  # the cut bar's is an annotation
    for w in boxes["whiskers"]:
        [label] = [t for t in boxes["labels"] if abs(t["x"] - w["x"]) < 3]  # one label over each whisker
        value = float(label["text"])
        assert (label["bottom"] <= w["top"] - 2) if value >= 0 else (label["top"] >= w["bottom"] + 2), (label, w)


def test_many_bars_write_their_values_upright_and_more_leave_them_to_the_hover_but_a_cut_bars():
    """Level labels side by side read "1.001.001.00": past ``CROWDED_BARS`` values are written
    upright (two runs and their untrained network over the nine ops: a class in front of a
    projector cannot hover), and past ``PACKED_BARS`` not at all (the hover and the axis give
    them), except a bar cut at the axis, whose value the axis cannot give."""
    from app import charts

    ops = ["crop", "flip", "color_jitter", "grayscale", "blur", "rotate", "solarize", "erase", "noise"]
    series = {f"{who}{i}": [1.0, 0.98, 0.97, 0.9, 0.99, 0.5, 0.7, 0.8, -1.4] for who in ("run", "ref") for i in range(3)}
    fig = charts.bars(ops, series, "invariance", y_range=(-1.0, 1.15), errors=[[0.01] * 9] * 6,
                      references=[n for n in series if n.startswith("ref")])
    assert [(a.text, a.textangle) for a in fig.layout.annotations] == [("-1.40", -90)] * 6  # the cut bars only
    assert len(fig.data) == 6 and not _labels(fig)  # no label carriers
    for t in fig.data:
        assert t.textposition == "none" and t.text[0] == "1.00"  # (the hover's)
    three = charts.bars(ops, dict(list(series.items())[:3]), "invariance", y_range=(-1.0, 1.15))
    assert [t for t, _, _ in _labels(three)] == (["1.00", "0.98", "0.97", "0.90", "0.99", "0.50", "0.70", "0.80", ""]) * 3
    assert {t.textangle for t in three.data[3:]} == {-90} and [a.text for a in three.layout.annotations] == ["-1.40"] * 3
    # an upright label is a line thick: its carrier is wider than its bar by Plotly's padding, so that it shows where
    # its bar is a line wide, and labels shown never lie on each other
    assert three.data[3].width == pytest.approx(0.8 / 3 * (charts.LINE_PX + 6) / charts.LINE_PX)
    few = charts.bars(ops[:3], {n: v[:3] for n, v in list(series.items())[:2]}, "invariance", y_range=(-1.0, 1.15))
    assert few.data[2].textangle == 0 and few.data[2].width == pytest.approx(0.4)  # few bars: level, in their bar's width
    assert [t for t, _, _ in _labels(few)] == ["1.00", "0.98", "0.97"] * 2


def test_compare_opens_on_one_dataset_and_draws_every_runs_own_map(finished_run):
    a, b = finished_run("simclr"), finished_run("rotation")
    shapes = finished_run("shapes-simclr")  # the newest run, alone on its dataset
    at = open_page("compare")
    assert at.multiselect(key="cmp_runs").value == [b, a]  # the newest runs of one dataset
    assert not at.warning and not at.info
    # each part under a heading, which a screen reader moves between (its tables' titles were bold text)
    assert [s.value for s in at.header] == ["What the features can do", "How each run was trained, and the shape of "
                                            "its features", "Over training, and as labels grow", "Maps",
                                            "One query, its neighbours in each run"]

    at.selectbox(key="cmp_dataset").select("all datasets").run()  # runs of two sets, side by side
    at.multiselect(key="cmp_runs").set_value([a, shapes]).run()
    assert not at.exception
    assert f"differ in dataset (digits: simclr ({a[-4:]}); shapes: simclr ({shapes[-4:]}))" in at.warning[0].value
    # each run's map on its own dataset: the shapes run's too, though the first run is on digits
    maps = [t for t in charts_by_title(at) if t and t.endswith(("· umap", "· pca"))]
    assert set(maps) == {f"simclr ({a[-4:]}) · digits · umap", f"simclr ({shapes[-4:]}) · shapes · umap"}
    assert "no map" not in captions(at)
    # the wheel scrolls the page over every chart, the maps' too (their toolbar zooms): one setting, charts.CONFIG
    assert {json.loads(c.proto.config).get("scrollZoom") for c in at.get("plotly_chart")} == {False}
    # the neighbours section says why it is empty
    assert "Shown only for runs on one dataset" in at.info[0].value and "digits and shapes" in at.info[0].value
    assert len(images(at)) == 0


def test_compare_names_runs_of_one_method_by_what_tells_them_apart(finished_run):
    """Two SimCLR runs, one without colour jitter, were both 'simclr (…)' in every legend."""
    a, b = finished_run("simclr"), finished_run("simclr")
    store = RunStore()
    summary = store.get(b)["summary"]
    store.finish(b, "done", summary={**summary, "augment": "crop,flip",
                                     "options": {**summary.get("options", {}), "temperature": 0.2}})
    from ssrl_core.pretext import METHODS

    default = METHODS["simclr"].defaults["temperature"]  # (a run's summary may leave its options to the defaults)
    at = open_page("compare", runs=f"{a},{b}")
    # runs of one method share a loss scale: no note that methods' losses do not compare
    assert "Losses of different methods" not in captions(at)
    names = [f"simclr ({a[-4:]}) · aug: digits preset · temperature={default:g}",
             f"simclr ({b[-4:]}) · aug: crop,flip · temperature=0.2"]
    figs = charts_by_title(at)
    legend = [t["name"] for t in series(figs["epoch"]["data"])]  # the curves' (kNN over epochs)
    assert [n.replace("<br>", " ") for n in legend] == names
    # on lines a third of a 1280 px page holds, broken between parts: Plotly's legend cut a long name at its edge
    from app.charts import LEGEND_CHARS
    assert all(len(line) <= LEGEND_CHARS for n in legend for line in n.split("<br>"))
    assert legend[1] == f"simclr ({b[-4:]}) · aug: crop,flip ·<br>temperature=0.2"
    assert [row for row in at.dataframe[0].value["run"]] == names  # the tables' rows
    # in a medium column, whole on hover: at their width they pushed the last score behind a scrollbar at 1280 px
    assert json.loads(at.dataframe[0].proto.columns)["run"]["width"] == "medium"
    # each map keeps a one-line title and says the rest under it
    assert {f"simclr ({a[-4:]}) · umap", f"simclr ({b[-4:]}) · umap"} <= set(figs)
    assert "aug: crop,flip · temperature=0.2" in captions(at)


def test_invariance_names_the_augmentations_as_such(finished_run):
    rid = finished_run("shapes-simclr")
    at = open_page("invariance")
    name = f"simclr ({rid[-4:]}) · aug: crop,flip,color_jitter"
    ops = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"].replace("<br>", " ") for t in series(ops["data"])] == \
        [name, "random encoder (seed 0) · untrained"]  # and its gray bars
    from app.text import md

    # on digits (shapes gives no rotation score): a preset named as one, "simclr" read as the method
    digits = finished_run("simclr")
    at = open_page("invariance", dataset="digits")
    [rotation] = [m.value for m in at.main.markdown if m.value.startswith("- **")]
    assert rotation.splitlines()[0].endswith(f"** {md(f'simclr ({digits[-4:]}) · aug: digits preset')}")


def test_invariance_draws_a_random_run_once_and_as_untrained(finished_run):
    """A random run is the untrained network of its architecture and seed: it was drawn twice, with the same
    bars and rotation score, once as "random (91ff) · aug: digits preset", as if it had trained with the preset."""
    from app.text import md

    rnd, simclr = finished_run("random"), finished_run("simclr")
    at = open_page("invariance", dataset="digits")
    ops = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t["name"].split(" ·<br>")[0] for t in series(ops["data"])]
    # the untrained network once, in gray under the random run's name: it is simclr's reference (same encoder, seed)
    assert names == [f"simclr ({simclr[-4:]}) · aug: digits preset", f"random ({rnd[-4:]}) · untrained"], names
    from app.charts import REF_GRAYS

    [gray] = [t for t in series(ops["data"]) if t["name"].startswith("random")]
    assert gray["marker"]["color"] in REF_GRAYS
    [rotation] = [m.value for m in at.main.markdown if m.value.startswith("- **")]
    assert len(rotation.splitlines()) == 2 and md(f"random ({rnd[-4:]}) · untrained") in rotation
    assert not [w for w in at.warning if "random" in w.value]  # its scale said once, in the gray bars' caption
    at.multiselect(key="inv_runs").set_value([rnd]).run()  # the random run alone: its gray bars
    ops = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"].split(" ·<br>")[0] for t in series(ops["data"])] == [f"random ({rnd[-4:]}) · untrained"]
    assert "not measured yet" not in captions(at)
    # Evaluate lists trained runs only: a student looked there for the random run they launched
    at = open_page("evaluate")
    options = at.multiselect(key="eval_runs").options
    assert len(options) == 1 and options[0].startswith("simclr") and not any("random" in o for o in options), options
    assert f"random ({rnd[-4:]}): `random` runs are not in this list. A `random` run is the untrained encoder" in \
        captions(at)


def test_invariance_with_nothing_measured_says_no_op_changes_nothing(finished_run):
    """Runs of --evaluation basic (no invariance measured, nor their untrained network's): the
    page said "n/a: crop, flip, color_jitter, ... change nothing on these images", for ops that
    plainly do, under a chart that was not drawn."""
    from ssrl_core.runs.artifacts import PROBES

    rid = finished_run("simclr", references=False)
    probes = Path(RunStore().get(rid)["run_dir"]) / PROBES
    probes.write_text(json.dumps({k: v for k, v in json.loads(probes.read_text()).items() if k != "invariance"}))
    at = open_page("invariance", runs=rid)
    assert not at.exception
    said = " ".join(c.value for c in at.caption)
    assert "change nothing on these images" not in said and "How to read it" not in said, said


def test_a_run_keeps_its_colour_in_every_chart_where_a_run_before_it_lacks_a_result(finished_run):
    """Evaluate's label-efficiency and kNN-vs-k charts and Invariance's bars gave colours in the order
    of the runs each chart had a result for: with the first run's probes not computed, the second
    took the first colour there and its own in the charts beside them."""
    from pathlib import Path

    from app import charts
    from ssrl_core.figures import PALETTE

    first, second = finished_run("simclr"), finished_run("rotation")
    run_dir = Path(RunStore().get(first)["run_dir"])
    probes = json.loads((run_dir / "probes.json").read_text())
    gone = [k for k in probes if k.startswith("linear/") or k in ("knn_k", "invariance")]  # what the charts read
    assert len(gone) > 2
    (run_dir / "probes.json").write_text(json.dumps({k: v for k, v in probes.items() if k not in gone}))
    at = open_page("evaluate", runs=f"{first},{second}")
    figs = charts_by_title(at)
    lines = [t for title in ("labelled images per class (log scale)", "k (neighbours voting; log scale)")
             for t in figs[title]["data"] if t["name"].startswith("rotation")]
    assert lines and {t["line"]["color"] for t in lines} == {PALETTE[1]}
    at = open_page("invariance", runs=f"{first},{second}")
    ops = json.loads(at.get("plotly_chart")[0].proto.spec)
    [bar] = [t for t in series(ops["data"]) if t["name"].startswith("rotation")]
    assert bar["marker"]["color"] == PALETTE[1] and bar["marker"]["pattern"]["shape"] == charts.PATTERNS[1]
    assert not any(t["name"].startswith("simclr") for t in series(ops["data"]))  # (not measured: no bars)


def test_neighbour_captions_read_the_same_on_explore_and_compare(finished_run):
    from .test_import_images import png

    finished_run("rotation")
    rid = finished_run("simclr")  # the newest: Explore opens on it
    at = open_page("explore")
    at.number_input(key=f"explore_pick_{rid}").set_value(7)
    at.button(key="explore_show").click().run()
    at.file_uploader(key=f"explore_upload_{rid}").set_value(("mine.png", png((200, 200, 200)), "image/png")).run()
    assert not at.exception and not at.error
    shown = [c for row in images(at) for c in row]
    upload_at = shown.index("your image at 32×32, grayscale")
    dataset_nbrs, upload_nbrs = shown[1:upload_at], shown[upload_at + 1:]  # after the clicked image; the upload's
    import re

    pattern = re.compile(r"^#\d+ · \S+ · sim\s-?\d\.\d{3}$")  # "#1203 · 7 · sim 0.912": a number to open
    assert len(dataset_nbrs) == 8 and all(pattern.match(c) for c in dataset_nbrs), dataset_nbrs
    assert len(upload_nbrs) == 8 and all(pattern.match(c) for c in upload_nbrs), upload_nbrs

    at = open_page("compare")
    nbrs = [c for row in images(at)[1:] for c in row]
    assert len(nbrs) == 16 and all(pattern.match(c) for c in nbrs), nbrs


def test_explore_says_when_the_typed_image_number_is_not_in_the_dataset(finished_run):
    rid = finished_run("simclr")
    at = open_page("explore")
    at.number_input(key=f"explore_pick_{rid}").set_value(5000).run()
    assert not at.exception
    assert at.error[0].value == "There is no image #5000: digits has images #0 to #1796."
    assert at.number_input(key=f"explore_pick_{rid}").label == "Image # (0 to 1796)"
    assert at.button(key="explore_show").disabled
    at.number_input(key=f"explore_pick_{rid}").set_value(12).run()
    assert not at.error and not at.button(key="explore_show").disabled
    at.button(key="explore_show").click().run()
    assert images(at)[0][0].startswith("query #12 · ")


def test_gallery_counts_one_epoch_in_the_singular_and_calls_the_random_encoder_untrained(finished_run):
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    finished_run("simclr")  # 1 epoch
    finished_run("random")  # 0 epochs
    store = RunStore()  # a random run asked for 2 epochs (the CLI takes --epochs for any method): it trains none
    rid = store.submit(RunConfig(dataset="digits", method="random", epochs=2))
    store.claim("w")
    finish_done(store, rid, summary={"knn_accuracy": 0.9})
    at = open_page("gallery")
    cards = [m.value for m in at.markdown if "· by" not in m.value and "by **" in m.value]
    assert sorted(c.rsplit("· ", 1)[1] for c in cards) == ["1 epoch", "untrained", "untrained"]
    # a run given method options says them (a lesson's SimSiam runs without stop-gradient and without predictor
    # made cards that read alike)
    rid = store.submit(RunConfig(dataset="digits", method="simsiam", epochs=2, options={"stop_gradient": False}))
    store.claim("w")
    finish_done(store, rid, summary={"knn_accuracy": 0.8})
    at = open_page("gallery")
    assert any(m.value.startswith("**simsiam** `stop_gradient=false` · digits") for m in at.markdown), \
        [m.value for m in at.markdown]
    assert any(m.value.startswith("**simclr** · digits") for m in at.markdown)  # none given: none said


def test_augment_spells_out_what_each_chosen_op_does():
    """The ops' chips are their names (in the narrow column 'op: description' was cut after a
    few words); the page writes each chosen op's description out in full."""
    from ssrl_core.augment import OPS, explain

    at = open_page("augment")
    at.selectbox(key="aug_preset").select("custom…").run()
    at.multiselect(key="aug_ops").set_value(["crop", "color_jitter", "solarize", "erase"]).run()
    assert not at.exception
    [text] = [c.value for c in at.caption if c.value.startswith("What each op does")]
    for op in ("crop", "color_jitter", "solarize", "erase"):
        # the description in full, then the strengths it is applied with (a link's or the dataset's preset's)
        assert f"`{op}`: {explain(OPS[op]()).rsplit(' (', 1)[0]} (" in text


def test_compare_says_when_the_query_number_is_not_in_the_dataset(finished_run):
    finished_run("simclr"), finished_run("rotation")
    at = open_page("compare")
    assert at.number_input(key="cmp_query_digits").label == "Image # (0 to 1796)"
    assert images(at)[0][0].startswith("query #9 · 9")  # a clear example of its class (readouts.clear_example)
    at.number_input(key="cmp_query_digits").set_value(5000).run()
    assert not at.exception
    assert at.error[0].value == "There is no image #5000: digits has images #0 to #1796."
    at.number_input(key="cmp_query_digits").set_value(12).run()
    assert not at.error and images(at)[0][0].startswith("query #12 · ")


def test_another_dataset_picks_its_newest_runs_instead_of_none(finished_run):
    """The runs box of a page with a dataset choice above it: switching the dataset starts
    from that dataset's newest runs (it used to empty the box: 'Pick one run or several')."""
    digits = finished_run("simclr")
    shapes = finished_run("shapes-simclr")
    at = open_page("invariance")
    assert at.multiselect(key="inv_runs").value == [shapes]
    at.selectbox(key="inv_dataset").select("digits").run()
    assert at.multiselect(key="inv_runs").value == [digits]
    assert not at.warning  # (each run measured, and its untrained encoder)
    assert "Pick one run or several." not in [i.value for i in at.info]
    at.selectbox(key="inv_dataset").select("shapes").run()
    assert at.multiselect(key="inv_runs").value == [shapes]


def test_tables_round_a_tie_as_the_captions_do():
    """9 of 16 test images is 0.5625: a caption's format says 0.562, and the table beside it
    must not say 0.563 (the browser's rounding of a tie); columns not named keep their values."""
    from streamlit.testing.v1 import AppTest

    def page():
        from app import widgets
        widgets.numbers_table([{"run": "a", "kNN acc": 0.5625, "eff. rank": 7.25, "train s": None},
                               {"run": "b", "kNN acc": 0.5635, "eff. rank": 7.35, "train s": 12.345}],
                              "t", {"kNN acc": 3, "eff. rank": 1, "train s": 1})

    at = AppTest.from_function(page, default_timeout=60).run()  # (3 s by default: a loaded machine took longer)
    table = at.dataframe[0].value
    assert list(table["kNN acc"]) == [float(f"{0.5625:.3f}"), float(f"{0.5635:.3f}")] == [0.562, 0.564]
    assert list(table["eff. rank"]) == [7.2, 7.3] == [float(f"{v:.1f}") for v in (7.25, 7.35)]
    assert list(table["run"]) == ["a", "b"] and table["train s"].isna()[0] and table["train s"][1] == 12.3
    assert at.dataframe[0].proto.placeholder == "–"  # the missing seconds: a dash, not "None"
    # every table's score columns say on hover what they measure, the page's own words for a column added to them
    helps = {c: v.get("help", "") for c, v in json.loads(at.dataframe[0].proto.columns).items()}
    assert "20 nearest training images" in helps["kNN acc"] and "Seconds the pretraining took" in helps["train s"]


# -- a browser review of Invariance's bars, Evaluate's references and Augment's strengths --------------------------

OPS9 = ["crop", "flip", "color_jitter", "grayscale", "blur", "rotate", "solarize", "erase", "noise"]
SCORES = {"simclr (ab12) · aug: simclr": [0.62, 0.91, 0.55, 0.97, 0.93, 0.41, 0.52, 0.7, 0.88],
          "byol (cd34) · aug: simclr": [0.58, 0.89, 0.49, 0.95, 0.9, 0.38, 0.47, 0.66, 0.85],
          "random encoder (seed 0) · untrained": [0.35, 0.8, 0.6, 0.9, 0.95, 0.3, -0.05, 0.6, 0.97],
          "mae (ef56) · aug: mae": [0.7, 0.95, 0.5, 0.96, 0.85, 0.45, 0.6, 0.4, 0.9]}
SE = [0.02, 0.01, 0.03, 0.005, 0.01, 0.03, 0.03, 0.02, 0.01]


def _invariance_bars(n_series: int, n_ops: int, errors: bool = True):
    from app import charts

    series = {n: v[:n_ops] for n, v in list(SCORES.items())[:n_series]}
    return charts.bars(OPS9[:n_ops], series, "invariance score (1 = unchanged)", y_range=(-1.0, 1.15),
                       errors=[SE[:n_ops]] * n_series if errors else None,
                       references=[n for n in series if "untrained" in n])


def test_bar_labels_are_never_small_and_keep_clear_of_their_whiskers():
    """Two runs and their untrained network over the nine ops (27 bars): the upright labels were
    12 px (their digits about 9 px high) and sat on the whisker caps, unreadable. Labels are never
    under ``LABEL_FONT`` (14 px), a bar's own label hides rather than shrink, a label over a whisker
    stands a few pixels off its cap, and bars too narrow for an upright label leave the values to
    the hover."""
    from app import charts

    many = _invariance_bars(4, 9)  # 36 bars: more than an upright label fits at a projector's width
    assert not many.layout.annotations and not _labels(many)
    for t in many.data:
        assert t.textposition == "none" and len(t.text) == 9  # the hover still gives each value
    assert many.layout.uniformtext.minsize >= 14 and many.layout.uniformtext.mode == "hide"

    upright = _invariance_bars(3, 9)  # 27 bars, what the page opens on: upright, beyond the whiskers
    carriers = upright.data[3:]
    assert len(_labels(upright)) == 27 and {c.textangle for c in carriers} == {-90}
    assert {c.textposition for c in carriers} == {"inside"} and {c.insidetextanchor for c in carriers} == {"start"}
    assert min(c.insidetextfont.size for c in carriers) >= 14 and {c.hoverinfo for c in carriers} == {"skip"}
    ends = [v + e if v >= 0 else v - e for vals in SCORES.values() for v, e in zip(vals, SE)][:27]
    assert [round(s, 9) for _, s, _ in _labels(upright)] == [round(e, 9) for e in ends]  # each at its whisker's end
    level = _invariance_bars(3, 3)  # 9 bars: level, at the same size
    assert {c.textangle for c in level.data[3:]} == {0} and min(c.insidetextfont.size for c in level.data[3:]) >= 14
    # a label that cannot fit between its carrier's sides at 14 px is hidden, not shrunk (Plotly shrank them to 9 px)
    assert level.layout.uniformtext.minsize >= 14 and level.layout.uniformtext.mode == "hide"
    assert charts.LABEL_FONT >= 14


LABEL_BOXES = """(k) => {  // in the k-th chart of the page, or the whole page
    const root = k === undefined || k === null ? document : document.querySelectorAll('.js-plotly-plot')[k];
    const box = e => { const r = e.getBoundingClientRect();
                       return {x: (r.left + r.right) / 2, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                               w: r.width, h: r.height}; };
    // the size a label is drawn at: its font's, times the scale Plotly gave it (it shrank labels to 9 px)
    const size = t => { const b = t.getBBox(), r = t.getBoundingClientRect();
                        return parseFloat(getComputedStyle(t).fontSize) * Math.max(r.width, r.height) / Math.max(b.width, b.height); };
    return {labels: [...root.querySelectorAll('.bartext, .annotation-text')]
                .filter(t => getComputedStyle(t).display !== 'none' && t.getBoundingClientRect().width > 0)
                .map(t => ({text: t.textContent, size: size(t), ...box(t)})),
            whiskers: [...root.querySelectorAll('.errorbar path')].map(box).filter(w => w.h > 0)};
}"""


def readable_labels(boxes, n_whiskers: int | None = None) -> list[dict]:
    """The labels drawn (``LABEL_BOXES``), after checking that each is 14 px or more, 2 px or
    more beyond its whisker's cap (above it, or below it for a bar under 0), and that no two
    overlap."""
    labels = boxes["labels"]
    assert n_whiskers is None or len(boxes["whiskers"]) == n_whiskers
    assert all(t["size"] >= 14 - 1e-3 for t in labels), labels
    for w in boxes["whiskers"]:
        for label in [t for t in labels if abs(t["x"] - w["x"]) < 3]:  # at most one, when shown
            if float(label["text"]) >= 0:
                assert label["bottom"] <= w["top"] - 2, (label, w)
            else:
                assert label["top"] >= w["bottom"] + 2, (label, w)
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            apart = a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
            assert apart, (a, b)
    return labels


@pytest.mark.browser
@pytest.mark.parametrize("width, shown", [(300, 0), (700, 27), (900, 27)])
def test_upright_bar_labels_touch_neither_their_whiskers_nor_each_other_in_a_browser(_plotly_page, width, shown):
    """Two runs and their untrained network over the nine ops (27 bars, the most that are
    labelled) in a 900 px chart (a 1280 px projector's), a 700 px one (a 1024 px projector's
    column) and a 300 px one (a 390 px phone's): each label 14 px or more, 2 px or more above its
    whisker's cap (or below it, for a bar under 0), and no two labels overlapping. On the phone
    the 27 bars are 9 px wide and their labels ran together ("0.210.210.20"): they are left to
    the hover; on the projectors each bar keeps its value."""
    from app import charts

    series = dict(list(SCORES.items())[:3])
    fig = charts.bars(OPS9, series, "invariance", y_range=(-1.0, 1.15), errors=[SE] * 3,
                      references=["random encoder (seed 0) · untrained"])
    labels = readable_labels(_in_chromium(_plotly_page, fig, ".bartext", LABEL_BOXES, width=width), 27)
    assert len(labels) == shown


@pytest.mark.browser
@pytest.mark.parametrize("width", [300, 900])
def test_the_factor_probes_values_never_run_together_on_a_phone_in_a_browser(_plotly_page, width):
    """Invariance's factor probes (two runs and their untrained network over five factors: 15
    bars, written level) on a 390 px phone read "0.210.210.20": each label was wider than its
    bar. A label is shown only where it fits its bar's width at 14 px: none on the phone, all 15 in
    a projector's chart."""
    from app import charts

    series = {n: v[:5] for n, v in list(SCORES.items())[:3]}
    fig = charts.bars(OPS9[:5], series, "linear-probe accuracy", y_range=(0, 1.1), errors=[SE[:5]] * 3,
                      chance=[0.2] * 5, references=["random encoder (seed 0) · untrained"])
    labels = readable_labels(_in_chromium(_plotly_page, fig, ".bartext", LABEL_BOXES, width=width), 15)
    assert len(labels) == (15 if width > 600 else 0)


def test_the_invariance_axis_starts_at_0_or_a_little_below_the_lowest_bar():
    """Scores all above 0 (or one just below) had the axis start at a fixed -1: half the chart
    empty. It starts at 0 where no bar nor whisker goes below 0, else a little below the lowest
    (room for its label), on a tenth, never below the -1 where bars are cut."""
    from app import charts

    def axis(scores, se=None, y_range=(-1.0, 1.15)):
        series = {"a": scores, "untrained": [0.5] * len(scores)}
        errors = [se or [0.02] * len(scores), [0.01] * len(scores)]
        return list(charts.bars(["crop", "flip", "blur"], series, "invariance", y_range=y_range, errors=errors,
                                references=["untrained"]).layout.yaxis.range)

    assert axis([0.8, 0.9, 0.3]) == [0.0, 1.15]
    lo, hi = axis([0.8, -0.05, 0.3])
    assert -0.5 <= lo < -0.07 and round(lo, 1) == lo and hi == 1.15  # the bar, its whisker and its label fit
    assert axis([0.8, 0.01, 0.3], se=[0.02, 0.05, 0.02])[0] < 0  # a whisker reaching below 0 is drawn whole
    assert axis([0.8, -0.9, 0.3])[0] == -1.0  # never below the cut
    assert axis([0.8, -1.4, 0.3])[0] == -1.0  # a cut bar: its label at the edge
    assert axis([0.8, 0.9, 0.3], y_range=(0, 1.1)) == [0.0, 1.1]  # the factor probes' accuracy axis


def test_the_invariance_page_axis_follows_its_scores(finished_run):
    finished_run("shapes-simclr")
    at = open_page("invariance")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    ends = [v - (e or 0) for t in spec["data"] if t.get("type") == "bar"
            for v, e in zip(t["y"], (t.get("error_y") or {}).get("array") or [0] * len(t["y"])) if v is not None]
    lo = spec["layout"]["yaxis"]["range"][0]
    assert lo == 0 if min(ends) >= 0 else max(-1.0, min(ends) - 0.5) <= lo < min(ends)


def test_evaluate_draws_the_untrained_encoders_bars_in_gray_as_invariance_does(finished_run):
    """Evaluate's random-encoder bars were in the runs' blue and orange, read as two more runs;
    Invariance draws the untrained networks in gray. Each metric keeps its pattern."""
    from app import charts
    from ssrl_core.figures import PALETTE

    finished_run("simclr")
    at = open_page("evaluate")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    knn, lin = spec["data"][:2]
    for i, t in enumerate((knn, lin)):
        colour = dict(zip(t["y"], t["marker"]["color"]))  # (the bars lie down: a row per run)
        assert colour["random encoder (seed 0)"] == charts.REF_GRAYS[i]
        # the run in its colour in both metrics, as in the curves under it (orange was the linear probe here and the
        # second run there); the metric by its pattern
        assert [c for x, c in colour.items() if x.startswith("simclr")] == [PALETTE[0]]
    assert knn["marker"]["pattern"]["shape"] != lin["marker"]["pattern"]["shape"]
    assert "(the gray bars)" in at.markdown[0].value


def test_every_reference_line_is_dashed_as_evaluates_note_says():
    """Evaluate's label-efficiency note calls the references "the dashed lines"; a seed-0 random
    encoder drawn after a seed-1 one was dotted, as a run's fine-tuned curve is."""
    from app import charts

    pt = ([1, 5, 10], [0.4, 0.5, 0.6], [0.01, 0.01, 0.01])
    refs = {**{f"random encoder, linear (seed {s})": pt for s in (1, 0, 2, 3, 4, 5)},
            "supervised from scratch (seed 1)": pt, "supervised from scratch (seed 0)": pt}
    fig = charts.label_efficiency({"simclr (a) linear": pt, "simclr (a) fine-tuned": pt}, refs)
    dash = {t.name: t.line.dash for t in fig.data}
    assert all(dash[r] in charts.DASHES and "dash" in dash[r] for r in refs), dash
    assert dash["simclr (a) linear"] == "solid" and dash["simclr (a) fine-tuned"] == charts.DOTTED == "dot"
    assert charts.DOTTED not in charts.DASHES
    assert len({dash[f"random encoder, linear (seed {s})"] for s in (1, 0, 2, 3)}) == 4  # still told apart


def test_augment_says_each_ops_strengths_as_prose_in_one_bracket():
    """"… hue (probability p) (brightness 0.4, …)" read twice bracketed, and a crop's
    "min_ratio 0.75, max_ratio 1.33333" as raw parameters: one bracket group per op, a min and
    max as one range, an aspect ratio as 3:4, numbers with two decimals at most."""
    at = open_page("augment", dataset="shapes", augment="simclr")
    [text] = [c.value for c in at.caption if c.value.startswith("What each op does")]
    assert ") (" not in text and "probability p" not in text and "min_ratio" not in text
    assert "`crop`: random resized crop: zoom into a random box of the image, resized back to full size " \
           "(scale 0.2 to 1, aspect ratio 3:4 to 4:3)" in text

    from ssrl_core.augment import OPS, explain, parse_augment

    for name, cls in OPS.items():
        said = explain(cls())
        assert said.count("(") == said.count(")") == 1 and said.endswith(")"), said
        assert not any(w in said for w in ("min_", "max_", "probability p", " p ")), said
    crop = explain(OPS["crop"]())
    assert crop.endswith("(scale 0.2 to 1, aspect ratio 3:4 to 4:3)") and "1.333" not in crop
    assert explain(OPS["flip"]()) == "mirror the image left-right (probability 0.5)"
    assert "(scale 0.33 to 1, aspect ratio 0.7 to 1.45)" in explain(
        parse_augment("crop(min_scale=0.333333,min_ratio=0.7,max_ratio=1.45)").ops[0])
    assert "aspect ratio 9:16 to 16:9" in explain(parse_augment(f"crop(min_ratio={9 / 16},max_ratio={16 / 9})").ops[0])


def test_evaluate_opens_on_the_newest_runs_dataset_and_explores_map_leaves_the_wheel_to_the_page(finished_run):
    """A browser review: Evaluate opened on digits (the alphabetically first set: a student's one
    run) while Explore and Compare showed a class's four newer shapes runs; and the mouse wheel
    over Explore's map zoomed it instead of scrolling the page down to the neighbours."""
    finished_run("simclr")
    newest = finished_run("shapes-simclr")
    at = open_page("evaluate")
    assert not at.exception and at.selectbox(key="eval_dataset").value == "shapes"
    assert open_page("evaluate", dataset="digits").selectbox(key="eval_dataset").value == "digits"  # a link's
    at = open_page("explore", run=newest)
    the_map = at.get("plotly_chart")[0]  # the page's first chart
    assert json.loads(the_map.proto.spec)["data"][0]["type"] in ("scattergl", "scatter")  # the map's points
    assert json.loads(the_map.proto.config).get("scrollZoom") is False


def test_compares_maps_come_in_the_tables_order_row_by_row(finished_run):
    """Four runs' maps were laid in three columns, the 4th under the 1st: a phone, which stacks
    columns, showed them 1st, 4th, 2nd, 3rd beside tables in another order."""
    for method in ("simclr", "rotation", "simclr", "rotation"):
        finished_run(method)
    at = open_page("compare")
    runs = list(at.dataframe[0].value["run"])
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    maps = [t.split(" · ")[0] for t in titles if t.endswith(("· umap", "· pca"))]
    assert len(runs) == 4 and maps == runs, (maps, runs)


def test_explore_and_gallery_say_when_a_runs_features_collapsed(finished_run):
    rid = finished_run("simclr")
    at = open_page("explore", run=rid)
    assert not [w for w in at.warning if "collapsed" in w.value]  # a healthy run: nothing said
    store = RunStore()
    summary = {**store.get(rid)["summary"], "effective_rank": 1.4}
    with store._conn() as c:  # as a rotation run on shapes ended (loss log 4)
        c.execute("UPDATE runs SET summary=? WHERE id=?", (json.dumps(summary), rid))
    at = open_page("explore", run=rid)
    assert [w.value for w in at.warning if w.value.startswith("**Its features collapsed**: an effective rank of 1.4")]
    assert "rank\u00a01.4\u00a0(collapsed)" in " ".join(c.value for c in open_page("gallery").caption)


def test_compare_opens_another_datasets_runs_on_that_datasets_query(finished_run):
    """A review: Compare opened on digits' runs, then given shapes' runs, showed "Image #" 8002
    (shapes' first query) above the image and neighbours of #9 (digits'), the box's old state."""
    digits = [finished_run("simclr"), finished_run("rotation")]
    shapes = [finished_run("shapes-simclr"), finished_run("shapes-simclr")]
    at = open_page("compare", runs=",".join(digits))
    assert images(at)[0][0].startswith("query #9 · ")
    at.selectbox(key="cmp_dataset").select("all datasets").run()
    at.multiselect(key="cmp_runs").set_value(shapes).run()
    [box] = [n for n in at.number_input if n.label.startswith("Image # (0 to ")]
    assert box.label == "Image # (0 to 9999)"
    assert images(at)[0][0].startswith(f"query #{box.value} · ")  # the image the box says
    assert images(at)[0][0] == images(open_page("compare", runs=",".join(shapes)))[0][0]  # shapes' own first query
    at.multiselect(key="cmp_runs").set_value(digits).run()  # and back: digits' own query again
    assert images(at)[0][0].startswith("query #9 · ")


def test_compare_chooses_its_dataset_in_a_box_as_evaluate_does(finished_run):
    """A teacher cleared four digits runs one by one to compare the shapes ones: a Dataset box
    offers each set's runs, or every dataset's."""
    digits = [finished_run("simclr"), finished_run("rotation")]
    shapes = [finished_run("shapes-simclr"), finished_run("shapes-simclr")]
    at = open_page("compare")
    assert at.selectbox(key="cmp_dataset").value == "shapes"  # the newest runs' set
    box = at.multiselect(key="cmp_runs")
    assert len(box.options) == 2 and sorted(box.value) == sorted(shapes)
    at.selectbox(key="cmp_dataset").select("digits").run()
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted(digits) and not at.exception
    assert at.query_params["dataset"] in ("digits", ["digits"])
    at.selectbox(key="cmp_dataset").select("all datasets").run()
    assert len(at.multiselect(key="cmp_runs").options) == 4
    # a link to runs of two sets opens on all of them
    assert open_page("compare", runs=f"{digits[0]},{shapes[0]}").selectbox(key="cmp_dataset").value == "all datasets"
    # ?dataset=all, as a teacher types it (a browser check's link was refused: "not one of all datasets, digits, ...")
    at = open_page("compare", dataset="all")
    assert at.selectbox(key="cmp_dataset").value == "all datasets", [w.value for w in at.warning]
    assert not [w for w in at.warning if "Ignored" in w.value]  # (only that the runs differ in dataset)


# -- a browser review at 390x844 (a phone) and 1280x720 (a projector): the toolbar and the labels ------------------


def _every_chart():
    """One figure of each builder the pages use, titled or not, as the pages call them."""
    import numpy as np

    from app import charts

    line = ([0, 1, 2], [0.3, 0.33, 0.33], None)
    coords = np.random.default_rng(0).normal(size=(50, 2))
    return [charts.loss_curve([1, 2, 3], [2.0, 1.5, 1.2]),
            charts.curves({"byol (21e6)": line, "simclr (12dd)": line}, "epoch", title="kNN over epochs", height=320),
            charts.curves({"byol (21e6)": line}, "epoch (0 = before pretraining)", y_title="kNN accuracy (subset)"),
            charts.label_efficiency({"byol linear": ([1, 5], [0.2, 0.3], [0.01, 0.01])}, {}),
            charts.accuracy_bars(["byol (21e6)", "random encoder (seed 0)"], {"kNN (k=20)": [0.451, 0.447],
                                 "linear probe": [0.677, 0.466]}, references=["random encoder (seed 0)"]),
            _invariance_bars(3, 9), charts.bars(OPS9[:3], {"a": [0.2, 0.5, 0.9]}, "accuracy", title="a lesson's"),
            charts.embedding_map(coords, np.arange(50) % 3, ["a", "b", "c"], title="simclr (12dd) · umap", height=320),
            charts.embedding_map(coords, np.arange(50) % 3, ["a", "b", "c"], legend_below=True)]


def test_every_chart_leaves_its_top_strip_to_the_toolbar_and_its_title_below_it():
    """On a phone (no hover) Plotly's toolbar is always shown, 224 px wide over the charts' top
    right: it covered Compare's "kNN over epochs" and its maps' titles, and the top of Evaluate's
    curves. Every chart leaves its top ``TOOLBAR_PX`` to it, its title below that strip; the plot
    keeps its height (the figure grows by what its top margin grew)."""
    from app import charts

    for fig in _every_chart():
        lay = fig.layout
        if lay.title.text:
            assert lay.margin.t >= charts.TOOLBAR_PX + charts.TITLE_PX, lay.title.text
            assert (lay.title.yref, lay.title.y, lay.title.yanchor) == ("container", 1, "top")
            assert lay.title.pad.t >= charts.TOOLBAR_PX
        else:
            assert lay.margin.t >= charts.TOOLBAR_PX
        assert lay.legend.y is None or lay.legend.yref == "container" or lay.legend.y < 1  # none up in the strip
    titled = charts.curves({"a": ([0, 1], [0.3, 0.4], None)}, "epoch", title="kNN over epochs", height=320)
    assert titled.layout.height == 320 + charts.TOOLBAR_PX + charts.TITLE_PX - 40  # the margin was 40
    assert charts.clear_of_toolbar(titled).layout.height == titled.layout.height  # (once is enough)


def test_the_toolbar_keeps_only_what_helps_and_a_map_keeps_its_zoom():
    """A curve or a bar chart keeps download, box zoom and reset; a map keeps pan and the zoom
    buttons too (a phone's only zoom); autoscale, reset's twin on these charts, goes."""
    from app import charts

    *plots, titled_map, explores_map = _every_chart()
    for fig in plots:
        assert {"pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d"} <= set(fig.layout.modebar.remove)
        assert not {"zoom2d", "resetScale2d", "toImage"} & set(fig.layout.modebar.remove)
    for fig in (titled_map, explores_map):
        assert fig.layout.dragmode == "pan" and "autoScale2d" in fig.layout.modebar.remove
        assert not {"pan2d", "zoom2d", "zoomIn2d", "zoomOut2d", "resetScale2d"} & set(fig.layout.modebar.remove)
    assert charts.CONFIG["scrollZoom"] is False  # every chart's, through widgets.chart


def test_a_value_label_is_carried_from_its_whiskers_end_to_the_axis_edge():
    """``_carriers``: one clear bar per value, from the end of its bar's whisker (or of the bar)
    to the axis's edge on that side, the value written at its start; none for a cut bar, a
    category with no value, or a whisker past the axis; "n/a" from 0 for a missing value."""
    from app import charts

    c = charts._carriers(["a", "b", "c", "d", "e", "f"], [0.5, -0.3, None, 1.4, 0.2, 1.1], [0.05, 0.1, 0, 0, 0, 0.2],
                         [False, False, False, True, False, False], {4}, [-0.6, 1.2], 1, 0.3, -90)
    assert list(c.text) == ["0.50", "-0.30", "n/a", "", "", ""]
    assert [None if b is None else round(b, 9) for b in c.base] == [0.55, -0.4, 0.0, None, None, None]
    assert [None if n is None else round(n, 9) for n in c.y] == [0.65, -0.2, 1.2, None, None, None]
    assert (c.offsetgroup, c.width, c.textangle, c.textposition, c.insidetextanchor) == ("1", 0.3, -90, "inside", "start")
    assert c.name == charts.VALUE_LABELS and c.showlegend is False and c.hoverinfo == "skip"
    assert c.insidetextfont.color == charts.LABEL_INK and c.insidetextfont.size >= 14  # (Plotly's own: white on white)


def test_the_tallest_bars_label_gets_room_under_a_fixed_top_but_a_cut_bar_still_reaches_it():
    """A label is written inside the plot or not at all: a factor probe at 1.00 ± 0.02 under the
    accuracy axis's fixed top of 1.1 had 20 px for a 25 px label. The axis rises for it; a bar
    cut at the top still reaches the edge, its value written there."""
    from app import charts

    [_, top] = charts.bars(["color", "shape"], {"a": [1.0, 0.2], "u": [0.83, 0.2]}, "accuracy", y_range=(0, 1.1),
                           errors=[[0.02, 0.01], [0.03, 0.01]]).layout.yaxis.range
    assert top == pytest.approx(1.02 + charts.LABEL_ROOM["level"] * 1.1)
    assert list(charts.bars(["crop"], {"a": [1.4], "u": [0.5]}, "score", y_range=(0, 1)).layout.yaxis.range) == [0, 1]


def test_compare_draws_the_curves_of_runs_on_two_datasets_in_a_row_per_dataset(finished_run):
    """A review: with two digits and two shapes runs picked, one label-efficiency chart drew the four on one axis,
    with a tick "all (144)" that only digits' lines reach and "all (1333)" only shapes' reach, and each set's
    untrained-encoder reference beside the other's, told apart by a word in the legend; the loss and kNN charts mixed
    the sets' runs too (other images, classes and chance). Each set's runs get charts of their own."""
    digits = [finished_run("simclr"), finished_run("rotation")]
    shapes = [finished_run("shapes-simclr"), finished_run("shapes-simclr")]
    at = open_page("compare", runs=",".join(digits + shapes))
    assert at.selectbox(key="cmp_dataset").value == "all datasets"
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    figs = {s["layout"]["title"]["text"]: s for s in specs if (s["layout"].get("title") or {}).get("text")}
    names = {"digits": {f"simclr ({digits[0][-4:]})", f"rotation ({digits[1][-4:]})"},
             "shapes": {f"simclr ({r[-4:]})" for r in shapes}}
    assert "label efficiency" not in figs and "loss" not in figs and "kNN over epochs" not in figs
    for d in ("digits", "shapes"):
        le = figs[f"label efficiency · {d}"]
        lines = {t["name"]: t for t in le["data"]}
        assert {n for n, t in lines.items() if t["line"]["dash"] == "solid"} == names[d]  # its own runs only ...
        assert {n for n, t in lines.items() if t["line"]["dash"] != "solid"} == {"random encoder, linear"}  # ... refs
        # one "all" tick: where its own lines end, with their count of labels per class
        ends = {t["customdata"][-1] for t in lines.values()}  # (x: each a little aside of the others)
        ticks = le["layout"]["xaxis"]["ticktext"]
        assert len(ends) == 1 and [t for t in ticks if t.startswith("all")] == [ends.pop()]  # the hover's, as its tick
        for chart in ("loss", "kNN over epochs"):  # (shapes' runs trained 0 epochs: no curves over epochs)
            assert {t["name"] for t in figs.get(f"{chart} · {d}", {"data": []})["data"]} <= names[d]
    assert "all (144)" in figs["label efficiency · digits"]["layout"]["xaxis"]["ticktext"]
    assert "loss · digits" in figs and "kNN over epochs · digits" in figs
    # each run in one colour and marker in every chart it is in, its own
    looks: dict[str, set] = {}
    for title, spec in figs.items():
        if title.endswith((" · digits", " · shapes")):
            for t in spec["data"]:
                if t["line"]["dash"] == "solid":
                    looks.setdefault(t["name"], set()).add((t["line"]["color"], t["marker"]["symbol"]))
    assert set(looks) == names["digits"] | names["shapes"] and all(len(v) == 1 for v in looks.values())
    assert len({v.pop() for v in looks.values()}) == 4
    # the kNN note's numbers are the digits runs'
    assert captions(at).count("at its last epoch") == 2
    assert "every train image votes (digits has 1,438)" in captions(at) and "shapes has" not in captions(at)

    # runs of one dataset, under "all datasets" too: one row of charts, as before
    at = open_page("compare", runs=",".join(shapes))
    titles = [(json.loads(c.proto.spec)["layout"].get("title") or {}).get("text") for c in at.get("plotly_chart")]
    assert "label efficiency" in titles and not any(" · shapes" in (t or "") and "efficiency" in t for t in titles)


def test_the_augmentations_follow_the_dataset_until_one_picks_them():
    """On shapes, digits' handwriting preset (no flips, no colour) stayed chosen after the
    dataset box moved off digits: a one-click shapes run trained without colour ops."""
    at = open_page("pretrain")
    assert at.selectbox(key="pt_preset").value == "digits"
    at.selectbox(key="pt_dataset").select("shapes").run()
    assert at.selectbox(key="pt_preset").value == "simclr"  # shapes' own
    at.selectbox(key="pt_dataset").select("digits").run()
    assert at.selectbox(key="pt_preset").value == "digits"
    # a preset one picked stays picked, also one that is a dataset's default on the way through that dataset; one made
    # for another dataset says so
    at.selectbox(key="pt_preset").select("crop").run()
    at.selectbox(key="pt_dataset").select("shapes").run()
    assert at.selectbox(key="pt_preset").value == "crop"
    at.selectbox(key="pt_preset").select("simclr").run()  # shapes' default, picked on digits' way back
    at.selectbox(key="pt_dataset").select("digits").run()
    assert at.selectbox(key="pt_preset").value == "simclr"
    at.selectbox(key="pt_dataset").select("shapes").run()
    at.selectbox(key="pt_preset").select("digits").run()
    assert "The `digits` preset was made for digits; the default for shapes is `simclr`." in captions(at)


def test_invariance_without_any_invariance_measured_says_so_without_a_traceback(finished_run):
    """Runs of --evaluation basic on a home with no untrained network's reference: the ops chart
    had no series and the page stopped on 'ZeroDivisionError: float division by zero'."""
    from pathlib import Path

    rid = finished_run("shapes-simclr", references=False)
    run_dir = Path(RunStore().get(rid)["run_dir"])
    probes = json.loads((run_dir / "probes.json").read_text())
    probes.pop("invariance", None)
    (run_dir / "probes.json").write_text(json.dumps(probes))
    at = open_page("invariance")
    assert not at.exception and "What each op does" in [h.value for h in at.header]


def test_compare_on_a_dataset_with_one_run_says_to_pick_another(finished_run):
    # a dataset chosen in the box with a single finished run: said as such, not "Pick at least two runs" of a box that
    # offers one
    finished_run("simclr"), finished_run("rotation")
    finished_run("shapes-simclr")
    at = open_page("compare")
    assert at.selectbox(key="cmp_dataset").value == "digits"
    at.selectbox(key="cmp_dataset").select("shapes").run()
    assert [i.value for i in at.info] == ["Only one run on shapes has finished: pick another dataset, or all datasets, "
                                          "to compare it with runs of another."]
    assert not at.get("plotly_chart")


def test_evaluate_keeps_random_runs_out_of_its_box_and_names_three_without_a_count_of_more(finished_run):
    # the box lists trained runs only; the random runs are named under it, all three (no "0 more")
    trained = finished_run("simclr")
    randoms = [finished_run("random") for _ in range(3)]
    at = open_page("evaluate")
    assert at.multiselect(key="eval_runs").options and not [o for o in at.multiselect(key="eval_runs").options
                                                              if any(r[-4:] in o for r in randoms)]
    assert [o for o in at.multiselect(key="eval_runs").options if trained[-4:] in o]
    [said] = [c.value for c in at.caption if "`random` runs are not in this list" in c.value]
    assert all(r[-4:] in said for r in randoms) and " more" not in said, said
    finished_run("random")
    [said] = [c.value for c in open_page("evaluate").caption if "`random` runs are not in this list" in c.value]
    assert "1 more: `random` runs" in said, said


def test_evaluate_on_digits_leaves_no_budget_out_and_dashes_only_the_untrained_knn_curve(finished_run):
    from ssrl_core.evaluate.suite import RunProbes

    rid = finished_run("simclr")
    RunProbes(RunStore().get(rid)["run_dir"]).standard()
    at = open_page("evaluate")
    assert "labels per class are left out" not in captions(at)  # digits has enough labels for every budget
    knn_k = charts_by_title(at)["k (neighbours voting; log scale)"]["data"]
    runs = [t for t in knn_k if t["name"].startswith("simclr")]
    refs = [t for t in knn_k if t["name"].startswith("random encoder")]
    assert runs and refs and all((t.get("line") or {}).get("dash") in (None, "solid") for t in runs)
    assert all(t["line"]["dash"] == "dash" for t in refs)
    # no run fine-tuned yet: what a fine-tuned curve would add, not a note on curves that are not there
    assert "Fine-tuning, once computed, adds a *fine-tuned* curve per run" in captions(at)
    assert "Fine-tuning trains the whole encoder" not in captions(at)


def test_invariance_on_digits_says_how_many_test_images_it_measured_and_why_colour_ops_change_nothing(finished_run):
    finished_run("simclr")
    at = open_page("invariance")
    assert any("on 359 test images" in m.value for m in at.markdown)  # digits' test split, under the subset's 512
    [how] = [c.value for c in at.caption if c.value.startswith("How to read it: a bar for an op")]
    assert " n/a: " in how and "changes nothing on these images (they have no colour)." in how, how


def test_pretrain_says_0_epochs_trains_nothing_only_for_a_method_that_trains():
    # `random` trains nothing at any epochs: no note that its 0 epochs train nothing "listed as random"
    assert "0 epochs trains nothing" in captions(open_page("pretrain", method="simclr", epochs="0"))
    assert "0 epochs trains nothing" not in captions(open_page("pretrain", method="random", epochs="0"))
