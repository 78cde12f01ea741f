"""Export a finished run: everything needed to report it and to run it again.

    python -m ssrl_core export --run DIR|ID --out DIR

writes into ``--out`` (and nowhere else):

    run_card.json / run_card.md   config, seed, package versions, hardware, durations,
                                  metrics, the dataset (for an imported one: image count, size,
                                  fingerprint, archive, and the command that imports it again)
                                  and the command that reproduces the run
    embeddings.npz                embeddings [N, D], labels, split, map, every factor and, for an
                                  imported set that recorded them, each image's file in its archive
    embeddings.csv                one row per image: file, split, label, factors, map x/y, features
                                  (a file or class name that a spreadsheet would run as a formula,
                                  one starting with = + - @ or a tab, is written after a ' there;
                                  embeddings.npz keeps it as it is)
    checkpoint.safetensors        the trained weights (``model.*``) and the run's config in its
                                  metadata (``checkpoint.read_meta``), without the optimiser
                                  state, which only continuing the run in its own folder needs
                                  (a third of the run's file)
    map.html / map.png            the embedding map: interactive Plotly with plotly.js inlined
                                  (opens offline), and a PNG drawn with PIL (no browser needed)
    training.html                 per-epoch loss and kNN accuracy (when the run logged epochs)
    probes.json, epochs.jsonl     the run's cached probes (label efficiency, kNN as k varies,
                                  invariance, factors) and its per-epoch diagnostics, as the pages
                                  read them (when it has them)
    references.json               the untrained network's readouts (and supervised training from
                                  scratch) it is compared with: its reference cache (when computed)
    reproduce.sh                  the ``python -m ssrl_core train ...`` command (for an imported set
                                  after a comment saying to import it first under its name)

The reproduce command carries every field of the run's resolved config as a flag, so it
parses back (``cli.build_parser``) to the same ``RunConfig``.
"""
from __future__ import annotations

import csv
import errno
import json
import os
import platform
import shlex
import shutil
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..device import hardware
from ..evaluate.epochs import EPOCHS_LOG
from ..text import csv_text, disk_full, md
from . import artifacts as art

PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "scipy", "umap-learn", "faiss-cpu", "faiss-gpu",
            "safetensors", "pillow", "plotly", "streamlit")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run depends on (absent ones left out), Python's, and
    this code's: its version and, in a git checkout, its commit."""
    from .. import __version__

    out = {"python": platform.python_version(), "ssrl_core": __version__}
    if commit := code_commit():
        out["ssrl_core_commit"] = commit
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def code_commit() -> str | None:
    """The git commit of this checkout (12 hex digits, "+changes" when files differ from it), or
    None outside a git checkout or without git."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+changes" if dirty else "")


# the command imports ssrl_core, which the README's quick start does not install as a package
RUN_FROM = "run it from the SSRL Playground repository's root folder, in its virtual environment"


def trained_options(cfg: RunConfig) -> dict:
    """Every option of the run's method, the defaults it trained with included."""
    from ..pretext import check_options
    from ..pretext.base import as_trained

    with as_trained():  # the options the run had, even where a range has narrowed since
        return check_options(cfg.method, cfg.options)


DEVICE_NOTE = ("device and precision as the run trained: with --device auto --precision auto this machine picks its "
               "own (a GPU trains faster, with slightly different numbers)")


def reproduce_command(cfg: RunConfig, out: str = "runs/reproduced", trained_on: dict | None = None) -> str:
    """``python -m ssrl_core train ...`` with one flag per config field and one ``--option``
    per method option, defaults included, so a later change of a default does not change
    the run. ``trained_on`` (the summary's ``device`` and ``precision``) replaces an ``auto``
    device and precision by those the run trained with: ``auto`` on a colleague's GPU would
    train another way (``DEVICE_NOTE``). A full evaluation whose summary has no UMAP map
    (``umap_seconds``: `train --no-umap`, a lesson's run) adds ``--no-umap``, so that the
    command evaluates as the run did."""
    t = trained_on or {}
    device = t.get("device") if cfg.device == "auto" and t.get("device") else cfg.device
    precision = t.get("precision") if cfg.precision == "auto" and t.get("precision") else cfg.precision
    args = ["python", "-m", "ssrl_core", "train", "--dataset", cfg.dataset, "--method", cfg.method,
            "--augment", cfg.augment_spec, "--encoder", cfg.encoder, "--epochs", str(cfg.epochs),
            "--batch-size", str(cfg.batch), "--lr", repr(float(cfg.lr)),
            "--weight-decay", repr(float(cfg.weight_decay)), "--seed", str(cfg.seed),
            "--device", device, "--precision", precision, "--evaluation", cfg.evaluation]
    for k, v in sorted(trained_options(cfg).items()):
        args += ["--option", f"{k}={json.dumps(v)}"]
    if cfg.data_dir:
        args += ["--data-dir", cfg.data_dir]
    no_umap = ["--no-umap"] if cfg.evaluation == "full" and t and "umap_seconds" not in t else []
    # on a CPU the same seed gives other numbers at another thread count (1 and 2 threads: kNN 0.916 and 0.905):
    # the count it trained with, where it kept one (torch reads OMP_NUM_THREADS when it starts)
    threads = t.get("train_threads") or []
    env = f"OMP_NUM_THREADS={threads[0]} " if device == "cpu" and len(threads) == 1 else ""
    return env + shlex.join(args + ["--out", out] + no_umap)


def threads_note(summary: dict) -> str:
    """What reproduce.sh says of the CPU threads the run trained with, "" on a GPU or where not
    recorded."""
    threads = summary.get("train_threads") or []
    if summary.get("device") != "cpu" or not threads:
        return ""
    if len(threads) == 1:
        return (f"trained with {threads[0]} CPU thread{'s' * (threads[0] > 1)}, which OMP_NUM_THREADS sets: on a CPU "
                "the same seed gives other numbers at another thread count (about a point of accuracy at 10 epochs)")
    return (f"trained with {' then '.join(map(str, threads))} CPU threads (its worker shared the cores with a probe "
            "job part-way): the command below cannot repeat that, and its numbers may differ by about a point")


def dataset_card(name: str, record: dict | None) -> dict:
    """What a run card says of the run's dataset: its name, whether it was imported (not
    built in) and, from the run's ``dataset.json`` (runs made before it have none), the image
    count, size, channels, content fingerprint and the archive's file name; for an imported
    set, ``import`` is the command that imports it again under its name (``ARCHIVE`` where
    the archive's name was not recorded)."""
    from ..data import DATASETS

    card = {"name": name, **(record or {}), "imported": name not in DATASETS}
    if card["imported"]:
        args = ["python", "-m", "ssrl_core", "import-images", card.get("archive") or "ARCHIVE", "--name", name]
        card["import"] = shlex.join(args + (["--size", str(card["size"])] if card.get("size") else []))
    return card


def _comment(text: str) -> str:
    """``text`` as shell comment lines, each line of it behind its own ``#``: an archive's name
    is a student's upload's, and a line break in it must not end the comment and run the rest."""
    return "".join(f"# {line}\n" for line in text.splitlines() or [""])


def import_note(dataset: dict) -> str:
    """One paragraph on where an imported set's images come from and how to import them again
    before the reproduce command; "" for a built-in set."""
    if not dataset["imported"]:
        return ""
    n, size = dataset.get("images"), dataset.get("size")
    facts = ", ".join(filter(None, [f"{n:,} images" if n else "", f"{size}×{size}" if size else "",
                                    f"fingerprint {dataset['fingerprint']}" if dataset.get("fingerprint") else "",
                                    f"from the archive {dataset['archive']}" if dataset.get("archive") else ""]))
    return (f"The dataset {dataset['name']!r} was imported from your own images" + (f" ({facts})" if facts else "")
            + ", so it is not built in: import it first under that name, from the same archive and at the same "
            "size (the import prints its fingerprint: the same one means the same images).")


def run_card(run_dir: Path, run: dict | None = None) -> dict:
    """The run's card as a JSON-able dict. ``run`` is its store row when it has one (id,
    nickname, times); a bare run folder has only its files."""
    a = art.RunArtifacts(run_dir)
    cfg = a.run_config()  # ValueError naming config.json when it is missing or damaged
    cfg_dict = cfg.to_dict()

    def readable(name: str) -> dict:  # missing: {}; damaged: said (the card would lack its timings, silently)
        path = Path(run_dir) / name
        found = art.read_json(path)
        if found is None and path.exists():
            raise art.unreadable(path, "not a JSON object")
        return found or {}

    summary, evaluated = readable(art.SUMMARY), readable(art.METRICS)
    metrics = {**evaluated, **{k: v for k, v in summary.items() if k not in cfg_dict}}
    durations = {k: v for k, v in metrics.items() if k.endswith("_seconds")}
    metrics = {k: v for k, v in metrics.items()
               if k not in durations and not k.endswith("_error")
               and k not in ("device", "precision", "hardware", "train_threads", "packages")}
    card = {
        # not the run's folder: a path on the machine that trained it, of no use to whoever reads the card
        "id": (run or {}).get("id"), "nickname": (run or {}).get("nickname"),
        # the options as reproduce.sh passes them: every one, defaults included (config.json has those given)
        "config": {**cfg.to_dict(), "options": trained_options(cfg)}, "seed": cfg.seed,
        "dataset": dataset_card(cfg.dataset, a.dataset),
        "trained_on": {"device": summary.get("device"), "precision": summary.get("precision"),
                       **({"hardware": summary["hardware"]} if "hardware" in summary else {}),
                       **({"train_threads": summary["train_threads"]} if summary.get("train_threads") else {}),
                       **({"packages": summary["packages"]} if summary.get("packages") else {})},
        "exported_on": {"hardware": hardware(), "packages": package_versions()},
        "durations_s": durations, "metrics": metrics,
        "errors": {k: v for k, v in {**evaluated, **summary}.items() if k.endswith("_error")},
        # a folder of the run's own: two cards' commands run one after the other both wrote runs/reproduced, and
        # the second was refused as another run's folder
        "reproduce": reproduce_command(cfg, f"runs/reproduced-{run['id']}" if (run or {}).get("id") else
                                       f"runs/reproduced-{Path(run_dir).name}", trained_on=summary),
    }
    if run:
        card["times"] = {k: run.get(k) for k in ("created", "started", "finished")}
        if (run.get("attempts") or 0) > 1:  # a cancel and a resume, or a worker stopped mid-run and replaced
            card["times"]["attempts"] = run["attempts"]
        if run.get("queued_at"):  # cancelled, then resumed: from start to end would count the pause
            card["times"]["resumed"] = run["queued_at"]
        elif run.get("started") and run.get("finished"):
            card["durations_s"]["wall_seconds"] = round(run["finished"] - run["started"], 3)
    return card


# decimals of the card's numbers as the pages show them (3 for accuracies and losses, 1 for seconds...):
# at 4 significant digits a shapes kNN of 0.42449 read 0.4245 on the card and 0.424 on every page, and a
# student rounding the card's by hand got 0.425
CARD_DECIMALS = {"final_loss": 3, "embedding_std": 4, "effective_rank": 1, "images_per_s": 0}


def card_decimals(key: str) -> int | None:
    """How many decimals the card gives the number ``key``; None: four significant digits."""
    if key in CARD_DECIMALS:
        return CARD_DECIMALS[key]
    if "accuracy" in key or key in ("linear_1_per_class", "rotation_equivariance"):
        return 3
    return 1 if key.endswith("_seconds") else None


def _fmt(v, key: str = "") -> str:
    if v is None:  # a setting left at its default (data_dir: SSRL_HOME/data), not Python's None
        return "–"
    if isinstance(v, float):
        places = card_decimals(key)
        if places is not None:
            return f"{v:,.{places}f}"
        return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"  # (not 1.235e+04)
    if isinstance(v, (dict, list)):
        return f"`{json.dumps(v)}`"
    return str(v)


def _machine(h: dict) -> str:
    return (f"{h.get('platform')}, {h.get('cpu_count')} CPUs ({h.get('torch_threads')} torch threads), "
            + (f"{h['cuda']['device']}" if h.get("cuda") else "no CUDA device"))


def card_markdown(card: dict) -> str:
    c = card["config"]
    # the nickname and an error (which may quote an imported file's name) are a student's text: a
    # Markdown viewer opening the card would follow a link or fetch an image written in them
    title = f"{c['method']} on {c['dataset']}" + (f" by {md(card['nickname'])}" if card.get("nickname") else "")
    lines = [f"# Run card: {title}", ""]
    if card.get("id"):
        lines += [f"Run id `{card['id']}`", ""]
    dataset = card.get("dataset") or {}
    if (card.get("times") or {}).get("finished"):
        lines += [f"Finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(card['times']['finished']))}", ""]
    if dataset.get("fingerprint"):  # a built-in set's too: the same fingerprint is the same images
        lines += [f"Dataset {dataset.get('name')}: " + ", ".join(filter(None, [
            f"{dataset['images']:,} images" if dataset.get("images") else "",
            f"{dataset['size']} px" if dataset.get("size") else "", f"fingerprint `{dataset['fingerprint']}`"])), ""]
    lines += ["## Reproduce", ""]
    if dataset.get("imported"):
        # escaped: the archive's name is the uploader's ('[x](javascript:...).zip' was a link in the card)
        lines += [md(import_note(dataset)), "", "```sh", dataset["import"], "```", ""]
    lines += [RUN_FROM[0].upper() + RUN_FROM[1:] + ":", "", "```sh", card["reproduce"], "```", "",
              DEVICE_NOTE[0].upper() + DEVICE_NOTE[1:] + ".", "",
              "## Config", "", "| key | value |",
              "| --- | --- |"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in c.items()]
    lines += ["", "## Metrics", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {_fmt(v, k)} |" for k, v in sorted(card["metrics"].items())]
    if "embedding_dim" in card["metrics"]:  # a review recomputed embedding_std on embeddings.npz and got another number
        lines += ["", "`embedding_std` and `embedding_dim` are read on the method's embedding (its projector's output, "
                  "for a method that has one: where collapse shows first); `effective_rank`, like embeddings.npz and "
                  "embeddings.csv, on the encoder's features, which the map, the neighbours and the probes use."]
    lines += ["", "## Durations (seconds)", "", "| phase | seconds |", "| --- | --- |"]
    lines += [f"| {k.removesuffix('_seconds')} | {_fmt(v, k)} |" for k, v in sorted(card["durations_s"].items())]
    if attempts := (card.get("times") or {}).get("attempts"):  # 374 s read as the run's time, of 515 s over three tries
        lines += ["", f"Trained in {attempts} attempts (resumed after an interruption: a cancel, a stopped worker, or a "
                  "failure mended since): `train` counts the "
                  "time of the epochs the run kept, not the pauses between attempts nor an epoch cut short by "
                  "the interruption, which was trained again."]
    t = card["trained_on"]
    lines += ["", "## Hardware and software", "", f"- trained on: {t.get('device')} ({t.get('precision')})"]
    if t.get("hardware"):
        lines.append(f"- training machine: {_machine(t['hardware'])}")
    if said := threads_note(t):
        lines.append(f"- {said}")
    if t.get("packages"):
        lines.append("- packages when it trained: " + ", ".join(f"{k} {v}" for k, v in t["packages"].items()))
    lines.append(f"- exported on: {_machine(card['exported_on']['hardware'])}")
    lines.append("- packages when exported: " + ", ".join(f"{k} {v}" for k, v in card["exported_on"]["packages"].items()))
    if card.get("errors"):
        lines += ["", "## Errors", ""] + [f"- {k}: {md(v)}" for k, v in card["errors"].items()]
    return "\n".join(lines) + "\n"


def embedding_table(run_dir: Path, dataset=None) -> dict[str, np.ndarray]:
    """Columns of the embeddings export: ``embeddings`` [N, D] and one array [N] per
    row attribute (row, file where the set has file names, split, label, label_name,
    factor_*, map_x, map_y)."""
    from ..data import load_dataset

    a = art.RunArtifacts(run_dir)
    if not (a.dir / art.EMBEDDINGS).exists():  # a finished evaluation wrote it: since deleted, by hand or a cleanup
        raise ValueError(f"{run_dir} has no {art.EMBEDDINGS}: " + (
            "the run folder was damaged or edited by hand (its evaluation wrote it): train the run again, or put the "
            "folder back from a copy" if (a.dir / art.SUMMARY).exists() else "the run's evaluation did not finish"))
    problem = a.embeddings_problem()  # there, but cut short or overwritten
    if problem:
        raise ValueError(problem)
    emb = np.asarray(a.embeddings, dtype=np.float32)
    ds = dataset if dataset is not None else load_dataset(a.config["dataset"])
    stale = a.dataset_mismatch(ds)
    if stale:
        raise ValueError(f"not exported: {stale}")
    cols = {"embeddings": emb, "row": np.arange(len(emb)),
            **({"file": np.array(ds.files, dtype=str)} if ds.files is not None else {}),
            "split": np.where(ds.is_train.numpy().astype(bool), "train", "test"),
            "label": ds.labels.numpy(), "label_name": np.array([ds.label_name(i) for i in range(len(ds))])}
    for name, v in ds.factors.items():
        cols[f"factor_{name}"] = v.numpy()
    coords, kind = a.map()
    if coords is not None and len(coords) == len(emb):
        cols["map_x"], cols["map_y"] = coords[:, 0], coords[:, 1]
        cols["map_kind"] = np.array(kind)
    return cols


def write_npz(path: Path, cols: dict[str, np.ndarray]) -> None:
    """What ``np.savez_compressed(path, **cols)`` writes (one ``NAME.npy`` per column in a
    deflated zip; ``np.load`` reads it), also for a column named ``file``, which that function
    takes for its own first argument."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, v in cols.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(v), allow_pickle=False)


def write_embeddings(cols: dict[str, np.ndarray], out: Path, stem: str = "embeddings") -> list[Path]:
    """``out/STEM.npz`` (every column) and ``out/STEM.csv`` (one row per image: the columns of
    one value per image, then the features ``f0``...)."""
    write_npz(out / f"{stem}.npz", cols)
    emb = cols["embeddings"]
    per_row = [k for k, v in cols.items() if k != "embeddings" and np.ndim(v) == 1]
    text = [k for k in per_row if cols[k].dtype.kind in "US"]  # file, split, label_name, text factors
    with open(out / f"{stem}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(per_row + [f"f{j}" for j in range(emb.shape[1])])
        for i in range(len(emb)):
            w.writerow([csv_text(str(cols[k][i])) if k in text else cols[k][i] for k in per_row]
                       + [f"{x:.6g}" for x in emb[i]])
    return [out / f"{stem}.npz", out / f"{stem}.csv"]


EXPORT_TEMPLATE = "plotly_white"
REFERENCES = "references.json"


# training.html's curves, named as the app's Compare page names the same ones (its "pretext loss" and "kNN accuracy
# (subset)" charts): the file said the log's field names, "loss" and "epoch_knn"
TRAINING_CURVES = (("loss", "pretext loss"), ("epoch_knn", "kNN accuracy (subset)"))


def training_figure(epochs: list[dict], title: str):
    """The per-epoch loss and kNN accuracy of ``epochs`` (``epochs.jsonl``'s rows), a plot each,
    stacked on one epoch axis, loss above. They were one plot with the kNN on a second axis at its
    right, which Plotly fitted to the curve's own range: 0.861 to 0.914 filled the height, so 5
    points looked huge, and its ticks (0.8652, 0.8758) sat on the loss axis's grid lines. The kNN's
    axis spans at least ``ACCURACY_SPAN``, as the app's accuracy curves do."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..figures import ACCURACY_SPAN, span_range

    x = [e.get("epoch") for e in epochs]
    series = [(key, name, [e.get(key) for e in epochs]) for key, name in TRAINING_CURVES]
    drawn = [(key, name, y) for key, name, y in series if any(v is not None for v in y)]
    fig = make_subplots(rows=max(1, len(drawn)), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for row, (key, name, y) in enumerate(drawn, start=1):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name), row=row, col=1)
        fig.update_yaxes(title_text=name, row=row, col=1,
                         range=span_range(y, ACCURACY_SPAN) if key == "epoch_knn" else None)
    fig.update_xaxes(title_text="epoch", dtick=1, row=max(1, len(drawn)), col=1)
    fig.update_layout(title=f"{title}: per epoch", template=EXPORT_TEMPLATE, height=200 + 220 * len(drawn),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def write_figures(run_dir: Path, cols: dict[str, np.ndarray], label_names: list[str], out: Path, title: str) -> list[Path]:
    """map.html, map.png and (when the run logged epochs) training.html."""
    from ..figures import embedding_map, map_png

    written = []
    if "map_x" in cols:
        coords = np.stack([cols["map_x"], cols["map_y"]], axis=1)
        labels = cols["label"]
        fig = embedding_map(coords, labels, label_names, title=f"{title} ({cols['map_kind']}, coloured by label)")
        # a template of its own: written from the app, plotly's default is Streamlit's placeholder, whose colours only
        # the app's page fills in, and the file drew both training curves in black
        fig.update_layout(template=EXPORT_TEMPLATE)
        # plotly.js inlined (about 4.6 MB): the file opens with no network, as the class uses it
        fig.write_html(out / "map.html", include_plotlyjs=True, full_html=True)
        (out / "map.png").write_bytes(map_png(coords, labels, size=800, value_names=label_names))
        written += [out / "map.html", out / "map.png"]
    epochs = art.RunArtifacts(run_dir).epochs()
    if epochs:
        fig = training_figure(epochs, title)
        fig.write_html(out / "training.html", include_plotlyjs=True, full_html=True)
        written.append(out / "training.html")
    return written


def refuse_home(out: Path, flag: str = "--out") -> None:
    """ValueError when ``out`` is the playground's home (SSRL_HOME) or inside a folder it keeps
    there (``HOME_OWN``): an export into SSRL_HOME wrote twelve files beside store.sqlite, one
    into exports/ID overwrote the app's own export of that run."""
    from ..paths import home_path

    home, where = home_path().resolve(), Path(out).resolve()
    own = next((home / d for d in HOME_OWN if (home / d).resolve() in (where, *where.parents)),  # (a link elsewhere)
               home if where == home else None)
    if own is not None:
        said = "the playground's home (SSRL_HOME)" if own == home else f"inside {own}, which the playground keeps"
        raise ValueError(f"{flag} {out} is {said}: give a folder of your own to write into; nothing was written")


HOME_OWN = ("runs", "exports", "data", "references", "cache", "workers", "lessons", "probe_jobs")  # (SSRL_HOME's)


def refuse_run_folder(out: Path, what: str, home: bool = False) -> None:
    """ValueError, before anything is written, when ``out`` holds a run (``what`` would
    replace its files) or lies inside a run's folder (deleting the run would delete it); with
    ``home``, then when it is one of the playground's own folders (``refuse_home``)."""
    out = Path(out).absolute()
    if (out / art.CONFIG).exists():
        raise ValueError(f"{out} holds a run (its {art.CONFIG}), whose files would be replaced: give a new folder "
                         f"for {what}; nothing was written")
    for folder in out.parents:
        if (folder / art.CONFIG).exists() and (folder / art.CHECKPOINT).exists():
            raise ValueError(f"{out} is inside the run folder {folder}, and deleting the run would delete it: give "
                             f"a folder of your own for {what}; nothing was written")
    if home:  # (after the run folder's own reasons, which say more)
        refuse_home(out)


@contextmanager
def staged(out: Path, prefix: str, replaces: frozenset[str] = frozenset()):
    """A temporary folder inside ``out`` (created) to write files into; when the block ends
    without an error, each file in it is moved into ``out`` (``os.replace``: a file of the same
    name is replaced by a whole one), and the folder goes either way. So output cut short (a
    full disk: raised as ENOSPC naming ``out``) leaves none of its files behind and an earlier
    one's intact. ``replaces``: the names an earlier output of this kind may have left in
    ``out``; those this one did not write are removed (no other file is touched)."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out))
    try:
        yield tmp
        written = {f.name for f in tmp.iterdir()}
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
        for name in replaces - written:  # an export of the run from before its probes were computed had none
            (out / name).unlink(missing_ok=True)
    except OSError as e:
        if disk_full(e):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out)) from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# every file an export may write: an export again into the same folder removes those it no longer writes
EXPORT_FILES = frozenset({"run_card.json", "run_card.md", "reproduce.sh", "embeddings.npz", "embeddings.csv",
                          art.CHECKPOINT, art.PROBES, EPOCHS_LOG, REFERENCES, "map.html", "map.png", "training.html"})


def same_run(card: dict, other: dict) -> bool:
    """Whether two run cards are of one run: its id, or (a run trained with ``train --out``, which
    has none) its reproduce command, which carries its settings and folder name."""
    return card.get("id") == other.get("id") and (card.get("id") is not None or
                                                   card.get("reproduce") == other.get("reproduce"))


def export_run(run_dir: Path | str, out: Path | str, run: dict | None = None, dataset=None,
               home_refused: bool = True) -> dict[str, str]:
    """Write the export of a finished run folder into ``out`` (created; an earlier export of
    the same run there is replaced, one of another run refused; with ``home_refused``, not into
    the playground's own folders: the app's export, written under SSRL_HOME/exports, passes
    False). Returns {name: path} of what
    was written. The files are written into a temporary folder inside ``out`` and moved into
    place once all are complete, so an export cut short (a full disk) leaves none of its files
    behind and an earlier export's intact."""
    from ..checkpoint import read_meta, save_weights
    from ..train import FINISHED_DAMAGED

    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / art.CHECKPOINT).exists():
        raise ValueError(f"{run_dir} has no {art.CHECKPOINT}: export needs a finished run")
    try:
        read_meta(run_dir / art.CHECKPOINT)  # a cut-short file fails here; copied, it would fail the colleague
    except ValueError as e:
        raise ValueError(f"{e}: {FINISHED_DAMAGED}; nothing was exported") from None
    card = run_card(run_dir, run)
    if dataset is None:
        from ..data import load_dataset

        dataset = load_dataset(card["config"]["dataset"])
    cols = embedding_table(run_dir, dataset)
    if out.resolve() == run_dir.resolve():
        raise ValueError("--out must be a new folder, not the run folder itself")
    refuse_run_folder(out, "the export", home=home_refused)
    # another run's export there: its probes.json stayed beside this run's card when this one had none, and a colleague
    # read the first run's label efficiency as the second's
    if (earlier := art.read_json(out / "run_card.json")) is not None and not same_run(earlier, card):
        which = f"run {earlier['id']}" if earlier.get("id") else "another run"
        raise ValueError(f"{out} holds the export of {which} (its run_card.json): give a new folder for this run's "
                         "export, or delete that one first; nothing was written")
    # (only over an earlier export: a folder of the user's own keeps its probes.json, which this run's export lacked)
    with staged(out, ".export-", replaces=EXPORT_FILES if earlier is not None else frozenset()) as tmp:
        files = []
        art.write_json(tmp / "run_card.json", card)
        (tmp / "run_card.md").write_text(card_markdown(card), encoding="utf-8")
        first = _comment(import_note(card["dataset"])) + _comment("  " + card["dataset"]["import"]) \
            if card["dataset"]["imported"] else ""
        threads = _comment(said) if (said := threads_note(card.get("trained_on") or {})) else ""
        (tmp / "reproduce.sh").write_text(f"#!/bin/sh\n# {RUN_FROM}\n{first}# {DEVICE_NOTE}\n{threads}"
                                          + card["reproduce"] + "\n", encoding="utf-8")
        (tmp / "reproduce.sh").chmod(0o755)  # `./reproduce.sh` said "Permission denied"
        files += [tmp / "run_card.json", tmp / "run_card.md", tmp / "reproduce.sh"]
        files += write_embeddings(cols, tmp)
        save_weights(run_dir / art.CHECKPOINT, tmp / art.CHECKPOINT)  # (a copy was two thirds optimiser state)
        files.append(tmp / art.CHECKPOINT)
        # what the pages show beyond the card's headline numbers (label efficiency, kNN as k varies, invariance, each
        # epoch's diagnostics, the untrained network's readouts): a handed-in export could not back them
        for name in (art.PROBES, EPOCHS_LOG):
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, tmp / name)
                files.append(tmp / name)
        if refs := art.RunArtifacts(run_dir).references():
            art.write_json(tmp / REFERENCES, refs)
            files.append(tmp / REFERENCES)
        title = f"{card['config']['method']} · {card['config']['dataset']}"
        files += write_figures(run_dir, cols, list(dataset.class_names) or ["unlabelled"], tmp, title)
    return {f.name: str(out / f.name) for f in files}
