import math

import torch
import torch.nn.functional as F

from ssrl_core.pretext.losses import nt_xent


def test_nt_xent_hand_computed_orthogonal_case():
    # z = [a, b, a, b] with a=(1,0), b=(0,1), tau=1: every anchor sees its positive at
    # similarity 1 and two negatives at 0, so l_i = log((e + 2) / e) for all 2N anchors.
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = math.log((math.e + 2) / math.e)
    assert math.isclose(nt_xent(z1, z1.clone(), temperature=1.0).item(), expected, rel_tol=1e-6)
    # cosine similarity: the scale of the projections does not matter
    assert math.isclose(nt_xent(3 * z1, 0.5 * z1, temperature=1.0).item(), expected, rel_tol=1e-6)


def test_nt_xent_temperature_and_mean_over_2n_anchors():
    # a=(1,0), b=(0,1) as positives; the other pair's views are a'=(0.6,0.8), b'=(0.8,0.6)
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[0.6, 0.8], [0.8, 0.6]])
    tau = 0.5
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    total = 0.0
    for i in range(4):
        pos = (i + 2) % 4
        denom = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(4) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[pos]) / tau) / denom)
    assert math.isclose(nt_xent(z1, z2, tau).item(), total / 4, rel_tol=1e-6)


def test_nt_xent_matches_a_loop_on_random_data_and_is_symmetric():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    s = z @ z.T / 0.2
    loop = 0.0
    for i in range(16):
        others = torch.cat([s[i, :i], s[i, i + 1 :]])
        loop += -(s[i, (i + 8) % 16] - torch.logsumexp(others, 0)).item()
    assert math.isclose(nt_xent(z1, z2, 0.2).item(), loop / 16, rel_tol=1e-5)
    assert math.isclose(nt_xent(z1, z2, 0.2).item(), nt_xent(z2, z1, 0.2).item(), rel_tol=1e-6)


# --- the other losses, against hand-computed cases and their known invariances ---------
from ssrl_core.pretext.losses import barlow_twins, info_nce, negative_cosine, sinkhorn, swav, vicreg  # noqa: E402


def test_info_nce_by_hand():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + math.exp(0) + math.exp(-1 / tau)))
    assert math.isclose(info_nce(q, k, queue, tau).item(), expected, rel_tol=1e-6)
    # scale-free and averaged over queries
    q2 = torch.cat([q, 3 * q])
    assert math.isclose(info_nce(q2, torch.cat([k, k]), 2 * queue, tau).item(), expected, rel_tol=1e-6)


def test_negative_cosine_by_hand():
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    z = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    assert math.isclose(negative_cosine(p, z).item(), -(1 + 1 / math.sqrt(2)) / 2, rel_tol=1e-6)
    assert math.isclose(negative_cosine(z, z).item(), -1.0, rel_tol=1e-6)


def test_barlow_twins_zero_for_identical_decorrelated_standardised_views():
    # 4 samples, 2 dims: each dim mean 0, biased std 1, dims uncorrelated
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert barlow_twins(z, z, 0.5).item() < 1e-8
    # anti-correlated views: C = -I, so sum (1 - (-1))^2 = 4 per dim
    assert math.isclose(barlow_twins(z, -z, 0.5).item(), 8.0, rel_tol=1e-5)
    # perfectly correlated dimensions: off-diagonal 1 on both sides, weighted by lambda
    zc = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])
    assert math.isclose(barlow_twins(zc, zc, 0.5).item(), 0.5 * 2, rel_tol=1e-5)


def test_vicreg_terms_by_hand():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    # identical views: no invariance term; var = 4/3 -> std sqrt(4/3 + 1e-4) > 1 so no hinge;
    # covariance between the dims is 0
    assert vicreg(z, z).item() < 1e-8
    # scaled down by 10: std = sqrt(4/300 + 1e-4), hinge 1 - std per dim, both branches
    small = z / 10
    std = math.sqrt(4 / 300 + 1e-4)
    assert math.isclose(vicreg(small, small).item(), 25 * (1 - std), rel_tol=1e-5)
    # invariance: MSE over all entries, weighted 25
    shifted = z + torch.tensor([0.5, 0.0])
    assert math.isclose(vicreg(z, shifted, var_weight=0, cov_weight=0).item(), 25 * 0.125, rel_tol=1e-6)
    # covariance: dims equal -> Cov off-diagonal = 4/3 each, squared, 2 entries, / D=2, both branches
    zc = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])
    assert math.isclose(vicreg(zc, zc, sim_weight=0, var_weight=0).item(), 2 * (2 * (4 / 3) ** 2 / 2), rel_tol=1e-5)


def test_sinkhorn_balances_assignments():
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(64, 8, generator=g) * 0.4 - 0.2  # cosine similarities, as SwAV feeds it
    scores[:, 0] += 0.7  # everyone prefers prototype 0...
    q = sinkhorn(scores, epsilon=0.05, iterations=50)
    assert torch.allclose(q.sum(1), torch.ones(64), atol=1e-5)
    assert torch.allclose(q.sum(0), torch.full((8,), 64 / 8), atol=0.05)  # ...but each gets B/K
    assert (q >= 0).all()
    assert (q.argmax(1) != 0).any()  # the preference was overruled for balance
    # scores beyond the cosine range still give finite, normalised codes
    wild = sinkhorn(torch.randn(32, 4, generator=g) * 10, epsilon=0.05, iterations=3)
    assert torch.isfinite(wild).all() and torch.allclose(wild.sum(1), torch.ones(32), atol=1e-5)


def test_swav_by_hand_and_swapped():
    s1 = torch.tensor([[1.0, 0.0]])
    s2 = torch.tensor([[0.0, 1.0]])
    q1 = torch.tensor([[1.0, 0.0]])
    q2 = torch.tensor([[0.0, 1.0]])
    tau = 1.0
    lp1 = torch.log_softmax(s1 / tau, 1)
    lp2 = torch.log_softmax(s2 / tau, 1)
    expected = -(lp1[0, 1] + lp2[0, 0]).item() / 2  # view 1 predicts q2, view 2 predicts q1
    assert math.isclose(swav(s1, s2, q1, q2, tau).item(), expected, rel_tol=1e-6)
    assert math.isclose(swav(s2, s1, q2, q1, tau).item(), expected, rel_tol=1e-6)


import pytest  # noqa: E402

from ssrl_core.pretext import losses as L  # noqa: E402
from ssrl_core.pretext.swav import prototype_scores  # noqa: E402


@pytest.mark.parametrize("loss, args", [
    (L.nt_xent, lambda a, b: (a, b, 0.5)),
    (L.info_nce, lambda a, b: (a, b, torch.cat([a, b]).flip(0), 0.2)),
    (L.negative_cosine, lambda a, b: (a, b)),
    (L.barlow_twins, lambda a, b: (a, b, 0.02)),
    (L.vicreg, lambda a, b: (a, b)),
    (prototype_scores, lambda a, b: (a, b[:30])),  # SwAV's scores, which Sinkhorn and its loss read
])
def test_losses_are_float32_under_mixed_precision(loss, args):
    """Under bf16 autocast (the training loop's mixed precision) a loss, and SwAV's prototype
    scores, give their float32 value: their matmuls must not run in bf16, whose 8-bit mantissa
    moves them by ~1e-3."""
    torch.manual_seed(0)
    a, b = torch.randn(64, 64), torch.randn(64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss(*args(a.bfloat16(), b.bfloat16()))
    ref = loss(*args(a.bfloat16().float(), b.bfloat16().float()))  # the same inputs, rounded as autocast's
    assert mixed.dtype == torch.float32
    assert torch.allclose(mixed, ref, rtol=1e-5, atol=1e-6), (mixed - ref).abs().max().item()
