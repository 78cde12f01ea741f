"""Explore: the map of a finished run's embeddings; click a point to see the image and its
nearest neighbours in feature space."""
import numpy as np
import streamlit as st

from app import charts, readouts, services, urlstate, widgets
from app.text import code

st.title("Explore")
runs = services.finished_runs(with_mapping=True)
if not runs:
    widgets.too_few_runs(0, 1, "its map appears here", recount=lambda: len(services.finished_runs(with_mapping=True)))

controls = not urlstate.hidden("controls")
touch = services.touch_screen()  # a phone's or a tablet's: a tap shows a point's number, not its neighbours
top = st.columns([3, 1, 1, 1])
with top[0]:
    run = widgets.run_picker(runs, key="explore_run", hide=not controls)
    if not controls:
        widgets.linked_runs([run])
art = services.artifacts(run["run_dir"])
ds, error = services.run_dataset(run)  # (a set deleted since: its accuracies are shown all the same, then why no map)
summary = run["summary"] or art.metrics  # while the UMAP is computed, the accuracies are already written
# what the two accuracies score: the label, which on a set with factors is one of them (a class colouring the map by
# colour read them as colour's)
labelled_by = readouts.label_factor(ds) if ds is not None else None
of_label = (f" They score the label, here the **{labelled_by}**, whatever the map is coloured by." if labelled_by
            else "")
# each beside the untrained network of the run's architecture and seed: is 0.955 good? (a newcomer could not tell, and
# the answer was on Evaluate only)
untrained = readouts.random_encoder_scores(art.references()) if run["method"] != "random" else (None, None)
for col, key, label, what, base in (
        (top[1], "knn_accuracy", "kNN accuracy", "How often a test image gets its label right from a vote of its 20 "
         "most similar training images (by cosine similarity of the features; each vote weighted by exp(similarity / "
         "0.07), so the closest count far more, Wu et al. 2018).", untrained[0]),
        (top[2], "linear_accuracy", "linear probe", "How often a linear classifier trained on the frozen features "
         "(logistic regression with an L2 penalty, C = 1, not tuned; standardised features; train split → test split) "
         "labels a test image right.",
         untrained[1])):
    value = summary.get(key)
    gain = value is not None and base is not None
    # a gain the draw of the test images alone could make is not shown as a win (green, an arrow up), as +0.011 was on
    # digits' 359 test images, where one standard error is 0.014; "(noise)" in place of "vs untrained" (the help says
    # against what): after it, the 152 px column of a 1280 px screen cut it to "+0.006 vs untraine…"
    noise = gain and readouts.within_noise(value, base, scored := services.scored_images(run))
    col.metric(label, f"{value:.3f}" if value is not None else "–",
               delta=f"{readouts.gain(value, base)} {readouts.NOISE_MARK if noise else 'vs untrained'}" if gain else None,
               delta_color="off" if noise else "normal",
               help=what + (f" The untrained network of this run's architecture and seed scores {base:.3f}: what "
                            "pretraining added is the difference" + (
                                f", here {readouts.noise_words(value, base, scored)}." if noise else ".")
                            if gain else "") + of_label)
dim = art.embedding_dim()  # (from the embeddings file's header: read once for the metric and the map's caption)
top[3].metric("feature dim", dim or "–",
              help="numbers per image in the encoder's features, which the map, neighbours and probes use (a "
                   "run card's `embedding_dim` is the size of what the embedding std reads: the projector's "
                   "output, for a method that has one; the effective rank reads these features)")
if error:
    widgets.dataset_error(error, name=run["dataset"])
    widgets.stop()
widgets.accuracy_caveats(run["dataset"], [run])
if collapsed := readouts.collapse_note(summary):
    st.warning(collapsed, icon=":material/compress:")

coords, kind = art.map()
stale = art.dataset_mismatch(ds)  # re-imported since the run: its map would show other images' labels
if stale or coords is None:
    # (it said "Re-run it from the Pretrain page", which has no such button: this one sets its form to the run's)
    # ("its evaluation did not finish" was untrue beside its accuracies where the map's files had been deleted)
    st.warning(stale or "This run has no map: its map's files are missing (its evaluation stopped before writing "
               "them, or they were deleted)."
               + (" To get one, launch the run again: the button below opens Pretrain with its settings." if controls
                  else ""), icon=":material/warning:")  # (a class's link has no Pretrain form to open)
    if not stale:
        widgets.settings_button(run, st, key="ex_again", label="Launch it again from Pretrain")
    widgets.stop()

widgets.follow_evaluation(run, kind)  # a run still evaluating: its map and frames arrive by themselves

colour_choices = ["label"] + ds.discrete_factors()
c1, c2 = st.columns([1, 3])
with c1:
    colour_by = urlstate.selectbox("Colour by", colour_choices, key="explore_colour", param="colour", default="label",
                                   hide=not controls, format_func=readouts.colour_choice,
                                   help="Labels are never used in pretraining: colouring only shows what the map grouped.")
values, names = readouts.colouring(ds, colour_by)
basic = run["config"].get("evaluation") == "basic"  # evaluated without UMAP, probes or map evolution
c2.caption(("UMAP of the encoder features (cosine metric)." if kind == "umap" else
            "PCA of the features; the UMAP is still being computed and replaces it when ready."
            if run["status"] == "running" else
            "PCA of the features: this run was evaluated with `--evaluation basic`, which makes no UMAP."
            if basic else "PCA of the features: its UMAP, which its evaluation made, is missing from its folder "
            "(damaged or edited by hand)." if summary.get("umap_seconds") is not None else
            "PCA of the features: this run has no UMAP (its evaluation made none).")
           + (" Tap a point for its row number; type it in *Image #* under the map to see that image and its "
              "nearest neighbours." if touch else
              " Click a point to see its image and nearest neighbours."))
if (ops_note := readouts.factor_ops_note(run, colour_by)) is not None:  # what training asked of the factor shown
    c2.caption(ops_note)
# under the map's description, beside the Colour box: on a row of its own, under that box, it put the first row of
# neighbours' captions below a 1280x720 screen's edge
name_groups = urlstate.toggle("Names on the map", key="explore_names", param="names", default=True,
                              hide=not controls, container=c2,
                              help="Writes each group's name where most of its points are, so the map reads without "
                                   "telling colours apart; a group mixed with others there gets no name. Turn it "
                                   "off to let a class guess what the groups are first.")

state_key, pick_key = f"explore_row_{run['id']}", f"explore_pick_{run['id']}"
urlstate.bound(f"{state_key}*", f"{pick_key}*")  # the image chosen, and the box that shows it, start from the address
last = len(ds) - 1
if state_key not in st.session_state:  # a link or a reload: the image in the address, if any
    st.session_state[state_key] = urlstate.read("image", urlstate.integer(0, last), None)
selected = st.session_state[state_key]
urlstate.write("image", selected, None)
unreadable = art.embeddings_problem()  # a damaged folder: the map draws, neighbours cannot be found
if unreadable:
    st.warning(f"No neighbours can be shown: {unreadable}", icon=":material/warning:")
neighbours = art.neighbours(selected, k=8) if selected is not None and not unreadable else []

# an uploaded image (its box is further down; its file is in the session already): its neighbours, once,
# for the box below and for a cross on the map where they lie
upload = st.session_state.get(f"explore_upload_{run['id']}")
uploaded, upload_error = None, None
if upload is not None:
    try:
        uploaded = services.query_neighbours(run["run_dir"], upload.getvalue(), ds.channels, ds.image_size, k=8)
    except ValueError as e:
        upload_error = str(e)

map_col, side = st.columns([3, 2], gap="medium")
fig = charts.embedding_map(coords, values, names, highlight=[i for i, _ in neighbours], selected=selected,
                           landing=uploaded["neighbours"] if uploaded else (), legend_below=True,
                           name_groups=name_groups)
# (the wheel scrolls the page, as over every chart: ``charts.CONFIG``; the toolbar zooms)
# a new chart (its key's count) once an image is chosen by number or at random: the map keeps the point clicked last
# selected, and a click on it again was no change, so it was ignored and the other image stayed
map_key = f"{state_key}_map"
event = widgets.chart(fig, where=map_col, key=f"map_{run['id']}_{st.session_state.get(map_key, 0)}",
                      on_select="rerun", selection_mode="points")
# how to read it, under the map (beside the Colour box it pushed the first neighbours below a 1280x720 screen's edge)
map_col.caption(f"A point per image, placed near images whose features are alike; a yellow star marks the image "
                f"chosen, black rings its neighbours. {readouts.CLUMPS} The map "
                f"squeezes {dim or 'many'} numbers per image into two, so distances on it are rough; "
                "the neighbours are found in the features themselves and may lie apart on it."
                + (" (On a touch screen a tap does not choose a point: Plotly's taps chose the point tapped before "
                   "it.)" if touch else ""))


def _clicked_row(ev) -> int | None:
    points = (ev or {}).get("selection", {}).get("points", []) if isinstance(ev, dict) else \
        getattr(getattr(ev, "selection", None), "points", []) or []
    for p in points:
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        if cd is not None:
            return int(cd)
    return None


row = _clicked_row(event)
if row is not None and row != st.session_state.get(f"{state_key}_last_click"):
    st.session_state[f"{state_key}_last_click"] = row
    st.session_state[state_key] = row
    st.rerun()
elif row is None:  # nothing selected on the map (a double click clears it): a click on the last point is a click again
    st.session_state.pop(f"{state_key}_last_click", None)


def choose(r: int) -> None:
    """Show image ``r``, chosen otherwise than by a click on the map: where the map holds a point clicked
    before, it starts afresh with nothing selected (``map_key``; its zoom goes too), else it stays as it is."""
    st.session_state[state_key] = r
    if st.session_state.pop(f"{state_key}_last_click", None) is not None:
        st.session_state[map_key] = st.session_state.get(map_key, 0) + 1


def value_name(r: int) -> str:
    """Image ``r``'s value of what the map is coloured by (its label by default)."""
    return readouts.value_name(values, names, r)


def neighbour_caption(r: int, sim: float) -> str:
    return readouts.neighbour_caption(ds, r, sim, value_name(r))


def query_and_neighbours(image, query_caption: str, alt: str, found: list[tuple[int, float]]):
    """The query (a chosen image, an uploaded one) and its neighbours ``found`` ([(row, similarity)]) as one
    unit: returns the cell beside the query, for what the page says about them."""
    return widgets.query_and_neighbours(image, query_caption, alt, [ds.images[i] for i, _ in found],
                                        [neighbour_caption(i, s) for i, s in found],
                                        [readouts.image_alt(ds, i, s) for i, s in found])


def choose_typed() -> None:
    typed = st.session_state.get(pick_key)
    if typed is not None and 0 <= typed <= last and int(typed) != st.session_state.get(state_key):
        choose(int(typed))


if pick_key not in st.session_state:
    st.session_state[pick_key] = selected  # empty until an image is chosen: a 0 there read as image #0 chosen
if selected is not None and st.session_state.get(f"{pick_key}_follows") != selected:
    st.session_state[pick_key] = selected  # the box shows the image chosen by a click or at random
    st.session_state[f"{pick_key}_follows"] = selected
with side:
    # the image chosen and its neighbours first, where a click on the map shows them, and the box to choose one by
    # number under them: above them (its label and two buttons), it put the first row of neighbours' captions below
    # a 1280x720 screen's edge
    shown, picker = st.container(), st.container()
same = readouts.sharing(values, selected, neighbours) if selected is not None else None
by = readouts.factor_words(colour_by)  # "colour", as every text says it, not the factor's key
with picker:
    # told as it changes: a keyboard user who typed a number stays in the box, below what it drew (a review); first in
    # its container and drawn before an image is chosen too, since a screen reader tells changes of a region it has
    widgets.live_region([f"Showing image {selected} ({value_name(selected)}) beside {len(neighbours)} neighbours"
                         + (f"; {same} share its {by}" if same is not None else "")] if selected is not None else [])
    a, b = st.columns([1, 1])
    # not bounded in the browser: an out-of-range number there only turns the box red and is never sent,
    # so the page would go on showing the previous image without a word; here it gets an answer
    # value=None: a box emptied by hand stays empty (without it, it fell back to 0 and "Show neighbours" showed image #0)
    typed = a.number_input(f"Image # (0 to {last})", value=None, step=1, key=pick_key, on_change=choose_typed,
                           placeholder="a number", help="Type an image's number and press Enter to see it and its "
                                                        "nearest neighbours.")
    in_range = typed is not None and 0 <= typed <= last
    if typed is not None and not in_range:
        st.error(f"There is no image #{typed}: {run['dataset']} has images #0 to #{last}.")
    b = b.container(horizontal=True)  # one under the other beside the box; side by side under it on a phone
    # not disabled while the box is empty: a number typed and the button clicked (no Enter) is sent as the box loses
    # focus, and a click on a button still disabled then was lost
    if b.button("Show neighbours", key="explore_show", disabled=typed is not None and not in_range) and in_range:
        choose(int(typed))
        st.rerun()
    if b.button("Random image", key="explore_random"):
        choose(int(np.random.default_rng().integers(len(ds))))
        st.rerun()
with shown:
    if selected is None:
        st.caption("No image chosen yet: tap a point on the map for its row number and type it below."
                   if touch else
                   "No image chosen yet: click a point on the map, or type an image number below.")
    else:
        beside = query_and_neighbours(ds.images[selected], readouts.query_caption(ds, selected, value_name(selected)),
                                      readouts.image_alt(ds, selected), neighbours)
        path = readouts.image_path(ds, selected)
        beside.markdown(f"**Image #{selected}** ({'train' if bool(ds.is_train[selected]) else 'test'} split"
                        + (f", {code(path)}" if path else "") + f") and its {len(neighbours)} nearest "
                        "neighbours (cosine similarity of the features)")
        if same is not None and neighbours:
            beside.caption(f"{same} of {len(neighbours)} neighbours share the query's {by} ({value_name(selected)}).")
        elif neighbours:
            beside.caption(f"The query's {by} is unknown, so the neighbours cannot be checked against it.")
        if (unrelated := readouts.unrelated_similarity(art.probes)) is not None:
            # a review read 0.994 to 0.997 for circles, triangles and stars alike as a failure: similarities are relative
            # (in plain words: "an image and itself 1: read a neighbour's similarity between the two" lost readers)
            # (as short as it was: a line more pushed the first neighbours below a 1280x720 screen's edge)
            beside.caption(f"Unrelated images of this run are {unrelated:.2f} alike on average, an image with itself "
                           "1.00: trust the neighbours' order more than their similarity values.")

st.divider()
evo_col, up_col = st.columns([3, 2], gap="medium")
with evo_col:
    st.header("How the map formed")
    snap_rows, maps = art.evolution()
    if maps and snap_rows is not None and len(snap_rows) == len(next(iter(maps.values()))):
        epochs = sorted(maps)
        # in the address (a teacher's "before pretraining" frame, shared, opened at the last one)
        epoch = urlstate.select_slider("Epoch (0 = before pretraining)", epochs, key=f"explore_epoch_{run['id']}",
                                       param="epoch", default=epochs[-1], of=run["id"])
        sub_values = values[snap_rows]
        widgets.chart(charts.embedding_map(maps[epoch], sub_values, names, rows=snap_rows, height=420, legend_below=True,
                                           name_groups=name_groups),
                        key=f"evo_{run['id']}_{epoch}")
        n_train = int(ds.is_train.numpy()[snap_rows].sum())
        # (a set without labels has no per-epoch kNN accuracy: its subset draws no test images, and "0 test images,
        # the subset the per-epoch kNN accuracy uses" read as a mistake beside its 8 test images)
        which = (f"{n_train:,} training and {len(snap_rows) - n_train:,} test images, the subset the per-epoch kNN "
                 "accuracy uses" if len(snap_rows) > n_train else
                 "training images: a set without labels has no per-epoch kNN accuracy, so no test images are drawn")
        # a student read the last frame, laid out unlike the map above, as another result
        st.caption(f"UMAP of the same {len(snap_rows):,} images after each epoch ({which}); each "
                   "epoch's map starts from the previous one, so points move rather than jump"
                   + (" (on so few images less so: the layout is free to move far from where it starts)"
                      if len(snap_rows) < readouts.SMALL_FRAMES else "") + ". Epoch 0 is the "
                   "untrained network, which already groups some images alike: slide to watch the groups form or "
                   f"tighten. Its last frame maps the same features as the map above, for these images, not all "
                   f"{len(ds):,}: UMAP lays them out anew, so compare which groups form, not where they sit.")
    else:
        st.caption("The frames of the map after each epoch are laid out after the run's probes: they appear here "
                   "when it is done." if run["status"] == "running" else
                   "This run was evaluated with `--evaluation basic`, which lays out no map per epoch (full "
                   "evaluation does)." if basic else
                   "This run has no per-epoch snapshots (it finished before they were recorded, or was not trained).")
with up_col:
    st.header("Neighbours of your own image")
    st.file_uploader("An image (PNG, JPEG, …)", type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
                     key=f"explore_upload_{run['id']}")
    if upload_error:
        st.error(upload_error)
    elif uploaded:
        q = uploaded
        beside = query_and_neighbours(q["image"], f"your image at {ds.image_size}×{ds.image_size}"
                                      + (", grayscale" if ds.channels == 1 else ""),
                                      "your uploaded image, as the encoder sees it", q["neighbours"])
        if q["predicted"]:
            beside.markdown(readouts.knn_verdict(*q["predicted"], (run["summary"] or {}).get("knn_accuracy"),
                                                 q["unlike"]))
        st.caption("The image is resized (centre-fitted) to the dataset's size, its transparent parts given the "
                   "colour of the dataset's image borders, and embedded by this run's encoder; "
                   "its neighbours come from the run's faiss index. Images unlike the training data (a photo "
                   "against digits drawn light on dark) land wherever the encoder happens to put them. On the map "
                   "above, a pink cross marks it among its neighbours (among those that lie together and weigh most, "
                   "the nearest weighing most, as UMAP starts a new point: the map's layout cannot place a new "
                   "image itself).")

st.divider()
st.header("Export and reproduce")
# what it trained with, beside the button that changes it (at the top it pushed the neighbours off a projector's screen)
st.caption(readouts.augment_line(run))
export_key = f"explore_export_{run['id']}"
b1, b2 = st.columns(2)
if b1.button("Prepare the export", key="explore_export", help="Run card, embeddings, checkpoint, figures and the "
             "command that trains this run again (`python -m ssrl_core export` does the same)."):
    st.session_state[export_key] = True
widgets.settings_button(run, b2, key="explore_again", label="Train it again with changes")
if st.session_state.get(export_key):
    try:
        with st.spinner(f"Writing the export of {len(ds):,} images' embeddings (once per run; "
                        f"{'half a minute or so' if len(ds) > 20_000 else 'seconds'})…"):
            files = services.export_run(run)
    except ValueError as e:
        st.error(f"Export failed: {e}")
    else:
        st.code(files["reproduce.sh"].read_text().splitlines()[-1], language="sh")
        # each file is read (from the zip) when its button is clicked, not on every rerun of the page: a
        # 60,000-image export is hundreds of MB
        st.download_button("Everything (.zip)", files["all"].read_bytes, file_name=f"ssrl-run-{run['id']}.zip",
                           mime=services.EXPORT_MIME[".zip"], key="dl_all", type="primary", on_click="ignore",
                           help=services.size_text(files["all"].stat().st_size))
        names = [n for n in files if n != "all"]
        for start in range(0, len(names), 5):
            for col, n in zip(st.columns(5), names[start:start + 5]):
                col.download_button(n, files[n].read_bytes, file_name=f"{run['id']}-{n}",
                                    mime=services.EXPORT_MIME.get(files[n].suffix), key=f"dl_{n}", on_click="ignore",
                                    help=services.size_text(files[n].size))
