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
