"""A first-time user's and a teacher's flows through the app: what a page says while runs
are queued or training, where a step leads next, what survives a reload."""
from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore

from .test_app import open_page


def test_results_pages_name_the_run_in_training_instead_of_saying_to_launch_one():
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=10), nickname="ada")
    store.claim("w")
    store.record(rid, {"kind": "step", "epoch": 2, "epochs": 10, "step": 10, "total_steps": 440, "loss": 3.0,
                       "images_per_s": 900.0, "eta_s": 60.0})
    store.record(rid, {"kind": "epoch_end", "epoch": 2, "epochs": 10, "loss": 2.75})
    for page in ("explore", "evaluate", "invariance", "gallery", "compare"):
        at = open_page(page, who="ada")
        [info] = at.info
        assert "Launch" not in info.value, (page, info.value)  # the student has launched: it is training
        assert "simclr · digits" in info.value and "yours, training, epoch 3/10" in info.value, (page, info.value)
        assert "updates by itself" in info.value
    store.finish(rid, "cancelled", error="cancelled by ada")
    at = open_page("explore", who="ada")  # nothing active any more: the usual advice
    assert "No finished runs yet. Launch one on the Pretrain page" in at.info[0].value


def test_compare_with_one_finished_run_counts_the_one_in_training(finished_run):
    finished_run("simclr")
    store = RunStore()
    store.submit(RunConfig(dataset="digits", method="rotation", epochs=3), nickname="bo")
    at = open_page("compare", who="ada")
    [info] = at.info
    assert "1 of the 2 finished runs" in info.value and "rotation · digits" in info.value
    assert "by bo, queued" in info.value
