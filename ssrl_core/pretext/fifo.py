"""A first-in-first-out queue of embeddings kept as module buffers (so checkpoints keep it
and a resumed run continues with it), written without a host sync: MoCo's negative keys
and SwAV's past embeddings."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_queue(*shape: int) -> torch.Tensor:
    """A queue's first contents: random unit vectors along the last dimension."""
    return F.normalize(torch.randn(*shape), dim=-1)


@torch.no_grad()
def push(queue: torch.Tensor, ptr: torch.Tensor, items: torch.Tensor) -> None:
    """Write ``items`` (rows like ``queue``'s, L2-normalised along the last dimension here)
    at the pointer, wrapping around the end; the pointer advances mod len(queue). When
    more items come than the queue holds, only the newest survive."""
    k, n = queue.shape[0], items.shape[0]
    if n > k:
        items = items[n - k:]
    start = ptr + (n - items.shape[0])
    rows = (start + torch.arange(items.shape[0], device=items.device)) % k
    queue[rows] = F.normalize(items.to(queue.dtype), dim=-1)
    ptr.copy_((ptr + n) % k)
