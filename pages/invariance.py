"""Invariance: what a run's features ignore. Invariance per augmentation op, rotation
equivariance, and factor probes (which ground-truth factors stay linearly decodable)."""
import streamlit as st

from app import charts, readouts, services, urlstate, widgets
from app.text import agree, listing, md
from ssrl_core.augment import OPS
from ssrl_core.data.shapes import hue_gaps
from ssrl_core.evaluate.invariance import SUBSET
from ssrl_core.evaluate.probes import RANDOM_FACTORS, RANDOM_INVARIANCE, budget_of, chance_level

st.title("Invariance")
INTRO = ("The augmentations a method trains with decide what its features ignore (the survey's point about "
         "augmentations). For each op *T*, the score rescales the cosine similarity of f(x) and f(T(x)), "
         "which compares the features' directions, on {n} test images: **1** means the features point the same way, "
         "**0** means T(x) looks as different to the encoder as an unrelated image. "
         "Gray bars are the untrained network of each run's architecture and seed: what the architecture ignores "
         "before any training.")
runs = services.finished_runs()
if not runs:
    widgets.too_few_runs(0, 1, "what its features ignore appears here")
controls = not urlstate.hidden("controls")
dataset = widgets.dataset_picker(runs, key="inv_dataset", prefer="shapes", hide=not controls)
picked = widgets.run_picker([r for r in runs if r["dataset"] == dataset], key="inv_runs", label="Runs", multi=True,
                            hide=not controls,
                            default_n=2)
if not controls:
    widgets.linked_runs(picked)
if not picked:
    st.info("Pick one run or several.")
    widgets.stop()
ds, error = services.dataset(dataset)
if error:  # a set deleted since: the archive its images came from and the Data page (``services.run_dataset``)
    widgets.dataset_error(services.run_dataset(picked[0])[1] or error, name=dataset)
    widgets.stop()
st.markdown(INTRO.format(n=f"{min(SUBSET, len(ds.test_idx)):,}"))

probes = {r["id"]: services.artifacts(r["run_dir"]).probes for r in picked}
refs = {r["id"]: services.artifacts(r["run_dir"]).references() for r in picked}
has_factors = bool(ds.discrete_factors())
# what a run lacks (its own scores, its untrained network's, ops added since either was measured), said as such
unmeasured, why = readouts.invariance_unmeasured(picked, probes, refs, has_factors)
widgets.offer_probe_jobs(unmeasured, unmeasured, key="inv_compute", warning=why,
                         button=f"Measure them now ({readouts.probe_cost(unmeasured)})")
for r in picked:  # measured then, on images the set no longer holds (the unmeasured ones were said just above)
    if r not in unmeasured and (stale := services.dataset_mismatch(r)):
        st.warning(f"{services.run_label(r)}: its scores below were measured before: {stale}", icon=":material/warning:")

# "method (id)" as on the other pages, and the augmentations the run trained with, named as such
# (a preset may share its name with a method, "simclr", or a dataset, "digits": "aug: simclr preset")
names = readouts.run_names(picked, augment=True)
order = [names[r["id"]] for r in picked]  # a run's colour in both charts, also where a run before it is not measured
# each run's untrained network (same architecture and seed), from the shared reference cache, once per pairing
several_encoders = len({readouts.encoder_of(r) for r in picked}) > 1
# a random run picked is the untrained network of its architecture and seed: drawn once, in gray under its own name, as
# the reference of the runs of its pairing (it was drawn twice: as a run, "aug: digits preset", and as their reference)
untrained_ids = {r["id"] for r in picked if not readouts.trains(r)}
stood_for = {readouts.pairing(r) for r in picked if r["id"] in untrained_ids}
untrained, untrained_factors = {}, {}
for r in picked:
    p = probes[r["id"]]
    if r["id"] in untrained_ids:
        name, invariance, factors = names[r["id"]], p if "invariance" in p else None, p if p.get("factors") else None
    elif readouts.pairing(r) in stood_for:
        continue
    else:
        name = readouts.random_name(readouts.pairing(r), several_encoders) + " · untrained"
        invariance = refs[r["id"]].get(RANDOM_INVARIANCE)
        factors = {"factors": ref} if (ref := refs[r["id"]].get(RANDOM_FACTORS)) else None
    if invariance:
        untrained.setdefault(name, invariance)
    if factors:
        untrained_factors.setdefault(name, factors)
ops = list(OPS)
st.header("Invariance per augmentation op")
# the runs not measured yet (named in the warning above) get no empty legend entry, whose bars' "n/a" the caption
# below explains as an op that changes nothing
measured = {i: p for i, p in probes.items() if "invariance" in p and i not in untrained_ids}
by_name = {**{names[i]: p for i, p in measured.items()}, **untrained}
series = readouts.invariance_series(by_name, ops)
if series:  # none measured, not even an untrained network's (runs of --evaluation basic): the warning above says why
    widgets.chart(charts.bars(ops, series, charts.INVARIANCE_AXIS, y_range=(-1.0, 1.15),
                              errors=readouts.invariance_errors(by_name, ops),
                              references=list(series)[len(measured):], colour_order=order), key="inv_ops")
# (a random run's bars are gray ones: their caption below says it, once)
notes = {i: note for i, p in probes.items() if i not in untrained_ids and (note := readouts.invariance_note(p))}
for i, note in notes.items():
    st.warning(f"**{md(names[i])}**: its scores are unreliable: {note}.", icon=":material/warning:")
# an untrained network's bars carry the mark in their name with no warning (nothing to fix): what it means, once
if gray_unreliable := readouts.unreliable_references(untrained, explained=bool(notes)):
    widgets.icon_caption("straighten", gray_unreliable)
# the ops no series has a value for, named: "colour ops on grayscale data" was said where colour jitter had bars
# (an op none has measured yet, added since, is not one that changes nothing: the warning above offers to measure it)
skipped = [op for j, op in enumerate(ops) if all(vals[j] is None for vals in series.values())
           and any("skipped" in (p.get("invariance") or {}).get(op, {}) for p in by_name.values())]
not_applicable = (f" n/a: {listing(skipped)} {agree(len(skipped), 'changes', 'change')} nothing on these images"
                  + (" (they have no colour)" if ds.channels == 1 else "") + "." if skipped else "")
if series:  # the chart it reads is drawn (with none measured, it named every op as one that "changes nothing")
    # (with no gray bar drawn yet, the warning above offers to measure them: a browser check read of "its gray bar"
    # where there was none)
    st.caption("How to read it: a bar for an op the run trained with stands for the invariance it bought only as far as "
               "it rises above its gray bar, the untrained network's"
               + ("" if untrained else " (not measured yet: the button above measures it)")
               # (the note above says a gray bar of an unreliable scale is no such line: this said it was, below it)
               + (", except where that bar is marked *unreliable scale* (above): there, compare with a run trained "
                  "without the op instead" if gray_unreliable else "") +
               ": a random network already ignores small pixel "
               "changes (noise, a little blur), so a tall bar there is the architecture's, not the training's. A bar "
               "below its gray one: training made the features more sensitive to that op than a random network's, as it "
               "often does for an op the run did not train with, whose changes the features learnt to tell apart. Compare "
               "a run trained without that op, too. Below 0, the op moves the features further than swapping in an unrelated "
               "image would (bars are cut at -1; the label inside a cut bar gives its value; with many runs, or on a narrow "
               f"screen such as a phone's, the other bars give theirs when hovered or tapped).{not_applicable} The whiskers are ± one standard error over the "
               f"test images measured (up to {SUBSET}): long ones mean too few images to tell the bars apart.")

rot = {name: p.get("rotation_equivariance") for name, p in by_name.items()}
# a line per run: as metrics side by side, "rotation predictable · random encoder (seed 0) · …" was cut
st.subheader("Can the rotation of an input be read off its features?")
if not ds.drawn_at_every_angle:  # there, no scores: as on Compare ("–"), where a review read 0.249 as a result
    st.markdown("\n".join(f"- **{'–' if v is None else f'{v:.3f}'}** {md(n)}" for n, v in rot.items()))
st.caption("Rotation predictable: the accuracy of a linear probe that predicts whether an image was rotated by 0, 90, "
           "180 or 270 degrees from its features (chance 0.25). High: the features keep the orientation (the "
           "code calls it rotation_equivariance, though it measures only that the turn can be read off, not the "
           "formal equivariance f(T x) = M f(x)); near 0.25: they ignore it (invariant)."
           + (f" **Not shown on {md(dataset)}**: its images are drawn at every angle, so a turned image is just "
              "another image of the set and no features can tell the turn; every run stays near 0.25 whatever it "
              "keeps of orientation. Read this on digits or photos; the rotation_bin factor probe below asks the "
              f"question {md(dataset)} can answer." if ds.drawn_at_every_angle else ""))

if has_factors:
    gaps = hue_gaps()  # (the factors are shapes')
    st.header("What the features keep: one probe per ground-truth factor")
    factors = [f for f in ds.discrete_factors() if any(f in (p.get("factors") or {}) for p in probes.values())]
    if factors:
        # in the address: read with every label, a shared link opened on 2 per value (another chart, another chance)
        urlstate.start("inv_budget", "labels", urlstate.choice(["2", "all"]), "2", of=dataset)
        budget = st.radio("Labels per factor value", ["2", "all"], horizontal=True, key="inv_budget",
                          format_func=lambda b: "2 per value" if b == "2" else "all labels")
        urlstate.keep("labels", budget, "2", of=dataset)
        chance = [chance_level(ds, f, budget_of(budget)) for f in factors]  # all labels: the commonest value's share
        # each run beside its untrained network (gray, as in the chart above): on shapes that one already reads colour
        # at about 0.83 with 2 labels, and a colour-jitter run at 0.86 had been read as having lost colour
        by_factor = {**{names[i]: p for i, p in probes.items() if p.get("factors") and i not in untrained_ids},
                     **untrained_factors}
        widgets.chart(charts.bars(factors, {n: readouts.factor_values(p, factors, budget) for n, p in by_factor.items()},
                                  "linear-probe accuracy", chance=chance, y_range=(0, 1.1),
                                  errors=[readouts.factor_errors(p, factors, budget) for p in by_factor.values()],
                                  references=list(untrained_factors), colour_order=order), key="inv_factors")
        st.caption("How to read it: a factor near its chance line (black) is one the features discarded, and a "
                   "run keeps or loses a factor by training only as far as its bar stands above or below its gray "
                   "one, the untrained network's (whose random features already keep much: colour, size). The "
                   "whiskers are ± one standard deviation over the 3 draws of labelled images. The line "
                   "is what a probe scores that learnt nothing from the features: with 2 labels per value, 1 in the "
                   "number of values; with all labels, the commonest value's share, which it learns"
                   + (" (a large shape fits only in the middle of the image, so position_bin's middle cell holds "
                      "most images). " if "position_bin" in factors else ". ")
                   + ("rotation_bin cannot reach 1: a circle looks the same at every angle and a square or a cross "
                      "every 90 degrees, so about 0.41 is the best any features can do. " if "rotation_bin" in factors
                      else "") + "With 2 "
                   "labels per value the probe shows what is easy to read off; with all labels even a "
                   "colour-invariant embedding often lets a linear probe find colour again (hundreds of features hold "
                   "traces of everything), which is how invariance differs from linear decodability: invariance "
                   "asks whether the features move when colour changes, decodability whether any direction still "
                   "separates colours. An op buys invariance only over the range it samples: the default "
                   f"`color_jitter` shifts hue by at most {OPS['color_jitter']().hue_degrees:.0f} degrees, less than "
                   f"the {gaps[0]:.0f} to {gaps[1]:.0f} degrees between neighbouring colours of shapes on the colour "
                   "wheel it turns, so "
                   "colour stays readable with 2 labels; "
                   "`color_jitter(hue=0.5)` turns hue all the way round and colour becomes much harder to read with 2 "
                   "labels (0.30 to 0.43 in this project's runs on shapes, chance 0.17), yet stays above chance.")
else:
    st.caption(f"{dataset} has no ground-truth factors; use shapes for factor probes.")

st.header("What each op does")
row, pics = services.op_strip(dataset)
st.image(pics, caption=["original", *ops], alt=[readouts.image_alt(ds, row)] + [f"the same image after {op}" for op in ops])
st.caption("Each op at its default strength, applied with probability 1, to one test image: what the scores above "
           "measure the features against.")
