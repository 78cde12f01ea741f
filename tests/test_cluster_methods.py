"""DeepCluster, SwAV and the supervised baseline: the properties each method promises."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssrl_core.models import build_encoder
from ssrl_core.pretext import deepcluster as dc_module
from ssrl_core.pretext import swav as swav_module
from ssrl_core.pretext.deepcluster import DeepCluster, split_empty
from ssrl_core.pretext.losses import sinkhorn
from ssrl_core.pretext.supervised import Supervised
from ssrl_core.pretext.swav import SwAV


def tiny_batch(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 16, 16, generator=g), torch.randint(0, 4, (n,), generator=g)


def as_uint8(x):
    return (x * 255).round().to(torch.uint8)


# -- SwAV ---------------------------------------------------------------------------------

def test_sinkhorn_balances_a_batch_that_prefers_one_prototype():
    g = torch.Generator().manual_seed(0)
    b, k = 64, 8
    scores = 0.1 * torch.randn(b, k, generator=g)
    scores[:, 0] += 1.0  # every sample prefers prototype 0
    assert torch.softmax(scores / 0.05, dim=1)[:, 0].sum() > 0.9 * b  # unbalanced without Sinkhorn
    q = sinkhorn(scores, epsilon=0.05, iterations=3)
    assert torch.allclose(q.sum(1), torch.ones(b), atol=1e-5)
    assert torch.allclose(q.sum(0), torch.full((k,), b / k), rtol=0.3), q.sum(0)  # 3 iterations: about B/K


def test_swav_codes_are_balanced_and_prototypes_have_unit_rows(monkeypatch):
    torch.manual_seed(0)
    codes = []
    monkeypatch.setattr(swav_module, "sinkhorn", lambda s, e, i: codes.append(sinkhorn(s, e, i)) or codes[-1])
    method = SwAV(build_encoder("cnn-small", 1), 4, 1, {"n_prototypes": 8})
    u = F.normalize(torch.randn(128), dim=0)
    with torch.no_grad():  # every embedding points (nearly) along u, and prototype 0 is u
        method.projector[-1].bias.copy_(100 * u)
        method.prototypes.weight.mul_(5.0)
        method.prototypes.weight[0] = 5 * u
    x, labels = tiny_batch(64)
    loss, logs = method.training_step([x, x.flip(-1)], labels)
    assert torch.isfinite(loss) and set(logs) >= {"loss", "prototypes_used"}
    assert torch.allclose(method.prototypes.weight.norm(dim=1), torch.ones(8), atol=1e-5)
    assert len(codes) == 2
    for q in codes:
        assert torch.allclose(q.sum(1), torch.ones(64), atol=1e-5)
        assert torch.allclose(q.sum(0), torch.full((8,), 64 / 8), rtol=0.3), q.sum(0)


def test_swav_freezes_the_prototypes_early_in_training():
    method = SwAV(build_encoder("cnn-small", 1), 4, 1, {"n_prototypes": 8, "freeze_prototypes": 0.5})
    x, labels = tiny_batch(16)
    for progress, frozen in ((0.1, True), (0.6, False)):
        method.zero_grad()
        method.progress = progress
        method.training_step([x, x.flip(-1)], labels)[0].backward()
        assert (method.prototypes.weight.grad is None) == frozen


def test_swav_balances_a_small_batch_together_with_its_queue_of_past_embeddings(monkeypatch):
    torch.manual_seed(0)
    inputs = []
    monkeypatch.setattr(swav_module, "sinkhorn", lambda s, e, i: inputs.append(s) or sinkhorn(s, e, i))
    method = SwAV(build_encoder("cnn-small", 1), 4, 1, {"n_prototypes": 8, "queue_size": 12, "freeze_prototypes": 0.5})
    assert "queue" in method.state_dict() and "queue_ptr" in method.state_dict()  # checkpointed
    x, labels = tiny_batch(4)
    method.progress = 0.1  # prototypes frozen: each batch alone, but the queue fills already
    for step in range(3):
        xb = x + 0.1 * step
        method.training_step([xb, xb.flip(-1)], labels)
    assert [len(s) for s in inputs] == [4] * 6
    with torch.no_grad():  # the newest 4 rows hold the last batch's normalised embeddings, per view
        z1, z2 = F.normalize(method.projector(method.encoder(torch.cat([xb, xb.flip(-1)]))), dim=1).chunk(2)
    assert int(method.queue_ptr) == 0  # 3 batches of 4 filled the 12 rows and wrapped
    assert torch.allclose(method.queue[8:, 0], z1, atol=1e-5) and torch.allclose(method.queue[8:, 1], z2, atol=1e-5)
    inputs.clear()
    before = method.queue.clone()
    method.progress = 0.6  # from here on each view's codes come from Sinkhorn over queue + batch
    loss, _ = method.training_step([x, x.flip(-1)], labels)
    assert torch.isfinite(loss) and [len(s) for s in inputs] == [16, 16]
    with torch.no_grad():  # the last 4 rows are this batch's scores, the first 12 the queue's
        zb = F.normalize(method.projector(method.encoder(torch.cat([x, x.flip(-1)]))), dim=1)[:4]
    assert torch.allclose(inputs[0][12:], method.prototypes(zb), atol=1e-4)
    assert torch.allclose(inputs[0][:12], method.prototypes(before[:, 0]), atol=1e-4)
    assert torch.allclose(method.queue[:4, 0], zb, atol=1e-5)  # then the batch joined the queue
    with pytest.raises(ValueError, match="queue_size"):
        SwAV(build_encoder("cnn-small", 1), 4, 1, {"queue_size": -1})


# -- DeepCluster --------------------------------------------------------------------------

def test_deepcluster_refuses_to_train_before_clustering():
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1)
    x, labels = tiny_batch(8)
    with pytest.raises(RuntimeError, match="on_epoch_start"):
        method.training_step([x], labels, torch.arange(8))


@pytest.mark.parametrize("head_init", ["random", "centroids"])
def test_deepcluster_reclusters_each_epoch_and_resets_a_head_the_optimiser_still_trains(head_init):
    torch.manual_seed(0)
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 8, "pca_dim": 16, "head_init": head_init})
    opt = torch.optim.AdamW(method.parameters(), lr=3e-3)  # built once, before any clustering
    x, labels = tiny_batch(64)
    logs = method.on_epoch_start(0, as_uint8(x))
    assert logs["clusters_nonempty"] == 8 and "nmi_prev" not in logs
    first = method.pseudo_labels.clone()
    assert first.shape == (64,) and first.min() >= 0 and first.max() < 8
    for _ in range(3):
        loss, _ = method.training_step([x], labels, torch.arange(64))
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = [p.detach().clone() for p in method.head.parameters()]

    logs = method.on_epoch_start(1, as_uint8(x))
    assert 0.0 <= logs["nmi_prev"] <= 1.0
    assert not torch.equal(method.pseudo_labels, first)  # new clusters
    assert not any(torch.allclose(p, q) for p, q in zip(method.head.parameters(), trained))  # a new head
    if head_init == "random":  # N(0, 0.01) and zero bias, the paper's init
        assert torch.all(method.head.bias == 0) and 0.005 < method.head.weight.std().item() < 0.02
    else:  # the head starts out predicting this epoch's k-means assignment
        method.eval()
        with torch.no_grad():
            pred = method.head(method.encoder(x)).argmax(1)
        method.train()
        assert (pred == method.pseudo_labels).float().mean() > 0.9
    # the same tensors, so the optimiser built before still updates the re-initialised head
    assert {id(p) for p in method.head.parameters()} <= {id(p) for g in opt.param_groups for p in g["params"]}
    before = method.head.weight.detach().clone()
    loss, _ = method.training_step([x], labels, torch.arange(64, 0, -1) - 1)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert not torch.equal(method.head.weight, before)


def test_each_epochs_new_head_trains_with_a_fresh_optimiser_state(tmp_path, small):
    """DeepCluster's head is new every epoch, and the paper's code gives it a new optimiser:
    the loop forgets AdamW's moments of last epoch's head (other clusters) and its step count.
    After two epochs the checkpoint holds one epoch's steps for the head, two for the rest."""
    from ssrl_core.checkpoint import load_checkpoint
    from ssrl_core.config import RunConfig
    from ssrl_core.train import Loop, pretrain

    cfg = RunConfig(dataset=small, method="deepcluster", epochs=2, batch_size=32, options={"n_clusters": 8})
    pretrain(cfg, tmp_path / "run")
    loop = Loop.for_config(cfg)
    load_checkpoint(tmp_path / "run" / "checkpoint.safetensors", loop.method, loop.optimizer)
    steps = {name: int(loop.optimizer.state[p]["step"]) for name, p in loop.method.named_parameters()
             if p.requires_grad}
    per_epoch = 128 // 32
    assert steps["head.weight"] == steps["head.bias"] == per_epoch
    assert {s for name, s in steps.items() if not name.startswith("head.")} == {2 * per_epoch}


def test_deepcluster_seeds_its_kmeans_from_the_runs_seed(monkeypatch):
    """k-means starts from centroids drawn with PyTorch's global generator, which a run seeds
    with its --seed and keeps in its checkpoint: two seeds cluster from different starts
    (they used to share one per epoch), the same seed from the same ones, each epoch anew."""
    seeds = []
    real = dc_module.kmeans
    monkeypatch.setattr(dc_module, "kmeans", lambda x, k, iters, seed: seeds.append(seed) or real(x, k, iters, seed))
    x = as_uint8(tiny_batch(64)[0])

    def kmeans_seeds(run_seed):
        torch.manual_seed(run_seed)
        method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 8, "pca_dim": 16})
        seeds.clear()
        for epoch in range(2):
            method.on_epoch_start(epoch, x)
        return list(seeds)

    first = kmeans_seeds(0)
    assert first[0] != first[1] and kmeans_seeds(0) == first
    assert set(kmeans_seeds(1)).isdisjoint(first)


def test_deepcluster_estimates_fresh_batchnorm_statistics_without_changing_weights():
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 4, "pca_dim": 8})
    weights = {k: v.clone() for k, v in method.encoder.named_parameters()}
    bn = method.encoder.body[1]
    method.on_epoch_start(0, as_uint8(tiny_batch(32)[0]))
    assert bn.num_batches_tracked > 0 and not torch.all(bn.running_var == 1) and bn.momentum == 0.1
    assert all(torch.equal(v, dict(method.encoder.named_parameters())[k]) for k, v in weights.items())


def test_deepclusters_fresh_batchnorm_statistics_are_the_plain_average_over_its_batches():
    torch.manual_seed(0)
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 4, "pca_dim": 8})
    bn = method.encoder.body[1]
    seen = []
    bn.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().clone()))
    method._estimate_fresh_batchnorm(as_uint8(tiny_batch(32)[0]), batch_size=16)
    assert len(seen) == 2 and int(bn.num_batches_tracked) == 2
    # momentum None: the running statistics are the mean of the two batches' own (not an EMA from 0 and 1)
    means = [x.mean(dim=(0, 2, 3)) for x in seen]
    vars_ = [x.transpose(0, 1).flatten(1).var(dim=1, unbiased=True) for x in seen]
    torch.testing.assert_close(bn.running_mean, (means[0] + means[1]) / 2)
    torch.testing.assert_close(bn.running_var, (vars_[0] + vars_[1]) / 2)
    assert bn.momentum == 0.1  # the encoder's own momentum is put back


def test_deepcluster_never_trains_on_an_empty_cluster():
    torch.manual_seed(0)
    distinct, _ = tiny_batch(4)
    x = distinct.repeat(8, 1, 1, 1)  # 32 rows, 4 distinct images, 10 clusters: some must stay empty
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 10, "pca_dim": 8})
    logs = method.on_epoch_start(0, as_uint8(x))
    y, w = method.pseudo_labels, method.class_weight
    counts = torch.bincount(y, minlength=10)
    assert logs["clusters_nonempty"] == (counts > 0).sum().item() < 10
    assert torch.all(counts[y] > 0) and torch.all(w[y] > 0) and torch.all(torch.isfinite(w))
    assert torch.all(w[counts == 0] == 0)  # an empty cluster carries no weight
    assert torch.all(y.view(8, 4) == y[:4])  # copies of one image share a cluster
    loss, _ = method.training_step([x], torch.zeros(32, dtype=torch.long), torch.arange(32))
    assert torch.isfinite(loss)


def test_empty_clusters_are_reseeded_by_splitting_a_non_empty_one():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(-1, 0.1, (20, 2)), rng.normal(1, 0.1, (20, 2))]).astype(np.float32)
    centroids = np.array([[0.0, 0.05], [5.0, 5.0]], np.float32)
    assign = split_empty(pts, np.zeros(40, np.int64), centroids, rng)  # cluster 1 was empty
    assert np.bincount(assign, minlength=2).min() > 0
    for j in range(2):  # each centroid is the mean of the points now assigned to it (mutation round mutcore)
        assert np.allclose(centroids[j], pts[assign == j].mean(0), atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_a_cluster_of_identical_points_is_passed_over_for_one_that_can_split(seed):
    """The split drew the cluster to split by size once: 50 copies of one image drawn, the empty cluster stayed empty
    (3 of 5 seeds in a code review) though a cluster of distinct points could have split."""
    rng = np.random.default_rng(0)
    pts = np.concatenate([np.ones((50, 2)), rng.normal(0, 1, (10, 2))]).astype(np.float32)
    assign = np.repeat([0, 1], [50, 10])
    centroids = np.array([[1, 1], pts[50:].mean(0), [9, 9], [-9, -9]], np.float32)
    out = split_empty(pts, assign, centroids, np.random.default_rng(seed))
    assert np.bincount(out, minlength=4).min() > 0 and (out[:50] == out[0]).all()


def test_deepcluster_weights_clusters_inversely_to_their_size(monkeypatch):
    sizes = [20, 10, 2]
    fake = np.repeat(np.arange(3), sizes)
    monkeypatch.setattr(dc_module, "kmeans", lambda x, k, iters, seed: (fake, np.zeros((k, x.shape[1]), np.float32)))
    monkeypatch.setattr(dc_module, "split_empty", lambda x, assign, centroids, rng: assign)  # cluster 3 left empty
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 4})
    method.on_epoch_start(0, as_uint8(tiny_batch(32)[0]))
    w = method.class_weight
    assert torch.allclose(w[:3] * torch.tensor(sizes, dtype=torch.float), torch.full((3,), 32 / 3))  # equal total per cluster
    assert w[3] == 0


# -- supervised ---------------------------------------------------------------------------

def test_supervised_refuses_an_unlabelled_dataset():
    with pytest.raises(ValueError, match="labelled dataset"):
        Supervised(build_encoder("cnn-small", 1), 0, 1)


def test_supervised_ignores_unknown_labels():
    torch.manual_seed(0)
    method = Supervised(build_encoder("cnn-small", 1), 4, 1).eval()
    x, labels = tiny_batch(16)
    labels[::2] = -1
    loss, logs = method.training_step([x], labels)
    with torch.no_grad():
        logits = method.head(method.encoder(x))
    known = labels >= 0
    assert torch.allclose(loss, F.cross_entropy(logits[known], labels[known]), atol=1e-5)
    loss, _ = method.training_step([x], torch.full((16,), -1))
    assert loss.item() == 0.0


# -- all three ----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [DeepCluster, SwAV, Supervised])
def test_every_option_has_help_and_the_module_a_docstring(cls):
    import sys

    assert set(cls.option_help) == set(cls.defaults) and cls.family and cls.summary
    assert "What to expect" in sys.modules[cls.__module__].__doc__


# -- what a mutation review found untested: each of these survived a plausible one-line bug ------------------------

def test_sinkhorn_codes_follow_a_clear_assignment_and_soften_as_epsilon_grows():
    """Codes must carry the scores' preferences: epsilon multiplied in instead of divided gave near-uniform codes,
    which are balanced too (the checks above passed) and give SwAV nothing to learn."""
    k = 4
    scores = torch.eye(k).repeat(4, 1)  # 16 samples, each at similarity 1 to one prototype, 0 to the rest: balanced
    q = sinkhorn(scores, epsilon=0.05, iterations=3)
    assert torch.equal(q.argmax(1), scores.argmax(1)) and q.max(1).values.min() > 0.99

    def entropy(codes):
        return -(codes * codes.clamp_min(1e-12).log()).sum(1).mean()

    noisy = scores + 0.3 * torch.randn(16, k, generator=torch.Generator().manual_seed(0))
    assert entropy(sinkhorn(noisy, 0.05, 3)) < entropy(sinkhorn(noisy, 0.5, 3)) < entropy(sinkhorn(noisy, 5.0, 3))


@pytest.mark.parametrize("queued", [False, True])
def test_swavs_loss_is_each_views_prediction_of_the_other_views_code(queued):
    """SwAV's training step against the paper's loss computed here from its own embeddings: the method passing the
    codes unswapped (each view predicting its own code), or coding view 2 among view 1's queued embeddings,
    survived the loss's own test."""
    torch.manual_seed(0)
    options = {"n_prototypes": 8, "queue_size": 8 if queued else 0, "freeze_prototypes": 0.0}
    method = SwAV(build_encoder("cnn-small", 1), 4, 1, options)
    x, labels = tiny_batch(8)
    v1, v2 = x, x.flip(-1)
    if queued:  # the queue filled with earlier batches' embeddings, each view its own
        method.training_step([v1.roll(1, 0), v2.roll(2, 0)], labels)
    queue = method.queue.clone()
    with torch.no_grad():
        method.prototypes.weight.copy_(F.normalize(method.prototypes.weight, dim=1))
        z = F.normalize(method.projector(method.encoder(torch.cat([v1, v2]))), dim=1)
        c = method.prototypes.weight
        s1, s2 = (z @ c.t()).chunk(2)
        if queued:
            q1 = sinkhorn(torch.cat([queue[:, 0] @ c.t(), s1]), 0.05, 3)[-8:]
            q2 = sinkhorn(torch.cat([queue[:, 1] @ c.t(), s2]), 0.05, 3)[-8:]
        else:
            q1, q2 = sinkhorn(s1, 0.05, 3), sinkhorn(s2, 0.05, 3)
        tau = method.options["temperature"]
        expected = -((q2 * F.log_softmax(s1 / tau, 1)).sum(1).mean() + (q1 * F.log_softmax(s2 / tau, 1)).sum(1).mean()) / 2
        loss, _ = method.training_step([v1, v2], labels)
    assert torch.allclose(loss, expected, atol=1e-4), (float(loss), float(expected))


def test_deepcluster_reseeds_a_cluster_kmeans_left_empty(monkeypatch):
    """An epoch's k-means that leaves a cluster empty: DeepCluster splits a non-empty one (the paper's fix) so
    every cluster id is a class the head learns; without the call the run trained on fewer pseudo-classes."""
    torch.manual_seed(0)
    x, _ = tiny_batch(32)

    def lopsided(feats, k, iters, seed):  # two clusters by the first coordinate's sign; clusters 2 and 3 empty
        assign = (feats[:, 0] < 0).astype(np.int64)
        means = [feats[assign == j].mean(0) for j in (0, 1)]
        return assign, np.stack([*means, means[0] + 9.0, means[0] - 9.0]).astype(np.float32)

    monkeypatch.setattr(dc_module, "kmeans", lopsided)
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 4, "pca_dim": 8})
    logs = method.on_epoch_start(0, as_uint8(x))
    assert logs["clusters_nonempty"] == 4
    assert torch.bincount(method.pseudo_labels, minlength=4).min() > 0


def test_deepcluster_nmi_prev_compares_this_epochs_clusters_with_the_last_ones(monkeypatch):
    """``nmi_prev`` is the NMI of consecutive epochs' assignments (the paper's Fig. 2b): 1 for the same partition
    under other cluster ids, 0 for one that cuts across it (mutation round mutcore: NMI of an epoch with itself)."""
    parts = iter([np.array([0, 0, 1, 1] * 8), np.array([1, 1, 0, 0] * 8), np.array([0, 1] * 16)])

    def fake_kmeans(x, k, iters, seed):
        a = next(parts)
        return a, np.stack([x[a == j].mean(0) for j in range(k)])

    monkeypatch.setattr(dc_module, "kmeans", fake_kmeans)
    torch.manual_seed(0)
    method = DeepCluster(build_encoder("cnn-small", 1), 4, 1, {"n_clusters": 2, "pca_dim": 8})
    images = as_uint8(tiny_batch(32)[0])
    assert "nmi_prev" not in method.on_epoch_start(0, images)
    assert method.on_epoch_start(1, images)["nmi_prev"] == pytest.approx(1.0)
    assert method.on_epoch_start(2, images)["nmi_prev"] == pytest.approx(0.0, abs=1e-9)


def test_supervised_label_smoothing_is_the_smoothed_cross_entropy():
    torch.manual_seed(0)
    method = Supervised(build_encoder("cnn-small", 1), 4, 1, {"label_smoothing": 0.2}).eval()
    with torch.no_grad():  # confident logits, where smoothing the targets changes the loss
        method.head.weight.mul_(300)
    x, labels = tiny_batch(16)
    loss, _ = method.training_step([x], labels)
    with torch.no_grad():
        logits = method.head(method.encoder(x))
    assert torch.allclose(loss, F.cross_entropy(logits, labels, label_smoothing=0.2), atol=1e-5)
    assert not torch.allclose(loss, F.cross_entropy(logits, labels), atol=1e-3)


def test_the_autoencoders_loss_is_the_mean_squared_error_of_its_reconstruction():
    from ssrl_core.pretext.autoencoder import Autoencoder

    torch.manual_seed(0)
    method = Autoencoder(build_encoder("cnn-small", 1), 4, 1).eval()
    x, labels = tiny_batch(8)
    loss, _ = method.training_step([x], labels)
    with torch.no_grad():
        recon = method.decoder(method.encoder(x), x.shape[-2:])
    assert recon.shape == x.shape
    assert torch.allclose(loss, ((recon - x) ** 2).mean(), atol=1e-6)
