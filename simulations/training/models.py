"""The models, and a flat-parameter view of them that every update rule can drive.

MNIST-1D models follow the benchmark's reference code (Greydanus 2020, ``mnist1d`` repository):
an MLP 40-100-100-10 with ReLU and the reference's skip connection around the middle layer
(``h = h + relu(fc2(h))``, as in its ``MLPBase``), and a 1-D CNN with three convolutions of 25 channels (kernel 5,
3, 3, stride 2, padding 1) and a linear read-out (125 -> 10). Digits uses the same MLP on 64
inputs. A run's parameters are one flat vector; a batch of runs is a (runs, dim) tensor, which
is what :class:`theory.rule.UpdateRule` steps, and gradients of all runs come from one
``torch.func.vmap`` call (batched on a GPU as on the CPU).
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

MODELS = {"mnist1d": ("mlp", "cnn"), "digits": ("mlp",)}
INPUTS = {"mnist1d": 40, "digits": 64}


class MLP(nn.Module):
    def __init__(self, inputs: int, hidden: int = 100, classes: int = 10):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(inputs, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, classes)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        return self.fc3(h + torch.relu(self.fc2(h)))  # the reference MLPBase's skip connection


class CNN1d(nn.Module):
    def __init__(self, length: int = 40, channels: int = 25, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out = length
        for k in (5, 3, 3):
            out = (out + 2 - k) // 2 + 1
        self.linear = nn.Linear(channels * out, classes)

    def forward(self, x):
        h = x.unsqueeze(-2)  # (batch, 1, length)
        h = torch.relu(self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(h))))))
        return self.linear(h.flatten(-2))


def check_model(dataset: str, model: str) -> str:
    if dataset not in MODELS:
        raise ValueError(f"dataset must be one of {tuple(MODELS)}, got {dataset!r}")
    if model not in MODELS[dataset]:
        raise ValueError(f"model {model!r} is not available for dataset {dataset!r}; valid: {MODELS[dataset]}")
    return model


def build(dataset: str, model: str) -> nn.Module:
    check_model(dataset, model)
    return MLP(INPUTS[dataset]) if model == "mlp" else CNN1d(INPUTS[dataset])


class FlatModel:
    """A module seen as a function of one flat parameter vector (see the module docstring).

    ``layers``: {module name: slice of the flat vector} (weight and bias of one layer);
    ``weights``: {module name: slice of its weight only} (for the relative-flatness measure).
    """

    def __init__(self, module: nn.Module):
        self.module = module
        self.names, self.shapes, self.sizes = [], [], []
        for name, p in module.named_parameters():
            self.names.append(name)
            self.shapes.append(p.shape)
            self.sizes.append(p.numel())
        self.dim = sum(self.sizes)
        self.layers, self.weights, start = {}, {}, 0
        for name, size in zip(self.names, self.sizes):
            layer, _, kind = name.rpartition(".")
            s = self.layers.get(layer, slice(start, start))
            self.layers[layer] = slice(s.start, start + size)
            if kind == "weight":
                self.weights[layer] = slice(start, start + size)
            start += size
        self._grad = vmap(grad(self.loss))
        self._logits = vmap(self.logits)

    def unflatten(self, flat: torch.Tensor) -> dict:
        return {n: t.view(s) for n, t, s in zip(self.names, flat.split(self.sizes), self.shapes)}

    def logits(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.module, self.unflatten(flat), (x,))

    def loss(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(self.logits(flat, x), y)

    def grads(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-run gradients: params (runs, dim), x (runs, batch, ...), y (runs, batch)."""
        return self._grad(params, x, y)

    def shared_grads(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-run gradients on one batch shared by all runs."""
        return vmap(grad(self.loss), in_dims=(0, None, None))(params, x, y)

    @torch.no_grad()
    def evaluate(self, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> tuple:
        """(loss, accuracy) per run on a shared data set, as (runs,) tensors."""
        losses, correct = torch.zeros(params.shape[0], dtype=torch.float64, device=params.device), 0
        for s in range(0, len(y), chunk):
            out = vmap(self.logits, in_dims=(0, None))(params, x[s:s + chunk])
            target = y[s:s + chunk].expand(out.shape[0], -1)
            losses += nn.functional.cross_entropy(out.transpose(1, 2), target, reduction="none").sum(1).double()
            correct = correct + (out.argmax(-1) == target).sum(1)
        return losses / len(y), correct.double() / len(y)

    def initial(self, seed: int, dtype=torch.float32, device="cpu") -> torch.Tensor:
        """The flat initial parameters of ``seed`` (torch's default init of the module's layers), drawn
        on a CPU copy in float32 so that a seed gives the same start on every device."""
        cpu = copy.deepcopy(self.module).to(device="cpu", dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            for m in cpu.modules():
                if hasattr(m, "reset_parameters") and m is not cpu:
                    m.reset_parameters()
            flat = torch.cat([p.detach().reshape(-1) for p in cpu.parameters()])
        return flat.to(device=device, dtype=dtype)


def flat_model(dataset: str, model: str, dtype=torch.float32, device="cpu") -> FlatModel:
    return FlatModel(build(dataset, model).to(device=device, dtype=dtype))
