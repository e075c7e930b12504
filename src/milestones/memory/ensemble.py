"""Independent restarts trained at once: R copies of a module with their parameters stacked (R, …).

The papers pick the best of several runs (MemN2N: of 10, by training error; EntNet: of 10, by
validation error). Small networks on a CPU spend most of a step on per-call overhead, so R restarts
are run as one vectorised network (`torch.func.vmap` over the stacked parameters): each member has
its own initialisation, batches, noise and gradients, and the loss is the sum of the members' losses,
so no gradient crosses between members.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap


class Ensemble(nn.Module):
    """`Ensemble(make, R)(*inputs)` runs member r on inputs[..][r]: every tensor input has a leading
    (R,) dimension; keyword arguments are passed unchanged to every member."""

    def __init__(self, make: Callable[[], nn.Module], members: int) -> None:
        super().__init__()
        if members < 1:
            raise ValueError(f"an ensemble needs at least one member, got {members}")
        models = [make() for _ in range(members)]
        params, buffers = stack_module_state(models)
        if buffers:
            raise ValueError("Ensemble supports modules without buffers")
        self.members = members
        self.names = list(params)
        self.stacked = nn.ParameterDict({"p_" + n.replace(".", "__"): nn.Parameter(p.detach().clone())
                                         for n, p in params.items()})
        self._template = [copy.deepcopy(models[0]).to("meta")]  # a list: not a submodule

    @property
    def template(self) -> nn.Module:
        return self._template[0]

    def params(self) -> dict[str, Tensor]:
        return {n: self.stacked["p_" + n.replace(".", "__")] for n in self.names}

    def forward(self, *inputs: Tensor, **kwargs):
        template = self.template

        def one(params: dict[str, Tensor], *xs: Tensor):
            return functional_call(template, params, xs, kwargs)

        if self.members == 1:  # the same computation without vmap's cost per operation
            out = one({n: p[0] for n, p in self.params().items()}, *(x[0] for x in inputs))
            return _lead(out)
        return vmap(one)(self.params(), *inputs)

    def member(self, r: int) -> nn.Module:
        """Member r as a plain module (a copy) for evaluation and figures."""
        model = copy.deepcopy(self.template).to_empty(device=next(iter(self.stacked.values())).device)
        model.load_state_dict({n: p[r].detach().clone() for n, p in self.params().items()})
        return model


class BestMembers(nn.Module):
    """Each member's parameters at its best epoch so far: early stopping per restart, chosen on a
    score such as the validation error. `update(ensemble, score, epoch)` after each epoch keeps the
    members whose score is at most their best (so the latest of equal scores wins: it has trained
    longer); `restore(ensemble)` gives every member its kept parameters. The copies are buffers, so
    a checkpoint of this module lets a stopped run resume to the same choice."""

    def __init__(self, ensemble: Ensemble) -> None:
        super().__init__()
        for key, p in ensemble.stacked.items():
            self.register_buffer(key, p.detach().clone())
        device = next(iter(ensemble.stacked.values())).device
        self.register_buffer("score", torch.full((ensemble.members,), math.inf, device=device))
        self.register_buffer("epoch", torch.zeros(ensemble.members, dtype=torch.long, device=device))

    @torch.no_grad()
    def update(self, ensemble: Ensemble, score: Tensor, epoch: int) -> Tensor:
        """Keep the members whose `score` (R,) is at most their best; returns which were kept."""
        score = score.to(self.score.device, self.score.dtype)
        better = score <= self.score
        for key, p in ensemble.stacked.items():
            getattr(self, key)[better] = p.detach()[better]
        self.score[better] = score[better]
        self.epoch[better] = epoch
        return better

    @torch.no_grad()
    def restore(self, ensemble: Ensemble) -> None:
        for key, p in ensemble.stacked.items():
            p.copy_(getattr(self, key))


def _lead(out):
    """A member's outputs (tensors, possibly in nested tuples) with the leading (R = 1,) dimension."""
    return tuple(_lead(o) for o in out) if isinstance(out, tuple) else out[None]
