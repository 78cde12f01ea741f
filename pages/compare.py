"""Compare: 2 to 6 finished runs side by side: every metric in two tables (scores; training and
the features' shape), overlaid curves (loss and kNN over epochs, label efficiency), the maps, and
one query's neighbours in each."""
import streamlit as st

from app import charts, readouts, services, urlstate, widgets
from app.images import to_hwc
from app.text import md
from ssrl_core.pretext import read_embedding_std

st.title("Compare runs")
runs = services.finished_runs()
if len(runs) < 2:
    widgets.too_few_runs(len(runs), 2, "the comparison appears here")
# The page opens on the newest runs of one dataset (the newest one with two runs or more): runs of different
# datasets share no images, so their scores and maps say little about each other. A box chooses the dataset, as on
# Evaluate and Invariance (a teacher cleared four digits runs one by one to compare the shapes ones), or all of them.
by_dataset: dict[str, list[dict]] = {}
for r in runs:  # newest first, so the datasets come in the order of their newest run
    by_dataset.setdefault(r["dataset"], []).append(r)
first = next((d for d, rs in by_dataset.items() if len(rs) >= 2), None)
EVERY = "all datasets"
dataset = widgets.dataset_picker(runs, key="cmp_dataset", prefer=first or EVERY, hide=urlstate.hidden("controls"),
                                 every=EVERY)  # (no dataset with two runs: every dataset's)
if dataset != EVERY:
    runs = by_dataset[dataset]
    if len(runs) < 2:
        st.info(f"Only one run on {md(dataset)} has finished: pick another dataset, or {EVERY}, to compare it with "
                "runs of another.", icon=":material/info:")
        widgets.stop()
picked = widgets.run_picker(runs, key="cmp_runs", label="Runs (2 to 6)", multi=True, hide=urlstate.hidden("controls"),
                            default_n=min(4, len(runs)), most=6)
if len(picked) < 2:
    st.info("Pick at least two runs." if not urlstate.hidden("controls") else  # (a class's link: no box to pick in)
            "The link names fewer than two runs that can be shown here: ask whoever shared it for a new link.")
    widgets.stop()
if len(picked) > 6:
    st.warning("Showing the first 6 of the runs picked: side-by-side maps get unreadable beyond that.")
    picked = picked[:6]

widgets.differences_warning(picked)

arts = {r["id"]: services.artifacts(r["run_dir"]) for r in picked}
probes = {rid: a.probes for rid, a in arts.items()}  # each run's probes.json, read once
name = readouts.run_names(picked)  # "simsiam (9c9a) · stop_gradient=false" beside its twin
tags = readouts.run_tags(picked)  # its name's rest, under its map
# two tables of 7 and 9 columns, not one of 15: that one was 1,454 px wide, and on a 1280 px projector its right
# columns (the losses, the seconds) sat behind a scrollbar the browser shows only under the mouse
datasets = {d: services.dataset(d) for d in dict.fromkeys(r["dataset"] for r in picked)}  # (ImageSet, error)
# a turn of an image drawn at every angle (shapes) is another image of its set: no features can tell it, so a run's
# rotation score there says nothing of what it keeps (Invariance explains; a review read 0.249 as a result)
turn_blind = {d for d, (ds, _) in datasets.items() if ds is not None and ds.drawn_at_every_angle}
scores, training = [], []
for r in picked:
    s, p = r["summary"] or {}, probes[r["id"]]
    le = readouts.budget_curve(p, "linear")
    scores.append({"run": name[r["id"]], "kNN acc": s.get("knn_accuracy"),
                   "kNN gain over random": readouts.knn_gain(s, arts[r["id"]].references(), services.scored_images(r)),
                   "linear acc": s.get("linear_accuracy"), "linear, 1 label/class": readouts.value_at(le, 1),
                   "linear, 10 labels/class": readouts.value_at(le, 10),
                   "rotation predictable": None if r["dataset"] in turn_blind else p.get("rotation_equivariance")})
    training.append({"run": name[r["id"]], "dataset": r["dataset"], "augment": readouts.augment_of(r),
                     "epochs": s.get("epochs"), "seed": s.get("seed"), "final loss": s.get("final_loss"),
                     "embedding std": read_embedding_std(s, r["method"]), "effective rank": s.get("effective_rank"),
                     "train s": s.get("train_seconds")})
# headings, not bold text: a screen reader moves from heading to heading (an accessibility review)
st.header("What the features can do")
widgets.numbers_table(scores, "cmp_table", {c: 3 for c in ("kNN acc", "linear acc", "linear, 1 label/class",
                                                          "linear, 10 labels/class", "rotation predictable")},
                      {"rotation predictable": "accuracy of a linear probe predicting whether an image was turned by "
                                               "0, 90, 180 or 270 degrees from its features (chance 0.25). –: not on "
                                               "a set drawn at every angle (shapes), where a turned image is just "
                                               "another image of the set and every run stays near 0.25 whatever it "
                                               "keeps of orientation."},
                      **{"kNN gain over random": st.column_config.TextColumn(alignment="right",
                                                                             help=readouts.GAIN_HELP + ".")})
st.header("How each run was trained, and the shape of its features")
widgets.numbers_table(training, "cmp_training", {"final loss": 3, "embedding std": 4, "effective rank": 1,
                                                 "train s": 1},
                      {"embedding std": widgets.COLLAPSE_HELP, "effective rank": widgets.COLLAPSE_HELP,
                       "final loss": "the last epoch's mean loss: where the loss curve below ends. Losses of different "
                                     "methods are on different scales: compare a method's runs, not methods."})
if note := readouts.collapse_options_note(picked):
    st.caption(note, unsafe_allow_html=True)
for d in dict.fromkeys(r["dataset"] for r in picked):
    widgets.accuracy_caveats(d, [r for r in picked if r["dataset"] == d])


def curves_row(runs: list[dict], on: str = "") -> None:
    """``runs``' loss, kNN over epochs and label efficiency, side by side. ``on``: their dataset where the runs
    picked are on several (each chart's title and key name it), else "". A run keeps its colour and marker (the
    tables' order) in every chart, also one that lacks some runs (a run without a loss curve, another dataset's)."""
    # (keyed for the CSS that wraps the row where three charts would be narrower than 18rem each: app/screen.py)
    c1, c2, c3 = st.container(key=f"cmp_curves_{on}").columns(3)
    loss, knn, le, le_refs = {}, {}, {}, {}
    ref_tag = readouts.reference_tags(runs)  # (runs of one dataset: the dataset is no tag)
    for r in runs:
        a = arts[r["id"]]
        ep = a.epochs()
        lc, kc = readouts.epoch_curve(ep, "loss"), readouts.epoch_curve(ep, "epoch_knn")
        if lc:
            loss[name[r["id"]]] = (lc[0], lc[1], None)
        if kc:
            knn[name[r["id"]]] = (kc[0], kc[1], None)
        c = readouts.budget_curve(probes[r["id"]], "linear")
        if c:
            le[name[r["id"]]] = c
            readouts.reference_curves(a.references(), into=le_refs, tag=ref_tag[r["id"]])
    for r in runs:  # a random run's own curve is its untrained network's reference: drawn twice, one on the other
        if r["method"] == "random" and name[r["id"]] in le:
            le_refs.pop(readouts.reference_name("random-linear", ref_tag[r["id"]]), None)
    of, key = (f" · {on}", f"_{on}") if on else ("", "")
    colours = list(name.values())  # the tables' order
    with c1:
        if loss:
            widgets.chart(charts.curves(loss, "epoch", y_title="pretext loss", title="loss" + of, height=320,
                                        colour_order=colours), key="cmp_loss" + key)
            if len({r["method"] for r in runs}) > 1:  # (a lesson's runs of one method share a scale)
                st.caption("Losses of different methods are on different scales: compare their shapes, not their "
                           "values.")
    with c2:
        if knn:
            widgets.chart(charts.curves(knn, "epoch", y_title="kNN accuracy (subset)", title="kNN over epochs" + of,
                                        height=320, min_span=charts.ACCURACY_SPAN, colour_order=colours),
                          key="cmp_knn" + key)
            st.caption(readouts.epoch_knn_note(runs, knn, name, train_images={
                d: services.train_images(d) for d in dict.fromkeys(r["dataset"] for r in runs)}))
    with c3:
        if le:
            ticks, names = readouts.budget_ticks(list(le.values()) + list(le_refs.values()))
            widgets.chart(charts.curves({**le, **le_refs}, "labels per class", title="label efficiency" + of,
                                        log_x=True, height=320, tickvals=ticks, ticktext=names, dashed=list(le_refs),
                                        colour_order=colours), key="cmp_le" + key)
            if le_refs:
                st.caption("Dashed: the references on the same labelled images (the untrained encoder's readout; "
                           "supervised training from scratch once Evaluate has computed it).")


# The curves of runs on several datasets come in a row per dataset: on one set of axes digits' accuracies stood beside
# shapes' (other images, classes and chance), the label-efficiency axis had an "all (N)" tick for each set that was
# true for some of its lines only, and each set's references could be told apart only by a word in the legend
st.header("Over training, and as labels grow")
for d in datasets:
    curves_row([r for r in picked if r["dataset"] == d], on=d if len(datasets) > 1 else "")

st.header("Maps")
stale = {r["id"]: arts[r["id"]].dataset_mismatch(datasets[r["dataset"]][0]) for r in picked
         if datasets[r["dataset"]][0] is not None}  # why a run's embeddings are not of its set's images now
same_data = len(datasets) == 1
first_ds = next(iter(datasets.values()))[0]
# a set with factors: colour the maps (and count the neighbours) by any of them, as Explore does; a teacher comparing a
# colour-jitter run could only colour by shape here
colour_by = "label"
if same_data and first_ds is not None and first_ds.discrete_factors():
    colour_by = urlstate.selectbox("Colour the maps by", ["label"] + first_ds.discrete_factors(), key="cmp_colour",
                                   param="colour", default="label", hide=urlstate.hidden("controls"),
                                   format_func=readouts.colour_choice,
                                   help="Labels and factors are never used in pretraining: colouring only shows what "
                                        "each map grouped. The neighbours below are counted by it too.")
else:  # no box to colour by: a link's colour said to be of no use here (as Explore says it), not kept without a word
    urlstate.read("colour", urlstate.choice(["label"], "these runs' maps are coloured by label only: " + (
        "their dataset has no factors" if same_data else "they are of different datasets")), "label")
    urlstate.write("colour", "label", "label")


per_row = min(3, len(picked))
for i, r in enumerate(picked):
    if i % per_row == 0:  # a row of columns at a time: a phone stacks each row's in order (one set of 3 columns stacked
        cols = st.columns(per_row)  # the 1st and 4th maps first, the tables' order lost)
    coords, kind = arts[r["id"]].map()
    ds, error = datasets[r["dataset"]]
    if error:  # a set deleted since: the archive its images came from and the Data page (``services.run_dataset``)
        error = services.run_dataset(r)[1] or error
    # the map's title on one line: what tells a run apart from its method's others (its name's rest) under the map
    short = readouts.short_name(r)
    title = short + ("" if same_data else f" · {r['dataset']}")
    with cols[i % per_row]:
        if error:
            st.caption(f"{title}: no map, its dataset cannot be loaded: {error}")
        elif stale.get(r["id"]):
            st.caption(f"{title}: no map: {stale[r['id']]}")
        elif coords is None:
            st.caption(f"{title}: no map (its evaluation did not finish)")
        else:
            widgets.chart(charts.embedding_map(coords, *readouts.colouring(ds, colour_by), title=f"{title} · {kind}", height=320),
                          key=f"cmp_map_{r['id']}")
            if tags[r["id"]]:
                st.caption(md(" · ".join(tags[r["id"]])))
if same_data and (maps_note := readouts.factor_maps_note(picked, colour_by)) is not None:
    st.caption(maps_note)

st.header("One query, its neighbours in each run")
ds, error = next(iter(datasets.values()))
if not same_data:
    on = list(datasets)
    st.info(f"Shown only for runs on one dataset: these runs are on {', '.join(on[:-1])} and {on[-1]}, which share "
            "no images. Pick runs of one dataset to see one query's neighbours in each.")
elif error:
    widgets.dataset_error(error, name=next(iter(datasets)))
else:
    last = len(ds) - 1
    # not bounded in the browser, which would only turn the box red and keep the old query without a word; a box per
    # dataset: one box kept digits' #9 when shapes' runs were picked, and showed shapes' #8002 above #9's neighbours
    on, default = picked[0]["dataset"], services.default_query(picked[0]["dataset"])
    # in the address (the query a teacher compared the runs on, shared, opened at the default one)
    urlstate.start(f"cmp_query_{on}", "image", urlstate.integer(0, last), default, of=on)
    row = st.number_input(f"Image # (0 to {last})", step=1, key=f"cmp_query_{on}")
    if row is None or not 0 <= row <= last:
        st.error(f"There is no image #{row}: {on} has images #0 to #{last}.")
        widgets.stop()
    urlstate.keep("image", row, default, of=on)
    values, value_names = readouts.colouring(ds, colour_by)
    value = readouts.value_name(values, value_names, row)
    st.image(to_hwc(ds.images[row], 4), caption=md(readouts.query_caption(ds, row, value)),
             alt=readouts.image_alt(ds, row))
    for r in picked:
        why_not = stale.get(r["id"]) or arts[r["id"]].embeddings_problem()
        if why_not:
            st.markdown(f"**{md(name[r['id']])}**: no neighbours: {why_not}")
            continue
        nb = arts[r["id"]].neighbours(int(row), k=8)
        same = readouts.sharing(values, int(row), nb)
        # the factor in words ("colour", as every text says it), not its key
        shared = (f" · {same} of {len(nb)} share the query's {readouts.factor_words(colour_by)}"
                  if same is not None else "")  # if it has one
        st.markdown(f"**{md(name[r['id']])}**{shared}")  # (a name may hold a nickname)
        widgets.image_grid([ds.images[i] for i, _ in nb],
                           [readouts.neighbour_caption(ds, i, s, readouts.value_name(values, value_names, i))
                            for i, s in nb], per_row=8,
                           alts=[readouts.image_alt(ds, i, s) for i, s in nb])
