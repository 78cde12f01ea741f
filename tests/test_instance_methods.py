"""Instance-discrimination methods: MoCo, BYOL, SimSiam, Barlow Twins, VICReg.

What is checked is the part that is easy to get silently wrong: which networks get
gradients (target/key networks none, SimSiam's stop-gradient), the EMA update, MoCo's
queue, and that a few steps on a fixed pair of views lower each loss.
"""
import math
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssrl_core.models import build_encoder
from ssrl_core.pretext.barlow_twins import BarlowTwins
from ssrl_core.pretext.byol import BYOL
from ssrl_core.pretext.losses import info_nce
from ssrl_core.pretext.moco import MoCo
from ssrl_core.pretext.simsiam import SimSiam
from ssrl_core.pretext.vicreg import VICReg

ALL = [MoCo, BYOL, SimSiam, BarlowTwins, VICReg]
SMALL = {  # narrow heads keep the tests fast
    MoCo: {"hidden_dim": 64, "proj_dim": 32, "queue_size": 64},
    BYOL: {"hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 64},
    SimSiam: {"hidden_dim": 64, "proj_dim": 32, "pred_hidden_dim": 16},
    BarlowTwins: {"hidden_dim": 64, "proj_dim": 64},
    VICReg: {"hidden_dim": 64, "proj_dim": 64},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Models this small gain nothing from a second thread, and on a busy 2-core machine the
    # threads' synchronisation makes each step several times slower.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make(cls, **options):
    torch.manual_seed(0)
    return cls(build_encoder("cnn-small", 1), 4, 1, {**SMALL[cls], **options})


def views(n=8, seed=0):
    x = torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed))
    return [x, x.flip(-1)]


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def online_and_target(method):
    if isinstance(method, MoCo):
        return [(method.encoder, method.key_encoder), (method.projector, method.key_projector)]
    return [(method.encoder, method.target_encoder), (method.projector, method.target_projector)]


def test_class_attributes():
    for cls in ALL:
        assert cls.n_views == 2 and cls.trainable
        assert set(cls.option_help) == set(cls.defaults), cls.name
        doc = sys.modules[cls.__module__].__doc__
        assert "L = " in doc and "What to expect" in doc, cls.name  # the equation and what to see
    assert MoCo.family == "instance discrimination (contrastive)"
    for cls in (BYOL, SimSiam, BarlowTwins, VICReg):
        assert cls.family == "instance discrimination (non-contrastive)"
    assert [c.name for c in ALL] == ["moco", "byol", "simsiam", "barlow_twins", "vicreg"]


@pytest.mark.parametrize("cls", [BYOL, SimSiam, BarlowTwins, VICReg], ids=lambda c: c.name)
def test_each_view_is_batch_normalised_over_its_own_batch(cls):
    """As in these methods' official code, each view goes through the networks on its own, so
    batch norm never mixes the two views' statistics: every batch the encoder (and BYOL's
    target encoder) sees holds one view's 8 images, never both views' 16."""
    method = make(cls)
    seen = []
    for enc in (method.encoder, getattr(method, "target_encoder", None)):
        if enc is not None:
            enc.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    method.train()
    method.training_step(views(8), torch.zeros(8, dtype=torch.long))
    assert seen and set(seen) == {8}, seen


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_unknown_options_are_refused_by_name(cls):
    with pytest.raises(ValueError, match=r"has no option bogus, temprature: its options are .*proj_dim"):
        cls(build_encoder("cnn-small", 1), 4, 1, {"temprature": 0.1, "bogus": 1})


@pytest.mark.parametrize("cls", [MoCo, BYOL], ids=lambda c: c.name)
def test_target_networks_get_no_gradient_and_no_optimiser(cls):
    method = make(cls)
    loss, _ = method.training_step(views(), None)
    loss.backward()
    trainable = {id(p) for p in method.parameters() if p.requires_grad}
    for online, target in online_and_target(method):
        for p in target.parameters():
            assert p.grad is None and not p.requires_grad and id(p) not in trainable
        assert all(id(p) in trainable for p in online.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in online.parameters())


@pytest.mark.parametrize("cls,progress", [(MoCo, 0.0), (BYOL, 0.0), (BYOL, 0.3)], ids=["moco", "byol", "byol-p0.3"])
def test_after_step_is_the_ema_of_the_online_weights(cls, progress):
    method = make(cls)
    method.progress = progress
    opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5)
    pairs = online_and_target(method)
    old_targets = [snapshot(t) for _, t in pairs]
    loss, _ = method.training_step(views(), None)
    opt.zero_grad()
    loss.backward()
    opt.step()
    new_onlines = [snapshot(o) for o, _ in pairs]
    method.after_step()
    if cls is MoCo:
        m = MoCo.defaults["momentum"]
    else:  # tau = 1 - (1 - tau_base) (cos(pi p) + 1) / 2, by hand
        m = 1 - (1 - BYOL.defaults["tau_base"]) * (math.cos(math.pi * progress) + 1) / 2
    moved = False
    for (online, target), old, new in zip(pairs, old_targets, new_onlines):
        for t, o, n in zip(target.parameters(), old, new):
            torch.testing.assert_close(t, m * o + (1 - m) * n)
            moved |= not torch.equal(t, o)
    assert moved  # the step changed the online weights, so the target moved


def test_byol_tau_rises_to_one_on_a_cosine():
    method = make(BYOL, tau_base=0.9)
    taus = []
    for p in (0.0, 0.5, 1.0):
        method.progress = p
        taus.append(method.tau())
    assert taus == pytest.approx([0.9, 0.95, 1.0])


class DetachInput(nn.Module):
    """Wraps the predictor so that no gradient reaches the encoder through p = h(z)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, z):
        return self.inner(z.detach())


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_simsiam_gradient_reaches_the_encoder_only_through_the_predictor(stop_gradient):
    # Cut the predictor branch: with the stop-gradient, nothing is left to carry a gradient
    # to the encoder (this fails if sg(z) were missing); without it, the target branch does.
    method = make(SimSiam, stop_gradient=stop_gradient)
    loss_before, _ = method.training_step(views(), None)
    method.predictor = DetachInput(method.predictor)
    loss, logs = method.training_step(views(), None)
    torch.testing.assert_close(loss, loss_before)  # same forward pass
    loss.backward()
    assert all(p.grad is not None for p in method.predictor.parameters())
    encoder_grads = [p.grad for p in list(method.encoder.parameters()) + list(method.projector.parameters())]
    if stop_gradient:
        assert all(g is None for g in encoder_grads)
    else:
        assert any(g is not None and g.abs().sum() > 0 for g in encoder_grads)
    assert 0 < float(logs["z_std"]) <= 1 and not logs["z_std"].requires_grad


def test_simsiam_flags():
    assert isinstance(make(SimSiam, predictor=False).predictor, nn.Identity)
    assert make(SimSiam, stop_gradient="false").stop_gradient is False
    with pytest.raises(ValueError, match="stop_gradient must be true or false"):
        make(SimSiam, stop_gradient="maybe")


def test_simsiam_output_bn_is_an_option():
    last = make(SimSiam).projector[-1]
    assert isinstance(last, nn.BatchNorm1d) and not last.affine  # the official code's output BN
    assert isinstance(make(SimSiam, output_bn="false").projector[-1], nn.Linear)
    with pytest.raises(ValueError, match="output_bn must be true or false"):
        make(SimSiam, output_bn="sometimes")


def expected_keys(method, vs):
    with torch.no_grad():
        return F.normalize(method.key_projector(method.key_encoder(torch.cat(vs))), dim=1)


def test_moco_queue_is_a_fifo_that_wraps_around():
    method = make(MoCo, queue_size=20)  # 2 x 8 = 16 keys a step: 20 is not a multiple
    assert method.queue.shape == (20, 32) and int(method.queue_ptr) == 0
    torch.testing.assert_close(method.queue.norm(dim=1), torch.ones(20))  # random unit vectors
    assert {"queue", "queue_ptr"} <= set(method.state_dict())  # saved with checkpoints

    v1 = views(seed=1)
    k = expected_keys(method, v1)
    old_queue = method.queue.clone()
    loss, _ = method.training_step(v1, None)
    # the loss used the queue as it was before this step's keys went in
    with torch.no_grad():
        q1, q2 = method.projector(method.encoder(torch.cat(v1))).chunk(2)
        k1, k2 = k.chunk(2)
        expected = (info_nce(q1, k2, old_queue, 0.2) + info_nce(q2, k1, old_queue, 0.2)) / 2
    torch.testing.assert_close(loss.detach(), expected)
    torch.testing.assert_close(method.queue[:16], k)  # newest keys at the pointer
    torch.testing.assert_close(method.queue[16:], old_queue[16:])
    assert int(method.queue_ptr) == 16

    v2 = views(seed=2)
    k = expected_keys(method, v2)
    before = method.queue.clone()
    method.training_step(v2, None)
    rows = [(16 + i) % 20 for i in range(16)]  # 16..19, then 0..11
    torch.testing.assert_close(method.queue[rows], k)
    torch.testing.assert_close(method.queue[12:16], before[12:16])  # untouched
    assert int(method.queue_ptr) == 12
    torch.testing.assert_close(method.queue.norm(dim=1), torch.ones(20))


def test_moco_queue_smaller_than_the_keys_of_a_step_keeps_the_newest():
    method = make(MoCo, queue_size=10)
    method.queue_ptr.fill_(3)
    vs = views(seed=3)
    k = expected_keys(method, vs)
    method.training_step(vs, None)
    # 16 keys through a queue of 10 starting at row 3: keys 6..15 land in rows 9, 0, 1, ..., 8
    rows = [(3 + i) % 10 for i in range(6, 16)]
    torch.testing.assert_close(method.queue[rows], k[6:])
    assert int(method.queue_ptr) == (3 + 16) % 10


# -- each loss as its formula, from the networks' own outputs (mutation round mutcore) --------------------------

def _moved_keys(method):
    """The key networks a step of training away from the query networks (at first they are copies, so a
    query and its key are the same vector and a mix-up of the two would go unseen)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in method.key_projector.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return method


def _two_views(seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(8, 1, 16, 16, generator=g), torch.rand(8, 1, 16, 16, generator=g)]


def test_moco_pairs_each_query_with_the_other_views_key_against_the_queue_before_the_step():
    method = _moved_keys(make(MoCo)).eval()  # eval: batch norm by its running statistics, so each pass is the same function
    v = _two_views()
    queue = method.queue.clone()
    loss, _ = method.training_step(v, torch.zeros(8, dtype=torch.long))
    with torch.no_grad():
        q1, q2 = (method.projector(method.encoder(x)) for x in v)
        k1, k2 = (method.key_projector(method.key_encoder(x)) for x in v)
    tau = method.options["temperature"]
    want = (info_nce(q1, k2, queue, tau) + info_nce(q2, k1, queue, tau)) / 2
    assert torch.allclose(loss, want, atol=1e-5)


def test_byol_loss_is_two_minus_two_cosines_of_each_prediction_with_the_other_views_target():
    method = make(BYOL).eval()
    v = _two_views()
    loss, _ = method.training_step(v, torch.zeros(8, dtype=torch.long))
    with torch.no_grad():
        p1, p2 = (method.predictor(method.projector(method.encoder(x))) for x in v)
        z1, z2 = (method.target_projector(method.target_encoder(x)) for x in v)
    want = (2 - 2 * F.cosine_similarity(p1, z2).mean()) + (2 - 2 * F.cosine_similarity(p2, z1).mean())
    assert torch.allclose(loss, want, atol=1e-5) and 0 <= float(loss.detach()) <= 8


def test_simsiam_loss_and_z_std_by_hand():
    method = make(SimSiam).eval()
    v = _two_views()
    loss, logs = method.training_step(v, torch.zeros(8, dtype=torch.long))
    with torch.no_grad():
        z1, z2 = (method.projector(method.encoder(x)) for x in v)
        p1, p2 = method.predictor(z1), method.predictor(z2)
    want = -(F.cosine_similarity(p1, z2).mean() + F.cosine_similarity(p2, z1).mean()) / 2
    assert torch.allclose(loss, want, atol=1e-5)
    # the paper's collapse metric: the std over the batch of the normalised z, averaged over dimensions
    assert torch.allclose(logs["z_std"], F.normalize(z1, dim=1).std(0).mean(), atol=1e-6)
    # without the predictor (p = z) each view's z is compared with the other view's: -cos(z1, z2), not -1
    method = make(SimSiam, predictor=False).eval()
    loss, _ = method.training_step(v, torch.zeros(8, dtype=torch.long))
    with torch.no_grad():
        z1, z2 = (method.projector(method.encoder(x)) for x in v)
    assert torch.allclose(loss, -F.cosine_similarity(z1, z2).mean(), atol=1e-5) and float(loss.detach()) > -0.999  # -1 exactly: each z with itself


def test_barlow_twins_and_vicreg_log_their_terms_unweighted_and_their_loss_is_the_weighted_sum():
    v = _two_views()
    bt = make(BarlowTwins, lambda_offdiag=0.3).eval()
    loss, logs = bt.training_step(v, None)
    assert logs["off_diag"] > 0 and torch.allclose(loss, logs["on_diag"] + 0.3 * logs["off_diag"], rtol=1e-5)
    vr = make(VICReg, sim_weight=2.0, var_weight=3.0, cov_weight=5.0).eval()
    loss, logs = vr.training_step(v, None)
    terms = [logs[k] for k in ("invariance", "variance", "covariance")]
    assert all(t > 0 for t in terms) and len({round(float(t), 6) for t in terms}) == 3
    assert torch.allclose(loss, 2 * terms[0] + 3 * terms[1] + 5 * terms[2], rtol=1e-5)


def test_moco_enqueues_both_views_keys_not_the_queries():
    method = _moved_keys(make(MoCo)).eval()
    v = _two_views()
    method.training_step(v, torch.zeros(8, dtype=torch.long))
    with torch.no_grad():
        keys = torch.cat([method.key_projector(method.key_encoder(x)) for x in v])
        queries = torch.cat([method.projector(method.encoder(x)) for x in v])
    assert int(method.queue_ptr) == 16
    assert torch.allclose(method.queue[:16], F.normalize(keys, dim=1), atol=1e-5)
    assert not torch.allclose(method.queue[:16], F.normalize(queries, dim=1), atol=1e-3)


def test_barlow_twins_projector_ends_in_a_plain_linear_layer_so_its_embedding_can_be_negative():
    method = make(BarlowTwins).eval()
    layers = list(method.projector)
    assert isinstance(layers[-1], nn.Linear) and layers[-1].bias is None  # the paper's: no BN, no ReLU, no bias
    assert [type(m).__name__ for m in layers[:3]] == ["Linear", "BatchNorm1d", "ReLU"]
    with torch.no_grad():
        z = method.projector(method.encoder(_two_views()[0]))
    assert (z < 0).any()
