"""How the gradient reaches the memory of MemN2N and EntNet: the lecture's claim, instrumented.

The lecture: "Softmax used for the selection involves a normalization over all stored keys. Memory
cells that are not accessed get almost zero gradient. When a backpropagation step causes the
accessed memory cell to change, this massively affects the gradient flow."

Legend: P probe examples, N memory slots, T statements, d embedding dimension.

A memory slot is what the model's read selects over with a softmax: a statement's memory vectors
in MemN2N (m_i^k and c_i^k of every hop k), an entity slot's final content h_j in EntNet. For each
probe example and slot, g_i = ‖∂L/∂slot_i‖ (the L2 norm over all of the slot's vectors), with L the
example's cross-entropy; and, per statement, the gradient reaching its encoding (MemN2N: the same
vectors; EntNet: s_t, which reaches every slot through the gates). From these, per update:

    share of the top slot     g_top / Σ_i g_i, top = the slot the read weights most (MemN2N: summed
                              over hops), averaged over probe examples
    starved slots             share of the slots in use with g_i < 1 % of max_i g_i
    effective slots           exp(entropy of g / Σ g): 1 when one slot takes all the gradient
    jump                      total variation ½ Σ_i |s_i(now) − s_i(before)| of the shares s = g / Σ g
                              between consecutive updates, on the same probe examples
    top switches              share of probe examples whose most-read slot changed since the update before
    gradient change           ‖G(now) − G(before)‖ / ‖G(before)‖ of the probe's gradient of all parameters
"""
from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from milestones.memory.babi import Encoded
from milestones.memory.entnet import EntNet
from milestones.memory.memn2n import MemN2N

STARVED = 0.01  # a slot is starved when its gradient is under 1 % of the largest slot's
RANKS = 10  # the gradient share of the 10 most-read slots, by read rank, is kept for the heat map


@dataclasses.dataclass
class Flow:
    """The gradient's distribution on the probe examples after one update."""

    read: Tensor  # (P, N) read weight of each slot (MemN2N: summed over hops); 0 on unused slots
    slot_grad: Tensor  # (P, N) ‖∂L/∂slot_i‖, 0 on unused slots
    sentence_grad: Tensor  # (P, T) ‖∂L/∂(statement t's encoding)‖, 0 on unused statements
    used: Tensor  # (P, N) slots in use
    used_sentences: Tensor  # (P, T) statements in use
    param_grad: Tensor  # (parameters,) the probe's gradient of all parameters, flattened
    loss: float


def measure_flow(model: nn.Module, batch: Encoded, linear: bool = False) -> Flow:
    """Per-example, per-slot gradient norms of `model` (MemN2N or EntNet) on `batch`; `linear`:
    MemN2N in linear start (the read weights are then the raw scores)."""
    if isinstance(model, MemN2N):
        logits, attention, memory = model(batch.story, batch.question, batch.count, linear=linear,
                                          return_attention=True, return_memory=True)
        read = attention.sum(1)  # (P, M)
        tensors = memory  # 2K tensors (P, M, d)
    elif isinstance(model, EntNet):
        logits, (p, h, s) = model(batch.story, batch.question, batch.count, return_memory=True)
        read, tensors = p, [h]
    else:
        raise TypeError(f"expected a MemN2N or an EntNet, got {type(model).__name__}")
    # the summed loss: each example's slots only touch its own term, so ∂/∂slot is per example
    loss = F.cross_entropy(logits, batch.answer, reduction="sum")
    params = [q for q in model.parameters() if q.requires_grad]
    wrt = tensors + ([s] if isinstance(model, EntNet) else [])
    grads = torch.autograd.grad(loss, wrt + params, allow_unused=True)
    slot_sq = sum(g.pow(2).sum(-1) for g in grads[:len(tensors)])  # (P, N)
    slot_grad = slot_sq.sqrt()
    P, N = slot_grad.shape
    count = batch.count.clamp(max=N)
    used = torch.arange(N, device=slot_grad.device)[None, :] < count[:, None] if isinstance(model, MemN2N) \
        else torch.ones(P, N, dtype=torch.bool, device=slot_grad.device)
    if isinstance(model, EntNet):
        s_grad = grads[len(tensors)].norm(dim=-1)  # (P, T)
        T = s_grad.shape[1]
        used_s = torch.arange(T, device=s_grad.device)[None, :] < batch.count[:, None]
    else:
        s_grad, used_s = slot_grad, used
    flat = torch.cat([(torch.zeros_like(q) if g is None else g).flatten()
                      for q, g in zip(params, grads[len(wrt):])])
    return Flow(read.detach() * used, (slot_grad * used).detach(), (s_grad * used_s).detach(), used,
                used_s, flat.detach(), loss.item() / P)


def shares(grad: Tensor) -> Tensor:
    """g / Σ g per example, (P, N); an example with no gradient at all gets zeros."""
    total = grad.sum(-1, keepdim=True)
    return torch.where(total > 0, grad / total.clamp_min(1e-30), torch.zeros_like(grad))


def summary(flow: Flow, before: Flow | None) -> dict[str, float]:
    """The numbers of one update (see the module docstring); the jumps need the previous update."""
    s = shares(flow.slot_grad)  # (P, N)
    top = flow.read.argmax(-1)  # (P,)
    rows = torch.arange(len(top))
    n_used = flow.used.sum(-1).clamp_min(1)
    largest = flow.slot_grad.amax(-1, keepdim=True)
    starved = ((flow.slot_grad < STARVED * largest) & flow.used).sum(-1) / n_used
    entropy = -(s * s.clamp_min(1e-30).log()).sum(-1)
    order = flow.read.argsort(-1, descending=True)[:, :RANKS]  # most-read slots first
    by_rank = s.gather(1, order).mean(0)  # (≤ RANKS,)
    s_sent = shares(flow.sentence_grad)
    n_sent = flow.used_sentences.sum(-1).clamp_min(1)
    starved_sent = ((flow.sentence_grad < STARVED * flow.sentence_grad.amax(-1, keepdim=True))
                    & flow.used_sentences).sum(-1) / n_sent
    out = {
        "probe_loss": flow.loss,
        "top_share": s[rows, top].mean().item(),
        "starved": starved.mean().item(),
        "effective_slots": entropy.exp().mean().item(),
        "slots_used": flow.used.sum(-1).float().mean().item(),
        "sentence_starved": starved_sent.mean().item(),
        "sentence_max_share": s_sent.amax(-1).mean().item(),
        **{f"rank{r}_share": by_rank[r].item() for r in range(len(by_rank))},
    }
    if before is not None:
        out["jump"] = (0.5 * (s - shares(before.slot_grad)).abs().sum(-1)).mean().item()
        out["top_switch"] = (top != before.read.argmax(-1)).float().mean().item()
        out["grad_change"] = ((flow.param_grad - before.param_grad).norm()
                              / before.param_grad.norm().clamp_min(1e-30)).item()
    return out
