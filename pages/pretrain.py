"""Pretrain: choose a dataset, a pretext task, augmentations and an encoder; launch a run
in the background worker; watch it learn; cancel it; see every run's status."""
import json

import streamlit as st

from app import services, urlstate, widgets
from app.text import about, md
from ssrl_core.config import RunConfig, default_batch, default_options
from ssrl_core.data import check_files
from ssrl_core.models import ENCODERS
from ssrl_core.pretext import METHODS

st.title("Pretrain")
with st.container():  # (in a container: the page below keeps its place when the note goes, the live panel's too)
    if st.session_state.get(services.LAUNCHED_ON_START) and (launched := st.session_state.get(services.LAUNCHED)):
        # from Start's quick start: said first, where the page opens (under Launch it was 1,200 px down on a phone)
        widgets.launched_note(launched, top=True)


def missing_note(box, what: str, missing, details: bool = True) -> None:
    """A missing dataset as one line (``what``, and the folder its files go in), with the file
    list and where to get them folded away."""
    box(f"{what} Without network, put its files in `{missing.folder}`.", icon=":material/folder_off:")
    if details:
        with st.expander("Which files, and where to get them"):
            st.text("\n".join(str(missing).splitlines()[1:]))


families: dict[str, list[str]] = {}
for name, m in METHODS.items():
    families.setdefault(m.family, []).append(name)

controls, advanced = not urlstate.hidden("controls"), not urlstate.hidden("advanced")
widgets.form_from_note()
pt = widgets.form_prefix()  # the form's widget keys: new ones once a run's settings were put in it
# what to train on the left; how long, Launch and the live panel on the right, so that Launch and the run it
# queued are on a 1280x720 projector's first screen (one column of the form put Launch 114 px below the fold,
# with the right column empty while nothing trained); on a phone the columns stack in that order
left, right = st.columns(2, gap="large")
with left:
    all_data = services.datasets()
    dataset = urlstate.selectbox("Dataset", list(all_data), key=f"{pt}_dataset", param="dataset", default="digits",
                                 hide=not controls, format_func=lambda n: f"{n} — {all_data[n]}")
    missing = check_files(dataset)  # the disk only: no download on a page load
    ds = data_error = None
    if missing:
        missing_note(st.warning, missing.summary, missing)
    else:
        ds, data_error = services.dataset(dataset)  # from the disk, once per server
        if data_error:
            widgets.dataset_error(data_error)
    shape = (ds.channels, ds.num_classes, int(ds.is_train.sum())) if ds is not None else None
    method_names = [n for fam in families.values() for n in fam]
    refused: dict[str, str] = {}
    # the encoder box comes below; its value from this session (or the link) marks what it cannot train
    encoder_now = st.session_state.get(f"{pt}_encoder", st.query_params.get("encoder", "auto"))
    if shape:
        with st.spinner(f"Checking which pretext tasks can train on {dataset}…"):
            refused = services.refused_methods(dataset, method_names, shape,
                                               encoder_now if encoder_now in ENCODERS else "auto")
    linked_method = st.query_params.get("method", "simclr")
    method = urlstate.selectbox("Pretext task", method_names, key=f"{pt}_method", param="method", default="simclr",
                                hide=not controls,
                                format_func=lambda n: f"{METHODS[n].family}: {n}"
                                + (f" ({refused[n]})" if n in refused else ""))
    if method != linked_method:  # a link's ?options= are its method's: another method starts at its defaults
        st.query_params.pop("options", None)
    if controls:
        st.caption(f"**{method}** — {METHODS[method].summary}.")
    spec = widgets.augment_picker(pt, dataset, param="augment", hide=not controls)
    encoder = urlstate.selectbox("Encoder", ["auto"] + list(ENCODERS), key=f"{pt}_encoder", param="encoder", default="auto",
                                 hide=not controls,
                                 format_func=lambda e: (f"auto — {METHODS[method].preferred_encoder} for {method}"
                                                        if METHODS[method].preferred_encoder else
                                                        "auto — cnn-small on CPU, resnet18 on a GPU") if e == "auto"
                                 else f"{e} — {ENCODERS[e]}")
with right:
    # the form's part in a container of its own: its boxes, warnings and notes come and go, and the live panel after
    # them kept no fixed place in the column, so its region for screen readers was made anew when a run ended (a
    # screen reader tells the changes of a region it has, not one put there with its text: widgets.live_region)
    with st.container():
        show_advanced = controls and advanced
        # the boxes' rows only where boxes are drawn: an empty row of columns still took its height (on a phone, a
        # class link's four empty columns stacked into 130 px of blank above Launch)
        c1, c2 = st.columns(2) if show_advanced else (st, st)
        out_of_range: list[str] = []  # the boxes' values outside the form's bounds, said before Launch
        epochs = urlstate.number_input("Epochs", 0, 1000, 10, 1, key=f"{pt}_epochs", param="epochs", hide=not controls,
                                       container=c1, problems=out_of_range)
        if int(epochs) == 0 and METHODS[method].trainable:  # a run of 0 epochs: the untrained encoder, under its name
            widgets.icon_caption(
                "info", f"0 epochs trains nothing: the run measures the untrained encoder (what the "
                f"`random` baseline of this seed gives), listed as {method}.", where=c1)
        elif not METHODS[method].trainable and int(epochs) > 0 and controls:
            # a student launched `random` at 1 epoch and found "0 epochs" on every page after
            widgets.icon_caption(
                "info", f"`{method}` trains nothing: it is the untrained encoder of this seed, recorded "
                "with 0 epochs whatever this box says, and its augmentations are not used.", where=c1)
        batch = urlstate.number_input("Batch size", 2, 4096, default_batch(dataset), 1, key=f"{pt}_batch_{dataset}",
                                      param="batch", hide=not show_advanced, container=c2, problems=out_of_range,
                                      help="images per optimiser step; small sets default to small batches, so that "
                                           "a few epochs still make many steps")
        c3, c4 = st.columns(2) if show_advanced else (st, st)
        lr = urlstate.number_input("Learning rate", 1e-5, 1.0, 2e-3, 1e-4, key=f"{pt}_lr", param="lr",
                                   hide=not show_advanced, container=c3, format="%g", problems=out_of_range)
        seed = urlstate.number_input("Seed", 0, 2**31 - 1, 0, 1, key=f"{pt}_seed", param="seed", hide=not show_advanced,
                                     container=c4, problems=out_of_range)
        sized = default_options(dataset, method)  # an imported set's defaults fit its size; keyed per set, as the batch
        options = widgets.method_options(METHODS[method], key=f"{pt}_opt_{method}" + (f"_{dataset}" if sized else ""),
                                         param="options", hide=not show_advanced, sized=sized)
        if controls and not show_advanced and options:
            st.caption(f"{method} options from the link: `{widgets.options_text(options)}`.")
        if not controls:
            left.markdown(f"**{method}** ({METHODS[method].family}) on **{dataset}**, augmentations `{spec}`, "
                          f"encoder {encoder}, {int(epochs)} epochs, batch {int(batch)}, lr {lr:g}, seed {int(seed)}"
                          + (f", options `{widgets.options_text(options)}`." if options else "."))
            left.caption(f"{METHODS[method].summary}.")

        # what Launch would refuse, said before it is pressed (a missing dataset is not: Launch tries its download)
        cfg, problem = None, data_error or (out_of_range[0] if out_of_range else None)
        try:
            cfg = RunConfig(dataset=dataset, method=method, augment=spec, encoder=encoder, epochs=int(epochs),
                            batch_size=int(batch), lr=float(lr), seed=int(seed), options=options)
        except ValueError as e:
            problem = problem or str(e)
        if cfg is not None and shape and not problem:
            problem = services.refusal(dataset, method, encoder, json.dumps(options, sort_keys=True), shape)
        cautions: list[str] = []
        if cfg is not None and ds is not None and not problem:  # options against this training set and batch
            problem, cautions = services.data_check(cfg, ds)
        if problem and problem != data_error:  # a damaged dataset's error is already shown under its box
            st.warning(f"Can't launch: {problem}", icon=":material/block:")
        if ds is not None:
            for caution in cautions:  # a batch over the set, options that train on it but degenerately
                st.warning(caution, icon=":material/straighten:")
            caveats = ds.evaluation_caveats()
            if caveats:
                st.info("**About the accuracies this run will get:** " + " ".join(md(c) for c in caveats),
                        icon=":material/straighten:")

        # whether a run launched here is queued or training (the session keeps its id after it ended), read once
        launched = st.session_state.get(services.LAUNCHED)
        watching = launched is not None and (r := services.store().get(launched)) is not None and \
            r["status"] in services.ACTIVE
        # (the finished twin's note, above Launch, kept the relaunched run's Cancel off the first screen; Launch's own
        # state says a click before the button is drawn)
        if cfg is not None and not problem and not (watching or st.session_state.get("pt_launch")):
            widgets.twin_link(cfg, relaunch=True, watch=False)
        if st.button("Launch", type="primary", key="pt_launch", disabled=bool(problem),
                     help="Can't launch: the reason is above" if problem else None):
            if problem:  # not pressable then; kept for a click that raced the check
                st.error(f"Not launched: {problem}")
            else:
                # where files are missing, tries their download
                _, data_error = services.dataset(dataset, download=True)
                if not data_error:
                    data_error = services.preflight(cfg)
                if gone := check_files(dataset):  # still missing (no network, or moved since): the worker would fail it
                    missing_note(st.error, f"Not launched: {(data_error or gone.summary).splitlines()[0]}", gone,
                                 details=False)  # the warning above has them
                elif data_error:
                    st.error(f"Not launched: {data_error}")
                elif twin := services.active_twin(cfg):
                    st.info(f"Run {twin}, with these very settings, is already queued or training for you: not queued "
                            "twice (it would give the same result). Change a setting, e.g. the seed, to train another.")
                else:
                    rid, refused_by = services.submit(cfg)
                    if refused_by:
                        st.error(refused_by)
                    else:
                        st.session_state[services.LAUNCHED] = rid
                        st.session_state.pop(widgets.FORM_FROM, None)  # launched: the form is the run's now
                        # said under this Launch, where the click was
                        st.session_state[services.LAUNCHED_ON_START] = False
        # what it will cost, said before the click (a teacher timing a class): from runs like it that finished here.
        # Under Launch, which stays on a 1280x720 screen's first view, and not while a run launched here is queued or
        # training: the note on it and its Cancel in the live panel take that place (above Launch, with the note, it
        # pushed Cancel off that screen); once it ended, the next run's cost is said again
        watching = watching or st.session_state.get(services.LAUNCHED) != launched  # (or launched by this click)
        if cfg is not None and not problem and not watching:
            if (took := services.run_seconds([cfg.to_dict()])) is not None:  # (read only where it is said)
                widgets.icon_caption(
                    "schedule", f"Takes {about(took)} on this machine, training and evaluation, "
                    "estimated from the runs like it that finished here (longer while other runs train).")
            else:  # (no time said is not "no time": a teacher planning a class read the silence as nothing to go on)
                widgets.icon_caption(
                    "schedule", f"No time estimate yet: none is guessed until a run like this one "
                    f"({services.LIKE_RUN}) has finished on this machine.")
        # said until the run ends, not for this rerun only: the live panel redraws the page when the run starts,
        # a second or two after the click, and the note went with it
        if not st.session_state.get(services.LAUNCHED_ON_START) and \
                (launched := st.session_state.get(services.LAUNCHED)):
            widgets.launched_note(launched)

    st.header("Training now")
    widgets.live_runs_panel()

if controls:
    st.header("All runs")
    widgets.run_actions(widgets.runs_table())
