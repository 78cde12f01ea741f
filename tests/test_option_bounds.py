"""Method options have types and ranges: a value a method cannot train with is refused when
the method is built (so before a run is queued), with a message naming the method, the
option, what it must be and its default; values from a CLI or a form ("3", "false") pass."""
import json
import re

import pytest
import torch
import torch.nn as nn

from ssrl_core.cli import main
from ssrl_core.config import RunConfig, parse_options
from ssrl_core.models import build_encoder
from ssrl_core.pretext import METHODS, build_method, check_options, option_range
from ssrl_core.runs.store import RunStore
from ssrl_core.runs.worker import explain_failure
from ssrl_core.train import Diverged, preflight

from .test_cli import cli


def build(name, **options):
    channels = 3 if name == "colorization" else 1
    encoder = build_encoder("vit-tiny" if name == "mae" else "cnn-small", channels)
    return build_method(name, encoder, 10, channels, options)


NUMERIC = [(name, key) for name, m in METHODS.items() for key, v in m.defaults.items()
           if isinstance(v, (int, float)) and not isinstance(v, bool)]


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_builds_with_its_defaults(name):
    method = build(name)
    assert method.options == METHODS[name].defaults


@pytest.mark.parametrize("name", list(METHODS))
def test_every_default_given_as_a_value_is_accepted(name):
    """A range shared by an option's name (``n_*``: 2 and more, "the classes a head predicts")
    refused a new method's own default of 1 given explicitly, in a lesson or with --option,
    while building with the defaults passed: each default stated is accepted."""
    cls = METHODS[name]
    assert check_options(name, dict(cls.defaults)) == cls.defaults
    for key, value in cls.defaults.items():
        assert check_options(name, {key: value})[key] == value, key


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_says_its_family_options_and_what_to_expect(name):
    """What the docs ask of a method, for each in the registry (it was tested for three): a
    family of the survey's (a typo made a group of its own on Pretrain), help for every
    option, a docstring citing its paper with "What to expect", and, where it lists its
    options, their defaults as they are (written twice, they drift)."""
    import re
    import sys

    from ssrl_core.pretext.base import FAMILIES

    cls = METHODS[name]
    assert cls.family in FAMILIES, cls.family
    assert set(cls.option_help) == set(cls.defaults) and all(cls.option_help.values()) and cls.summary
    doc = sys.modules[cls.__module__].__doc__
    assert "What to expect" in doc or cls.family == "baseline", name
    listed = re.search(r"^Options: (.*?)\.$", doc, re.M | re.S)
    if listed:
        said = dict(re.findall(r"(\w+) \(([^,)]+)", listed.group(1)))
        shown = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in cls.defaults.items()}
        assert said == shown, (name, said, shown)


@pytest.mark.parametrize("name, key", NUMERIC)
def test_a_negative_value_of_any_numeric_option_is_refused_by_name(name, key):
    with pytest.raises(ValueError, match=rf"^{name} option {key} must be .*, got -1: .*\(default "):
        build(name, **{key: -1})


@pytest.mark.parametrize("name, options, words", [
    ("simclr", {"temperature": 0}, "simclr option temperature must be from 0.01 to 10, got 0"),
    ("moco", {"temperature": 0.0}, "moco option temperature must be from 0.01 to 10"),
    ("swav", {"temperature": 0}, "swav option temperature must be from 0.01 to 10"),
    ("simclr", {"proj_dim": 0}, "simclr option proj_dim must be from 2 to 8192, got 0"),
    ("simclr", {"hidden_dim": 10**6}, "simclr option hidden_dim must be from 1 to 8192, got 1000000"),
    ("moco", {"momentum": 1}, "moco option momentum must be at least 0 and below 1, got 1"),
    ("moco", {"queue_size": 0}, "moco option queue_size must be from 1 to 65536"),
    ("byol", {"tau_base": 1.0}, "byol option tau_base must be at least 0 and below 1"),
    ("swav", {"epsilon": 0}, "swav option epsilon must be greater than 0"),
    ("swav", {"n_prototypes": 1}, "swav option n_prototypes must be from 2 to 10000"),
    ("swav", {"freeze_prototypes": 1.5}, "swav option freeze_prototypes must be from 0 to 1"),
    ("deepcluster", {"n_clusters": 1}, "deepcluster option n_clusters must be from 2 to 10000"),
    ("deepcluster", {"kmeans_iters": 0}, "deepcluster option kmeans_iters must be from 1 to 1000"),
    ("jigsaw", {"grid": 1}, "jigsaw option grid must be 2 or 3, got 1"),
    ("jigsaw", {"grid": 4}, "jigsaw option grid must be 2 or 3, got 4"),
    ("jigsaw", {"n_permutations": 1}, "jigsaw option n_permutations must be from 2 to 1000"),
    ("jigsaw", {"grid": 2}, "jigsaw option n_permutations must be at most 24 with grid 2"),
    ("mae", {"mask_ratio": 1}, "mae option mask_ratio must be at least 0.05 and below 1"),
    ("mae", {"mask_ratio": 0}, "mae option mask_ratio must be at least 0.05 and below 1"),
    ("mae", {"decoder_dim": 130}, "mae option decoder_dim must be a multiple of 4 (its sin-cos positions) and of "
                                  "decoder_heads (4), got 130: try 128"),
    ("mae", {"decoder_heads": 3}, "mae option decoder_dim must be a multiple of 4 (its sin-cos positions) and of "
                                  "decoder_heads (3), got 128"),
    ("mae", {"decoder_depth": 0}, "mae option decoder_depth must be from 1 to 16"),
    ("inpainting", {"mask_fraction": 1}, "inpainting option mask_fraction must be above 0 and below 1"),
    ("colorization", {"rebalance": 0}, "colorization option rebalance must be above 0 and at most 1"),
    ("colorization", {"ab_grid": 2}, "colorization option ab_grid must be from 8 to 50"),
    ("supervised", {"label_smoothing": 1}, "supervised option label_smoothing must be at least 0 and below 1"),
    ("vicreg", {"sim_weight": 0, "var_weight": 0, "cov_weight": 0}, "vicreg options sim_weight, var_weight and "
                                                                     "cov_weight are all 0"),
    ("deepcluster", {"head_init": "centroid"}, "deepcluster option head_init must be random or centroids, got "
                                               "'centroid' (default centroids)"),
    ("inpainting", {"mask_mode": "ring"}, "inpainting option mask_mode must be central or random"),
    ("simsiam", {"predictor": "maybe"}, "simsiam option predictor must be true or false, got 'maybe' (default true)"),
    ("simclr", {"temperature": "nan"}, "simclr option temperature must be a number, got 'nan'"),
    ("simclr", {"temperature": "warm"}, "simclr option temperature must be a number, got 'warm'"),
    ("simclr", {"proj_dim": 3.5}, "simclr option proj_dim must be a whole number, got 3.5"),
    ("simclr", {"proj_dim": True}, "simclr option proj_dim must be a whole number, got True"),
])
def test_values_a_method_cannot_train_with_are_refused_saying_why(name, options, words):
    with pytest.raises(ValueError) as err:
        build(name, **options)
    assert str(err.value).startswith(words), str(err.value)


@pytest.mark.parametrize("name, options", [
    ("swav", {"queue_size": 0, "freeze_prototypes": 1.0}),  # no queue; prototypes frozen throughout
    ("moco", {"momentum": 0, "queue_size": 1}),
    ("jigsaw", {"grid": 2, "n_permutations": 24}),
    ("colorization", {"rebalance": 1, "ab_grid": 8}),
    ("supervised", {"label_smoothing": 0}),
    ("vicreg", {"sim_weight": 0, "var_weight": 0}),
    ("mae", {"decoder_dim": 96, "decoder_heads": 3}),
    ("barlow_twins", {"lambda_offdiag": 0}),
])
def test_edge_values_that_still_train_are_accepted(name, options):
    method = build(name, **options)
    assert {k: method.options[k] for k in options} == options  # kept as given, not clamped
    torch.manual_seed(0)
    views = [torch.rand(8, method.channels, 32, 32) for _ in range(method.n_views)]
    loss, _ = method.training_step(views, torch.randint(0, 10, (8,)), torch.arange(8))
    loss.backward()  # one real step: the edge value trains
    assert torch.isfinite(loss)


def test_values_from_a_cli_or_a_form_are_read_as_their_defaults_types():
    method = build("simclr", **parse_options(["proj_dim=64", "hidden_dim=256.0"]), temperature="0.2")
    assert method.options == {"temperature": 0.2, "proj_dim": 64, "hidden_dim": 256}
    assert method.projector(torch.rand(3, method.encoder.feature_dim)).shape == (3, 64)
    simsiam = build("simsiam", predictor="false", stop_gradient=0, proj_dim=" 32 ", hidden_dim="32",
                    pred_hidden_dim="8.0")
    assert isinstance(simsiam.predictor, nn.Identity) and simsiam.stop_gradient is False
    assert build("mae", norm_pix_loss="false").options["norm_pix_loss"] is False  # not a truthy string


def test_options_typed_as_key_value_are_read_each_once_and_whole():
    """``--option key=value``: spaces around either side dropped, numbers and true/false read as JSON, a value that
    holds '=' kept whole (split at the first '='), a key given twice or a pair without a key refused."""
    assert parse_options(["temperature=0.2", " proj_dim = 64 ", "predictor=false", "note=a=b"]) == {
        "temperature": 0.2, "proj_dim": 64, "predictor": False, "note": "a=b"}
    assert parse_options(None) == {} and parse_options([]) == {}
    for bad in ("temperature", "=0.2", " = 0.2"):
        with pytest.raises(ValueError, match=f"option '{bad}' must look like key=value"):
            parse_options([bad])
    with pytest.raises(ValueError, match=r"option temperature is given twice \(0.1 and 0.2\): give it once"):
        parse_options(["temperature=0.1", "temperature=0.2"])


@pytest.mark.parametrize("given, meant", [("true", True), (" Yes ", True), ("1", True), (1, True), (True, True),
                                          ("false", False), ("no", False), ("0", False), (0, False)])
def test_a_yes_no_option_is_read_from_the_words_a_form_or_a_cli_gives(given, meant):
    assert build("simsiam", stop_gradient=given, proj_dim=32, hidden_dim=32, pred_hidden_dim=8).stop_gradient is meant


@pytest.mark.parametrize("given", [2, 0.5, "maybe", "", None])
def test_a_yes_no_option_refuses_anything_else_saying_its_default(given):
    with pytest.raises(ValueError, match=rf"simsiam option stop_gradient must be .*, got {re.escape(repr(given))} "
                                         r"\(default true\)"):
        build("simsiam", stop_gradient=given, proj_dim=32, hidden_dim=32, pred_hidden_dim=8)


def test_a_config_with_a_misspelt_option_is_refused_before_it_is_queued():
    """Python's ``RunStore().submit(RunConfig(...))`` as the command line: a misspelt option is
    refused naming the one meant, not queued to fail in the worker."""
    with pytest.raises(ValueError, match=r"simclr has no option temprature \(did you mean 'temperature'\?\)"):
        RunStore().submit(RunConfig(dataset="digits", method="simclr", options={"temprature": 0.1}))
    assert RunStore().list() == []


def test_every_numeric_option_has_a_range_and_every_text_option_its_choices():
    for name, m in METHODS.items():
        for key, v in m.defaults.items():
            if isinstance(v, str):
                assert v in m.option_choices.get(key, ()), (name, key)
            elif not isinstance(v, bool):
                assert option_range(name, key) is not None, (name, key)


def test_option_range_gives_a_form_its_bounds_in_the_options_type():
    assert option_range("simclr", "temperature") == (0.01, 10, False, False)
    assert option_range("simclr", "proj_dim") == (2, 8192, False, False)
    assert all(isinstance(b, int) for b in option_range("jigsaw", "grid")[:2])
    assert all(isinstance(b, float) for b in option_range("moco", "momentum")[:2])
    assert option_range("simsiam", "predictor") is None and option_range("deepcluster", "head_init") is None
    with pytest.raises(ValueError, match="simclr has no option tau: its options are temperature"):
        option_range("simclr", "tau")
    with pytest.raises(ValueError, match="unknown method 'simclrr'"):
        option_range("simclrr", "temperature")
    assert check_options("simclr", {"proj_dim": "64"})["proj_dim"] == 64


def test_preflight_refuses_bad_options_before_looking_for_the_data(monkeypatch):
    monkeypatch.setenv("SSRL_BACKEND", "ray")  # where a dataset missing here would otherwise pass
    with pytest.raises(ValueError, match="simclr option temperature must be from 0.01 to 10"):
        preflight(RunConfig(dataset="cifar10", method="simclr", options={"temperature": 0}))


def test_list_methods_says_what_each_option_may_be(capsys):
    assert main(["list", "methods", "--json"]) == 0
    methods = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert methods["simclr"]["option_ranges"]["temperature"] == "from 0.01 to 10"
    assert methods["inpainting"]["option_ranges"]["mask_mode"] == "central or random"
    assert methods["simsiam"]["option_ranges"]["predictor"] == "true or false"


def test_the_cli_refuses_a_bad_option_before_making_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    res = cli("train", "--dataset", "digits", "--method", "simclr", "--option", "temperature=0", "--out", str(out),
              check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: simclr option temperature must be from 0.01 to 10, got 0: ")
    assert "(default 0.5)" in res.stderr and not out.exists()
    res = cli("submit", "--dataset", "digits", "--method", "simclr", "--option", "proj_dim=0", check=False,
              capsys=capsys)  # in this process: the refusal above was the real one
    assert res.returncode == 2 and "simclr option proj_dim must be from 2 to 8192" in res.stderr
    assert RunStore().list() == []


def test_divergence_advice_raises_a_temperature_and_lowers_the_learning_rate():
    msg = explain_failure(Diverged("the loss became nan at epoch 1, step 20"))
    assert msg.startswith("diverged: the loss became nan at epoch 1, step 20. Lower the learning rate (--lr)")
    assert "raise it" in msg and "or the temperature" not in msg


def test_a_run_trained_before_a_range_narrowed_still_loads_for_its_probes(finished_run, monkeypatch):
    """The weights fit the options the run trained with; a later, narrower range refuses new
    runs with those options but does not lock the old run's folder away from the probes."""
    from ssrl_core.pretext.base import OptionRange
    from ssrl_core.pretext.simclr import SimCLR
    from ssrl_core.train import load_trained

    rid = finished_run("simclr")  # trained with the default temperature, 0.5
    monkeypatch.setattr(SimCLR, "option_ranges", {"temperature": OptionRange(0, 0.3, lo_open=True, why="narrowed")},
                        raising=False)
    with pytest.raises(ValueError, match="temperature must be .* got 0.5: narrowed"):
        check_options("simclr", {"temperature": 0.5})  # a new run is refused
    trained = load_trained(RunStore().get(rid)["run_dir"])
    assert trained.method.options["temperature"] == 0.5  # and the checkpoint's weights fitted it
    with pytest.raises(ValueError, match="narrowed"):  # and the relaxation ended with the load
        check_options("simclr", {"temperature": 0.5})


def test_a_run_trained_before_an_option_conflict_was_added_still_loads_for_its_probes(finished_run, monkeypatch):
    from ssrl_core.pretext.simclr import SimCLR
    from ssrl_core.train import load_trained

    rid = finished_run("simclr")
    monkeypatch.setattr(SimCLR, "option_conflicts",
                        classmethod(lambda cls, o: "temperature 0.5 now conflicts (added later)"))
    with pytest.raises(ValueError, match="added later"):
        check_options("simclr", {"temperature": 0.5})  # a new run is refused
    trained = load_trained(RunStore().get(rid)["run_dir"])  # the old run still loads
    assert trained.method.options["temperature"] == 0.5
    with pytest.raises(ValueError, match="added later"):  # and the relaxation ended with the load
        check_options("simclr", {"temperature": 0.5})


@pytest.mark.parametrize("method, options", [
    ("mae", {"decoder_dim": 8192, "decoder_depth": 16}),  # each in range; together 13 billion numbers (52 GB)
    ("moco", {"queue_size": 65536, "proj_dim": 8192}),  # a 537-million-number queue
])
def test_a_model_too_large_for_the_server_is_refused_without_being_built(method, options, monkeypatch):
    """Every option in its range, yet together a model of tens of GB: preflight built it on the
    CPU to check it, in the app's own process while the Pretrain page rendered a link's values
    (and a worker again), and the machine ran out of memory. It is sized on the meta device first."""
    import ssrl_core.train as train

    def built(*a, **k):
        raise AssertionError("preflight allocated the model")

    monkeypatch.setattr(train, "build", built)
    with pytest.raises(ValueError, match=r"million numbers .* more than the 300 million a run may have here: lower"):
        preflight(RunConfig(dataset="digits", method=method, options=options))


def test_on_a_gpu_host_preflight_checks_the_network_the_worker_will_train(monkeypatch):
    """``auto`` is resnet18 on a GPU and cnn-small on a CPU: preflight sized and built cnn-small
    on a GPU host, whose worker then trained resnet18 (a review, with CUDA faked)."""
    import ssrl_core.train as train

    seen = []
    monkeypatch.setattr(train, "pick_device", lambda pref="auto": torch.device("cuda"))
    monkeypatch.setattr(train, "precision_for", lambda device, pref="auto": None)
    monkeypatch.setattr(train, "build", lambda cfg, device, ds: seen.append(cfg.encoder))
    preflight(RunConfig(dataset="digits", method="simclr"), here=True)
    assert seen == ["resnet18"]
    monkeypatch.setattr(train, "pick_device", lambda pref="auto": torch.device("cpu"))
    preflight(RunConfig(dataset="digits", method="simclr"), here=True)
    preflight(RunConfig(dataset="digits", method="simclr"), here=False)  # on Ray: the node's device is unknown
    assert seen == ["resnet18", "cnn-small", "cnn-small"]


def test_the_papers_widest_heads_still_pass_the_size_check():
    from ssrl_core.data import load_dataset
    from ssrl_core.train import MAX_MODEL_NUMBERS, model_numbers

    cfg = RunConfig(dataset="digits", method="barlow_twins", encoder="resnet18",
                    options={"proj_dim": 8192, "hidden_dim": 8192}).resolved("cpu")
    assert 100e6 < model_numbers(cfg, load_dataset("digits")) < MAX_MODEL_NUMBERS


def test_counting_a_model_on_the_meta_device_matches_building_it_and_loads_no_compiler():
    """``model_numbers`` (the size check before Launch) gives every method's real count, and a
    fresh process counting them all imports no sympy: PyTorch's meta kernels bring it in on the
    first random draw or normalisation of a meta tensor, and it cost the Pretrain page's first
    view 2.3 s (colorization's colour bins, made on the meta device, brought it in before)."""
    import json
    import subprocess
    import sys
    from types import SimpleNamespace

    from ssrl_core.train import build, model_numbers

    from .conftest import ROOT

    script = ("import json, sys\nfrom types import SimpleNamespace\nfrom ssrl_core.config import RunConfig\n"
              "from ssrl_core.pretext import METHODS\nfrom ssrl_core.train import model_numbers\n"
              "ds = SimpleNamespace(channels=3, num_classes=10)\n"
              "counts = {m: model_numbers(RunConfig(method=m).resolved('cpu'), ds) for m in METHODS}\n"
              "print(json.dumps({'counts': counts, 'sympy': 'sympy' in sys.modules}))")
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["sympy"] is False
    ds = SimpleNamespace(channels=3, num_classes=10)
    for name in METHODS:
        cfg = RunConfig(method=name).resolved("cpu")
        real = build(cfg, torch.device("cpu"), ds)
        assert out["counts"][name] == sum(t.numel() for t in (*real.parameters(), *real.buffers())), name
        assert out["counts"][name] == model_numbers(cfg, ds)  # in this process, where sympy may be loaded too
