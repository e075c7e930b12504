"""The lecture GRU's recurrence with a hand-written backward pass (backpropagation through time).

Autograd through a Python loop records ~10 nodes per step; this Function records one for the whole
sequence and runs the loop of derivatives below by hand, which brings the lecture GRU within reach of
cuDNN/oneDNN's fused torch.nn.GRU. `milestones.nn.rnn.GRUCell.step` is the readable reference; the
tests check this against it and with torch.autograd.gradcheck.

Forward, per step (xp = W^x x_t + b is precomputed for all t; W_hh = [W_zr^h; W_n^h]):
    [z, r] = σ(xp_zr + W_zr^h h)              (B, 2H)
    n      = tanh(xp_n + W_n^h (r ⊙ h))       (B, H)
    h'     = h + z ⊙ (n − h)

Backward, given g = ∂L/∂h' (including the carry from step t+1):
    ∂a_n  = g ⊙ z ⊙ (1 − n²)                  ∂(r ⊙ h) = ∂a_n W_n^h
    ∂a_z  = g ⊙ (n − h) ⊙ z(1 − z)            ∂a_r = ∂(r ⊙ h) ⊙ h ⊙ r(1 − r)
    ∂h    = g ⊙ (1 − z) + ∂(r ⊙ h) ⊙ r + [∂a_z, ∂a_r] W_zr^h
    ∂W_zr^h = Σ_t [∂a_z, ∂a_r]_tᵀ h_{t−1},   ∂W_n^h = Σ_t ∂a_n,tᵀ (r_t ⊙ h_{t−1})   (one GEMM each)
    ∂xp_t = [∂a_z, ∂a_r, ∂a_n]

Shapes: T time, B batch, H hidden size.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class LectureGRURecurrence(torch.autograd.Function):
    """outputs (T, B, H) = recurrence(xp (T, B, 3H), h0 (B, H), weight_hh (3H, H))."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, weight_hh: Tensor) -> Tensor:
        T, B, G = xp.shape
        H = G // 3
        w_zr_t, w_n_t = weight_hh[: 2 * H].t(), weight_hh[2 * H:].t()  # (H, 2H), (H, H)
        hs = xp.new_empty(T + 1, B, H)  # h_0 … h_T
        zrn = xp.new_empty(T, B, G)  # z | r | n of every step, kept for the backward pass
        hs[0] = h0
        for t, x_t in enumerate(xp.unbind(0)):
            h, gates = hs[t], zrn[t]
            zr = torch.sigmoid(torch.addmm(x_t[:, : 2 * H], h, w_zr_t), out=gates[:, : 2 * H])
            r = zr[:, H:]
            n = torch.tanh(torch.addmm(x_t[:, 2 * H:], r * h, w_n_t), out=gates[:, 2 * H:])
            torch.lerp(h, n, zr[:, :H], out=hs[t + 1])
        ctx.save_for_backward(hs, zrn, weight_hh)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        hs, zrn, weight_hh = ctx.saved_tensors
        T, B, G = zrn.shape
        H = G // 3
        w_zr, w_n = weight_hh[: 2 * H], weight_hh[2 * H:]  # (2H, H), (H, H)
        d_xp = torch.empty_like(zrn)  # ∂a of every step: z | r | n
        g = torch.zeros_like(hs[0])
        for t in range(T - 1, -1, -1):
            g = g + grad_out[t]
            h, z, r, n = hs[t], zrn[t, :, :H], zrn[t, :, H: 2 * H], zrn[t, :, 2 * H:]
            d_a = d_xp[t]
            d_an = torch.mul(g * z, 1 - n * n, out=d_a[:, 2 * H:])
            d_rh = d_an @ w_n  # (B, H)
            torch.mul(g * (n - h), z * (1 - z), out=d_a[:, :H])
            torch.mul(d_rh * h, r * (1 - r), out=d_a[:, H: 2 * H])
            g = torch.addmm(g * (1 - z) + d_rh * r, d_a[:, : 2 * H], w_zr)
        h_prev = hs[:-1].reshape(T * B, H)
        rh = (zrn[:, :, H: 2 * H] * hs[:-1]).reshape(T * B, H)
        d_flat = d_xp.reshape(T * B, G)
        d_w = torch.cat([d_flat[:, : 2 * H].t() @ h_prev, d_flat[:, 2 * H:].t() @ rh])  # (3H, H)
        return d_xp, g, d_w
