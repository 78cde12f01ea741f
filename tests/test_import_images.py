"""Importing a zip of images: hostile archives are refused whole, odd but honest images are
accepted, nothing is written outside SSRL_HOME, and the result is a usable dataset."""
import io
import json
import os
import shutil
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from ssrl_core.config import RunConfig
from ssrl_core.data import available_datasets, load_dataset
from ssrl_core.data import custom
from ssrl_core.data.custom import ArchiveRejected, import_images


def png(color=(200, 30, 30), size=(20, 12), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def snapshot(root) -> set:
    return {p for p in root.rglob("*")}


def test_class_folders_become_a_labelled_dataset(tmp_path, ssrl_home):
    members = {f"photos/cat/{i}.png": png((200, 30 + 10 * i, 30)) for i in range(5)}  # (no two alike: copies of one
    members |= {f"photos/dog/{i}.jpg": _jpeg((30, 30 + 10 * i, 200)) for i in range(5)}  # image share a split)
    members["photos/readme.txt"] = b"hello"
    report = import_images(make_zip(tmp_path / "a.zip", members), "pets", size=16)
    assert report.labelled and report.images == 10 and report.per_class == {"cat": 5, "dog": 5}
    assert report.channels == 3 and report.skipped == [{"member": "photos/readme.txt", "reason": "not an image file"}]
    ds = load_dataset("pets")
    assert ds.images.shape == (10, 3, 16, 16) and ds.class_names == ["cat", "dog"]
    assert set(ds.labels.tolist()) == {0, 1} and ds.is_train.sum() == 8  # stratified 80/20
    cat = ds.images[ds.labels == 0].float().mean((0, 2, 3))
    assert cat[0] > 150 and cat[2] < 80  # pixels survive: cats are red
    assert "pets" in available_datasets()
    RunConfig(dataset="pets", method="simclr")  # usable in a run


def test_loose_images_become_an_unlabelled_dataset(tmp_path):
    report = import_images(make_zip(tmp_path / "b.zip", {f"{i}.png": png() for i in range(6)}), "loose")
    assert not report.labelled and report.per_class == {"(unlabelled)": 6}
    ds = load_dataset("loose")
    assert (ds.labels == -1).all() and ds.class_names == []


@pytest.mark.parametrize("top", ["", "photos/"])
@pytest.mark.parametrize("stray", ["cover.png", "{top}cover.png"])
def test_a_stray_image_beside_class_folders_is_skipped_and_the_set_stays_labelled(tmp_path, top, stray):
    members = {f"{top}cat/{i}.png": png((200, 30, 30)) for i in range(15)}
    members |= {f"{top}dog/{i}.png": png((30, 30, 200)) for i in range(15)}
    stray = stray.format(top=top)
    members[stray] = png((0, 200, 0))
    report = import_images(make_zip(tmp_path / "s.zip", members), "strays")
    assert report.labelled and report.unlabelled_reason == ""
    assert report.images == 30 and report.per_class == {"cat": 15, "dog": 15}
    [skipped] = report.skipped
    assert skipped["member"] == stray and "outside the class folders" in skipped["reason"]
    assert "move it into one" in skipped["reason"]
    ds = load_dataset("strays")
    assert len(ds) == 30 and ds.class_names == ["cat", "dog"] and (ds.labels >= 0).all()


def test_doubly_nested_class_folders_are_found_below_any_depth_of_top_folders(tmp_path):
    """A zip made by zipping a folder that holds a folder of class folders (as Finder and
    Explorer do): ``outer/inner/{circle,square,stripes}/*.png``, with the directory entries a
    zip tool writes; strays beside the class folders, at any level, are skipped and listed."""
    members = {"outer/": b"", "outer/inner/": b""}
    colours = {"circle": (200, 30, 30), "square": (30, 200, 30), "stripes": (30, 30, 200)}
    for cls, colour in colours.items():
        members[f"outer/inner/{cls}/"] = b""
        members |= {f"outer/inner/{cls}/{i:02d}.png": png(colour) for i in range(5)}
    members |= {"outer/inner/cover.png": png((0, 0, 0)), "outer/logo.png": png((9, 9, 9))}
    report = import_images(make_zip(tmp_path / "outer.zip", members), "nested")
    assert report.labelled and report.unlabelled_reason == ""
    assert report.per_class == {"circle": 5, "square": 5, "stripes": 5}
    assert sorted(s["member"] for s in report.skipped) == ["outer/inner/cover.png", "outer/logo.png"]
    assert all("outside the class folders" in s["reason"] for s in report.skipped)
    ds = load_dataset("nested")
    assert ds.class_names == ["circle", "square", "stripes"] and len(ds) == 15
    red = ds.images[ds.labels == 0].float().mean((0, 2, 3))
    assert red[0] > 150 and red[1] < 80  # circles are the red ones: labels follow the folders
    deeper = {f"a/b/c/{cls}/{i}.png": png(colour) for cls, colour in colours.items() for i in range(2)}
    assert import_images(make_zip(tmp_path / "deep.zip", deeper), "deeper").per_class == {
        "circle": 2, "square": 2, "stripes": 2}


def test_an_import_keeps_each_images_file_in_row_order_and_its_archive_name(tmp_path):
    members = {f"pets/cat/tabby_{i:02d}.png": png((200, 20 * i, 0)) for i in range(4)}
    members |= {"pets/cover.png": png(), "pets/dog/broken.png": b"not a png", "pets/dog/notes.txt": b"x"}
    members |= {f"pets/dog/rex_{i:02d}.jpg": _jpeg((0, 20 * i, 200)) for i in range(3)}
    report = import_images(make_zip(tmp_path / "My Pets.zip", members), "pets")
    ds = load_dataset("pets")
    kept = [m for m in members if "tabby" in m or "rex" in m]  # the skipped ones are not rows
    assert ds.files == kept and len(ds.files) == len(ds) == report.images
    assert [ds.label_name(i) for i in range(len(ds))] == [m.split("/")[1] for m in kept]  # file i is row i
    assert ds.file_name(0) == "tabby_00.png" and ds.file_name(6) == "rex_02.jpg"
    assert report.archive == "My Pets.zip" and ds.archive == "My Pets.zip"
    assert report.fingerprint == ds.fingerprint and len(ds.fingerprint) == 16
    assert load_dataset("digits").files is None and load_dataset("digits").file_name(0) is None
    with open(tmp_path / "My Pets.zip", "rb") as f:  # a file object (an upload) names its archive too
        assert import_images(f, "pets", replace=True).archive == "My Pets.zip"
    assert import_images(io.BytesIO((tmp_path / "My Pets.zip").read_bytes()), "pets", replace=True).archive is None


def test_a_set_imported_before_file_names_were_kept_still_loads_without_them(tmp_path, ssrl_home):
    report = import_images(make_zip(tmp_path / "o.zip", {f"{c}/{i}.png": png((40 * i, 0, 0)) for c in "ab"
                                                         for i in range(3)}), "old")
    folder = ssrl_home / "data" / "custom" / "old"
    (folder / "files.json").unlink()  # as an import before this change left it
    meta = json.loads((folder / "meta.json").read_text())
    for key in ("archive", "fingerprint"):
        del meta["report"][key]
    (folder / "meta.json").write_text(json.dumps(meta))
    ds = custom.load_custom("old")
    assert ds.files is None and ds.file_name(0) is None and ds.archive is None
    assert ds.fingerprint == report.fingerprint  # computed from the same arrays, so old runs' records still match
    assert custom.custom_datasets()["old"] == "your images: 6, 2 classes (imported)"


@pytest.mark.parametrize("members, words", [
    ({f"{i}.png": b"" for i in range(4)}, "the images are loose, not in class folders"),
    ({f"cat/{i}.png": b"" for i in range(4)}, "all the images are in one folder ('cat') with no class folders in it"),
    ({f"pets/cat/{i}.png": b"" for i in range(4)}, "only one class folder ('cat')"),
    ({f"outer/inner/cat/{i}.png": b"" for i in range(4)}, "only one class folder ('cat')"),
    ({f"outer/inner/cat/{i}.png": b"" for i in range(4)} | {"outer/cover.png": b""},
     "only one class folder ('cat') besides 1 image outside it"),
    ({f"cat/{i}.png": b"" for i in range(4)} | {"cover.png": b""},
     "only one class folder ('cat') besides 1 image outside it"),
    ({f"pets/cat/{i}.png": b"" for i in range(4)} | {"pets/cover.png": b""},
     "only one class folder ('cat') besides 1 image outside it"),
])
def test_an_unlabelled_import_says_why(tmp_path, members, words):
    members = {m: png((40 * i, 0, 0)) for i, m in enumerate(members)}
    report = import_images(make_zip(tmp_path / "u.zip", members), "why")
    assert not report.labelled and report.images == len(members) and report.skipped == []
    assert report.unlabelled_reason.startswith("Unlabelled: ") and words in report.unlabelled_reason
    assert "put each class's images in a folder of its own" in report.unlabelled_reason
    if "one" in words:
        assert "one class cannot be classified" in report.unlabelled_reason
    ds = load_dataset("why")
    assert (ds.labels == -1).all() and ds.class_names == []
    assert custom.custom_datasets()["why"].endswith("unlabelled (imported)")


def test_odd_but_honest_images_are_converted(tmp_path):
    def save(im, fmt="PNG"):
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        return buf.getvalue()

    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent: composited on white
    palette = Image.new("P", (10, 30))
    palette.putpalette([0, 255, 0] * 256)
    gray16 = Image.fromarray(np.full((12, 12), 65535, dtype=np.uint16))
    cmyk = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # red in CMYK
    members = {
        "x/rgba.png": save(rgba), "x/palette.gif": save(palette, "GIF"), "x/gray16.png": save(gray16),
        "x/cmyk.jpg": save(cmyk, "JPEG"), "x/gray.bmp": save(Image.new("L", (40, 20), 128), "BMP"),
        "x/ünïcødé 图像.png": png((0, 0, 255)), "x/big.png": png(size=(300, 200)),
    }
    report = import_images(make_zip(tmp_path / "odd.zip", members), "odd", size=8)
    assert report.images == 7 and report.skipped == [] and report.channels == 3
    ds = load_dataset("odd")
    assert ds.images.shape == (7, 3, 8, 8)
    rows = {m.split("/")[-1]: i for i, m in enumerate(ds.files)}  # (in the order of their paths)
    px = lambda name: ds.images[rows[name], :, 4, 4].tolist()  # noqa: E731
    assert px("rgba.png") == [255, 255, 255]
    assert px("palette.gif") == [0, 255, 0]
    assert px("gray16.png") == [255, 255, 255]  # scaled, not clipped to 255 from 65535 by accident
    r, g, b = px("cmyk.jpg")
    assert r > 200 and g < 60 and b < 60


def test_all_grayscale_gives_a_one_channel_dataset(tmp_path):
    members = {f"a/{i}.png": png(100, mode="L") for i in range(3)} | {f"b/{i}.png": png(50, mode="L") for i in range(3)}
    import_images(make_zip(tmp_path / "g.zip", members), "grays", size=12)
    assert load_dataset("grays").images.shape == (6, 1, 12, 12)


def test_corrupt_and_fake_images_are_skipped_and_reported(tmp_path):
    good = png()
    members = {"c/ok.png": good, "c/truncated.png": good[: len(good) // 2], "c/fake.jpg": b"not a jpeg at all"}
    report = import_images(make_zip(tmp_path / "c.zip", members), "mixed")
    assert report.images == 1
    assert {s["member"] for s in report.skipped} == {"c/truncated.png", "c/fake.jpg"}
    assert all(s["reason"] == "not a readable image (damaged, cut short, or not the format its name says)"
               for s in report.skipped)  # not a Python exception's name


def test_the_report_gives_the_images_own_sizes_before_resizing(tmp_path):
    members = {"a/1.png": png(size=(48, 48)), "a/2.png": png(size=(100, 60)), "b/1.png": png(size=(64, 64))}
    report = import_images(make_zip(tmp_path / "s.zip", members), "sizes")
    assert report.source_sizes == ["48x48", "100x60"]  # the smallest and the largest, by pixels
    from app.readouts import resized

    assert resized(report.to_dict()).startswith("Resized from sizes between 48x48 and 100x60 to 32x32")
    same = import_images(make_zip(tmp_path / "t.zip", {"a/1.png": png(size=(32, 32)), "b/1.png": png((0, 0, 9), (32, 32))}),
                         "same")
    assert resized(same.to_dict()) == "Kept at 32x32, their size."


def test_pixel_bombs_are_skipped_without_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(custom, "MAX_PIXELS", 10_000)
    members = {"ok.png": png(size=(50, 50)), "huge.png": png(size=(120, 100))}
    report = import_images(make_zip(tmp_path / "p.zip", members), "pix")
    assert report.images == 1 and report.skipped[0]["reason"] == (
        "the image has 120x100 pixels, more than the limit of 10,000 (it would be resized to 32 px anyway: shrink it)")
    members |= {"ok.png": png((9, 9, 9), size=(50, 50)), "huger.png": png(size=(400, 400))}  # over twice the limit:
    # PIL will not open it; its count of pixels is said
    report = import_images(make_zip(tmp_path / "q.zip", members), "pix2")
    assert {s["member"]: s["reason"] for s in report.skipped}["huger.png"] == \
        "the image has 160,000 pixels, more than twice the limit of 10,000 (it would be resized to 32 px anyway: shrink it)"



def test_an_archive_of_many_images_each_under_the_limit_is_refused_past_its_pixels_in_all(tmp_path, monkeypatch,
                                                                                             ssrl_home):
    """9,000 blank 6300x6300 PNGs, each under MAX_PIXELS, zipped to 6.3 MB, passed every check
    and kept a core decoding for about 105 minutes. Their pixels in all are counted as each
    header is read, and the archive is refused past MAX_TOTAL_PIXELS; an archive whose images at
    their imported size would take more than MAX_OUTPUT_BYTES is refused before any is read."""
    monkeypatch.setattr(custom, "MAX_TOTAL_PIXELS", 25_000)
    decoded = []
    fit = custom.fit_image
    monkeypatch.setattr(custom, "fit_image", lambda im, *a: decoded.append(im.size) or fit(im, *a))
    members = {f"c{i % 2}/{i}.png": png((i, 9, 9), size=(100, 100)) for i in range(4)}
    with pytest.raises(ArchiveRejected) as e:
        import_images(make_zip(tmp_path / "many.zip", members), "many")
    assert str(e.value) == ("the archive's 4 images hold more than 25,000 pixels in all (one is 100x100), the limit, "
                            "about half a minute of decoding: shrink them before zipping (they are resized to 32 px "
                            "anyway), or import fewer")
    assert len(decoded) == 2  # the third was refused from its header, undecoded
    assert import_images(make_zip(tmp_path / "two.zip", dict(list(members.items())[:2])), "two").images == 2
    monkeypatch.setattr(custom, "MAX_OUTPUT_BYTES", 3 * 64 * 64 * 4 - 1)
    with pytest.raises(ArchiveRejected, match=r"4 images at 64 px would take 0\.00 GiB, more than the limit of 0 GiB: "
                                              r"import them at 63 px or less"):
        import_images(make_zip(tmp_path / "big.zip", members), "big", size=64)
    assert sorted(p.name for p in (ssrl_home / "data" / "custom").iterdir() if not p.name.startswith(".")) == ["two"]


def test_an_uploaded_query_that_is_no_image_or_too_large_is_told_in_a_sentence(monkeypatch):
    """Explore's "your own image": what is wrong and what to do, without Python's exception class."""
    from ssrl_core.evaluate.retrieval import query_tensor

    assert query_tensor(png(size=(50, 40)), 1, 16).shape == (1, 1, 16, 16)
    for data in (b"not an image", png()[:40]):  # no image at all; a truncated one
        with pytest.raises(ValueError) as e:
            query_tensor(data, 3, 32)
        assert str(e.value) == ("This file is not a readable image (damaged, cut short, or not the format its name "
                                "says): upload a PNG or JPEG.")
    monkeypatch.setattr(custom, "MAX_PIXELS", 10_000)
    with pytest.raises(ValueError) as e:
        query_tensor(png(size=(400, 300)), 3, 32)
    assert str(e.value) == ("The image has 120,000 pixels, more than twice the limit of 10,000 (it would be resized "
                            "to 32 px anyway: shrink it): upload a smaller image.")


@pytest.mark.parametrize("member, words", [
    ("/etc/evil.png", "absolute path"),
    ("C:/evil.png", "absolute path"),
    ("a/../../evil.png", "climbs out"),
    ("..\\evil.png", "climbs out"),
])
def test_dangerous_names_refuse_the_whole_archive(tmp_path, ssrl_home, member, words):
    path = make_zip(tmp_path / "bad.zip", {"ok/1.png": png(), member: png()})
    before = snapshot(tmp_path.parent)
    with pytest.raises(ArchiveRejected, match=words):
        import_images(path, "bad")
    assert "bad" not in available_datasets()
    new = snapshot(tmp_path.parent) - before
    assert not [p for p in new if "evil" in p.name]
    assert not (ssrl_home / "data" / "custom" / "bad").exists()


def test_links_are_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok/1.png", png())
        info = zipfile.ZipInfo("ok/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveRejected, match="is a link"):
        import_images(path, "links")


def test_too_many_members_and_too_large_totals(tmp_path, monkeypatch):
    monkeypatch.setattr(custom, "MAX_MEMBERS", 5)
    with pytest.raises(ArchiveRejected, match="more than the limit of 5"):
        import_images(make_zip(tmp_path / "many.zip", {f"{i}.png": png() for i in range(6)}), "many")
    monkeypatch.setattr(custom, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(ArchiveRejected, match="unpacks to"):
        import_images(make_zip(tmp_path / "big.zip", {"a.png": png(size=(200, 200)), "b.bin": os.urandom(2000)}), "big")


def test_zip_bombs_are_refused_before_inflating(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"ok.png": png(), "zeros.png": b"\0" * (50 << 20)})
    assert bomb.stat().st_size < 1 << 20  # 50 MiB of zeros squeezed into a few KiB
    with pytest.raises(ArchiveRejected, match="zip bomb"):
        import_images(bomb, "bomb")


def test_a_member_that_lies_about_its_size_is_caught(tmp_path):
    path = make_zip(tmp_path / "liar.zip", {"a.png": png(size=(64, 64))}, compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    # shrink the declared size in the central directory (offset 24 after its signature)
    cd = data.rfind(b"PK\x01\x02")
    real = int.from_bytes(data[cd + 24: cd + 28], "little")
    data[cd + 24: cd + 28] = (real // 2).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    # zipfile reads no more than the header says, and those bytes fail the member's CRC: skipped as unreadable
    with pytest.raises(ValueError, match="none of the images could be read: a.png: not a readable image"):
        import_images(path, "liar")
    assert "liar" not in available_datasets()


@pytest.mark.parametrize("name, words", [("Bad Name", "lowercase"), ("../x", "lowercase"), ("digits", "built-in"),
                                         ("", "lowercase"),
                                         ("digits\n", "lowercase")])  # (a folder 'digits⏎', offered beside digits)
def test_bad_names_are_refused(tmp_path, name, words):
    with pytest.raises(ValueError, match=words):
        import_images(make_zip(tmp_path / "n.zip", {"1.png": png()}), name)


def test_existing_names_need_replace_and_non_zips_are_refused(tmp_path):
    path = make_zip(tmp_path / "r.zip", {"1.png": png()})
    import_images(path, "again")
    with pytest.raises(custom.NameTaken, match="exists already") as taken:
        import_images(path, "again")
    assert taken.value.name == "again" and len(load_dataset("again")) == 1  # nothing touched
    import_images(make_zip(tmp_path / "r2.zip", {"1.png": png(), "2.png": png()}), "again", replace=True)
    assert len(load_dataset("again")) == 2  # the re-import is seen, not a stale cache
    (tmp_path / "not.zip").write_bytes(b"plain text")
    with pytest.raises(ValueError, match="not a readable zip archive"):
        import_images(tmp_path / "not.zip", "nozip")
    with pytest.raises(ValueError, match="no images"):
        import_images(make_zip(tmp_path / "t.zip", {"a.txt": b"x"}), "noimages")


def test_the_same_images_again_are_refused_under_another_name(tmp_path, ssrl_home):
    """A class passes one zip round: the second student's import is refused, naming the set the
    first one made, instead of piling up copies; another resolution is another set."""
    root = ssrl_home / "data" / "custom"
    members = {"oak/1.png": png(), "oak/2.png": png((0, 90, 0)), "elm/1.png": png((0, 0, 255))}
    import_images(make_zip(tmp_path / "leaves.zip", members), "leaves")
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    (tmp_path / "copy").mkdir()
    copy = make_zip(tmp_path / "copy" / "Leaves (1).zip", members)  # another file, the same images
    with pytest.raises(custom.SameImages) as same:
        import_images(copy, "leaves-2")
    assert same.value.existing == "leaves" and str(same.value) == (
        "these 3 images are imported already, as 'leaves' (the same images at 32 px, with the same labels and "
        "train/test split); nothing was imported: use 'leaves' (at another resolution they would make a new set)")
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before  # nothing written, not even a temp folder
    import_images(make_zip(tmp_path / "pines.zip", {"pine/1.png": png()}), "pines")
    with pytest.raises(custom.SameImages):  # nor over another set
        import_images(copy, "pines", replace=True)
    assert len(load_dataset("pines")) == 1
    import_images(copy, "leaves", replace=True)  # itself again: allowed, nothing to tell apart
    assert import_images(copy, "leaves-64", size=64).images == 3  # at another size: a set of its own
    # a file renamed, the same pixels in the same order: the same set (in another order, the rows differ: a new one)
    renamed = {("oak/1b.png" if m == "oak/2.png" else m): data for m, data in members.items()}
    with pytest.raises(custom.SameImages):
        import_images(make_zip(tmp_path / "renamed.zip", renamed), "renamed")
    members["elm/2.png"] = png((0, 0, 128))  # one image more: a new set
    assert import_images(make_zip(tmp_path / "more.zip", members), "more").images == 4


@pytest.mark.parametrize("second", ["another name", "the same name"])
def test_two_imports_at_once_make_one_set(tmp_path, ssrl_home, monkeypatch, second):
    """A class imports its zip in the same second: the app's sessions are threads of one server.
    The second import, checking while the first writes, used to find neither the name nor the
    images taken and write too (a copy, or a failed rename); it now waits and is told which."""
    import threading

    members = {"oak/1.png": png(), "oak/2.png": png((0, 90, 0)), "elm/1.png": png((0, 0, 255))}
    zips = [make_zip(tmp_path / f"{i}.zip", members) for i in range(2)]
    name = "leaves-b" if second == "another name" else "leaves"
    write, outcome = custom._write, []

    def import_second():
        try:
            outcome.append(import_images(zips[1], name).name)
        except ValueError as e:
            outcome.append(e)

    def first_writing(*args):  # the first import, about to write: the second one checks now
        if not threads:
            threads.append(threading.Thread(target=import_second))
            threads[0].start()
            threads[0].join(2.0)  # (without the lock it finishes here; with it, it waits for the write below)
        write(*args)

    threads = []
    monkeypatch.setattr(custom, "_write", first_writing)
    import_images(zips[0], "leaves")
    monkeypatch.setattr(custom, "_write", write)
    threads[0].join(30)
    expected = custom.SameImages if second == "another name" else custom.NameTaken
    assert len(outcome) == 1 and isinstance(outcome[0], expected), outcome
    assert list(custom.custom_datasets()) == ["leaves"] and len(load_dataset("leaves")) == 3


def test_a_full_disk_is_said_and_leaves_nothing_behind(tmp_path, ssrl_home, monkeypatch):
    """The disk fills while the set is written: a sentence saying so and what to do, not an
    OSError's traceback; no half-written folder, and a set being replaced is kept as it was."""
    import errno

    root = ssrl_home / "data" / "custom"
    import_images(make_zip(tmp_path / "a.zip", {"oak/1.png": png(), "elm/1.png": png((0, 0, 255))}), "leaves")
    before = snapshot(root)
    save = np.save

    def full(path, *args, **kwargs):
        if str(path).endswith("labels.npy"):  # the images are written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        save(path, *args, **kwargs)

    monkeypatch.setattr(np, "save", full)
    bigger = make_zip(tmp_path / "b.zip", {"oak/1.png": png(), "elm/1.png": png((0, 0, 255)), "elm/2.png": png((9, 9, 9))})
    for name, replace in (("leaves", True), ("more", False)):
        with pytest.raises(custom.NotWritten) as e:
            import_images(bigger, name, replace=replace)
        assert str(e.value) == (f"nothing was imported: the disk holding {root} is full: free some space there "
                                "(deleting ended runs frees the most), then import again (or at a smaller size)")
        assert snapshot(root) == before
    monkeypatch.setattr(np, "save", save)
    assert len(load_dataset("leaves")) == 2 and "more" not in custom.custom_datasets()


def test_cli_import_images(tmp_path):
    import json
    import subprocess
    import sys

    from .conftest import ROOT

    path = make_zip(tmp_path / "cli.zip", {"a/1.png": png(), "b/1.png": png((0, 0, 255))})
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "ssrl_core", "import-images", str(path), "--name", "clidata"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["per_class"] == {"a": 1, "b": 1}
    bad = make_zip(tmp_path / "evil.zip", {"../evil.png": png()})
    res = subprocess.run([sys.executable, "-m", "ssrl_core", "import-images", str(bad), "--name", "evil"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "climbs out" in res.stderr
    # without --name, the archive's file name made into one (as the Data page suggests)
    leaves = make_zip(tmp_path / "My Leaves.zip", {"oak/1.png": png(), "elm/1.png": png((0, 0, 255))})
    res = subprocess.run([sys.executable, "-m", "ssrl_core", "import-images", str(leaves)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["name"] == "my-leaves"


def test_cli_import_images_refuses_a_taken_default_name_naming_a_free_one(tmp_path, ssrl_home, capsys):
    """Without --name the dataset is named after the archive's file; run twice, the second is
    refused (exit 2, nothing written) naming the free name and --replace, as the Data page
    refuses a taken name, instead of piling up copies under my-leaves-2, -3, ..."""
    from ssrl_core.cli import main

    leaves = make_zip(tmp_path / "My Leaves.zip", {"oak/1.png": png(), "elm/1.png": png((0, 0, 255))})
    assert main(["import-images", str(leaves)]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "my-leaves"
    root = ssrl_home / "data" / "custom"
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert main(["import-images", str(leaves)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err == (
        "error: a dataset named 'my-leaves' (the default --name, from the archive's file name) exists already: "
        "pass --name my-leaves-2 (free) to import this archive beside it, or --replace to replace it (if the "
        "archive holds the very images of 'my-leaves', neither is needed: use 'my-leaves' as it is)\n")
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before  # nothing written
    assert main(["import-images", str(leaves), "--name", "my-leaves"]) == 2  # a name given is refused alike
    assert "'my-leaves' (--name) exists already: pass --name my-leaves-2 (free)" in capsys.readouterr().err
    # the two ways out the message names (beside it: another archive of that name; this one is imported already)
    assert main(["import-images", str(leaves), "--replace"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "my-leaves"
    assert main(["import-images", str(leaves), "--name", "my-leaves-2"]) == 2
    assert "imported already, as 'my-leaves'" in capsys.readouterr().err
    (tmp_path / "more").mkdir()
    more = make_zip(tmp_path / "more" / "My Leaves.zip", {"oak/1.png": png(), "elm/1.png": png((0, 0, 200))})
    assert main(["import-images", str(more), "--name", "my-leaves-2"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "my-leaves-2"
    assert sorted(p.name for p in root.iterdir() if p.name != ".import.lock") == ["my-leaves", "my-leaves-2"]
    # a built-in name cannot be replaced
    digits = make_zip(tmp_path / "Digits.zip", {"a/1.png": png()})
    assert main(["import-images", str(digits), "--replace"]) == 2
    assert capsys.readouterr().err == "error: 'digits' is a built-in dataset: choose another name ('digits-2' is free)\n"
    assert sorted(p.name for p in root.iterdir() if p.name != ".import.lock") == ["my-leaves", "my-leaves-2"]
    # a folder of images, not yet zipped (it read "no file")
    assert main(["import-images", str(tmp_path / "more")]) == 2
    assert capsys.readouterr().err == (f"error: '{tmp_path / 'more'}' is a folder: zip it (one subfolder per class) "
                                       "and give the archive's path\n")


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="JPEG")
    return buf.getvalue()


def test_server_upload_limit_matches_the_importer_and_xsrf_stays_on():
    import tomllib

    from .conftest import ROOT

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == custom.MAX_UPLOAD_MB
    assert cfg["server"]["enableXsrfProtection"] is True


def _deep(values: np.ndarray, fmt: str = "PNG") -> bytes:
    """A one-channel image file of ``values``: uint16 as a 16-bit PNG, float32 as a float TIFF."""
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, format=fmt)  # (uint16: mode I;16, float32: F)
    return buf.getvalue()


def test_16_bit_and_float_images_are_stretched_to_8_bits_each_over_its_own_values(tmp_path, ssrl_home):
    """A 12-bit camera's images are 16-bit files with values up to 4,095: divided by 65,535 they
    came out between 0 and 15 of 255; a float TIFF of 0 to 1 came out all black. Each deep image
    now spans 0 to 255 from its own darkest to brightest values, the report counts them, and
    8-bit images are left as they are."""
    ramp = np.linspace(0, 1, 24 * 24).reshape(24, 24)
    members = {f"a/{i}.png": _deep((ramp * 4095).astype(np.uint16)) for i in range(3)}  # 12 bits in 16
    members |= {f"b/{i}.tif": _deep(ramp.astype(np.float32), "TIFF") for i in range(3)}  # float, 0 to 1
    members |= {f"c/{i}.png": png(90, (24, 24), "L") for i in range(3)}  # 8 bits: unchanged
    report = import_images(make_zip(tmp_path / "deep.zip", members), "deep", size=24)
    assert report.stretched == 6 and report.to_dict()["stretched"] == 6
    ds = load_dataset("deep")
    for label in (0, 1):
        x = ds.images[ds.labels == label].float()
        assert x.min() == 0 and x.max() == 255 and x.std() > 60, (label, x.min(), x.max())
    assert set(ds.images[ds.labels == 2].unique().tolist()) == {90}


def test_an_image_of_several_pages_gives_its_first_and_the_report_counts_it(tmp_path, ssrl_home, monkeypatch):
    """A microscope's stack of channels or z-planes saved as one TIFF of several pages kept its
    first page without a word: the report counts such images (an animated GIF's too) and the
    Data page says only the first of each was imported. Without counting every frame: a 60 MB
    GIF of 4,000,000 frames took 10 s to import or to query with (PIL's n_frames walks them)."""
    from PIL import GifImagePlugin, TiffImagePlugin

    from app.readouts import first_pages

    def walked(self):
        raise AssertionError("every frame walked")

    for plugin in (GifImagePlugin.GifImageFile, TiffImagePlugin.TiffImageFile):
        monkeypatch.setattr(plugin, "n_frames", property(walked))

    def pages(*values, fmt="TIFF"):
        frames = [Image.new("L", (16, 16), v) for v in values]
        buf = io.BytesIO()
        frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:])
        return buf.getvalue()

    members = {f"stack/{i}.tif": pages(200, 10, 60) for i in range(3)}  # three pages each, the first bright
    members |= {"anim/0.gif": pages(120, 30, fmt="GIF"), "anim/1.tif": pages(120)}  # one page: not counted
    report = import_images(make_zip(tmp_path / "stacks.zip", members), "stacks", size=16)
    assert report.first_page_only == 4 and report.to_dict()["first_page_only"] == 4
    ds = load_dataset("stacks")
    assert set(ds.images[ds.labels == ds.class_names.index("stack")].unique().tolist()) == {200}  # the first page
    said = first_pages(report.to_dict())
    assert "4 images had several pages or frames" in said and "only the first of each was imported" in said
    assert first_pages(import_images(make_zip(tmp_path / "flat.zip", {f"{c}/{i}.png": png(9 * i, (16, 16), "L")
                                                                     for c in "ab" for i in range(3)}),
                                     "flat", size=16).to_dict()) == ""


def test_to_8_bits_leaves_out_a_few_hot_pixels_and_keeps_flat_and_broken_images_sane():
    a = np.tile(np.arange(100, 1100, dtype=np.float64), (10, 1))  # 10,000 values from 100 to 1,099
    a[0, :3] = 65535  # hot pixels: the rest would be squeezed into 4 grey levels
    out, stretched = custom.to_8_bits(a.astype(np.uint16))
    assert stretched and out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert len(np.unique(out)) > 200  # the ramp kept its grey levels
    flat, stretched = custom.to_8_bits(np.full((4, 4), 7, np.uint16))
    assert not stretched and set(flat.ravel().tolist()) == {7}
    nan = np.array([[np.nan, 0.0], [0.5, 1.0]], np.float32)
    out, stretched = custom.to_8_bits(nan)
    assert stretched and out.tolist() == [[0, 0], [128, 255]]  # NaN taken as the darkest value
    none, _ = custom.to_8_bits(np.full((2, 2), np.nan, np.float32))
    assert none.tolist() == [[0, 0], [0, 0]]


def test_a_class_folder_of_unreadable_files_is_no_class(tmp_path, ssrl_home):
    """``mito/`` held only a damaged JPEG: the set had a class of 0 images, in the report, in
    Data's class filter and in its count of classes."""
    members = {f"cells/er/{i}.png": png((200, 30, 30)) for i in range(5)}
    members |= {f"cells/nucleus/{i}.png": png((30, 30, 200)) for i in range(5)}
    members["cells/mito/broken.jpg"] = b"\xff\xd8\xff\xe0 not a jpeg"
    report = import_images(make_zip(tmp_path / "c.zip", members), "cells", size=16)
    assert report.per_class == {"er": 5, "nucleus": 5} and load_dataset("cells").class_names == ["er", "nucleus"]
    assert [s["member"] for s in report.skipped] == ["cells/mito/broken.jpg"]
    # one class left readable: unlabelled, and the report says why
    members = {f"cells/er/{i}.png": png((200, 30, 30)) for i in range(5)} | {"cells/mito/broken.jpg": b"junk"}
    report = import_images(make_zip(tmp_path / "d.zip", members), "cells-one", size=16)
    assert not report.labelled and "only one class folder ('er')" in report.unlabelled_reason


def test_folders_inside_class_folders_are_said_to_be_the_classs(tmp_path, ssrl_home):
    """exp1/plateA/nucleus/1.png is a plateA image (the first folder below the common ones is
    the class): a plate-and-condition archive got its plates as classes without a word."""
    members = {f"exp1/plateA/nucleus/{i}.png": png((200, 30, 30)) for i in range(3)}
    members |= {f"exp1/plateB/mito/{i}.png": png((30, 30, 200)) for i in range(3)}
    members |= {f"exp1/plateB/er/sub/{i}.png": png((30, 200, 30)) for i in range(3)}
    members |= {f"exp1/plateB/{i}.png": png((90, 90, 90)) for i in range(2)}
    report = import_images(make_zip(tmp_path / "p.zip", members), "plates", size=16)
    assert report.per_class == {"plateA": 3, "plateB": 8}
    assert report.merged == {"plateA": ["nucleus"], "plateB": ["er", "mito"]}
    flat = import_images(make_zip(tmp_path / "f.zip", {f"{c}/{i}.png": png((20 * i, 0, 0) if c == "a" else (0, 0, 20 * i))
                                                       for c in "ab" for i in range(3)}), "flat", size=16)
    assert flat.merged == {}


def test_a_fifth_of_each_class_is_held_out_and_always_the_same_files(tmp_path):
    """The split holds out a fifth of each class (4 of 20), and always the same files: the same zip imported
    on another machine, or after an upgrade, must give the same test images, or runs on it stop being
    comparable and the set is taken for another one."""
    members = {f"{c}/{i:02d}.png": png((10 * i, 200 if c == "a" else 0, 100), size=(12, 12)) for c in "ab" for i in range(20)}
    report = import_images(make_zip(tmp_path / "fifth.zip", members), "fifth", size=8)
    assert (report.train, report.test, report.copies) == (32, 8, 0)
    ds = load_dataset("fifth")
    held = [f for f, train in zip(ds.files, ds.is_train.tolist()) if not train]
    assert [sum(f.startswith(f"{c}/") for f in held) for c in "ab"] == [4, 4]
    assert held == ["a/02.png", "a/04.png", "a/06.png", "a/19.png", "b/04.png", "b/07.png", "b/11.png", "b/16.png"]


def test_an_image_of_another_shape_is_cropped_to_its_centre_not_squashed(tmp_path):
    """The shorter side is resized to the set's size and the middle kept: a wide photo keeps what is at its
    centre, not the whole of it squeezed (which bends every shape in it)."""
    def striped(size, box):  # blue, with a red square in the middle
        im = Image.new("RGB", size, (0, 0, 255))
        im.paste((255, 0, 0), box)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()

    members = {"wide.png": striped((48, 16), (16, 0, 32, 16)), "tall.png": striped((16, 48), (0, 16, 16, 32))}
    import_images(make_zip(tmp_path / "shapes.zip", members), "centres", size=16)
    ds = load_dataset("centres")
    assert ds.images.shape == (2, 3, 16, 16)
    for row in range(2):  # all red: the blue sides were cropped away
        assert ds.images[row, 0].min() == 255 and ds.images[row, 2].max() == 0, ds.files[row]


def test_the_same_images_under_other_class_names_are_another_set(tmp_path):
    """The fingerprint that tells a set already imported is of its images, labels, split and class names:
    the same photos sorted into folders of other names are another set, not refused as the same; and a set
    whose split or labels changed has another fingerprint."""
    from ssrl_core.data.imageset import ImageSet

    members = {f"{c}/{i}.png": png((40 * i, 200 if c == "cat" else 0, 100)) for c in ("cat", "dog") for i in range(5)}
    first = import_images(make_zip(tmp_path / "pets.zip", members), "pets")
    renamed = {m.replace("cat/", "kitten/").replace("dog/", "puppy/"): data for m, data in members.items()}
    second = import_images(make_zip(tmp_path / "young.zip", renamed), "young")  # not custom.SameImages
    assert second.fingerprint != first.fingerprint and load_dataset("young").class_names == ["kitten", "puppy"]
    ds = load_dataset("pets")
    same = lambda **change: ImageSet(**{"name": "x", "images": ds.images, "labels": ds.labels,  # noqa: E731
                                        "class_names": ds.class_names, "is_train": ds.is_train, **change}).fingerprint
    assert same() == ds.fingerprint == first.fingerprint
    assert same(is_train=~ds.is_train) != ds.fingerprint
    assert same(labels=1 - ds.labels) != ds.fingerprint
    assert same(images=ds.images // 2) != ds.fingerprint


def test_a_small_archive_of_flat_images_is_no_zip_bomb(tmp_path):
    """Flat-coloured BMPs squeeze a thousandfold, as a zip bomb does; under a megabyte unpacked, they are an
    honest small archive, imported."""
    def bmp(color):
        buf = io.BytesIO()
        Image.new("RGB", (128, 128), color).save(buf, format="BMP")
        return buf.getvalue()

    path = make_zip(tmp_path / "flat.zip", {f"{c}/{i}.bmp": bmp((30 * i, 200 if c == "a" else 0, 90))
                                            for c in "ab" for i in range(8)})
    with zipfile.ZipFile(path) as zf:
        assert all(i.file_size > 200 * i.compress_size for i in zf.infolist())  # a zip bomb's ratio
        assert sum(i.file_size for i in zf.infolist()) < 1 << 20
    report = import_images(path, "flat", size=8)
    assert report.images == 16 and report.skipped == []


def test_a_member_marked_encrypted_refuses_the_whole_archive(tmp_path, ssrl_home):
    path = make_zip(tmp_path / "locked.zip", {"a/1.png": png(), "b/1.png": png((0, 9, 9))}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    cd = data.rfind(b"PK\x01\x02")  # the last member's central directory entry: its flag bits at offset 8
    data[cd + 8] |= 0x1
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveRejected, match="'b/1.png' is encrypted"):
        import_images(path, "locked")
    assert not (ssrl_home / "data" / "custom" / "locked").exists()


def test_a_member_over_the_per_file_limit_refuses_the_archive_however_well_it_compresses(tmp_path, monkeypatch):
    monkeypatch.setattr(custom, "MAX_MEMBER_BYTES", 4000)
    big = png(size=(300, 300))  # a flat PNG: small zipped, over 4,000 bytes unpacked
    path = make_zip(tmp_path / "big.zip", {"a/1.png": png(), "b/big.bmp": _bmp(300, 300)})
    assert zipfile.ZipFile(path).getinfo("b/big.bmp").compress_size < 4000 < zipfile.ZipFile(path).getinfo(
        "b/big.bmp").file_size
    with pytest.raises(ArchiveRejected, match="'b/big.bmp' unpacks to .* more than the per-file limit"):
        import_images(path, "big")
    assert len(big) < 4000 and import_images(make_zip(tmp_path / "ok.zip", {"a/1.png": big}), "ok").images == 1


def _bmp(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, format="BMP")
    return buf.getvalue()


def test_a_cameras_upper_case_suffixes_are_images_too(tmp_path):
    members = {"cat/IMG_0001.JPG": _jpeg((200, 20, 20)), "cat/IMG_0002.Jpeg": _jpeg((190, 30, 20)),
               "dog/SCAN.PNG": png((20, 20, 200)), "dog/scan.TIF": _tiff((30, 20, 190)), "dog/NOTES.TXT": b"x"}
    report = import_images(make_zip(tmp_path / "cam.zip", members), "camera")
    assert report.images == 4 and report.per_class == {"cat": 2, "dog": 2}
    assert report.skipped == [{"member": "dog/NOTES.TXT", "reason": "not an image file"}]


def _tiff(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="TIFF")
    return buf.getvalue()


def test_the_pixels_in_all_count_each_images_width_by_its_height(tmp_path, monkeypatch):
    """Tall images (10x100): 1,000 pixels each, three of them over a limit of 2,500."""
    monkeypatch.setattr(custom, "MAX_TOTAL_PIXELS", 2_500)
    members = {f"c{i % 2}/{i}.png": png((i, 9, 9), size=(10, 100)) for i in range(3)}
    with pytest.raises(ArchiveRejected, match=r"more than 2,500 pixels in all \(one is 10x100\)"):
        import_images(make_zip(tmp_path / "tall.zip", members), "tall")
    assert import_images(make_zip(tmp_path / "two.zip", dict(list(members.items())[:2])), "two").images == 2


def test_grayscale_images_with_transparency_give_a_one_channel_set_on_white(tmp_path):
    members = {f"{c}/{i}.png": png((60 * i, 255 if i else 0), (12, 12), "LA") for c in "ab" for i in range(2)}
    report = import_images(make_zip(tmp_path / "la.zip", members), "gray-alpha", size=12)
    assert report.channels == 1
    ds = load_dataset("gray-alpha")
    assert ds.images.shape == (4, 1, 12, 12)
    rows = {name: row for row, name in enumerate(ds.files)}
    assert ds.images[rows["a/0.png"]].unique().tolist() == [255]  # fully transparent: white
    assert ds.images[rows["a/1.png"]].unique().tolist() == [60]  # opaque: its own grey


def test_a_palette_images_transparent_colour_is_composited_on_white(tmp_path):
    def gif(transparent: bool) -> bytes:
        im = Image.new("P", (10, 10), 0)
        im.putpalette([0, 0, 0, 0, 200, 0] + [0, 0, 0] * 254)  # index 0: black, index 1: green
        buf = io.BytesIO()
        im.save(buf, format="GIF", **({"transparency": 0} if transparent else {}))
        return buf.getvalue()

    members = {"a/clear.gif": gif(True), "b/black.gif": gif(False)}
    import_images(make_zip(tmp_path / "pal.zip", members), "palette", size=8)
    ds = load_dataset("palette")
    rows = {name: row for row, name in enumerate(ds.files)}
    assert ds.images[rows["a/clear.gif"]].unique().tolist() == [255]
    assert ds.images[rows["b/black.gif"]].unique().tolist() == [0]


def test_only_a_deep_image_whose_values_spread_is_counted_as_stretched(tmp_path):
    ramp = (np.linspace(0, 1, 16 * 16).reshape(16, 16) * 4095).astype(np.uint16)
    members = {"a/ramp.png": _deep(ramp), "b/flat.png": _deep(np.full((16, 16), 200, np.uint16))}
    report = import_images(make_zip(tmp_path / "flat.zip", members), "flat-deep", size=16)
    assert report.stretched == 1
    ds = load_dataset("flat-deep")
    rows = {name: row for row, name in enumerate(ds.files)}
    assert ds.images[rows["b/flat.png"]].unique().tolist() == [200]  # one value: kept, not stretched


def test_a_suggested_name_is_free_and_valid_however_many_are_taken_and_however_long():
    taken = {"leaves", "leaves-2"}
    assert custom.suggest_name("Leaves.zip", taken) == "leaves-3"
    long = "a" * 50
    name = custom.suggest_name(f"{long}.zip", {"a" * 40})
    assert name == "a" * 38 + "-2"
    custom.check_name(name, set())  # accepted as it is


@pytest.mark.parametrize("size", [8, 256])
def test_the_smallest_and_largest_sizes_offered_are_accepted(tmp_path, size):
    report = import_images(make_zip(tmp_path / "s.zip", {"1.png": png()}), f"size-{size}", size=size)
    assert report.size == size and load_dataset(f"size-{size}").images.shape[-2:] == (size, size)
    for wrong in (7, 257):
        with pytest.raises(ValueError, match="between 8 and 256"):
            import_images(make_zip(tmp_path / "s.zip", {"1.png": png()}), "wrong", size=wrong)


def test_a_copy_left_behind_by_an_interrupted_import_is_not_taken_for_an_imported_set(tmp_path, ssrl_home):
    path = make_zip(tmp_path / "p.zip", {"a/1.png": png(), "b/1.png": png((0, 0, 200))})
    import_images(path, "pets")
    root = ssrl_home / "data" / "custom"
    shutil.copytree(root / "pets", root / ".import-left")  # a crash between writing and renaming
    custom.remove_imported("pets")
    assert import_images(path, "pets-again").images == 2  # not "imported already, as '.import-left'"
    assert custom.imported_fingerprints() == {"pets-again": custom.import_report("pets-again")["fingerprint"]}
