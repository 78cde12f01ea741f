"""Evaluate: kNN and linear-probe accuracy of finished runs next to the random encoder of each run's seed;
label-efficiency curves (linear readout and fine-tuning against the random encoder and
supervised training from scratch), kNN accuracy as k varies, accuracy over pretraining."""
import streamlit as st

from app import charts, readouts, services, urlstate, widgets
from app.text import about, agree, count, listing, md
from ssrl_core.evaluate.finetune import STEPS
from ssrl_core.evaluate.probes import BUDGETS, SEEDS
from ssrl_core.pretext import read_embedding_std

st.title("Evaluate")
st.markdown(
    "Two readouts of the **frozen** features, both trained on the train split and scored on the test split: "
    "a **kNN** vote (cosine similarity, k=20) and a **linear probe** (logistic regression, L2 penalty "
    "C = 1, not tuned). "
    "A pretext task has earned only what it adds above the **random** encoder: untrained convolutions "
    "already give surprisingly good features. Each run is paired with the untrained network of its own "
    "architecture and seed (the gray bars), computed with its probes (no separate run needed)."
)
runs = services.finished_runs()
if not runs:
    widgets.too_few_runs(0, 1, "its accuracies appear here")

controls = not urlstate.hidden("controls")
dataset = widgets.dataset_picker(runs, key="eval_dataset", hide=not controls)
on_data = [r for r in runs if r["dataset"] == dataset]
widgets.accuracy_caveats(dataset, on_data)
trained = [r for r in on_data if readouts.trains(r)]
picked = widgets.run_picker(trained, key="eval_runs", label="Runs", multi=True, default_n=4, hide=not controls)
if controls and (untrained_runs := [r for r in on_data if not readouts.trains(r)]):
    # a student looked for the random run they had launched in this box, and did not see it was the gray bar
    named = [md(readouts.short_name(r)) for r in untrained_runs[:3]]
    more = [f"{len(untrained_runs) - 3} more"] if len(untrained_runs) > 3 else []
    widgets.icon_caption(
        "info", f"{listing(named + more)}: `random` runs are not in this list. A `random` run is the "
        "untrained encoder, and every run here is drawn beside the one of its own architecture and seed, as "
        "the gray *random encoder* bar and the dashed *random encoder* curves.")
if not controls:
    widgets.linked_runs(picked)
widgets.differences_warning(picked)  # a 10-epoch run beside a 4-epoch one wins by its budget, not its method


probes = {r["id"]: services.artifacts(r["run_dir"]).probes for r in picked}  # each run's probes.json, read once
refs = {r["id"]: services.artifacts(r["run_dir"]).references() for r in picked}  # shared reference caches
# the random encoder each run is paired with: same architecture and seed (its probes compute it)
pairs = {r["id"]: readouts.pairing(r) for r in picked}
several_encoders = len({pair[0] for pair in pairs.values()}) > 1
run_name = readouts.run_names(picked)  # "simsiam (9c9a) · stop_gradient=false" beside its twin with the default
# a run's colour and marker in every chart below, also one that lacks a run before it (its probes not computed yet)
order = list(run_name.values())
fresh = widgets.fresh_runs(picked)  # those re-imported since are said, and get no probe job (they would mix images)
scored = [r for r in picked if (r["summary"] or {}).get("knn_accuracy") is not None]  # (a set with labels)
labelled = [r for r in scored if r in fresh]
lacking = [r for r in labelled
           if not probes[r["id"]].get("knn_k") or readouts.random_encoder_scores(refs[r["id"]])[0] is None]
widgets.offer_probe_jobs(picked, lacking, key="eval_probe_missing",
                         warning="lack{s} probes this page draws (kNN as k varies, label efficiency, or their random "
                                 "encoder's kNN and linear readout)",
                         button=f"Compute their probes ({readouts.probe_cost(lacking)})",
                         finetune=False)  # a fine-tuning job shows under the label-efficiency chart, by its button
if not picked:
    st.info("Pick runs to compare.")
    widgets.stop()
# where self-supervision pays, first: a newcomer read the page's first screen as "it barely beats random"
if said := [x for r in picked if (x := readouts.fewest_labels(run_name[r["id"]], probes[r["id"]], refs[r["id"]]))]:
    st.markdown("**With few labels** (the label-efficiency curves below): " + "; ".join(said) + ".")


labels, knn, lin, rows, randoms, below, untrained = [], [], [], [], {}, [], []
for r in picked:
    s = r["summary"] or {}
    rk, rl = readouts.random_encoder_scores(refs[r["id"]])
    if rk is not None or rl is not None:
        randoms.setdefault(pairs[r["id"]], (rk, rl))
    labels.append(run_name[r["id"]])
    scored = services.scored_images(r)  # what its accuracies were scored on: the noise of its gain
    if rk is not None and s.get("knn_accuracy") is not None and s["knn_accuracy"] < rk \
            and not readouts.within_noise(s["knn_accuracy"], rk, scored):
        below.append(labels[-1])  # under its untrained network, past the noise (its gain says "(noise)"): said below
    knn.append(s.get("knn_accuracy"))
    lin.append(s.get("linear_accuracy"))
    rows.append({"run": labels[-1], "kNN acc": s.get("knn_accuracy"), "linear acc": s.get("linear_accuracy"),
                 "kNN gain over random": readouts.knn_gain(s, refs[r["id"]], scored),
                 "embedding std": read_embedding_std(s, r["method"]),
                 "effective rank": s.get("effective_rank"), "train s": s.get("train_seconds"),
                 "augment": readouts.augment_of(r)})
for pair, (rk, rl) in sorted(randoms.items(), key=lambda kv: (kv[0][0], int(kv[0][1]), kv[0][2] or "")):
    labels.append(readouts.random_name(pair, several_encoders))
    untrained.append(labels[-1])  # drawn in grays, as Invariance draws the untrained networks
    knn.append(rk)
    lin.append(rl)
    rows.append({"run": readouts.random_name(pair, several_encoders) + " · untrained", "kNN acc": rk, "linear acc": rl,
                 "kNN gain over random": "baseline"})

# chance beside the bars, of the one dataset the page shows (0.41 on shapes is more than twice a guess's 0.17)
ds, _ = services.dataset(dataset)
widgets.chart(charts.accuracy_bars(labels, {"kNN (k=20)": knn, "linear probe": lin}, references=untrained,
                                   classes=ds.num_classes if ds is not None and ds.has_labels else None),
              key="eval_bars")
widgets.numbers_table(rows, "eval_table", {"kNN acc": 3, "linear acc": 3, "embedding std": 4, "effective rank": 1,
                                           "train s": 1},
                      {"embedding std": widgets.COLLAPSE_HELP, "effective rank": widgets.COLLAPSE_HELP},
                      **{"kNN gain over random": st.column_config.TextColumn(
                          alignment="right", help=readouts.GAIN_HELP + (  # (the button is there only while some run lacks them)
                              f" (the button above computes it: {readouts.probe_cost(lacking)})" if lacking else "") + ".")})
if below:  # a student saw BYOL and rotation under the untrained network with nothing saying so
    widgets.icon_caption(
        "trending_down", f"{md(listing(below))} {agree(len(below), 'scores', 'score')} below the "
        "untrained network of the same architecture and seed: on this measure, pretraining has not paid yet. "
        "Short runs do this (SimSiam, BYOL and SwAV start slowly on digits and pass it with more epochs), and "
        "a pretext task can keep what a kNN vote on labels does not reward (rotation keeps orientation).")
if note := readouts.collapse_options_note(picked):
    st.caption(note, unsafe_allow_html=True)
st.caption("Collapse: a representation that maps every image to one point (embedding std → 0) or onto one "
           "direction (effective rank → 1) has learned nothing, whatever its pretext loss says. Non-contrastive "
           "methods avoid it only through their predictor and stop-gradient or EMA target, or their variance and "
           "decorrelation terms.")
if dataset == "digits":
    st.caption("How to read it: on digits a random cnn-small already reaches 0.95 to 0.97 with a linear probe "
               "(seeds 0 to 4), so that column barely separates methods; the kNN column, which needs similar images to be close, does.")
else:
    st.caption("How to read it: compare each run with the untrained encoder below it: the linear probe finds a "
               "lot even in random features, so the kNN column, which needs similar images to be close, often "
               "separates methods better.")

# -- label efficiency, fine-tuning, kNN vs k, accuracy over pretraining ---------------------------
st.header("Label efficiency")
# runs that differ in seed, encoder or augmentations have different references: each is drawn, named by what differs
ref_tag = readouts.reference_tags(picked)
# each run's fine-tuning curve and its supervised reference, read once (the chart, the offer and the notes use them)
ft_curve = {r["id"]: readouts.budget_curve(probes[r["id"]], "finetune") for r in picked}
sup_curve = {r["id"]: readouts.budget_curve(refs[r["id"]], "supervised-scratch") for r in picked}
series, ref_series = {}, {}
for r in picked:
    name = run_name[r["id"]]
    lin = readouts.budget_curve(probes[r["id"]], "linear")
    if lin:
        series[f"{name} linear"] = lin
    if ft_curve[r["id"]]:
        series[f"{name} fine-tuned"] = ft_curve[r["id"]]
    readouts.reference_curves(refs[r["id"]], into=ref_series, tag=ref_tag[r["id"]])
RANDOM_REF, SCRATCH_REF = (label for _, label in readouts.REFERENCES)
drawn = {ref: any(k.startswith(ref) for k in ref_series) for ref in (RANDOM_REF, SCRATCH_REF)}


# fine-tuning also computes the supervised reference, budget by budget; offered for runs lacking any budget
budgets = services.label_budgets(dataset)


def complete(curve) -> bool:
    return bool(curve) and len(curve[0]) == len(budgets)


needs_ft = [r for r in fresh if not complete(ft_curve[r["id"]]) or not complete(sup_curve[r["id"]])]
ft_running = any(services.probe_job_running(r["run_dir"]) for r in needs_ft)
missing_scratch = ("it is being computed in the background, budget by budget" if ft_running else
                   "the button below the chart computes it with fine-tuning" if controls else
                   "the teacher can compute it with fine-tuning on this page without the link's hide=controls")
if not series:
    refs_text = ""  # nothing drawn: the message below says why
elif drawn[RANDOM_REF] and drawn[SCRATCH_REF]:
    refs_text = ("The dashed lines are the references on the same labelled images: the **random** encoder with the "
                 "same readout, and the same network trained **supervised from scratch** (with the run's "
                 "augmentations).")
elif drawn[RANDOM_REF]:
    refs_text = ("The dashed line is the reference on the same labelled images: the **random** encoder with the same "
                 "readout. The other reference, the same network trained **supervised from scratch**, is not drawn "
                 f"yet: {missing_scratch}.")
elif drawn[SCRATCH_REF]:
    refs_text = ("The dashed line is the same network trained **supervised from scratch** on the same labelled "
                 "images (with the run's augmentations); the **random** encoder's readout appears once the runs' "
                 "probes are computed.")
else:
    refs_text = ("No reference is drawn yet. The **random** encoder's readout comes with each run's probes; for "
                 f"**supervised training from scratch**, {missing_scratch}.")
st.markdown(
    "SSRL exists to make labels go further. Each *linear* curve is a **linear readout** fit on *n* labelled train "
    f"images per class (mean over {SEEDS} random draws of the labelled images, the whiskers ± their standard "
    "deviation; the rightmost point uses every label, one fit and no spread), scored on the whole test split."
    + (" " + refs_text if refs_text else "")
)
if series:
    widgets.chart(charts.label_efficiency(series, ref_series, colour_order=order), key="eval_label_eff")
    left_out = [str(b) for b in BUDGETS if b not in budgets]
    if left_out:
        widgets.icon_caption(
            "straighten", f"{dataset} has fewer than {left_out[0]} labelled training images in some "
            f"class (or that many are all of them), so {' and '.join(left_out)} labels per class are left out: "
            "such a subset would be every image of some classes.")
    if drawn[SCRATCH_REF]:
        # the survey's claim, then what these runs show of it (the claim alone stood under a reference drawn at one
        # budget, its four curves within 0.02 of each other there)
        gaps = readouts.scratch_gaps({run_name[r["id"]]: (series.get(f"{run_name[r['id']]} linear"), sup_curve[r["id"]])
                                      for r in picked})
        st.caption("How to read it: where a self-supervised curve sits above *supervised from scratch*, pretraining "
                   "on unlabelled images bought accuracy that labels would otherwise have to pay for. The claim (the "
                   "survey's case for self-supervision; measured in Hénaff et al. 2020, Fig. 1): with few labels the "
                   "gap is widest, and as labels grow supervised training catches up"
                   + (" (measured on digits against a 10-epoch SimCLR readout: 0.088 below it at 1 label per class, "
                      "level with it at 5, and 0.003 to 0.014 below it with more; a shorter run may start below "
                      "it)." if dataset == "digits" else ".") + (" " + gaps if gaps else ""))
    elif drawn[RANDOM_REF]:
        st.caption("How to read it: where a self-supervised curve sits above the dashed *random encoder* line, "
                   "pretraining bought features that a readout of a few labels can use; where it sits on or below it, "
                   "the pretext task added little. Whether it beats labels themselves shows against *supervised from "
                   "scratch*, once it is drawn.")
    else:
        st.caption("How to read it: higher is better at every budget; the gaps to the references (not drawn yet) "
                   "say what pretraining bought.")
    ft_part = [r for r in picked if ft_curve[r["id"]] and not complete(ft_curve[r["id"]])]
    sup_part = [r for r in picked if sup_curve[r["id"]] and not complete(sup_curve[r["id"]])]
    if ft_part or sup_part:
        # runs of one dataset, encoder, augmentations and seed share one supervised reference: counted once
        sup_curves = len({ref_tag[r["id"]]["supervised-scratch"] for r in sup_part})
        what = [f"fine-tuning of {count(len(ft_part), 'run')}"] if ft_part else []
        what += [agree(sup_curves, "the supervised reference", f"{sup_curves} supervised references")] if sup_part else []
        widgets.icon_caption(
            "hourglass_top", f"Partial so far: {' and '.join(what)}; the curves end where the computed budgets end"
            + (" and fill in as the background job goes on." if ft_running else
               "; the button below computes the rest." if controls else "."))
    # where its button was: at the top of the page a student who clicked here did not see it
    widgets.probe_jobs_panel(picked, key="eval_ft_jobs", finetune=True)
    # (not on a class's link: many CPU minutes a run, which one click of each student's would queue)
    if needs_ft and not ft_running and controls:
        # what it costs beside the button, said once: it decides whether to click now
        paced = [services.probe_job_run_seconds(r["run_dir"]) for r in needs_ft]  # the last job's pace on such runs
        ds_now, _ = services.dataset(dataset)
        guess = readouts.finetune_guess(needs_ft, budgets, ds_now.num_classes) if ds_now is not None else None
        n_runs = count(len(paced), "run")
        cost = (f"{about(sum(paced))} for the {n_runs} here at the pace of the last such job on this machine, which "
                "moves with what else it is doing (less where some budgets are computed already)" if None not in paced
                else f"{about(guess)} for the {n_runs} here, guessed from their training speed (no such job "
                     "has run here yet to time one)" if guess is not None
                else f"many minutes per run on a CPU, {n_runs} here")
        # (it said "1,200 steps per budget" above "everything trains for 200 steps", which read as a contradiction)
        st.caption(f"Fine-tuning and the supervised reference each train {STEPS} steps on each of {SEEDS} draws of "
                   f"the labelled images, {2 * STEPS * SEEDS:,} steps per budget and run: {cost}.")
        if st.button("Compute fine-tuning and the supervised reference", key="eval_finetune"):
            widgets.start_probe_jobs(needs_ft, key="eval_ft_jobs", finetune=True)
    if any(k.endswith(" fine-tuned") for k in series):
        st.caption("Fine-tuning trains the whole encoder with a linear head on the labelled images, the survey's "
                   "other way to transfer: the head starts as the linear readout and everything trains for "
                   f"{STEPS} steps at a small learning rate (LP-FT). Where it beats the readout, the features "
                   "themselves had to change.")
    else:
        st.caption("Fine-tuning, once computed, adds a *fine-tuned* curve per run: it trains the whole encoder with a "
                   "linear head on the labelled images, the survey's other way to transfer (the head starts as the "
                   f"linear readout and everything trains for {STEPS} steps at a small learning rate: LP-FT). Where it "
                   "beats the readout, the features themselves had to change.")
elif picked:  # (it said no more than "yet": what brings them, or why none can come)
    st.info("No label-efficiency results for the chosen runs yet: " + (
        "they need labels, and these runs' images have none." if not scored else
        "no probes can be computed for them (above: their dataset was imported again since, or their weights are "
        "damaged)."
        if not labelled else
        "their probes are being computed (progress above)." if any(services.probe_job_running(r["run_dir"])
                                                                    for r in lacking) else
        "*Compute their probes* above computes them." if lacking and controls else
        "the teacher can compute them on this page without the link's hide=controls." if lacking else
        "they come with each run's probes."))

c1, c2 = st.columns(2)
with c1:
    st.header("kNN accuracy as k varies")
    ks = {run_name[r["id"]]: readouts.knn_k_curve(probes[r["id"]]) for r in picked}
    random_ks = {}
    for r in picked:
        name = readouts.random_name(pairs[r["id"]], several_encoders)
        if name not in random_ks:
            random_ks[name] = readouts.knn_k_curve(refs[r["id"]], readouts.RANDOM_KNN)
    ks = {k: (v[0], v[1], None) for k, v in {**ks, **random_ks}.items() if v}
    if ks:
        widgets.chart(charts.curves(ks, "k (neighbours voting)", log_x=True, tickvals=[1, 5, 20, 100],
                                      ticktext=["1", "5", "20", "100"], dashed=list(random_ks),
                                    colour_order=order), key="eval_knn_k")
        st.caption("Small k trusts the closest images; a large k lets more neighbours vote, though each vote is "
                   "weighted by exp(similarity / 0.07), so far ones count little. A curve that "
                   "falls fast with k means classes are close together but not well separated. The dashed line is "
                   "the untrained encoder of the same seed: the gap to it at each k is what pretraining added.")
with c2:
    st.header("Accuracy over pretraining")
    ep = {}
    for r in picked:
        c = readouts.epoch_curve(services.artifacts(r["run_dir"]).epochs(), "epoch_knn")
        if c:
            ep[run_name[r["id"]]] = (c[0], c[1], None)
    if ep:
        widgets.chart(charts.curves(ep, "epoch (0 = before pretraining)", y_title="kNN accuracy (subset)",
                                    min_span=charts.ACCURACY_SPAN, colour_order=order), key="eval_epochs")
        st.caption(readouts.epoch_knn_note(picked, ep, run_name, train_images={dataset: services.train_images(dataset)})
                   + " Epoch 0 is the random initialisation, scored on the same subset as every epoch (the gray "
                   "bar above scores it on every test image, so the two differ): read what pretraining added from "
                   "the table's gain, and from this curve, when during training it came.")
