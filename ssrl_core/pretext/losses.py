"""Losses as pure functions of tensors. Each docstring gives the paper's definition and
states the normalisation (what is summed, what is averaged). Every loss runs in float32
with autocast off (``@float32``): promoting the inputs is not enough, because autocast
would still run the similarity and cross-correlation matmuls in bf16/fp16, whose 8-bit
(bf16) mantissa puts errors of a few 1e-3 on every cosine. The encoder's forward and
backward keep the fast precision.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


def float32(fn):
    """Run a loss in float32 with autocast disabled, whatever the caller's precision."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        device_type = tensors[0].device.type if tensors else "cpu"
        cast = lambda a: a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a  # noqa: E731
        with torch.autocast(device_type=device_type, enabled=False):
            return fn(*map(cast, args), **{k: cast(v) for k, v in kwargs.items()})

    return wrapper


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The off-diagonal entries of a square matrix, flattened."""
    n = m.shape[0]
    return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


@float32
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR, Chen et al. 2020, eq. 1), averaged over all 2N anchors.

    With z = [z1; z2] L2-normalised and s_ij = z_i . z_j / tau, the loss of anchor i whose
    positive is p(i) (the other view of the same image) is

        l_i = -log( exp(s_{i,p(i)}) / sum_{k != i} exp(s_ik) )

    and the result is (1 / 2N) * sum_i l_i.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))  # k != i
    targets = (torch.arange(2 * n, device=z.device) + n) % (2 * n)  # made on the device: a copy there waits for it
    return F.cross_entropy(sim, targets)


@float32
def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """InfoNCE with a queue of negatives (MoCo, He et al. 2020, eq. 1; MoCo v2 settings),
    averaged over the N queries.

    q, k: [N, D] queries and their positive keys; queue: [K, D] negative keys. All are
    L2-normalised here. For query i,

        l_i = -log( exp(q_i . k_i / tau) / (exp(q_i . k_i / tau) + sum_j exp(q_i . queue_j / tau)) )

    and the result is (1 / N) sum_i l_i. The caller detaches k and queue (the key encoder
    gets no gradient).
    """
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    queue = F.normalize(queue, dim=1)
    pos = (q * k).sum(1, keepdim=True)  # [N, 1]
    neg = q @ queue.t()  # [N, K]
    logits = torch.cat([pos, neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


@float32
def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Negative cosine similarity (BYOL, Grill et al. 2020; SimSiam, Chen & He 2021, eq. 1),
    averaged over the N pairs:  D(p, z) = -(1 / N) sum_i  p_i . z_i / (||p_i|| ||z_i||).

    Ranges over [-1, 1]; -1 when every prediction points along its target. The caller
    detaches z (the stop-gradient). BYOL's loss 2 - 2 cos equals 2 + 2 D.
    """
    return -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(1).mean()


@float32
def barlow_twins(z1: torch.Tensor, z2: torch.Tensor, lambda_offdiag: float = 5e-3) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021, eq. 1).

    Each embedding dimension is standardised over the batch (mean 0, biased std 1, as the
    paper's BatchNorm without affine parameters does), giving the cross-correlation matrix
    C = z1_std^T z2_std / N  [D, D]. The loss is

        L = sum_i (1 - C_ii)^2  +  lambda * sum_i sum_{j != i} C_ij^2

    (sums, not means: the paper's scale). Zero exactly when the two views are identical,
    standardised and their dimensions decorrelated.
    """
    n = z1.shape[0]
    a = (z1 - z1.mean(0)) / (z1.std(0, unbiased=False) + 1e-6)
    b = (z2 - z2.mean(0)) / (z2.std(0, unbiased=False) + 1e-6)
    c = a.t() @ b / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = _off_diagonal(c).pow(2).sum()
    return on + lambda_offdiag * off


@float32
def vicreg(z1: torch.Tensor, z2: torch.Tensor, sim_weight: float = 25.0, var_weight: float = 25.0,
           cov_weight: float = 1.0) -> torch.Tensor:
    """VICReg (Bardes, Ponce, LeCun 2022, eqs. 1-6).

    - invariance s = (1 / (N D)) sum ||z1 - z2||^2  (mean squared error over all entries);
    - variance v(Z) = (1 / D) sum_j max(0, 1 - sqrt(Var(Z_:,j) + 1e-4)), the unbiased variance
      over the batch, for each branch, averaged over the two: (v(z1) + v(z2)) / 2;
    - covariance c(Z) = (1 / D) sum_{i != j} Cov(Z)_ij^2 with Cov(Z) = Z_c^T Z_c / (N - 1),
      summed over the two branches: c(z1) + c(z2).

        L = sim_weight * s + var_weight * (v(z1) + v(z2)) / 2 + cov_weight * (c(z1) + c(z2))

    as in the paper's reference code (``main_vicreg.py``), whose normalisation the weights
    25 / 25 / 1 go with; the paper's equations divide s by N only (D times this s) and add
    v(z1) + v(z2) without the 1 / 2.
    """
    n, d = z1.shape
    inv = F.mse_loss(z1, z2)
    std1 = torch.sqrt(z1.var(0) + 1e-4)
    std2 = torch.sqrt(z2.var(0) + 1e-4)
    var = (F.relu(1 - std1).mean() + F.relu(1 - std2).mean()) / 2
    c1 = z1 - z1.mean(0)
    c2 = z2 - z2.mean(0)
    cov1 = c1.t() @ c1 / (n - 1)
    cov2 = c2.t() @ c2 / (n - 1)
    cov = _off_diagonal(cov1).pow(2).sum() / d + _off_diagonal(cov2).pow(2).sum() / d
    return sim_weight * inv + var_weight * var + cov_weight * cov


@torch.no_grad()
@float32
def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Sinkhorn-Knopp equal-partition assignments (SwAV, Caron et al. 2020, sec. 3.1 and
    Algorithm 1).

    scores: [B, K] similarities of B samples to K prototypes. Q = exp(scores / epsilon),
    then ``iterations`` rounds of: normalise every prototype's total to 1/K, normalise every
    sample's total to 1/B. Returns [B, K] soft codes: each sample's row sums to exactly 1
    and each prototype's column towards B/K, the balance the iterations converge to: after
    SwAV's 3 iterations only approximately (B = 8, K = 3, epsilon 0.05: column sums of 1.99,
    2.00 and 4.01 against 2.67; SwAV's own code gives the same).
    """
    # The same iterations in the log domain (log Q), so no exp(scores / epsilon) can
    # underflow to a row of zeros, whatever the scale of the scores.
    log_q = (scores.double() / epsilon).t()  # [K, B]
    k, b = log_q.shape
    log_q = log_q - torch.logsumexp(log_q.flatten(), 0)
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(k)
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(b)
    return torch.exp(log_q + math.log(b)).t().float()


@float32
def swav(scores1: torch.Tensor, scores2: torch.Tensor, q1: torch.Tensor, q2: torch.Tensor,
         temperature: float = 0.1) -> torch.Tensor:
    """SwAV's swapped prediction (Caron et al. 2020, eqs. 1-2), averaged over the batch.

    scores: [B, K] prototype similarities of each view; q: [B, K] codes (from
    :func:`sinkhorn`, no gradient). With p = softmax(scores / tau),

        L = -(1 / 2B) sum_b [ sum_k q2_bk log p1_bk  +  sum_k q1_bk log p2_bk ]

    i.e. each view predicts the other view's code.
    """
    l1 = -(q2 * F.log_softmax(scores1 / temperature, dim=1)).sum(1).mean()
    l2 = -(q1 * F.log_softmax(scores2 / temperature, dim=1)).sum(1).mean()
    return (l1 + l2) / 2
