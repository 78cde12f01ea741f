"""Evaluate: kNN and linear-probe accuracy of finished runs, next to the random baseline
(an untrained encoder of the same architecture on the same data)."""
import streamlit as st

from app import charts, services, widgets
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
            for enc in needed:
                services.store().submit(RunConfig(dataset=dataset, method="random", encoder=enc, epochs=0))
            services.ensure_worker()
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
