"""A researcher's own images, traced and kept honest: each image's file name follows it from
the zip to Explore, Compare and the export; a set re-imported under the same name makes the
pages and commands say that older runs belong to the old images instead of drawing them; a
run on an imported set says how to import it again before reproducing it."""
from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.text import quiet_icon
from ssrl_core import cli
from ssrl_core.config import RunConfig
from ssrl_core.data import load_dataset
from ssrl_core.data.custom import import_images
from ssrl_core.runs.execute import execute
from ssrl_core.runs.store import RunStore

from .test_app import images as captions


def images(at) -> list[list[str]]:
    """The image captions as a reader sees them: the pages escape file and class names for
    Markdown (``tabby\\_03.png``), which the browser shows without the backslashes."""
    return [[re.sub(r"\\(.)", r"\1", c) for c in row] for row in captions(at)]
from .test_app_review_data import open_page
from .test_cli import cli as run_cli
from .test_import_images import make_zip, png

STALE = ("pets was re-imported after this run trained: its map, neighbours and scores belong to the old images; "
         "train it again on the new ones, or import the archive it trained on again (with Replace) to bring them back "
         "(not for an import made before 2026-12-05, which ordered and split the images otherwise: train it again).")


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
    assert query == ["query #3 · tabby_03.png · cat"]  # as its neighbours are written
    assert "`pets/cat/tabby_03.png`) and its 8 nearest" in " ".join(m.value for m in at.markdown)
    nbrs = [c for row in rows for c in row]
    assert len(nbrs) == 8
    for c in nbrs:  # "#17 · rex_05.png · dog · sim 0.991": the file of that very row
        row, name, label = re.match(r"^#(\d+) · (\S+\.png) · (cat|dog) · sim\s-?\d\.\d{3}$", c).groups()
        assert name == ds.file_name(int(row)) and label == ds.label_name(int(row))

    at = open_page("compare", runs=f"{a},{b}")
    at.number_input(key="cmp_query_pets").set_value(14).run()
    query, *rows = images(at)
    assert query == ["query #14 · rex_02.png · dog"]
    nbrs = [c for row in rows for c in row]
    assert len(nbrs) == 16 and all(re.match(r"^#\d+ · (tabby|rex)_\d\d\.png · (cat|dog) · sim\s", c) for c in nbrs)

    assert cli.main(["export", "--run", a, "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "embeddings.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == ds.files and table[0]["label_name"] == "cat"
    assert list(np.load(tmp_path / "out" / "embeddings.npz")["file"]) == ds.files


def test_compares_query_caption_shows_a_class_folders_name_as_typed(tmp_path):
    # a class's name is a folder's name in someone's zip: Markdown in it is shown as typed, not rendered
    from app.text import md

    members = {f"*cat*/tabby_{i:02d}.png": png((200, 10 * i, 0)) for i in range(12)}
    members |= {f":red[dog]/rex_{i:02d}.png": png((0, 10 * i, 200)) for i in range(12)}
    import_images(make_zip(tmp_path / "odd.zip", members), "odd")
    a, b = finished("odd", seed=0), finished("odd", seed=1)
    at = open_page("compare", runs=f"{a},{b}")
    at.number_input(key="cmp_query_odd").set_value(14).run()
    [query], *_ = captions(at)  # (raw: as the page wrote them)
    assert query == md("query #14 · rex_02.png · :red[dog]"), query


def test_a_set_imported_before_file_names_were_kept_shows_none(tmp_path, ssrl_home):
    import_images(pets_zip(tmp_path), "pets")
    (ssrl_home / "data" / "custom" / "pets" / "files.json").unlink()  # as an older import left it
    rid = finished("pets")
    query, *rows = images(explore(rid))
    assert query == ["query #3 · cat"]
    nbrs = [c for row in rows for c in row]
    assert len(nbrs) == 8 and all(re.match(r"^#\d+ · (cat|dog) · sim\s", c) for c in nbrs), nbrs
    assert cli.main(["export", "--run", rid, "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "embeddings.csv") as f:
        assert next(csv.reader(f))[:4] == ["row", "split", "label", "label_name"]


def test_a_smaller_set_imported_since_a_run_is_not_the_one_its_accuracies_are_captioned_with(tmp_path):
    """A run scored on the 24 images of pets was captioned with the caveats of the 6 imported
    under the name since ("Only 1 test image ..."), as if they were why its accuracy meant little."""
    import_images(pets_zip(tmp_path), "pets")
    old = finished("pets")
    few = {f"pets/{c}/{i}.png": png((40 * i, 90 if c == "cat" else 10, 60)) for c in ("cat", "dog") for i in range(3)}
    import_images(make_zip(tmp_path / "few.zip", few), "pets", replace=True)
    from app import services

    assert services.dataset_caveats("pets")  # the set now is too small for accuracies to mean much

    def said(at):
        return [c.value for c in at.caption if c.value.startswith(quiet_icon("straighten"))]

    assert said(open_page("explore", run=old)) == []  # of the old run: not its images' caveats
    new = finished("pets", seed=1)
    [both] = said(open_page("compare", runs=f"{old},{new}"))
    assert both.startswith(f"{quiet_icon('straighten')} **pets (as imported now: a run here trained on an earlier import, "
                           f"simclr ({old[-4:]})):** "), both
    [alone] = said(open_page("explore", run=new))
    assert alone.startswith(f"{quiet_icon('straighten')} **pets:** ")
    from ssrl_core.data.custom import remove_imported

    remove_imported("pets")  # deleted: Invariance names the archive as Explore does, not "unknown dataset 'pets'"
    at = open_page("invariance", runs=new, dataset="pets")
    assert "this run's dataset 'pets' is not here" in at.error[0].value and "few.zip" in at.error[0].value, \
        at.error[0].value


def test_an_old_runs_test_images_are_its_sets_only_while_its_images_are_the_ones_it_trained_on(tmp_path):
    """A run made before its summary kept how many test images scored it falls back on its set's count, for the
    noise of its gains; once the set was re-imported with other images that count is not the run's: none (no
    noise mark said from a set it was not scored on)."""
    from app import services

    import_images(pets_zip(tmp_path), "pets")
    rid = finished("pets")
    run = RunStore().get(rid)
    run["summary"] = {k: v for k, v in run["summary"].items() if k != "test_images"}  # as written before it was kept
    scored = load_dataset("pets").scored_test_images
    assert scored > 0 and services.scored_images(run) == scored
    import_images(pets_zip(tmp_path, shade=120, name="pets-v2.zip"), "pets", replace=True)  # as many images
    assert services.scored_images(run) is None
    assert services.scored_images(RunStore().get(rid)) == scored  # its own count, kept: still its own


def test_a_reimport_under_the_same_name_is_said_instead_of_drawing_the_old_map(tmp_path, capsys):
    from app import services
    from ssrl_core.evaluate.suite import RunProbes, random_invariance

    import_images(pets_zip(tmp_path), "pets")
    a, b = finished("pets", seed=0), finished("pets", seed=1)
    measured = RunProbes(RunStore().get(a)["run_dir"])
    measured.invariance(), random_invariance(measured.trained)  # as its probe job would, on the images of then
    gallery = open_page("gallery")
    assert len(gallery.get("image")) == 2  # both maps' thumbnails, drawn (and cached) before the replacement
    cfg = RunConfig.from_dict(RunStore().get(a)["config"])
    assert services.twin_run(cfg)["id"] == a  # Pretrain: "a run with these very settings has finished"
    import_images(pets_zip(tmp_path, shade=120, name="pets-v2.zip"), "pets", replace=True)  # as many images
    assert services.twin_run(cfg) is None  # it learnt other images: training again is not pointless

    at = open_page("invariance", runs=f"{a},{b}", dataset="pets")  # a's scores were measured on the old images
    said = [w.value for w in at.warning]
    assert sum(w.endswith(f"its scores below were measured before: {STALE}") for w in said) == 1, said
    assert sum(w.endswith(f"no probes can be computed: {STALE}") for w in said) == 1, said  # b: none to show

    gallery.run()  # the same server, the same session: the old thumbnails would be the old labels' colours
    assert not gallery.get("image") and [c.value for c in gallery.caption].count(f"(no map: {STALE})") == 2

    at = open_page("explore", run=a)
    assert [w.value for w in at.warning] == [STALE]
    assert not at.get("plotly_chart") and not images(at)  # no old map coloured by new labels, no neighbours
    assert "evaluation did not finish" not in " ".join(w.value for w in at.warning)

    at = open_page("compare", runs=f"{a},{b}")
    said = " ".join(c.value for c in at.caption) + " ".join(m.value for m in at.markdown)
    assert said.count(f"no map: {STALE}") == 2 and said.count(f"no neighbours: {STALE}") == 2
    assert not [c for row in images(at)[1:] for c in row]  # only the query, no old neighbours

    at = open_page("evaluate", runs=f"{a},{b}")  # no probe job offered: it would mix old and new images
    assert sum(STALE in w.value for w in at.warning) == 2

    assert cli.main(["export", "--run", a, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: not exported: {STALE}"  # after Streamlit's log lines
    assert cli.main(["probe", "--run", a, "--labels-per-class", "1"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: no probes computed: {STALE}"  # after Streamlit's log lines

    c = finished("pets", seed=2)  # a run on the new images is fine
    at = explore(c)
    assert not at.warning and at.get("plotly_chart") and len(images(at)) == 1 + 8  # the query and its neighbours


def test_references_of_a_replaced_set_are_computed_on_its_new_images(tmp_path):
    """The random encoder's readouts were cached per set name: after a set was replaced, its new
    runs were read against the old images' references (0.46 shown for 0.92 in a review)."""
    from ssrl_core.evaluate.suite import RunProbes, random_knn
    from ssrl_core.runs.artifacts import RunArtifacts

    import_images(pets_zip(tmp_path), "pets")
    old = RunStore().get(finished("pets"))["run_dir"]
    random_knn(RunProbes(old).trained)  # as its probe job would
    before = RunArtifacts(old).references()
    assert "random-knn/label" in before
    import_images(pets_zip(tmp_path, shade=120, name="pets-v2.zip"), "pets", replace=True)
    new = RunStore().get(finished("pets"))["run_dir"]  # the same seed, encoder and augmentations
    assert "random-knn/label" not in RunArtifacts(new).references()  # not the old images' any more
    random_knn(RunProbes(new).trained)
    assert "random-knn/label" in RunArtifacts(new).references()
    assert RunArtifacts(old).references() == before  # the old run still reads what was measured on its images


def test_the_same_images_imported_again_keep_their_runs(tmp_path):
    import_images(pets_zip(tmp_path), "pets")
    rid = finished("pets")
    import_images(pets_zip(tmp_path, name="again.zip"), "pets", replace=True)  # the same images, another zip
    at = explore(rid)
    assert not at.warning and at.get("plotly_chart") and len(images(at)) == 1 + 8  # the query and its neighbours


def test_runs_from_before_fingerprints_fall_back_to_the_image_count(tmp_path):
    import_images(pets_zip(tmp_path), "pets")
    rid = finished("pets")
    (Path(RunStore().get(rid)["run_dir"]) / "dataset.json").unlink()  # as an older run left it
    import_images(pets_zip(tmp_path, shade=120), "pets", replace=True)
    at = explore(rid)  # the same count: nothing to tell them apart by, drawn as before
    assert not at.warning and at.get("plotly_chart")
    members = {f"pets/{c}/{i}.png": png((i * 9, 0, 0)) for c in ("cat", "dog") for i in range(10)}
    import_images(make_zip(tmp_path / "fewer.zip", members), "pets", replace=True)
    at = open_page("explore", run=rid)
    assert [w.value for w in at.warning] == [STALE]
    digits = finished("digits")  # a built-in set: untouched by any of this
    (Path(RunStore().get(digits)["run_dir"]) / "dataset.json").unlink()
    assert not explore(digits).warning


def test_a_run_on_an_imported_set_says_how_to_import_it_before_reproducing_it(tmp_path, ssrl_home, monkeypatch):
    archive = pets_zip(tmp_path, name="My Pets.zip")
    import_images(archive, "pets")
    rid = finished("pets")
    fingerprint = load_dataset("pets").fingerprint
    out = tmp_path / "out"
    assert cli.main(["export", "--run", rid, "--out", str(out)]) == 0
    card = json.loads((out / "run_card.json").read_text())
    assert card["dataset"] == {"name": "pets", "imported": True, "images": 24, "size": 32, "channels": 3,
                               "fingerprint": fingerprint, "archive": "My Pets.zip",
                               "import": "python -m ssrl_core import-images 'My Pets.zip' --name pets --size 32"}
    md = (out / "run_card.md").read_text()
    assert f"The dataset 'pets' was imported from your own images (24 images, 32×32, fingerprint {fingerprint}, " \
           "from the archive My Pets.zip)" in md and card["dataset"]["import"] in md
    # the archive's name is the uploader's: written in the card as text, not as a link or an image
    from ssrl_core.runs.export import card_markdown

    evil = card_markdown({**card, "dataset": {**card["dataset"], "archive": "[clk](javascript:alert(1)) <img src=x>.zip"}})
    assert not re.search(r"(?<!\\)(\[clk|<img)", evil) and r"from the archive \[clk\](javascript" in evil
    script = (out / "reproduce.sh").read_text().splitlines()
    assert script[2].startswith("# The dataset 'pets' was imported") and "import it first under that name" in script[2]
    assert script[3] == "#   " + card["dataset"]["import"] and script[-1] == card["reproduce"]

    # elsewhere (a fresh SSRL_HOME), the command alone says what is missing and how to get it
    monkeypatch.setenv("SSRL_HOME", str(tmp_path / "elsewhere"))
    args = shlex.split(card["reproduce"])[3:]
    args[args.index("--out") + 1] = str(tmp_path / "again")
    res = run_cli(*args, check=False)
    assert res.returncode == 2 and res.stderr.startswith("error: unknown dataset 'pets': choose one of digits")
    assert "import its archive here first under that name: `python -m ssrl_core import-images ARCHIVE --name pets`" \
        in res.stderr
    shutil.copy(archive, tmp_path / "elsewhere-archive.zip")  # what the comment says, then the command
    assert run_cli("import-images", str(tmp_path / "elsewhere-archive.zip"), "--name", "pets", "--size", "32").returncode == 0
    assert json.loads(run_cli(*args).stdout)["knn_accuracy"] == card["metrics"]["knn_accuracy"]
    assert json.loads((tmp_path / "again" / "dataset.json").read_text())["fingerprint"] == fingerprint


def test_help_and_card_of_a_built_in_set_say_nothing_of_importing(tmp_path, finished_run, capsys):
    help_text = " ".join(run_cli("train", "--help").stdout.split())
    assert "or the name of a set of your own images imported with `import-images ARCHIVE --name NAME`" in help_text
    with pytest.raises(SystemExit):
        cli.main(["submit", "--help"])
    assert "imported with `import-images" in " ".join(capsys.readouterr().out.split())
    rid = finished_run("random")  # the untrained encoder on digits, trained once per session
    assert cli.main(["export", "--run", rid, "--out", str(tmp_path / "out")]) == 0
    card = json.loads((tmp_path / "out" / "run_card.json").read_text())
    assert card["dataset"]["imported"] is False and "import" not in card["dataset"]
    assert card["dataset"]["name"] == "digits" and card["dataset"]["images"] == 1797
    assert "import" not in (tmp_path / "out" / "reproduce.sh").read_text().split("\n", 2)[2]


def test_an_archive_name_with_line_breaks_cannot_add_commands_to_reproduce_sh(tmp_path):
    """The archive's name is the uploading browser's (a crafted upload can hold line breaks),
    and reproduce.sh carried it in a comment: a line break ended the comment, and whoever ran
    the export of any run on that set ran the next line. The import keeps one line of it; the
    export puts every line of its comment behind a '#' (a set imported before, too)."""
    import io
    import subprocess

    evil = "pets\ntouch PWNED\n.zip"
    upload = io.BytesIO(pets_zip(tmp_path).read_bytes())
    upload.name = evil
    assert import_images(upload, "pets").archive == "pets touch PWNED .zip"
    rid = finished("pets")
    record = Path(RunStore().get(rid)["run_dir"]) / "dataset.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "archive": evil}))  # as an older import left it
    out = tmp_path / "out"
    assert cli.main(["export", "--run", rid, "--out", str(out)]) == 0
    script = (out / "reproduce.sh").read_text().splitlines()
    assert all(line.startswith("#") for line in script[:-1]), script
    head = tmp_path / "head.sh"  # all but the train command itself
    head.write_text("\n".join(script[:-1]) + "\n")
    subprocess.run(["sh", str(head)], cwd=tmp_path, check=True)
    assert not (tmp_path / "PWNED").exists()


def test_a_file_name_a_spreadsheet_would_run_is_written_as_text_in_the_csv(tmp_path):
    """An imported image's name is whoever made the archive's: ``=HYPERLINK(...)`` would be a
    live formula in ``embeddings.csv`` opened in a spreadsheet. It is written after a ``'``
    there (negative numbers stay numbers), and ``embeddings.npz`` keeps the name as it is."""
    from ssrl_core.runs.export import write_embeddings

    files = ['=HYPERLINK("http://example.com/x","open")', "@SUM(A1)", "+1", "-x.png", "cat/tabby_03.png"]
    cols = {"embeddings": np.array([[0.5], [-1.0], [0.0], [2.0], [-3.5]], np.float32), "row": np.arange(5),
            "file": np.array(files), "label_name": np.array(["=cmd", "cat", "cat", "dog", "dog"]),
            "map_x": np.array([-1.25, 0.0, 1.0, 2.0, 3.0], np.float32)}
    write_embeddings(cols, tmp_path)
    with open(tmp_path / "embeddings.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == ["'" + n for n in files[:4]] + ["cat/tabby_03.png"]
    assert [r["label_name"] for r in table] == ["'=cmd", "cat", "cat", "dog", "dog"]
    assert table[0]["map_x"] == "-1.25" and table[1]["f0"] == "-1"  # numbers are not text
    assert list(np.load(tmp_path / "embeddings.npz")["file"]) == files


def test_an_imported_set_is_deleted_and_its_runs_stay_with_their_accuracies(tmp_path, capsys):
    """Imported sets could not be deleted: a researcher's trial imports stayed in every list."""
    from ssrl_core.data import available_datasets
    from ssrl_core.data.custom import custom_root

    import_images(pets_zip(tmp_path), "pets")
    rid = finished("pets")
    store = RunStore()
    queued = store.submit(RunConfig(dataset="pets", method="rotation", epochs=1))
    assert cli.main(["delete-dataset", "pets", "--yes"]) == 2  # it would fail without its images
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: 1 run on 'pets' is queued or training ({queued}): cancel it first (`python -m ssrl_core cancel "
        "ID`), then delete the dataset")
    store.request_cancel(queued)  # a queued run: cancelled at once
    from ssrl_core.runs.artifacts import JOB_PENDING

    (Path(store.get(rid)["run_dir"]) / JOB_PENDING).touch()  # a probe job starting on its images
    assert cli.main(["delete-dataset", "pets", "--yes"]) == 2 and (custom_root() / "pets").is_dir()
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: the probes of 1 run on 'pets' are being computed ({rid}, by the app's background job or a `probe` "
        "command): wait for it to end, or press Stop beside the job, then delete the dataset")
    (Path(store.get(rid)["run_dir"]) / JOB_PENDING).unlink()
    assert cli.main(["delete-dataset", "digits"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: 'digits' is built in: only a set you imported can be deleted"

    assert cli.main(["delete-dataset", "pets"]) == 0 and (custom_root() / "pets").is_dir()  # without --yes: said
    said = capsys.readouterr().out
    assert "the 2 runs made on it would stay" in said and said.endswith("nothing deleted yet; add --yes to go on\n")
    at = open_page("data", dataset="pets")  # the page's own way, with its confirmation
    assert "2 runs made on it stay" in " ".join(m.value for m in at.markdown)
    at.button(key="data_delete").click().run()
    assert not at.exception and "pets" not in available_datasets() and not (custom_root() / "pets").exists()
    assert "Deleted the dataset **pets**" in at.success[0].value and at.selectbox(key="data_dataset").value == "digits"
    assert [r["id"] for r in store.list() if r["dataset"] == "pets"] == [queued, rid]  # the runs stay
    assert store.get(rid)["summary"]["knn_accuracy"] is not None

    gallery = open_page("gallery")  # one short line a card, not the whole advice on each
    assert [c.value for c in gallery.caption].count("(no map: pets is not on this server (deleted, or imported "
                                                    "elsewhere): the Data page imports it)") == 1
    at = open_page("evaluate", runs=rid)  # no probe job offered that could not load its images
    assert not [b for b in at.button if b.label.startswith("Compute")], [b.label for b in at.button]
    assert any("no probes can be computed: this run's dataset 'pets' is not here (deleted here, or imported on "
               "another machine or SSRL_HOME); the run's files are intact: import the archive it came from (pets.zip"
               in w.value for w in at.warning), [w.value for w in at.warning]
    at = open_page("explore", run=rid)  # its accuracies, then why no map: not an error alone
    assert [m.value for m in at.metric][0] == f"{store.get(rid)['summary']['knn_accuracy']:.3f}"
    [error] = [e.value for e in at.error]
    assert "this run's dataset 'pets' is not here" in error and "on the Data page, and this run's map" in error
    assert "choose one of" not in error and "`" not in error
    # the command line's export: the run folder is intact, not "damaged or edited by hand"
    assert cli.main(["export", "--run", rid, "--out", str(tmp_path / "out")]) == 2
    said = capsys.readouterr().err
    assert "this run's dataset 'pets' is not here" in said and "python -m ssrl_core import-images pets.zip --name " \
        "pets --size 32` (or the Data page), and try again" in said and "damaged" not in said, said
    assert not (tmp_path / "out").exists()
    # Compare names the archive and the Data page under the run's missing map, and says runs of two sets do not compare
    digits = finished("digits")
    at = open_page("compare", runs=f"{rid},{digits}", dataset="all")
    assert any("no map, its dataset cannot be loaded: this run's dataset 'pets' is not here" in c.value
               and "(pets.zip" in c.value for c in at.caption), [c.value for c in at.caption]
    assert any(w.value.endswith("accuracies on different datasets do not compare.") for w in at.warning)
    import_images(pets_zip(tmp_path), "pets")  # the same archive again: the run's map is back
    at = explore(rid)
    assert not at.warning and at.get("plotly_chart")


def test_a_set_is_not_replaced_while_a_run_trains_on_its_images(tmp_path, capsys):
    """Deleting the set was refused while a run on it trained; replacing it was not, and the run
    finished on the old images while Explore said they were re-imported after it trained."""
    from app.services import import_archive

    before = import_images(pets_zip(tmp_path), "pets").fingerprint
    store = RunStore()
    rid = store.submit(RunConfig(dataset="pets", method="simclr", epochs=1))
    store.claim("host:1:0")  # training
    other = pets_zip(tmp_path, shade=90, name="other.zip")
    assert cli.main(["import-images", str(other), "--name", "pets", "--replace"]) == 2
    said = capsys.readouterr().err
    assert f"1 run on 'pets' is training on its images now ({rid}): nothing was imported" in said, said
    with open(other, "rb") as f, pytest.raises(ValueError, match="is training on its images now"):
        import_archive(f, "pets", 32, replace=True)
    assert load_dataset("pets").fingerprint == before  # the images it trains on stay
    store.finish(rid, "done", summary={}, worker="host:1:0")
    assert cli.main(["import-images", str(other), "--name", "pets", "--replace"]) == 0  # ended: replaced


def test_a_run_that_starts_training_while_a_replacement_decodes_keeps_its_images(tmp_path, monkeypatch, capsys):
    """The check ran once, before the decoding (3.5 minutes for a large archive): a worker that
    took a run on the set meanwhile trained it while its images were replaced under it."""
    import ssrl_core.data.custom as custom
    from app.services import import_archive

    before = import_images(pets_zip(tmp_path), "pets").fingerprint
    store = RunStore()
    rid = store.submit(RunConfig(dataset="pets", method="simclr", epochs=1))
    decode = custom.try_decode

    def a_worker_takes_the_run_meanwhile(*args, **kwargs):
        if any(r["status"] == "queued" for r in store.list()):
            store.claim("host:1:0")
        return decode(*args, **kwargs)

    monkeypatch.setattr(custom, "try_decode", a_worker_takes_the_run_meanwhile)
    other = pets_zip(tmp_path, shade=90, name="other.zip")
    assert cli.main(["import-images", str(other), "--name", "pets", "--replace"]) == 2
    assert f"1 run on 'pets' is training on its images now ({rid}): nothing was imported" in capsys.readouterr().err
    store.finish(rid, "done", summary={}, worker="host:1:0")
    again = store.submit(RunConfig(dataset="pets", method="simclr", epochs=1, seed=1))
    with open(other, "rb") as f, pytest.raises(ValueError, match=f"training on its images now \\({again}\\)"):
        import_archive(f, "pets", 32, replace=True)  # the page's import alike
    assert load_dataset("pets").fingerprint == before
    assert not [p for p in custom.custom_root().iterdir() if p.name.startswith(".import-")]  # no half-written set


def test_deleting_a_set_of_one_run_says_it_in_the_singular(tmp_path, capsys):
    import_images(pets_zip(tmp_path), "pets")
    RunStore().submit(RunConfig(dataset="pets", method="simclr", epochs=1))
    rid = RunStore().list()[0]["id"]
    RunStore().request_cancel(rid)  # ended: the set may go
    assert cli.main(["delete-dataset", "pets"]) == 0
    assert "the 1 run made on it would stay (its maps, neighbours" in capsys.readouterr().out
    assert cli.main(["delete-dataset", "pets", "--yes"]) == 0
    assert "1 run made on it stays: importing the same archive as 'pets' brings back its maps" in \
        capsys.readouterr().out


def test_the_map_history_of_a_set_without_labels_says_why_it_has_no_test_images(tmp_path):
    """"32 training and 0 test images, the subset the per-epoch kNN accuracy uses", beside a set
    of 8 test images: a set without labels has no per-epoch kNN, so its subset draws none."""
    members = {f"img_{i:02d}.png": png((10 * i, 200 - 5 * i, 90)) for i in range(40)}  # loose: no labels
    import_images(make_zip(tmp_path / "loose.zip", members), "loose")
    store = RunStore()
    cfg = RunConfig(dataset="loose", method="simclr", epochs=1, batch_size=16)
    rid = store.submit(cfg)
    summary = execute(cfg, Path(store.get(rid)["run_dir"]))
    store.claim("test")
    store.finish(rid, "done", summary=summary)
    at = open_page("explore", run=rid)
    [said] = [c.value for c in at.caption if c.value.startswith("UMAP of the same")]
    assert "training images: a set without labels has no per-epoch kNN accuracy, so no test images are drawn" in said
    assert "0 test images" not in said
    # on 32 images chained frames are no better aligned than fresh ones (a review measured it): said so
    assert "points move rather than jump (on so few images less so" in said


def test_the_data_page_says_when_the_set_it_shows_was_deleted_elsewhere(tmp_path):
    """A tab browsing an imported set that another tab (or the command line) deleted: its next
    click said "Ignored dataset=pets from the link", though the set was picked in the box."""
    from ssrl_core.runs.remove import delete_dataset

    import_images(pets_zip(tmp_path), "pets")
    at = open_page("data", dataset="pets")
    assert at.selectbox(key="data_dataset").value == "pets"
    delete_dataset(RunStore(), "pets")
    at.button(key="data_shuffle").click().run()
    assert not at.exception and at.selectbox(key="data_dataset").value != "pets"
    said = [w.value for w in at.warning]
    assert any(w.startswith("pets, picked here, is no longer offered (deleted or changed elsewhere") for w in said), said
    assert not any("from the link" in w for w in said), said


def test_copies_of_an_image_share_a_split_and_the_split_does_not_depend_on_the_archives_order(tmp_path):
    """An evaluation-protocol review: 34 of 48 test images of an archive with a copy of every
    file had that copy in train (kNN found each at similarity 1, the linear probe had seen it);
    the same files zipped in reverse order were another set, with another split."""
    from ssrl_core.data import load_dataset
    from ssrl_core.data.custom import SameImages

    files = {f"{c}/{i}.png": png((40 * i, 200 if c == "a" else 0, 100)) for c in "ab" for i in range(6)}
    copies = {name.replace(".png", "-copy.png"): data for name, data in files.items()}
    report = import_images(make_zip(tmp_path / "dup.zip", files | copies), "dup")
    assert report.images == 24 and report.copies == 12
    assert any("12 images are copies of others" in c for c in report.caveats), report.caveats
    ds = load_dataset("dup")
    rows = {}
    for row, name in enumerate(ds.files):  # each image with its copy, in one split
        rows.setdefault(name.replace("-copy", ""), []).append(bool(ds.is_train[row]))
    assert all(len(set(split)) == 1 for split in rows.values()) and 0 < (~ds.is_train).sum() < 24
    # the pages say it too (they read the set's caveats, not the import's report)
    assert ds.copies == 12 and any("12 images are copies of others" in c for c in ds.evaluation_caveats())
    at = open_page("data", dataset="dup")
    assert "12 images are copies of others" in " ".join(m.value for kind in (at.markdown, at.caption, at.info, at.warning)
                                                        for m in kind)
    # the same files in the opposite order: the same images, refused as such
    backwards = dict(reversed(list((files | copies).items())))
    with pytest.raises(SameImages):
        import_images(make_zip(tmp_path / "rev.zip", backwards), "dup-again")


def test_a_process_keeps_one_copy_of_each_set_and_a_few_sets_at_most(tmp_path):
    """A classroom server's soak: each re-import of a 3,000-image set added its 36 MB to the
    server for good (the old images stayed loaded beside the new), and deleting the set freed
    nothing. Now a re-import's old images and a deleted set's are let go, and past
    ``CACHED_SETS`` the least recently used set is."""
    import gc
    import weakref

    from ssrl_core import data
    from ssrl_core.data.custom import remove_imported

    import_images(pets_zip(tmp_path), "pets")
    first = weakref.ref(load_dataset("pets"))
    import_images(pets_zip(tmp_path, shade=120, name="pets-v2.zip"), "pets", replace=True)
    second = load_dataset("pets")
    assert second is load_dataset("pets")  # kept: loaded once
    gc.collect()
    assert first() is None, "the replaced images are still held"
    second = weakref.ref(second)
    remove_imported("pets")
    gc.collect()
    assert second() is None, "the deleted set's images are still held"

    for i in range(data.CACHED_SETS + 1):
        import_images(pets_zip(tmp_path, shade=10 * i, name=f"p{i}.zip"), f"set{i}")
    kept = [weakref.ref(load_dataset(f"set{i}")) for i in range(data.CACHED_SETS + 1)]
    load_dataset("set1")  # used again: the least recently used is now set0
    load_dataset("digits")
    gc.collect()
    assert [r() is not None for r in kept] == [False, True, False] + [True] * (data.CACHED_SETS - 2)


def test_a_runs_dataset_record_says_whether_its_set_was_imported(tmp_path, small):
    """``dataset.json``: what the run trained on, read back by the run card ("imported from
    small.zip") and by every page that checks the set is still the same."""
    from ssrl_core.data import load_dataset
    from ssrl_core.runs import artifacts as art

    for name, imported in (("digits", False), (small, True)):
        ds = load_dataset(name)
        run_dir = tmp_path / name
        run_dir.mkdir()
        record = art.record_dataset(run_dir, ds)
        assert (record["name"], record["imported"], record["images"]) == (name, imported, len(ds))
        assert record["fingerprint"] == ds.fingerprint and art.RunArtifacts(run_dir).dataset == record
        assert art.RunArtifacts(run_dir).dataset_mismatch(ds) is None


def test_an_imports_label_budgets_are_those_its_training_images_give(tmp_path):
    """The label-efficiency budgets come from the labelled training images (8 a class here: 1
    and 5 labels a class, and all), not the 2 a class held out for testing (1 and all)."""
    from app import services

    members = {f"p/{c}/{i}.png": png((20 * i, 200 if c == "b" else 10, 7)) for c in ("a", "b") for i in range(10)}
    import_images(make_zip(tmp_path / "a.zip", members), "budgets", size=16)
    ds = load_dataset("budgets")
    assert np.bincount(ds.labels.numpy()[ds.train_idx.numpy()]).tolist() == [8, 8]
    assert services.label_budgets("budgets") == (1, 5, 0)


def test_a_class_folders_name_in_an_accuracy_caveat_is_shown_as_typed_not_run_as_html(tmp_path):
    """The accuracies' caveat under a run of an imported set names its classes with no test image,
    and its caption is drawn with ``unsafe_allow_html=True`` (for its quiet icon): a class folder
    named ``<img src=x onerror=alert(1)>`` in someone's zip was HTML there, run in the browser."""
    from app.text import md

    hostile = "<img src=x onerror=alert(1)>"
    members = {f"pets/cat/tabby_{i:02d}.png": png((200, 10 * i, 0)) for i in range(12)}
    members |= {f"pets/{hostile}/x_{i}.png": png((0, 10 * i, 200)) for i in range(2)}  # too few for a test image
    import_images(make_zip(tmp_path / "odd.zip", members), "odd")
    rid = finished("odd")
    [said] = [c.value for c in open_page("explore", run=rid).caption
              if c.value.startswith(quiet_icon("straighten"))]
    assert not re.search(r"(?<!\\)<", said.removeprefix(quiet_icon("straighten"))), said  # no tag: each '<' escaped
    assert md(hostile) in said, said
    # and where the caveats are plain Markdown (Data's warning, Pretrain's note): shown as typed, not read as Markdown
    for page, where in (("data", "warning"), ("pretrain", "info")):
        [box] = [e.value for e in getattr(open_page(page, dataset="odd"), where) if "About the accuracies" in e.value]
        assert md(hostile) in box, (page, box)
