"""DeepCluster — Caron, Bojanowski, Joulin, Douze. "Deep Clustering for Unsupervised
Learning of Visual Features", ECCV 2018.

Alternate two steps. Before every epoch, embed the whole train split with the current
encoder (eval mode, no augmentation), PCA-reduce, whiten and L2-normalise the features,
and cluster them with k-means into k groups; each image's cluster is its pseudo-label y_n.
Then train the encoder f and a re-initialised linear classifier (W, b) (the paper
re-initialises the top layer every epoch, since cluster ids mean nothing across epochs)
to predict the pseudo-labels of augmented views (the head starts each epoch without
optimiser state, as the paper's code builds its optimiser anew: ``reinitialised_parameters``):

    L = - sum_n w_{y_n} log softmax(W f(aug(x_n)) + b)_{y_n} / sum_n w_{y_n},  w_c = 1 / |cluster c|.

The class weights w stand in for the paper's sampler that draws images uniformly over
pseudo-labels, so big clusters do not dominate (the training loop owns the sampling).
Empty clusters are re-seeded as in the paper: a non-empty cluster's centroid is copied with
a small perturbation and its points are split between the two; a cluster still empty
(e.g. duplicate images) gets weight 0 and, having no members, is never a target.

Small-scale departures (an epoch here is tens of steps, digits 44 and shapes 62, the
paper's ~5000): by default the head is re-initialised from the new centroids
(head_init=centroids, as DeepCluster-v2 in the SwAV paper classifies against the
centroids) rather than at random, which a head cannot learn from scratch in so few steps; and an untrained encoder's placeholder BatchNorm
statistics are estimated before the first clustering, so the eval-mode features clustered
are the features the head is trained on.

What to expect: every epoch the loss jumps (new clusters, new head) and then falls;
``cluster_acc`` climbs over the epochs (digits, 10 epochs: loss 3.9 -> 2.4, cluster_acc
0.15 -> 0.51); ``nmi_prev`` (NMI between this and the previous epoch's assignments, the
paper's Fig. 2b) rises as the clusters stabilise; ``clusters_nonempty`` stays at k.
Options: n_clusters (100), pca_dim (64), kmeans_iters (20), head_init (centroids).

Small sets: k must fit the training split. More clusters than images cannot be made
(refused before a run is queued), and fewer than ``MIN_IMAGES_PER_CLUSTER`` images a
cluster makes each pseudo-label little more than an image's own id (a warning): the paper
over-segments, k = 10,000 for 1,000 classes, but that still leaves ~128 ImageNet images a
cluster. An imported set of under 1,000 training images gets k = n / 10 by default
(``IMAGES_PER_CLUSTER``; 128 images: 12), never under 2.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..device import faiss_use_gpu, to_device_batch
from ..evaluate.embed import embed
from .base import PretextMethod

CENTROID_TAU = 0.1  # softmax temperature of a centroid-initialised head (DeepCluster-v2, SwAV paper)
IMAGES_PER_CLUSTER = 10  # an imported set's default k: one cluster per this many training images (digits: 14)
MIN_IMAGES_PER_CLUSTER = 5  # fewer a cluster, on average, and a pseudo-label is little more than an image's id


def pca_whiten(x: np.ndarray, dim: int, eps: float = 1e-5):
    """The paper's pre-processing: project centred features on their top ``dim`` principal
    axes, divide each by its standard deviation (whitening), L2-normalise the rows.
    Returns (rows [N, dim], mean [D], projection [D, dim], mean row norm before normalising)."""
    x = x.astype(np.float64)
    mean = x.mean(0)
    eigval, eigvec = np.linalg.eigh((x - mean).T @ (x - mean) / max(1, len(x) - 1))
    top = np.argsort(eigval)[::-1][:dim]
    proj = eigvec[:, top] / np.sqrt(eigval[top] + eps * max(eigval.max(), eps))
    y = (x - mean) @ proj
    norm = np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return (y / norm).astype(np.float32), mean, proj, float(norm.mean())


def kmeans(x: np.ndarray, k: int, iters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """faiss k-means (GPU when faiss sees one); returns (assignments [N], centroids [k, d])."""
    import faiss

    km = faiss.Kmeans(x.shape[1], k, niter=iters, seed=seed, gpu=faiss_use_gpu(),
                      min_points_per_centroid=1, max_points_per_centroid=10**9)  # use every point
    km.train(x)
    _, assign = km.index.search(x, 1)
    return assign[:, 0].astype(np.int64), km.centroids.copy()


def split_empty(x: np.ndarray, assign: np.ndarray, centroids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The paper's fix for empty clusters: give an empty cluster the centroid of a random
    non-empty one with a small random perturbation, and re-assign that cluster's points to
    the nearer of the two. The cluster to split is drawn in proportion to its size; the
    perturbation is a random direction through the cluster's mean, so its points go to the
    side of that direction they lie on (the nearer of two centroids a vanishing step either way
    along it), both sides non-empty unless the points are identical, and the two centroids
    become the two halves' means. (A fixed ±1/1024 of each coordinate, as faiss's k-means
    perturbs before iterating again, split the half of a cluster split just before along the
    same line: all its points moved over and the cluster was empty again; and near the origin,
    as whitened features are, the two distances tied in float32.) A cluster of identical points
    cannot split; another is drawn, and an empty cluster stays empty only where none can."""
    assign = assign.copy()
    k = len(centroids)
    for e in np.flatnonzero(np.bincount(assign, minlength=k) == 0):
        counts = np.bincount(assign, minlength=k)
        splittable = counts > 1
        while splittable.any():  # a cluster of identical points cannot split: another is drawn instead
            j = rng.choice(k, p=np.where(splittable, counts, 0) / counts[splittable].sum())
            members = np.flatnonzero(assign == j)
            pts = x[members].astype(np.float64)
            side = (pts - pts.mean(0)) @ rng.standard_normal(x.shape[1]) > 0
            if side.all() or not side.any():  # identical points stay together
                splittable[j] = False
                continue
            assign[members[side]] = e
            centroids[e], centroids[j] = pts[side].mean(0), pts[~side].mean(0)
            break
    return assign


class DeepCluster(PretextMethod):
    name = "deepcluster"
    family = "clustering"
    summary = "k-means the features every epoch, then learn to classify the cluster ids"
    n_views = 1
    defaults = {"n_clusters": 100, "pca_dim": 64, "kmeans_iters": 20, "head_init": "centroids"}
    pace_free = frozenset({"head_init"})
    option_help = {
        "n_clusters": "k of k-means, the number of pseudo-classes. The paper uses about 10 times the true "
                      "classes (10000 for ImageNet), so 100 here (about 15 digits a cluster). An imported set "
                      "under 1,000 training images gets one per 10 images; fewer than 5 images a cluster is warned of",
        "pca_dim": "PCA dimension before whitening and k-means (the paper: 256 of 4096); 64 here, "
                   "capped at the feature size",
        "kmeans_iters": "Lloyd iterations of faiss k-means per epoch (the paper's code: 20)",
        "head_init": "how the classifier is re-initialised each epoch: 'random' (the paper, N(0, 0.01)) or "
                     "'centroids' (rows = this epoch's centroids, as DeepCluster-v2 uses them; needed when "
                     "an epoch is only tens of steps, far from the paper's thousands)",
    }
    option_choices = {"head_init": ("random", "centroids")}

    @classmethod
    def sized_defaults(cls, n_train, batch):
        return {"n_clusters": max(2, min(cls.defaults["n_clusters"], n_train // IMAGES_PER_CLUSTER))}

    @classmethod
    def _suits(cls, n_train: int) -> str:
        k = cls.sized_defaults(n_train, 0)["n_clusters"]
        return f"n_clusters={k} (about {n_train // k} images a cluster) suits {n_train:,} images"

    @classmethod
    def data_conflicts(cls, options, n_train, batch):
        k = options["n_clusters"]
        if n_train < 2:
            return (f"needs at least 2 training images to cluster, and this set has {n_train}: "
                    "import more images, or choose another method")
        if k > n_train:
            return (f"option n_clusters must be at most the {n_train:,} training images, got {k:,}: k-means "
                    f"cannot make more clusters than it has images to put in them (the rest would stay empty); "
                    f"{cls._suits(n_train)}")
        return None

    @classmethod
    def data_caveats(cls, options, n_train, batch):
        k = options["n_clusters"]
        if n_train / k >= MIN_IMAGES_PER_CLUSTER:
            return []
        if n_train < 2 * MIN_IMAGES_PER_CLUSTER:
            advice = f"Even 2 clusters leave fewer than {MIN_IMAGES_PER_CLUSTER} each here: import more images"
        else:
            advice = f"Use n_clusters={n_train // MIN_IMAGES_PER_CLUSTER} or fewer; {cls._suits(n_train)}"
        per = n_train / k  # (4.99 is not "5.0" beside "fewer than 5": there rounded down, to 2 places)
        per = f"{per:.1f}" if round(per, 1) < MIN_IMAGES_PER_CLUSTER else f"{int(per * 100) / 100:.2f}"
        return [f"option n_clusters {k:,} leaves {per} training images a cluster ({n_train:,} images in "
                f"{k:,} clusters): "
                f"a cluster of fewer than {MIN_IMAGES_PER_CLUSTER} images is little more than its images' own ids, "
                "so the pseudo-labels group nothing (the paper over-segments ImageNet into 10,000 clusters, still "
                f"about 128 images each). {advice}."]

    def __init__(self, encoder, num_classes, channels, options=None):
        super().__init__(encoder, num_classes, channels, options)
        self.k = int(self.options["n_clusters"])
        self.head = nn.Linear(self.encoder.feature_dim, self.k)
        self.reset_head()
        # per-epoch state, rebuilt by on_epoch_start, so not saved in checkpoints
        self.register_buffer("pseudo_labels", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("class_weight", torch.ones(self.k), persistent=False)
        self._previous: np.ndarray | None = None

    @torch.no_grad()
    def reset_head(self, centroids=None, mean=None, proj=None, scale=1.0) -> None:
        """Re-initialise the classifier IN PLACE (the optimiser holds these tensors): N(0, 0.01)
        weights and zero bias as in the paper's code, then, with centroids, rows that score
        a feature f by its whitened direction x = P(f - mean) / scale against each centroid c,
        (x . c - |c|^2 / 2) / tau, tau = 0.1: at step 0 the head predicts the k-means
        assignment (the nearest centroid) instead of chance."""
        self.head.weight.normal_(0, 0.01)
        self.head.bias.zero_()
        if centroids is not None:
            c = torch.as_tensor(centroids, dtype=torch.float64)
            w = c @ torch.as_tensor(proj).t() / (scale * CENTROID_TAU)  # [k', D]
            b = -w @ torch.as_tensor(mean) - c.pow(2).sum(1) / (2 * CENTROID_TAU)
            self.head.weight[: len(c)] = w.to(self.head.weight)
            self.head.bias[: len(c)] = b.to(self.head.bias)

    def reinitialised_parameters(self) -> list[nn.Parameter]:
        """The head, new every epoch: the moments AdamW kept for the last epoch's head belong to
        other clusters (cluster ids mean nothing across epochs). The paper's code builds a new
        optimiser for the top layer every epoch, so it starts without them too."""
        return list(self.head.parameters())

    @torch.no_grad()
    def _estimate_fresh_batchnorm(self, images, batch_size=256) -> None:
        """An untrained encoder's BatchNorm running statistics are placeholders (mean 0,
        variance 1), so its eval-mode features, which are clustered, are not the train-mode
        features the head is then trained on. Before the first clustering, estimate them
        with gradient-free train-mode passes over the train split (no weight changes)."""
        bns = [m for m in self.encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not bns or any(int(m.num_batches_tracked) > 0 for m in bns):
            return
        was_training, momenta = self.encoder.training, [m.momentum for m in bns]
        self.encoder.train()
        for m in bns:
            m.momentum = None  # a plain average over the batches
        for i in range(0, len(images), batch_size):
            self.encoder(to_device_batch(images[i : i + batch_size].float().div(255)))
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
        self.encoder.train(was_training)

    @torch.no_grad()
    def on_epoch_start(self, epoch, images):
        from sklearn.metrics import normalized_mutual_info_score

        self._estimate_fresh_batchnorm(images)
        feats = embed(self.encoder, images, images.device)
        x, mean, proj, scale = pca_whiten(feats, min(int(self.options["pca_dim"]), feats.shape[1], max(1, len(feats) - 1)))
        # faiss needs at least k points; a run asking for more is refused before it is queued
        # (data_conflicts), but one trained before that rule keeps its empty clusters
        k = min(self.k, len(x))
        # drawn from PyTorch's global generator: seeded by the run's --seed and kept in its
        # checkpoint, so each seed clusters differently and a resumed run as it would have
        seed = int(torch.randint(2**31 - 1, ()).item())
        assign, centroids = kmeans(x, k, int(self.options["kmeans_iters"]), seed=seed)
        assign = split_empty(x, assign, centroids, np.random.default_rng(seed))
        counts = np.bincount(assign, minlength=self.k)
        weight = np.where(counts > 0, len(assign) / (np.maximum(counts, 1) * (counts > 0).sum()), 0.0)
        self.pseudo_labels = torch.from_numpy(assign).to(images.device)
        self.class_weight = torch.from_numpy(weight).float().to(images.device)
        if self.options["head_init"] == "centroids":
            self.reset_head(centroids, mean, proj, scale)
        else:
            self.reset_head()
        logs = {"clusters_nonempty": float((counts > 0).sum())}
        if self._previous is not None and len(self._previous) == len(assign):
            logs["nmi_prev"] = float(normalized_mutual_info_score(self._previous, assign))
        self._previous = assign
        return logs

    def training_step(self, views, labels, index=None):
        if self.pseudo_labels.numel() == 0:
            raise RuntimeError("deepcluster has no pseudo-labels yet: call on_epoch_start(epoch, images) "
                               "to cluster the train split before the first training_step")
        if index is None:
            raise ValueError("deepcluster needs the batch's row indices (index) to look up its pseudo-labels")
        y = self.pseudo_labels[index.to(self.pseudo_labels.device)]
        logits = self.head(self.encoder(views[0])).float()
        # L = -sum_n w_{y_n} log p(y_n | x_n) / sum_n w_{y_n}
        loss = F.cross_entropy(logits, y, weight=self.class_weight)
        acc = (logits.argmax(1) == y).float().mean()
        return loss, {"loss": loss.detach(), "cluster_acc": acc.detach()}
