"""A researcher's own images, traced: each image's file name follows it from the zip to
Explore, Compare and the export."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

from ssrl_core import cli
from ssrl_core.config import RunConfig
from ssrl_core.data import load_dataset
from ssrl_core.data.custom import import_images
from ssrl_core.runs.execute import execute
from ssrl_core.runs.store import RunStore

from .test_app import images
from .test_app_review_data import open_page
from .test_import_images import make_zip, png

def pets_zip(tmp_path: Path, shade: int = 0, name: str = "pets.zip") -> Path:
    """12 cats and 12 dogs in ``pets/cat/tabby_NN.png`` and ``pets/dog/rex_NN.png``;
    another ``shade`` gives other images under the same names."""
    members = {f"pets/cat/tabby_{i:02d}.png": png((200, 10 * i, shade)) for i in range(12)}
    members |= {f"pets/dog/rex_{i:02d}.png": png((shade, 10 * i, 200)) for i in range(12)}
    return make_zip(tmp_path / name, members)


def finished(dataset: str, seed: int = 0) -> str:
    """A done run on ``dataset`` in the store: SimCLR's encoder at 0 epochs, so no training and
    a basic evaluation (seconds), yet a trained method's run, which Evaluate lists."""
    store = RunStore()
    cfg = RunConfig(dataset=dataset, method="simclr", epochs=0, seed=seed, evaluation="basic")
    rid = store.submit(cfg)
    summary = execute(cfg, Path(store.get(rid)["run_dir"]))
    store.claim("test")
    store.finish(rid, "done", summary=summary)
    return rid


def explore(rid: str, row: int = 3):
    at = open_page("explore", run=rid)
    if not at.warning:
        at.number_input(key=f"explore_pick_{rid}").set_value(row)
        at.button(key="explore_show").click().run()
    assert not at.exception
    return at


def test_file_names_follow_the_images_to_explore_compare_and_the_export(tmp_path):
    import_images(pets_zip(tmp_path), "pets")
    ds = load_dataset("pets")
    a, b = finished("pets", seed=0), finished("pets", seed=1)

    at = explore(b)
    query, *rows = images(at)
    assert query[0].startswith("query: #3 cat (") and query[0].endswith(" · pets/cat/tabby_03.png")
    nbrs = [c for row in rows for c in row]
    assert len(nbrs) == 8
    for c in nbrs:  # "#17 · rex_05.png · dog · sim 0.991": the file of that very row
        row, name, label = re.match(r"^#(\d+) · (\S+\.png) · (cat|dog) · sim -?\d\.\d{3}$", c).groups()
        assert name == ds.file_name(int(row)) and label == ds.label_name(int(row))

    at = open_page("compare", runs=f"{a},{b}")
    at.number_input(key="cmp_query").set_value(14).run()
    query, *rows = images(at)
    assert query == ["query #14: dog · pets/dog/rex_02.png"]
    nbrs = [c for row in rows for c in row]
    assert len(nbrs) == 16 and all(re.match(r"^#\d+ · (tabby|rex)_\d\d\.png · (cat|dog) · sim ", c) for c in nbrs)

    assert cli.main(["export", "--run", a, "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "embeddings.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == ds.files and table[0]["label_name"] == "cat"
    assert list(np.load(tmp_path / "out" / "embeddings.npz")["file"]) == ds.files


def test_a_set_imported_before_file_names_were_kept_shows_none(tmp_path, ssrl_home):
    import_images(pets_zip(tmp_path), "pets")
    (ssrl_home / "data" / "custom" / "pets" / "files.json").unlink()  # as an older import left it
    rid = finished("pets")
    query, *rows = images(explore(rid))
    assert re.match(r"^query: #3 cat \((train|test) split\)$", query[0])
    nbrs = [c for row in rows for c in row]
    assert len(nbrs) == 8 and all(re.match(r"^#\d+ · (cat|dog) · sim ", c) for c in nbrs), nbrs
    assert cli.main(["export", "--run", rid, "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "embeddings.csv") as f:
        assert next(csv.reader(f))[:4] == ["row", "split", "label", "label_name"]
