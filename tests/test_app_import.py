"""The Data page's import, as a user review found it: only the latest attempt's outcome
shows; a taken name is answered with a free one and replaced only when asked for that very
name; a stray image beside class folders is skipped and listed; an unlabelled import says
why; the shapes caption names the factors the map can really be coloured by."""
from __future__ import annotations

import json

from ssrl_core.data import load_dataset
from ssrl_core.data.custom import custom_datasets

from .test_app_review_data import open_page
from .test_import_images import make_zip, png


def pets_zip(tmp_path, n: int = 3, name: str = "pets.zip") -> bytes:
    members = {f"cat/{i}.png": png((200, 20 * i, 0)) for i in range(n - n // 2)}
    members |= {f"dog/{i}.png": png((0, 20 * i, 200)) for i in range(n // 2)}
    return make_zip(tmp_path / name, members | {"notes.txt": b"x"}).read_bytes()


def upload(at, filename: str, data: bytes, name: str | None = None):
    at.file_uploader(key="data_upload").set_value((filename, data, "application/zip")).run()
    if name is not None:
        at.text_input(key="data_import_name").input(name).run()
    at.button(key="data_import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def outcome(at) -> tuple[list[str], list[str], int]:
    """(errors, successes, skipped-files tables) shown by the page."""
    skipped = [d for d in at.dataframe if "member" in d.value.columns]
    return [e.value for e in at.error], [s.value for s in at.success], len(skipped)


def test_only_the_latest_import_attempt_shows(tmp_path):
    at = upload(open_page("data"), "pets.zip", pets_zip(tmp_path), "my-pets")
    errors, successes, tables = outcome(at)
    assert not errors and successes[0].startswith("Imported **my-pets**") and tables == 1  # notes.txt skipped

    failures = {
        "a file that is no zip": ("notes.zip", b"just some text", "notes", "not a readable zip archive"),
        "the same name again": ("pets.zip", pets_zip(tmp_path), "my-pets", "was imported before"),
        "an empty zip": ("empty.zip", make_zip(tmp_path / "empty.zip", {}).read_bytes(), "empty", "holds no images"),
        "a zip of no images": ("docs.zip", make_zip(tmp_path / "docs.zip", {"a.txt": b"x"}).read_bytes(), "docs",
                               "holds no images"),
    }
    for what, (filename, data, name, words) in failures.items():
        errors, successes, tables = outcome(upload(at, filename, data, name))
        assert len(errors) == 1 and errors[0].startswith("Not imported: ") and words in errors[0], what
        assert not successes and not tables, what  # no old "Imported" box, no old skipped list
        assert not [w for w in at.warning if w.value.startswith("Skipped")], what

    errors, successes, tables = outcome(upload(at, "pets.zip", pets_zip(tmp_path, 4), "my-cats"))
    assert not errors and successes[0].startswith("Imported **my-cats**") and tables == 1  # the error is gone too
    assert at.selectbox(key="data_dataset").value == "my-cats"


def test_a_taken_name_is_answered_with_a_free_one_and_replaced_only_when_asked(tmp_path):
    at = upload(open_page("data"), "pets.zip", pets_zip(tmp_path, 3), "my-pets-v2")

    bigger = pets_zip(tmp_path, 5, "bigger.zip")
    at = upload(at, "bigger.zip", bigger, "my-pets-v2")
    [error] = [e.value for e in at.error]
    assert "'my-pets-v2' was imported before; nothing was changed" in error and "--replace" not in error
    assert "'my-pets-v2-2', which is free" in error and "tick *Replace the dataset 'my-pets-v2' imported before*" in error
    assert at.text_input(key="data_import_name").value == "my-pets-v2-2"  # no longer the taken name
    assert len(load_dataset("my-pets-v2")) == 3 and not at.success

    at.button(key="data_import").click().run()  # as offered: under the free name
    assert not at.error and at.success[0].value.startswith("Imported **my-pets-v2-2**: 5 images")

    # ticked for one name, then another name typed and Import clicked at once: the tick does not count
    at.text_input(key="data_import_name").input("my-pets-v2").run()
    box = at.checkbox(key="data_import_replace_my-pets-v2")
    assert box.label == "Replace the dataset 'my-pets-v2' imported before" and box.value is False
    box.check()
    at.text_input(key="data_import_name").input("my-pets-v2-2")
    at.button(key="data_import").click().run()
    assert "'my-pets-v2-2' was imported before; nothing was changed" in at.error[0].value
    assert len(load_dataset("my-pets-v2")) == 3 and len(load_dataset("my-pets-v2-2")) == 5

    # typed back and ticked: replaced, and the tick is gone afterwards (by new images: my-pets-v2-2 has these)
    at.file_uploader(key="data_upload").set_value(("biggest.zip", pets_zip(tmp_path, 7, "biggest.zip"),
                                                  "application/zip")).run()
    at.text_input(key="data_import_name").input("my-pets-v2").run()
    assert at.checkbox(key="data_import_replace_my-pets-v2").value is False
    at.checkbox(key="data_import_replace_my-pets-v2").check().run()
    at.button(key="data_import").click().run()
    assert not at.error and at.success[0].value.startswith("Replaced **my-pets-v2**: 7 images")
    assert len(load_dataset("my-pets-v2")) == 7
    # the tick is gone afterwards: for the archive just imported under its name there is nothing left to replace
    assert not [c for c in at.checkbox if c.key == "data_import_replace_my-pets-v2"]
    assert at.button(key="data_import").disabled
    assert any(m.value.startswith("**7** images of ") for m in at.markdown)  # the new images, not a cached old set


def test_the_class_zip_imported_by_a_classmate_opens_their_set_instead_of_a_copy(tmp_path):
    """The same archive again (another student, a shared home): no ``pets-2``; the page says
    which set holds the images, shows it and links to pretraining on it."""
    from .test_classroom import page_links

    at = upload(open_page("data"), "pets.zip", pets_zip(tmp_path, 4), "pets")
    at = upload(open_page("data"), "pets.zip", pets_zip(tmp_path, 4))  # a classmate; the name box offers pets-2
    assert not at.error and not at.success
    [said] = [i.value for i in at.info]
    assert said.startswith("**pets** holds these images already: the same 4 images at 32 px")
    assert at.selectbox(key="data_dataset").value == "pets" and at.query_params["dataset"] == "pets"
    assert ("pretrain", "dataset=pets") in page_links(at)
    assert sorted(custom_datasets()) == ["pets"]
    at.select_slider(key="data_import_size").set_value(48).run()  # another resolution: a set of its own
    at.button(key="data_import").click().run()
    assert at.success[0].value.startswith("Imported **pets-2**: 4 images") and not at.info


def test_a_stray_image_is_listed_and_an_unlabelled_import_says_why(tmp_path):
    members = {f"cat/{i}.png": png((200, 10 * i, 0)) for i in range(15)}
    members |= {f"dog/{i}.png": png((0, 10 * i, 200)) for i in range(15)} | {"cover.png": png((0, 200, 0))}
    at = upload(open_page("data"), "pets.zip", make_zip(tmp_path / "pets.zip", members).read_bytes(), "pets")
    assert "Imported **pets**: 30 images, labelled: cat 15, dog 15" in at.success[0].value and not at.info
    assert "Skipped 1 file" in at.warning[0].value
    [skipped] = [d.value for d in at.dataframe if "member" in d.value.columns]
    assert skipped["member"].tolist() == ["cover.png"] and "outside the class folders" in skipped["reason"][0]

    one = make_zip(tmp_path / "cats.zip", {f"cat/{i}.png": png((200, 10 * i, 0)) for i in range(15)}).read_bytes()
    at = upload(at, "cats.zip", one, "cats")
    assert "Imported **cats**: 15 images, unlabelled" in at.success[0].value
    [why] = [i.value for i in at.info]
    assert "all the images are in one folder ('cat')" in why and "one class cannot be classified" in why
    assert "put each class's images in a folder of its own" in why


def test_the_shapes_caption_names_the_factors_explore_offers():
    at = open_page("data")
    at.selectbox(key="data_dataset").select("shapes").run()
    ds = load_dataset("shapes")
    discrete = ds.discrete_factors()
    continuous = [f for f in ds.factors if f not in discrete]
    assert discrete and continuous
    [caption] = [c.value for c in at.caption if "factors" in c.value]
    head, tail = caption.split(" Continuous")
    assert "colour the map by" in head and "Explore" in head and "Invariance" in head
    assert head.split(": ", 1)[1].rstrip(".").split(", ") == discrete
    assert tail.split(": ", 1)[1].rstrip(".").split(", ") == continuous
    assert at.selectbox(key="data_caption").options == ["label", *discrete]  # as Explore's colour picker


def test_an_import_of_16_bit_images_says_they_were_stretched(tmp_path):
    import numpy as np

    from .test_import_images import _deep

    ramp = (np.linspace(0, 4095, 16 * 16).reshape(16, 16)).astype(np.uint16)
    members = {f"{c}/{i}.png": _deep(ramp) for c in ("er", "mito") for i in range(3)}
    at = upload(open_page("data"), "cells.zip", make_zip(tmp_path / "cells.zip", members).read_bytes(), "cells")
    [done] = [s.value for s in at.success]
    assert "6 images had 16-bit, 32-bit or float values: each was stretched to 8 bits from its own darkest" in done
    assert "(the 0.1st to the 99.9th percentile), so differences in brightness between images are not kept" in done
    at = upload(at, "pets.zip", pets_zip(tmp_path, 4), "pets")
    assert "stretched" not in at.success[0].value  # 8-bit images: nothing said


def test_an_import_says_which_folders_a_class_took(tmp_path):
    members = {f"exp1/plateA/nucleus/{i}.png": png((200, 30, 30)) for i in range(3)}
    members |= {f"exp1/plateB/mito/{i}.png": png((30, 30, 200)) for i in range(3)}
    at = upload(open_page("data"), "plates.zip", make_zip(tmp_path / "plates.zip", members).read_bytes(), "plates")
    [done] = [s.value for s in at.success]
    assert "Folders inside a class folder count as that class (plateA took nucleus/; plateB took mito/)" in done


def test_a_name_that_cannot_be_one_is_said_as_it_is_typed(tmp_path):
    """"Rare Cells!" was refused only once Import had read the whole archive."""
    at = open_page("data")
    at.file_uploader(key="data_upload").set_value(("pets.zip", pets_zip(tmp_path), "application/zip")).run()
    at.text_input(key="data_import_name").input("Rare Cells!").run()
    said = " ".join(c.value for c in at.caption)
    assert "must be 1-40 characters: lowercase letters" in said and "**rare-cells** would do" in said
    assert at.button(key="data_import").disabled
    at.text_input(key="data_import_name").input("digits").run()
    assert "'digits-2' is free" in " ".join(c.value for c in at.caption) and at.button(key="data_import").disabled
    at.text_input(key="data_import_name").input("rare-cells").run()
    assert not at.button(key="data_import").disabled


def test_a_set_says_who_imported_it_and_a_classmate_is_told_before_deleting_or_replacing_it(tmp_path, capsys):
    """No login, so any student could delete or replace a classmate's set (the runs on it lose
    their maps and neighbours) with nothing naming whose it was: a run's Delete names its owner."""
    from ssrl_core import cli
    from ssrl_core.data.custom import import_report

    at = upload(open_page("data", who="ada"), "pets.zip", pets_zip(tmp_path), "pets")
    assert import_report("pets")["imported_by"] == "ada"
    assert any(m.value.endswith(" · imported by **ada**") for m in at.main.markdown)

    def said(at) -> str:
        return " ".join(m.value for m in at.main.markdown)

    assert "imported this dataset, not you" not in said(at)  # ada's own
    bob = open_page("data", who="bob", dataset="pets")
    assert "**ada** imported this dataset, not you: ask them first. Deletes the images of **pets**" in said(bob)
    bob.file_uploader(key="data_upload").set_value(("more.zip", pets_zip(tmp_path, 5, "more.zip"),
                                                   "application/zip")).run()
    bob.text_input(key="data_import_name").input("pets").run()
    assert bob.checkbox(key="data_import_replace_pets").label == \
        "Replace the dataset 'pets' imported before by **ada**, not you"
    assert cli.main(["import-images", str(tmp_path / "more.zip"), "--name", "cats", "--nickname", "cy"]) == 0
    assert json.loads(capsys.readouterr().out)["imported_by"] == "cy" == import_report("cats")["imported_by"]
