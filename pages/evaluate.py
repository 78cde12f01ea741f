"""Evaluate: kNN and linear-probe accuracy of finished runs next to the random baseline;
label-efficiency curves (linear readout and fine-tuning against the random encoder and
supervised training from scratch), kNN accuracy as k varies, accuracy over pretraining."""
import streamlit as st

from app import charts, readouts, services, widgets
from ssrl_core.config import RunConfig

st.title("Evaluate")
st.markdown(
    "Two readouts of the **frozen** features, both trained on the train split and scored on the test split: "
    "a **kNN** vote (cosine similarity, k=20) and a **linear probe** (logistic regression). "
    "A pretext task has earned only what it adds above the **random** encoder: untrained convolutions "
    "already give surprisingly good features."
)
runs = services.finished_runs()
if not runs:
    st.info("No finished runs yet. Launch one on the Pretrain page.")
    st.stop()

datasets = sorted({r["dataset"] for r in runs})
dataset = st.selectbox("Dataset", datasets, key="eval_dataset")
on_data = [r for r in runs if r["dataset"] == dataset]
trained = [r for r in on_data if r["method"] != "random"]
picked = widgets.run_picker(trained, key="eval_runs", label="Runs", multi=True, default_n=4)


def encoder_of(r: dict) -> str:
    return (r["summary"] or {}).get("encoder") or r["config"].get("encoder")


baselines = {}
for r in on_data:
    if r["method"] == "random":
        baselines.setdefault(encoder_of(r), r)  # newest first
needed = sorted({encoder_of(r) for r in picked} - set(baselines))
if needed:
    active = [r for r in services.store().list(limit=200)
              if r["status"] in services.ACTIVE and r["method"] == "random" and r["dataset"] == dataset]
    if active:
        st.info("The random baseline is being computed; it appears here when done.")
    else:
        st.warning(f"No random baseline yet for {', '.join(needed)} on {dataset}.")
        if st.button("Compute the random baseline", key="eval_baseline"):
            refused = None
            for enc in needed:
                _, refused = services.submit(RunConfig(dataset=dataset, method="random", encoder=enc, epochs=0))
            if refused:
                st.error(refused)
            else:
                st.rerun()

shown = picked + [baselines[e] for e in sorted({encoder_of(r) for r in picked} | set(baselines)) if e in baselines]
if not shown:
    st.info("Pick runs to compare.")
    st.stop()

labels, knn, lin, rows = [], [], [], []
for r in shown:
    s = r["summary"] or {}
    base = baselines.get(encoder_of(r))
    b = (base or {}).get("summary") or {}
    name = f"{r['method']} ({r['id'][-4:]})"
    labels.append(name)
    knn.append(s.get("knn_accuracy"))
    lin.append(s.get("linear_accuracy"))
    gain = (s.get("knn_accuracy") - b["knn_accuracy"]) if (r["method"] != "random" and b.get("knn_accuracy") is not None
                                                          and s.get("knn_accuracy") is not None) else None
    rows.append({"run": services.run_label(r), "kNN acc": s.get("knn_accuracy"), "linear acc": s.get("linear_accuracy"),
                 "kNN gain over random": gain, "embedding std": s.get("embedding_std"),
                 "effective rank": s.get("effective_rank"), "train s": s.get("train_seconds"),
                 "augment": s.get("augment")})

st.plotly_chart(charts.accuracy_bars(labels, {"kNN (k=20)": knn, "linear probe": lin}), key="eval_bars")
st.dataframe(rows, hide_index=True, key="eval_table",
             column_config={**{c: st.column_config.NumberColumn(format="%.3f")
                               for c in ("kNN acc", "linear acc", "kNN gain over random")},
                            "embedding std": st.column_config.NumberColumn(format="%.4f", help=widgets.COLLAPSE_HELP),
                            "effective rank": st.column_config.NumberColumn(format="%.1f", help=widgets.COLLAPSE_HELP)})
st.caption("Collapse: a representation that maps every image to one point (embedding std → 0) or onto one "
           "direction (effective rank → 1) has learned nothing, whatever its pretext loss says. Non-contrastive "
           "methods avoid it only through their predictor and stop-gradient or EMA target, or their variance and "
           "decorrelation terms.")
st.caption("How to read it: on digits a random cnn-small already reaches about 0.97 with a linear probe, so that "
           "column barely separates methods; the kNN column, which needs similar images to be close, does.")

# -- label efficiency, fine-tuning, kNN vs k, accuracy over pretraining ---------------------------
st.header("Label efficiency")
st.markdown(
    "SSRL exists to make labels go further. Each curve is a **linear readout** fit on *n* labelled train images "
    "per class (mean and spread over 3 random draws of the labelled images), scored on the whole test split. "
    "The dashed lines are the references on the same labelled images: the **random** encoder with the same "
    "readout, and the same network trained **supervised from scratch** (with the run's augmentations)."
)
readable = [r for r in picked if r["dataset"] == dataset]
probes = {r["id"]: services.artifacts(r["run_dir"]).probes for r in shown}  # each run's probes.json, read once
widgets.offer_probe_jobs(readable, [r for r in readable if not probes[r["id"]].get("knn_k")], key="eval_probe_missing",
                         warning="finished before probes were computed after training",
                         button="Compute their probes (seconds per run)")

series, ref_series = {}, {}
for r in readable:
    a = services.artifacts(r["run_dir"])
    name = f"{r['method']} ({r['id'][-4:]})"
    lin = readouts.budget_curve(probes[r["id"]], "linear")
    if lin:
        series[f"{name} linear"] = lin
    ft = readouts.budget_curve(probes[r["id"]], "finetune")
    if ft:
        series[f"{name} fine-tuned"] = ft
    readouts.reference_curves(a.references(), into=ref_series)
if series:
    st.plotly_chart(charts.label_efficiency(series, ref_series), key="eval_label_eff")
    st.caption("How to read it: where an SSL curve sits above *supervised from scratch*, pretraining on unlabelled "
               "images bought accuracy that labels would otherwise have to pay for. With few labels the gap is "
               "widest; as labels grow, supervised training catches up (and on small, easy sets like digits "
               "overtakes). The rightmost point uses every label.")
    needs_ft = [r for r in readable if not readouts.budget_curve(probes[r["id"]], "finetune")]
    if needs_ft and not any(services.probe_job_running(r["run_dir"]) for r in needs_ft):
        if st.button("Compute fine-tuning and the supervised reference (a few minutes per run on a CPU)",
                     key="eval_finetune"):
            for r in needs_ft:
                services.start_probe_job(r["run_dir"], finetune=True)
            st.rerun()
    st.caption("Fine-tuning trains the whole encoder with a linear head on the labelled images, the survey's other "
               "way to transfer: the head starts as the linear readout and everything trains for 200 steps at a "
               "small learning rate (LP-FT). Where it beats the readout, the features themselves had to change.")
elif readable:
    st.info("No label-efficiency results for the chosen runs yet.")

c1, c2 = st.columns(2)
with c1:
    st.subheader("kNN accuracy as k varies")
    ks = {f"{r['method']} ({r['id'][-4:]})": readouts.knn_k_curve(probes[r["id"]])
          for r in shown}
    ks = {k: (v[0], v[1], None) for k, v in ks.items() if v}
    if ks:
        st.plotly_chart(charts.curves(ks, "k (neighbours voting)", log_x=True, tickvals=[1, 5, 20, 100],
                                      ticktext=["1", "5", "20", "100"]), key="eval_knn_k")
        st.caption("Small k trusts the closest images; large k asks whole neighbourhoods to agree. A curve that "
                   "falls fast with k means classes are close together but not well separated.")
with c2:
    st.subheader("Accuracy over pretraining")
    ep = {}
    for r in readable:
        c = readouts.epoch_curve(services.artifacts(r["run_dir"]).epochs(), "epoch_knn")
        if c:
            ep[f"{r['method']} ({r['id'][-4:]})"] = (c[0], c[1], None)
    if ep:
        st.plotly_chart(charts.curves(ep, "epoch (0 = before pretraining)", y_title="kNN accuracy (subset)"),
                        key="eval_epochs")
        st.caption("kNN accuracy (k=20) of 512 test images against 1,024 train images after every epoch. "
                   "Epoch 0 is the random initialisation: the curve shows what pretraining added, epoch by epoch.")
