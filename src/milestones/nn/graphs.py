"""One training update (forward, backward, optimizer step) captured once as a CUDA graph and replayed.

The GPU path for models whose time goes into launching many small kernels rather than into arithmetic:
the NTM at batch 1 runs a few hundred tiny operations per time step, and eagerly on a GPU each is a
launch of a few microseconds. Replaying a captured graph issues the whole update at once.

    update = GraphedUpdate(loss_fn, optimizer, example_inputs)   # loss_fn(*inputs) -> scalar loss
    for batch in data:
        loss = update(*batch)    # copies the batch into the graph's inputs, replays, returns the loss

What capture needs: inputs of fixed shape on every call (pad variable-length episodes to one length,
`Episode.padded`, which leaves a causal model's loss and gradients unchanged), no synchronisation
with the host inside `loss_fn` (no `.item()`, no branching on tensor values), and an Adam, AdamW or
RAdam optimizer built with `capturable=True` on a GPU, whose learning rate stays what it was at
capture. `max_grad_norm` clips the gradient's global norm between the backward pass and the step
(`torch.nn.utils.clip_grad_norm_`, which needs no host synchronisation).

The same object runs anywhere: on a CPU it does the update eagerly (there is no graph to capture), so
code written against it is tested without a GPU. Construction runs a few warm-up updates, as capture
requires on a GPU, then puts the parameters and the optimizer's state back as they were: the model
leaves the constructor untrained, and N calls give the same parameters as N plain updates.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

# Optimizers whose state, created at the first step, starts at zero (the step count and the moments),
# so that state made during warm-up can be reset by zeroing it.
ZERO_INITIAL_STATE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.RAdam)


class GraphedUpdate:
    """`loss_fn(*inputs)`, its backward pass and `optimizer.step()`, replayed as one CUDA graph on a GPU."""

    def __init__(self, loss_fn: Callable[..., Tensor], optimizer: torch.optim.Optimizer,
                 example_inputs: Sequence[Tensor], warmup: int = 3, max_grad_norm: float = 0.0) -> None:
        if not isinstance(optimizer, ZERO_INITIAL_STATE):
            raise TypeError(f"GraphedUpdate supports {', '.join(t.__name__ for t in ZERO_INITIAL_STATE)}, "
                            f"got {type(optimizer).__name__}")
        if not example_inputs:
            raise ValueError("example_inputs must hold at least one tensor (the graph's inputs)")
        devices = {t.device for t in example_inputs} | {p.device for g in optimizer.param_groups for p in g["params"]}
        if len(devices) != 1:
            raise ValueError(f"inputs and parameters must be on one device, got {sorted(map(str, devices))}")
        self.device = devices.pop()
        self.on_gpu = self.device.type == "cuda"
        if self.on_gpu and not all(g.get("capturable", False) for g in optimizer.param_groups):
            raise ValueError("on a GPU the optimizer must be built with capturable=True "
                             "(e.g. torch.optim.Adam(params, lr, capturable=True))")
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.max_grad_norm = max_grad_norm
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.inputs = [t.detach().clone() for t in example_inputs]  # the graph's fixed input buffers
        self.graph: torch.cuda.CUDAGraph | None = None
        self._warm_up(warmup)
        if self.on_gpu:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.loss = self._update()  # recorded, not run: the graph's output buffer

    def _update(self) -> Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(*self.inputs)
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        loss.backward()
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        return loss.detach()

    def _warm_up(self, updates: int) -> None:
        """Run `updates` updates (a side stream on a GPU, as capture needs), then restore the parameters
        and the optimizer state in place, so the tensors the graph will read keep their addresses."""
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        saved = [p.detach().clone() for p in params]
        saved_state = {p: {k: v.clone() if isinstance(v, Tensor) else v for k, v in self.optimizer.state[p].items()}
                       for p in params if p in self.optimizer.state}
        if self.on_gpu:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(updates):
                    self._update()
            torch.cuda.current_stream().wait_stream(stream)
        else:
            for _ in range(updates):
                self._update()
        with torch.no_grad():
            for p, value in zip(params, saved):
                p.copy_(value)
            for p in params:
                for key, value in self.optimizer.state.get(p, {}).items():
                    if not isinstance(value, Tensor):
                        continue
                    if p in saved_state:
                        value.copy_(saved_state[p][key])
                    else:
                        value.zero_()  # fresh Adam: step 0, both moments 0
        if self.on_gpu:
            torch.cuda.synchronize(self.device)

    def __call__(self, *inputs: Tensor) -> Tensor:
        """One update on `inputs` (same shapes and dtypes as the examples); returns the loss."""
        if len(inputs) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} input tensors, got {len(inputs)}")
        for i, (buffer, x) in enumerate(zip(self.inputs, inputs)):
            if x.shape != buffer.shape or x.dtype != buffer.dtype:
                raise ValueError(f"input {i} must have shape {tuple(buffer.shape)} and dtype {buffer.dtype} "
                                 f"(the captured ones), got {tuple(x.shape)} {x.dtype}")
            buffer.copy_(x)
        if self.graph is None:
            return self._update()
        self.graph.replay()
        return self.loss.clone()
