"""The lessons page's pieces: a lesson's figures (plain functions of its runs' data, built
with ``app.charts``), its run table, its verdict and its launch panel."""
from __future__ import annotations

from collections import Counter

import plotly.graph_objects as go
import streamlit as st

from ssrl_core import lessons as L
from ssrl_core.augment import OPS
from ssrl_core.pretext import encoder_input

from . import charts, readouts, services, urlstate, widgets
from .glossary import words_in
from .text import agree, count, md, minutes, quiet_icon

# a check's icon, drawn beside its state in words and hidden from screen readers (``quiet_icon``: they said
# "cancel icon" before a failed check)
ICON = {True: quiet_icon("check_circle"), False: quiet_icon("cancel"), None: quiet_icon("hourglass_top")}
VERDICT_TEXT = {
    "pass": ("success", "The expected outcome appeared: every check passed."),
    "partial": ("warning", "The expected outcome appeared only in part: some checks failed."),
    "fail": ("error", "The expected outcome did not appear: no check passed."),
    "incomplete": ("info", "Not every number is in yet: the verdict waits for the runs (or probes) still missing."),
}
ACTION_TEXT = {"reuse": "done (reused)", "wait": "queued or running", "submit": "to train"}


def glossary(lesson: L.Lesson) -> list[tuple[str, str]]:
    """(term, meaning) of each glossary word the lesson's texts use, in the glossary's order."""
    return words_in(" ".join([lesson.question, lesson.explanation, lesson.expected, lesson.how_to_read,
                              *(c.says for c in lesson.checks), *(c.title for c in lesson.charts)]))


# -- figures: plain functions -------------------------------------------------------------------------
def figures(lesson: L.Lesson, data: dict[str, L.RunData]) -> list[tuple[str, go.Figure, str]]:
    """(title, figure, a note to read it by or "") for each of the lesson's charts that has data
    to draw."""
    out = []
    for chart in lesson.charts:
        names = [n for n in (chart.runs or list(lesson.runs)) if n in data]
        # the gray bars an accuracy chart draws, which its note says: looked up once for both
        untrained = untrained_scores(lesson, names, data) if chart.kind == "accuracy" and names else {}
        fig = _figure(lesson, chart, names, data, untrained)
        if fig is not None:
            out.append((chart.title or L.CHART_KINDS[chart.kind], fig, _note(lesson, chart, names, data, untrained)))
    return out


def untrained_scores(lesson: L.Lesson, names: list[str], data: dict[str, L.RunData]
                     ) -> dict[str, tuple[float | None, float | None]]:
    """The untrained network of each of ``names``' architecture, seed and dataset, as Evaluate
    draws it beside runs (its kNN and linear readout, from the runs' reference caches), by its
    name: "random encoder (seed 0)". A lesson's accuracy chart lacked it, and two of
    contrastive-knobs' runs scored under an untrained network with nothing to say so. None for
    a lesson that trains a ``random`` run of its own among ``names`` (four-families)."""
    if any(lesson.runs[n].method == "random" for n in names):
        return {}
    several_encoders = len({lesson.runs[n].encoder for n in names}) > 1
    several_sets = len({lesson.runs[n].dataset for n in names}) > 1
    out: dict[str, tuple[float | None, float | None]] = {}
    for n in names:
        cfg = lesson.runs[n]
        name = readouts.random_name((cfg.encoder, cfg.seed, encoder_input(cfg.method)), several_encoders) + (
            f" on {cfg.dataset}" if several_sets else "")
        scores = readouts.random_encoder_scores(data[n].references)
        if scores != (None, None):
            out.setdefault(name, scores)
    return out


def _note(lesson: L.Lesson, chart: L.Chart, names: list[str], data: dict[str, L.RunData],
          untrained: dict[str, tuple[float | None, float | None]]) -> str:
    """Under a chart of kNN accuracy after every epoch: that it is a subset's, on the runs' sets
    (their train images named), with each run's last point beside the kNN accuracy the checks
    read (a teacher's class read t0_1's curve ending at 0.908 against the verdict's 0.928);
    under the accuracy bars, what the gray ones are (``untrained``: those ``untrained_scores``
    drew)."""
    if chart.kind == "accuracy":
        return ("Gray: the untrained network of the same architecture and seed, the bar a pretext task must "
                "clear: a run below it learned features worse than random ones.") if untrained else ""
    if chart.kind != "epoch_knn":
        return ""
    drawn = [(n, c) for n in names if (c := readouts.epoch_curve(data[n].epochs, "epoch_knn"))]
    sets = dict.fromkeys(lesson.runs[n].dataset for n, _ in drawn)
    return readouts.epoch_knn_ends([(n, c[1][-1], data[n].summary.get("knn_accuracy")) for n, c in drawn],
                                   whole="the kNN accuracy the checks read", said="in the checks",
                                   train_images={d: services.train_images(d) for d in sets})


def metric_grid(lesson: L.Lesson, metrics: list[str], values: list[float | None]
                ) -> tuple[list[str], dict[str, list[float | None]], list[str]]:
    """A "metrics" chart's numbers as ``charts.bars`` draws them: (categories, series, the series
    that are references). Where the metrics make a grid, its categories are short and each kind
    of number is a series in the legend: the runs' (a lesson of several runs), or a lesson of one
    run's qualifiers (its "1 label/class" and "10 labels/class", a series each for its linear
    readout, supervised from scratch and the random encoder's readout, the random encoder's in
    gray). Else each metric is a category of its own, named whole, in one series "measured". Six
    names of three or four lines each side by side, "random encoder's readout / 10 labels/class",
    were turned upright on a phone and ran into each other."""
    parsed = [lesson.parse_metric(m) for m in metrics]
    several = len({run for run, _, _ in parsed}) > 1
    cells = []  # (category, series) per metric
    for m, (run, _, _) in zip(metrics, parsed):
        what = L.metric_label(lesson, m, with_run=False)
        head, comma, tail = what.rpartition(", ")
        cells.append((run, what) if several else (tail, head) if comma else None)
    categories = list(dict.fromkeys(c for c, _ in filter(None, cells)))
    names = list(dict.fromkeys(n for _, n in filter(None, cells)))
    if None in cells or len(set(cells)) != len(cells) or len(cells) != len(categories) * len(names):
        # one line per part: a lesson of one run names it nowhere
        whole = [L.metric_label(lesson, m, with_run=len(lesson.runs) > 1).replace(": ", "<br>").replace(", ", "<br>")
                 for m in metrics]
        return whole, {"measured": list(values)}, []
    at = dict(zip(cells, values))
    series = {n: [at[(c, n)] for c in categories] for n in names}
    references = list(dict.fromkeys(n for (_, n), (_, kind, _) in zip(cells, parsed) if kind.startswith("random_")))
    return categories, series, references


def _figure(lesson: L.Lesson, chart: L.Chart, names: list[str], data: dict[str, L.RunData],
            untrained: dict[str, tuple[float | None, float | None]]) -> go.Figure | None:
    if chart.kind == "metrics":
        values = [L.metric_value(lesson, data, m) for m in chart.metrics]
        if all(v is None for v in values):
            return None
        categories, series, references = metric_grid(lesson, chart.metrics, values)
        accuracy = all(L.is_accuracy(lesson, m) for m in chart.metrics)
        return charts.bars(categories, series, "accuracy" if accuracy else "value", references=references)
    if not names:
        return None
    if chart.kind == "accuracy":
        refs = untrained
        labels = names + list(refs)
        return charts.accuracy_bars(labels, {
            "kNN (k=20)": [data[n].summary.get("knn_accuracy") for n in names] + [k for k, _ in refs.values()],
            "linear probe": [data[n].summary.get("linear_accuracy") for n in names] + [lin for _, lin in refs.values()]},
            references=list(refs))
    if chart.kind == "label_efficiency":
        series, refs = {}, {}
        for n in names:
            c = readouts.budget_curve(data[n].probes, "linear")
            if c:
                series[f"{n} linear"] = c
            # the supervised reference at the lesson's own draws and steps (a preview's fewer): at the pages' 3 and
            # 200 a preview's curve was lost
            readouts.reference_curves(data[n].references, into=refs, scratch=(lesson.seeds, lesson.supervised_steps))
        return charts.label_efficiency(series, refs) if series else None
    if chart.kind in ("collapse", "epoch_knn"):
        # the effective rank alone: the embedding's std (about 0.02) on its axis (0 to 12) drew four flat lines on 0
        key = "effective_rank" if chart.kind == "collapse" else "epoch_knn"
        series = {}
        for n in names:
            c = readouts.epoch_curve(data[n].epochs, key)
            if c:
                series[n] = (c[0], c[1], None)
        if not series:
            return None
        y = "effective rank (subset)" if chart.kind == "collapse" else "kNN accuracy (subset)"
        # an accuracy's axis 10 points high at least, as on Evaluate and Compare: without it a 1-point wiggle filled
        # the chart's height (a rank falling from 12 to 2 keeps its own range)
        return charts.curves(series, "epoch (0 = before pretraining)", y_title=y, log_x=False,
                             min_span=charts.ACCURACY_SPAN if chart.kind == "epoch_knn" else 0.0)
    if chart.kind == "invariance":
        ops = list(OPS)
        by_name = {n: data[n].probes for n in names}
        vals = readouts.invariance_series(by_name, ops)
        if all(v is None for vs in vals.values() for v in vs):
            return None
        return charts.bars(ops, vals, charts.INVARIANCE_AXIS, y_range=(-1.0, 1.15),
                           errors=readouts.invariance_errors(by_name, ops))
    if chart.kind == "factors":
        factors = [f for f in L.DATASET_FACTORS.get(lesson.runs[names[0]].dataset, ())
                   if any(f in (data[n].probes.get("factors") or {}) for n in names)]
        if not factors:
            return None
        chance = [next(data[n].probes["factors"][f]["chance"] for n in names if f in (data[n].probes.get("factors") or {}))
                  for f in factors]
        return charts.bars(factors, {n: readouts.factor_values(data[n].probes, factors, "2") for n in names},
                           "linear-probe accuracy", chance=chance, y_range=(0, 1.1))
    return None


def run_key(lesson: L.Lesson) -> str:
    """What the lesson's run names stand for, where a name alone does not say (the runs of one
    method on one dataset told apart by ``readouts.run_tags``): "**t0_1**: temperature=0.1,
    batch 128 · **b512**: temperature=0.5, batch 512"; "" when no two runs share a method. A
    class's link hides the runs table, and its charts and checks said t0_1 and b512 alone."""
    runs = [{"id": n, "method": c.method, "dataset": c.dataset, "config": c.to_dict()} for n, c in lesson.runs.items()]
    tags = readouts.run_tags(runs)
    # each setting unbroken ("batch 128"): at 390 px the line broke between "batch" and its number
    said = [f"**{md(n)}**: {', '.join(x.replace(' ', chr(160)) for x in t)}" for n, t in tags.items() if t]
    return "The runs, as the charts and checks below name them: " + " · ".join(said) + "." if said else ""


def run_rows(lesson: L.Lesson, planned: dict[str, dict]) -> list[dict]:
    rows = []
    for name, cfg in lesson.runs.items():
        p = planned[name]
        opts = ", ".join(f"{k}={v}" for k, v in cfg.options.items())
        # the status second: last, after the wide augment column, it was cut to "running · 20261" at 1280 px; its
        # run's id after it was still cut at 1366 ("done · 20261"): the id has a column of its own, last, as on
        # Pretrain's runs table
        rows.append({"run": name, "status": ACTION_TEXT[p["action"]] if p["run"] is None else
                     p["run"]["status"] + (" (Launch resumes it)" if p["action"] == "resume" else ""),
                     "method": cfg.method, "dataset": cfg.dataset, "augment": cfg.augment,
                     "epochs": cfg.epochs, "batch": cfg.batch_size, "options": opts,
                     "id": p["run"]["id"] if p["run"] else ""})
    return rows


# -- Streamlit pieces -------------------------------------------------------------------------------------
def class_link(lesson: L.Lesson) -> None:
    """The link a teacher gives the class, ready to copy: this page's address with the lesson,
    ``hide=controls,nav`` and no one's nickname (the browser keeps it, not the address)."""
    try:
        base = (st.context.url or "").split("?")[0].split("#")[0]
    except Exception:  # noqa: BLE001  (no browser behind the session: a test)
        base = ""
    if not base.rstrip("/").endswith("/lessons"):
        base = base.rstrip("/") + "/lessons" if base else "/lessons"
    st.caption("The link for your class: this lesson with only its Launch button and results (no navigation, no "
               "knobs), and without your nickname. Copy it with the button at its right, which shows while the "
               "mouse is over the link, or select it (on a phone or tablet: press and hold it).")
    # wrapped: on a phone the line was cut at 358 of its 603 px, and its copy button shows only under a mouse
    st.code(f"{base}?lesson={lesson.id}&hide=controls,nav", language=None, wrap_lines=True)
    said = this_computer(base)
    if said:
        widgets.icon_caption("warning", said)


def this_computer(url: str) -> str | None:
    """What a teacher must change in a class link ``url`` that names the computer it was opened on
    (``localhost``, a loopback address, 0.0.0.0), or None: its host, and its port where the page may
    have been reached through a tunnel or a forwarded port (a teacher who changed the host only kept
    the tunnel's own port, on which the server does not listen)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url if "//" in url else f"//{url}")
        host, port = parts.hostname, parts.port
    except ValueError:  # (a port that is not a number)
        return None
    if host is None:
        return None
    try:
        ip = ipaddress.ip_address(host)
        ip = getattr(ip, "ipv4_mapped", None) or ip  # (::ffff:127.0.0.1)
        here = ip.is_loopback or ip.is_unspecified
    except ValueError:  # a name: only localhost is this computer (127.example.edu is not)
        here = host.rstrip(".") == "localhost"
    if not here:
        return None
    shown = f"[{host}]" if ":" in host else host
    # (it said "the students' ones need ...": a plain-language review found no noun "ones" stood for)
    return (f"`{shown}` means this computer. For the students' computers, put the server's name or address in its "
            "place" + (f". {port} is the port this browser used: if that was a tunnel or a forwarded port, put the "
                       "port the server itself listens on." if port else "."))


def lesson_picker(lessons: list[L.Lesson], wanted: str | None, in_address: bool = True) -> L.Lesson:
    """The radio of lessons, on ``wanted`` first; with ``in_address`` the pick goes into the
    address. Not while the controls are hidden: there ``lesson=`` with ``hide=controls`` makes a
    class's locked link, and the next rerun took the page for one (the picker gone, the first
    lesson kept)."""
    ids = [l.id for l in lessons]
    by_id = {l.id: l for l in lessons}
    index = ids.index(wanted) if wanted in ids else 0
    shown = {i: f"{by_id[i].order}. {by_id[i].title}" for i in ids}
    # two files of one order and title (a lesson copied and changed): Streamlit takes a pick back by its words, so the
    # second one's Launch trained the first's runs; such ones say their id too
    twins = {w for w, k in Counter(shown.values()).items() if k > 1}
    if in_address:
        urlstate.bound("lesson_pick")
    if st.session_state.get("lesson_pick") not in ids:
        st.session_state["lesson_pick"] = ids[index]  # (not ``index=``: see ``urlstate.bound``)
    picked = st.radio("Lesson", ids, key="lesson_pick",
                      format_func=lambda i: shown[i] + (f" ({i})" if shown[i] in twins else ""))
    if in_address and picked != st.query_params.get("lesson"):
        st.query_params["lesson"] = picked  # the link in the address bar opens this lesson
    return by_id[picked]


def launch_words(lesson: L.Lesson, names: list[str]) -> str:
    """What launching ``names`` does, in words: "train 4 runs and evaluate 1 untrained encoder"
    (the random encoder, or a run of 0 epochs, trains nothing: "train 5 runs" said more than the
    worker would do)."""
    untrained = sum(1 for n in names if not lesson.runs[n].trains)
    trained = len(names) - untrained
    said = [f"train {count(trained, 'run')}"] if trained else []
    said += [f"evaluate {count(untrained, 'untrained encoder')}"] if untrained else []
    return " and ".join(said)


def lessons_in_the_way(lesson: L.Lesson, titles: dict[str, str]) -> str:
    """Why ``lesson`` cannot be launched now, "" when it can: as many other lessons as the
    server allows at once (``Limits.lessons``) have runs queued or training, named by their
    ``titles`` (by id, those the page loaded). A student who opened every lesson's link queued
    some forty runs ahead of the class's own; the store refuses the launch anyway, this says it
    before the click."""
    from ssrl_core.runs.store import Limits

    try:
        most = Limits.from_env().lessons
    except ValueError:  # a limit variable that is not a number: the launch says which
        return ""
    if not most:  # 0: no limit (as the store reads it)
        return ""
    others = services.store().active_lessons(but=L.lesson_nickname(lesson))
    if len(others) < most:
        return ""
    return (f"{count(len(others), 'other lesson')} {agree(len(others), 'is', 'are')} training now, as many as this "
            f"server runs at once: " + ", ".join(f"*{md(titles.get(i, i))}*" for i in others))


def launch_panel(lesson: L.Lesson, planned: dict[str, dict], show_details: bool, titles: dict[str, str]) -> None:
    """The one button: submits the runs the store cannot reuse or wait for. ``titles``: every
    lesson's, by id, to name those in the way. In one container: what it draws changes as the
    lesson is launched and its runs end, and the progress panel under it keeps its place (its
    live region, drawn anew one place further, was a new node, and a screen reader tells only
    the changes of a region it has: ``widgets.live_region``)."""
    with st.container():
        _launch_panel(lesson, planned, show_details, titles)


def _launch_panel(lesson: L.Lesson, planned: dict[str, dict], show_details: bool, titles: dict[str, str]) -> None:
    to_train = [n for n, p in planned.items() if p["action"] in ("submit", "resume")]
    reused = [n for n, p in planned.items() if p["action"] == "reuse"]
    resumed = [n for n, p in planned.items() if p["action"] == "resume"]
    if show_details:
        # the augment column wide: cut at "crop,flip,color_jitter", two runs read alike where they differ after it
        st.dataframe(run_rows(lesson, planned), hide_index=True, key="lesson_runs",
                     column_config={"augment": st.column_config.TextColumn(width="large")})
    if to_train:
        said = ([f"{count(len(reused), 'finished run')} with identical configs "
                 f"{agree(len(reused), 'is', 'are')} reused"] if reused else []) + (
            [f"{count(len(resumed), 'cancelled run')} {agree(len(resumed), 'continues', 'continue')} from "
             f"{agree(len(resumed), 'its', 'their')} last finished epoch"] if resumed else [])
        note = f" ({'; '.join(said)})" if said else ""
        if in_the_way := lessons_in_the_way(lesson, titles):
            st.info(f"{in_the_way}. Launch comes back when one of them has finished.", icon=":material/hourglass_top:")
            watch_runs()  # the button comes back when those lessons' runs end
        if st.button(f"Launch this lesson: {launch_words(lesson, to_train)}", type="primary", key="lesson_launch",
                     help="Queues the lesson's runs for the background worker." + note, disabled=bool(in_the_way)):
            for name in to_train:
                cfg = lesson.runs[name]
                error = services.preflight(cfg)
                if error:
                    st.error(f"Not launched: run {name}: {error}")
                    return
            try:
                ids = L.launch(lesson, services.store())
            except ValueError as e:  # LimitReached: the queue cannot take the whole lesson
                st.error(f"Not launched: {e}.")
                return
            services.ensure_worker()
            st.session_state["lesson_launched"] = ids
            st.rerun()
        if note:
            st.caption(note.strip(" ()").capitalize() + ".")
        seconds = services.run_seconds([lesson.runs[n].to_dict() for n in to_train])
        if seconds is not None:  # only where runs like each of them finished here: nothing is guessed
            widgets.icon_caption(
                "schedule", f"About {minutes(seconds)} min of training and evaluation "
                "on this machine, one run after another, going by runs like these that finished here.")
        else:
            widgets.icon_caption(
                "schedule", f"No time estimate yet: none is guessed until a run like each of this "
                f"lesson's ({services.LIKE_RUN}) has finished on this machine.")
    elif any(p["action"] == "wait" for p in planned.values()):
        st.info("The lesson's runs are queued or training; results appear below as they finish.")
    else:
        st.success("Every run of this lesson has finished: the results below are from the run store.")


def watch_runs() -> None:
    """Rerun the page when a run is queued, starts or ends anywhere on the server: a class
    opens the lesson's link before anyone presses Launch, and its pages, whose live panel had
    nothing to follow, went on saying "Launch this lesson" and "Nothing is training right now"
    while a classmate's click trained the lesson, and never showed the verdict. One small
    query every 3 s."""
    store = services.store()
    widgets.rerun_when_changed(lambda: tuple((r["id"], r["status"]) for r in store.recent(50)), 3.0)


def progress_panel(lesson: L.Lesson, planned: dict[str, dict], verdict: dict) -> None:
    """The live panel of the lesson's runs, while any is to train, queued or training (or its
    supervised-from-scratch reference is being computed), and, on a page that showed it so,
    after they have ended: its live region then tells the ``verdict`` (a screen reader heard the
    runs train, then nothing: the panel, its region with it, left the page as the last run
    ended, and the verdict came in silence)."""
    watched = f"_lesson_watched_{lesson.id}"
    if any(p["action"] in ("wait", "resume", "submit") for p in planned.values()) or L.extras_running(lesson):
        st.session_state[watched] = True
    elif not st.session_state.get(watched):
        return  # a lesson done before the page was opened: its verdict is there to read
    watch_runs()  # (the live panel below follows only runs active when the page was drawn)
    st.subheader("Training now")
    # the lesson's runs only (the class's other runs are counted, not listed)
    widgets.live_runs_panel(focus={p["run"]["id"]: name for name, p in planned.items() if p["run"]},
                            shared=L.lesson_nickname(lesson), idle_note=" ".join(verdict_headline(verdict)) + ".")


def measured(verdict: dict) -> bool:
    """Whether any number a check reads has been measured yet."""
    return any(v is not None for row in verdict["checks"] for v in row["numbers"].values())


def verdict_headline(verdict: dict) -> tuple[str, str]:
    """The verdict's first words and the counts after them, as its panel's box and the live
    panel's region begin: ("Verdict: pass", "(2 of 2 checks passed)")."""
    if not measured(verdict):
        # nothing measured yet: "incomplete (0 of 4 checks passed)" read as a lesson that had run and failed
        return "Not run yet:", f"the {count(verdict['checks_total'], 'check')} below are judged as the lesson's runs finish"
    if verdict["verdict"] == "incomplete":
        # "(0 of 2 checks passed)" while the runs were still training read as a lesson that had failed
        decided = sum(1 for row in verdict["checks"] if row["passed"] is not None)
        return "Verdict: not yet", (f"({decided} of {count(verdict['checks_total'], 'check')} judged so far, "
                                    f"{verdict['passed']} passed)")
    return f"Verdict: {verdict['verdict']}", f"({verdict['passed']} of {verdict['checks_total']} checks passed)"


def verdict_panel(lesson: L.Lesson, verdict: dict, data: dict[str, L.RunData]) -> None:
    kind, text = VERDICT_TEXT[verdict["verdict"]]
    if verdict["verdict"] == "incomplete" and set(lesson.runs) <= set(data) and L.missing_extras(lesson, data):
        # every run finished, yet "waits for the runs (or probes) still missing": it waited for the button above
        text = ("Not every number is in yet: the verdict waits for the supervised-from-scratch reference, " +
                ("which is being computed." if L.extras_running(lesson) else
                 "which *Compute the supervised-from-scratch reference* above computes."))
    st.subheader("Did the expected outcome appear?")
    st.markdown(f"**Expected:** {lesson.expected}")
    head, counts = verdict_headline(verdict)
    if not measured(verdict):
        st.info(f"**{head}** {counts}.", icon=":material/hourglass_empty:")
    else:
        getattr(st, kind)(f"**{head}** {counts}. {text}")
    for row in verdict["checks"]:
        # each number named in words, as the check's line names a side not measured yet ("simclr's kNN accuracy"); a
        # ':' as an entity all the same: Streamlit's Markdown reads ':color' as a directive and drops it
        numbers = ", ".join(f"{L.term_words(lesson, k).replace(':', '&#58;')} = {v:.3f}"
                            for k, v in row["numbers"].items() if v is not None)
        state = L.CHECK_STATE[row["passed"]]
        line = L.describe_check(row, lesson)  # numbers as code; a side still to be measured named in words
        # (its words as written: a lesson file's text, in HTML-enabled Markdown)
        st.markdown(f"{ICON[row['passed']]} **{md(row['says'])}** — {state}: "
                    + (f"`{line}`" if row["passed"] is not None else line)
                    + (f"  \n<small>{numbers}</small>" if numbers else ""), unsafe_allow_html=True)
        for caveat in row.get("caveats", ()):
            widgets.icon_caption("warning", caveat)


def extras_panel(lesson: L.Lesson, planned: dict[str, dict], data: dict[str, L.RunData]) -> None:
    """The supervised-from-scratch reference: minutes on a CPU, so a button and a background job."""
    missing = L.missing_extras(lesson, data)
    if not missing:
        return
    if L.extras_running(lesson):
        @st.fragment(run_every=3.0)
        def _poll() -> None:
            if not L.extras_running(lesson):
                st.rerun(scope="app")
            st.info("Training the supervised-from-scratch reference in the background (minutes on a CPU); "
                    "the verdict updates when it is done.", icon=":material/hourglass_top:")
        _poll()
        return
    budgets = ", ".join("all" if b == 0 else str(b) for b in lesson.supervised_scratch)
    labels = "label" if budgets == "1" else "labels"
    if st.button(f"Compute the supervised-from-scratch reference ({budgets} {labels} per class; minutes on a CPU)",
                 key="lesson_extras"):
        L.start_extras_job(lesson, {n: planned[n]["run"]["run_dir"] for n in missing})
        st.rerun()
