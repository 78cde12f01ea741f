"""Lessons: a question from the survey, the runs that answer it, and a verdict.

A lesson is one TOML file in ``assets/lessons/`` (or in the folder ``SSRL_LESSONS_DIR``
names): a question, a short explanation, the runs to launch (each a full ``RunConfig``),
the charts to show, the expected outcome in words, how to read the result, and checks a
machine can decide. ``docs/lessons.md`` describes the format.

This module loads and validates lessons (a broken file gives a message naming the file and
the field), plans them against the run store (finished runs with an identical resolved
config are reused, queued or running ones waited for), runs them headless, and computes
the verdict: each check with its measured numbers, pass or fail, and an overall verdict.

Metrics a check can name, as ``RUN.METRIC`` (RUN is a run name of the lesson):

    knn_accuracy, linear_accuracy, embedding_std, effective_rank, final_loss,
    linear_1_per_class, train_seconds, images_per_s      from the run's summary.json
    linear@B            linear readout with B labels per class (1, 5, 10, 50, all)
    random_linear@B     the same readout of a random encoder (the shared reference)
    supervised_scratch@B  the same network trained from scratch on those labels (computed
                        for the budgets the lesson lists in [probes] supervised_scratch)
    knn@K               kNN accuracy with K neighbours (1, 5, 20, 100)
    random_knn@K        the same for the random encoder of the run's architecture and seed
    invariance:OP       invariance score of an augmentation op (1 = features unchanged)
    factor:F@B          linear probe of ground-truth factor F with B labels per value (2, all)
    rotation_equivariance   accuracy of predicting a 0/90/180/270 rotation (chance 0.25)
    epoch:KEY@E         KEY of epochs.jsonl after epoch E (0 = before training, or "last"):
                        embedding_std, effective_rank, epoch_knn, loss, or a method's own
                        logged number (rotation_acc, ...)

A side of a check is a number, a metric, or a sum and difference of them written with spaces
around each sign: ``"a.metric - b.metric"``, ``"a.metric + a-seed1.metric + a-seed2.metric"``.
"""
from __future__ import annotations

import json
import os
import re
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from .config import RunConfig
from .text import count, nearest
from .pretext import METHODS
from .pretext import check_options, read_embedding_std
from .data.shapes import DISCRETE_FACTORS as SHAPES_FACTORS
from .evaluate.probes import BUDGETS, KS, SEEDS, budget_key, budget_name, budget_of
from .evaluate.probes import FACTOR_BUDGETS as PROBED_FACTOR_BUDGETS

LESSONS_DIR = Path(__file__).resolve().parents[1] / "assets" / "lessons"
ENV_DIR = "SSRL_LESSONS_DIR"

SUMMARY_METRICS = ("knn_accuracy", "linear_accuracy", "embedding_std", "effective_rank", "final_loss",
                   "linear_1_per_class", "train_seconds", "images_per_s")
# what a lesson's metrics may name, as the probes compute them
LINEAR_BUDGETS = tuple(budget_name(b) for b in BUDGETS)  # 1, 5, 10, 50, all
KNN_KS = tuple(map(str, KS))  # 1, 5, 20, 100
FACTOR_BUDGETS = tuple(budget_name(b) for b in PROBED_FACTOR_BUDGETS)  # 2, all
DATASET_FACTORS = {"shapes": SHAPES_FACTORS}
OPS = (">", ">=", "<", "<=")
# what every run's epochs.jsonl records after each epoch (a method adds its own: rotation_acc, z_std, ...); epoch_knn
# on a labelled set
EPOCH_KEYS = ("loss", "effective_rank", "embedding_std", "epoch_knn", "seconds", "images_per_s")
CHART_KINDS = {
    "accuracy": "kNN and linear-probe accuracy per run, beside the untrained network's (bars)",
    "label_efficiency": "linear readout accuracy against labels per class, with the references (curves)",
    "collapse": "effective rank after every epoch, on a fixed subset (curves)",
    "epoch_knn": "kNN accuracy on a fixed subset after every epoch (curves)",
    "invariance": "invariance score per augmentation op (bars)",
    "factors": "linear probe per ground-truth factor, 2 labels per value (bars)",
    "metrics": "any metrics of the lesson's runs, named in `metrics` (bars)",
}
PROBE_CHARTS = ("label_efficiency", "invariance", "factors")  # drawn from probes.json, which basic runs lack
RUN_REQUIRED = ("dataset", "method", "augment", "encoder", "epochs", "batch_size", "seed")
LESSON_REQUIRED = ("id", "title", "question", "explanation", "expected", "how_to_read", "runs", "checks")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")  # (\Z: "$" took an id ending in a newline)
QUICK_EPOCHS = 1
QUICK_STEPS, QUICK_SEEDS = 20, 1


class LessonError(ValueError):
    """A lesson file that does not validate; the message names the file and the field."""


@dataclass
class Check:
    left: str | float
    op: str
    right: str | float
    margin: float = 0.0
    says: str = ""


@dataclass
class Chart:
    kind: str
    title: str = ""
    runs: list[str] = field(default_factory=list)  # empty: every run
    metrics: list[str] = field(default_factory=list)  # for kind "metrics"


@dataclass
class Lesson:
    id: str
    title: str
    question: str
    explanation: str
    expected: str
    how_to_read: str
    runs: dict[str, RunConfig]
    checks: list[Check]
    charts: list[Chart] = field(default_factory=list)
    order: int = 100
    supervised_scratch: tuple[int, ...] = ()  # label budgets of the supervised reference
    seeds: int = 3
    supervised_steps: int = 200
    path: Path | None = None
    quick: bool = False
    full_runs: dict[str, RunConfig] | None = None  # a preview's runs at the lesson's budget (``scaled``)

    def scaled(self, max_epochs: int | None) -> "Lesson":
        """The same lesson with every run capped at ``max_epochs`` epochs and, when capped,
        a cheaper supervised reference (a preview, marked ``quick`` in its verdict)."""
        if max_epochs is None:
            return self
        runs = {n: RunConfig.from_dict({**c.to_dict(), "epochs": min(c.epochs, max_epochs)})
                for n, c in self.runs.items()}
        out = Lesson(**{**self.__dict__, "runs": runs, "quick": True, "full_runs": self.full_runs or self.runs})
        out.supervised_steps, out.seeds = min(self.supervised_steps, QUICK_STEPS), min(self.seeds, QUICK_SEEDS)
        return out

    def parse_metric(self, ref: str) -> tuple[str, str, str]:
        """``parse_metric`` for this lesson's checks and charts; a preview's epoch numbers are
        read against the lesson's budget (``epoch:KEY@5`` of a run capped at 1 epoch is a
        number the preview does not measure, not an error)."""
        return parse_metric(ref, self.full_runs or self.runs,
                            {("all" if b == 0 else str(b)) for b in self.supervised_scratch})

    def budget(self) -> str:
        epochs = sorted({c.epochs for c in self.runs.values()})
        text = f"epochs {', '.join(map(str, epochs))}"
        if self.supervised_scratch:
            text += f"; supervised reference {self.supervised_steps} steps x {self.seeds} draws"
        return ("QUICK PREVIEW (not the lesson's budget): " if self.quick else "default: ") + text


# -- loading and validating -------------------------------------------------------------------------
def lessons_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or LESSONS_DIR)


def lesson_files() -> dict[str, Path]:
    # (NAME.TOML too: saved so by some editors, it was left out without a word)
    return {p.stem: p for p in sorted(lessons_dir().glob("*")) if p.suffix.lower() == ".toml" and p.is_file()}


def load_all() -> list[Lesson]:
    """Every lesson, in teaching order (raises LessonError on the first broken file)."""
    lessons, errors = load_each()
    if errors:
        raise next(iter(errors.values()))
    return lessons


def load_each() -> tuple[list[Lesson], dict[str, LessonError]]:
    """(every lesson that validates, in teaching order; {lesson name: its error} for each
    file that does not): one broken file leaves the others usable, and every broken file
    is named."""
    lessons, errors = [], {}
    for name, p in lesson_files().items():
        try:
            lessons.append(load(p))
        except LessonError as e:
            errors[name] = e
    return sorted(lessons, key=lambda l: (l.order, l.id)), errors


def load_by_name(name: str) -> Lesson:
    """The lesson of id ``name`` in ``lessons_dir()``, or of the file ``name`` names (a path
    ending in .toml: an author trying a file before putting it in the folder)."""
    if Path(name).suffix.lower() == ".toml" and Path(name).is_file():
        return load(name)
    files = lesson_files()
    if name not in files:
        lessons, broken = load_each()  # a broken file is named apart: choosing it would only fail
        known = ", ".join(l.id for l in lessons) or ("none that validates" if broken else
                                                     f"none (no .toml files in {lessons_dir()})")
        # an author's new file elsewhere: where the lessons are read from, and how to read theirs
        raise LessonError(f"no lesson {name!r}: choose one of {known}"
                          + (f" ({', '.join(broken)}: broken, see `python -m ssrl_core list lessons`)" if broken else "")
                          + f". Lessons are read from {lessons_dir()}: for a lesson file of your own, give its path "
                            f"(NAME.toml), or set {ENV_DIR} to its folder")
    return load(files[name])


def load(path: Path | str) -> Lesson:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LessonError(f"{path.name}: cannot be read ({e.strerror or e})") from None
    try:
        # utf-8-sig: a byte-order mark (Windows' Notepad writes one) is no TOML statement, and read as one it gave
        # "Invalid statement (at line 1, column 1)"
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:  # a file saved as Latin-1 or Windows-1252 took the whole Lessons page down
        line = data[:e.start].count(b"\n") + 1
        raise LessonError(f"{path.name}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}, e.g. an accented "
                          "letter saved as Latin-1 or Windows-1252): save the file as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LessonError(f"{path.name}: not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses per level: `a = [[[[...` took every lesson down with it
        raise LessonError(f"{path.name}: not valid TOML: arrays or tables nested too deeply to read (no lesson "
                          "nests more than a few levels)") from None
    return parse(raw, path)


def _unknown_keys(given, known, prefix: str, bad) -> None:
    """Refuse a key outside ``known``, naming the one typed and the nearest known one; checked
    before the required keys, so a misspelt ``epoch`` is said as such, not as ``epochs`` missing."""
    for k in given:
        if k not in known:
            near = nearest(k, known)
            bad(f"{prefix}{k}", "unknown field" + (f": did you mean {near!r}?" if near else "")
                + f" (known: {', '.join(sorted(known))})")


def parse(raw: dict, path: Path) -> Lesson:
    where = path.name

    def bad(fieldname: str, msg: str):
        raise LessonError(f"{where}: {fieldname}: {msg}")

    _unknown_keys(raw, set(LESSON_REQUIRED) | {"order", "charts", "probes"}, "", bad)
    for k in LESSON_REQUIRED:
        if k not in raw:
            bad(k, "missing (every lesson needs " + ", ".join(LESSON_REQUIRED) + ")")
    for k in ("id", "title", "question", "explanation", "expected", "how_to_read"):
        if not isinstance(raw[k], str) or not raw[k].strip():
            bad(k, "must be non-empty text")
    if raw["id"] != path.stem:
        bad("id", f"must match the file name ({path.stem!r}), got {raw['id']!r}")
    if not NAME.match(raw["id"]):  # it goes into the class's link (?lesson=ID) and file names
        bad("id", f"{raw['id']!r}: a lesson's id (and file name) uses lowercase letters, digits, '-' and '_', "
                  "as it goes into the link a class opens (?lesson=ID); rename the file and the id, "
                  "e.g. 'byol-predictor'")
    if not isinstance(raw.get("order", 100), int) or isinstance(raw.get("order"), bool):
        bad("order", "must be a whole number")

    if not isinstance(raw["runs"], dict) or not raw["runs"]:
        bad("runs", "must be a table of named runs, e.g. [runs.simclr]")
    runs: dict[str, RunConfig] = {}
    same: dict[str, str] = {}  # a run's config with its method's defaults filled in -> its name
    for name, spec in raw["runs"].items():
        f = f"runs.{name}"
        if not NAME.match(name):
            bad(f, "run names use lowercase letters, digits, '-' and '_'")
        if not isinstance(spec, dict):
            bad(f, "must be a table (dataset, method, augment, encoder, epochs, batch_size, seed, options)")
        _unknown_keys(spec, {x.name for x in fields(RunConfig)}, f"{f}.", bad)
        for k in RUN_REQUIRED:
            if k not in spec:
                bad(f"{f}.{k}", "missing (a lesson's run spells out its whole config: " + ", ".join(RUN_REQUIRED) + ")")
        if spec.get("encoder") == "auto":
            bad(f"{f}.encoder", "name an encoder (auto would give different runs on different machines)")
        try:
            runs[name] = RunConfig.from_dict({"options": {}, **spec})
            full = check_options(runs[name].method, runs[name].options)  # values too: ranges and types
        except (ValueError, TypeError) as e:
            bad(f, str(e))
        for key, value in runs[name].options.items():
            # the CLI's --option gives text, which check_options reads as a number; in TOML "0.2" in quotes is text,
            # and the run kept it as such: a config unlike the same run's with 0.2 (not reused, nor found identical)
            if isinstance(value, str) and not isinstance(full[key], str):
                bad(f"{f}.options.{key}", f"must be {'true or false' if isinstance(full[key], bool) else 'a number'}, "
                                          f"got {value!r} (text, in quotes): drop the quotes")
        key = json.dumps({**runs[name].to_dict(), "options": full}, sort_keys=True)
        if key in same:
            bad(f, f"the same run as runs.{same[key]} (identical config once the method's defaults are "
                   "filled in): a check comparing them would compare a run with itself; change what this "
                   "run should vary (an option, the augmentation, the seed, ...)")
        same[key] = name

    probes = raw.get("probes", {})
    if not isinstance(probes, dict):
        bad("probes", "must be a table")
    for k in probes:
        if k not in ("supervised_scratch", "seeds", "supervised_steps"):
            bad(f"probes.{k}", "unknown (known: supervised_scratch, seeds, supervised_steps)")
    budgets = probes.get("supervised_scratch", [])
    if not isinstance(budgets, list) or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0
                                               for b in budgets):
        bad("probes.supervised_scratch", "must be a list of labels per class (0 = all)")
    seeds, steps = probes.get("seeds", 3), probes.get("supervised_steps", 200)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or not 1 <= seeds <= 20:
        bad("probes.seeds", "must be a whole number from 1 to 20")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 100_000:
        bad("probes.supervised_steps", "must be a whole number from 1 to 100000")
    scratch_names = {("all" if b == 0 else str(b)) for b in budgets}

    def check_metric(ref: str, fieldname: str) -> None:
        try:
            parse_metric(ref, runs, scratch_names)
        except ValueError as e:
            bad(fieldname, str(e))

    if not isinstance(raw["checks"], list) or not raw["checks"]:
        bad("checks", "must be a list of [[checks]] tables")
    checks = []
    for i, c in enumerate(raw["checks"]):
        f = f"checks[{i}]"
        if not isinstance(c, dict):
            bad(f, "must be a table with left, op, right, margin, says")
        _unknown_keys(c, {"left", "op", "right", "margin", "says"}, f"{f}.", bad)
        for k in ("left", "op", "right", "says"):
            if k not in c:
                bad(f"{f}.{k}", "missing")
        if c["op"] not in OPS:
            bad(f"{f}.op", f"must be one of {', '.join(OPS)}, got {c['op']!r}")
        margin = c.get("margin", 0.0)
        if not isinstance(margin, (int, float)) or isinstance(margin, bool) or margin < 0:
            bad(f"{f}.margin", "must be a number, 0 or more")
        for side in ("left", "right"):
            v = c[side]
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                bad(f"{f}.{side}", "must be a number or a metric like 'simclr.knn_accuracy'")
            if isinstance(v, str):
                if why := _side_syntax(v):
                    bad(f"{f}.{side}", why)
                for term in terms(v):
                    if not is_number(term):
                        check_metric(term, f"{f}.{side}")
        if not isinstance(c["says"], str) or not c["says"].strip():
            bad(f"{f}.says", "must say in words what the check means")
        checks.append(Check(c["left"], c["op"], c["right"], float(margin), c["says"]))

    charts = []
    raw_charts = raw.get("charts", [])
    if not isinstance(raw_charts, list):
        bad("charts", "must be a list of [[charts]] tables")
    for i, c in enumerate(raw_charts):
        f = f"charts[{i}]"
        if not isinstance(c, dict):
            bad(f, "must be a table with kind, and optionally title, runs, metrics")
        _unknown_keys(c, {"kind", "title", "runs", "metrics"}, f"{f}.", bad)
        if c.get("kind") not in CHART_KINDS:
            bad(f"{f}.kind", f"must be one of {', '.join(CHART_KINDS)}"
                + (f", got {c['kind']!r}" if "kind" in c else " (it is missing)"))
        if not isinstance(c.get("title", ""), str):
            bad(f"{f}.title", "must be text")
        names = c.get("runs", [])
        if not isinstance(names, list):
            bad(f"{f}.runs", f"must be a list of runs of this lesson ({', '.join(runs)})")
        if strangers := [n for n in names if not isinstance(n, str) or n not in runs]:
            bad(f"{f}.runs", f"{', '.join(map(repr, strangers))}: not a run of this lesson (its runs: {', '.join(runs)})")
        # a chart naming no runs draws them all: a basic one among them was drawn by no chart, without a word
        if c["kind"] in PROBE_CHARTS and (basic := [n for n in names or runs if runs[n].evaluation != "full"]):
            others = [n for n in runs if n not in basic]
            leave = ("leave it out of the chart, or " if names else "list the chart's runs without it (runs = "
                     f"[{', '.join(json.dumps(n) for n in others)}]), or " if others else "")
            bad(f"{f}.runs", f"{', '.join(map(repr, basic))} has evaluation = 'basic', which computes no probes, so a "
                             f"{c['kind']!r} chart would never draw it: {leave}leave evaluation out of the run (a "
                             "lesson's runs default to full)")
        metrics = c.get("metrics", [])
        if c["kind"] == "metrics" and not metrics:
            bad(f"{f}.metrics", "a 'metrics' chart names the metrics it shows")
        if c["kind"] != "metrics" and "metrics" in c:
            bad(f"{f}.metrics", f"only a chart of kind 'metrics' shows the metrics it lists; a {c['kind']!r} "
                                "chart draws its own: drop the list, or make the chart kind = \"metrics\"")
        if not isinstance(metrics, list):
            bad(f"{f}.metrics", "must be a list of metrics")
        for m in metrics:
            check_metric(m, f"{f}.metrics")
        charts.append(Chart(c["kind"], c.get("title", ""), list(names), list(metrics)))

    return Lesson(id=raw["id"], title=raw["title"].strip(), question=raw["question"].strip(),
                  explanation=raw["explanation"].strip(), expected=raw["expected"].strip(),
                  how_to_read=raw["how_to_read"].strip(), runs=runs, checks=checks, charts=charts,
                  order=raw.get("order", 100), supervised_scratch=tuple(budgets), seeds=seeds,
                  supervised_steps=steps, path=path)


# -- metrics ------------------------------------------------------------------------------------------
def is_number(term: str) -> bool:
    try:
        float(term)
        return True
    except ValueError:
        return False


def signed_terms(expr: str) -> list[tuple[int, str]]:
    """``"a.x - b.y + c.z"`` -> ``[(1, "a.x"), (-1, "b.y"), (1, "c.z")]``: a side's terms with
    their signs (a sign counts only with a space either side: run names may hold '-')."""
    parts = re.split(r" ([+-]) ", expr.strip())
    return [(1, parts[0].strip())] + [(1 if sign == "+" else -1, t.strip()) for sign, t in zip(parts[1::2], parts[2::2])]


def terms(expr: str) -> list[str]:
    """``"a.x - b.y + c.z"`` -> ``["a.x", "b.y", "c.z"]``: a side's terms, without their signs."""
    return [t for _, t in signed_terms(expr)]


def _side_syntax(side: str) -> str | None:
    """Why ``side`` is not a number, a metric or a sum and difference of them, said with the way
    to write it; None when it reads as one (each metric is then checked by ``parse_metric``)."""
    how = ("a side is a number, one metric (RUN.METRIC), or a sum and difference of them with spaces around "
           "each + and -, e.g. 'simclr.knn_accuracy - random.knn_accuracy'; the comparison goes in op (>, >=, <, "
           "<=) and a constant offset in margin")
    parts = terms(side)
    if any(ch in side for ch in "*/()<>=!") or any("+" in t for t in parts) \
            or (len(parts) > 1 and any(is_number(t) for t in parts)):  # a constant offset: margin's
        return f"{side!r} is not a check's side: {how}"
    for term in parts:
        metric = term.partition(".")[2]
        if not is_number(term) and any(ch in metric for ch in "-. "):  # run names may hold '-'; metrics may not
            return f"{side!r} is not a check's side: {how}"
    return None


PROBE_KINDS = ("linear_1_per_class", "rotation_equivariance", "linear", "random_linear", "knn", "random_knn",
               "invariance", "factor")  # computed by the probes a run with evaluation = "basic" skips


def parse_metric(ref: str, runs: dict[str, RunConfig], scratch: set[str] | None = None) -> tuple[str, str, str]:
    """``"simclr.linear@1"`` -> (run name, kind, argument); ValueError saying what is wrong."""
    run, kind, arg = _parse_metric(ref, runs, scratch)
    if kind in PROBE_KINDS and runs[run].evaluation != "full":
        raise ValueError(f"{ref!r}: run {run!r} has evaluation = {runs[run].evaluation!r}, which computes no probes, "
                         "so this number would never come: leave evaluation out (a lesson's runs default to full)")
    return run, kind, arg


def _parse_metric(ref: str, runs: dict[str, RunConfig], scratch: set[str] | None = None) -> tuple[str, str, str]:
    run, dot, metric = ref.partition(".")
    if not dot:
        raise ValueError(f"{ref!r} must look like RUN.METRIC, e.g. 'simclr.knn_accuracy'")
    if run not in runs:
        raise ValueError(f"{ref!r} names run {run!r}, which the lesson does not have ({', '.join(runs)})")
    cfg = runs[run]
    if metric in SUMMARY_METRICS or metric == "rotation_equivariance":
        return run, metric, ""
    kind, _, arg = metric.partition("@")
    if kind in ("linear", "random_linear", "supervised_scratch"):
        if arg not in LINEAR_BUDGETS:
            raise ValueError(f"{ref!r}: labels per class must be one of {', '.join(LINEAR_BUDGETS)}")
        if kind == "supervised_scratch" and arg not in (scratch or set()):
            raise ValueError(f"{ref!r}: add {0 if arg == 'all' else arg} to [probes] supervised_scratch so it is computed")
        return run, kind, arg
    if kind in ("knn", "random_knn"):
        if arg not in KNN_KS:
            raise ValueError(f"{ref!r}: k must be one of {', '.join(KNN_KS)}")
        return run, kind, arg
    if kind.startswith("invariance:"):
        from .augment import OPS as AUG_OPS

        op = kind.split(":", 1)[1]
        if op not in AUG_OPS or arg:
            raise ValueError(f"{ref!r}: invariance:OP with OP one of {', '.join(AUG_OPS)}")
        return run, "invariance", op
    if kind.startswith("factor:"):
        factor = kind.split(":", 1)[1]
        known = DATASET_FACTORS.get(cfg.dataset, ())
        if factor not in known:
            raise ValueError(f"{ref!r}: {cfg.dataset} has no factor {factor!r}"
                             + (f" (factors: {', '.join(known)})" if known else " (only shapes has factors)"))
        if arg not in FACTOR_BUDGETS:
            raise ValueError(f"{ref!r}: labels per factor value must be 2 or all")
        return run, "factor", f"{factor}@{arg}"
    if kind.startswith("epoch:"):
        key = kind.split(":", 1)[1]
        if not re.match(r"^[a-z_][a-z0-9_]*$", key):
            raise ValueError(f"{ref!r}: epoch:KEY@E needs a KEY like effective_rank")
        if key not in EPOCH_KEYS:  # a slip of a key every run logs: said now, not after the lesson trained
            near = next((k for k in EPOCH_KEYS if key in k), None) or nearest(key, EPOCH_KEYS)
            if near:
                raise ValueError(f"{ref!r}: did you mean 'epoch:{near}@{arg}'? Every run logs "
                                 f"{', '.join(EPOCH_KEYS)} after each epoch (a key its method logs itself, such as "
                                 "rotation_acc, is taken as written)")
        if arg != "last" and not (arg.isdigit() and int(arg) <= cfg.epochs):
            raise ValueError(f"{ref!r}: the epoch must be 'last' or 0..{cfg.epochs} (the run's epochs)")
        return run, "epoch", f"{key}@{arg}"
    raise ValueError(f"{ref!r}: unknown metric {metric!r}{_did_you_mean(metric, cfg)}; see docs/lessons.md for the "
                     "metrics a check can name")


def _did_you_mean(metric: str, cfg: RunConfig) -> str:
    """", did you mean 'knn_accuracy'?" for a metric one typo away from one a check can name
    (for ``cfg``'s dataset), else ""."""
    from .augment import OPS as AUG_OPS

    forms = [*SUMMARY_METRICS, "rotation_equivariance", *(f"{k}@{b}" for k in ("linear", "random_linear",
             "supervised_scratch") for b in LINEAR_BUDGETS), *(f"{k}@{n}" for k in ("knn", "random_knn") for n in KNN_KS),
             *(f"invariance:{op}" for op in AUG_OPS), "epoch:effective_rank@last", "epoch:embedding_std@last",
             "epoch:epoch_knn@last", "epoch:loss@last",
             *(f"factor:{f}@{b}" for f in DATASET_FACTORS.get(cfg.dataset, ()) for b in FACTOR_BUDGETS)]
    near = nearest(metric, forms)
    return f", did you mean {near!r}?" if near else ""


@dataclass
class RunData:
    """What a finished run folder holds, read once: summary, probes, epochs, references."""
    summary: dict
    probes: dict
    epochs: list[dict]
    references: dict

    @classmethod
    def read(cls, run_dir: Path | str, summary: dict | None = None) -> "RunData":
        """``summary``: the store's copy, used when the folder has none (yet)."""
        from .runs.artifacts import RunArtifacts

        a = RunArtifacts(run_dir)
        return cls(a.summary or summary or {}, a.probes, a.epochs(), a.references())


def metric_value(lesson: Lesson, data: dict[str, RunData], ref: str) -> float | None:
    """The measured value of ``RUN.METRIC``; None when not (yet) measured."""
    run, kind, arg = lesson.parse_metric(ref)
    d = data.get(run)
    if d is None:
        return None
    if kind == "embedding_std":  # (None where an older version read it on the features: it would not compare)
        v = read_embedding_std(d.summary, d.summary.get("method"))
    elif kind in SUMMARY_METRICS:
        v = d.summary.get(kind)
    elif kind == "rotation_equivariance":
        v = d.probes.get("rotation_equivariance")
    elif kind == "linear":
        v = (d.probes.get(budget_key("linear", "label", budget_of(arg), SEEDS)) or {}).get("mean")
    elif kind == "random_linear":
        v = (d.references.get(budget_key("random-linear", "label", budget_of(arg), SEEDS)) or {}).get("mean")
    elif kind == "supervised_scratch":
        key = budget_key("supervised-scratch", "label", budget_of(arg), lesson.seeds, lesson.supervised_steps)
        v = (d.references.get(key) or {}).get("mean")
    elif kind == "knn":
        v = (d.probes.get("knn_k") or {}).get(arg)
    elif kind == "random_knn":
        v = (d.references.get("random-knn/label") or {}).get(arg)
    elif kind == "invariance":
        v = ((d.probes.get("invariance") or {}).get(arg) or {}).get("score")
    elif kind == "factor":
        factor, budget = arg.split("@")
        v = (((d.probes.get("factors") or {}).get(factor) or {}).get(budget) or {}).get("mean")
    else:  # epoch
        key, at = arg.split("@")
        records = [r for r in d.epochs if key in r]
        if at != "last":
            records = [r for r in records if r.get("epoch") == int(at)]
        v = records[-1][key] if records else None
        if key == "embedding_std" and records:
            v = read_embedding_std(records[-1], d.summary.get("method"))
    return None if v is None else float(v)


def side_value(lesson: Lesson, data: dict[str, RunData], side) -> tuple[float | None, dict]:
    """(value, {term: value}) of a check's side: a number, a metric or a sum and difference."""
    if not isinstance(side, str):
        return float(side), {}
    parts = signed_terms(side)
    vals = {t: (float(t) if is_number(t) else metric_value(lesson, data, t)) for _, t in parts}
    if any(v is None for v in vals.values()):
        return None, vals
    total = sum(sign * vals[t] for sign, t in parts)
    return total, {t: v for t, v in vals.items() if not is_number(t)}


def judge(lesson: Lesson, data: dict[str, RunData]) -> dict:
    """The verdict: each check with its measured numbers and pass/fail, and overall
    ``pass`` (every check), ``partial`` (some), ``fail`` (none) or ``incomplete`` (some
    check lacks a number: a run not finished or a probe not computed)."""
    rows = []
    for c in lesson.checks:
        left, lterms = side_value(lesson, data, c.left)
        right, rterms = side_value(lesson, data, c.right)
        passed = None
        if left is not None and right is not None:
            passed = {">": left > right + c.margin, ">=": left >= right + c.margin,
                      "<": left < right - c.margin, "<=": left <= right - c.margin}[c.op]
        rows.append({"says": c.says, "left": c.left, "op": c.op, "right": c.right, "margin": c.margin,
                     "left_value": _round(left), "right_value": _round(right),
                     "numbers": {k: _round(v) for k, v in {**lterms, **rterms}.items()},
                     "passed": passed, "caveats": _caveats(data, [*lterms, *rterms])
                     + _never_logged(lesson, data, [*lterms, *rterms]) + _within_noise(lesson, data, c, left, right)})
    decided = [r["passed"] for r in rows if r["passed"] is not None]
    n_pass = sum(decided)
    if len(decided) < len(rows):
        overall = "incomplete"
    elif n_pass == len(rows):
        overall = "pass"
    else:
        overall = "partial" if n_pass else "fail"
    return {"lesson": lesson.id, "title": lesson.title, "budget": lesson.budget(), "quick": lesson.quick,
            "verdict": overall, "passed": n_pass, "checks_total": len(rows), "checks": rows,
            "expected": lesson.expected}


def _caveats(data: dict[str, RunData], refs: list[str]) -> list[str]:
    """Why numbers a check reads mean little: an invariance score of a run whose features
    barely tell unrelated images apart (``evaluate.invariance.unreliable_note``)."""
    from .evaluate.invariance import unreliable_note

    out = []
    for run in dict.fromkeys(r.split(".", 1)[0] for r in refs if ".invariance:" in r):
        note = unreliable_note(data[run].probes.get("invariance") or {}) if run in data else None
        if note:
            out.append(f"{run}: {note}")
    return out


# accuracies scored on a run's whole labelled test split (its summary's ``test_images``)
TEST_SPLIT_ACCURACIES = ("knn_accuracy", "linear_accuracy", "linear_1_per_class", "linear", "random_linear",
                         "supervised_scratch", "knn", "random_knn")


def _within_noise(lesson: Lesson, data: dict[str, RunData], check: Check, left: float | None,
                  right: float | None) -> list[str]:
    """Why a decided check could go the other way: its two accuracies, scored on the same test
    images, are closer to its bar than twice the standard error of an accuracy on those images
    (``evaluate.probes.noise_band``), so their draw alone could move them across it. A review
    found lessons passing by margins of 0 and 0.005 on digits' 359 test images, where that is
    0.03, said as plainly as a pass by 0.1."""
    from .evaluate.probes import noise_band

    sides = [check.left, check.right]
    if left is None or right is None or not all(isinstance(t, str) and len(terms(t)) == 1 for t in sides):
        return []
    parsed = [lesson.parse_metric(t) for t in sides]
    if any(kind not in TEST_SPLIT_ACCURACIES for _, kind, _ in parsed):
        return []
    counts = {(data[run].summary or {}).get("test_images") if run in data else None for run, _, _ in parsed}
    if len(counts) != 1 or not (n := next(iter(counts))):  # not known (older runs), or not one test split
        return []
    bar = right + (check.margin if check.op.startswith(">") else -check.margin)
    band = noise_band(left, right, n)
    gap = abs(round(left, 3) - round(bar, 3))  # of the numbers as the check's line shows them
    if gap >= band:
        return []
    side = "above" if left >= bar else "below"
    return [f"{term_words(lesson, check.left)} is {gap:.3f} {side} its bar ({bar:.3f}). That is less than "
            f"{band:.3f}, twice the standard error of an accuracy on these {n:,} test images, so this check could "
            "come out the other way on other test images or another seed."]


def _never_logged(lesson: Lesson, data: dict[str, RunData], refs: list[str]) -> list[str]:
    """Why a number will never come: an ``epoch:KEY`` its finished run never logged (a key of
    another method, say: simclr logs no rotation_acc). Without this the check waits forever."""
    out = []
    for ref in refs:
        run, kind, arg = lesson.parse_metric(ref)
        d = data.get(run)
        if kind != "epoch" or d is None or not d.epochs:
            continue
        at, trained = arg.split("@")[1], lesson.runs[run].epochs
        if at != "last" and int(at) > trained:  # a preview's run, capped
            out.append(f"{ref}: this preview trains {run!r} for {trained} epoch{'s' if trained != 1 else ''}, not "
                       f"{at}, so this check is decided only at the lesson's budget (without --quick)")
            continue
        key = arg.split("@")[0]
        if not any(key in r for r in d.epochs):
            logged = sorted({k for r in d.epochs for k, v in r.items() if k != "epoch" and isinstance(v, (int, float))})
            out.append(f"{ref}: run {run!r} ({lesson.runs[run].method}) finished without logging {key!r} in any "
                       f"epoch, so this check cannot be decided; it logged {', '.join(logged)}")
    return out


def _round(v: float | None) -> float | None:
    """A number as the verdict keeps it: 6 places, so that the 3 its text shows round as every
    page rounds the number itself (kept to 4, a kNN accuracy of 0.785515 became 0.7855 and read
    0.785 beside the 0.786 of the charts, the Gallery and Compare)."""
    return None if v is None else round(v, 6)


CHECK_STATE = {True: "passed", False: "failed", None: "waiting"}  # a verdict row's "passed", in words


SUMMARY_NAMES = {"knn_accuracy": "kNN accuracy", "linear_accuracy": "linear readout, all labels",
                 "embedding_std": "embedding std, all images", "effective_rank": "effective rank, all images",
                 "final_loss": "final loss",
                 "linear_1_per_class": "linear readout, 1 label/class", "train_seconds": "training seconds",
                 "images_per_s": "images per second", "rotation_equivariance": "rotation read off the features"}
# the per-epoch log's numbers, measured on a fixed subset of up to 512 training images (the run's summary measures all its
# images: a lesson's two checks read the same run's effective rank as 2.398 and 2.425 with nothing to say why)
EPOCH_NAMES = {"effective_rank": "effective rank on a fixed subset", "embedding_std": "embedding std on a fixed subset",
               "epoch_knn": "kNN accuracy on a fixed subset", "loss": "loss",
               # the methods' own, each the mean over the epoch's training batches ("rotation_acc, last epoch" was the
               # canonical-view lesson's chart's name for rotation prediction's)
               "rotation_acc": "rotation-prediction accuracy in training",
               "jigsaw_acc": "permutation-prediction accuracy in training",
               "color_acc": "colour-bin accuracy per pixel in training",
               "cluster_acc": "pseudo-label accuracy in training", "train_acc": "label accuracy in training"}


def metric_label(lesson: Lesson, ref: str, with_run: bool = True) -> str:
    """A chart's name for ``RUN.METRIC`` in words: 'simclr.supervised_scratch@1' is
    'simclr: supervised from scratch, 1 label/class' (``with_run=False``: without 'simclr: ',
    for a chart of one run's numbers). A lesson's bars were named by the raw references."""
    run, kind, arg = lesson.parse_metric(ref)

    def labels(n: str, unit: str = "class") -> str:
        return "all labels" if n == "all" else f"{n} label{'' if n == '1' else 's'}/{unit}"

    if kind in SUMMARY_NAMES:
        what = SUMMARY_NAMES[kind]
    elif kind in ("linear", "random_linear", "supervised_scratch"):
        what = {"linear": "linear readout", "random_linear": "random encoder's readout",
                "supervised_scratch": "supervised from scratch"}[kind] + f", {labels(arg)}"
    elif kind in ("knn", "random_knn"):
        what = ("kNN" if kind == "knn" else "random encoder's kNN") + f", k={arg}"
    elif kind == "invariance":
        what = f"invariance to {arg}"
    elif kind == "factor":
        factor, budget = arg.split("@")
        what = f"{factor} probe, {labels(budget, 'value')}"
    else:  # epoch
        key, at = arg.split("@")
        what = f"{EPOCH_NAMES.get(key, key)}, {'last epoch' if at == 'last' else f'epoch {at}'}"
    return f"{run}: {what}" if with_run else what


def is_accuracy(lesson: Lesson, ref: str) -> bool:
    """Whether ``RUN.METRIC`` is an accuracy (a fraction of test images), for a chart's axis."""
    _, kind, arg = lesson.parse_metric(ref)
    return kind in ("knn_accuracy", "linear_accuracy", "linear_1_per_class", "rotation_equivariance", "linear",
                    "random_linear", "supervised_scratch", "knn", "random_knn", "factor") or \
        (kind == "epoch" and "acc" in arg.split("@")[0])


def term_words(lesson: Lesson, term: str) -> str:
    """A check's term in words: 'simclr.linear@10' is "simclr's linear readout (10 labels/class)"."""
    if is_number(term):
        return term
    run, kind, _ = lesson.parse_metric(term)
    what = metric_label(lesson, term, with_run=False)
    what = what.replace(", ", " (", 1) + ")" if ", " in what else what
    # a reference computed beside the run (its labelled subsets, its data) is not the run's own number; where the
    # lesson's runs differ in seed, it names the seed it was drawn with (three "random encoder's kNN" read alike)
    if kind in ("random_linear", "random_knn", "supervised_scratch"):
        seeds = {c.seed for c in lesson.runs.values()}
        return f"{what}, seed {lesson.runs[run].seed}" if len(seeds) > 1 else what
    return f"{run}'s {what}"


def describe_check(row: dict, lesson: Lesson | None = None) -> str:
    """One line: '0.933 > 0.919 + 0.01 (= 0.929)', the bar the left side must pass written out
    (a review read "more than 3 points" in a check's title against "+ 0.03" in its line); a
    side not measured yet is named instead of valued: 'simclr.knn_accuracy >
    random.knn_accuracy + 0.005', or with ``lesson`` in words: "simclr's kNN accuracy >
    random's kNN accuracy + 0.005" (a student read the waiting checks as code). Numbers take 3
    places, more where 3 would print the left side equal to what it is compared with while it is
    not ('0.9304 > 0.9248 + 0.005 (= 0.9298)': at 3 places a check passed on "0.930 > ... (= 0.930)")."""
    sign = 1 if row["op"].startswith(">") else -1
    left, right = row["left_value"], row["right_value"]
    against = None if right is None else right + sign * (row["margin"] or 0)
    places = 3
    while left is not None and against is not None and left != against and places < 6 \
            and f"{left:.{places}f}" == f"{against:.{places}f}":
        places += 1

    def fmt(v, ref):
        if v is not None:
            return f"{v:.{places}f}"
        if not isinstance(ref, str):
            return f"{ref:g}"
        if lesson is None:
            return ref
        # each term after its sign; the first one's (always +) left out
        return " ".join(f"{'+' if sign > 0 else '-'} {term_words(lesson, t)}" for sign, t in signed_terms(ref))[2:]
    margin = f" {'+' if sign > 0 else '-'} {row['margin']:g}" if row["margin"] else ""
    bar = f" (= {against:.{places}f})" if row["margin"] and against is not None else ""
    return f"{fmt(row['left_value'], row['left'])} {row['op']} {fmt(row['right_value'], row['right'])}{margin}{bar}"


# -- extras: the supervised-from-scratch reference ----------------------------------------------------
def scratch_runs(lesson: Lesson) -> list[str]:
    """Runs whose supervised_scratch@B a check or chart reads."""
    refs = [c.left for c in lesson.checks] + [c.right for c in lesson.checks]
    refs += [m for ch in lesson.charts for m in ch.metrics]
    names = []
    for r in refs:
        if isinstance(r, str):
            for t in terms(r):
                if "supervised_scratch@" in t and t.split(".")[0] not in names:
                    names.append(t.split(".")[0])
    return names


def missing_extras(lesson: Lesson, data: dict[str, RunData]) -> list[str]:
    """Runs that are finished but lack the supervised reference the lesson needs."""
    out = []
    for name in scratch_runs(lesson):
        d = data.get(name)
        if d is None:
            continue
        for b in lesson.supervised_scratch:
            key = budget_key("supervised-scratch", "label", b, lesson.seeds, lesson.supervised_steps)
            if key not in d.references:
                out.append(name)
                break
    return out


def compute_extras(lesson: Lesson, run_dirs: dict[str, Path], on_line: Callable[[str], None] | None = None) -> None:
    """Train the supervised-from-scratch reference at the lesson's label budgets (minutes on a
    CPU; cached in SSRL_HOME/references and shared by every run with the same dataset,
    encoder, augmentations and seed)."""
    from .evaluate.suite import supervised_scratch
    from .train import load_trained

    for name in scratch_runs(lesson):
        if name not in run_dirs:
            continue
        trained = load_trained(Path(run_dirs[name]))
        for b in lesson.supervised_scratch:
            t0 = time.perf_counter()
            supervised_scratch(trained, b, seeds=lesson.seeds, steps=lesson.supervised_steps)
            if on_line:
                on_line(f"supervised from scratch, {'all' if b == 0 else b} labels per class: "
                        f"{time.perf_counter() - t0:.0f} s")


# -- planning against the run store ---------------------------------------------------------------------
def config_key(cfg: RunConfig | dict, device_type: str, run_dir: Path | str | None = None) -> str:
    """The resolved config as a string: equal keys, equal runs. With the folder of a run
    with this config, a checkpoint there trained before an option changed the architecture
    (MoCo's BN'd head) keys as it trained (``train.as_trained_config``), so an old run is not
    reused for today's."""
    c = cfg if isinstance(cfg, RunConfig) else RunConfig.from_dict(cfg)
    if run_dir is not None:
        from .runs.artifacts import CHECKPOINT
        from .train import as_trained_config

        ckpt = Path(run_dir) / CHECKPOINT
        if ckpt.exists():
            c = as_trained_config(c, ckpt)
    return c.resolved(device_type).to_json()


PER_RUN = "per run"  # best_runs: a config whose key is read from each run's checkpoint


def on_current_images(dataset: str, run_dir, now: dict[str, str]) -> bool:
    """Whether a run on ``dataset`` learnt the images the set holds now (``now``:
    ``data.custom.imported_fingerprints``). One that trained on an imported set's earlier
    content (re-imported since: the fingerprint its ``dataset.json`` recorded differs) did
    not, and is no run to reuse; a run that recorded none yet (queued, training) is taken as
    current."""
    from .runs.artifacts import RunArtifacts

    fp = now.get(dataset)
    return not fp or (RunArtifacts(run_dir).dataset or {}).get("fingerprint") in (None, fp)


def best_runs(cfgs: dict[str, RunConfig], store, device_type: str | None = None) -> dict[str, dict | None]:
    """For each named config, the run of the store with an identical resolved config (the same
    settings and seed give the same result): a done one first, then a running one, then a
    queued one, then a cancelled one (which can resume), newest first within a status; None
    where there is none. A run on an imported set's earlier content is no twin
    (``on_current_images``)."""
    from .data.custom import imported_fingerprints
    from .runs import worker

    if not cfgs:
        return {}
    device_type = device_type or worker.device_type()
    rank = {"done": 0, "running": 1, "queued": 2, "cancelled": 3}
    best: dict[str, dict] = {}
    keys: dict[str, str | None] = {}  # many runs share a config: resolve each config once
    # only runs that can be a twin: settings that resolving a config leaves as they are (a class's store
    # holds thousands of runs, and the app asks on every rerun of Start and Pretrain)
    same = {k: tuple({getattr(cfg, k) for cfg in cfgs.values()}) for k in ("method", "dataset", "seed", "epochs")}
    now = imported_fingerprints(same["dataset"])
    for row in store.list(tuple(rank), limit=2000, settings=same):
        if not on_current_images(row["config"].get("dataset"), row["run_dir"], now):
            continue
        raw = json.dumps(row["config"], sort_keys=True)
        if raw not in keys:
            try:
                c = RunConfig.from_dict(row["config"])
                keys[raw] = PER_RUN if METHODS[c.method].needs_weights(c.options) else config_key(c, device_type)
            except (ValueError, TypeError, KeyError):
                keys[raw] = None  # a dataset or method since removed, say: never the lesson's run
        key = keys[raw]
        if key is PER_RUN:  # its key depends on its checkpoint (MoCo's BN'd head before 2026-12-02)
            try:
                key = config_key(row["config"], device_type, row["run_dir"])
            except ValueError:
                continue  # a damaged checkpoint: never reused
        if key is None:
            continue
        have = best.get(key)
        if have is None or rank[row["status"]] < rank[have["status"]]:
            best[key] = row  # newest first within a status
    return {name: best.get(config_key(cfg, device_type)) for name, cfg in cfgs.items()}


def plan(lesson: Lesson, store, device_type: str | None = None) -> dict[str, dict]:
    """For each run of the lesson: ``{"action": "reuse" | "wait" | "resume" | "submit", "run": row}``.
    A done run with an identical resolved config is reused; a queued or running one is
    waited for; a cancelled one of the lesson's is resumed from where it stopped (a teacher
    who cancelled the lesson's runs to free the worker loses no epochs); otherwise the run
    must be submitted (``run`` is None, or a cancelled run that is not the lesson's)."""
    out = {}
    action_of = {"done": "reuse", "running": "wait", "queued": "wait", "cancelled": "resume"}
    for name, row in best_runs(lesson.runs, store, device_type).items():
        action = "submit" if row is None else action_of[row["status"]]
        if action == "resume" and row["nickname"] != lesson_nickname(lesson):
            action, row = "submit", None  # someone's own run: the lesson does not requeue it under their name
        out[name] = {"action": action, "run": row}
    return out


def lesson_nickname(lesson: Lesson) -> str:
    """The nickname a lesson's runs are submitted under: shared by the class."""
    from .runs.store import LESSON_NICKNAME

    return f"{LESSON_NICKNAME}{lesson.id}"


def launch(lesson: Lesson, store) -> dict[str, str]:
    """Submit the runs the plan cannot reuse or wait for, all or none; returns {run name: new id}.

    A lesson's runs belong to the lesson (nickname ``lesson:<id>``): the class shares them, and
    since the plan waits for queued or running identical configs, one set per lesson can be
    active at a time however many students press Launch. So the per-nickname limit does not
    apply to them; the queue limit does, for the whole set, and the limit of lessons active at
    once (``Limits.lessons``; ``LimitReached`` otherwise). The
    plan is read before the store's write lock is taken, so two Launches at once may both
    plan to submit; the store then reuses the lesson's identical run (``reuse_same``) instead
    of queueing it twice."""
    from .data.custom import imported_fingerprints
    from .runs import worker

    device_type = worker.device_type()
    now = imported_fingerprints({c.dataset for c in lesson.runs.values()})

    def reusable(config: str, run_dir: str) -> bool:  # as the plan: not an older architecture's, nor older images'
        try:
            cfg = RunConfig.from_dict(json.loads(config))
            return (config_key(cfg, device_type, run_dir) == config_key(cfg, device_type)
                    and on_current_images(cfg.dataset, run_dir, now))
        except ValueError:  # a damaged checkpoint
            return False

    names = [name for name, p in plan(lesson, store, device_type).items() if p["action"] in ("submit", "resume")]
    ids = store.submit_many([lesson.runs[n] for n in names], nickname=lesson_nickname(lesson), reuse_same=True,
                            reusable=reusable)
    return dict(zip(names, ids))


def store_data(planned: dict[str, dict]) -> dict[str, RunData]:
    """RunData of the planned runs that are done."""
    return {n: RunData.read(p["run"]["run_dir"], p["run"]["summary"]) for n, p in planned.items()
            if p["action"] == "reuse"}


# -- headless ---------------------------------------------------------------------------------------------
def find_finished(cfg: RunConfig, roots: list[Path], device_type: str) -> Path | None:
    """A finished run folder under ``roots`` (any depth up to 2) with an identical resolved config."""
    from .runs import artifacts as art

    want = config_key(cfg, device_type)
    for root in roots:
        for conf in sorted(Path(root).glob("*/config.json")) + sorted(Path(root).glob("*/*/config.json")):
            d = conf.parent
            try:
                if (d / art.SUMMARY).exists() and config_key(art.read_json(conf) or {}, device_type, d) == want:
                    return d
            except (ValueError, TypeError):
                continue
    return None


def run_headless(lesson: Lesson, out: Path, reuse_from: list[Path] = (), with_umap: bool = False,
                 on_line: Callable[[str], None] | None = None, train: bool = True) -> dict:
    """Train (or reuse) every run of the lesson in ``out/<run name>``, compute the extras it
    needs, and return the verdict with each run's numbers and times. With ``train`` false,
    only finished folders are judged (the others are ``missing``, the verdict incomplete)."""
    import shutil

    from .runs import artifacts as art
    from .runs import worker
    from .runs.execute import execute
    from .train import preflight

    say = on_line or (lambda s: None)
    device_type = worker.device_type()
    out = Path(out)
    t0 = time.perf_counter()
    # where each run comes from, decided for every run before anything is trained
    sources: dict[str, Path | None] = {}
    for name, cfg in lesson.runs.items():
        d = out / name
        if (d / art.CONFIG).exists():
            # a damaged config.json is said as such (ValueError naming the file), not as another run
            if config_key(art.RunArtifacts(d).run_config(), device_type, d) != config_key(cfg, device_type):
                raise ValueError(f"{d} holds a different run than the lesson's {name!r}: choose another --out "
                                 f"(a --quick preview and the default budget need different folders)")
        if not (d / art.SUMMARY).exists():
            sources[name] = None if d.exists() else find_finished(cfg, list(reuse_from), device_type)
    if train:  # a run that cannot train here is refused before the others spend minutes training
        for name in (n for n, found in sources.items() if found is None):
            try:
                for w in preflight(lesson.runs[name], here=True):
                    say(f"[{lesson.id}] warning: {name}: {w}")
            except (ValueError, FileNotFoundError) as e:  # FileNotFoundError: DatasetMissing
                raise ValueError(f"{lesson.id}: run {name!r} cannot train here, so nothing was trained: {e}") from None
    if train:  # (without it only copies are written: copytree makes the folder they go in)
        out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict] = {}
    dirs: dict[str, Path] = {}
    for name, cfg in lesson.runs.items():
        d = out / name
        dirs[name] = d
        t1 = time.perf_counter()
        if name not in sources:
            status = "reused"
        else:
            found = sources[name]
            if found is not None:
                shutil.copytree(found, d)
                status = f"reused from {found}"
            elif not train:
                runs[name] = {"dir": str(d), "status": "missing"}
                say(f"[{lesson.id}] {name}: missing (not trained: --no-train)")
                continue
            else:
                say(f"[{lesson.id}] training {name}: {cfg.method} on {cfg.dataset}, {count(cfg.epochs, 'epoch')}")
                execute(cfg, d, with_umap=with_umap)
                status = "trained"
        summary = art.read_json(d / art.SUMMARY) or {}
        runs[name] = {"dir": str(d), "status": status, "seconds": round(time.perf_counter() - t1, 1),
                      "train_seconds": summary.get("train_seconds"), "knn_accuracy": _round(summary.get("knn_accuracy")),
                      "linear_accuracy": _round(summary.get("linear_accuracy"))}  # as the checks' numbers
        say(f"[{lesson.id}] {name}: {status} in {runs[name]['seconds']} s")
    t2 = time.perf_counter()
    dirs = {n: d for n, d in dirs.items() if runs[n]["status"] != "missing"}
    data = {n: RunData.read(d) for n, d in dirs.items()}
    if train and missing_extras(lesson, data):
        say(f"[{lesson.id}] computing the supervised-from-scratch reference")
        compute_extras(lesson, dirs, on_line=lambda s: say(f"[{lesson.id}] {s}"))
        data = {n: RunData.read(d) for n, d in dirs.items()}
    verdict = judge(lesson, data)
    verdict["runs"] = runs
    verdict["extras_seconds"] = round(time.perf_counter() - t2, 1)
    verdict["seconds"] = round(time.perf_counter() - t0, 1)
    verdict["device"] = device_type
    return verdict


# -- the extras as a background job the app starts ------------------------------------------------------
def _job_paths(lesson: Lesson) -> tuple[Path, Path]:
    from . import paths

    d = paths.ssrl_home() / "lessons"
    return d / f"{lesson.id}.extras.lock", d / f"{lesson.id}.extras.pending"


def extras_running(lesson: Lesson) -> bool:
    """Whether a background job computes this lesson's extras now (or was started less than a
    minute ago and is still importing)."""
    from .locks import job_active

    return job_active(*_job_paths(lesson))


def start_extras_job(lesson: Lesson, run_dirs: dict[str, str]) -> None:
    """Compute the lesson's extras in a detached process (``python -m ssrl_core.lessons``)."""
    from .runs.worker import spawn_detached

    lock, pending = _job_paths(lesson)
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.touch()
    spawn_detached(["-m", "ssrl_core.lessons", str(lesson.path), *(f"{n}={d}" for n, d in run_dirs.items())],
                   "lessons.log")


def _extras_job(path: str, pairs: list[str]) -> int:
    from .locks import try_lock

    lesson = load(path)
    lock, pending = _job_paths(lesson)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        got = try_lock(fh)
        pending.unlink(missing_ok=True)
        if not got:
            return 1
        compute_extras(lesson, {n: Path(d) for n, _, d in (p.partition("=") for p in pairs)}, on_line=print)
    return 0


if __name__ == "__main__":  # python -m ssrl_core.lessons LESSON.toml RUN=DIR ...
    import sys

    sys.exit(_extras_job(sys.argv[1], sys.argv[2:]))
