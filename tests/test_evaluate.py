"""Evaluation pieces on data whose answer is known."""
import numpy as np
import pytest
import torch

from ssrl_core.evaluate.knn import knn_accuracies, knn_accuracy, knn_predict
from ssrl_core.evaluate.linear import linear_probe_accuracy
from ssrl_core.evaluate.project import fuzzy_simplicial_set, knn_graph, pca_2d, umap_2d


def _blobs(n_per=60, k=4, d=16, spread=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 3
    x = np.concatenate([c + spread * rng.normal(size=(n_per, d)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(k), n_per)
    return x, y


def test_weighted_knn_vote_by_hand():
    # memory: two points of class 0 near the query, three of class 1 further away.
    mem = np.array([[1, 0.1], [1, -0.1], [0, 1], [0.1, 1], [-0.1, 1]], np.float32)
    lab = np.array([0, 0, 1, 1, 1])
    q = np.array([[1, 0]], np.float32)
    # with k=5 a plain majority would say 1; similarity weights exp(s/0.07) say 0
    assert knn_predict(mem, lab, q, 2, k=5, tau=0.07)[0] == 0
    # with a huge temperature every neighbour weighs the same: the majority wins
    assert knn_predict(mem, lab, q, 2, k=5, tau=1e6)[0] == 1


def test_knn_at_several_k_from_one_search_matches_a_brute_force_vote_per_k():
    rng = np.random.default_rng(3)
    mem, q = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(120, 8)).astype(np.float32)
    lab, q_lab = rng.integers(0, 3, 300), rng.integers(0, 3, 120)
    mem[:, 0] += lab  # some signal, so that the k's differ
    q[:, 0] += q_lab

    def brute(k: int, tau: float = 0.07) -> float:
        unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
        sims = unit(q) @ unit(mem).T
        near = np.argsort(-sims, axis=1)[:, :k]
        votes = np.zeros((len(q), 3))
        for i in range(len(q)):
            for j in near[i]:
                votes[i, lab[j]] += np.exp(sims[i, j] / tau)
        return float((votes.argmax(1) == q_lab).mean())

    got = knn_accuracies(mem, lab, q, q_lab, 3, (100, 1, 20, 5, 500))  # in any order; 500 > the memory: all 300
    assert set(got) == {1, 5, 20, 100, 500}
    for k, acc in got.items():
        assert acc == brute(min(k, 300)) == knn_accuracy(mem, lab, q, q_lab, 3, k=k), k
    assert len(set(got.values())) > 2


def test_knn_and_linear_probe_separate_blobs_but_not_noise():
    x, y = _blobs()
    tr = np.arange(len(y)) % 2 == 0
    assert knn_accuracy(x[tr], y[tr], x[~tr], y[~tr], 4) == 1.0
    assert linear_probe_accuracy(x[tr], y[tr], x[~tr], y[~tr]) == 1.0
    rng = np.random.default_rng(1)
    noise = rng.normal(size=x.shape).astype(np.float32)
    assert knn_accuracy(noise[tr], y[tr], noise[~tr], y[~tr], 4) < 0.5


def test_fuzzy_graph_matches_umap_learn():
    import umap.umap_ as U

    x, _ = _blobs(n_per=40, spread=1.0)
    idx, dist = knn_graph(x, 10)
    ours = fuzzy_simplicial_set(idx, dist).tocsr()
    ref, _, _ = U.fuzzy_simplicial_set(x, 10, np.random.RandomState(0), "cosine", knn_indices=idx,
                                       knn_dists=dist.astype(np.float32))
    assert ours.shape == ref.shape
    assert abs(ours - ref.tocsr()).max() < 0.01
    assert abs(ours - ours.T).max() < 1e-12  # symmetric


def test_an_outside_image_lands_among_its_nearest_neighbours_not_between_groups():
    """The upload's cross: three neighbours close by in one group on the map, five a little less
    similar in another. Weighted by similarity (all about 0.95 to 0.99) the cross fell between
    the groups, where no point is; weighted as UMAP starts a new point, it lands with the three."""
    from ssrl_core.evaluate.project import memberships
    from ssrl_core.figures import landing_point

    where = np.array([[0, 0], [0.2, 0], [0, 0.2]] + [[10, 0]] * 5, dtype=np.float64)
    sims = np.array([0.995, 0.993, 0.99, 0.97, 0.96, 0.95, 0.95, 0.94])
    similarity_weighted = (where * sims[:, None]).sum(0) / sims.sum()
    assert similarity_weighted[0] > 6  # (the old cross: in the empty middle)
    at = landing_point(where, sims)
    assert at[0] < 2.5 and np.isfinite(at).all()  # (by the three: log2(9) of strength takes a little of the rest)
    assert np.allclose(landing_point(where, np.full(8, 0.9)), where.mean(0))  # neighbours alike: their mean
    assert np.allclose(landing_point(where[:1], [0.5]), where[0])
    # a dataset image uploaded as itself lands on its own point (UMAP's nearest positive distance let its twin weigh
    # no more than the next neighbour: half-way to a far one)
    assert np.allclose(landing_point(np.array([[0, 0], [10, 0], [0, 10]]), [1.0, 0.5, 0.4]), [0, 0])
    # four and four, in two groups of a map 100 across: UMAP's strengths stay even, so the mean is between them;
    # given the map's scale, it lands in the group that weighs most (a tie: the most similar neighbour's)
    split = np.array([[0, 0], [1, 0], [0, 1], [1, 1]] * 1 + [[50, 50], [51, 50], [50, 51], [51, 51]], dtype=float)
    even = np.array([0.972, 0.971, 0.970, 0.969, 0.9715, 0.9705, 0.9695, 0.9685])
    assert 20 < landing_point(split, even)[0] < 30  # (no scale: between them)
    assert (0 <= landing_point(split, even, scale=100 * np.sqrt(2))).all()
    assert (landing_point(split, even, scale=100 * np.sqrt(2)) <= 1).all()  # among the first four
    heavier = np.array([0.95, 0.95, 0.95, 0.95, 0.97, 0.97, 0.97, 0.97])
    assert np.allclose(landing_point(split, heavier, scale=100 * np.sqrt(2)), [50.5, 50.5])  # (equal strengths there)
    # UMAP's strengths: the nearest at 1, all eight summing to log2(9), as the map's own graph weighs neighbours
    w = memberships(np.concatenate([[0.0], 1 - sims])[None])[0, 1:]
    assert w[0] == pytest.approx(1.0) and w.sum() == pytest.approx(np.log2(9), rel=1e-3)


def test_umap_keeps_clusters_apart():
    x, y = _blobs(n_per=50)
    m = umap_2d(x, seed=0)
    assert m.shape == (len(x), 2) and np.isfinite(m).all()
    # every point's nearest map neighbour is of its own cluster
    d = ((m[:, None] - m[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (y[d.argmin(1)] == y).mean() > 0.98
    # deterministic for a seed
    assert np.allclose(umap_2d(x, seed=0), m)


def test_tiny_inputs_do_not_crash():
    assert umap_2d(np.ones((1, 4), np.float32)).shape == (1, 2)
    assert umap_2d(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)).shape == (3, 2)
    assert pca_2d(np.random.default_rng(0).normal(size=(10, 4))).shape == (10, 2)


def test_collapse_stats_tell_collapse_from_spread():
    from ssrl_core.evaluate.collapse import collapse_stats

    rng = np.random.default_rng(0)
    spread = collapse_stats(rng.normal(size=(2000, 64)))
    assert abs(spread["embedding_std"] - 1 / np.sqrt(64)) < 0.01  # about 1/sqrt(d) on the sphere
    assert spread["effective_rank"] > 55
    point = collapse_stats(np.tile(rng.normal(size=(1, 64)), (500, 1)))
    assert point["embedding_std"] < 1e-6 and point["effective_rank"] == 1.0
    line = collapse_stats(rng.normal(size=(500, 1)) * rng.normal(size=(1, 64)) + 0.001 * rng.normal(size=(500, 64)))
    assert line["effective_rank"] < 1.5  # dimensional collapse: one direction holds the variance
    # the std reads the embedding the objective compares, the rank the encoder's features
    both = collapse_stats(rng.normal(size=(500, 64)), np.tile(rng.normal(size=(1, 16)), (500, 1)))
    assert both["embedding_std"] < 1e-6 and both["embedding_dim"] == 16 and both["effective_rank"] > 40


def test_methods_with_a_projector_measure_collapse_on_its_output():
    """Every method with a projector (VICReg: expander) names it as its ``embedding_head``, so
    ``embedding_std`` is read on the embedding its loss compares, as wide as its ``proj_dim``
    option; a new method that forgets it is named here."""
    import torch
    from ssrl_core.models import build_encoder
    from ssrl_core.pretext import METHODS

    x = torch.rand(8, 3, 32, 32)
    measured = []
    for name, cls in METHODS.items():
        method = cls(build_encoder(cls.preferred_encoder or "cnn-small", 3), 10, 3, {}).eval()
        heads = [h for h in ("projector", "expander") if isinstance(getattr(method, h, None), torch.nn.Module)]
        assert cls.embedding_head == (heads[0] if heads else None), (
            f"{name} has {heads or 'no projector'} and embedding_head = {cls.embedding_head!r}: name its projector "
            "there (embedding_head = 'projector'), so that embedding_std is read on the embedding its loss compares")
        embedder = method.embedder()
        if embedder is None:
            continue
        with torch.no_grad():
            z = embedder(method.encoder(x))
            assert torch.allclose(z, getattr(method, method.embedding_head)(method.encoder(x)))
        assert z.shape[1] == cls.defaults["proj_dim"], name
        measured.append(name)
    assert len(measured) >= 7  # simclr, moco, byol, simsiam, barlow_twins, vicreg, swav


def test_a_large_set_s_map_graph_is_approximate_but_finds_nearly_every_neighbour(monkeypatch):
    """From ``APPROX_FROM`` points on (CIFAR-10's 60,000), the kNN graph under the UMAP comes
    from an IVF index (a third of the exact search's time there, bench/knn_graph.py); below it
    (digits, shapes: the maps a class sees) the graph is the exact one, so those maps stay as
    they were."""
    from ssrl_core.evaluate import project

    x, y = _blobs(n_per=150, k=20, d=32, spread=0.6, seed=3)  # 3,000 points, 55 lists
    exact_idx, exact_dist = knn_graph(x, 15, approximate=False)
    idx, dist = knn_graph(x, 15, approximate=True)
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(idx, exact_idx)])
    assert recall >= 0.95
    assert (idx[:, 0] == np.arange(len(x))).all() and (np.diff(dist, axis=1) >= -1e-6).all()  # itself, then nearest first
    small_idx, small_dist = knn_graph(x, 15)  # 3,000 < APPROX_FROM: the exact graph, unchanged
    assert (small_idx == exact_idx).all() and (small_dist == exact_dist).all()
    monkeypatch.setattr(project, "APPROX_FROM", 1000)
    m = umap_2d(x, seed=0, n_epochs=50)
    d = ((m[:, None] - m[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (y[d.argmin(1)] == y).mean() > 0.95
    assert np.array_equal(umap_2d(x, seed=0, n_epochs=50), m)  # still one map per seed


def test_numbas_cache_goes_where_numba_cache_dir_says_and_into_ssrl_home_only_without_it(ssrl_home, tmp_path,
                                                                                           monkeypatch):
    import os

    from ssrl_core.evaluate.project import numba_cache

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert numba_cache() == tmp_path / "elsewhere"
    assert not (ssrl_home / "cache" / "numba").exists()  # nothing made where it is not used
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert numba_cache() == ssrl_home / "cache" / "numba" and numba_cache().is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(ssrl_home / "cache" / "numba")  # for numba and children


def test_an_embedding_std_an_older_version_read_on_the_features_is_left_out(ssrl_home):
    """Before 2026-12-01 ``embedding_std`` was read on the encoder's features for every method;
    since, on the embedding its objective compares. An upgrade review's Compare showed two
    SimCLR runs of one kNN accuracy at 0.0198 (old) and 0.0853 (new) side by side. A run of a
    method with a projector and no ``embedding_dim`` beside its number is left out: on the
    pages' tables, in ``runs --csv`` and to a lesson's checks; a method without one kept its
    meaning."""
    import io

    from ssrl_core.cli import write_runs_csv
    from ssrl_core.pretext import read_embedding_std

    old, new = {"embedding_std": 0.0198}, {"embedding_std": 0.0853, "embedding_dim": 128}
    assert read_embedding_std(old, "simclr") is None and read_embedding_std(new, "simclr") == 0.0853
    assert read_embedding_std(old, "rotation") == 0.0198  # read on the features then and now
    assert read_embedding_std({}, "simclr") is None and read_embedding_std(old, "no-such-method") == 0.0198

    from ssrl_core import lessons as L

    lesson = L.load_by_name("collapse")
    run = next(n for n, c in lesson.runs.items() if c.method in ("simsiam", "simclr", "byol"))
    summary = {"method": lesson.runs[run].method, **old}
    data = {run: L.RunData(summary, {}, [{"epoch": 1, **old}, {"epoch": 2, **new}], {})}
    assert L.metric_value(lesson, data, f"{run}.embedding_std") is None
    assert L.metric_value(lesson, data, f"{run}.epoch:embedding_std@last") == 0.0853
    assert L.metric_value(lesson, data, f"{run}.epoch:embedding_std@1") is None

    out = io.StringIO()
    row = {"id": "r1", "created": 0, "nickname": None, "status": "done", "method": "simclr", "dataset": "digits",
           "epochs": 5, "config": {"seed": 0}, "summary": {"knn_accuracy": 0.9, **old}}
    write_runs_csv([row, {**row, "id": "r2", "summary": {"knn_accuracy": 0.9, **new}}], out)
    lines = out.getvalue().splitlines()
    col = lines[0].split(",").index("embedding_std")
    assert [line.split(",")[col] for line in lines[1:]] == ["", "0.0853"]


def test_evaluation_batches_hold_a_fixed_number_of_pixels_and_halve_when_a_device_runs_out():
    """A fixed 512 images a batch at 256 px ran a GPU out of memory in resnet18's full-resolution
    first layers at the first epoch's probe; now a batch holds at most 512 images' worth of 32-px pixels,
    and out of memory it is halved and the same rows tried again, the features unchanged."""
    from ssrl_core.evaluate.embed import batch_for, embed

    assert [batch_for(torch.zeros(1, 3, s, s)) for s in (8, 28, 32, 64, 96, 256, 1024)] == [512, 512, 512, 128, 56, 8, 1]

    class Tight(torch.nn.Module):  # a device that holds at most 40 images at once
        feature_dim = 3
        sizes: list[int] = []

        def forward(self, x):
            self.sizes.append(len(x))
            if len(x) > 40:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
            return x.mean(dim=(2, 3))

    images = torch.randint(0, 256, (300, 3, 64, 64), dtype=torch.uint8)
    tight = Tight()
    feats = embed(tight, images, torch.device("cpu"))
    assert tight.sizes[:3] == [128, 64, 32] and set(tight.sizes[3:]) <= {32, 12}
    assert sum(s for s in tight.sizes if s <= 40) == 300
    np.testing.assert_allclose(feats, images.float().div(255).mean(dim=(2, 3)).numpy(), rtol=1e-6)

    class Never(Tight):
        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    with pytest.raises(torch.OutOfMemoryError):  # even one image does not fit: said, not looped on
        embed(Never(), images[:5], torch.device("cpu"))


def test_features_are_taken_in_eval_mode_whatever_the_batch_and_the_mode_is_given_back():
    """An encoder in the middle of training (batch norm in training mode) gives each image its features
    whatever else is in its evaluation batch, the last partial batch too, and is left training after."""
    from ssrl_core.evaluate.embed import embed
    from ssrl_core.models import build_encoder

    torch.manual_seed(0)
    encoder = build_encoder("cnn-small", 1).train()
    images = torch.randint(0, 256, (10, 1, 16, 16), dtype=torch.uint8)
    whole = embed(encoder, images, torch.device("cpu"), batch_size=10)
    assert encoder.training
    np.testing.assert_allclose(embed(encoder, images, torch.device("cpu"), batch_size=3), whole, atol=1e-5)
    np.testing.assert_allclose(embed(encoder, images[7:], torch.device("cpu")), whole[7:], atol=1e-5)
