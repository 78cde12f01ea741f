"""The command line: everything the app can do, headless. Each command's --help says what it
does; `train --help` lists the run's flags, which `submit` takes too.

    python -m ssrl_core train --dataset digits --method simclr --out runs/a [--no-umap]
    python -m ssrl_core submit --dataset shapes --method rotation [--nickname NAME]
    python -m ssrl_core runs [--json | --csv] [--limit N] [--nickname NAME] [--status S,S] [--dataset D] [--method M]
    python -m ssrl_core wait ID [ID ...] [--timeout SECONDS] [--json]
    python -m ssrl_core cancel ID [ID ...] | [--nickname NAME] [--all] [--yes] [--wait]
    python -m ssrl_core resume ID
    python -m ssrl_core delete ID [ID ...] | [--status S,S] [--nickname NAME] [--older-than DAYS] [--yes]
    python -m ssrl_core restore-runs [--yes]
    python -m ssrl_core worker [--slot N] [--once] [--idle-exit SECONDS] [--backend local|ray] [--cpus-per-run N]
    python -m ssrl_core list datasets|methods|augmentations|encoders|lessons [--json]
    python -m ssrl_core import-images ARCHIVE [--name NAME] [--size 32] [--replace] [--nickname NAME]
    python -m ssrl_core delete-dataset NAME [--yes]
    python -m ssrl_core probe --run DIR|ID [--target label|FACTOR] [--labels-per-class N] [--finetune] [--seeds 3] [--no-references]
    python -m ssrl_core invariance --run DIR|ID
    python -m ssrl_core lesson NAME --out DIR [--quick | --max-epochs N] [--reuse-from DIR ...] [--no-train] [--umap]
    python -m ssrl_core export --run DIR|ID --out DIR
    python -m ssrl_core embed --run DIR|ID --out DIR PATH [PATH ...] [--device auto|cpu|cuda]
    python -m ssrl_core bench [--method simclr] [--dataset digits] [--encoder cnn-small] [--augment SPEC] [--batch-size 256] [--steps 20] [--warmup 3] [--device auto|cpu|cuda] [--precision auto] [--workers 0,1,2] [--no-reference] [--profile]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from .runs import run_folder


def _run_flags(p: argparse.ArgumentParser) -> None:
    from .config import BATCH_SIZE, DEFAULT_AUGMENT, DEFAULT_BATCH, PRECISIONS, STEPS_PER_EPOCH, RunConfig
    from .data import DATASETS
    from .models import ENCODERS
    from .pretext import METHODS
    from .text import listing

    d = RunConfig()
    sized = {name: list(cls.sized_defaults(100, 16)) for name, cls in METHODS.items()}  # those that scale any
    sized_options = listing([f"{name}'s {' and '.join(keys)}" for name, keys in sized.items() if keys]) or "none"
    aug_defaults = ", ".join(f"{k}: '{v}'" for k, v in DEFAULT_AUGMENT.items())
    p.add_argument("--dataset", required=True,
                   help=f"one of: {', '.join(DATASETS)}; or the name of a set of your own images imported with "
                        "`import-images ARCHIVE --name NAME` (see `list datasets`)")
    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS)}")
    p.add_argument("--augment", default=None,
                   help="a preset (see `list augmentations`) or ops like 'crop(min_scale=0.3),flip'; "
                        f"default: the dataset's preset ({aug_defaults}; others: 'simclr')")
    p.add_argument("--encoder", default="auto", help=f"auto (cnn-small on CPU, resnet18 on CUDA; vit-tiny for mae) or one of: {', '.join(ENCODERS)}")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"pretraining epochs over the train split, 0 to 10000 (default {d.epochs}); 0 trains "
                        "nothing and evaluates the untrained encoder: a random-encoder baseline (the random method "
                        "trains none, whatever is given)")
    batch_defaults = ", ".join(f"{k}: {v}" for k, v in DEFAULT_BATCH.items())
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"images per step, from 2 to 65536 (default: the dataset's, {batch_defaults}; other built-in "
                        f"sets: {BATCH_SIZE}; an imported set's scaled to its size: the largest power of two giving "
                        f"{STEPS_PER_EPOCH} steps an epoch or more, from 16 to {BATCH_SIZE}, and on a set of under 64 "
                        "training images one giving 4 steps or more)")  # (16: SimCLR's MIN_BATCH, not imported here:
    # the parser is built for `runs` too, which imports no PyTorch)
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak AdamW learning rate, cosine schedule (default {d.lr:g})")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help=f"AdamW weight decay (default {d.weight_decay:g})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to train (default auto)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="auto (default): bfloat16 on GPUs and on CPUs with native bf16, float16 with loss "
                        "scaling on older GPUs, float32 elsewhere; float16 needs a GPU")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. --option temperature=0.2 (repeatable; see `list methods`); on an "
                        f"imported set the defaults of {sized_options} are scaled down to its size (the run's config "
                        "records them)")
    p.add_argument("--data-dir", default=None,
                   help="folder of downloadable datasets, and of shapes' generated cache (default SSRL_HOME/data; kept "
                        "in the run's config as an absolute path); digits and imported sets read none")
    p.add_argument("--evaluation", default="full", choices=["full", "basic"],
                   help="after training: full (default: kNN, linear readout, PCA and UMAP maps, probes, map "
                        "evolution) or basic (kNN, linear readout and the PCA map only: seconds)")


def _invariance_description() -> str:
    """`invariance --help`'s text, which reads the evaluation's threshold (a PyTorch module)."""
    from .evaluate.invariance import MIN_SEPARATION

    return ("For each augmentation op: the mean cosine similarity of f(x) and f(op(x)), "
            "scaled so unrelated images score 0 and identical ones 1. An op whose result is "
            "further from the original, in features, than an unrelated image is scores "
            "below 0, with no fixed bound: down to 1 - 2 / (1 - s), s being unrelated "
            "images' mean similarity. "
            f"Where s is above {1 - MIN_SEPARATION:g} (features that barely tell images "
            "apart: a collapsed or untrained encoder) the scale means little: every score "
            "is marked \"reliable\": false with a \"note\", and a warning is printed. "
            "Also the accuracy of a linear probe predicting a 0/90/180/270 degree rotation "
            "from the features (chance 0.25). Cached in the run folder.")


def _config(args) -> tuple:
    """(the run's config, warnings about its flags): the caller prints the warnings once
    nothing else refuses the run (``preflight``), not before a refusal they have nothing to do with."""
    from .augment import repeated
    from .config import parse_options
    from .data import available_datasets, reads_data_dir

    data_dir, warnings = args.data_dir, []
    if data_dir is not None:
        # a file there: refused (a download could not go into it); absolute, as the run's config keeps it: a relative
        # one (or ~) was checked here, then read by a worker started in another folder, which failed the run
        data_dir = str(out_folder(os.path.expanduser(data_dir), "--data-dir").resolve())
        # kept out of the config where it changes nothing the run does (an unknown name: RunConfig says why)
        if args.dataset in available_datasets() and not reads_data_dir(args.dataset):
            warnings.append(f"--data-dir is not used: {args.dataset} reads no data folder")
            data_dir = None
    if args.augment is not None and not args.augment.strip():  # an empty shell variable, most likely
        raise ValueError("--augment is empty: give a preset or ops (`list augmentations` names them), or 'none' for no "
                         "augmentation")
    if args.augment is not None and (twice := repeated(args.augment)):
        raise ValueError(f"--augment {twice}")
    cfg = config_of_flags(dataset=args.dataset, method=args.method, augment=args.augment, encoder=args.encoder,
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                          seed=args.seed, device=args.device, precision=args.precision,
                          options=parse_options(args.option), data_dir=data_dir, evaluation=args.evaluation)
    return cfg, warnings


def config_of_flags(**fields):
    """``RunConfig(**fields)``, each field given by the flag of its name (``batch_size`` by
    --batch-size): a value out of range is refused naming that flag, not the field."""
    from .config import BadSetting, RunConfig

    try:
        return RunConfig(**fields)
    except BadSetting as e:
        raise ValueError(f"--{e.field.replace('_', '-')} {e.rest}") from None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand. Given the ``command`` about to be parsed (``main`` peeks
    at it; "" for none, as in `--help`), the other commands are left without the flags and
    texts that read the registries (datasets, encoders, methods: they import PyTorch), so that
    `runs`, `cancel` or `--help` start in a tenth of a second instead of three."""
    from .config import PRECISIONS

    def full(name: str) -> bool:
        return command is None or command == name

    ap = argparse.ArgumentParser(prog="python -m ssrl_core", description="SSRL Playground: self-supervised "
                                 "pretraining and evaluation, headless. State lives in SSRL_HOME "
                                 "(default ~/.ssrl_playground).")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="pretrain and evaluate in the foreground; print the summary JSON",
                       description="Pretrain in the foreground with a progress bar on stderr (when stderr is not "
                                   "a terminal: a redirect, nohup, a batch job's log, one line per epoch and one "
                                   "per evaluation phase instead), evaluate (kNN, linear "
                                   "probe, maps), write DIR/summary.json and print it. Refused (exit 2) as "
                                   "`submit` refuses a run that could not start (no classroom limits here; "
                                   "the device and the dataset are always this host's, whatever SSRL_BACKEND "
                                   "says); its warnings (options degenerate on this training set and batch) go "
                                   "to stderr and the run trains.")
    if full("train"):
        _run_flags(p)
    p.add_argument("--out", required=True, help="run folder to write (checkpoint, embeddings, maps, summary.json): "
                   "a new or empty folder, or this run's own folder to continue it from its last epoch")
    p.add_argument("--no-umap", action="store_true",
                   help="skip the UMAP maps: the PCA map only, and no map-evolution frames")

    p = sub.add_parser("submit", help="queue a run for the background workers; print its id",
                       description="Queue a run; print its id. Refused (exit 2, nothing queued) when it could "
                                   "not start: an option out of range, a method its dataset or encoder cannot "
                                   "feed, a method option the training set is too small for (more deepcluster "
                                   "n_clusters than training images), and for this host's workers a missing dataset or a --device cuda or "
                                   "--precision float16 without a CUDA GPU (with SSRL_BACKEND=ray the cluster's "
                                   "nodes provide those); or when a classroom limit is reached (exit 4, to try "
                                   "again when runs have ended): SSRL_MAX_QUEUED "
                                   "runs waiting, or SSRL_MAX_ACTIVE_PER_NICKNAME queued or running runs of the "
                                   "same --nickname. Options that train but degenerately on the training set "
                                   "and batch (a moco queue_size above 2 x (training images - batch), a swav queue_size + batch above "
                                   "the training images, deepcluster "
                                   "with under 5 images a cluster, simclr under batch 16) are queued with a "
                                   "'warning:' line on stderr saying why and what to set. Checking the run loads "
                                   "its dataset and builds its method (seconds); on a terminal a line on stderr "
                                   "says so first.")
    if full("submit"):
        _run_flags(p)
    p.add_argument("--nickname", default=None, help="who submitted it (shown in the app; counted by the per-nickname limit)")
    # not a flag of submit's: said with the way to get the files, not as argparse's "unrecognized arguments"
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-umap", action="store_true", help=argparse.SUPPRESS)  # (as --out: said, not "unrecognized")

    from .runs.store import STATUSES

    p = sub.add_parser("runs", help="list runs in the store",
                       description="List the newest runs in the store (SSRL_HOME/store.sqlite), 200 unless "
                                   "--limit says otherwise, newest first: id, status, method, dataset, epoch, who "
                                   "submitted it, and the kNN accuracy of a finished run or why it failed or what "
                                   "it is doing. --nickname, --status, --dataset and --method keep the runs that "
                                   "match (a student's runs, a class's failures); --csv gives them as a table for a "
                                   "spreadsheet.")
    p.add_argument("--json", action="store_true", help="print JSON (id, status, method, dataset, epoch, epochs, error, ...)")
    p.add_argument("--csv", action="store_true",
                   help="print CSV, a row per run: id, submitted, nickname, status, epochs finished, method, dataset, "
                        "epochs, seed, augmentations, options, a finished run's kNN and linear accuracy, effective "
                        "rank, embedding std and training seconds, and why a run failed or was cancelled (a class's "
                        "scores, or its failures, for a spreadsheet)")
    p.add_argument("--limit", type=int, default=200, metavar="N",
                   help="list the newest N runs (default 200; 0: all), after the filters below")
    p.add_argument("--nickname", default=None, help="only the runs submitted under this nickname (any case)")
    p.add_argument("--status", default=None, metavar="S,S",
                   help=f"only runs of these statuses, separated by commas ({', '.join(STATUSES)})")
    p.add_argument("--dataset", default=None, help="only the runs on this dataset")
    p.add_argument("--method", default=None, help="only the runs of this method")

    p = sub.add_parser("wait", help="wait until runs have ended",
                       description="Wait until every run given has ended (done, failed or cancelled), printing "
                                   "each as it ends (`ID: done, knn 0.955`, `ID: failed: why`), so that a script "
                                   "need not poll `runs --json`. Exit status: 0 when every one is done, 1 when one "
                                   "failed or was cancelled, 3 when --timeout passed first (the runs go on), 2 for "
                                   "an id the store does not have. A queued run needs a worker to train it (the "
                                   "app's, or `worker`): when none serves this SSRL_HOME, or a running run's "
                                   "worker is gone, that is said once on stderr, and the wait goes on.")
    p.add_argument("ids", nargs="+", metavar="ID", help="a run id from `submit` or `runs`")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="stop waiting after this many seconds, exit status 3 (default: as long as it takes)")
    p.add_argument("--json", action="store_true", help="at the end, print the runs as `runs --json` does")

    p = sub.add_parser("cancel", help="cancel queued or running runs",
                       description="Cancel runs: a queued one at once, a running one at its next step or "
                                   "evaluation phase (about a second); its checkpoint and what it wrote stay "
                                   "(`resume` continues it). A run that has already ended is said so and left as "
                                   "it is (a script's cleanup may cancel what it started, ended or not); an id "
                                   "the store does not have is refused (exit 2) before any run is cancelled. "
                                   "Instead of ids, --nickname "
                                   "selects that nickname's queued and running runs and --all every one (a "
                                   "class's queue at the end of the lesson); they are listed, and cancelled "
                                   "only with --yes. With --wait, the command returns once each has stopped "
                                   "(`cancel ID --wait && delete ID`).")
    p.add_argument("ids", nargs="*", metavar="ID", help="a run id from `runs`; several are cancelled in turn")
    p.add_argument("--nickname", default=None, help="select the queued and running runs of this nickname")
    p.add_argument("--all", action="store_true", help="select every queued and running run")
    p.add_argument("--yes", action="store_true", help="cancel the runs the selection lists (runs given by id need "
                                                      "none, and take it)")
    p.add_argument("--wait", action="store_true", help="return once every run cancelled has stopped (a running one "
                                                       "stops within seconds)")

    p = sub.add_parser("resume", help="put a cancelled or failed run back in the queue; it continues from its "
                                      "checkpoint",
                       description="Put a cancelled or failed run back in the queue, behind the runs queued now. The "
                                   "worker that takes it continues from the last epoch it finished (its folder's "
                                   "checkpoint), or starts it over if it stopped before its first epoch. A failed "
                                   "run is worth resuming when what failed was around it (a full disk since freed, "
                                   "a dataset restored); one that failed on its settings fails again: submit it "
                                   "with new ones. Refused (exit 2, nothing changed) for a run queued, running or "
                                   "done, or (exit 4) when a classroom limit is reached for its nickname or the "
                                   "queue (as `submit`).")
    p.add_argument("id", help="a cancelled or failed run's id from `runs`")

    p = sub.add_parser("delete", help="delete ended runs: their store rows, folders and app exports",
                       description="Delete runs that have ended (done, failed or cancelled): the store's row and "
                                   "events, the run folder SSRL_HOME/runs/ID and the app's export of it "
                                   "(SSRL_HOME/exports/ID.zip); what the `export` command wrote to a folder of yours "
                                   "stays. A queued or running run is refused (cancel it first), as is one "
                                   "whose probes are being computed; the runs before it in the list are "
                                   "deleted, it and those after it are not (exit 2). Prints each run deleted "
                                   "and the MB freed. Instead of ids, --status, --nickname and --older-than "
                                   "select ended runs (all three together: those matching every one given); "
                                   "they are listed, with their size, and deleted only with --yes (one "
                                   "resumed since it was listed is left, the others deleted: exit 2).")
    p.add_argument("ids", nargs="*", metavar="ID", help="run ids from `runs`")
    p.add_argument("--status", default=None, metavar="S[,S]",
                   help="select ended runs with these statuses: done, failed, cancelled")
    p.add_argument("--nickname", default=None, help="select ended runs submitted by this nickname")
    p.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                   help="select runs that ended more than this many days ago")
    p.add_argument("--yes", action="store_true", help="delete the runs the selection lists (runs given by id need "
                                                      "none, and take it)")

    p = sub.add_parser("restore-runs", help="list again the run folders the run store does not list (after it "
                                            "was damaged or replaced)",
                       description="After the run store was moved aside (damaged), deleted or replaced by an empty "
                                   "one, the folders in SSRL_HOME/runs are no longer listed. This finds each folder "
                                   "holding a run the store does not list and, with --yes, lists it again under its "
                                   "folder's name: as done (with its summary) when its evaluation had finished, "
                                   "otherwise as cancelled at the epoch its checkpoint finished, so `resume` "
                                   "continues it. A folder without a readable config or checkpoint is left as it "
                                   "is, and said why. A run keeps the nickname it was queued with, which its worker "
                                   "recorded in the folder (a `train --out` run, or one from a version before that, "
                                   "has none). Without --yes it only lists what it would restore.")
    p.add_argument("--yes", action="store_true", help="restore the runs listed")

    p = sub.add_parser("worker", help="run queued runs in this process until stopped",
                       description="Serve the run queue in this process. A home has SSRL_WORKERS worker slots "
                                   "(default one per GPU, or one on a CPU machine); this worker takes the "
                                   "first free slot, or --slot N, and exits when none is free. The app starts "
                                   "a worker for every empty slot. While it first waits for a run, a worker loads "
                                   "what every run needs (PyTorch's compiler front end, scikit-learn, faiss, "
                                   "UMAP's cached layout), so the first run starts sooner. With --backend ray (or "
                                   "SSRL_BACKEND=ray) this "
                                   "process is instead the home's one dispatcher, sending runs to a Ray cluster "
                                   "(the app writes its output to SSRL_HOME/dispatcher.log; it stops, saying so, "
                                   "when nothing answers at RAY_ADDRESS within 10 s).")
    p.add_argument("--slot", type=int, default=None, metavar="N", help="take worker slot N (0-based) only")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS", help="exit after this long with nothing to do (0: as soon as the queue is empty; default: never)")
    p.add_argument("--backend", choices=("local", "ray"), default=None,
                   help="local: train in this process; ray: dispatch runs as tasks to the Ray cluster at RAY_ADDRESS "
                        "(a local Ray instance without it). Default: SSRL_BACKEND, else local")
    p.add_argument("--cpus-per-run", type=float, default=None, metavar="N",
                   help="ray only (a local worker refuses it): CPUs each run asks for, more than 0 (default: SSRL_RAY_CPUS_PER_RUN, else 1 on a cluster with GPUs, "
                        "where each run also takes one GPU, and 2 without)")

    p = sub.add_parser("lesson", help="run a lesson headless; print its JSON verdict with the numbers",
                       description="Train (or reuse) every run of a lesson (assets/lessons/NAME.toml, or "
                                   "SSRL_LESSONS_DIR/NAME.toml when that is set) in DIR/<run name>, compute what its checks need, and print the verdict: each check with "
                                   "its measured numbers and pass/fail, the overall verdict (pass, partial, fail, "
                                   "incomplete), "
                                   "and each run's time. A finished folder with the same config is reused. Every run "
                                   "to train is checked first: if one cannot train here, nothing is trained. Exit "
                                   "status: 0 pass, 1 partial or fail, 3 incomplete (a check could not be "
                                   "measured: a run missing, as --no-train leaves one), 2 refused (an unknown lesson, a bad flag, a run that "
                                   "cannot train here).")
    p.add_argument("name", help="a lesson from `list lessons`, or a lesson file's path (my-lessons/crop.toml)")
    p.add_argument("--out", required=True, help="folder for the lesson's run folders")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true",
                        help="a preview: every run capped at 1 epoch and a 20-step, 1-draw supervised reference; "
                             "marked quick in the output (not the lesson's verdict)")
    budget.add_argument("--max-epochs", type=int, default=None, metavar="N",
                        help="a reduced budget: every run capped at N epochs (0: each evaluates its untrained "
                             "encoder) and, as with --quick, a 20-step, 1-draw supervised reference; marked quick "
                             "in the output")
    p.add_argument("--reuse-from", action="append", default=[], metavar="DIR",
                   help="also reuse finished run folders with an identical config found under DIR "
                        "(e.g. other lessons' --out folders); repeatable")
    p.add_argument("--umap", action="store_true", help="also lay out the UMAP maps (skipped by default)")
    p.add_argument("--no-train", action="store_true",
                   help="train nothing: judge the finished run folders only (the verdict says incomplete "
                        "when runs are missing)")

    p = sub.add_parser("import-images", help="import a zip of images as a dataset; print the report JSON",
                       description="Import a .zip of class folders (labelled) or loose images (unlabelled) as "
                                   "dataset NAME under SSRL_HOME/data/custom. Unsafe archives (absolute or '..' "
                                   "names, links, too many or too large members, zip bombs) are refused whole; "
                                   "non-images and corrupt files are skipped and reported.")
    p.add_argument("archive", help="path of the .zip file")
    p.add_argument("--name", help="dataset name: up to 40 lowercase letters, digits, '-' or '_', the first a letter or digit "
                                   "(default: the archive's "
                                   "file name made into one, e.g. 'My Leaves.zip' -> my-leaves). A name already "
                                   "taken is refused, naming a free one, unless --replace")
    p.add_argument("--size", type=int, default=32, help="image side in pixels after resizing, 8 to 256 (default 32)")
    p.add_argument("--replace", action="store_true",
                   help="replace an imported dataset of the same name (a built-in one cannot be replaced)")
    p.add_argument("--nickname", default=None, help="who imported it (recorded in its report; the Data page says it "
                                                    "beside its Delete)")

    p = sub.add_parser("delete-dataset", help="delete a dataset you imported (the runs made on it stay)",
                       description="Delete the imported dataset NAME (its folder under SSRL_HOME/data/custom). "
                                   "Without --yes it only says what would go: its images and size, and the runs "
                                   "made on it. Those runs stay, with their accuracies; their maps, neighbours "
                                   "and probes need the images, which importing the same archive under the same "
                                   "name brings back. Refused while a run on it is queued or training (cancel it "
                                   "first), and for a built-in dataset.")
    p.add_argument("name", help="the imported dataset's name (`list datasets`)")
    p.add_argument("--yes", action="store_true", help="delete it")

    p = sub.add_parser("probe", help="linear readout (or fine-tuning) of a finished run; print JSON",
                       description="Score a finished run's encoder on a label budget: a linear readout on frozen "
                                   "features, or with --finetune the whole encoder trained with a linear head, "
                                   "each over several random draws of the labelled subset (mean and spread), "
                                   "next to the random encoder and supervised training from scratch on the same "
                                   "subsets. Results are cached in the run folder (probes.json). Progress goes to "
                                   "stderr, the JSON to stdout.")
    p.add_argument("--run", required=True, help="a run folder or a run id from `runs`")
    p.add_argument("--target", default="label",
                   help="label (default) or a discrete factor of the dataset: on shapes shape, color, size_bin, "
                        "rotation_bin or position_bin (the other built-in and imported sets have label only)")
    p.add_argument("--labels-per-class", type=int, default=None, metavar="N",
                   help="labelled train images per class (default: every budget of the curve, 1 5 10 50 all, "
                        "those the rarest class can give; 0 = all)")
    p.add_argument("--finetune", action="store_true", help="fine-tune the whole encoder instead of a linear readout "
                                                           "(minutes on a CPU: 200 steps per seed and budget)")
    p.add_argument("--seeds", type=int, default=3, help="draws of the labelled subset per budget, 1 to 20 (default 3)")
    p.add_argument("--no-references", action="store_true",
                   help="skip the random and supervised references; the supervised one trains a network from "
                        "scratch, 200 steps, per budget and draw (13 for digits' five budgets at 3 seeds: about 2 "
                        "minutes on 2 idle CPU cores, 15 or more when other processes load them; each draw is "
                        "said on stderr), once: it is cached for runs of the same dataset, encoder, augmentations "
                        "and seed")

    p = sub.add_parser("invariance", help="invariance of a finished run to each augmentation op; print JSON",
                       description=_invariance_description() if full("invariance") else None)
    p.add_argument("--run", required=True, help="a run folder or a run id from `runs`")

    p = sub.add_parser("export", help="export a finished run: run card, embeddings, checkpoint, figures, reproduce command",
                       description="Write a finished run's card (config, seed, package versions, hardware, "
                                   "durations, metrics) as Markdown and JSON, its embeddings as .npz and .csv "
                                   "(with labels, split, factors and map coordinates), a copy of its checkpoint, "
                                   "the map as HTML (plotly.js inlined, opens offline) and PNG, the per-epoch "
                                   "curves as HTML, the probes (probes.json), per-epoch diagnostics (epochs.jsonl) "
                                   "and untrained-network references (references.json) the pages show, where the "
                                   "run has them, and reproduce.sh: the `train` command with every config "
                                   "field as a flag. Writes only into --out; prints {file: path} as JSON.")
    p.add_argument("--run", required=True, help="a run folder or a run id from `runs`")
    p.add_argument("--out", required=True,
                   help="folder to write (created; files of an export's names are replaced, an earlier export of the "
                        "same run there whole; one of another run is refused; not SSRL_HOME nor a folder it keeps)")

    p = sub.add_parser("embed", help="a finished run's encoder on your own images: features, nearest dataset "
                                     "image and kNN class; write them, print JSON",
                       description="Embed image files, folders of images (searched in their subfolders too, with the "
                                   ".zip archives in them) and .zip archives of images with a finished run's encoder. Each image is prepared as "
                                   "an import prepares it (centre-fitted to the run's image size, grayscale when its "
                                   "dataset is). Writes into --out embedded.npz and embedded.csv, one row per "
                                   "image: file, nearest_row (the most similar image of the run's dataset, its row "
                                   "in an export's embeddings.npz), nearest_similarity (cosine), unlike_the_dataset "
                                   "(the nearest is less similar than 99% of the dataset's images are to their own "
                                   "nearest: a class given to such an image says little) and, for an imported set, "
                                   "nearest_file; on a labelled "
                                   "dataset also nearest_label, predicted (the class the run's kNN classifier, whose "
                                   "accuracy is knn_accuracy, gives it: a weighted vote of the 20 nearest training "
                                   "images) and predicted_share (the winning class's share of that vote); then the "
                                   "features. A file given that is not a readable image, and an archive's members "
                                   "that are not images, are skipped and listed (a folder's files are read when "
                                   "their suffix is an image's). Prints "
                                   "JSON: counts, the files written, the dataset's typical_similarity, how many "
                                   "images are unlike it, what was skipped and why, and how many images each class "
                                   "was predicted for.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="an image file, a folder of images, or a .zip of images")
    p.add_argument("--run", required=True, help="a run folder or a run id from `runs`")
    p.add_argument("--out", required=True, help="folder to write (created; files of the same names are replaced); "
                   "not a run's folder nor the playground's home (SSRL_HOME), which are refused")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to embed (default auto)")

    p = sub.add_parser("bench", help="images per second of one training step, ours and the common recipe; print JSON",
                       description="Time the training step three ways with the same method, encoder, loss and "
                                   "batch: images_per_s (the loop's own step: resident data, batched on-device "
                                   "augmentation), bare_images_per_s (the same step on views made beforehand) and "
                                   "reference_images_per_s (torchvision per-image PIL transforms of the same ops in "
                                   "a DataLoader with its best worker count, default NCHW layout; also measured "
                                   "in channels-last). Prints one JSON line.")
    p.add_argument("--method", default="simclr", help="a method from `list methods` (default simclr)")
    p.add_argument("--dataset", default="digits", help="a dataset from `list datasets` (default digits)")
    p.add_argument("--encoder", default="cnn-small", help="an encoder from `list encoders` (default cnn-small)")
    p.add_argument("--augment", default=None, help="augmentation spec (default: the dataset's preset)")
    p.add_argument("--batch-size", type=int, default=256, help="images per step (default 256)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before each measurement (default 3)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to time it (default auto)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="precision to time it in, as for `train` (default auto; float16 needs a GPU)")
    p.add_argument("--workers", default=None, metavar="N,N,...",
                   help="DataLoader worker counts to try for the reference (default 0 up to the CPU count)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference pipeline")
    p.add_argument("--profile", action="store_true",
                   help="add where the step's time goes: phases (augment, forward, backward, optimizer) and "
                        "operator kinds (convolution, normalisation, ...), from torch.profiler")

    p = sub.add_parser("list", help="list datasets, methods, augmentations, encoders or lessons",
                       description="List what a run can be made of, one per line with a short description: "
                                   "datasets (built-in and imported), methods (with their family), "
                                   "augmentations (presets and ops), encoders, or lessons (each lesson file "
                                   "that does not validate, and each lesson's run that could not train here, "
                                   "is named on stderr, and the exit status is 2).")
    p.add_argument("what", choices=["datasets", "methods", "augmentations", "encoders", "lessons"],
                   help="what to list")
    p.add_argument("--json", action="store_true",
                   help="print JSON: per item its name and description, for datasets whether their files are "
                        "here (`here`: false for a downloadable set not downloaded), and for methods their family, "
                        "options, option help and allowed ranges; for augmentations their kind and ops or "
                        "parameters; for lessons their question and runs")
    return ap


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    args = build_parser(next((a for a in given if not a.startswith("-")), "")).parse_args(argv)
    from .runs.store import LimitReached

    try:
        return COMMANDS[args.command](args)
    except LimitReached as e:  # not the run's fault: a sweep retries later on 4, and gives up on 2
        print(f"error: {e}", file=sys.stderr)
        return LIMIT_EXIT
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        if isinstance(e, FileNotFoundError) and e.errno is not None:  # the system's, on a path: as any OSError's
            return _os_error(e, args)
        from .text import said

        print(f"error: {said(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback; 130 as a shell reports it
        print(f"interrupted{_interrupted_hint(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout piped into a reader that stopped early (`runs --json | head`): not an error
        # of ours; point stdout at nothing so that Python's flush at exit does not fail on the pipe again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a path that cannot be read or written (permissions, a file where a folder goes, ...)
        return _os_error(e, args)


LIMIT_EXIT = 4  # a classroom limit refused a submit or resume: try again when runs have ended


def _os_error(e: OSError, args) -> int:
    """An ``OSError`` on a path said in one line, what was wrong and what to do (not Python's
    "[Errno 2] No such file or directory: '/proc/x'"); exit status 2."""
    from .text import disk_full, not_written

    out = getattr(args, "out", None)
    if disk_full(e):
        where = e.filename or out or "the output"
        print(f"error: {not_written(e, where)}, then try again", file=sys.stderr)
        return 2
    if out and e.filename and Path(out).is_relative_to(str(e.filename)):  # making --out's folder (or one above) failed
        made = "" if Path(str(e.filename)) == Path(out) else f" (at {e.filename})"
        print(f"error: --out {out}: the folder could not be made{made}: {e.strerror or e}: give a folder you can "
              "write into (check the path and its permissions); nothing was written", file=sys.stderr)
        return 2
    where = f": {e.filename}" if e.filename else ""
    print(f"error: {e.strerror or e}{where}: check the path and its permissions", file=sys.stderr)
    return 2



def _interrupted_hint(args) -> str:
    """What a Ctrl-C left: for ``train``, whether a checkpoint was written to continue from."""
    if args.command != "train":
        return ""
    from .runs.artifacts import CHECKPOINT

    if (Path(args.out) / CHECKPOINT).is_file():
        return f": the same command continues from the last finished epoch (its checkpoint is in {args.out})"
    return (f" before the first epoch finished: no checkpoint was saved in {args.out}, so the same command "
            "starts the run over")


def out_folder(path: str, flag: str = "--out") -> Path:
    """``--out``'s folder; ValueError when the path is taken by a file (it would not be replaced).
    A command that writes there also refuses the playground's own folders (``export.refuse_home``)."""
    if not path.strip():
        raise ValueError(f"{flag} is empty: give the path of a folder to write into (it is made when missing)")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {path} is a file, not a folder: give the path of a folder to write into "
                         "(it is made when missing); the file was left as it is")
    return out


def warn(warnings: list[str]) -> None:
    """Each of ``preflight``'s warnings on its own stderr line: the run goes ahead."""
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr, flush=True)


def epoch_line(e: dict) -> str:
    """An ``epoch_end`` event as one line: "epoch 3/10 · loss 4.123 · kNN (subset) 0.812 · 12.3 s"
    (what the record has: an unlabelled set has no kNN, an untrained run no loss). The kNN is the
    epoch probe's, on a subset (as the pages' "kNN accuracy (subset)"): the summary's, on every
    test image, differs (0.861 on the last epoch's line, 0.877 in the summary, in a review)."""
    if not e.get("epochs"):
        return "epoch 0/0 · nothing to train: evaluating the untrained encoder"
    parts = [f"epoch {e['epoch']}/{e['epochs']}"]
    if e.get("loss") is not None:
        parts.append(f"loss {e['loss']:.3f}")
    if e.get("epoch_knn") is not None:
        parts.append(f"kNN (subset) {e['epoch_knn']:.3f}")
    if e.get("images_per_s"):
        parts.append(f"{e['images_per_s']:.0f} img/s")
    if e.get("seconds") is not None:
        parts.append(f"{e['seconds']:.1f} s")
    return " · ".join(parts)


def progress_printer(stream) -> tuple[Callable[[dict], None], Callable[[], None]]:
    """(``on_event`` for ``execute``, a function that ends the display): on a terminal a
    progress bar; elsewhere (a redirect, nohup, a batch job's log) one plain line per epoch and
    one per evaluation phase, flushed as they come, so a long run shows it is alive (a bar
    that turns itself off off a terminal printed nothing until the summary)."""
    from .runs.store import phase_text

    t0 = time.perf_counter()

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    if not stream.isatty():
        def on_line(e: dict) -> None:
            if e["kind"] == "epoch_end":
                say(epoch_line(e))
            elif e["kind"] == "phase":
                say(f"{phase_text(e['phase'])} ({time.perf_counter() - t0:.0f} s in)")
            elif e["kind"] == "resumed":
                say(f"continuing from epoch {e['epoch']} of {e['epochs']} (the folder's checkpoint)")
            elif e["kind"] == "warning":
                say(f"warning: {e['message']}")

        return on_line, lambda: None

    from tqdm import tqdm

    bar = tqdm(total=None, unit="step", file=stream, dynamic_ncols=True)

    def on_event(e: dict) -> None:
        if e["kind"] == "step":
            bar.total = e["total_steps"]
            bar.n = e["step"]
            bar.set_description(f"epoch {e['epoch']}/{e['epochs']}")
            bar.set_postfix(loss=f"{e['loss']:.3f}", img_s=f"{e['images_per_s']:.0f}")
            bar.refresh()
        elif e["kind"] == "phase":
            bar.set_description(phase_text(e["phase"]))
            bar.refresh()
        elif e["kind"] == "warning":
            bar.write(f"warning: {e['message']}", file=stream)

    return on_event, bar.close


def _store_owns(folder: Path) -> bool:
    """Whether ``folder`` is a run's folder in this home's run store."""
    from .runs.store import RunStore

    row = RunStore().get(folder.name)
    return bool(row) and Path(row["run_dir"]).resolve() == folder.resolve()


def cmd_train(args) -> int:
    from .evaluate.epochs import EPOCHS_LOG
    from .runs import artifacts as art
    from .runs.execute import execute
    from .runs.export import refuse_home
    from .train import preflight

    cfg, warnings = _config(args)
    out = out_folder(args.out)
    from .paths import STORE, home_path, runs_dir

    store_runs, real = runs_dir(make=False).resolve(), out.resolve()  # (a link to a run's folder is that folder)
    if real.parent == store_runs and (home_path() / STORE).exists() and _store_owns(real):
        # trained on here, its store row (epochs, accuracies, times) stayed as it was: every page and `runs`
        # showed the old numbers beside the new files' (Evaluate's table 0.883, its kNN-by-k 0.877)
        raise ValueError(f"--out {out} is the folder of run {real.name} of the run store: trained here, the app and "
                         "`runs` would go on showing its old numbers beside the new. To continue a cancelled or "
                         f"failed run, `resume {real.name}`; to train these settings longer, submit them again with "
                         "--epochs N (a new run); or give --out a folder outside "
                         f"{store_runs}; nothing was written")
    refuse_home(out)  # (after the store run's folder, said as such above)
    if out.is_dir() and not (out / art.CHECKPOINT).exists() and not (out / EPOCHS_LOG).exists():
        theirs = sorted(p.name for p in out.iterdir() if p.name != art.TRAINING_LOCK)  # the lock: an attempt's own
        if theirs:  # the run's files would land among them, replacing any of the same names
            raise ValueError(f"--out {out} holds files of its own and no run ({', '.join(theirs[:3])}"
                             f"{', …' if len(theirs) > 3 else ''}): give a new or empty folder (or a run's "
                             "folder, to continue that run); nothing was written")
    # bad options, a method that cannot train here, a device, precision or dataset this host lacks are
    # refused before the folder is made (this command trains here, whatever SSRL_BACKEND says)
    warn(warnings + preflight(cfg, here=True))
    on_event, close = progress_printer(sys.stderr)
    try:
        summary = execute(cfg, out, on_event=on_event, with_umap=not args.no_umap)
    finally:
        close()
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def cmd_submit(args) -> int:
    from .runs.ray_backend import backend
    from .runs.store import RunStore
    from .runs.worker import older_workers, older_workers_text

    from .train import preflight

    if args.out is not None:
        raise ValueError("submit takes no --out: a queued run writes its folder to SSRL_HOME/runs/ID (ID: the id it "
                         "prints); once it is done, `python -m ssrl_core export --run ID --out DIR` writes its files to "
                         "DIR, or `train --out DIR` trains in the foreground into DIR; nothing was queued")
    if args.no_umap:
        raise ValueError("submit takes no --no-umap (a `train` flag): `--evaluation basic` queues a run without the "
                         "UMAP maps, and without the probes and map evolution too (kNN, linear readout and the PCA "
                         "map only); nothing was queued")
    cfg, warnings = _config(args)
    if sys.stderr.isatty():  # for a person waiting at a terminal; stdout stays the id alone, stderr empty for scripts
        print("checking the run (dataset, method, options)…", file=sys.stderr, flush=True)
    # a run that cannot start is refused now, not later in the worker (with SSRL_BACKEND=ray the cluster's
    # nodes, not this host, provide the device and the dataset: preflight leaves those to them)
    warn(warnings + preflight(cfg))
    print(RunStore().submit(cfg, nickname=args.nickname))
    if backend() != "ray" and (older := older_workers()):  # after an upgrade: it would train this run with its code
        warn([older_workers_text(older)])
    return 0


def cmd_runs(args) -> int:
    from .runs.store import RunStore

    if args.limit < 0:
        raise ValueError(f"--limit must be 0 (all runs) or more, got {args.limit}")
    if args.json and args.csv:
        raise ValueError("--json and --csv each print the runs: give one of them")
    from .runs.store import STATUSES
    from .text import meant

    statuses = tuple(dict.fromkeys(filter(None, (s.strip() for s in (args.status or "").split(",")))))
    if bad := [s for s in statuses if s not in STATUSES]:
        raise ValueError(f"--status {', '.join(bad)}: not a status{meant(bad[0], STATUSES)}; the statuses are "
                         f"{', '.join(STATUSES)}")
    settings = {k: (v,) for k, v in (("dataset", args.dataset), ("method", args.method)) if v}
    store = RunStore.if_made()  # none yet: no runs, and none made to say so
    runs = store.list(status=statuses or None, limit=args.limit or -1, settings=settings,  # LIMIT -1: no limit
                      nickname=args.nickname) if store else []
    if args.json:
        print(json.dumps([run_json(r) for r in runs], indent=2))
        return 0
    if args.csv:
        write_runs_csv(runs, sys.stdout)
        return 0
    if not runs and (statuses or settings or args.nickname):
        every = store.list(limit=-1) if store and settings else []  # a typo's likely meaning: "--dataset digts"
        print("no runs match " + ", ".join(
            f"--{k} {v}" + (meant(v, {r[k] for r in every}) if k in settings else "")
            for k, v in (("nickname", args.nickname), ("status", args.status), ("dataset", args.dataset),
                         ("method", args.method)) if v), file=sys.stderr)
        return 0
    if not runs:  # where it looked: a mistyped SSRL_HOME read as an empty store said nothing of the typo (a review)
        from .paths import STORE, home_path
        from .text import count

        where = home_path() / STORE
        from .runs.artifacts import CHECKPOINT

        # run folders beside an empty store (one emptied, or moved aside as damaged): what brings them back; a folder
        # without a checkpoint is none restore-runs restores (it leaves it, and `runs` sent a user there for it)
        folders = [d for d in (home_path() / "runs").glob("*/")
                   if not d.name.startswith(".") and (d / CHECKPOINT).exists()]
        print(f"no runs yet in {where}{'' if where.exists() else ' (no store there yet)'}: " + (
            f"{home_path() / 'runs'} holds {count(len(folders), 'run folder')}, which `python -m ssrl_core "
            "restore-runs` lists in it again" if folders else "submit one with `python -m ssrl_core submit "
            "--dataset digits --method simclr`, or check SSRL_HOME"))
    from .runs.store import epoch_text, folder_gone, phase_text, silence

    rows = []
    for r in runs:
        knn = (r["summary"] or {}).get("knn_accuracy")
        extra = f"knn {knn:.3f}" if knn is not None else (note_line(r["error"]) or phase_text(r["phase"]))
        if r["status"] == "running" and worker_gone(r):
            why = f" ({extra})" if extra else ""
            extra = (f"its worker is gone{why}: start one (`python -m ssrl_core worker`) and the run resumes from its "
                     "last finished epoch")
        elif quiet := silence(r):
            extra = f"{extra}: {quiet}" if extra else quiet
        elif gone := folder_gone(r):
            gone = f"{gone} (`python -m ssrl_core delete {r['id']}`)"
            extra = f"{extra}: {gone}" if extra else gone
        who = f"[{r['nickname']}]" if r["nickname"] else ""
        rows.append([r["id"], r["status"], r["method"], r["dataset"], epoch_text(r), who, extra])
    for line in table(rows):
        print(line)
    return 0


RUN_JSON = ("id", "status", "method", "dataset", "epoch", "epochs", "progress", "phase", "loss", "eta_s", "error",
            "nickname", "created", "started", "finished", "run_dir", "config", "summary")


CSV_SCORES = ("knn_accuracy", "linear_accuracy", "effective_rank", "embedding_std", "train_seconds")


def write_runs_csv(runs: list[dict], out) -> None:
    """``runs`` as CSV, a row each, for a spreadsheet: who submitted it, how many epochs it
    finished (a cancelled or failed run's, which ``epochs`` alone did not say), its settings as it
    trained (a finished run's resolved augmentations), its scores, and its note (why it failed or
    was cancelled, whole: a cell keeps its lines). A text cell a spreadsheet would run as a
    formula (a nickname "=1+1") is written after a ``'``."""
    import csv

    from .config import augment_for
    from .pretext import read_embedding_std
    from .text import csv_text

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "submitted", "nickname", "status", "epochs_done", "method", "dataset", "epochs", "seed",
                     "augment", "options", *CSV_SCORES, "note"])
    for r in runs:
        cfg, summary = r["config"], r["summary"] or {}
        options = ";".join(f"{k}={v}" for k, v in sorted((cfg.get("options") or {}).items()))
        augment = augment_for(r["dataset"], summary.get("augment") or cfg.get("augment"))
        # (an embedding std an older version read on the features: blank, as on the pages)
        scores = {k: summary.get(k) for k in CSV_SCORES} | {"embedding_std": read_embedding_std(summary, r["method"])}
        writer.writerow([r["id"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created"])),
                         csv_text(r["nickname"] or ""), r["status"],
                         r["epochs"] if r["status"] == "done" else r.get("epoch"), r["method"], r["dataset"], r["epochs"],
                         cfg.get("seed"), csv_text(augment), csv_text(options),
                         *("" if scores[k] is None else scores[k] for k in CSV_SCORES), csv_text(r.get("error") or "")])


def run_json(run: dict) -> dict:
    """A run as ``runs --json`` and ``wait --json`` print it: its row's fields, its settings
    (``config``: encoder, batch size, seed, options... of a run not finished too), and
    ``worker_gone``: a running run whose worker has stopped, which stays "running" until a
    worker starts and puts it back in the queue (a script waiting on the status waited forever);
    ``silent``: a running run whose worker holds its slot but has not beaten for ``SILENT_S``
    (stopped with Ctrl-Z, hung), which ``runs`` says with what to do."""
    from .runs.store import silence

    return {**{k: run.get(k) for k in RUN_JSON}, "worker_gone": run["status"] == "running" and worker_gone(run),
            "silent": silence(run) is not None}


def note_line(note: str | None) -> str:
    """A run's note (a failure's reason) as one table cell: its first line, saying where the
    rest is when there is more (a missing dataset's list of files broke the table's rows)."""
    from .text import first_line, one_line

    first, rest = first_line(note)
    return one_line(first) + (" (more in `runs --json`)" if rest else "")


def ended_line(run: dict) -> str:
    """``ID: done, knn 0.955`` / ``ID: failed: why`` / ``ID: cancelled: where it stopped``."""
    knn = (run["summary"] or {}).get("knn_accuracy")
    if run["status"] == "done":
        return f"{run['id']}: done" + (f", knn {knn:.3f}" if knn is not None else "")
    return f"{run['id']}: {run['status']}" + (f": {run['error']}" if run["error"] else "")


NO_WORKER_S = 5.0  # a queued run left with no worker this long is said (``wait_for``)


def wait_for(store, ids: list[str], timeout: float | None = None, poll_s: float = 1.0,
             quiet: bool = False) -> list[dict] | None:
    """Each of ``ids`` once it has ended, its ``ended_line`` printed as it ends (unless
    ``quiet``); None when ``timeout`` seconds passed first. Said once on stderr: no worker
    serving this home while a run waits in the queue, a running run's worker gone."""
    from .runs.ray_backend import backend
    from .runs.store import FINISHED
    from .runs.worker import worker_alive

    end = None if timeout is None else time.monotonic() + timeout
    said, ended = set(), {}
    lonely_since = None  # since when a run waits in the queue with no worker: said after NO_WORKER_S of it (a
    # worker started a second before `wait` takes 1.4 s to hold its slot, and was said to be missing), or at the end

    def no_worker():
        said.add("no worker")
        print("no worker serves this SSRL_HOME, so the queued runs wait: start one (`python -m ssrl_core "
              "worker`, or open the app); waiting", file=sys.stderr, flush=True)

    while True:
        queued_alone = False
        for rid in ids:
            run = store.get(rid)
            if run is None:  # deleted meanwhile
                raise ValueError(f"run {rid} was deleted while waiting for it")
            if rid in ended:
                continue
            if run["status"] in FINISHED:
                ended[rid] = run
                if not quiet:
                    print(ended_line(run), flush=True)
            elif run["status"] == "running" and rid not in said and worker_gone(run):
                said.add(rid)
                print(f"{rid}: its worker is gone: start one (`python -m ssrl_core worker`) and the run resumes from "
                      "its last finished epoch; waiting", file=sys.stderr, flush=True)
            elif run["status"] == "queued" and "no worker" not in said and backend() != "ray" and not worker_alive():
                queued_alone = True
        lonely_since = (lonely_since or time.monotonic()) if queued_alone else None
        if lonely_since is not None and time.monotonic() - lonely_since >= NO_WORKER_S:
            no_worker()
        if len(ended) == len(ids):
            return [ended[rid] for rid in ids]
        if end is not None and time.monotonic() >= end:
            if lonely_since is not None and "no worker" not in said:
                no_worker()
            return None
        time.sleep(poll_s if end is None else max(0.0, min(poll_s, end - time.monotonic())))


def cmd_wait(args) -> int:
    if args.timeout is not None and not 0 <= args.timeout < float("inf"):
        raise ValueError(f"--timeout must be a number of seconds, 0 or more, got {args.timeout:g}")
    store = _store_with_runs(args.ids)
    _known(store, args.ids)
    ids = list(dict.fromkeys(args.ids))
    runs = wait_for(store, ids, args.timeout)
    if runs is None:
        from .runs.store import FINISHED

        left = [r for r in (store.get(i) for i in ids) if r["status"] not in FINISHED]
        print(f"still not ended after {args.timeout:g} s: " + ", ".join(f"{r['id']} ({r['status']})" for r in left),
              file=sys.stderr)
        if args.json:
            print(json.dumps([run_json(store.get(i)) for i in ids], indent=2))
        return 3
    if args.json:
        print(json.dumps([run_json(r) for r in runs], indent=2))
    return 0 if all(r["status"] == "done" for r in runs) else 1


def _known(store, ids: list[str]) -> None:
    """``no_run`` for the first of ``ids`` the store does not have, before any is acted on."""
    from .runs.store import no_run

    for rid in ids:
        if store.get(rid) is None:
            raise no_run(rid)


def worker_gone(run: dict) -> bool:
    """Whether the worker training ``run`` has stopped (killed, or its machine restarted), as a
    worker judges it before putting the run back in the queue (``store.orphaned``); the run
    stays "running" until a worker starts and does so."""
    from .runs.store import orphaned
    from .runs.worker import STALE_S, worker_state

    return orphaned(run, worker_state, STALE_S)


def table(rows: list[list[str]]) -> list[str]:
    """``rows`` as aligned lines: each column as wide as its widest cell (the last unpadded),
    two spaces apart; a column empty in every row is left out."""
    keep = [i for i in range(len(rows[0])) if any(r[i] for r in rows)] if rows else []
    widths = {i: max(len(r[i]) for r in rows) for i in keep[:-1]}
    return ["  ".join(r[i].ljust(widths.get(i, 0)) for i in keep).rstrip() for r in rows]


def _store_with_runs(ids: list[str]):
    """SSRL_HOME's run store for a command on runs; where none has been made yet, ``no_run``
    for the first of ``ids`` (a selection: None, selecting nothing), with nothing made."""
    from .runs.store import RunStore, no_run

    store = RunStore.if_made()
    if store is None and ids:
        raise no_run(ids[0])
    return store


def _by_id_or_selection(ids: list[str], selecting: bool, flags: str) -> None:
    """Refuse a command given both run ids and a selection, or neither. (--yes beside ids is
    taken: they are acted on without it, and a script passing it to be safe failed, exit 2.)"""
    if ids and selecting:
        raise ValueError(f"give run ids or a selection ({flags}), not both")
    if not ids and not selecting:
        raise ValueError(f"say which runs: their ids, or a selection ({flags})")


def _act_on_each(ids: list[str], selecting: bool, act: Callable[[str], str], skipped: str) -> int:
    """Print ``act(id)`` for each run; how many were skipped. Of a selection, a run that ended,
    was resumed or deleted since it was listed (another process: a run finishing as a teacher
    cancels the queue) is skipped with ``skipped`` (formatted with ``rid`` and ``why``) on
    stderr, and the rest are acted on; of ids given, it stops the command as before."""
    from .text import said

    missed = 0
    for rid in ids:
        try:
            print(act(rid))
        except (KeyError, ValueError) as e:
            if not selecting:
                raise
            print(skipped.format(rid=rid, why=said(e)), file=sys.stderr)
            missed += 1
    return missed


def _listed_first(runs: list[dict], yes: bool, verb: str, sizes: list[float] | None = None) -> bool:
    """A selection's runs: without ``yes``, printed (with the ``sizes`` in MB deleting each
    frees) with how to go on, and False; with it, True. Also False, saying so, when there are none."""
    if not runs:
        print(f"no run matches that selection: nothing {verb}")
        return False
    if yes:
        return True
    from .text import count

    rows = [[r["id"], r["status"], r["method"], r["dataset"], r["nickname"] or ""] for r in runs]
    for row, mb in zip(rows, sizes or []):
        row.append(f"{mb:.1f} MB")
    for line in table(rows):
        print(line)
    print(count(len(runs), "run") + (f", {sum(sizes):.1f} MB in their folders and the app's exports of them"
                                      if sizes else "")
          + f": nothing {verb} yet; add --yes to go on")
    return False


def cmd_cancel(args) -> int:
    from .runs.store import ACTIVE

    selecting = args.nickname is not None or args.all
    _by_id_or_selection(args.ids, selecting, "--nickname, --all")
    store = _store_with_runs(args.ids)
    ids = args.ids
    if selecting:
        runs = store.list(ACTIVE, limit=10**9, nickname=None if args.all else args.nickname) if store else []
        if not _listed_first(runs, args.yes, "cancelled"):
            return 0
        ids = [r["id"] for r in runs]

    from .runs.store import FINISHED

    if not selecting:
        _known(store, ids)  # a typo refused before any run is cancelled

    def cancel(rid: str) -> str:
        run = store.get(rid)
        if not selecting and run is not None and run["status"] in FINISHED:  # a script's cleanup: nothing to do
            return f"{rid}: already ended ({run['status']}): nothing to cancel"
        status = store.request_cancel(rid)
        return f"{rid}: " + ("cancelled" if status == "cancelled" else "cancel requested: the run stops at its next step")

    _act_on_each(ids, selecting, cancel, "{rid}: {why} (since it was listed)")
    if args.wait:
        wait_for(store, [i for i in ids if store.get(i) is not None], quiet=True)
    return 0


def cmd_resume(args) -> int:
    store = _store_with_runs([args.id])
    store.resume(args.id)
    run = store.get(args.id)
    # the id first, as cancel and delete say each run they act on (a script's log of several resumes read alike)
    print(f"{args.id}: queued: continues from epoch {run['epoch']} of {run['epochs']}" if run["epoch"] else
          f"{args.id}: queued: starts from the beginning (it had finished no epoch)")
    return 0


def cmd_delete(args) -> int:
    from .runs.remove import delete_run, space_mb
    from .runs.store import FINISHED

    selecting = args.status is not None or args.nickname is not None or args.older_than is not None
    _by_id_or_selection(args.ids, selecting, "--status, --nickname, --older-than")
    store = _store_with_runs(args.ids)
    ids = args.ids
    if selecting:
        statuses = tuple(s.strip() for s in (args.status or ",".join(FINISHED)).split(",") if s.strip())
        if not statuses or any(s not in FINISHED for s in statuses):
            raise ValueError(f"--status takes ended statuses, comma-separated: {', '.join(FINISHED)} (got "
                             f"{args.status!r}); a queued or running run is cancelled first")
        if args.older_than is not None and not 0 <= args.older_than < float("inf"):
            raise ValueError(f"--older-than must be a number of days, 0 or more, got {args.older_than:g}")
        before = time.time() - (args.older_than or 0) * 86400
        runs = [r for r in (store.list(statuses, limit=10**9, nickname=args.nickname) if store else [])
                if args.older_than is None or (r["finished"] or r["created"]) < before]
        sizes = None if args.yes else [space_mb(r) for r in runs]
        if not _listed_first(runs, args.yes, "deleted", sizes):
            return 0
        ids = [r["id"] for r in runs]

    def delete(rid: str) -> str:
        done = delete_run(store, rid)
        return f"deleted {rid} ({done['freed_mb']:g} MB freed)" + (f"; its folder stays: {done['kept']}" if done["kept"] else "")

    return 2 if _act_on_each(ids, selecting, delete, "error: {rid} not deleted: {why}") else 0


def cmd_restore_runs(args) -> int:
    from .paths import runs_dir
    from .runs.restore import describe, unlisted
    from .runs.store import RunStore
    from .text import count

    if not runs_dir(make=False).is_dir():  # said without making a store (or the folder) to find that out
        print(f"no run folders in {runs_dir(make=False)}: nothing to restore")
        return 0
    store = RunStore()
    rows, left = unlisted(store)
    for folder, why in left:
        print(f"left as it is: {folder}: {why}", file=sys.stderr)
    if not rows:  # (with folders left aside, "every run folder is listed already" was not so)
        print(f"every run folder in {runs_dir()} is listed already" + (" or left as it is (above)" if left else "")
              + ": nothing to restore")
        return 0
    for line in table([describe(r) for r in rows]):
        print(line)
    if not args.yes:
        print(f"{count(len(rows), 'run')} to restore: nothing restored yet; add --yes to go on")
        return 0
    done = store.insert_restored(rows)
    print(f"restored {count(len(done), 'run')}" + ("" if len(done) == len(rows) else
                                                    f" ({len(rows) - len(done)} listed meanwhile by another process)"))
    return 0


def cmd_worker(args) -> int:
    from .runs.ray_backend import Dispatcher, backend
    from .runs.worker import Worker, worker_count

    if args.idle_exit is not None and not 0 <= args.idle_exit < float("inf"):  # nan: never idle long enough
        raise ValueError(f"--idle-exit must be a number of seconds, 0 or more, got {args.idle_exit:g}")
    # on either backend (Ray takes a share of a CPU: 0.5 is one)
    if args.cpus_per_run is not None and not 0 < args.cpus_per_run < float("inf"):  # also nan
        raise ValueError(f"--cpus-per-run must be a number of CPUs more than 0, got {args.cpus_per_run:g}")
    if (args.backend or backend()) == "ray":
        if args.slot is not None:
            raise ValueError("--slot is for local workers; the Ray dispatcher has no slot (one per SSRL_HOME)")
        return Dispatcher(cpus_per_run=args.cpus_per_run).serve(once=args.once, idle_exit_s=args.idle_exit)
    if args.cpus_per_run is not None:  # as --slot on Ray: said, not ignored
        raise ValueError("--cpus-per-run is for the Ray dispatcher (--backend ray); a local worker trains one run at "
                         "a time in this process (SSRL_TORCH_THREADS sets its CPU threads): leave it out")
    n = worker_count()
    if args.slot is not None and not 0 <= args.slot < n:
        from .text import count

        why = (f"SSRL_WORKERS={n}" if os.environ.get("SSRL_WORKERS", "").strip() else
               f"this home has {count(n, 'worker slot')}: one per GPU, or one without a GPU; SSRL_WORKERS sets how many")
        raise ValueError(f"--slot must be {'0' if n == 1 else f'from 0 to {n - 1}'} ({why}), got {args.slot}")
    Worker.stop_on_sigterm()
    return Worker(slot=args.slot).serve(once=args.once, idle_exit_s=args.idle_exit, restartable=True)


def cmd_import_images(args) -> int:
    from .data.custom import NameTaken, import_images, suggest_name

    archive = Path(args.archive)
    if archive.is_dir():
        raise ValueError(f"{args.archive!r} is a folder: zip it (one subfolder per class) and give the archive's "
                         "path")
    if not archive.is_file():
        raise FileNotFoundError(f"no file {args.archive!r}: give the path of a .zip archive")
    name = args.name or suggest_name(archive.name, taken=set())  # the file's name made valid, free or not
    from .runs.remove import check_replaceable

    def replaceable():  # before the decoding, and again under the import's lock before replacing
        check_replaceable(name)

    if args.replace:
        replaceable()
    try:
        report = import_images(archive, name, size=args.size, replace=args.replace, before_replacing=replaceable,
                               imported_by=args.nickname)
    except NameTaken:  # refused before anything was written
        given = "--name" if args.name else "the default --name, from the archive's file name"
        raise ValueError(f"a dataset named {name!r} ({given}) exists already: pass --name {suggest_name(name)} "
                         f"(free) to import this archive beside it, or --replace to replace it (if the archive "
                         f"holds the very images of {name!r}, neither is needed: use {name!r} as it is)") from None
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_delete_dataset(args) -> int:
    from .data.custom import check_removable
    from .runs.remove import dataset_deletion, delete_dataset
    from .runs.store import RunStore
    from .text import agree, count

    check_removable(args.name)  # a built-in or unknown set: said before a run store is opened (or made)
    store = RunStore()
    if not args.yes:  # what would go, with the same refusals as the deletion
        plan = dataset_deletion(store, args.name)
        runs = plan["runs"]
        print(f"{plan['name']}: {plan['description']}, {plan['mb']:.1f} MB" + (
            f"; the {count(len(runs), 'run')} made on it would stay ({agree(len(runs), 'its', 'their')} maps, "
            "neighbours and probes need its images)" if runs else "") + ": nothing deleted yet; add --yes to go on")
        return 0
    done = delete_dataset(store, args.name)
    print(f"deleted {done['name']} ({done['mb']:g} MB freed)" + (
        f"; {count(len(done['runs']), 'run')} made on it {agree(len(done['runs']), 'stays', 'stay')}: importing the same "
        f"archive as {done['name']!r} brings back {agree(len(done['runs']), 'its', 'their')} maps, neighbours and "
        "probes" if done["runs"] else ""))
    return 0


def cmd_bench(args) -> int:
    from .speed import step_profile, step_throughput

    if args.steps < 1 or args.warmup < 0:
        raise ValueError("--steps must be at least 1 and --warmup at least 0")
    try:
        workers = [int(w) for w in args.workers.split(",")] if args.workers else None
    except ValueError:
        raise ValueError(f"--workers takes whole numbers separated by commas, like 0,1,2; got {args.workers!r}") from None
    if workers is not None and any(w < 0 for w in workers):
        raise ValueError("--workers counts must not be negative")
    cfg = config_of_flags(dataset=args.dataset, method=args.method, encoder=args.encoder, augment=args.augment,
                          batch_size=args.batch_size, device=args.device, precision=args.precision)
    out = step_throughput(cfg, steps=args.steps, warmup=args.warmup, reference=not args.no_reference,
                          workers=workers)
    if args.profile:
        out["profile"] = step_profile(cfg, steps=min(args.steps, 5), warmup=args.warmup)
    print(json.dumps(out), flush=True)
    return 0


def cmd_list(args) -> int:
    from .augment import PRESET_HELP, PRESETS, describe_ops
    from .data import available_datasets
    from .models import ENCODERS
    from .pretext import METHODS

    broken = {}
    if args.what == "lessons":
        from .lessons import load_each

        lessons, broken = load_each()  # every broken file is named, the valid ones still listed
        items = [{"name": l.id, "description": l.title, "question": l.question, "runs": list(l.runs)}
                 for l in lessons]
        cannot = lessons_that_cannot_train(lessons)
    elif args.what == "datasets":
        from .data import check_files

        # whether its files are here: a script that submitted a set that was not waited for a download to fail
        items = [{"name": k, "description": v, "here": check_files(k) is None} for k, v in available_datasets().items()]
    elif args.what == "methods":
        items = [{"name": k, "family": m.family, "description": m.summary, "options": m.defaults,
                  "option_help": m.option_help, "option_ranges": {key: m.option_allowed(key) for key in m.defaults}}
                 for k, m in METHODS.items()]
    elif args.what == "encoders":
        items = [{"name": k, "description": v} for k, v in ENCODERS.items()]
    else:
        from .config import DEFAULT_AUGMENT

        # which datasets train with each preset unless told otherwise (said only in `train --help` before)
        default_for = {k: [d for d, spec in DEFAULT_AUGMENT.items() if spec == k] for k in PRESETS}
        said = {**default_for, "simclr": ["every other dataset"]}
        items = [{"name": k, "kind": "preset", "description": PRESET_HELP[k] + (
            f"; the default on {', '.join(said[k])}" if said[k] else ""), "ops": PRESETS[k],
                  "default_for": default_for[k]} for k in PRESETS]
        items += [{"name": spec, "kind": "default", "description": f"the default on {d} (no preset: these ops)",
                   "ops": spec, "default_for": [d]} for d, spec in DEFAULT_AUGMENT.items() if spec not in PRESETS]
        items += [{"name": o["name"], "kind": "op", "description": o["description"], "params": o["params"]} for o in describe_ops()]
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        tags = [it.get("kind") or it.get("family") for it in items]  # a preset or op; a method's family
        for line in table([[it["name"], f"[{tag}]" if tag else "", it["description"]] for it, tag in zip(items, tags)]):
            print(line)
    for e in broken.values() if broken else ():
        print(f"error: {e}", file=sys.stderr)
    for said in cannot if args.what == "lessons" else ():
        print(f"error: {said}", file=sys.stderr)
    if args.what == "lessons" and not items and not broken:  # as the Lessons page says it
        from .lessons import ENV_DIR, lessons_dir

        where = lessons_dir()
        if not where.is_dir():
            set_by = f" (set by {ENV_DIR}): point {ENV_DIR} at a folder of lesson .toml files, or unset it for " \
                "the built-in lessons" if os.environ.get(ENV_DIR) else ""
            print(f"error: no lessons: {where} is not a folder{set_by}", file=sys.stderr)
            return 2
        print(f"no lessons in {where}: it holds no .toml files", file=sys.stderr)
    return 2 if broken or (args.what == "lessons" and cannot) else 0


def lessons_that_cannot_train(lessons) -> list[str]:
    """Each run of ``lessons`` that could not start here, as "FILE: runs.NAME cannot train here:
    why" (``train.preflight``: colorization on a grayscale set, mae without vit-tiny, a dataset
    whose files are not here): the file validates, but its Launch or ``lesson`` would refuse it,
    so an author learnt it after the first preview or from a student's page."""
    from .data import check_files
    from .train import preflight

    said = []
    for lesson in lessons:
        for name, cfg in lesson.runs.items():
            # a set whose files are not here is said, not downloaded for a listing (preflight loads the set: a
            # listing set off CIFAR-10's download, and its DatasetMissing ended the listing with no lesson listed)
            if (gone := check_files(cfg.dataset, cfg.data_dir)) is not None:
                said.append(f"{lesson.path.name}: runs.{name} cannot train here yet: {gone.summary}")
                continue
            try:
                preflight(cfg, here=True)
            except (ValueError, FileNotFoundError) as e:
                said.append(f"{lesson.path.name}: runs.{name} cannot train here: {e}")
    return said


def cmd_probe(args) -> int:
    from .evaluate.probes import budget_name, check_budget, sample_std
    from .evaluate.suite import RunProbes, random_linear, supervised_scratch

    if args.seeds < 1 or args.seeds > 20:
        raise ValueError(f"--seeds must be from 1 to 20, got {args.seeds}")
    if args.labels_per_class is not None and args.labels_per_class < 0:
        raise ValueError(f"--labels-per-class must be 0 (all) or more, got {args.labels_per_class}")
    rp = RunProbes(run_folder(args.run), defer_saving_errors=True)  # a read-only run: printed, then said
    rp.job_lock = _probe_lock(rp.dir)  # held while the command computes: the run is not deleted meanwhile
    if args.labels_per_class is None:
        budgets = rp.budgets(args.target)
    else:
        labels = rp.train_labels(args.target)  # an unknown target is said as such, not as a budget
        try:
            check_budget(labels, args.labels_per_class)
        except ValueError as e:
            raise ValueError(f"--labels-per-class {args.labels_per_class}: {e} (on {rp.dataset.name}, "
                             f"target {args.target})") from None
        budgets = (args.labels_per_class,)
    kind = "finetune" if args.finetune else "linear"
    out: dict = {"run": str(rp.dir), "target": args.target, "probe": kind, "results": {}}
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731  (stdout is the JSON)
    t0 = time.perf_counter()

    def draw(what: str) -> Callable[[int, int], None]:  # a network trained per draw: tens of seconds each on a CPU
        return lambda i, n: say(f"  {what}: draw {i} of {n} ({time.perf_counter() - t0:.0f} s in)")

    for b in budgets:
        say(f"{kind} readout, {budget_name(b)} labels per class ...")
        row = (rp.finetune(b, args.target, args.seeds, on_draw=draw("fine-tuning")) if args.finetune
               else rp.linear(b, args.target, args.seeds))
        # the budget per class beside the labelled images it makes in all ("n_labels": 10 alone read as 10 per class)
        entry = {"accuracy": row["mean"], "std": sample_std(row), "values": row["values"],
                 **{k: row[k] for k in ("labels_per_class", "n_labels", "classes") if k in row}}
        if not args.no_references:
            say("  reference: the random encoder's readout")
            entry["random_linear"] = random_linear(rp.trained, b, args.target, args.seeds)["mean"]
            say("  reference: supervised from scratch (cached once per dataset, encoder, augmentations and seed)")
            entry["supervised_scratch"] = supervised_scratch(rp.trained, b, args.target, args.seeds,
                                                             on_draw=draw("supervised from scratch"))["mean"]
        out["results"][budget_name(b)] = entry
    say(f"done in {time.perf_counter() - t0:.0f} s")
    if len(budgets) == 1:
        out.update(out.pop("results")[budget_name(budgets[0])])
    print(json.dumps(out, indent=2, sort_keys=True))  # (the same bytes whether computed or read from the cache)
    _say_unsaved(rp)
    return 0


def _probe_lock(folder: Path):
    """The run's probe-job lock, held by this command (its open file; None for a run folder that
    cannot be written, where nothing else writes either): two probes of one run computed the same
    networks at once, on 2 cores twice the wait, and `delete` took the run from under one, whose
    results went nowhere (a chaos review). ValueError when another job holds it."""
    from .locks import try_lock
    from .runs import artifacts as art

    try:
        fh = open(Path(folder) / art.JOB_LOCK, "a")
    except OSError:
        return None
    if not try_lock(fh):
        fh.close()
        raise ValueError(f"a probe job computes the probes of {folder} now (the app's, or another `probe`): wait for "
                         "it to end; what it computes is cached, and this command then answers from it")
    return fh


def _say_unsaved(rp) -> None:
    """After a command printed what ``rp`` computed: a note when its cache (the run folder's
    probes.json) could not be read and was moved aside; ValueError when it could not be
    written, saying why and what to do."""
    from errno import EACCES, EPERM, EROFS

    from .text import not_written

    e, where = rp.cache.unsaved, rp.cache.path
    if rp.cache.set_aside is not None:
        print(f"note: {where} held no readable results (cut short or edited by hand): it is kept as "
              f"{rp.cache.set_aside}" + (f", and {where.name} now holds what this command computed" if e is None
                                         else ""), file=sys.stderr)
    if e is None:
        return
    if e.errno in (EACCES, EPERM, EROFS):
        why = (f"the folder {where.parent} is not writable ({e.strerror}): make it writable (e.g. chmod u+w), or "
               "copy the run folder somewhere you can write and give that copy")
    else:
        why = not_written(e, where)
    raise ValueError(f"the result printed above could not be saved to {where}: {why}; until it is saved, this "
                     "command computes it again each time")


def cmd_lesson(args) -> int:
    from .lessons import CHECK_STATE, QUICK_EPOCHS, describe_check, load_by_name, run_headless

    if args.max_epochs is not None and args.max_epochs < 0:
        raise ValueError(f"--max-epochs must be 0 or more, got {args.max_epochs}")
    for folder in args.reuse_from:  # mistyped, it would only mean training again what was there to reuse
        if not Path(folder).is_dir():
            raise ValueError(f"--reuse-from {folder}: no such folder: give a folder of run folders (a lesson's "
                             "--out, or SSRL_HOME/runs)")
    lesson = load_by_name(args.name)
    cap = QUICK_EPOCHS if args.quick else args.max_epochs
    lesson = lesson.scaled(cap)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    from .runs.export import refuse_home

    out = out_folder(args.out)
    refuse_home(out)
    verdict = run_headless(lesson, out, reuse_from=[Path(p) for p in args.reuse_from],
                           with_umap=args.umap, on_line=say, train=not args.no_train)
    # the verdict as the page gives it, for whoever reads the terminal rather than the JSON
    say(f"[{lesson.id}] verdict: {verdict['verdict']} ({verdict['passed']} of {verdict['checks_total']} checks passed)")
    for row in verdict["checks"]:
        say(f"  {CHECK_STATE[row['passed']]}: {row['says']}: {describe_check(row, lesson)}")
        for caveat in row["caveats"]:
            say(f"    ({caveat})")
    print(json.dumps(verdict, indent=2))
    return LESSON_EXIT[verdict["verdict"]]


# `lesson`'s exit status by verdict (2 stays every command's refusal: bad flags, a lesson that cannot run)
LESSON_EXIT = {"pass": 0, "partial": 1, "fail": 1, "incomplete": 3}


def cmd_invariance(args) -> int:
    from .evaluate.invariance import unreliable_note
    from .evaluate.suite import RunProbes

    rp = RunProbes(run_folder(args.run), defer_saving_errors=True)  # a read-only run: printed, then said
    scores = rp.invariance()
    # keys sorted: the scores computed and the same read from the cache came in other orders, the same numbers in
    # other bytes (a script's diff or checksum of two calls differed)
    print(json.dumps({"run": str(rp.dir), "invariance": scores,
                      "rotation_equivariance": rp.rotation_equivariance()}, indent=2, sort_keys=True))
    note = unreliable_note(scores)
    if note:
        print(f"warning: the invariance scores are unreliable: {note}", file=sys.stderr)
    _say_unsaved(rp)
    return 0


def cmd_export(args) -> int:
    from .runs.export import export_run
    from .runs.store import RunStore

    run_dir = run_folder(args.run)
    out = out_folder(args.out)
    store = RunStore.if_made()
    row = next((r for r in (store.list(limit=100_000) if store else []) if Path(r["run_dir"]).resolve() == run_dir.resolve()), None)
    print(json.dumps(export_run(run_dir, out, run=row), indent=2, ensure_ascii=False))
    return 0


def cmd_embed(args) -> int:
    from .evaluate.encode import encode_paths
    from .runs.export import refuse_run_folder, staged, write_embeddings
    from .text import agree, count

    run_dir = run_folder(args.run)
    out = out_folder(args.out)
    refuse_run_folder(out, "the features", home=True)
    found = encode_paths(run_dir, args.paths, device=args.device)
    with staged(out, ".embed-") as tmp:
        written = [out / p.name for p in write_embeddings(found.columns(), tmp, stem="embedded")]
    unlike = int(found.unlike_the_dataset.sum())
    report = {"run": str(run_dir), "images": len(found.files), "features": int(found.features.shape[1]),
              "written": [str(p) for p in written], "typical_similarity": round(found.typical_similarity, 4),
              "unlike_the_dataset": unlike, "skipped": found.skipped}
    if found.predicted is not None:
        report["predicted"] = dict(Counter(found.predicted).most_common())
    if unlike:
        print(f"warning: {count(unlike, 'image')} {agree(unlike, 'is', 'are')} unlike the run's images (their "
              f"nearest is less similar than {found.typical_similarity:.3f}, which 99% of the dataset's images "
              "reach): " + ("the classes given to them say little" if found.predicted is not None else
                             "their nearest images say little about them") + " (\"unlike_the_dataset\" marks them)",
              file=sys.stderr)
    if found.skipped:
        print(f"warning: {count(len(found.skipped), 'file')} skipped: the JSON's \"skipped\" says which and why",
              file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


COMMANDS = {"export": cmd_export, "probe": cmd_probe, "invariance": cmd_invariance, "train": cmd_train,
            "submit": cmd_submit, "runs": cmd_runs, "cancel": cmd_cancel, "resume": cmd_resume,
            "delete": cmd_delete, "worker": cmd_worker, "list": cmd_list,
            "import-images": cmd_import_images, "delete-dataset": cmd_delete_dataset, "bench": cmd_bench, "embed": cmd_embed,
            "restore-runs": cmd_restore_runs, "lesson": cmd_lesson, "wait": cmd_wait}
