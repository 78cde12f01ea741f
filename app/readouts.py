"""From cached probe results to the series the charts draw. Plain functions; no Streamlit.

Cache keys (see ``ssrl_core.evaluate.suite``): ``linear/<target>/<budget>/s<seeds>`` and
``finetune/<target>/<budget>/s<seeds>/t<steps>`` in a run's ``probes.json``;
``random-linear/...``, ``random-knn/label`` and ``supervised-scratch/...`` in the shared
reference cache.
"""
from __future__ import annotations

import json

import numpy as np
import torch

from ssrl_core.augment import OPS, PRESETS, canonical_augment, parse_augment
from ssrl_core.config import augment_for, default_batch
from ssrl_core.data.custom import STRETCH_PERCENTILE
from ssrl_core.data.imageset import KNN_K
from ssrl_core.evaluate.probes import noise_band
from ssrl_core.data.shapes import hue_gaps
from ssrl_core.evaluate.epochs import MEMORY, QUERIES
from ssrl_core.evaluate.invariance import missing_ops, unreliable_note
from ssrl_core.evaluate.finetune import STEPS
from ssrl_core.evaluate.probes import (RANDOM_FACTORS, RANDOM_INVARIANCE, RANDOM_KNN, RANDOM_KNN_EVERY_IMAGE, SEEDS,
                                      budget_key, sample_std)
from ssrl_core.pretext import METHODS, encoder_input
from ssrl_core.pretext.base import as_flag
from ssrl_core.runs.store import LESSON_NICKNAME, lessons_own
from ssrl_core.text import agree, code, count, listing, md, ordinal

from .text import quiet_icon

Series = tuple[list[float], list[float], list[float]]


def budget_curve(cache: dict, kind: str, target: str = "label", seeds: int = SEEDS,
                 steps: int = STEPS) -> Series | None:
    """(labels per class, mean accuracy, std) sorted by budget, for cache entries of ``kind``
    (linear, finetune, random-linear, supervised-scratch) over ``seeds`` draws (the pages'
    ``SEEDS``; a lesson's own) and a fine-tune's ``steps``: a ``probe --seeds 5`` beside them is
    another measurement, not a second point at its budget. "all" is placed at its mean number
    of labels per class. None when there is no entry."""
    points = []
    for key, v in cache.items():
        parts = key.split("/")
        if len(parts) < 4 or parts[0] != kind or parts[1] != target or not isinstance(v, dict):
            continue
        if parts[3] != f"s{seeds}" or parts[4:] not in ([], [f"t{steps}"]):
            continue
        per_class = v.get("labels_per_class", 0)
        if per_class and v.get("n_labels", 0) < per_class * v.get("classes", 1):
            continue  # cached before budgets a class cannot give were left out: not that budget
        x = per_class if per_class else v.get("n_labels", 0) / max(1, v.get("classes", 1))
        points.append((float(x), float(v["mean"]), sample_std(v)))
    if not points:
        return None
    points.sort()
    return [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]


# below this many images a map-evolution frame, though laid out from the previous one, is no better aligned with it
# than one laid out afresh (a review, 2026-12-06: left over after the best rotation, scale and shift 0.73 against 0.71
# on 60 imported images, 0.98 against 1.12 on 90; on digits' and shapes' subsets chained frames moved a third as far or less)
SMALL_FRAMES = 200

REFERENCES = (("random-linear", "random encoder, linear"), ("supervised-scratch", "supervised from scratch"))


def reference_curves(refs: dict, into: dict[str, Series] | None = None,
                     tag: str | dict[str, str] = "", scratch: tuple[int, int] = (SEEDS, STEPS)) -> dict[str, Series]:
    """The random-encoder and supervised-from-scratch curves of a reference cache, added to
    ``into`` under their names followed by `` (tag)`` where it does not have them yet (runs of
    one dataset, seed and encoder share a random reference: give runs with different ones
    different tags, e.g. "seed 7", so each run's reference is drawn). ``tag``: one for both, or
    one per kind (``reference_tags``). ``scratch``: the supervised reference's draws and steps
    (a lesson's own; the random encoder's readout is always the pages' ``SEEDS`` draws)."""
    out = {} if into is None else into
    for kind, _ in REFERENCES:
        seeds, steps = scratch if kind == "supervised-scratch" else (SEEDS, STEPS)
        c = budget_curve(refs, kind, seeds=seeds, steps=steps)
        name = reference_name(kind, tag)
        if c and name not in out:
            out[name] = c
    return out


def reference_name(kind: str, tag: str | dict[str, str] = "") -> str:
    """A reference curve's name as ``reference_curves`` gives it: "random encoder, linear" and,
    where runs with other references are drawn beside it, its tag: "random encoder, linear
    (seed 7)"."""
    t = tag.get(kind, "") if isinstance(tag, dict) else tag
    label = dict(REFERENCES)[kind]
    return f"{label} ({t})" if t else label


def fewest_labels(name: str, probes: dict, refs: dict) -> str:
    """What a run's features do with the fewest labels, in a sentence a newcomer reads first:
    "simclr (e635): with 1 label per class, a linear readout of its features labels 64% (0.641) of
    the test images right, the untrained network's 45% (0.451)". Where SSRL pays; "" until both are
    computed. (Evaluate's only first-screen reading was that on digits the linear probe barely
    separates methods, and a newcomer concluded self-supervision did almost nothing.)"""
    mine, base = budget_curve(probes, "linear"), budget_curve(refs, "random-linear")
    if not mine or not base:
        return ""
    x = mine[0][0]
    theirs = value_at(base, x)
    if theirs is None or x != int(x):
        return ""
    # each share with the number the charts' hovers, Compare and the Gallery give (56% alone sat above a 0.559)
    said = (f"{md(name)}: with {count(int(x), 'label')} per class, a linear readout of its features labels "
            f"**{mine[1][0]:.0%}** ({mine[1][0]:.3f}) of the test images right, the untrained network's {theirs:.0%} "
            f"({theirs:.3f})")
    # 0.462 beside 0.451 with draws ±0.06 apart read as a gain (the kNN's gain beside it was marked noise)
    spread = max(mine[2][0], base[2][base[0].index(x)])
    if abs(float(gain(mine[1][0], theirs))) < spread:
        said += f" (inside the ±{spread:.3f} spread between draws of the labelled images: no gain or loss to read)"
    return said


def budget_ticks(series: list[Series]) -> tuple[list[float], list[str]]:
    """Tick positions and names for a label-budget axis: 1, 5, 10, 50 and "all (N)"."""
    ticks = sorted({x for s in series for x in s[0]})
    return ticks, [f"{t:g}" if t in (1, 5, 10, 50) else f"all ({t:.0f})" for t in ticks]


def value_at(series: Series | None, x: float) -> float | None:
    if series is None:
        return None
    for xi, yi in zip(series[0], series[1]):
        if xi == x:
            return yi
    return None


def finetune_guess(runs: list[dict], budgets: tuple[int, ...], classes: int) -> float | None:
    """Seconds that fine-tuning and the supervised reference would take ``runs``, guessed before
    any such job ran here from the machine's training speed: each budget trains ``2 x STEPS x
    SEEDS`` steps of up to ``finetune.BATCH`` labelled images (``budgets``' labels per class x
    ``classes``; 0 = all labels), each image one view, at the fastest speed in views a second
    among the runs' (a summary's images per second times its method's views). The fastest: a
    short run's speed is mostly its start-up (two identical 1-epoch runs: 150 and 942 images/s,
    and a guess from the slower one said 24 min for a job of 8). Measured on digits (a 10-epoch
    SimCLR at 620 images/s): 3 draws of 200 fine-tuning steps at 5 labels per class took 20 to 25
    s (docs/performance.md), this guesses 24 s. The scoring is left out. None where no run has a
    speed (trained before it was recorded, or not trained). The page had said "many minutes per
    run" until a first job had run; one took some 20 minutes on shapes."""
    from ssrl_core.evaluate.finetune import BATCH, STEPS

    speeds = [(r.get("summary") or {}).get("images_per_s") or 0.0 for r in runs]
    views = [getattr(METHODS.get(r.get("method")), "n_views", 1) for r in runs]
    fastest = max([s * v for s, v in zip(speeds, views)], default=0.0)
    if not fastest:
        return None
    images = 2 * STEPS * SEEDS * sum(min(BATCH, b * classes) if b else BATCH for b in budgets)
    return len(runs) * images / fastest


def scratch_gaps(curves: dict[str, tuple[Series | None, Series | None]]) -> str:
    """What the label-efficiency chart shows of each run against supervised training from
    scratch, in a sentence: ``curves`` is, by run name, (its linear readout's curve, its
    supervised reference's). Each run's gap (readout minus supervised) at the fewest and the most
    labels per class where both were measured: "simclr (4285): +0.121 at 1 label per class,
    +0.004 at 50", and where supervised training catches up for good (past the spread between
    draws), or that it was never behind. A reference measured at one budget so far is said to be
    partial. The page had said "as labels grow, supervised training catches up" under a reference
    drawn at one budget, where all four curves sat within 0.02 of each other. "" where no run has
    both."""
    def budget(x: float, last: bool) -> str:
        return "all labels" if last and x not in (1, 5, 10, 50) else f"{x:g} label{'' if x == 1 else 's'} per class"

    def ahead(gap: str, spread: float) -> int:
        """+1 where the readout is ``gap`` ahead by more than the draws' ``spread``, -1 behind, 0 level within it."""
        d = float(gap)
        return 0 if abs(d) <= spread else 1 if d > 0 else -1

    parts, partial, never = [], False, []
    for name, (lin, sup) in curves.items():
        if not lin or not sup:
            continue
        at = {x: (y, e) for x, y, e in zip(*sup)}
        gaps = [(x, gain(y, at[x][0]), max(e or 0.0, at[x][1] or 0.0)) for x, y, e in zip(*lin) if x in at]
        both = [(x, gap, ahead(gap, spread)) for x, gap, spread in gaps]
        if not both:
            continue
        partial |= len(sup[0]) < 2
        ends = [both[0]] + ([both[-1]] if len(both) > 1 else [])
        said = f"{md(name)}: " + ", ".join(f"{gap} at {budget(x, i == len(ends) - 1 and len(ends) > 1)}"
                                          for i, (x, gap, _) in enumerate(ends))
        # where the curves meet, in words: a 1-epoch run's readout under supervised training at 1 label already was
        # read against "catches up at 5 labels per class" (the docs' 10-epoch run) by a student who copied the 5.
        # Only a pattern the draws' spread cannot make: ahead at the fewest labels, then level or behind from some
        # budget on for good; or never ahead at any of two or more budgets.
        signs = [a for _, _, a in both]
        caught = next((i for i in range(1, len(both)) if all(a <= 0 for a in signs[i:])), None)
        if len(both) > 1 and max(signs) <= 0:
            never.append(md(name))
        elif signs[0] > 0 and caught is not None and caught < len(both) - 1:
            said += (f" (supervised from scratch catches up at {budget(both[caught][0], False)}"
                     + (", within the draws' spread from there" if not any(signs[caught:]) else "") + ")")
        parts.append(said)
    if not parts:
        return ""
    return ("Here, the readout minus supervised from scratch: " + "; ".join(parts) + "."
            + (f" For {listing(never)}, supervised training from scratch is level or ahead at every budget measured: "
               f"{agree(len(never), 'its', 'their')} pretraining did not make the labels go further, and there is "
               "nothing to catch up." if never else "")
            + (" The supervised reference is measured at one budget so far: where it catches up shows as the "
               "others are computed." if partial else ""))


def epoch_curve(records: list[dict], key: str) -> tuple[list[int], list[float]] | None:
    pts = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
    return ([p[0] for p in pts], [p[1] for p in pts]) if pts else None


def knn_k_curve(cache: dict, key: str = "knn_k") -> tuple[list[int], list[float]] | None:
    """(k, kNN accuracy) sorted by k: a run's own (``knn_k`` in its probes) or, with
    ``key=RANDOM_KNN``, its random encoder's (in its reference cache)."""
    ks = cache.get(key)
    if not ks:
        return None
    pts = sorted((int(k), float(v)) for k, v in ks.items())
    return [p[0] for p in pts], [p[1] for p in pts]


# what a run's summary says it trained with, where its stored config may say less: encoder
# "auto" (cnn-small on a CPU), the augmentation preset's ops, an imported set's sized options
RESOLVED_KEYS = ("encoder", "augment", "batch_size", "options")


def trained_config(run: dict) -> dict:
    """A run's config with its summary's resolved values over it, once it has one: a run
    launched with encoder "auto" beside one launched with "cnn-small" trained the same network
    on a CPU, and a comparison that read the stored configs warned that their encoders differ."""
    summary = run.get("summary") or {}
    return {**run["config"], **{k: summary[k] for k in RESOLVED_KEYS if summary.get(k) is not None}}


def short_name(run: dict) -> str:
    """How charts, tables and notes name a run beside others: "simclr (3f2a)", its method and
    the last four characters of its id."""
    return f"{run['method']} ({run['id'][-4:]})"


TELLS = ("augment", "options", "epochs", "encoder", "seed", "batch_size", "lr")  # what tells runs apart, in this order


def run_names(runs: list[dict], augment: bool = False, keys: tuple[str, ...] = TELLS) -> dict[str, str]:
    """Each run's name beside ``runs`` (a chart's legend, a table's rows), by id: its
    ``short_name`` and its ``run_tags`` after " · ", "simclr (53a8) · aug: crop,flip ·
    temperature=0.2". Two SimSiam runs, one without stop-gradient, read "simsiam (9c9a)" and
    "simsiam (31d0)" in every legend, and which had collapsed was in no chart. Runs alike but
    for who made them say whose ("simclr (9c9a) · by ada" beside "simclr (31d0) · by bo")."""
    tags = run_tags(runs, augment, keys)
    for twins in _alike(runs, tags):  # alike but for who made them: whose, which a class looks for in a legend
        if len({(r.get("nickname") or "").casefold() for r in twins}) > 1:
            for r in twins:
                tags[r["id"]].append(maker(r))
    return {r["id"]: " · ".join([short_name(r), *tags[r["id"]]]) for r in runs}


ANONYMOUS = "someone"  # who a run submitted without a nickname (from the command line) is by, on every page


def maker(run: dict) -> str:
    """Who made a run, for a name: "by ada", "by someone" (the command line's), or the lesson
    it belongs to ("lesson four_families")."""
    who = run.get("nickname") or ""
    return f"lesson {who[len(LESSON_NICKNAME):]}" if lessons_own(who) else f"by {who or ANONYMOUS}"


def _alike(runs: list[dict], tags: dict[str, list[str]]) -> list[list[dict]]:
    """The runs of ``runs`` that share a method, a dataset and their ``run_tags``, in groups
    of two or more: their names differ only in their ids."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["method"], r["dataset"], tuple(tags[r["id"]])), []).append(r)
    return [g for g in groups.values() if len(g) > 1]


def run_tags(runs: list[dict], augment: bool = False, keys: tuple[str, ...] = TELLS) -> dict[str, list[str]]:
    """What tells each run of ``runs`` apart from the others of its method on its dataset, by
    id: its augmentations ("aug: crop,flip"), the options that differ (each filled with its
    default where a run left it: "stop_gradient=false" beside "stop_gradient=true"), then
    epochs, encoder, seed, batch size and learning rate, where they differ; [] for a run alone
    of its kind. With ``augment`` a run's augmentations are always said (Invariance: what they
    buy). ``keys``: the settings to tell runs apart by (a picker's label, which gives epochs and
    encoder already, leaves them out)."""
    kinds: dict[tuple[str, str], list[dict]] = {}  # runs on other datasets are told apart by it: each has its row
    for r in runs:
        kinds.setdefault((r["method"], r["dataset"]), []).append(r)
    tags: dict[str, list[str]] = {r["id"]: [] for r in runs}
    for (method, _), group in kinds.items():
        configs = {r["id"]: trained_config(r) for r in group}
        defaults = getattr(METHODS.get(method), "defaults", {})
        given = {i: c.get("options") or {} for i, c in configs.items()}
        named = list(dict.fromkeys(k for o in given.values() for k in o))  # the options any of them was given
        options = {i: {k: option_value(o.get(k, defaults.get(k))) for k in named} for i, o in given.items()}
        # an untrained run's augmentations bought nothing: "random (91ff) · aug: digits preset" on Invariance read as
        # a run that trained with them
        said = {r["id"]: {"augment": f"aug: {augment_name(r)}" if trains(r) else "untrained", "epochs": count(c.get("epochs") or 0, "epoch"),
                          "encoder": str(c.get("encoder")), "seed": f"seed {c.get('seed', 0)}",
                          "batch_size": f"batch {_setting(c, 'batch_size')}", "lr": f"lr {_setting(c, 'lr')}"}
                for r in group for c in [configs[r["id"]]]}
        for key in keys:
            if key == "options":
                differ = [k for k in named if len({o[k] for o in options.values()}) > 1]
                for i, o in options.items():
                    tags[i] += [f"{k}={o[k]}" for k in differ]
            elif (augment and key == "augment") or len({t[key] for t in said.values()}) > 1:
                for i, t in said.items():
                    tags[i].append(t[key])
    return tags


def trains(run: dict) -> bool:
    """Whether a run's method trains its encoder (``random`` does not: it is the untrained
    network of its architecture and seed, the one each run is read against)."""
    return getattr(METHODS.get(str(run.get("method"))), "trainable", True)


def option_value(value) -> str:
    """A method option's value as ``--option key=value`` writes it: false, 0.1, 64."""
    return str(value).lower() if isinstance(value, bool) else value if isinstance(value, str) else json.dumps(value)


def encoder_of(run: dict) -> str:
    """The encoder a run trained (its summary's, resolved), else its config's."""
    return trained_config(run).get("encoder")


def augment_of(run: dict) -> str:
    """The augmentations a run trained with (its summary's, resolved), else its config's, where
    none given means its dataset's preset (a queued run read "aug: None" beside its finished
    twin's "aug: digits preset", as if their settings differed). As a run records it now
    (``canonical_augment``): one recorded before as typed, 'flip,', reads as 'flip' does."""
    c = trained_config(run)
    return canonical_augment(augment_for(c.get("dataset"), c.get("augment")))


def augment_name(run: dict) -> str:
    """``augment_of`` as a legend names it: a preset said to be one ("simclr preset": a legend
    "deepcluster (3fca) · aug: simclr" read as a run trained with SimCLR), ops as written."""
    spec = augment_of(run)
    return f"{spec} preset" if spec in PRESETS and spec != "none" else spec


def augment_line(run: dict) -> str:
    """What a run trained with, in a line of Markdown for the page that shows it alone
    (Explore): "Trained with the augmentations `crop(min_scale=0.3),color_jitter(hue=0.5)`",
    "... the `simclr` preset (crop, flip, ...)"; an untrained run's none (a review found a run's
    augmentations in its config and card only)."""
    if not trains(run):
        return "Untrained: no augmentations, no training (the reference every run is read against)."
    spec = augment_of(run)
    if spec == "none" or not spec:
        return "Trained with no augmentations (two identical views)."
    if spec in PRESETS:
        return f"Trained with the {code(spec)} preset: {code(PRESETS[spec])}."
    return f"Trained with the augmentations {code(spec)}."


def pairing(run: dict) -> tuple[str, int, str | None]:
    """(encoder, seed, what it sees): what the untrained network a run is paired with is made
    of; the last is its method's ``encoder_input`` (colorization's gray), else None."""
    return encoder_of(run), run["config"].get("seed", 0), encoder_input(run["method"])


def seen_words(seen: str | None) -> str:
    """What an untrained network sees, in a name's words: "seeing gray" (colorization's), else
    "seeing the images"."""
    return {"luminance": "seeing gray"}.get(seen, seen) if seen else "seeing the images"


def random_name(pair: tuple[str, int, str | None], several_encoders: bool) -> str:
    """The untrained network of ``pairing``, as charts and tables name it: "random encoder
    (seed 0)", or "random cnn-small (seed 0)" where the runs shown differ in encoder, and
    "random encoder seeing gray (seed 0)" for colorization's (its references are its own: one
    row per network, where Evaluate showed whichever of the two came first)."""
    encoder, seed, seen = pair
    what = f"random {encoder}" if several_encoders else "random encoder"
    return f"{what}{' ' + seen_words(seen) if seen else ''} (seed {seed})"


def showcase_image(ds, candidates: int = 64, seed: int = 0) -> int:
    """The row of a test image that shows what a flip and a turn do (Invariance's strip of ops):
    of ``candidates`` drawn, among those that a flip and a quarter turn change most for the
    ink they have (the pixels off the background, read at the top-left corner), the one with
    the most ink. The image a flip changed most was a large circle near the centre: its flip
    and its turn looked like the original (a star before that). Shapes away from the centre
    move under both; a large one is seen from the back of a room."""
    some = ds.test_idx[np.random.default_rng(seed).permutation(len(ds.test_idx))[:candidates]]
    imgs = ds.images[some].float()
    change = lambda other: (imgs - other).abs().mean(dim=(1, 2, 3))  # noqa: E731
    ink = change(imgs[..., :1, :1]).clamp_min(1e-6)
    moved = torch.minimum(change(imgs.flip(-1)), change(imgs.rot90(1, (-2, -1)))) / ink  # 2 at most: no overlap
    return int(some[int(torch.where(moved >= 0.9 * moved.max(), ink, -1.0).argmax())])


def reference_tags(runs: list[dict]) -> dict[str, dict[str, str]]:
    """Per run id and reference kind (``REFERENCES``), what tells its reference curve apart from
    the other runs' (runs of different datasets, seeds or encoders have different ones):
    "digits, seed 7"; "" where all the runs share one. The random encoder's readout does not
    depend on the augmentations the runs trained with; supervised training from scratch uses
    them, so only its curves are told apart by them ("aug crop,flip"). Colorization's see gray
    ("seeing gray" beside "seeing the images")."""
    ids = [r["id"] for r in runs]
    what = {r["id"]: {"dataset": r["dataset"], "seed": f"seed {seed}", "encoder": encoder, "aug": f"aug {augment_name(r)}",
                      "seen": seen_words(seen)}
            for r in runs for encoder, seed, seen in [pairing(r)]}
    varies = [k for k in ("dataset", "seed", "encoder", "seen", "aug") if len({what[i][k] for i in ids}) > 1]
    by_kind = {"random-linear": [k for k in varies if k != "aug"], "supervised-scratch": varies}
    return {i: {kind: ", ".join(what[i][k] for k in keys) for kind, keys in by_kind.items()} for i in ids}


# how a map coloured by class reads (Explore under its map, Gallery above its thumbnails)
CLUMPS = "Tight clumps of one colour mean the features group images by class without having seen a label."


def random_encoder_scores(refs: dict, seeds: int = SEEDS) -> tuple[float | None, float | None]:
    """The random encoder's (kNN accuracy at k=20, linear readout on all labels) from a
    run's reference cache: the same two numbers a run's summary has, for the untrained
    network of its architecture and seed. None where not computed yet. On a set with fewer
    labelled training images than k, every image votes, in the summary and here."""
    knn = (refs.get(RANDOM_KNN) or {}).get(str(KNN_K), refs.get(RANDOM_KNN_EVERY_IMAGE))
    linear = (refs.get(budget_key("random-linear", "label", 0, seeds)) or {}).get("mean")
    return knn, linear


def gain(value: float, base: float) -> str:
    """``value - base`` signed, to 3 places, of the two as the pages show them (to 3 places):
    0.97214 - 0.96657 said "+0.006" beside "0.972" and "0.967", and a student who subtracted
    the numbers shown got 0.005."""
    return f"{round(value, 3) - round(base, 3):+.3f}"


def within_noise(value: float, base: float, n: int | None) -> bool:
    """Whether ``value - base``, as the pages show them (``gain``), is inside ``noise_band``; False
    where the test images are not known (``n`` None or 0)."""
    return bool(n) and abs(round(value, 3) - round(base, 3)) < noise_band(value, base, n)


NOISE_MARK = "(noise)"  # after a gain inside the noise band, in a table's text column


def noise_words(value: float, base: float, n: int) -> str:
    """Why a gain is marked ``NOISE_MARK``, in a sentence."""
    return (f"under {noise_band(value, base, n):.3f}, twice the standard error of an accuracy on these {n:,} test "
            "images: their draw alone could make such a difference, and a run of another seed can differ by more")


def knn_gain(summary: dict, refs: dict, n: int | None = None) -> str:
    """A run's kNN accuracy minus its random encoder's, signed ("+0.041"), "+0.006 (noise)"
    where that is within the noise of the ``n`` test images it is scored on (``within_noise``;
    ``n`` from the summary's ``test_images`` when not given), or "–" while either is missing (a
    text column: a blank number cell would look like zero). An untrained run (a ``random`` run,
    0 epochs) is that encoder: "baseline", as Evaluate's untrained rows (Compare gave it "+0.000
    (noise)", a gain over itself)."""
    if summary.get("epochs") == 0:
        return "baseline"
    knn, (random_knn, _) = summary.get("knn_accuracy"), random_encoder_scores(refs)
    if knn is None or random_knn is None:
        return "–"
    n = n or summary.get("test_images")
    return gain(knn, random_knn) + (f" {NOISE_MARK}" if within_noise(knn, random_knn, n) else "")


COLLAPSED_RANK = 2.0  # an effective rank at or under this: features along about one direction (random cnn-small: 13.7)


def collapsed(summary: dict | None) -> bool:
    """Whether a trained run's features collapsed: effective rank at most ``COLLAPSED_RANK``
    (an untrained encoder did not collapse: its rank is what the images give it)."""
    rank = (summary or {}).get("effective_rank")
    return rank is not None and rank <= COLLAPSED_RANK and bool((summary or {}).get("epochs"))


def collapse_note(summary: dict | None) -> str | None:
    """Why a run's features say little, where they collapsed (``collapsed``), in Markdown;
    None otherwise. A review's rotation run on shapes ended at rank 1.4 and loss log 4, and no
    page said a word of it."""
    if not collapsed(summary):
        return None
    rank = summary["effective_rank"]
    return (f"**Its features collapsed**: an effective rank of {rank:.1f} means they vary along about "
            f"{'one direction' if rank < 1.5 else 'two directions'} (an untrained encoder's use a dozen or more), "
            "so most images get nearly the same features and its map and neighbours say little. The Lessons page's "
            "*Collapse* lesson shows how it happens and what prevents it.")


def collapse_options(run: dict) -> list[str]:
    """The safeguards against collapse ``run`` trained without (its method's ``collapse_guards``
    given false: "stop_gradient=false"), as ``--option`` writes them."""
    guards = getattr(METHODS.get(str(run.get("method"))), "collapse_guards", frozenset())
    given = trained_config(run).get("options") or {}

    def off(value, name: str) -> bool:  # as the method read it: false, 0, "no", "False" (``base.as_flag``)
        try:
            return not as_flag(value, name)
        except ValueError:
            return False

    return [f"{k}=false" for k, v in given.items() if k in guards and off(v, k)]


def collapse_options_note(runs: list[dict]) -> str | None:
    """Under a table of collapse diagnostics, for the runs of ``runs`` trained without a
    safeguard against collapse (``collapse_options``): what to read. A student who turned
    SimSiam's stop-gradient off found no page saying its run collapsed (rank 2.3 against 3.4 with
    it, above the 2 that marks a collapse; std 0.0209 against 0.0198): the collapse is of the
    directions the features use, and is read against the same method with its defaults."""
    said = [f"{md(short_name(r))} with {listing([code(o) for o in opts])}" for r in runs if (opts := collapse_options(r))]
    if not said:
        return None
    return (f"{quiet_icon('compress')} {'; '.join(said)}: trained without what keeps {agree(len(said), 'its', 'their')} "
            "method from collapsing. Read the **effective rank** against the same method's run with the "
            "defaults (lower is the collapse; on digits after 10 epochs, SimSiam without its stop-gradient 2.9 "
            "against 6.0 with it): the collapse can be partial, the features losing directions, while a projector's "
            "batch norm keeps the embedding std near 1/√d. The *Collapse* lesson shows it epoch by epoch.")


# what a table's score columns mean, on hover wherever one shows them (widgets.numbers_table)
COLUMN_HELP = {
    "kNN acc": "Share of the test images whose 20 nearest training images (by cosine similarity of the frozen features, "
               "each vote weighted by exp(similarity / 0.07)) vote for their label. Nothing is trained for it: it reads the "
               "features as they are.",
    "linear acc": "Test accuracy of a linear classifier (logistic regression, L2 penalty C = 1, not tuned; the survey's "
                  "linear readout, also called a "
                  "linear probe) fitted on the frozen features of every labelled training image. Evaluate shows it "
                  "with fewer labels.",
    "train s": "Seconds the pretraining took on the machine that ran it, its evaluation not included; for a run "
               "resumed (after a cancel or a stopped worker), the epochs it kept, not the pauses between attempts.",
}
GAIN_HELP = ("kNN accuracy minus that of the untrained encoder of the same architecture and seed (the random weights "
             f"depend on the seed, so each run is paired with its own). {NOISE_MARK}: under twice the standard error of "
             "an accuracy on the run's test images (on digits' 359, about 0.03): the draw of the test images alone could "
             "make it, and a run of another seed can differ by more. –: not computed yet")


def sharing(values, query: int, neighbours: list[tuple[int, float]]) -> int | None:
    """How many ``neighbours`` (row, similarity) have the query's value in ``values`` (its
    label, or a factor); None when the query's value is unknown (-1): nothing to share."""
    q = int(values[query])
    return None if q < 0 else sum(int(values[i]) == q for i, _ in neighbours)


FILE_CHARS = 20  # a neighbour's caption names its file by base name, cut to this many characters
PATH_CHARS = 48  # Explore names a query's file by its path in the archive, cut to this many


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters in the middle, keeping its end (the extension and
    the digits that tell files apart): "IMG_2023…_0042.jpg"."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2
    return text[:limit - 1 - tail] + "…" + text[-tail:]


def colouring(ds, colour_by: str) -> tuple:
    """What a map of ``ds`` is coloured by ("label", or one of its discrete factors): each
    image's value (-1 where unknown) and the names of the values."""
    if colour_by == "label":
        return ds.labels.numpy(), ds.class_names
    values = ds.factors[colour_by].numpy()
    return values, ds.factor_names.get(colour_by, [str(v) for v in range(values.max() + 1)])


def value_name(values, names: list[str], row: int) -> str:
    """Image ``row``'s value in ``values`` by its name, or "?" where it is unknown."""
    v = int(values[row])
    return names[v] if 0 <= v < len(names) else "?"


def beside_label(ds, row: int, value: str) -> str | None:
    """``value`` (of what the map is coloured by) where it says more than image ``row``'s
    label, else None: shapes' "shape" factor is its label again, and "cross, shape cross"
    said it twice."""
    return None if value == ds.label_name(row) else value


def image_caption(ds, row: int, value: str | None = None) -> str:
    """A dataset image's caption wherever one is shown (Data, Augment, and a neighbour's with
    its similarity after it, ``neighbour_caption``): "#341 · 1" (row, label), with the value of
    the factor the map or grid is coloured or captioned by after the label where it says more
    ("#341 · cross · red"), and the image's file name after the row where the set has file names
    (an import): "#341 · cat_07.png · cat". ``caption_key`` says what the parts are."""
    name = ds.file_name(row)
    extra = beside_label(ds, row, value) if value is not None else None
    return " · ".join([f"#{row}", *([shortened(name, FILE_CHARS)] if name else []), ds.label_name(row),
                       *([extra] if extra else [])])


def caption_key(ds, by: str = "label") -> str:
    """What the parts of ``image_caption``'s captions are, for a line above a grid of them:
    "its number in the set (#), then its label". ``by``: the factor the captions add after the
    label ("label": none). A review read Data's "#4 4" as two numbers of one kind."""
    extra = by not in ("label", label_factor(ds))  # (shapes' "shape" is its label: never added)
    parts = ["its number in the set (#)", *(["its file's name"] if ds.files is not None else []),
             "its label" if ds.num_classes else "its label (?: this set has none)",
             *([f"its {FACTOR_OPS.get(by, (by,))[0]}"] if extra else [])]
    return ", ".join(parts[:-1]) + ", then " + parts[-1]


def neighbour_caption(ds, row: int, sim: float, value: str | None = None) -> str:
    """A neighbour's caption wherever one is shown: ``image_caption`` and the cosine similarity,
    "#341 · 1 · sim 0.992" ("#341 · cross · red · sim 0.992": a neighbour is checked against
    the query by the factor the map is coloured by; "#341 · cat_07.png · cat · sim 0.992"). "sim"
    and its number are joined by a no-break space: in Explore's grid at 1280 px a caption broke
    between them, the number alone on the next line."""
    return f"{image_caption(ds, row, value)} · sim\u00a0{sim:.3f}"


def image_alt(ds, row: int, sim: float | None = None) -> str:
    """What a dataset image shows, for screen readers: "digits image #341, labelled 1"
    ("…, similarity 0.992 to the query" for a neighbour); an unlabelled set's without a label."""
    label = ds.label_name(row)
    name = ds.file_name(row)
    return (f"{ds.name} image #{row}" + (f" ({name})" if name else "")
            + (f", labelled {label}" if label not in (None, "", "?") else "")
            + (f", similarity {sim:.3f} to the query" if sim is not None else ""))


def knn_verdict(name: str, share: float, knn_accuracy: float | None, unlike: bool = False) -> str:
    """What the run's kNN classifier calls an uploaded image, in Markdown: the class (a
    folder's name, from whoever made the archive: escaped) and its share of the vote, how
    often that classifier is right on the test images, and, for an image ``unlike`` the
    dataset's, that the class says little."""
    right = f", right on {knn_accuracy:.0%} of the test images" if knn_accuracy is not None else ""
    said = (f"This run's kNN classifier (the similarity-weighted vote of its {KNN_K} nearest training images{right}) "
            f"calls it **{md(name)}**, with {share:.0%} of the vote.")
    if unlike:
        said += (" But your image is unlike the dataset's: its nearest image is less similar to it than 99% of the "
                 "dataset's images are to their own nearest, so the class says little (the classifier has only the "
                 "dataset's classes to choose from, and always picks one).")
    return said


def clear_example(ds, candidates: int = 20, k: int = 8, chunk: int = 1024) -> int:
    """The test image to open a query on: of the first ``candidates`` test images, the one whose
    ``k`` nearest training images in pixel space share its label most (the earliest on a tie),
    so a first look at neighbours starts from a clear example of its class, the same whatever
    runs are shown (digits' first test image is a 5 drawn like a 9: no run's neighbours shared
    its label, which read as every method failing). The first test image of a set without labels."""
    import numpy as np

    test, train = ds.test_idx.numpy(), ds.train_idx.numpy()
    labels = ds.labels.numpy()
    rows = test[labels[test] >= 0][:candidates]
    train = train[labels[train] >= 0]
    if not len(rows) or not len(train):
        return int(test[0])
    flat = lambda r: ds.images[r].reshape(len(r), -1).float().numpy()  # noqa: E731
    q = flat(rows)
    # the distances ([queries, training images]) are small; the training images as floats are not (shapes': 390 MB),
    # so they are read a chunk at a time
    d = np.concatenate([(q ** 2).sum(1, keepdims=True) - 2 * q @ x.T + (x ** 2).sum(1)
                        for x in (flat(train[i : i + chunk]) for i in range(0, len(train), chunk))], 1)
    nearest = train[np.argsort(d, 1, kind="stable")[:, :k]]
    shared = (labels[nearest] == labels[rows][:, None]).sum(1)
    return int(rows[int(np.argmax(shared))])


def query_caption(ds, row: int, value: str | None = None) -> str:
    """A query image's caption (Explore's, Compare's): "query" and ``image_caption``'s, as its
    neighbours' are written below it ("query #3 · cross · red"). Explore said "query: #5 · 1
    (train split)" (four lines in a phone's 82 px cell) and Compare "query #9: 9"."""
    return f"query {image_caption(ds, row, value)}"


def image_path(ds, row: int) -> str | None:
    """Image ``row``'s path in the archive it was imported from, cut in the middle when long;
    None where the set has no file names (a caption gives only the base name)."""
    return shortened(ds.files[row], PATH_CHARS) if ds.files is not None else None


def invariance_values(probes: dict, ops: list[str]) -> list[float | None]:
    inv = probes.get("invariance") or {}
    return [inv.get(op, {}).get("score") for op in ops]


def invariance_errors(probes_by_name: dict[str, dict], ops: list[str]) -> list[list[float | None]]:
    """Each run's standard error per op (``se``; None for results measured before it was
    stored), in the order of ``invariance_series``."""
    return [[(p.get("invariance") or {}).get(op, {}).get("se") for op in ops] for p in probes_by_name.values()]


def invariance_note(probes: dict) -> str | None:
    """Why a run's invariance scores mean little (its features barely tell unrelated images
    apart), or None; read from the stored numbers, so runs measured before the mark get it too."""
    return unreliable_note(probes.get("invariance") or {})


def unrelated_similarity(probes: dict) -> float | None:
    """A run's mean cosine similarity of two unrelated images' features (its invariance probe's
    yardstick, the same for every op), or None before that probe: trained runs on digits give
    0.83 to 0.89, so their nearest neighbours' 0.99 is closer to it than it looks."""
    return next((e["unrelated"] for e in (probes.get("invariance") or {}).values() if "unrelated" in e), None)


UNRELIABLE = " · unreliable scale"  # what ends the name of bars whose scores mean little


def invariance_unmeasured(runs: list[dict], probes: dict[str, dict], refs: dict[str, dict],
                          has_factors: bool) -> tuple[list[dict], str]:
    """The runs Invariance offers to measure, and what its warning says of them after their
    names: those lacking their own invariance (or factor probes), their untrained network's, or
    scores of ops added to the code since either was cached (``missing_ops``: they stayed
    unmeasured, and the chart's "n/a" called them ops that change nothing). ``probes``,
    ``refs``: each run's probes.json and reference cache, by id."""
    def ref(r: dict) -> dict:
        return refs[r["id"]].get(RANDOM_INVARIANCE, {}).get("invariance", {})

    own_new = {r["id"]: missing_ops(probes[r["id"]].get("invariance", {})) for r in runs}
    ref_new = {r["id"]: missing_ops(ref(r)) for r in runs}
    refs_whole = {r["id"]: RANDOM_INVARIANCE in refs[r["id"]] and (not has_factors or RANDOM_FACTORS in refs[r["id"]])
                  for r in runs}
    missing = [r for r in runs if "invariance" not in probes[r["id"]] or not refs_whole[r["id"]] or own_new[r["id"]]
               or ref_new[r["id"]]]
    measured = "invariance and the factor probes" if has_factors else "invariance"
    # (an upgrade review's old runs had their own scores, drawn below, and the page said they finished before
    # invariance was measured: only their untrained encoders' references were missing)
    if any("invariance" not in probes[r["id"]] or (has_factors and "factors" not in probes[r["id"]]) for r in missing):
        return missing, (f"finished before {measured} (theirs, or their untrained encoder's) "
                         f"{'were' if has_factors else 'was'} measured after training")
    n = len(missing)
    if ops := [op for op in OPS if any(op in own_new[r["id"]] for r in missing)]:
        return missing, (f"{agree(n, 'was', 'were')} measured before {listing(ops)} {agree(len(ops), 'was', 'were')} "
                         f"added to the ops: not yet for {agree(len(ops), 'it', 'them')} (the others are drawn below)")
    # their own scores whole: the gray bars lack something (all of them, or ops added since they were measured)
    ops = [op for op in OPS if any(op in ref_new[r["id"]] for r in missing)]
    what = (f"score for {listing(ops)}" if ops and all(refs_whole[r["id"]] for r in missing) else measured)
    return missing, (f"{agree(n, 'has its', 'have their')} own scores, drawn below, but not yet "
                     f"{agree(n, 'its', 'their')} untrained encoder's {what} to read them against (the gray bars)")


def invariance_series(probes_by_name: dict[str, dict], ops: list[str]) -> dict[str, list[float | None]]:
    """The invariance chart's bars: each run's scores per op, under its name, followed by
    ``UNRELIABLE`` where ``invariance_note`` says its scores mean little."""
    return {name + (UNRELIABLE if invariance_note(p) else ""): invariance_values(p, ops)
            for name, p in probes_by_name.items()}


def unreliable_references(references: dict[str, dict], explained: bool) -> str | None:
    """One sentence on what ``UNRELIABLE`` means on the gray bars of the untrained networks
    ``references`` (name: their invariance probes) and how to read them, or None where none is
    marked. A run's warning gives the reason for its own bars only, so the gray ones were marked
    without a word; ``explained``: a run's warning on the page says why already, so only how to
    read them."""
    marked = {n: p for n, p in references.items() if invariance_note(p)}
    if not marked:
        return None
    # (a name may hold a nickname, "random (ab12) · untrained · by ada", and the caption is HTML-enabled: escaped)
    names = " and ".join(f"*{md(n)}*" for n in marked)
    # (a statistician's review: the page's "how to read it" measures a run's bar against its gray one, but each bar is
    # divided by its own network's distance between unrelated images, here some 15 times shorter than a trained run's)
    # (one sentence of 107 words, a plain-language review found: now short ones, each saying one thing)
    read = ("So read those gray bars only roughly: near 1, the op barely moves the untrained features. Do not read "
            "their exact height, or how far below 0 they go. They are not the line a run's bar must rise above: each "
            "bar is scaled by its own network's distance between unrelated images, and theirs is too short to compare")
    if explained:
        return f"{names}: **unreliable scale**, for the reason the warning above gives. {read}."
    similarity = " and ".join(f"{next(e['unrelated'] for e in p['invariance'].values() if 'unrelated' in e):.3f}"
                              for p in marked.values())
    return (f"{names}: **unreliable scale**. An untrained network's features barely tell unrelated images apart: "
            f"their mean cosine similarity is {similarity}, where identical images give 1. The scale from unrelated "
            f"(0) to identical (1) is so short that a tiny change in similarity moves a bar a long way. {read}.")


# said under every kNN-over-epochs chart: a teacher read its end against the table beside it. It said "(digits has 1,438)"
# and "the curve usually ends a little below it" under every chart, also under shapes' runs, where 1,024 of 8,000 train
# images vote and a curve ended at 0.303 against the table's 0.406; now it names the runs' sets and says "a little"
# only where no run's two numbers are more than ``EPOCH_KNN_CLOSE`` apart (digits' t0_1: 0.908 against 0.928)
EPOCH_KNN_CLOSE = 0.02
EPOCH_KNN_FAR = 0.05  # past this, "well below": a browser check read "well below it (0.025 here)" as overstated


def epoch_knn_ends(ends: list[tuple[str, float, float | None]], whole: str = "the table's kNN accuracy",
                   said: str = "in the table", train_images: dict[str, int | None] | None = None) -> str:
    """What the chart's curves are and how their ends compare with ``whole``, the kNN accuracy on
    the whole split, in one paragraph: ``ends``, (a run's name, its curve's last point, its
    ``whole`` or None), each quoted "``said``"; ``train_images``, the runs' datasets and the
    labelled train images each has (None where not known: a set deleted since). The note gave a
    fixed example ("0.47 at its last epoch, 0.69 in the table") no chart on screen showed. A
    lesson's note reads "the kNN accuracy the checks read", "in the checks"."""
    known = {d: n for d, n in (train_images or {}).items() if n}
    sets = " and ".join(f"{md(d)} has {n:,}" for d, n in known.items())
    votes = ("all of them vote here too" if known and max(known.values()) <= MEMORY
             else "fewer vote here" if known and min(known.values()) > MEMORY
             else f"on a set of more than {MEMORY:,} train images fewer vote here")
    gaps = [round(w - last, 3) for _, last, w in ends if w is not None]  # as shown: 0.928 - 0.908 is 0.0200000001
    widest = max(gaps, key=abs) if gaps else None
    end = ("the curve usually ends below it" if widest is None
           else f"the curve ends {'a little below' if min(gaps) >= 0 else 'close to'} it (within {EPOCH_KNN_CLOSE} here)"
           if abs(widest) <= EPOCH_KNN_CLOSE
           else f"the curve can end {'well ' if abs(widest) > EPOCH_KNN_FAR else ''}{'below' if widest > 0 else 'above'} "
                f"it ({abs(widest):.3f} here)")
    here = "; ".join(f"{md(n)} {last:.3f} at its last epoch, {w:.3f} {said}" for n, last, w in ends if w is not None)
    return (f"kNN accuracy (k=20) of up to {QUERIES} test images against up to {MEMORY:,} train images after every "
            f"epoch, cheaper than {whole}, in which every train image votes{f' ({sets})' if sets else ''}: {votes}, "
            f"and {end}."
            + (f" Here: {here}." if here else ""))


def epoch_knn_note(runs: list[dict], curves: dict, names: dict[str, str],
                   train_images: dict[str, int | None] | None = None) -> str:
    """``epoch_knn_ends`` of run dicts beside a table: ``curves`` by the run's name in ``names``
    (by id), (epochs, accuracies, _); ``train_images`` of the runs' datasets, as it takes them."""
    drawn = [r for r in runs if names[r["id"]] in curves]
    sets = dict.fromkeys(r["dataset"] for r in drawn if r.get("dataset"))
    return epoch_knn_ends([(names[r["id"]], curves[names[r["id"]]][1][-1], (r["summary"] or {}).get("knn_accuracy"))
                           for r in drawn], train_images={d: (train_images or {}).get(d) for d in sets})




def label_factor(ds) -> str | None:
    """The ground-truth factor a dataset's label is (shapes: "shape"), or None (no factors, or
    a label that is none of them)."""
    return next((f for f, v in ds.factors.items() if v.dtype == ds.labels.dtype and v.equal(ds.labels)), None)


# the ops that change a ground-truth factor of shapes' images, and the factor's name in a sentence (a flip mirrors a
# shape's angle and its column, a turn about the image's centre moves an off-centre shape to another cell)
FACTOR_OPS = {"color": ("colour", ("color_jitter", "grayscale")), "size_bin": ("size", ("crop",)),
              "position_bin": ("position", ("crop", "flip", "rotate")), "rotation_bin": ("orientation", ("rotate", "flip"))}


def factor_words(factor: str) -> str:
    """A factor as a sentence says it: "colour" for color, "size" for size_bin; the label and
    shape as they are."""
    return FACTOR_OPS[factor][0] if factor in FACTOR_OPS else factor


def colour_choice(choice: str) -> str:
    """A "Colour by" option in words, its factor's name after them ("size (size_bin)"): the
    box listed size_bin and position_bin, the names the address and the charts use."""
    words = factor_words(choice)
    return f"{words} ({choice})" if words != choice else choice


def factor_ops_note(run: dict, factor: str) -> str | None:
    """What a run's augmentations did to ``factor`` (a map coloured by it): the ops it trained
    with that change it, and for a method comparing two views of each image, that its loss
    pulled views differing in it together; or that none of its ops change it. None for a
    factor no op changes (the label). A teacher's colour-jitter run coloured by colour: a
    class read the mixed colours with no word that training had asked for them."""
    if (found := _factor_ops(run, factor)) is None:
        return None
    what, ops = found
    spec = augment_of(run)
    if not ops:
        return (f"None of this run's augmentations (`{md(spec)}`) change an image's {what}, so nothing in its "
                f"training asked it to ignore {what}.")
    named = [f"`{op.name}`" + (f" (hue up to ±{op.hue_degrees:.0f}°)" if op.name == "color_jitter" else "") for op in ops]
    text = f"This run trained with {listing(named)}, which change{'s' * (len(ops) == 1)} an image's {what}"
    method = METHODS.get(run["method"])
    if method is not None and method.n_views >= 2:
        # what the loss asks, not what the map shows: "colour groups less on its map" stood above a map of six clean
        # colour groups (a review), and how far the features give colour up is the Invariance page's measurement
        text += (f": its loss pulled two views of each image together, views that differ in {what}, which asks its "
                 f"features to ignore {what} (how far they do: the Invariance page, beside a run without "
                 f"{agree(len(ops), 'it', 'them')})")
    if (short := _short_hue(run, factor, ops)) is not None:
        # a review: the note said colour groups less, and the map right below showed six clean colour groups
        text += (f". Its hue turns by at most ±{short:.0f}°, less than the {hue_gaps()[0]:.0f}° between the "
                 "nearest two colours of shapes, so no view of one colour looks like another and the colours can "
                 "still stand apart on the map (`color_jitter(hue=0.5)` turns hue all the way round)")
    return text + "."


def _factor_ops(run: dict, factor: str) -> tuple[str, list] | None:
    """(``factor`` in words, the ops of ``run``'s augmentations that change it); None for a factor
    no op changes, or augmentations this version cannot read."""
    if factor not in FACTOR_OPS:
        return None
    what, changing = FACTOR_OPS[factor]
    try:
        return what, [op for op in parse_augment(augment_of(run)).ops if op.name in changing]
    except ValueError:  # (a spec from an older version this one cannot read)
        return None


def _short_hue(run: dict, factor: str, ops: list) -> float | None:
    """The hue turn (degrees) of ``run``'s colour jitter where it falls short of the nearest two
    colours of shapes, for maps coloured by colour; else None."""
    jitter = next((op for op in ops if op.name == "color_jitter"), None)
    if factor == "color" and run.get("dataset") == "shapes" and jitter is not None \
            and jitter.hue_degrees < hue_gaps()[0]:
        return jitter.hue_degrees
    return None


def factor_maps_note(runs: list[dict], factor: str) -> str | None:
    """Under maps of ``runs`` side by side, coloured by ``factor``: which runs trained with ops
    that change it (a ``random`` run trained nothing), that those comparing two views were asked
    to ignore it, and which of them turn hue short of the next colour, so that their maps still
    group by colour. A student comparing a colour-jitter run saw six clean colour groups on
    Compare and read it against the Invariance page's 0.95 (the reason was on Explore and
    Invariance only). None for a factor no op changes, or where some run's augmentations cannot be
    read (nothing can then be said of all of them)."""
    trained = [r for r in runs if trains(r)]
    found = {r["id"]: f for r in trained if (f := _factor_ops(r, factor)) is not None}
    if factor not in FACTOR_OPS or len(found) < len(trained):
        return None
    what = FACTOR_OPS[factor][0]
    changed = [r for r in trained if found[r["id"]][1]]
    if not changed:
        return f"None of these runs trained with an augmentation that changes an image's {what}."
    text = (f"Trained with augmentations that change an image's {what}: "
            + listing([f"{md(short_name(r))} ({listing([code(op.name) for op in found[r['id']][1]])})"
                       for r in changed]) + ".")
    pulled = [r for r in changed if getattr(METHODS.get(r["method"]), "n_views", 1) >= 2]
    if pulled:
        text += (f" {listing([md(short_name(r)) for r in pulled])}, comparing two views of each image, "
                 f"{agree(len(pulled), 'was', 'were')} asked to ignore {what}; how far "
                 f"{agree(len(pulled), 'its', 'their')} features do is the Invariance page's measurement.")
    shorts = [(r, d) for r in changed if (d := _short_hue(r, factor, found[r["id"]][1])) is not None]
    if shorts:
        turns = {}  # runs by their hue turn, in degrees as said
        for r, d in shorts:
            turns.setdefault(f"{d:.0f}", []).append(md(short_name(r)))
        text += (" " + listing([f"{listing(names)} {agree(len(names), 'turns', 'turn')} hue by at most ±{d}°"
                                for d, names in turns.items()])
                 + f", less than the {hue_gaps()[0]:.0f}° between the nearest two colours of shapes, so colours can "
                   f"still stand apart on {agree(len(shorts), 'its map', 'their maps')}.")
    return text


def factor_values(probes: dict, factors: list[str], budget: str) -> list[float | None]:
    fac = probes.get("factors") or {}
    return [(fac.get(f, {}).get(budget) or {}).get("mean") for f in factors]


def factor_errors(probes: dict, factors: list[str], budget: str) -> list[float | None]:
    """The spread (std) over the draws of labelled images of each factor's probe at ``budget``,
    in the order of ``factor_values``; None for one fit (every label)."""
    fac = probes.get("factors") or {}
    return [(sample_std(row) if row.get("seeds", 1) > 1 else None) if (row := fac.get(f, {}).get(budget)) else None
            for f in factors]


def _setting(config: dict, key: str) -> str:
    value = config.get(key)
    if key == "batch_size" and value is None:  # left to the dataset's default
        value = default_batch(config.get("dataset", ""))
    if key == "lr" and value is not None:
        return f"{float(value):g}"  # 0.002, not 0.002000
    if key == "options":
        # as ``--option`` writes them (the warning said "stop_gradient=False" beside the pickers' "=false")
        return ", ".join(f"{k}={option_value(v)}" for k, v in sorted((value or {}).items())) or "defaults"
    return str(value)


def mismatches(configs: list[dict], names: list[str] | None = None) -> list[str]:
    """What differs between runs that a fair comparison needs equal: dataset, seed, budget,
    learning rate, and between runs of one method its options (a run at lr 1.0 beside one at
    the default 0.002 differs by more than its pretext task, and neither shows in the table).
    With ``names`` (one per config), each value says which runs have it: "batch size (128:
    random (476b); 32: simclr (1298))"; without, the values alone: "seed (0, 1)"."""
    out = []
    trained = [i for i, c in enumerate(configs) if trains(c)]
    checks = [(key, what, range(len(configs))) for key, what in (
        ("dataset", "dataset"), ("seed", "seed"), ("batch_size", "batch size"),
        ("encoder", "encoder"), ("lr", "learning rate"))]
    checks.insert(2, ("epochs", "epochs", trained))  # the untrained baseline has no budget to differ in
    by_method: dict[str, list[int]] = {}
    for i, c in enumerate(configs):
        by_method.setdefault(str(c.get("method")), []).append(i)
    checks += [("options", f"{m} options", idx) for m, idx in by_method.items() if len(idx) > 1]
    for key, what, idx in checks:
        runs: dict[str, list[str]] = {}
        for i in idx:
            runs.setdefault(_setting(configs[i], key), []).append(names[i] if names else "")
        if len(runs) > 1:
            values = sorted(runs)
            out.append(f"{what} (" + ("; ".join(f"{v}: {', '.join(runs[v])}" for v in values) if names
                                      else ", ".join(values)) + ")")
    return out


#: above this many images a probe job takes minutes on a CPU, not seconds (CIFAR-10's 60,000:
#: 142 s on 2 cores, the untrained encoder's reference included; digits' 1,797: about 4 s)
PROBES_TAKE_MINUTES = 15_000


def probe_cost(runs: list[dict]) -> str:
    """How long the probe job takes, for its button: "seconds per run" on small sets, else
    "minutes per run on a CPU for N images" (N the largest set among ``runs``, from their
    summaries' ``n_images``); every probe embeds the whole set and reads it out."""
    sizes = [int((r.get("summary") or {}).get("n_images") or 0) for r in runs]
    most = max(sizes, default=0)
    if most <= PROBES_TAKE_MINUTES:
        return "seconds per run"
    return f"minutes per run on a CPU for {most:,} images"


def stretched(report: dict) -> str:
    """An import's sentence on its 16-bit, 32-bit and float images (``data.custom.to_8_bits``),
    "" when it had none: their values were stretched, each image's own, which keeps no brightness
    between them, and a microscopist comparing intensities should know."""
    n = int(report.get("stretched") or 0)
    if not n:
        return ""
    return (f" {count(n, 'image')} had 16-bit, 32-bit or float values: each was stretched to 8 bits from its own "
            f"darkest to its brightest values (the {ordinal(STRETCH_PERCENTILE)} to the "
            f"{ordinal(100 - STRETCH_PERCENTILE)} percentile), so differences in brightness between images are not kept.")


def first_pages(report: dict) -> str:
    """An import's sentence on its images of several pages or frames (``ImportReport.first_page_only``),
    "" when it had none: only their first page was imported, and a stack of a microscope's channels
    or z-planes saved as pages lost the rest."""
    n = int(report.get("first_page_only") or 0)
    if not n:
        return ""
    return (f" {count(n, 'image')} had several pages or frames (a multi-page TIFF, a stack, an animated GIF): only "
            f"the first of each was imported; for every page, save each as a file of its own.")


def merged_folders(report: dict) -> str:
    """An import's sentence on folders inside its class folders (``ImportReport.merged``), ""
    where there were none: their images are the class's, which a plate-and-condition archive
    needs to know before it trains on plates as classes."""
    merged = report.get("merged") or {}
    if not merged:
        return ""
    each = "; ".join(f"{md(c)} took {listing([md(f + '/') for f in inner])}" for c, inner in merged.items())
    return (f" Folders inside a class folder count as that class ({each}): for them as classes of their own, put "
            "each in a folder of its own at the class folders' level.")


def resized(report: dict) -> str:
    """An import's sentence on the images' own sizes: "Resized from sizes between 48x48 and 100x100 to
    32x32 ..." (or "Kept at 32x32, their size."); "" for a report without them."""
    found, size = report.get("source_sizes") or [], report["size"]
    if not found:
        return ""
    target = f"{size}x{size}"
    if found == [target]:
        return f"Kept at {target}, their size."
    span = found[0] if len(found) == 1 else f"sizes between {found[0]} and {found[1]}"
    return (f"Resized from {span} to {target} (shorter side, then a centre crop; the Resolution slider above sets "
            "it, and importing again at another one makes a new set).")
