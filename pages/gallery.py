"""Gallery: every finished run of the class, with who made it, what it is, how well it
scores and a thumbnail of its map; one click opens it in Explore, ticked runs open side by
side in Compare."""
import streamlit as st

from app import readouts, services, urlstate, widgets
from app.text import agree, code, listing, md
from ssrl_core.runs.store import one_per_person, same_nickname

MAX_CARDS = 60
COLS = 4

st.title("Gallery")
# with a teacher's link's filter (``?hide=controls&dataset=shapes``) not every run: said under it, from the link
st.caption("The finished runs on this server, newest first unless sorted otherwise below; runs that finish appear by "
           "themselves. Open one "
           "to explore its map and neighbours; tick a few to compare them. Each thumbnail is the run's map: a "
           "point per image, placed near images with similar features and coloured by its class (one colour per "
           "class of that dataset; Explore names them). " + readouts.CLUMPS)
runs = services.finished_runs()
if not runs:
    widgets.too_few_runs(0, 1, "it appears here")

widgets.rerun_when_runs_finish()  # projected in class: new runs appear by themselves
controls = not urlstate.hidden("controls")
from_link = st.container()  # above the row: the link's filter, said when its boxes are hidden
c1, c2, c3, c4 = st.columns(4)
datasets = ["all"] + sorted({r["dataset"] for r in runs})
methods = ["all"] + sorted({r["method"] for r in runs})
# whose: a TA grading a class looked for "Ada's best run on shapes" card by card (nicknames any case, as the limit)
people = ["everyone", *one_per_person(r["nickname"] for r in runs if r.get("nickname"))]
SORTS = {"newest": None, "kNN accuracy": "knn_accuracy", "linear accuracy": "linear_accuracy"}
with c1:
    ds_pick = urlstate.selectbox("Dataset", datasets, key="gal_dataset", param="dataset", default="all", hide=not controls)
with c2:
    m_pick = urlstate.selectbox("Method", methods, key="gal_method", param="method", default="all", hide=not controls)
with c3:
    by_pick = urlstate.selectbox("Made by", people, key="gal_by", param="by", default="everyone", hide=not controls)
with c4:
    sort_pick = urlstate.selectbox("Sort by", list(SORTS), key="gal_sort", param="sort", default="newest",
                                   hide=not controls, first_word=True)
shown = [r for r in runs if ds_pick in ("all", r["dataset"]) and m_pick in ("all", r["method"])
         and (by_pick == "everyone" or same_nickname(r.get("nickname"), by_pick))]
if SORTS[sort_pick]:  # best first, runs without the score last (stable: newest first among equals)
    shown.sort(key=lambda r: -((r["summary"] or {}).get(SORTS[sort_pick]) or -1.0))
    if len(sets := list(dict.fromkeys(r["dataset"] for r in shown))) > 1:
        # within each dataset, the set of the newest run first: ranked together, digits runs (0.93) stood above every
        # shapes run (0.41), whose accuracies do not compare with theirs (a statistician's review)
        newest = {d: i for i, d in enumerate(dict.fromkeys(r["dataset"] for r in runs if r["dataset"] in sets))}
        shown.sort(key=lambda r: newest[r["dataset"]])
        st.caption(f"Best first within each dataset ({', '.join(md(d) for d in newest)}): accuracies on different "
                   "datasets do not compare.")
if not controls and (ds_pick, m_pick, by_pick) != ("all", "all", "everyone"):  # the boxes hidden: nothing else
    # says runs are left out
    of = f" of **{md(m_pick)}**" if m_pick != "all" else ""
    on = f" on **{md(ds_pick)}**" if ds_pick != "all" else ""
    by = f" by **{md(by_pick)}**" if by_pick != "everyone" else ""
    from_link.caption(f"Runs{of}{on}{by} (from the link)" + ("." if shown else ": none has finished yet."))
if len(shown) > MAX_CARDS:
    which = "newest" if SORTS[sort_pick] is None else f"best by {sort_pick}"
    st.caption(f"Showing the {MAX_CARDS} {which} of {len(shown)} runs"
               + ("; filter by dataset, method or who made them to see others." if controls else
                  "; the others are not shown."))
    shown = shown[:MAX_CARDS]

# the ticks are kept apart from the boxes: a box not drawn (its card filtered out) loses its state, so a TA who ticked a
# run, filtered to another student's and ticked one there, found one tick left
done_ids = {r["id"] for r in runs}
kept = st.session_state.setdefault("gal_ticked", [])
if gone := [i for i in kept if i not in done_ids]:  # deleted (or resumed) elsewhere: the count fell without a word
    kept[:] = [i for i in kept if i in done_ids]
    st.info(f"{agree(len(gone), 'A run', 'Runs')} you ticked ({md(listing(gone))}) {agree(len(gone), 'is', 'are')} no "
            "longer finished here: deleted or resumed, from another tab or the command line; "
            f"{agree(len(gone), 'its tick is', 'their ticks are')} dropped.", icon=":material/info:")
for r in shown:
    st.session_state.setdefault(f"gal_tick_{r['id']}", r["id"] in kept)
ticked = list(kept)


def compare_link(where) -> None:
    """The link that opens the ticked runs side by side, or what it waits for."""
    if len(ticked) >= 2:
        where.page_link("../pages/compare.py", label=f"Compare the {len(ticked)} ticked runs", icon=":material/compare:",
                        query_params={"runs": ",".join(ticked), **urlstate.carried()})
    else:
        where.caption("Tick two or more runs to compare them." if not ticked else "Tick one more run to compare them.")


def ticked_now(run_id: str) -> None:
    st.session_state["gal_last_tick"] = run_id  # the card whose box was just used: the link comes there too
    kept = st.session_state.setdefault("gal_ticked", [])
    if st.session_state.get(f"gal_tick_{run_id}") and run_id not in kept:
        kept.append(run_id)
    elif not st.session_state.get(f"gal_tick_{run_id}") and run_id in kept:
        kept.remove(run_id)


compare_link(st)


def fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


# what else tells a card from the others of its method and dataset here (its options are said whole below, its
# epochs on their own): contrastive-knobs' runs at batch 32 and 512 made cards that read alike
tells = readouts.run_tags(shown, keys=tuple(k for k in readouts.TELLS if k not in ("options", "epochs")))
cards = st.container(key="gal_cards")  # (its key names it to the CSS that wraps its rows on a narrow screen: app/screen.py)
for start in range(0, len(shown), COLS):
    for col, r in zip(cards.columns(COLS), shown[start:start + COLS]):
        s = r["summary"] or {}
        one = s.get("linear_1_per_class")  # the probes' number, written into the summary after training
        if one is None:  # a run evaluated without probes (`--evaluation basic`) has it once a probe job computed them
            one = readouts.value_at(readouts.budget_curve(services.artifacts(r["run_dir"]).probes, "linear"), 1)
        with col.container(border=True):
            thumb = services.map_thumbnail(r)
            if isinstance(thumb, bytes):
                st.image(thumb, width="stretch", alt=f"map of the {r['method']} run on {r['dataset']}: each image a "
                                                     "point near images with similar features, coloured by label")
            else:  # why not
                st.caption(f"({md(thumb)})")
            # its method's options, where it was given any (a lesson's three SimSiam runs, one without its stop-gradient
            # and one without its predictor, made three cards that read alike)
            opts = (r["config"] or {}).get("options") or {}
            st.markdown(f"**{r['method']}**" + (f" {code(widgets.options_text(opts))}" if opts else "")
                        + "".join(f" · {md(t)}" for t in tells[r["id"]]) + f" · {r['dataset']}  \n"
                        f"by **{md(r.get('nickname') or widgets.ANONYMOUS)}** · {services.epochs_text(r, short=False)}")
            # each number with its name, unbroken (a card's line broke as "… · 1" / "label/class 0.199", the 1 read as
            # a value); the line breaks at the dots between them
            stats = {"kNN": fmt(s.get("knn_accuracy")), "linear": fmt(s.get("linear_accuracy")), "1 label/class": fmt(one),
                     "eff. rank": "–" if s.get("effective_rank") is None else f"{s['effective_rank']:.1f}"
                     + (" (collapsed)" if readouts.collapsed(s) else "")}
            st.caption(" · ".join(f"{k} {v}".replace(" ", "\u00a0") for k, v in stats.items()))
            if s.get("knn_accuracy") is not None and services.dataset_caveats(r["dataset"]):  # no accuracies: none
                widgets.icon_caption("straighten", "too few images for these accuracies to mean much (see Data)")
            st.page_link("../pages/explore.py", label="Open in Explore", icon=":material/scatter_plot:",
                         query_params={"run": r["id"], **urlstate.carried()})
            st.checkbox(" · ".join([f"compare {r['method']}", *tells[r["id"]], r["dataset"],
                                    services.epochs_text(r, short=False),
                                    f"by {md(r.get('nickname') or widgets.ANONYMOUS)}"]), key=f"gal_tick_{r['id']}",
                        # named apart by ear
                        help=f"run {r['id']}, by {r.get('nickname') or widgets.ANONYMOUS}",
                        on_change=ticked_now, args=(r["id"],))
            if r["id"] == st.session_state.get("gal_last_tick") and r["id"] in ticked:
                # also under the box just ticked: on a phone the cards stack, and the link at the top of the page
                # was 1,900 px above the box a student had ticked, with nothing near it changing
                compare_link(st)
