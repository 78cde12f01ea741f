"""Widgets shared by several pages: the augmentation picker, run pickers, the live run
panel and image grids."""
from __future__ import annotations

import html
import json
import shlex
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, unquote

import streamlit as st

from ssrl_core.augment import OPS, PRESET_HELP, PRESETS, Pipeline, parse_augment
from ssrl_core.config import DEFAULT_AUGMENT, RunConfig, parse_options
from ssrl_core.pretext import EMBEDDING_STD_SINCE, METHODS, read_embedding_std
from ssrl_core.runs.artifacts import MAP_UMAP
from ssrl_core.runs.store import (LESSON_NICKNAME, NICKNAME_MAX, epoch_text, folder_gone, in_line, lessons_own,
                                  phase_text, same_nickname, silence)
from ssrl_core.text import first_line, ordinal

from . import charts, readouts, services, urlstate
from .text import about, agree, code, count, listing, md, one_line, quiet_icon
from .images import to_hwc
from .screen import LIVE_CLASS

CUSTOM = "custom…"
RANK_WHAT = "Effective rank: how many directions the encoder's features really use (1 = collapsed to a line or a point)."
STD_WHAT = ("Embedding std: spread of the L2-normalised embedding the method's loss compares (its projector's output; "
            "the features for methods without one): about 1/√d when spread over d dimensions, 0 when every image maps "
            "to the same point. Features after a ReLU are all positive, so there a healthy value is well below 1/√d. "
            f"Blank for a run with a projector trained before {EMBEDDING_STD_SINCE}: it was read on the features then, "
            "and does not compare.")
# the tables' numbers are the finished run's, on all its images; Pretrain's live panel gives each epoch's rank, on a
# subset (a review found this help, "measured after every epoch", on every table, beside numbers that were not)
COLLAPSE_HELP = ("Collapse diagnostics of the finished run, measured once it had trained, on all its images "
                 "(Pretrain's live panel shows the effective rank after each epoch, on a subset: it differs a little). "
                 + RANK_WHAT + " " + STD_WHAT)


class PageEnd(Exception):
    """Raised by ``stop``; ``app/main.py`` catches it."""


def stop() -> NoReturn:
    """End the page's run here, as ``st.stop()`` would, but so that ``app/main.py``'s steps
    after every page (remembering its address, repeating a link's warnings) still run:
    after ``st.stop()`` each use of session state raises again, and they were skipped on every
    page that stopped (a gallery with no runs yet, Explore waiting for one)."""
    raise PageEnd


def _param_range(name: str, op: str) -> tuple[float, float, float]:
    """Slider bounds (lo, hi, step) for an op parameter: only values ``parse_augment`` takes
    (a crop's scale and a blur's sigma start a step above 0: at 0 the slider gave an error
    instead of pictures); an op's own ``ranges`` first."""
    if name in getattr(OPS.get(op), "ranges", {}):  # as floats: a slider of whole-number bounds and a float value erred
        lo, hi, step = OPS[op].ranges[name]
        return float(lo), float(hi), float(step)
    if name.endswith("scale") and op == "crop":
        return 0.05, 1.0, 0.05
    if name == "p" or name.endswith("scale") or name.endswith("area") or name == "threshold":
        return 0.0, 1.0, 0.05
    if name == "degrees":
        return 0.0, 180.0, 5.0
    if name.endswith("sigma") or name == "sigma":
        step = 0.05 if op == "blur" else 0.01
        return (step if name.startswith(("min_", "max_")) else 0.0), 3.0, step
    if name == "hue":
        return 0.0, 0.5, 0.01
    if name.endswith("ratio"):
        return 0.1, 4.0, 0.05
    return 0.0, 1.0, 0.05


def param_help(name: str, op: str) -> str:
    """What an op's strength means, in the units a student can picture (a slider's help); an
    op's own ``param_help`` first."""
    if name in getattr(OPS.get(op), "param_help", {}):
        return OPS[op].param_help[name]
    if name == "p":
        return "the chance a view gets this op: 0 never, 1 always"
    if name.endswith("scale"):
        return "the share of the image's area the crop box covers (then resized to the full image)"
    if name.endswith("ratio"):
        return "the crop box's width over its height"
    if name in ("brightness", "contrast", "saturation"):
        return f"how far {name} is scaled at most: 0.4 multiplies it by a factor between 0.6 and 1.4"
    if name == "hue":
        return ("how far hue turns at most, as a share of the colour wheel: 0.1 = up to ±36 degrees, 0.5 = any colour "
                "can become any other (the wheel of YIQ's colour plane, close to the HSV hue wheel torchvision turns, "
                "not the same: red turned 36° here leans to magenta, in HSV to orange)")
    if name == "degrees":
        return "the largest turn, either way"
    if name.endswith("sigma"):
        return ("the Gaussian's standard deviation (sigma), in pixels of the image as it trains (32 × 32 for digits, "
                "drawn from 8 × 8): it reaches about twice as far" if op == "blur" else
                "the noise's standard deviation, on pixel values from 0 to 1")
    if name == "threshold":
        return "pixels brighter than this (0 to 1) are inverted"
    if name.endswith("area"):
        return "the share of the image the blanked rectangle covers"
    return ""


def _spec_ok(raw: str) -> str:
    parse_augment(raw)  # ValueError with advice
    return raw


def augment_picker(key: str, dataset_name: str, param: str | None = None, hide: bool = False) -> str:
    """A preset, or ops with strength sliders. Returns the augmentation spec string.
    With ``param`` the starting spec comes from the URL (``?augment=crop(min_scale=0.3),flip``)
    and the chosen one is written back; ``hide`` draws nothing and uses the URL's spec."""
    default = DEFAULT_AUGMENT.get(dataset_name, "simclr")
    initial = urlstate.read(param, _spec_ok, default) if param else default
    if hide:
        if param:
            urlstate.write(param, initial, default)
        return initial
    options = list(PRESETS) + [CUSTOM]
    # the box follows the dataset until one picks augmentations: on shapes, digits' handwriting preset (no flips, no
    # colour) stayed chosen after the dataset box moved off digits (a review). Picked is picked: told by the boxes' own
    # changes, not by their values (a simclr picked on digits was taken back on the way back from shapes, whose default
    # it is); a link's augmentations are picked ones
    follows, box, picked = f"{key}_preset_default", f"{key}_preset", f"{key}_picked"
    if picked not in st.session_state:
        st.session_state[picked] = initial != default

    def pick() -> None:
        st.session_state[picked] = True

    last = st.session_state.get(follows)
    if last is not None and last != default and not st.session_state[picked]:
        st.session_state[box] = default if default in PRESETS else CUSTOM
        st.session_state[f"{key}_ops"] = [o.name for o in parse_augment(default).ops]
        initial = default
    st.session_state[follows] = default
    choice = st.selectbox(
        "Augmentations", options, index=options.index(initial if initial in PRESETS else CUSTOM), key=box, on_change=pick,
        format_func=lambda p: p if p == CUSTOM else f"{p} — {PRESET_HELP[p]}",
        help="For the two-view methods (SimCLR, MoCo, BYOL, SimSiam, Barlow Twins, VICReg, SwAV) the "
             "augmentations decide what the encoder learns to ignore: two views of one image differ only by "
             "them. The other methods see one augmented view per image (plain data augmentation).",
    )
    if choice != CUSTOM:
        spec = choice
        ops = parse_augment(spec).ops
    else:
        linked_ops = parse_augment(initial).ops
        start = {o.name: o for o in linked_ops}
        if len(start) < len(linked_ops):  # the boxes hold each op once: a link's repeat was dropped without a word
            named = [o.name for o in linked_ops]
            again = listing(list(dict.fromkeys(n for n in named if named.count(n) > 1)))
            st.warning(f"The link's augmentations repeat {md(again)}; this picker holds each op once, so each is "
                       "applied once (the CLI's `--augment` can repeat an op).", icon=":material/link_off:")
        # chips are the op names alone: in a narrow column 'op: description' was cut after a few words
        names = st.multiselect("Ops, applied in order", list(OPS), default=list(start), key=f"{key}_ops", on_change=pick,
                               help="  \n".join(f"**{n}**: {OPS[n].description}" for n in OPS))
        ops = []
        for name in names:
            op = start.get(name) or OPS[name]()
            with st.expander(f"{name} strengths", expanded=False):
                kwargs = {}
                params = op.params()
                for pname, val in params.items():
                    if pname.startswith("max_") and f"min_{pname[4:]}" in params:
                        continue  # set with its min, below
                    lo, hi, step = _param_range(pname, name)
                    top = params.get(f"max_{pname[4:]}") if pname.startswith("min_") else None
                    lo, hi = min(lo, float(val)), max(hi, float(val if top is None else top))  # a link's valid value is kept
                    if top is None:
                        kwargs[pname] = st.slider(pname, lo, hi, float(val), step, key=f"{key}_{name}_{pname}",
                                                  help=param_help(pname, name) or None, on_change=pick)
                    else:  # one slider with two handles: the min cannot pass the max (two sliders let it, and erred)
                        kwargs[pname], kwargs[f"max_{pname[4:]}"] = st.slider(
                            f"{pname[4:]} (min, max)", lo, hi, (float(val), float(top)), step,
                            key=f"{key}_{name}_{pname[4:]}_range", help=param_help(pname, name) or None,
                            on_change=pick)
            ops.append(OPS[name](**kwargs))
        spec = Pipeline(ops).spec() or "none"
        try:
            parse_augment(spec)
        except ValueError as e:
            st.error(str(e))
    st.caption("Ops: " + (", ".join(f"`{o.spec()}`" for o in ops) if ops else "none (two identical views)")
               + (f". The `{choice}` preset was made for {choice}; the default for {md(dataset_name)} is `{default}`."
                  if choice in DEFAULT_AUGMENT and choice != default else ""))
    if param:
        urlstate.write(param, spec, default)
    return spec


def options_text(options: dict) -> str:
    """Method options as the CLI's ``key=value`` pairs joined by commas (a link's ``?options=``)."""
    return ",".join(f"{k}={readouts.option_value(v)}" for k, v in options.items())


def _options_parser(method_cls, defaults: dict):
    """``?options=temperature=0.2,proj_dim=64`` -> the options given that differ from the
    form's ``defaults`` (an imported set's scaled ones included), checked as a launch checks
    them (ValueError naming the option, what it must be and its default)."""
    def parse(raw: str) -> dict:
        given = parse_options([p for p in raw.split(",") if p.strip()])
        checked = method_cls.validate_options(given)
        return {k: checked[k] for k in given if checked[k] != defaults[k]}
    return parse


def method_options(method_cls, key: str, param: str | None = None, hide: bool = False,
                   sized: dict | None = None) -> dict:
    """Inputs for a method's options (with their one-line help); returns only the changed ones.
    With ``param`` the starting values come from the URL (``?options=stop_gradient=false``)
    and the changed ones are written back; ``hide`` draws nothing and uses the URL's.
    ``sized``: defaults scaled to the dataset (``config.default_options``), which replace the
    method's and are marked so in the help."""
    sized = sized or {}
    defaults = {**method_cls.defaults, **sized}
    # read even for a method without options, so a link giving it some says they were ignored
    linked = urlstate.read(param, _options_parser(method_cls, defaults), {}) if param else {}
    if hide or not defaults:
        options = linked
    else:
        options = {}
        helps = getattr(method_cls, "option_help", {}) or {}
        with st.expander(f"{method_cls.name} options", expanded=bool(linked)):
            for k, v in defaults.items():
                h = helps.get(k)
                if not isinstance(v, (bool, str)):
                    h = f"{h or ''} (allowed: {method_cls.option_allowed(k)})".strip()
                if k in sized:
                    h = f"{h} Default here {v}, scaled to this dataset's size (built-in sets: {method_cls.defaults[k]})."
                start = linked.get(k, v)
                # no bounds on the boxes: the browser would keep a bounded box's last valid value when
                # one outside is typed, and Launch use it without a word; the launch check says why
                # a value outside the allowed range (the help above names it) is refused
                if isinstance(v, bool):
                    val = st.checkbox(k, start, key=f"{key}_{k}", help=h)
                elif isinstance(v, int):
                    val = st.number_input(k, value=start, step=1, key=f"{key}_{k}", help=h)
                elif isinstance(v, float):
                    val = st.number_input(k, value=float(start), format="%.4g", key=f"{key}_{k}", help=h)
                elif k in method_cls.option_choices:
                    choices = list(method_cls.option_choices[k])
                    val = st.selectbox(k, choices, index=choices.index(start), key=f"{key}_{k}", help=h)
                else:
                    val = st.text_input(k, value=str(start), key=f"{key}_{k}", help=h)
                if val != v:
                    options[k] = val
    if param:
        try:
            method_cls.validate_options(options)
        except ValueError:  # the launch check says why; in the link it would only come back "ignored"
            pass
        else:
            urlstate.write(param, options_text(options), "")
    return options


def dataset_picker(runs: list[dict], key: str, prefer: str | None = None, hide: bool = False,
                   every: str | None = None) -> str:
    """The dataset box above a page's runs, kept in the URL (``?dataset=``) so a copied link
    comes back to the same runs. Without one it starts at the dataset of the link's runs
    (``?runs=``), else ``prefer``, else the newest run's (``runs`` come newest first), as
    Explore and Compare open on the newest runs: Evaluate opened on the alphabetically first
    set, a student's one digits run, beside a class's four newer shapes runs. ``every``: a
    first option for runs of every dataset (returned as is), where the link's runs are on
    several; a link may name it by its first word (``?dataset=all`` for "all datasets", which a
    browser check's link was refused for)."""
    options = [every] * bool(every) + sorted({r["dataset"] for r in runs})
    linked = set(urlstate.listed("runs"))
    of_link = list(dict.fromkeys(r["dataset"] for r in runs if r["id"] in linked))
    default = (every if every and len(of_link) > 1 else of_link[0] if of_link else
               prefer if prefer in options else runs[0]["dataset"])
    return urlstate.selectbox("Dataset", options, key=key, param="dataset", default=default, hide=hide,
                              first_word=bool(every))


# what tells a run apart where its epochs and encoder are said already (a picker's label, the runs table's columns)
PICKED_TELLS = tuple(k for k in readouts.TELLS if k not in ("epochs", "encoder"))


def run_labels(runs: list[dict]) -> dict[str, str]:
    """Each run's label in a picker, by id: ``services.run_label`` with what tells it apart from
    the others of its method right after the method (two SimCLR runs on shapes, one with colour
    jitter, were the same label but for their ids, which a phone's box cut; a lesson's five
    SimCLR runs read alike in Pretrain's "Launch a run again")."""
    tells = readouts.run_tags(runs, keys=PICKED_TELLS)
    return {r["id"]: services.run_label(r, "".join(f" · {t}" for t in tells[r["id"]]), who=True) for r in runs}


DROPPED = "; a click meant for a run that is gone is not carried out on another."


def _gone(run_ids: list[str]) -> list[str]:
    """Those of ``run_ids`` picked on a page that no longer have a result: deleted, or put back
    in the queue since (their results are made again), not merely of another dataset than the
    one chosen now, nor one still evaluating that Explore shows already (its PCA map). One
    query: a page asks every 5 s."""
    now = services.store().statuses(run_ids)
    return [i for i in run_ids if now.get(i) not in ("done", "running")]


def run_picker(runs: list[dict], key: str, label: str = "Run", multi: bool = False, default_n: int = 3,
               hide: bool = False, most: int | None = None):
    """Pick one run (returns a run dict or None) or several (a list). A single pick starts
    at the URL's ``?run=`` (an unknown id is ignored with a warning) and writes the pick
    back; ``hide`` draws no picker and uses the URL's run(s). ``most``: the box takes no more
    runs than that (its "Select all" took every match of a search, and the page kept the
    first six, dropping the runs just picked), a link naming more is cut to it, said."""
    urlstate.bound(key)
    by_id = {r["id"]: r for r in runs}
    ids = list(by_id)
    labels = run_labels(runs)
    fmt = labels.__getitem__
    ready, waiting = _awaited_runs(key, "runs" if multi else "run", by_id, multi)
    if ready:  # a linked run that was still training is offered now: the picker takes it in
        if multi:
            if key in st.session_state and not hide:
                st.session_state[key] = ([i for i in st.session_state[key] if i in by_id] + ready)[-most if most else 0:]
            st.query_params["runs"] = ",".join(dict.fromkeys(urlstate.listed("runs") + ready))
        else:
            st.query_params["run"] = ready[0]
            if not hide:
                st.session_state[key] = ready[0]
        st.success(f"{agree(len(ready), 'The run', 'The runs')} the link names {agree(len(ready), 'is', 'are')} "
                   f"done and shown now: {md(listing(ready))}.", icon=":material/task_alt:")
    if multi:  # ?runs=ID,ID
        if hide:  # a teacher's link: its runs, no box
            picked = urlstate.read("runs", _but(urlstate.choices(ids, services.not_offered), waiting, ids[:default_n]),
                                   ids[:default_n])
        elif key in st.session_state:  # a later rerun: the box's own state, kept to the runs still offered
            # (another dataset chosen above: the old picks are gone, so start again from the newest)
            kept = [i for i in st.session_state[key] if i in by_id][:most]
            if kept != st.session_state[key]:
                gone = _gone([i for i in st.session_state[key] if i not in by_id])
                # none left of those picked: none picked, not the newest, whose buttons a click a moment after the
                # redraw set to work (a fine-tuning job on four runs nobody picked, in a browser review)
                st.session_state[key] = kept or ([] if gone else ids[:default_n])
                if gone:  # deleted from another tab: the click that brought this rerun was for them
                    st.session_state[f"_{key}_gone"] = (gone, bool(kept))
                    st.rerun()  # dropped: a stale tab's "Compute fine-tuning" started a job on the newest runs
            picked = st.multiselect(label, ids, key=key, format_func=fmt, max_selections=most)
            if said := st.session_state.pop(f"_{key}_gone", None):
                gone, some_kept = said
                st.warning(f"{agree(len(gone), 'Run', 'Runs')} {md(listing(gone))}, picked here, "
                           f"{agree(len(gone), 'is', 'are')} gone (deleted, from another tab or the command line): "
                           + ("the other runs picked stay" if some_kept else "pick the runs to show in the box")
                           + DROPPED, icon=":material/info:")
        else:  # the first: the link's runs
            start = urlstate.read("runs", _but(urlstate.choices(ids, services.not_offered), waiting, ids[:default_n]),
                                  ids[:default_n])
            if most is not None and len(start) > most:
                st.warning(f"Showing the first {most} of the {len(start)} runs the link names: pick others in the box.",
                           icon=":material/info:")
                start = start[:most]
            st.session_state[key] = start  # (not ``default=``: see ``urlstate.bound``)
            picked = st.multiselect(label, ids, key=key, format_func=fmt, max_selections=most)
        # written even when they are the newest, the default: a teacher's copied address named no runs, and showed
        # others as new runs finished (or after one was deleted), without a word
        urlstate.write("runs", ",".join(picked), "")
        if waits := st.session_state.get(f"_{key}_awaits"):
            waits["shown"] = picked  # the runs shown meanwhile: changing them drops the wait
        _rerun_when_gone(picked)
        return [by_id[i] for i in picked]
    if not ids:
        return None
    gone_key = f"_{key}_gone"
    if key not in st.session_state:  # the page opened afresh: an old note is not news
        st.session_state.pop(gone_key, None)
    if not hide and (prev := st.session_state.get(key)) is not None and prev not in by_id:
        # the run shown until now was deleted (or ended otherwise) meanwhile, say from another tab: the box falls
        # back to the newest; say so, and not as a fault of "the link" (the address still names the old run)
        st.session_state[gone_key] = (prev, "deleted" if services.store().get(prev) is None else
                                      services.not_offered(prev))
        st.session_state[key] = ids[0]  # set, not deleted: a deleted key left the browser's box on the gone run
        st.query_params.pop("run", None)  # (it named the gone run: this page writes its pick there)
        st.query_params.pop("image", None)  # (Explore's image number was one of the gone run's dataset)
        # the click that brought this rerun was for the gone run: dropped (a stale tab's "Prepare the export" wrote
        # the newest run's export)
        st.rerun()
    picked = urlstate.read("run", _but(_offered_run(ids), waiting, ids[0]), ids[0])
    if not hide:
        if st.session_state.get(key) not in by_id:
            st.session_state[key] = picked  # (not ``index=``: see ``urlstate.bound``)
        picked = st.selectbox(label, ids, key=key, format_func=fmt)
    if gone := st.session_state.get(gone_key):
        if picked == ids[0]:  # until another run is picked (a click's rerun would have wiped a one-off note)
            st.warning(f"Run {gone[0]}, shown here until now, is gone ({md(gone[1])}); this is the newest run "
                       f"instead{DROPPED}", icon=":material/info:")
        else:
            del st.session_state[gone_key]
    st.query_params["run"] = picked
    if waits := st.session_state.get(f"_{key}_awaits"):
        waits["shown"] = picked  # the run shown meanwhile: picking another drops the wait
    _rerun_when_gone([picked])
    return by_id.get(picked)


def _rerun_when_gone(picked: list[str], every: float = 5.0) -> None:
    """Redraw the page when a run it shows is deleted elsewhere (another tab, the command line):
    it kept the run's charts and its export's download buttons, which did nothing when
    clicked. (Against what was so when the page was drawn: a run offered there is never
    redrawn for ever.)"""
    if picked:
        rerun_when_changed(lambda: _gone(picked), every)


def _awaited_runs(key: str, param: str, by_id: dict, multi: bool) -> tuple[list[str], list[str]]:
    """The runs a link names (``?param=``) that were queued or training when the page opened
    it, so the picker showed others meanwhile, and that are offered now (returned, once each),
    and those still awaited (said in one caption here; the picker leaves them out of the link
    without another word). While one is still awaited the page looks every 3 s and redraws
    itself when its status or step changes: a student who opened a classmate's link early had
    the other run's map in front of them long after the linked one was done. Picking another
    run in the box drops the wait."""
    akey = f"_{key}_awaits"
    store = services.store()
    linked = [i for i in urlstate.listed(param) if i not in by_id]
    new = [i for i in linked if (row := store.get(i)) is not None and row["status"] in services.ACTIVE]
    waits = st.session_state.get(akey, {})
    if waits and st.session_state.get(key) not in (None, waits.get("shown")):
        waits = {}  # the box was set to another run since: not waiting any more
    runs = list(dict.fromkeys([*waits.get("runs", []), *new]))
    ready = [i for i in runs if i in by_id]
    status = {i: (store.get(i) or {}).get("status") for i in runs if i not in ready}  # None: deleted meanwhile
    left = [i for i, s in status.items() if s in services.ACTIVE]
    for i in runs:
        if i not in ready and i not in left:  # failed, cancelled or deleted meanwhile
            st.warning(f"The link names run {md(i)}: {services.not_offered(i)}.", icon=":material/link_off:")
    if not left:
        st.session_state.pop(akey, None)
        return ready, []
    st.session_state[akey] = {"runs": left, "shown": None}  # what the box shows meanwhile: set after it is drawn
    # one message: a warning that the link's run was "ignored", "using" another, said the opposite beside it
    icon_caption(
        "hourglass_top", f"Waiting for {md(listing(left))}, which the link names: "
        + agree(len(left), "it is", "they are") + f" still {listing(sorted({status[i] for i in left}))}. "
        "This page shows "
        + agree(len(left), "it", "them") + " when " + agree(len(left), "it is", "they are") + " done; "
        + ("meanwhile, the other runs picked." if multi else "meanwhile, the newest finished run."))
    rerun_when_changed(lambda: [(r or {}).get(k) for i in left for r in [store.get(i)] for k in ("status", "phase")],
                       3.0)
    return ready, left


def _but(parse, waiting: list[str], meanwhile):
    """``parse`` of a link's run or runs that takes the runs still ``waiting`` (said in the
    waiting caption) as absent rather than refusing them: ``meanwhile`` where the link names
    no other."""
    def parsed(raw: str):
        rest = [v for v in raw.split(",") if v.strip() and v.strip() not in waiting]
        return parse(",".join(rest)) if rest else meanwhile
    return parsed


def _offered_run(ids: list[str]):
    """``?run=`` parsed: one of ``ids``, or ValueError saying why the run is not offered."""
    def parse(raw: str) -> str:
        if raw not in ids:
            raise ValueError(services.not_offered(raw))
        return raw
    return parse


def icon_caption(icon: str, text: str, where=st) -> None:
    """``where.caption(text)`` led by the Material ``icon``, drawn but hidden from screen readers
    (``quiet_icon``: Streamlit names an icon in Markdown "<icon> icon", and they read it out before
    the note). The caption is HTML-enabled for it: ``text`` is ours, or escaped with ``md``."""
    where.caption(f"{quiet_icon(icon)} {text}", unsafe_allow_html=True)


def accuracy_caveats(dataset_name: str, runs: list[dict], where=st) -> bool:
    """Under accuracies of ``runs`` on a set too small for them to mean much (a handful of
    test images, fewer training images than the kNN's k): why, in one caption. The caveats
    read the set as it is now: said of the runs that trained on it, not of runs on an earlier
    import of the name (a run scored on 40 test images was captioned with the 3 of the set
    imported since; a warning of its own says so). True when something was said."""
    caveats = services.dataset_caveats(dataset_name)
    if not caveats:  # (every built-in set: no run's dataset.json read on each rerun)
        return False
    earlier = [r for r in runs if services.dataset_mismatch(r)]
    if len(earlier) == len(runs):
        return False
    of = (f" (as imported now: {agree(len(earlier), 'a run', 'runs')} here trained on an earlier import, "
          f"{listing([readouts.short_name(r) for r in earlier])})" if earlier else "")
    # each caveat as typed: one names classes with no test image, a class a folder's name in someone's zip, and the
    # caption is HTML-enabled (its quiet icon)
    icon_caption("straighten", f"**{md(dataset_name)}{of}:** " + " ".join(md(c) for c in caveats), where=where)
    return True


def differences_warning(runs: list[dict]) -> None:
    """Above runs shown side by side (Compare, Evaluate): a warning naming what differs between
    them that a fair comparison needs equal (``readouts.mismatches``: dataset, seed, budget,
    encoder, learning rate, options), each value with its runs; nothing when they agree."""
    diff = readouts.mismatches([readouts.trained_config(r) for r in runs],
                               [readouts.short_name(r) for r in runs])
    if diff:
        methods = {r["method"] for r in runs}
        # runs of one method (a lesson's batch sizes): their results differ by the settings, not "not only" by a method;
        # runs on several datasets do not compare at all
        st.warning("These runs differ in " + "; ".join(diff) + (
            ": accuracies on different datasets do not compare." if len({r["dataset"] for r in runs}) > 1 else
            ": differences between them are not only due to the pretext task." if len(methods) > 1 else
            f": all {md(methods.pop())}, so {agree(len(diff), 'that is', 'those are')} what sets their results "
            "apart."), icon=":material/warning:")


SUBMITTED_HELP = "When the run was queued, in your browser's time zone (a date for runs older than a week)"
NAME_COLUMN_CHARS = 28  # a table's naming column longer than this is cut to Streamlit's "medium" width (some 200 px)


def numbers_table(rows: list[dict], key: str, decimals: dict[str, int], helps: dict[str, str] | None = None,
                  **column_config) -> None:
    """``st.dataframe`` of ``rows`` whose ``decimals`` columns show that many decimals, rounded
    here as every caption rounds (Python's format). The browser's own rounding takes a tie the
    other way (0.5625, 9 of 16 test images, is 0.563 there and 0.562 in a caption), and small
    sets make such ties common. A missing value shows as "–", not "None". ``helps`` adds a
    column's hover text (a number's, or the first column's) to ``readouts.COLUMN_HELP``'s (kNN
    acc, linear acc, train s);
    ``column_config`` the other columns' settings. The first column (what
    names a row: the run) is pinned, so it stays in view while a table wider than the page
    (Evaluate's on a phone) scrolls sideways."""
    helps = {**readouts.COLUMN_HELP, **(helps or {})}
    shown = [{c: float(f"{v:.{decimals[c]}f}") if c in decimals and isinstance(v, (int, float)) else v
              for c, v in r.items()} for r in rows]
    config = {c: st.column_config.NumberColumn(format=f"%.{d}f", help=helps.get(c)) for c, d in decimals.items()}
    if rows and (first := next(iter(rows[0]))) not in column_config:
        # long names ("simclr (f177) · aug: crop,flip,color_jitter,grayscale · temperature=0.5") cut to a medium column,
        # whole on hover: at their width the pinned column pushed Compare's last score behind a scrollbar at 1280 px
        long = max(len(str(r.get(first, ""))) for r in rows) > NAME_COLUMN_CHARS
        config[first] = st.column_config.Column(pinned=True, width="medium" if long else None, help=helps.get(first))
    st.dataframe(shown, hide_index=True, key=key, column_config={**config, **column_config},
                 placeholder="–")  # a value not measured (an untrained encoder's rank), as the gain column writes it


def chart(fig, where=st, config: dict | None = None, **kwargs):
    """``st.plotly_chart`` (in ``where``) with the chart described for screen readers
    (``charts.describe``: without ``alt`` a chart had no accessible name at all) and Plotly's
    settings of every chart (``charts.CONFIG``: the wheel scrolls the page), which ``config``
    adds to. Every chart on the pages is shown through here. On a touch screen a drag does
    nothing until a tool is picked in the toolbar (zoom, pan): a swipe that began on a chart
    (41% of Compare's height, a third of Evaluate's) zoomed it, or panned a map empty,
    instead of scrolling the page; and a chart's points are not picked (None is returned)."""
    touch = services.touch_screen()
    if touch:
        # (a chart whose points can be picked pans whatever its dragmode, Streamlit's choice; and a tap there picked
        # the point tapped before it: there points are not picked by touch, the page says how to choose instead)
        fig.update_layout(dragmode=False)
        kwargs.pop("selection_mode", None)
        touch = kwargs.pop("on_select", "ignore") != "ignore"
    charts.text_only(fig)  # (a run's name carries its maker's nickname: Plotly read its tags)
    shown = where.plotly_chart(fig, alt=charts.describe(fig), config={**charts.CONFIG, **(config or {})}, **kwargs)
    return None if touch else shown


GRID_MIN_PX = 72  # an image grid's narrowest cell: 4 to a row on a phone (368 px), 8 on a 1024 px projector


def image_grid(images, captions: list[str], per_row: int, scale: int = 3, alts: list[str] | None = None,
               min_px: int = GRID_MIN_PX, border: bool = False, pictures: bool = False) -> None:
    """Images with captions in a grid of ``per_row`` equal columns, each image filling its
    cell; where cells would be narrower than ``min_px`` (a phone, a narrow column) the
    grid has fewer columns, its rows still equal. ``st.columns`` stacked them below 640 px:
    on a phone each of 8 neighbours filled the width, 360 px tall, one under another. A list
    given to ``st.image`` wraps wherever its widths run out (7 neighbours and 1 on the next
    line), with no gap between pictures. ``alts``: what each image shows, for screen readers.
    ``border``: a frame round each cell, for pictures of several images each (Augment's image
    and its two views), which side by side read as one strip. ``pictures``: the images are
    pictures made already ([H,W,3] uint8, ``app.images.grid``'s), not [C,H,W] images to enlarge."""
    _grid_images(st.grid(per_row, min_column_width=min_px, gap="small", border=border), images, captions,
                 None if pictures else scale, alts)


def _grid_images(grid, images, captions: list[str], scale: int | None, alts: list[str] | None) -> None:
    """Each image in a cell of ``grid``, filling it, with its caption (escaped: a file's or class's
    name); ``scale`` None: pictures made already, shown as they are."""
    for im, cap, alt in zip(images, captions, alts or [None] * len(images)):
        grid.image(im if scale is None else to_hwc(im, scale), caption=md(cap), width="stretch", alt=alt)


def query_and_neighbours(query, caption: str, alt: str, images, captions: list[str], alts: list[str],
                         per_row: int = 4, scale: int = 4):
    """A query image and its nearest neighbours as one unit: one grid of ``per_row`` columns
    (``image_grid``'s), the query in its first cell, as large as a neighbour, the rest of that
    row a cell beside it, which this returns for what the page says about them (what was
    asked, how many neighbours share its label), and the neighbours on the rows below. The
    query drawn at the column's width above them (Explore's chosen image, an uploaded one) put
    the first neighbour 726 px down a 1280x720 page, under the screen, and 1,753 px down a
    phone's, 470 px after the map. ``caption``, like the neighbours', is escaped here."""
    grid = st.grid(per_row, min_column_width=GRID_MIN_PX, gap="small")
    grid.image(to_hwc(query, scale), caption=md(caption), width="stretch", alt=alt)
    beside = grid.cell(column_span=per_row - 1)  # on fewer columns (a narrow column), what is left of the row
    _grid_images(grid, images, captions, scale, alts)
    return beside


def _fmt_eta(s: float | None) -> str:
    if s is None:
        return "–"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"


LIVE_POLL_S, IDLE_POLL_S = 2.0, 5.0  # the live panel's pace with runs to show and without


def live_runs_panel(focus: dict[str, str] | None = None, shared: str | None = None, idle_note: str = "") -> None:
    """Queued and running runs with progress, loss curve, speed, ETA and a cancel button:
    running ones first, then the queue in the order the worker takes it, each with its place
    in line and, where the runs that finished here allow, when it should start. Polls the
    store every ``LIVE_POLL_S`` while something is active (each tick costs the browser about a
    fifth of a core at 2 s: `python -m bench.watching`), every ``IDLE_POLL_S`` while nothing
    is (a run launched elsewhere then shows by itself), and reruns the whole page when a run
    it showed as active starts or ends, or one appears on an idle page, so what the page
    draws from the runs (a lesson's verdict, the runs table) catches up. With ``focus`` (a lesson's runs: id ->
    the lesson's name for it), only those are drawn (their ended notices too), each named as the lesson names it
    (three runs of SimSiam read alike where the lesson's chart said "no-stop-gradient"), and the others are
    counted in one line; runs of the ``shared``
    nickname (the lesson's) that failed or were cancelled are announced like one's own. ``idle_note``: told after
    "Nothing is training right now" in the live region only (a lesson's verdict, in its box below for the eye, told
    as its last run ends)."""
    store = services.store()
    shown = {r["id"]: r["status"] for r in store.list(services.ACTIVE, limit=1000)}
    active_ids = set(shown)
    if "_toast" in st.session_state:
        news = st.session_state.pop("_toast")  # its text, or st.toast's arguments
        st.toast(**(news if isinstance(news, dict) else {"body": news}))

    @st.fragment(run_every=LIVE_POLL_S if active_ids else IDLE_POLL_S)
    def panel() -> None:
        if "_toast" in st.session_state:  # news the page has not shown yet (a Cancel's, cancel_button): show it
            st.rerun(scope="app")
        listed = store.recent(100)
        me = services.current_nickname()
        running = sorted((r for r in listed if r["status"] == "running"), key=lambda r: r["created"])
        queue = sorted((r for r in listed if r["status"] == "queued"), key=in_line)  # as claimed
        now = {r["id"]: r["status"] for r in running + queue}
        if any(now.get(i) != status for i, status in shown.items()) or (now and not shown):
            # a run the page showed as active has started or ended, or one appeared on an idle page: redraw
            # what depends on it (the runs table's status, a lesson's verdict) and poll at the live pace
            st.rerun(scope="app")
        place = {r["id"]: i + 1 for i, r in enumerate(queue)}
        runs = [r for r in running + queue if focus is None or r["id"] in focus]
        others = len(running) + len(queue) - len(runs)
        # (the live region said "1st in line" where the run's card said "next in line")
        places = {rid: "next in line" if n == 1 else f"{ordinal(n)} in line ({n - 1} ahead)"
                  for rid, n in place.items()}
        idle = ("Nothing is training right now." if not others else
                f"None of these runs is training now; {count(others, 'other run')} "
                f"{agree(others, 'is', 'are')} queued or training.")
        # first, and drawn whatever the runs: a screen reader tells the changes of a region it has, so the last run's
        # end is told as "Nothing is training right now"
        live_region([f"{focus[r['id']] if focus and r['id'] in focus else readouts.short_name(r)}: "
                     + (f"queued, {places[r['id']]}" if r["status"] == "queued" else
                        f"training, {epoch_text(r)}" if r["phase"] in (None, "training") else phase_text(r["phase"]))
                     for r in runs] or [idle + (f" {idle_note}" if idle_note else "")])
        # with ``focus`` (a lesson's page), the notices of its runs only: a student's own run cancelled elsewhere put
        # its notice, with Resume and Dismiss, above the lesson's progress on a class's link
        ended_notices([r for r in listed if focus is None or r["id"] in focus], me, shared, names=focus)
        if not runs:
            st.caption(idle)
            return
        starts = services.start_estimates(listed) if queue else {}
        if not services.worker_alive():
            # a worker killed while the page watched: replaced from here, not at the next page load (the panel said "No
            # worker is running, so queued runs wait" over a run frozen at "training" until a student reloaded)
            if services.replacing_worker():
                st.info(services.replacing_text(), icon=":material/autorenew:")
            else:
                st.warning(services.no_worker_text())
        if others:
            st.caption(f"Also on this server: {count(others, 'other run')} queued or training, ahead of or beside these; "
                       "the worker takes queued runs oldest first.")
        for r in runs:
            with st.container(border=True):
                head, btn = st.columns([3, 1])
                phase = phase_text(r["phase"]) if r["phase"] not in (None, r["status"]) else ""
                if r["status"] == "queued":
                    phase = places[r["id"]]
                    wait = services.wait_text(starts.get(r["id"]))
                    phase += f", {wait}" if wait else ""
                lessons = shared is not None and r["nickname"] == shared
                who = "the lesson" if lessons else r["nickname"] or ANONYMOUS
                named = f"**{md(focus[r['id']])}**: " if focus and r["id"] in focus else ""
                mine = same_nickname(r["nickname"], me)  # said: among a class's ten runs a phone review found its own
                # only by its Cancel button
                head.markdown(f"{named}**{services.run_label(r)}**{' (yours)' if mine else ''} — {r['status']}"
                              + (f", {phase}" if phase else "") + ("" if mine or lessons else f" · by {md(who)}"))
                if quiet := silence(r):  # a stopped or hung worker: the panel said "training" for ever
                    head.warning(quiet[0].upper() + quiet[1:] + ".", icon=":material/hourglass_disabled:")  # (our words)
                if mine:
                    cancel_button(store, r, btn)
                elif not urlstate.hidden("controls"):  # (on a class's link each student stops their own runs only)
                    # no login, so not forbidden; but one stray click must not stop someone else's run
                    with btn.popover("Cancel…"):
                        st.markdown("This run belongs to the lesson: the whole class waits for it. Cancel it only "
                                    "if you are sure, e.g. as the teacher." if lessons else
                                    f"This is **{md(who)}**'s run, not yours ({md(me)}). Cancel it only if you "
                                    "are sure, e.g. as the teacher.")
                        cancel_button(store, r, st, label="Cancel the lesson's run" if lessons else
                                      f"Cancel {md(who)}'s run")
                if r["status"] == "queued":
                    continue  # nothing to show before it starts
                st.progress(*progress_of(r))
                ends = store.events(r["id"], kind="epoch_end")
                last = ends[-1] if ends else {}
                # a row that gives each number its label's width and wraps when the column is narrow: four equal
                # columns cut "effective rank" to "effective r…" in the panel beside Pretrain's form at 1280 px
                c1 = c2 = c3 = c4 = st.container(horizontal=True)
                c1.metric("loss", "–" if r["loss"] is None else f"{r['loss']:.3f}",
                          help="The latest step's pretext loss while an epoch trains, the epoch's mean once it ends "
                               "(the chart below plots the steps: an epoch's mean includes its first, higher ones).")
                training = r["phase"] in ("training", "starting", None) or r["status"] != "running"
                # while it evaluates, the number is its training's last speed: said as such (beside the evaluation's
                # ETA it read as the evaluation's pace)
                c2.metric("images/s" if training else "images/s (training)",
                          "–" if r["images_per_s"] is None else f"{r['images_per_s']:.0f}")
                if training:
                    # (starting: its worker loads the data and the checkpoint; not an evaluation step)
                    c3.metric("ETA (training)", _fmt_eta(r["eta_s"]) if r["phase"] == "training" else "–",
                              help="Minutes:seconds of training left at the speed of this epoch's steps (images/s "
                                   "beside it; of the previous epoch's while this one's first quarter runs). It "
                                   "grows when the speed falls: when the machine gets busier, with other runs, "
                                   "probes or other people's work on its cores.")
                else:  # embedding, maps and probes: minutes on a large set (CIFAR-10), with no steps to count
                    left, since = services.evaluation_time(r)
                    if left is not None:
                        c3.metric("ETA (evaluation)", _fmt_eta(left),
                                  help="Minutes:seconds left, from the newest finished runs like it here (the same "
                                       "dataset, encoder and evaluation): how long their evaluation took (the "
                                       "median of up to 5).")
                    else:
                        # the step is named in the card's header: as this label ("probes: random reference: so
                        # far") it was cut to "probes: rando…"
                        c3.metric("this step so far", _fmt_eta(since),
                                  help=f"Time in this evaluation step ({phase_text(r['phase'])}). No run like it "
                                       "(the same dataset, encoder and evaluation) has finished here yet, so there is "
                                       "nothing to estimate what is left from; on a large set (CIFAR-10) the "
                                       "embedding, map and probes take minutes on a CPU.")
                # not the number Evaluate shows: a new user saw 8.3 here and 10.5 there, and nothing said why
                c4.metric("effective rank", f"{last['effective_rank']:.1f}" if "effective_rank" in last else "–",
                          help="Collapse diagnostic after the last finished epoch, on a fixed subset of up to 512 "
                          "training images; Evaluate and Gallery give the finished run's, over all its images, which "
                          "differs. " + RANK_WHAT)  # (the panel shows no embedding std: its help would be 13 lines on a phone)
                steps = services.loss_steps(r["id"])
                if len(steps) >= 2:
                    chart(charts.loss_curve([e["step"] for e in steps], [e["loss"] for e in steps]),
                                    key=f"loss_{r['id']}")

    panel()


def progress_of(r: dict) -> tuple[float, str]:
    """A started run's progress bar: the share of its training done, and what the bar says."""
    progress = min(max(float(r["progress"] or 0), 0.0), 1.0)
    # the share is of the whole training: "epoch 3/3 · 67%" read as two numbers that disagree
    # "epoch 2/8 · 12%" read oddly to a teacher: the epoch under way, in words
    if r["status"] == "running" and r["phase"] not in ("training", "starting", None):
        # after training, not "epoch 2/2 · 100%": the step under way is said beside it (phase_text)
        return progress, f"training done ({epoch_text(r)}), evaluating now"
    where = f"in epoch {min(r['epoch'] + 1, r['epochs'])} of {r['epochs']}" if r["phase"] == "training" \
        else epoch_text(r)
    return progress, f"{where} · {progress:.0%} of the training done"


def launched_note(run_id: str, top: bool = False) -> None:
    """The run just queued, said until it ends. Under Launch (Pretrain's own click) the live panel,
    where the run is watched, comes right below it, on a phone too; at the ``top`` of the page
    (Start's quick start queued it) the panel is a screen or more down on a phone, so the note
    carries the run's progress bar too, redrawn every ``LIVE_POLL_S``."""
    store = services.store()
    if (first := store.get(run_id)) is None or first["status"] not in services.ACTIVE:
        return
    if not top:  # no ticking of its own: the live panel redraws the page when the run starts or ends
        st.success(f"Queued run {run_id}: watch it below, under **Training now**.", icon=":material/task_alt:")
        return

    @st.fragment(run_every=LIVE_POLL_S)
    def _note() -> None:
        r = store.get(run_id)
        if r is None or r["status"] not in services.ACTIVE:
            st.rerun(scope="app")  # it ended: the page says how (the live panel's notices, the runs table)
        st.success(f"Queued run {r['id']}: its loss curve and cancel button are under **Training now**, below "
                   "Launch; its map appears on Explore when it is done.", icon=":material/task_alt:")
        if r["status"] == "queued":
            st.caption("Waiting for the worker to take it up.")
        else:
            st.progress(*progress_of(r))
            if step := phase_text(r["phase"]) if r["phase"] not in ("training", None) else "":
                st.caption(step[0].upper() + step[1:])

    _note()
    if not urlstate.hidden("nav"):  # a newcomer sat through minutes with nothing said to do meanwhile
        st.caption("While it trains, two pages need no finished run:")
        kept = urlstate.carried()
        for (page, label, icon), col in zip((("augment", "See what augmentations do", "shuffle"),
                                             ("learn", "How the four families learn", "menu_book")), st.columns(2)):
            col.page_link(f"../pages/{page}.py", label=label, icon=f":material/{icon}:", query_params=kept)


def cancel_button(store, run: dict, where, label: str = "Cancel") -> None:
    """The run's Cancel, handled in a callback: that runs before the script does, so a click
    is never lost when the live panel reruns the whole page before it reaches this button (a
    run it showed started just then: a classmate's run taken by the worker as its Cancel was
    confirmed was not cancelled)."""
    where.button(label, key=f"cancel_{run['id']}", help="Stop at the next step; keeps what it made",
                 on_click=_cancel_clicked, args=(store, run["id"]))


def _cancel_clicked(store, run_id: str) -> None:
    try:
        store.request_cancel(run_id)
    except (KeyError, ValueError) as e:
        # a toast that stays 10 s: said in the live panel, it went on the panel's next tick (2 s), and at once when
        # the run's end it was refused for redrew the page
        st.session_state["_toast"] = {"body": f"Not cancelled: {e}", "icon": ":material/block:", "duration": "long"}
        return
    # shown by the whole page, which the panel's fragment reruns for it: a Launch's message above
    # (say, the class limit this run was holding) is out of date now too
    st.session_state["_toast"] = f"Cancelling {run_id}"


RECENT_S = 15 * 60

# the run settings the Pretrain form has a box for: RunConfig field -> its address parameter
FORM_PARAMS = {"dataset": "dataset", "method": "method", "augment": "augment", "encoder": "encoder",
               "epochs": "epochs", "batch_size": "batch", "lr": "lr", "seed": "seed", "options": "options"}


def form_params(config: dict) -> tuple[dict[str, str], list[str]]:
    """The Pretrain page's address parameters that set its form to a run's ``config`` (as
    submitted), and, as 'name value', the run's settings that the form has no box for and
    that differ from their defaults (the CLI's weight decay, device, evaluation...)."""
    defaults = RunConfig.__dataclass_fields__
    params = {}
    for field, param in FORM_PARAMS.items():
        value = config.get(field)
        if value is None or value == {}:  # the dataset's default augmentations or batch; no options
            continue
        params[param] = options_text(value) if field == "options" else urlstate.as_text(value)
    other = [f"{k.replace('_', ' ')} {config[k]}" for k, f in defaults.items()
             if k not in FORM_PARAMS and k in config and config[k] != f.default]
    return params, other


def form_prefix() -> str:
    """The key prefix of the Pretrain form's widgets: 'pt', then 'pt1', 'pt2'... each time
    ``settings_button`` sets the form from a run. The browser keeps a widget's value under its
    key whatever the address then says, so the form's boxes get new keys: new widgets, which
    start from the address."""
    gen = urlstate.generation("_form_gen")  # (and after the browser's Back or Forward: ``urlstate.follow``)
    return f"pt{gen}" if gen else "pt"


def linked_runs(runs: list[dict]) -> None:
    """The runs a class's link (``hide=controls``) shows, named as their picker would name them, with
    whose each is: with the boxes hidden, a page said only "simclr (7bdd)" in its charts and never
    the dataset."""
    st.markdown("\n".join(("- " if len(runs) > 1 else "") + f"**{md(services.run_label(r))}**"
                          + (f" · by {md(r['nickname'])}" if r.get("nickname") else "") for r in runs))


def settings_button(run: dict, where, key: str, label: str = "Change its settings and launch again") -> None:
    """A button that opens Pretrain with its form set to ``run``'s settings, to change one
    and launch (a failed run's batch, a finished run's seed). None on a class's link
    (``hide=controls``): Pretrain would open without its boxes, Launch alone queuing a copy."""
    if urlstate.hidden("controls"):
        return
    params, other = form_params(run["config"])
    if where.button(label, key=key, icon=":material/tune:",
                    help="Opens Pretrain with every box set as this run was; nothing is launched until you press "
                         "Launch"):
        st.session_state["_form_gen"] = st.session_state.get("_form_gen", 0) + 1
        st.session_state[FORM_FROM] = (run["id"], other)
        st.switch_page("../pages/pretrain.py", query_params={**params, **urlstate.carried()})


def train_with_button(dataset: str, spec: str, where, key: str) -> None:
    """On Augment: a button that opens Pretrain with its form set to ``dataset`` and the
    augmentations ``spec``, keeping the rest of the form as this session left it (pretext task,
    encoder, epochs, options...; a review chose augmentations on Augment and found Pretrain on
    digits' preset: each page keeps its own boxes). None on a class's link."""
    if urlstate.hidden("controls"):
        return
    # the form as left (Streamlit forgets a page's boxes once another is shown; its address is remembered), but for
    # what this page sets and the batch size, whose default is the dataset's
    kept = {k: v for k, v in urlstate.remembered("pretrain").items() if k not in ("dataset", "augment", "batch")}
    if where.button("Train with these", key=key, icon=":material/model_training:",
                    help="Opens Pretrain on this dataset with these augmentations (its pretext task, encoder and "
                         "epochs as you left them); nothing is launched until you press Launch"):
        st.session_state["_form_gen"] = st.session_state.get("_form_gen", 0) + 1  # new boxes, which read the address
        st.session_state.pop(FORM_FROM, None)
        st.switch_page("../pages/pretrain.py", query_params={**kept, "dataset": dataset, "augment": spec,
                                                             **urlstate.carried()})


FORM_FROM = "_form_from"  # (run id, settings the form has no box for) from ``settings_button``


def form_from_note() -> None:
    """On Pretrain, after ``settings_button``: which run's settings the form holds, and the
    ones it could not take; said on every run of the page until a run is launched from it or
    another page opens (``forget_form_from``), not once: the page reruns itself when a run
    anywhere starts or ends (the live panel), and a one-run note went before it was read."""
    if (came := st.session_state.get(FORM_FROM)) is None:
        return
    rid, other = came
    st.info(f"The form below is set to run {rid}'s settings: change what you want, then Launch."
            + (f" Not carried (the form has no box for them): {md(', '.join(other))}; `python -m ssrl_core submit` "
               "takes them." if other else ""), icon=":material/tune:")


def forget_form_from(page: str) -> None:
    """End ``form_from_note`` when a page other than Pretrain has run."""
    if page != "pretrain":
        st.session_state.pop(FORM_FROM, None)


def resumable(run: dict) -> bool:
    """Whether Resume is offered for ``run``: cancelled, or failed for what was around it."""
    from ssrl_core.runs.worker import AROUND_THE_RUN

    return run["status"] == "cancelled" or (run["status"] == "failed" and (run["error"] or "").startswith(AROUND_THE_RUN))


def resume_button(run: dict, where, key: str) -> None:
    """Resume a cancelled run (or one failed for what was around it: ``resumable``) of one's
    own (``services.resume``): back in the queue, behind
    the runs waiting now, continuing from the checkpoint of the last epoch it finished."""
    done, epochs = run["epoch"], run["epochs"]
    label, what = (("Queue it again", "it had finished no epoch, so it starts over") if not done else
                   ("Resume its evaluation", "its training had finished, so only the evaluation runs")
                   if done >= epochs else
                   (f"Resume at epoch {done + 1}", f"it trains epochs {done + 1} to {epochs} from the checkpoint of "
                                                   f"epoch {done}"))
    if where.button(label, key=key, icon=":material/play_arrow:",
                    help=f"Put it back in the queue, behind the runs waiting now; {what}."):
        refused = services.resume(run["id"])
        if refused:
            where.warning(refused)
            return
        st.session_state["_toast"] = f"Queued {run['id']} again"  # shown after the rerun
        st.rerun(scope="app")


def live_region(lines: list[str]) -> None:
    """What the live panel shows, in a polite live region that only a screen reader reads: each
    run's place in line, epoch or evaluation step, which change a few times a run, so it is told
    as they change. The panel's loss, speed and ETA, redrawn every 2 s, were told to no one (an
    accessibility review): in a live region they would be read out every 2 s.

    A screen reader tells the changes of a region already on the page, not a region put there
    with its text: so a caller draws it on every run of its script, empty where there is nothing
    to say, at a place no other element comes and goes before (``LIVE_CLASS`` takes it out of
    the page's flow: no gap). Markdown, not ``st.html``: Streamlit replaces an HTML element's
    whole node when its text changes (a browser test: the node of the old text was detached),
    where Markdown's HTML is updated in place."""
    text = html.escape(one_line("; ".join(lines)))
    st.markdown(f'<div class="{LIVE_CLASS}" aria-live="polite" aria-atomic="true">{text}</div>',
                unsafe_allow_html=True)


def ended_notices(runs: list[dict], nickname: str, shared: str | None = None,
                  names: dict[str, str] | None = None) -> None:
    """This nickname's runs (and those of the ``shared`` nickname: a lesson's) that failed or
    were cancelled in the last 15 minutes, each with its reason in full, until dismissed: a
    run that leaves the panel never goes silently. The lesson's cancelled runs are said in one
    notice, named as the lesson names them (``names``: id -> name), without a button each: a
    teacher who cancelled five gave every phone five notices, 2.5 screens, each with "Queue it
    again" for any student to undo the cancel; the lesson's Launch resumes them."""
    dismissed = st.session_state.setdefault("_dismissed_notices", set())
    now = time.time()
    recent = [r for r in runs if r["id"] not in dismissed and now - (r["finished"] or r["created"]) <= RECENT_S]
    grouped = [r for r in recent if shared is not None and r["nickname"] == shared and r["nickname"] != nickname
               and r["status"] == "cancelled"]
    if grouped:
        called = [md((names or {}).get(r["id"]) or services.run_label(r)) for r in grouped]
        n = len(grouped)
        st.info(f"The lesson's {agree(n, 'run', 'runs')} {listing([f'**{c}**' for c in called])} "
                f"{agree(n, 'was', 'were')} cancelled "
                f"(by a teacher, or from the command line): *Launch this lesson* resumes {agree(n, 'it', 'them')} "
                f"from the last epoch {agree(n, 'it', 'each')} finished.", icon=":material/cancel:")
        if st.button("Dismiss", key="dismiss_lesson_cancelled"):
            dismissed.update(r["id"] for r in grouped)
            st.rerun()
    for r in recent:
        if r in grouped:
            continue
        mine = same_nickname(r["nickname"], nickname)
        lessons = shared is not None and r["nickname"] == shared  # (a run with no nickname is nobody's here)
        done_here = mine and r["status"] == "done"  # one's own, so the end is not silent
        ended = (mine or lessons) and r["status"] in ("failed", "cancelled")
        if not (done_here or ended):
            continue
        # the notice across the panel, its buttons in a row under it (wrapping when narrow): Dismiss in a sixth of the
        # panel beside it read "Dis…" at 1280 px
        text, buttons = st.container(), st.container(horizontal=True)
        why = r["error"] or "no reason was recorded"
        whose = "Your run" if mine else "The lesson's run"
        if done_here:
            # the run's name carries its kNN accuracy: said again after it, it read twice
            text.success(f"Your run **{services.run_label(r)}** finished. Its map and neighbours are on Explore.",
                         icon=":material/check_circle:")
            buttons.page_link("../pages/explore.py", label="Open it in Explore", icon=":material/scatter_plot:",
                              query_params={"run": r["id"], **urlstate.carried()})
        elif r["status"] == "failed":
            # its first line in the box, the rest (a missing set's files, one a line) as written: Markdown ran them
            # together into one paragraph ("data_batch_1 <- missing data_batch_2 <- missing ...")
            first, rest = first_line(why)
            text.error(f"{whose} **{services.run_label(r)}** failed: {first}", icon=":material/error:")
            if rest:
                text.text(rest)
            if resumable(r):  # nothing wrong with its settings: it continues where it stopped
                resume_button(r, buttons, key=f"resume_{r['id']}")
            settings_button(r, buttons, key=f"again_{r['id']}")
        else:
            said = why if why.startswith("cancelled ") else f"cancelled: {why}"  # the worker's reasons say where
            text.info(f"{whose} **{services.run_label(r)}** was {said}.", icon=":material/cancel:")
            resume_button(r, buttons, key=f"resume_{r['id']}")
        if buttons.button("Dismiss", key=f"dismiss_{r['id']}"):
            dismissed.add(r["id"])
            st.rerun()


NICKNAME_COOKIE = "ssrl_who"
ANONYMOUS = readouts.ANONYMOUS


def nickname_input() -> None:
    """The sidebar box for this browser session's nickname (kept in ``session_state``,
    stored with every run submitted from this session; no login). A new session takes it
    from the link (``?who=``), else from this browser's cookie, else a new guest name. It
    lives in a cookie until the browser closes, so a reload or a page opened in a new tab (a
    new session) is the same student, who can cancel and resume their runs there; never in
    the address, which is removed from it once read: a teacher who pasted their address bar
    to the class had given every student the teacher's nickname (and its run limit)."""
    if "nickname" not in st.session_state and "_nickname_kept" in st.session_state:
        # st.switch_page to another page (Start's quick start, Explore's "Train it again") drops every
        # widget's state, this box's too: the session's nickname is kept outside the widget for that
        st.session_state["nickname"] = st.session_state["_nickname_kept"]
    elif "nickname" not in st.session_state:
        # one line: a link's line break or tab becomes a space (the store refuses them)
        cookie = st.context.cookies.get(NICKNAME_COOKIE)
        cookie = unquote(cookie) if isinstance(cookie, str) else ""  # (no browser, as in AppTest: none)
        raw = one_line(st.query_params.get("who") or cookie).strip()
        st.session_state["nickname"] = raw[:NICKNAME_MAX] or services.current_nickname()
    st.text_input("Your nickname", key="nickname", max_chars=NICKNAME_MAX,
                  help=f"Up to {NICKNAME_MAX} characters. Stored with the runs you launch and shown in the runs "
                       "table; only you can cancel your "
                       "runs without being asked. Each nickname may have a few runs queued or running at once. "
                       "Kept by this browser until it is closed, so a reload and a new tab keep it; the page's "
                       "address does not carry it, so a link you share gives no one your nickname.")
    st.session_state["_nickname_kept"] = st.session_state["nickname"]
    me = services.current_nickname()
    if not st.session_state["nickname"].strip():  # emptied: say who the runs now belong to
        st.caption(f"No nickname: runs you launch now are **{md(me)}**'s, and only your nickname's own runs "
                   "can be cancelled without being asked. Type it back to reach them.")
    elif me != st.session_state["nickname"].strip():  # a lesson's own (``services.current_nickname``)
        st.caption(f"Nicknames starting with `{LESSON_NICKNAME}` are the lessons' own, shared by the class: runs you "
                   f"launch now are **{md(me)}**'s. Choose another.")
    if "who" in st.query_params:  # read above, once: kept by the cookie, not by an address someone may share
        del st.query_params["who"]
    if st.session_state.get("_nickname_cookie") != me:  # written once per change, not on every rerun
        st.session_state["_nickname_cookie"] = me
        # a session cookie (no max-age): gone when the browser closes, so a shared lab machine forgets it. Its path is
        # the app's own (served under a proxy's /user/ada/proxy/8501/, path=/ gave every app on the host this nickname,
        # sent with each of the host's requests); one left at / by an earlier version goes, or it would be read instead
        # (in a function of its own: run again on the same page when the nickname changes, a top-level `const base`
        # was declared twice, the script failed, and the new nickname was never kept)
        st.html("<script>(() => { const base = location.pathname.replace(/[^/]*$/, '') || '/';"
                f"if (base !== '/') document.cookie = {json.dumps(NICKNAME_COOKIE + '=')} + "
                "'; path=/; max-age=0; SameSite=Strict';"
                f"document.cookie = {json.dumps(NICKNAME_COOKIE + '=' + quote(me))} + "
                "'; path=' + base + '; SameSite=Strict'; })();</script>", unsafe_allow_javascript=True)


# what "auto" in a run's encoder column stands for until the run has finished and says what it used
ENCODER_HELP = ("The encoder trained. **auto** (a run not finished): chosen as the run starts, cnn-small on a CPU, "
                "resnet18 on a GPU" + "".join(f", {m.preferred_encoder} for {name}" for name, m in METHODS.items()
                                               if m.preferred_encoder) + "; in brackets, what this machine's workers "
                "will choose.")


def runs_table(limit: int = 50) -> list[dict]:
    """The ``limit`` newest runs in a table (returned, for ``run_actions``); past ``limit`` runs
    on the server, a box picks whose, and a caption says how many are left out (a TA found no
    trace of a student's run older than the newest 50, to resume, launch again or delete)."""
    from ssrl_core.runs.store import STATUSES

    store = services.store()
    total, who = store.count(STATUSES), None
    if total > limit:
        me = services.current_nickname()
        pick = st.selectbox("Whose runs", ["everyone's", *store.nicknames()], key="pt_runs_who",
                            format_func=lambda n: f"{n} (you)" if same_nickname(n, me) else n)
        who = None if pick == "everyone's" else pick
    runs = store.list(limit=limit, nickname=who)
    if total > limit:
        of = total if who is None else store.count(STATUSES, who)
        if of > len(runs):
            command = "python -m ssrl_core runs --limit 0" + (f" --nickname {shlex.quote(who)}" if who else "")
            st.caption(f"The newest {len(runs)} of {count(of, 'run')}{f' by {md(who)}' if who else ''}; "
                       f"{code(command)} lists them all.")
    if not runs:
        st.caption("No runs yet.")
        return runs
    rows = []
    # what tells each run apart from the others of its method and dataset (two SimCLR rows, one with colour jitter, one
    # without, read alike in a column of methods), in a column of its own after the status: in the pinned name column,
    # cut to 200 px, "simclr (e635) · temperature=0.5 ·" hid the "batch 512" that told it apart. Epochs and encoder
    # have their columns
    tells = readouts.run_tags(runs, keys=PICKED_TELLS)
    for r in runs:
        s = r["summary"] or {}
        rows.append({  # the epochs asked for: a running run's progress is live in the panel, not here
            "run": readouts.short_name(r), "who": r["nickname"] or ANONYMOUS, "status": r["status"],
            "note": r["error"] or folder_gone(r) or "",  # a failure's reason, beside its status (whole on hover)
            "differs in": ", ".join(tells[r["id"]]),
            "dataset": r["dataset"], "encoder": services.encoder_here(r), "epochs": r["epochs"],
            "kNN acc": s.get("knn_accuracy"), "linear acc": s.get("linear_accuracy"),
            "emb. std": read_embedding_std(s, r["method"]), "eff. rank": s.get("effective_rank"),
            "train s": s.get("train_seconds"),
            "submitted": services.browser_time(r["created"]),  # shown "Today at 9:03 PM", sorted as times
            "id": r["id"],  # whole, for the command line and links (its last four are in the run's name), last: a
            # 1366 px screen cut the scores behind it
        })
    for empty in ("note", "differs in"):  # an empty 200 px column pushed the last ones off a projector's page
        if not any(row[empty] for row in rows):
            for row in rows:
                del row[empty]
    numbers_table(rows, "runs_table", {"kNN acc": 3, "linear acc": 3, "emb. std": 4, "eff. rank": 1, "train s": 1},
                  {"emb. std": COLLAPSE_HELP, "eff. rank": COLLAPSE_HELP,
                   "run": "the method and the last four characters of the run's id (the whole id is the last "
                          "column)"},
                  note=st.column_config.TextColumn(width="medium"),  # "large" pushed kNN off-screen
                  submitted=st.column_config.DatetimeColumn(format="calendar", help=SUBMITTED_HELP),
                  **{"differs in": st.column_config.TextColumn(
                      width="medium", help="what tells the run apart from the others of its method and dataset listed "
                                           "here: augmentations, options (each with its default where a run left it), "
                                           "seed, batch size, learning rate")},
                  status=st.column_config.TextColumn(width=90),  # sized to its first rows, it cut "cancelle(d)"
                  encoder=st.column_config.TextColumn(help=ENCODER_HELP))
    return runs


RUN_ACTIONS = "Open a run's results, launch it again with changes, resume a cancelled one, or delete one"


def run_actions(runs: list[dict]) -> None:
    """Under the runs table: pick any run of it to open its results (a finished one), set the
    form to its settings (to change one and launch), resume one's own cancelled or failed run
    (``resumable``), or delete an ended one. (The table has no links: a run's results were
    reached only through Explore's run box, or the note of one's own run for 15 minutes after
    it ended: an accessibility review, by keyboard.)"""
    if not runs:
        return
    me = services.current_nickname()
    with st.expander(RUN_ACTIONS):
        by_id = {r["id"]: r for r in runs}
        labels = run_labels(runs)
        rid = st.selectbox("Run", list(by_id), key="pt_again_pick",
                           format_func=lambda i: f"{labels[i]} — {by_id[i]['status']}")  # (who: in the label)
        run = by_id[rid]
        if run["status"] == "done" and not folder_gone(run):
            st.page_link("../pages/explore.py", icon=":material/scatter_plot:", label=f"Open run {rid} in Explore",
                         query_params={"run": rid, **urlstate.carried()})
        left, middle, right = st.columns(3)
        settings_button(run, left, key="pt_again_settings", label="Set the form to its settings")
        if resumable(run) and same_nickname(run["nickname"], me):
            resume_button(run, middle, key="pt_again_resume")
        elif resumable(run):
            middle.caption(f"Only {md(run['nickname'] or 'whoever launched it')} can resume it here "
                           "(`python -m ssrl_core resume` can)." + (
                               f" If that was you in another session, type **{md(run['nickname'])}** in the sidebar's "
                               "nickname box (a link with `?who=` keeps it)." if run["nickname"] else ""))
        if run["status"] not in services.ACTIVE:
            delete_popover(run, right, mine=same_nickname(run["nickname"], me))


def twin_link(cfg, relaunch: bool = False, watch: bool = True) -> None:
    """Say so when a run, anyone's, with ``cfg``'s very settings and seed (the same result)
    has finished, with a link to it on Explore, or is queued or training for a classmate: a
    class pressing the same button queued thirty identical runs, each waiting for the ones
    before. ``relaunch``: say that Launch trains it again all the same; ``watch``: link to
    Pretrain, where it trains."""
    twin = services.twin_run(cfg)
    if twin is None:
        return
    again = ": Launch would train it again." if relaunch else "."
    if twin["status"] == "done":
        # the sentence in a caption, which wraps; a link's label is one line, cut at the page's edge
        st.caption(f"Run {twin['id']} with these very settings and seed has finished (they give the same result)"
                   + again)
        st.page_link("../pages/explore.py", icon=":material/scatter_plot:", label=f"Open run {twin['id']} in Explore",
                     query_params={"run": twin["id"], **urlstate.carried()})
    elif twin["nickname"] != services.current_nickname():  # one's own: Launch says it is queued already
        now = "training now" if twin["status"] == "running" else "queued"
        st.caption(f"Run {twin['id']}, **{md(twin['nickname'] or ANONYMOUS)}**'s, with these very settings and seed "
                   f"is {now}: its result will be the one yours would give, and before yours" + again)
        if watch:
            st.page_link("../pages/pretrain.py", icon=":material/model_training:",
                         label=f"Watch run {twin['id']} on Pretrain", query_params=urlstate.carried())


def delete_popover(run: dict, where, mine: bool) -> None:
    """Delete an ended run, after a confirmation in a pop-over (a classmate's run says whose
    it is first: there is no login, so a teacher can clear any run, but not by one stray click).
    A lesson's run is not deleted in the app: the pop-over gives the command that does."""
    # keyed by the run: after a deletion the box below picks another run, whose pop-over must open closed
    # (the same pop-over stayed open with the next run's Delete button where the last click was)
    with where.popover("Delete…", icon=":material/delete:", key=f"delete_pop_{run['id']}"):
        if lessons_own(run["nickname"]):
            # four taps from a class's link (the address without its hide=): the lesson's verdict on every student's
            # page went back to "incomplete"
            st.markdown(f"Run {run['id']} belongs to the lesson **{md(run['nickname'][len(LESSON_NICKNAME):])}**: its "
                        "verdict and charts, on every student's page, read it. It is not deleted here; the command "
                        f"line deletes it: `python -m ssrl_core delete {run['id']}` (or `--nickname "
                        f"{run['nickname']}` for all of the lesson's runs).")
            return
        st.markdown(("" if mine else f"This is **{md(run['nickname'] or 'someone else')}**'s run, not yours. ")
                    + f"Deleting run {run['id']} removes it from every page, with its folder (checkpoint, "
                    "embeddings, map, probes) and the app's export of it. It cannot be undone.")
        if st.button(f"Delete run {run['id']}", key=f"delete_{run['id']}", type="primary"):
            done, refused = services.delete_run(run["id"])
            if refused:
                st.warning(refused)
                return
            st.session_state["_toast"] = done  # shown by the live panel after the rerun
            st.rerun(scope="app")


def _time_left(run: dict, p: dict) -> float | None:
    """Seconds a probe job still needs for ``run`` (``p``, its progress): the running run's
    own estimate as of now; a queued fine-tuning run's, the last such job's time on a run like
    it (``services.probe_job_run_seconds``, less where budgets are cached already). None when
    not known yet (before a step that trains a network has been timed here)."""
    if p["state"] == "running" and p.get("eta_s") is not None:
        return max(0.0, p["eta_s"] - (time.time() - p["at"]))
    if p["state"] == "queued" and p.get("finetune"):
        return services.probe_job_run_seconds(run["run_dir"])
    return None


def _job_line(run: dict, p: dict, names: dict[str, str], left: float | None) -> None:
    """One run of a probe job (``p``, its progress): its step with a progress bar and the time
    ``left`` (``_time_left``), or its place in the queue and what it will take once it starts."""
    name = names[run["id"]]
    if p["state"] == "starting":
        st.caption(f"{md(name)}: starting (a new process loads PyTorch and the run first)…")
    elif p["state"] == "queued":
        ahead = [names.get(i) or _run_name(i) for i in p["after"]]
        st.caption(f"{md(name)}: queued in the same job, after {listing([md(a) for a in ahead])}"
                   + (f"; {about(left)} once it starts, at the last such job's pace" if left is not None else "") + ".")
    else:
        text = (f"{md(name)}: {p['step']} · step {p['done'] + 1} of {p['total']} · "
                f"{_fmt_eta(time.time() - p['started'])} so far")
        if left is not None:
            text += f" · {about(left)} left"
        st.progress(min(1.0, max(0.0, p.get("share", p["done"] / max(1, p["total"])))), text=text)  # of the time


def _run_name(run_id: str) -> str:
    """A run not on the page (unpicked while its job computes), named as those that are."""
    run = services.store().get(run_id)
    return readouts.short_name(run) if run else run_id


def _jobs_of(runs: list[dict], finetune: bool | None) -> list[tuple[dict, dict]]:
    """(run, progress) of ``runs`` a probe job computes now: of those fine-tuning (``finetune``
    True), those not (False) or all (None)."""
    out = []
    for r in runs:
        p = services.probe_job_progress(r["run_dir"])  # polled every 2 s on every page that shows runs: once each
        if p is not None and (finetune is None or bool(p.get("finetune")) == finetune):
            out.append((r, p))
    return out


def probe_jobs_panel(runs: list[dict], key: str, finetune: bool | None = None) -> None:
    """While probe jobs compute any of ``runs`` (those fine-tuning, ``finetune`` True; those
    not, False; all, None: each page shows a job where its button was): each run's step,
    progress bar and time left, or its place in the job's queue, re-checked every 2 s, with a
    Stop. The page reruns when a run's step ends, so each budget's point appears as it is
    computed, and when the jobs are done. After a job: the runs it could not compute, with why."""
    names = {r["id"]: readouts.short_name(r) for r in runs}
    me = services.current_nickname()

    # always polled: a page drawn before a classmate started a job on its runs must show it (and hide the button)
    @st.fragment(run_every=2.0)
    def _poll() -> None:
        busy = _jobs_of(runs, finetune)
        mark = tuple((r["id"], p["state"], p.get("done")) for r, p in busy)  # moves when a step or a run ends
        last = st.session_state.get(f"{key}_mark")
        st.session_state[f"{key}_mark"] = mark
        if last is not None and mark != last:
            if last and not mark and not any(services.probe_job_failure(r["run_dir"]) for r in runs):
                st.session_state[f"{key}_done"] = True  # said after the redraw
            st.rerun(scope="app")  # what the step computed is in the cache now: the charts draw it
        if not busy:
            return
        with st.container(border=True):
            what = ("Fine-tuning and training the supervised reference" if finetune else "Computing probes")
            lefts = [_time_left(r, p) for r, p in busy]
            total = sum(lefts) if len(busy) > 1 and None not in lefts else None  # the whole job, when all are known
            st.markdown(f"{quiet_icon('hourglass_top')} {what} for {count(len(busy), 'run')} in the background"
                        + (", one run after another" if len(busy) > 1 else "")
                        + (f", {about(total)} left in all" if total is not None else "")
                        + "; the charts update as each step is done.", unsafe_allow_html=True)
            for (r, p), left in zip(busy, lefts):
                _job_line(r, p, names, left)
            live = [r for r, p in busy if p.get("pid")]
            if not live:
                return  # nothing to stop before the job's process has begun
            others = sorted({p["who"] for _, p in busy if p.get("who") and not same_nickname(p["who"], me)})
            help_ = "Ends the background job now. What it has computed stays; the button computes the rest later."
            if not others:
                st.button("Stop", key=f"{key}_stop", help=help_, on_click=_stop_jobs, args=(live, key))
            elif not urlstate.hidden("controls"):  # (a class's link: not a classmate's job)
                with st.popover("Stop…"):
                    st.markdown(f"**{md(listing(others))}** started this, not you ({md(me)}): they are waiting for it. "
                                "Stop it only if you must. " + help_)
                    st.button("Stop their job", key=f"{key}_stop", on_click=_stop_jobs, args=(live, key))

    _poll()
    if note := st.session_state.pop(f"{key}_stopped", None):
        st.info(note, icon=":material/stop_circle:")
    if note := st.session_state.pop(f"{key}_refused", None):  # what the last click could not start
        st.warning(note, icon=":material/hourglass_disabled:")
    if st.session_state.pop(f"{key}_done", None):
        st.success("The background job is done: the charts show what it computed.", icon=":material/task_alt:")
    if finetune is True:
        return  # how the last job ended is said once a page, by its other panel
    stopped = {}
    for r in runs:
        if not (how := services.probe_job_failure(r["run_dir"])) or services.probe_job_running(r["run_dir"]):
            continue  # the lock is only probed for the rare run with a note
        if "error" in how:
            st.warning(f"{md(names[r['id']])}: its probes could not be computed: {md(how['error'])}",
                       icon=":material/error:")
        else:
            stopped.setdefault((how.get("stopped_by"), round(how.get("at") or 0)), []).append(names[r["id"]])
    for (by, at), stopped_runs in stopped.items():
        st.info(f"The background job for {md(listing(stopped_runs))} was stopped"
                + (f" by **{md(by)}**" if by and not same_nickname(by, me) else " by you" if by else "")
                + f" {services.spoken_time(at)}. What it "
                "computed stays; the button computes the rest.", icon=":material/stop_circle:")


def _stop_jobs(runs: list[dict], key: str) -> None:
    """Stop's callback: end the jobs computing ``runs``."""
    if not sum(services.stop_probe_job(r["run_dir"]) for r in runs):
        st.session_state[f"{key}_stopped"] = "The job had already ended."  # a stopped one says so itself


def start_probe_jobs(runs: list[dict], key: str, finetune: bool = False) -> None:
    """Start one probe job for ``runs`` (``services.start_probe_jobs``) and rerun the page; when
    the server has no room for it now, the panel of ``key`` says so after the rerun, with what
    to do (where the button was)."""
    if why := services.start_probe_jobs([r["run_dir"] for r in runs], finetune=finetune):
        st.session_state[f"{key}_refused"] = f"Not started: {why}. Click again in a few minutes, when one is done."
    st.rerun()


def dataset_error(error: str, where=st, name: str | None = None) -> None:
    """A dataset that cannot be loaded (``services.dataset``'s message): its first line in an
    error box, the lines after it (a missing set's files, one per line, and where to get them)
    as they are written. In one box, Markdown ran the files together into one paragraph. For
    a set ``name`` the network can bring (``services.downloadable``), a link to the Data page's
    download button, since a page load downloads nothing."""
    first, _, rest = str(error).partition("\n")
    where.error(md(first), icon=":material/folder_off:")
    if rest.strip():
        where.text(rest)
    if name and not urlstate.hidden("controls") and (size := services.downloadable(name)):  # (a class link's: not)
        where.page_link("../pages/data.py", label=f"Download it on the Data page ({size})", icon=":material/download:",
                        query_params={"dataset": name, **urlstate.carried()})


def fresh_runs(runs: list[dict]) -> list[dict]:
    """``runs`` less those whose dataset was re-imported since they trained (``services.dataset_mismatch``)
    or cannot be loaded (deleted), each of those said in a warning, and less those whose last probe
    job found their weights damaged (``services.probe_job_lasting_failure``: another job would fail
    the same way; the probe-jobs panel says why): what may be given to a probe job."""
    out = []
    for r in runs:
        stale = services.dataset_mismatch(r) or services.run_dataset(r)[1]  # re-imported, or gone
        if stale:
            st.warning(f"{services.run_label(r)}: no probes can be computed: {stale}", icon=":material/warning:")
        elif not services.probe_job_lasting_failure(r["run_dir"]):
            out.append(r)
    return out


def offer_probe_jobs(runs: list[dict], missing: list[dict], key: str, warning: str, button: str,
                     finetune: bool | None = None) -> None:
    """The probe-jobs panel for ``runs`` (the jobs of ``probe_jobs_panel``'s ``finetune``), and
    for the ``missing`` ones (runs lacking a probe a page needs) a warning and a button that
    computes their probes in the background (``{s}`` in ``warning``: a verb's -s when one run
    is missing, "lack{s} probes"); a run whose dataset was re-imported since it trained gets
    the reason instead (its probes would mix old and new images)."""
    probe_jobs_panel(runs, key=f"{key}_jobs", finetune=finetune)
    missing = fresh_runs(missing)
    if missing and not any(services.probe_job_running(r["run_dir"]) for r in missing):
        which = (md(listing([readouts.short_name(r) for r in missing])) if len(missing) <= 3 else
                 f"{len(missing)} of the chosen runs")  # named, as the panel names them, while few enough to read
        st.warning(f"{which} {warning.format(s=agree(len(missing), 's', ''))}.")
        if st.button(button, key=key):
            start_probe_jobs(missing, key=f"{key}_jobs")


def too_few_runs(finished: int, need: int, what: str, recount=None) -> None:
    """A results page's empty state (fewer than ``need`` finished runs), then ``st.stop``.
    With runs queued or training it names them and their progress instead of saying to
    launch one (a student who has just launched and opened this page must not read that
    their run is not there), and reruns the page by itself when one finishes, so ``what``
    (e.g. "its map appears here") shows without a reload. ``recount`` counts the runs the
    page can show (default: the finished ones), when the page shows more than those."""
    store = services.store()
    linked = list(dict.fromkeys(urlstate.listed("run") + urlstate.listed("runs")))
    unseen = [rid for rid in linked[:urlstate.MOST_VALUES] if (run := store.get(rid)) is None or run["status"] != "done"]
    for rid in unseen[:urlstate.MOST_SAID]:  # the link names a run this page cannot show: say why, not only that runs are few
        st.warning(f"The link names run {md(rid)}: {services.not_offered(rid)}.", icon=":material/link_off:")
    more = max(0, len(unseen) - urlstate.MOST_SAID) + max(0, len(linked) - urlstate.MOST_VALUES)
    if more:  # 3,000 ids: 3,000 warnings
        st.warning(f"The link names {more:,} more runs this page cannot show or did not read (a link is read up to "
                   f"{urlstate.MOST_VALUES}).", icon=":material/link_off:")
    if not store.count(services.ACTIVE):
        st.info(("No finished runs yet." if not finished else
                 f"This page needs {need} finished runs; there is {finished} so far.")
                + f" Launch {agree(need - finished, 'one', 'them')} on the Pretrain page; {what} when "
                + agree(need - finished, "it is", "they are") + " done.")
        st.page_link("../pages/pretrain.py", label="Go to Pretrain", icon=":material/model_training:",
                     query_params=urlstate.carried())
        stop()

    me = services.current_nickname()

    def line(r: dict) -> str:
        whose = "yours" if same_nickname(r["nickname"], me) else (f"by {md(r['nickname'])}" if r["nickname"] else "")
        if r["status"] == "queued":
            where = "queued"
        elif r["phase"] == "training":
            where = f"training, epoch {min(r['epoch'] + 1, r['epochs'])}/{r['epochs']}"
        elif r["phase"] in (None, "starting"):  # its worker loads the data and builds the method
            where = "starting"
        else:  # its features embedded, mapped and probed
            where = phase_text(r["phase"])
        return f"- **{services.run_label(r)}** ({whose + ', ' if whose else ''}{where})"

    @st.fragment(run_every=2.0)
    def _wait() -> None:  # redrawn every 2 s, so the epochs count up
        done = recount() if recount else store.count(("done",))
        now = sorted(store.list(services.ACTIVE, limit=100), key=lambda r: (r["status"] != "running", in_line(r)))
        if done > finished or not now:  # one finished (or they all ended otherwise): draw the page anew
            st.rerun(scope="app")
        have = ("No run has finished yet" if not finished else
                f"{finished} of the {need} finished runs this page needs {agree(finished, 'is', 'are')} there")
        st.info(f"{have}; {count(len(now), 'run')} queued or training:\n" + "\n".join(line(r) for r in now[:5])
                + ("\n- …" if len(now) > 5 else "") + f"\n\n{what[0].upper() + what[1:]} when "
                + agree(need - finished, "it is", "they are") + " done: this page updates by itself.",
                icon=":material/hourglass_top:")
        st.page_link("../pages/pretrain.py", label="Watch the training on Pretrain", icon=":material/model_training:",
                     query_params=urlstate.carried())

    _wait()
    stop()


def follow_evaluation(run: dict, map_kind: str | None) -> None:
    """For a run Explore shows before it is done (``services.mapped``): a line saying which
    step of its evaluation it is in, redrawn every 2 s, that reruns the page when its UMAP
    replaces the PCA map or the run ends, so the page keeps the promise that the map
    replaces itself."""
    if run["status"] != "running":
        return

    @st.fragment(run_every=2.0)
    def _follow() -> None:
        now = services.store().get(run["id"]) or {}
        kind = "umap" if (Path(run["run_dir"]) / MAP_UMAP).exists() else map_kind  # (not loaded: a file check)
        if now.get("status") != "running" or kind != map_kind:
            st.rerun(scope="app")
        step = phase_text(now.get("phase") or "starting").removeprefix("evaluating: ")
        icon_caption(
            "hourglass_top", f"Still evaluating ({step}): "
            + ("the UMAP replaces this PCA map when it is ready; " if kind != "umap" else "")
            + "the map-evolution frames and the probes come when the run is done. This page updates by itself.")

    _follow()


def rerun_when_changed(probe, every: float) -> None:
    """Rerun the page when ``probe()`` (a cheap query of the run store) no longer gives what
    it gave when the page was drawn, looking every ``every`` seconds: a page shows runs that
    change on the server without anyone reloading it."""
    seen = probe()

    @st.fragment(run_every=every)
    def _poll() -> None:
        if probe() != seen:
            st.rerun(scope="app")

    _poll()


def rerun_when_runs_finish(every: float = 5.0) -> None:
    """Rerun the page when a run finishes: a page projected in a class (the Gallery) shows
    each new run without anyone reloading it."""
    store = services.store()
    rerun_when_changed(lambda: store.count(("done",)), every)
