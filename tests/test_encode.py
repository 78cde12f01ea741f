"""A trained encoder on images from outside its dataset (``embed``, ``evaluate.encode``):
an image of the dataset saved as a file gets back the run's own features for it, its own
row as nearest image and the class the run's kNN classifier gives that row; files that are
not images are skipped and named; bad paths and archives are refused before anything is
written."""
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ssrl_core.data import load_dataset
from ssrl_core.data.imageset import KNN_K
from ssrl_core.evaluate.encode import encode_paths
from ssrl_core.evaluate.knn import knn_predict
from ssrl_core.runs.store import RunStore

from .test_cli import cli
from .test_import_images import make_zip, png


def run_dir(finished_run, name: str):
    return RunStore().get(finished_run(name))["run_dir"]


def save(images, rows, folder, fmt="PNG", mode=None):
    """Rows of a dataset's uint8 [N, C, H, W] as image files; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for r in rows:
        a = images[r].numpy()
        im = Image.fromarray(a[0], "L") if a.shape[0] == 1 else Image.fromarray(a.transpose(1, 2, 0), "RGB")
        path = folder / f"row{r}.{fmt.lower()}"
        (im.convert(mode) if mode else im).save(path, fmt)
        out.append(path)
    return out


def test_a_dataset_image_as_a_file_gets_its_row_back(finished_run, tmp_path):
    run = run_dir(finished_run, "simclr")
    ds = load_dataset("digits")
    rows = [0, int(ds.test_idx[0]), 17]
    files = save(ds.images, rows[:2], tmp_path / "gray")
    files += save(ds.images, rows[2:], tmp_path / "colour", mode="RGB")  # an RGB copy of a gray digit: same luma
    found = encode_paths(run, files)
    emb = np.load(f"{run}/embeddings.npy")
    np.testing.assert_allclose(found.features, emb[rows], atol=1e-4)
    assert found.nearest_row.tolist() == rows
    np.testing.assert_allclose(found.nearest_similarity, 1.0, atol=1e-5)
    assert not found.unlike_the_dataset.any() and 0 < found.typical_similarity < 1
    assert found.nearest_label == [ds.label_name(r) for r in rows]
    y = ds.labels.numpy()
    tr = ds.train_idx.numpy()
    expected = knn_predict(emb[tr], y[tr], emb[rows], ds.num_classes, k=KNN_K)
    assert found.predicted == [ds.class_names[i] for i in expected]
    assert ((found.predicted_share > 0) & (found.predicted_share <= 1 + 1e-6)).all()
    assert found.files == [str(f) for f in files] and found.skipped == []


def test_a_drawing_on_a_transparent_background_takes_the_sets_background(finished_run, tmp_path):
    """A digit drawn in white on a transparent background (how a paint program saves a drawing) was put
    on white, like an imported image: a blank white square, nearest to nothing like it. Embedded into a
    run's feature space, upload or file or array, transparency takes the set's own background (digits':
    black), and the digit comes back as itself."""
    from ssrl_core.data.imageset import border_colour
    from ssrl_core.evaluate.encode import encode_images
    from ssrl_core.evaluate.retrieval import query_tensor

    run = run_dir(finished_run, "simclr")
    ds = load_dataset("digits")
    assert ds.background == border_colour(ds.images) == (0, 0, 0)
    assert border_colour(ds.images.new_full((5, 3, 8, 8), 250)) == (250, 250, 250)
    assert border_colour(ds.images[:0]) == (255, 255, 255)
    rows = [3, int(ds.test_idx[5])]
    drawings = []
    for r in rows:  # white ink whose opacity is the digit's brightness
        a = ds.images[r, 0].numpy()
        drawings.append(Image.fromarray(np.stack([np.full_like(a, 255), a], axis=-1), "LA"))
    for im, r in zip(drawings, rows):
        im.save(tmp_path / f"row{r}.png")
        data = (tmp_path / f"row{r}.png").read_bytes()
        assert query_tensor(data, 1, ds.image_size).float().mean() == 255  # on white, as an import: blank
        upload = query_tensor(data, 1, ds.image_size, ds.background)
        assert (upload[0].int() - ds.images[r].int()).abs().max() <= 1  # the digit itself
    emb = np.load(f"{run}/embeddings.npy")
    for found in (encode_paths(run, [tmp_path / f"row{r}.png" for r in rows]), encode_images(run, drawings)):
        assert found.nearest_row.tolist() == rows
        np.testing.assert_allclose(found.features, emb[rows], atol=1e-3)


def test_a_file_over_the_size_limit_is_skipped_unread(finished_run, tmp_path, monkeypatch):
    from ssrl_core.evaluate import encode

    [small] = save(load_dataset("digits").images, [1], tmp_path)
    large = tmp_path / "padded.png"  # the same image, and bytes after its end that a decoder ignores
    large.write_bytes(small.read_bytes() + bytes(1000))
    monkeypatch.setattr(encode, "MAX_MEMBER_BYTES", small.stat().st_size + 10)
    found = encode_paths(run_dir(finished_run, "simclr"), [small, large])
    assert found.files == [str(small)]
    [why] = found.skipped
    assert why["file"] == str(large) and why["reason"].startswith("the file is larger than the limit of ")


def test_the_image_count_and_file_size_limits_hold_at_exactly_the_limit(finished_run, tmp_path, monkeypatch):
    """As many images as the limit are embedded, one more is refused saying so; a file of exactly the size limit is
    read, one byte over it skipped, its reason giving the limit in MiB."""
    from ssrl_core.evaluate import encode

    run = run_dir(finished_run, "simclr")
    [f] = save(load_dataset("digits").images, [1], tmp_path)
    at, over = tmp_path / "at.png", tmp_path / "over.png"  # the image and bytes after its end: 1 MiB, 1 MiB and 1 byte
    at.write_bytes(f.read_bytes() + bytes((1 << 20) - f.stat().st_size))
    over.write_bytes(at.read_bytes() + bytes(1))
    monkeypatch.setattr(encode, "MAX_MEMBER_BYTES", 1 << 20)
    monkeypatch.setattr(encode, "MAX_MEMBERS", 2)
    found = encode_paths(run, [at, over])
    assert found.files == [str(at)] and found.nearest_row.tolist() == [1]
    assert found.skipped == [{"file": str(over), "reason": "the file is larger than the limit of 1 MiB"}]
    monkeypatch.setattr(encode, "MAX_MEMBERS", 1)
    with pytest.raises(ValueError, match="more than 1 images: embed them in parts"):
        encode_paths(run, [at, over])


def test_colour_images_are_fitted_to_the_run_and_kept_in_colour(finished_run, tmp_path):
    run = run_dir(finished_run, "shapes-simclr")
    ds = load_dataset("shapes")
    [f] = save(ds.images, [3], tmp_path)
    big = tmp_path / "big.png"
    Image.open(f).resize((96, 96), Image.Resampling.NEAREST).save(big)  # the import's fit brings it back to 32
    found = encode_paths(run, [f, big])
    emb = np.load(f"{run}/embeddings.npy")
    np.testing.assert_allclose(found.features[0], emb[3], atol=1e-4)
    assert found.nearest_row[0] == 3 and found.nearest_row[1] == 3


def test_embed_writes_rows_and_names_what_it_skipped(finished_run, tmp_path, capsys):
    run = finished_run("simclr")  # a store id, as `runs` lists it
    ds = load_dataset("digits")
    folder = tmp_path / "mine"
    save(ds.images, [4, 5], folder / "nested")
    (folder / "broken.png").write_bytes(b"\x89PNG cut short")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(png())  # OS metadata: silently left out
    buf = io.BytesIO()
    Image.fromarray(ds.images[6, 0].numpy(), "L").save(buf, "PNG")
    archive = make_zip(tmp_path / "more.zip", {"a/6.png": buf.getvalue(), "a/readme.md": b"hi"})
    lone = tmp_path / "list.csv"
    lone.write_text("1,2")
    out = tmp_path / "out"
    res = cli("embed", "--run", run, "--out", str(out), str(folder), str(archive), str(lone), capsys=capsys)
    report = json.loads(res.stdout)
    assert report["images"] == 3 and report["features"] == 256
    assert sum(report["predicted"].values()) == 3
    assert {s["file"]: s["reason"] for s in report["skipped"]} == {
        str(folder / "broken.png"): "not a readable image (damaged, cut short, or not the format its name says)",
        f"{archive}:a/readme.md": "not an image file",
        str(lone): "not a readable image (damaged, cut short, or not the format its name says)"}
    assert "3 files skipped" in res.stderr
    saved = np.load(out / "embedded.npz")
    assert saved["file"].tolist() == [str(folder / "nested/row4.png"), str(folder / "nested/row5.png"),
                                      f"{archive}:a/6.png"]
    assert saved["nearest_row"].tolist() == [4, 5, 6]
    assert saved["embeddings"].shape == (3, 256)
    header = (out / "embedded.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["file", "nearest_row", "nearest_similarity", "unlike_the_dataset", "nearest_label",
                          "predicted", "predicted_share"]
    assert header[7:9] == ["f0", "f1"] and len(header) == 7 + 256
    assert report["unlike_the_dataset"] == 0 and 0 < report["typical_similarity"] < 1


@pytest.mark.parametrize("make, said", [
    (lambda d: [d / "nowhere.png"], "no such file or folder: {d}/nowhere.png"),
    (lambda d: [make_zip(d / "bad.zip", {"../up.png": png()})], "climbs out of the archive"),
    (lambda d: [d / "cut.zip"], "is not a readable zip archive"),
    (lambda d: [make_zip(d / "text.zip", {"a.txt": b"x"})], "no image could be read: "),
])
def test_bad_inputs_are_refused_and_nothing_is_written(finished_run, tmp_path, capsys, make, said):
    run = run_dir(finished_run, "simclr")
    (tmp_path / "cut.zip").write_bytes(b"PK\x03\x04 cut")
    paths = make(tmp_path)
    out = tmp_path / "out"
    res = cli("embed", "--run", run, "--out", str(out), *map(str, paths), check=False, capsys=capsys)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and said.format(d=tmp_path) in res.stderr, res.stderr
    assert not out.exists()


COLOURS = [(40 * i, 200 - 30 * i, 90) for i in range(6)]


def loose_run(tmp_path) -> Path:
    """The folder of an untrained run on "loose": 30 images of the six ``COLOURS``, no labels."""
    from ssrl_core.config import RunConfig
    from ssrl_core.data.custom import import_images
    from ssrl_core.runs.execute import execute

    import_images(make_zip(tmp_path / "loose.zip", {f"{i}.png": png(c, (16, 16)) for i, c in enumerate(COLOURS * 5)}),
                  "loose", size=16)
    folder = tmp_path / "run"
    execute(RunConfig(dataset="loose", method="random", epochs=0, evaluation="basic"), folder, with_umap=False)
    return folder


def test_on_an_unlabelled_set_there_is_no_class_to_give(tmp_path):
    colours, folder = COLOURS, loose_run(tmp_path)
    query = tmp_path / "q.png"
    query.write_bytes(png(colours[2], (40, 40)))
    found = encode_paths(folder, [query])
    assert found.predicted is None and found.nearest_label is None
    assert set(found.columns()) == {"file", "nearest_row", "nearest_similarity", "unlike_the_dataset", "nearest_file",
                                    "embeddings"}
    assert found.nearest_file[0].endswith(".png")  # its file in the archive the set was imported from
    nearest = load_dataset("loose").images[found.nearest_row[0]]
    assert nearest[:, 0, 0].tolist() == list(colours[2])  # an image of the same colour
    assert found.nearest_similarity[0] == pytest.approx(1, abs=1e-5)


def test_the_readmes_python_example_runs(finished_run, tmp_path, monkeypatch):
    import re
    import shutil
    import textwrap
    from pathlib import Path

    block = re.search(r"\n( *)```python\n(\1from ssrl_core.evaluate.encode import.*?)```",
                      (Path(__file__).parents[1] / "README.md").read_text(), re.S).group(2)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(run_dir(finished_run, "simclr"), "runs/simclr-digits")
    save(load_dataset("digits").images, [8, 9], tmp_path / "my_digits")
    names: dict = {}
    exec(textwrap.dedent(block), names)  # noqa: S102 (the README's own example)
    assert names["found"].features.shape == (2, 256) and len(names["found"].predicted) == 2
    np.testing.assert_allclose(names["again"].features, names["found"].features, atol=1e-5)
    assert not names["encoder"].training


def test_an_image_unlike_the_dataset_is_marked_so(finished_run, tmp_path):
    """A blank page, or a photo, is still given one of the dataset's classes (the classifier
    has only those to choose from): it is marked as unlike the dataset's images."""
    blank = tmp_path / "white.png"
    Image.new("L", (64, 64), 255).save(blank)
    found = encode_paths(run_dir(finished_run, "simclr"), str(blank))  # one path, not a list
    assert found.unlike_the_dataset.tolist() == [True]
    assert found.nearest_similarity[0] < found.typical_similarity and found.predicted[0] in load_dataset("digits").class_names


def test_typical_similarity_is_each_images_to_its_nearest_other_image():
    """What "unlike the dataset" is measured against: how similar each image is to its nearest other one
    (not to itself, which is always 1 and would mark every new image but an exact copy as unlike)."""
    from ssrl_core.evaluate.encode import typical_similarity

    memory = np.random.default_rng(0).normal(size=(60, 16)).astype(np.float32)
    unit = memory / np.linalg.norm(memory, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    assert typical_similarity(memory) == pytest.approx(float(np.quantile(sims.max(1), 0.01)), abs=1e-5)
    assert typical_similarity(memory) < 0.9


def test_a_colour_image_for_a_grayscale_set_is_made_gray_as_pil_does():
    """A colour photo given to a run on a grayscale set (digits, MNIST) becomes gray by ITU-R 601 luma, as
    PIL's "L" makes it (red darker than green, blue darkest), in memory, as a file and as an upload alike."""
    from ssrl_core.evaluate.encode import prepare
    from ssrl_core.evaluate.retrieval import query_tensor

    rgb = np.zeros((8, 24, 3), np.uint8)
    rgb[:, :8, 0], rgb[:, 8:16, 1], rgb[:, 16:, 2] = 255, 255, 255  # red, green, blue stripes
    rgb = np.ascontiguousarray(np.tile(rgb, (3, 1, 1)))  # 24 x 24
    want = np.asarray(Image.fromarray(rgb).convert("L"))
    got = prepare([rgb], 24, 1)
    assert got.shape == (1, 1, 24, 24)
    assert np.abs(got[0, 0].numpy().astype(int) - want).max() <= 1
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    assert np.array_equal(query_tensor(buf.getvalue(), 1, 24).numpy(), got.numpy())


def test_images_read_in_chunks_keep_their_names_row_by_row(tmp_path, monkeypatch):
    """Folders of more images than one chunk: every chunk's names are its own images', in order, so the
    written file column names the row it sits beside."""
    from ssrl_core.evaluate import encode

    monkeypatch.setattr(encode, "CHUNK", 2)
    for i in range(5):
        Image.new("L", (8, 8), 40 * i).save(tmp_path / f"{i}.png")
    batches, skipped = encode.read_images([tmp_path], 8, 1)
    names, means = [], []
    for chunk_names, images in batches:
        assert len(chunk_names) == len(images) <= 2
        names += chunk_names
        means += images.float().mean((1, 2, 3)).round().int().tolist()
    assert names == [str(tmp_path / f"{i}.png") for i in range(5)] and means == [40 * i for i in range(5)]
    assert skipped == []


def test_images_in_memory_and_a_run_id(finished_run, tmp_path):
    from ssrl_core.evaluate.encode import encode_images

    rid = finished_run("simclr")
    ds = load_dataset("digits")
    [f] = save(ds.images, [11], tmp_path)
    from_file = encode_paths(rid, [f])  # a run id, as `runs` lists it
    gray = ds.images[11, 0].numpy()
    found = encode_images(rid, [gray, np.stack([gray] * 3, -1), Image.open(f)])
    np.testing.assert_allclose(found.features, np.repeat(from_file.features, 3, 0), atol=1e-5)
    assert found.files == ["#0", "#1", "#2"] and found.nearest_row.tolist() == [11] * 3
    with pytest.raises(ValueError, match=r"image 0: a float32 array of shape \(8, 8\): give uint8"):
        encode_images(rid, [np.zeros((8, 8), np.float32)])
    with pytest.raises(ValueError, match="image 0: a str: give a PIL image or a uint8 array"):
        encode_images(rid, ["digit.png"])
    # one image on its own, and a batch array, as a person holding them would pass them
    for one in (gray, np.stack([gray] * 3, -1), Image.open(f)):
        single = encode_images(rid, one)
        assert single.files == ["#0"] and single.nearest_row.tolist() == [11]
    assert encode_images(rid, np.stack([gray] * 4)).nearest_row.tolist() == [11] * 4  # [N, H, W]
    with pytest.raises(ValueError, match="images: a int: give a PIL image, a uint8 array, or a list"):
        encode_images(rid, 7)


def test_a_run_folder_that_cannot_be_written_is_read_all_the_same(finished_run, tmp_path):
    """A colleague's run, read-only: the typical similarity it has no room to cache is computed."""
    folder = Path(run_dir(finished_run, "simclr"))
    lock = folder / "probes.json.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # the cache's lock cannot be opened: as in a folder that cannot be written
    [f] = save(load_dataset("digits").images, [5], tmp_path)
    first, again = encode_paths(folder, f), encode_paths(folder, f)
    assert first.nearest_row.tolist() == [5] and 0 < first.typical_similarity == again.typical_similarity <= 1
    probes = folder / "probes.json"
    assert not probes.exists() or "typical_similarity" not in json.loads(probes.read_text())


def test_embed_cut_short_by_a_full_disk_leaves_the_earlier_output_whole(finished_run, tmp_path, capsys, monkeypatch):
    import errno

    import ssrl_core.runs.export as export

    rid = finished_run("simclr")
    files = save(load_dataset("digits").images, [1, 2], tmp_path / "in")
    out = tmp_path / "out"
    cli("embed", "--run", rid, "--out", str(out), str(files[0]), capsys=capsys)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = export.write_npz

    def full(path, cols):  # the .npz written, then no room for the .csv
        real(path, cols)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export, "write_npz", full)
    res = cli("embed", "--run", rid, "--out", str(out), *map(str, files), check=False, capsys=capsys)
    assert res.returncode == 2 and f"the disk holding {out} is full" in res.stderr, res.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no half of the new output, no temp folder


def test_embed_never_writes_into_a_run_nor_over_an_export(finished_run, tmp_path, capsys):
    rid = finished_run("simclr")
    [f] = save(load_dataset("digits").images, [2], tmp_path / "in")
    folder = run_dir(finished_run, "simclr")
    res = cli("embed", "--run", rid, "--out", folder, str(f), check=False, capsys=capsys)
    assert res.returncode == 2 and "holds a run (its config.json), whose files would be replaced" in res.stderr
    assert not list(Path(folder).glob("embedded.*"))
    res = cli("embed", "--run", rid, "--out", f"{folder}/mine", str(f), check=False, capsys=capsys)
    assert res.returncode == 2 and f"is inside the run folder {folder}, and deleting the run" in res.stderr
    assert not Path(folder, "mine").exists()
    export = tmp_path / "export"
    cli("export", "--run", rid, "--out", str(export), capsys=capsys)
    before = (export / "embeddings.npz").read_bytes()
    cli("embed", "--run", rid, "--out", str(export), str(f), capsys=capsys)
    assert (export / "embeddings.npz").read_bytes() == before and (export / "embedded.npz").exists()
    res = cli("embed", "--run", "", "--out", str(tmp_path / "x"), str(f), check=False, capsys=capsys)
    assert res.returncode == 2 and "no run was given" in res.stderr


def test_a_folder_of_archives_is_read_archive_by_archive(finished_run, tmp_path, capsys):
    """A folder holding one zip per plate said "the paths hold no image files"."""
    run = run_dir(finished_run, "simclr")
    ds = load_dataset("digits")
    buf = io.BytesIO()
    Image.fromarray(ds.images[6, 0].numpy(), "L").save(buf, "PNG")
    plates = tmp_path / "plates"
    plates.mkdir()
    make_zip(plates / "plate1.zip", {"a/6.png": buf.getvalue()})
    res = cli("embed", "--run", run, "--out", str(tmp_path / "out"), str(plates), capsys=capsys)
    assert json.loads(res.stdout)["images"] == 1
    assert np.load(tmp_path / "out" / "embedded.npz")["file"].tolist() == [f"{plates / 'plate1.zip'}:a/6.png"]


def test_an_image_unlike_an_unlabelled_set_is_not_said_to_get_a_class(tmp_path, capsys):
    folder = loose_run(tmp_path)
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(noise)
    res = cli("embed", "--run", str(folder), "--out", str(tmp_path / "out"), str(noise), capsys=capsys)
    assert json.loads(res.stdout)["unlike_the_dataset"] == 1
    assert "their nearest images say little about them" in res.stderr and "classes" not in res.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_embed_refuses_a_device_or_a_pipe_before_reading_it(finished_run, tmp_path):
    """`embed ... /dev/zero` took it for a zip archive to check, and the check read /dev/zero
    for ever (15 GB of memory in 30 s)."""
    rid = finished_run("simclr")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for odd in ("/dev/zero", str(fifo)):
        res = cli("embed", "--run", rid, "--out", str(tmp_path / "out"), odd, check=False, timeout=60)  # a process:
        # were it to read for ever, the timeout ends it
        assert res.returncode == 2 and res.stderr == (
            f"error: not a file nor a folder: {odd} (a device, a pipe or a socket): give image files, folders of "
            "images or .zip archives of images\n"), res.stderr
    assert not (tmp_path / "out").exists()
