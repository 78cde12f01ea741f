"""Data: browse a dataset's images with their labels and ground-truth factors."""
import numpy as np
import streamlit as st

from app import readouts, services, urlstate, widgets
from app.text import agree, count, md
from ssrl_core.data import DATASETS
from ssrl_core.data import torchvision_sets as tvs
from ssrl_core.data.custom import (MAX_UPLOAD_MB, NAME_RE, NameTaken, SameImages, check_name, custom_datasets,
                                   import_report, suggest_name)
from ssrl_core.runs.remove import dataset_deletion, delete_dataset
from ssrl_core.runs.store import same_nickname


def import_clicked() -> None:
    """The Import button: import the chosen archive; only this attempt's outcome is kept, with the file it is
    about (another file chosen, the outcome goes: it described that file)."""
    ss = st.session_state
    outcome = _import(ss)
    outcome["file"] = ss["data_upload"].file_id
    ss["data_import_outcome"] = outcome


def _import(ss) -> dict:
    """The outcome of importing the chosen archive under the typed name."""
    name = ss.get("data_import_name", "").strip()
    tick = f"data_import_replace_{name}"  # ticked for this very name, or it does not count
    replace = bool(ss.get(tick)) and name in custom_datasets()
    if tick in ss:
        ss[tick] = False  # every replacement is asked for anew
    try:
        report = services.import_archive(ss["data_upload"], name, ss["data_import_size"], replace=replace)
    except NameTaken as e:
        free = ss["data_import_name"] = ss["data_import_suggested"] = suggest_name(e.name)
        return {"error": (
            f"a dataset named '{e.name}' was imported before; nothing was changed. The name box now holds "
            f"'{free}', which is free: click Import to import under it. To overwrite '{e.name}' instead, type "
            f"its name back and tick *Replace the dataset '{e.name}' imported before*.")}
    except SameImages as e:  # the class's zip, imported by a classmate: the page opens on theirs
        open_on(e.existing)
        return {"same": e.existing, "said": (
            f"**{md(e.existing)}** holds these images already: the same {e.images:,} images at {e.size} px, with "
            f"the same labels and split. Nothing was imported; the page now shows **{md(e.existing)}**. (At another "
            "resolution they would make a new set.)")}
    except ValueError as e:
        return {"error": md(e)}  # it names the archive's members
    open_on(report["name"])
    return {"report": report, "replaced": replace}


def delete_clicked(name: str) -> None:
    """The confirmation's button: delete the imported set ``name``; the page then opens on the first set."""
    try:
        done = delete_dataset(services.store(), name)
    except (ValueError, OSError) as e:  # a run on it started meanwhile; a folder that cannot be removed
        st.session_state["data_deleted"] = {"error": md(e)}
        return
    st.session_state["data_deleted"] = done
    st.session_state.pop("data_dataset", None)
    if "dataset" in st.query_params:
        del st.query_params["dataset"]


def open_on(name: str) -> None:
    """Open the page on dataset ``name``: its box is set to it (set in a callback, before the box is drawn, the
    browser's box shows it too; dropping the box's state instead left the browser showing the old set)."""
    st.session_state["data_dataset"] = name
    st.query_params["dataset"] = name


DATA_PER_ROW = 10  # 96 px cells on a 1280 px page; fewer where narrower (``widgets.image_grid``)


def import_panel() -> None:
    """The expander where a zip becomes a dataset, and what came of the last import."""
    with st.expander("Import your own images"):
        st.markdown("A **.zip** of two or more class folders (`cat/1.png`, `dog/2.jpg`) becomes a labelled dataset "
                    "(images beside the folders are skipped); a zip of loose images, or of one folder, an unlabelled "
                    f"one. Up to {MAX_UPLOAD_MB} MB; any common image format; images are resized (shorter side, then a "
                    "centre crop).")
        upload = st.file_uploader("Archive", type=["zip"], key="data_upload")
        if upload is not None and st.session_state.get("data_import_for") != (upload.name, upload.size):
            # a new archive: name the dataset after it, unless a name of one's own is typed
            st.session_state["data_import_for"] = (upload.name, upload.size)
            typed = st.session_state.get("data_import_name", "").strip()
            if not typed or typed == st.session_state.get("data_import_suggested"):
                st.session_state["data_import_name"] = st.session_state["data_import_suggested"] = suggest_name(upload.name)
        c1, c2 = st.columns(2)
        new_name = c1.text_input("Dataset name", key="data_import_name", placeholder="e.g. my-leaves", max_chars=40,
                                 help="lowercase letters, digits, '-' or '_', up to 40; starts as the zip's name").strip()
        c2.select_slider("Resolution", [16, 24, 28, 32, 48, 64, 96], value=32, key="data_import_size")
        outcome = st.session_state.get("data_import_outcome") or {}
        if outcome.get("file") != (upload.file_id if upload else None):
            # another file chosen, or none: the outcome described the file before (a file's id is new at every upload)
            outcome = st.session_state["data_import_outcome"] = {}
        just_done = "report" in outcome and outcome["report"]["name"] == new_name  # this archive, under this name
        if new_name in custom_datasets() and not just_done:  # (not the set this very click made: nothing to replace)
            by = (import_report(new_name) or {}).get("imported_by")
            by = f" by **{md(by)}**, not you" if by and not same_nickname(by, services.current_nickname()) else ""
            st.checkbox(f"Replace the dataset '{new_name}' imported before{by}", key=f"data_import_replace_{new_name}",
                        help="Ticked, the archive replaces that dataset once it has been read (an archive that fails to "
                             "import changes nothing). Runs made on the old images keep their accuracies; their maps and "
                             "neighbours belong to the old images, so Explore and Compare say so instead of drawing "
                             "them. Unticked again after every import.")
        # said as it is typed, not after Import has read the whole archive
        bad_name = None
        if new_name:
            try:
                check_name(new_name, set(DATASETS))
            except ValueError as e:
                bad_name = str(e)
                widgets.icon_caption("edit", f"{md(bad_name[:1].upper() + bad_name[1:])}." + (
                    f" **{md(suggest_name(new_name))}** would do." if NAME_RE.match(new_name) is None else ""),
                    where=c1)
        st.button("Import", key="data_import", disabled=upload is None or just_done or bad_name is not None,
                  on_click=import_clicked,
                  help="This archive is imported under this name: choose another archive or name" if just_done else
                  "Choose a valid name first (see under the name box)" if bad_name else None)
        if "error" in outcome:
            st.error(f"Not imported: {outcome['error']}")
        if "same" in outcome:
            st.info(outcome["said"], icon=":material/content_copy:")
        report = outcome.get("report")
        if report:
            st.success(("Replaced" if outcome["replaced"] else "Imported") + f" **{report['name']}**: "
                       f"{report['images']:,} images, "
                       + ("labelled: " + ", ".join(f"{md(k)} {v}" for k, v in report["per_class"].items())
                          if report["labelled"] else "unlabelled") + f"; {count(report['channels'], 'channel')}; "
                       f"{report['train']:,} for training, {report['test']:,} held out for testing. "
                       + readouts.resized(report) + readouts.stretched(report)
                       + readouts.first_pages(report) + readouts.merged_folders(report))
        if made := report["name"] if report else outcome.get("same"):
            st.page_link("../pages/pretrain.py", label=f"Pretrain on {made}", icon=":material/model_training:",
                         query_params={"dataset": made, **urlstate.carried()})
        if report:
            if report["unlabelled_reason"]:
                st.info(md(report["unlabelled_reason"]), icon=":material/label_off:")  # names a folder
            if report["skipped"]:
                st.warning(f"Skipped {count(len(report['skipped']), 'file')}:")
                st.dataframe(report["skipped"], hide_index=True, key="data_import_skipped")


st.title("Data")
# a class link with ?hide=controls shows the set it names: no box to change it, no import or delete
controls = not urlstate.hidden("controls")
if controls:
    import_panel()
if deleted := st.session_state.pop("data_deleted", None):
    if "error" in deleted:
        st.error(f"Not deleted: {deleted['error']}", icon=":material/error:")
    else:
        st.success(f"Deleted the dataset **{md(deleted['name'])}** ({deleted['mb']:.1f} MB)." + (
            f" The {count(len(deleted['runs']), 'run')} made on it {agree(len(deleted['runs']), 'stays', 'stay')}, with "
            f"{agree(len(deleted['runs']), 'its accuracies', 'their accuracies')}; importing the same archive as "
            f"**{md(deleted['name'])}** again brings back {agree(len(deleted['runs']), 'its', 'their')} maps, neighbours "
            "and probes."
            if deleted["runs"] else ""), icon=":material/delete:")
all_data = services.datasets()
name = urlstate.selectbox("Dataset", list(all_data), key="data_dataset", param="dataset", default=next(iter(all_data)),
                         format_func=lambda n: f"{n} — {all_data[n]}", hide=not controls)
if not controls:
    st.markdown(f"**{md(name)}** — {md(all_data[name])}")
ds, error = services.dataset(name)
if error:
    widgets.dataset_error(error)
    if size := services.downloadable(name):  # asked for, its size said: a page load downloads nothing
        title = tvs.title(name)
        if controls and st.button(f"Download {title} ({size})", key="data_download", icon=":material/download:",
                                  help="Into the data folder named above, from its makers' server; this page waits "
                                       "until it is done."):
            with st.spinner(f"Downloading {title} ({size})…"):
                failed = services.download(name)
            if failed:
                st.error(md(failed.partition("\n")[0]), icon=":material/cloud_off:")
            else:
                st.rerun()
    widgets.stop()

info = ds.describe()  # one line, not five metrics: on a phone they stacked and filled the first screen
n_classes = info["classes"]
importer = (import_report(name) or {}).get("imported_by")
st.markdown(f"**{info['images']:,}** images of {info['size']}×{info['size']} px, {count(info['channels'], 'channel')}"
            + (f" · **{n_classes}** {agree(n_classes, 'class', 'classes')}" if n_classes else " · **unlabelled**")
            + f" · **{info['train']:,}** for training, **{info['test']:,}** held out for testing"
            + (f" · imported by **{md(importer)}**" if importer else ""))
caveats = ds.evaluation_caveats()
if caveats:
    st.warning("**About the accuracies of runs on this dataset:** " + " ".join(md(c) for c in caveats),
               icon=":material/straighten:")
if name in custom_datasets() and controls:
    with st.popover("Delete this dataset", icon=":material/delete:"):
        try:
            plan = dataset_deletion(services.store(), name)
        except ValueError as e:  # a run on it queued or training
            st.warning(md(e))
        else:
            runs = plan["runs"]
            theirs = importer and not same_nickname(importer, services.current_nickname())  # no login: said, not forbidden
            st.markdown((f"**{md(importer)}** imported this dataset, not you: ask them first. " if theirs else "")
                        + f"Deletes the images of **{md(name)}** ({plan['mb']:.1f} MB) from this server for everyone. "
                        + (f"The {count(len(runs), 'run')} made on it {agree(len(runs), 'stays', 'stay')}, with "
                           f"{agree(len(runs), 'its', 'their')} accuracies, but {agree(len(runs), 'its', 'their')} "
                           "maps, neighbours and probes need the images: importing the same archive under this name "
                           "brings them back." if runs else "No run was made on it."))
            st.button(f"Delete {name}", key="data_delete", type="primary", on_click=delete_clicked, args=(name,))
if ds.factors:
    discrete = ds.discrete_factors()
    continuous = [f for f in ds.factors if f not in discrete]
    st.caption("Ground-truth factors to colour the map by (on the Explore page) and to probe (Invariance): "
               + ", ".join(discrete) + "." + (" Continuous ones, shown in *Factors of these images* below: "
                                              + ", ".join(continuous) + "." if continuous else ""))

c1, c2, c3 = st.columns([2, 2, 1])
# both in the address: a teacher's link to one class, captioned by a factor, opened on every class by label
urlstate.start("data_classes", "classes", urlstate.choices(ds.class_names), [], of=name)
classes = c1.multiselect("Only these classes", ds.class_names, key="data_classes")
urlstate.keep("classes", ",".join(classes), "", of=name)
factor = "label"
if ds.factors:
    with c2:
        factor = urlstate.selectbox("Caption with", ["label"] + ds.discrete_factors(), key="data_caption",
                                    param="caption", default="label")
# the sample in the address too: a teacher who shuffled to a telling sample shared a link that showed the first
urlstate.start("data_seed", "sample", urlstate.integer(0, 1_000_000), 0, of=name)
if c3.button("Shuffle", key="data_shuffle", help="Another sample of 32 images (the link keeps which)"):
    st.session_state["data_seed"] += 1
urlstate.keep("sample", st.session_state["data_seed"], 0, of=name)

rows = np.arange(len(ds))
if classes:
    wanted = [ds.class_names.index(c) for c in classes]
    rows = rows[np.isin(ds.labels.numpy(), wanted)]
rng = np.random.default_rng(st.session_state["data_seed"])
show = np.sort(rng.choice(rows, size=min(32, len(rows)), replace=False)) if len(rows) else rows
if not len(show):
    st.info("No images match.")
    widgets.stop()

values, names = readouts.colouring(ds, factor)
st.caption(f"Under each image: {readouts.caption_key(ds, factor)}.")
# a grid of equal cells, their captions wrapped in them: as one st.image list, each image widened to its caption
# ("#1756 · heart · green") and the rows ran 8, 7 and 8 to a row, out of line (on a phone 2 or 3)
widgets.image_grid([ds.images[int(r)] for r in show],
                   [readouts.image_caption(ds, int(r), readouts.value_name(values, names, int(r))) for r in show],
                   DATA_PER_ROW, alts=[readouts.image_alt(ds, int(r)) for r in show])
if ds.factors:
    with st.expander("Factors of these images"):
        st.dataframe({k: [float(v[r]) if v.is_floating_point() else int(v[r]) for r in show] for k, v in ds.factors.items()}
                     | {"row": [int(r) for r in show]}, hide_index=True)
