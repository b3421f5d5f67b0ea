"""The energy MLP in numpy: forward pass, hand-written backward pass, Adam.

    x = standardise(v / ||v||)                 v: the candidate's mean-pooled embedding
    E = Softplus(W3 · SiLU(W2 · SiLU(W1 · x + b1) + b2) + b3)      d -> 512 -> 128 -> 1

Lower energy = more likely correct. The same code runs any depth; with no hidden layer it is
the linear head ``E = Softplus(w · x + b)``, which generalises better than the MLP on the
hundreds of candidates we have labelled (docs/lens.md). The embedding is L2-normalised
first, so vectors from the embedded backend (un-normalised) and from llama-server's
``/v1/embeddings`` (normalised) of the same GGUF give the same features; the per-dimension
mean and standard deviation of the training set are then stored with the weights and
applied at inference.

A calibrated probability is one more, optional head: ``p(pass) = sigmoid(a - c * E)``
(Platt scaling, fitted on the validation split). It is monotone in E, so it never changes a
ranking; it turns an energy into a number a threshold can be put on.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

import numpy as np

LAYER_SIZES = (512, 128)  # the notes' energy MLP; () gives the linear head


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow warnings at any scale.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def silu(x: np.ndarray) -> np.ndarray:
    return x * _sigmoid(x)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def init_params(dim: int, rng: np.random.Generator,
                hidden: tuple[int, ...] = LAYER_SIZES) -> dict[str, np.ndarray]:
    """He-normal for the SiLU layers, Xavier-normal for the output layer; zero biases."""
    sizes = (dim, *hidden, 1)
    params: dict[str, np.ndarray] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        last = i == len(sizes) - 1
        std = np.sqrt(2.0 / (fan_in + fan_out)) if last else np.sqrt(2.0 / fan_in)
        params[f"W{i}"] = rng.normal(0.0, std, size=(fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    return params


def layer_count(names: Container[str]) -> int:
    """Weight matrices W1..Wn among ``names`` (a params dict, an npz's files): n - 1 hidden
    SiLU layers, then the Softplus output."""
    n = 0
    while f"W{n + 1}" in names:
        n += 1
    return n


def param_names(n_layers: int) -> tuple[str, ...]:
    return tuple(f"{kind}{i}" for i in range(1, n_layers + 1) for kind in ("W", "b"))


def architecture(hidden: tuple[int, ...]) -> str:
    """The card's words for a layer layout: d->512->128->1, or d->1 for the linear head."""
    acts = "".join(", SiLU" for _ in hidden)
    return f"d->{''.join(f'{h}->' for h in hidden)}1{acts}, Softplus (energy)"


@dataclass
class Cache:
    """What the backward pass needs from the forward pass: each layer's input (x first) and
    each hidden layer's pre-activation."""

    inputs: list[np.ndarray]
    pre: list[np.ndarray]
    z: np.ndarray


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Energies (n,) for standardised features x (n, d), and the cache for ``backward``."""
    n = layer_count(params)
    inputs, pre = [x], []
    a = x
    for i in range(1, n):
        h = a @ params[f"W{i}"] + params[f"b{i}"]
        a = silu(h)
        pre.append(h)
        inputs.append(a)
    z = (a @ params[f"W{n}"] + params[f"b{n}"])[:, 0]
    return softplus(z), Cache(inputs, pre, z)


def _silu_grad(h: np.ndarray) -> np.ndarray:
    s = _sigmoid(h)
    return s * (1.0 + h * (1.0 - s))


def backward(params: dict[str, np.ndarray], cache: Cache,
             d_energy: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of a loss with respect to every parameter, given dLoss/dEnergy (n,)."""
    d = (d_energy * _sigmoid(cache.z))[:, None]  # softplus' = sigmoid
    grads: dict[str, np.ndarray] = {}
    for i in range(layer_count(params), 0, -1):
        grads[f"W{i}"] = cache.inputs[i - 1].T @ d
        grads[f"b{i}"] = d.sum(axis=0)
        if i > 1:
            d = (d @ params[f"W{i}"].T) * _silu_grad(cache.pre[i - 2])
    return grads


@dataclass
class Adam:
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0  # decoupled (AdamW), on weight matrices only
    t: int = 0
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        for name, g in grads.items():
            if name not in self.m:
                self.m[name] = np.zeros_like(g)
                self.v[name] = np.zeros_like(g)
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            p = params[name]
            if self.weight_decay and name.startswith("W"):
                p -= self.lr * self.weight_decay * p
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


@dataclass
class LensModel:
    """Trained weights plus everything inference needs: standardisation stats, the optional
    Platt head. Built by training or by ``store.load_weights``; never from a random init."""

    params: dict[str, np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    # Platt head: p(pass) = sigmoid(platt_a - platt_c * energy); None = not fitted.
    platt: tuple[float, float] | None = None
    normalise: bool = True
    _cast: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def dim(self) -> int:
        return int(self.params["W1"].shape[0])

    def rounded(self) -> LensModel:
        """The same model with every array rounded to float32, as ``store.save`` writes it:
        metrics for a card are computed on this one, so the card matches the file."""
        r = lambda a: np.asarray(a, dtype=np.float32).astype(np.float64)
        return LensModel(params={k: r(v) for k, v in self.params.items()}, mean=r(self.mean),
                         std=r(self.std), platt=self.platt, normalise=self.normalise)

    def features(self, vectors: np.ndarray) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected embeddings of shape (n, {self.dim}), got {x.shape}")
        if self.normalise:
            x = l2_normalise(x)
        return (x - self.mean) / self.std

    def energy(self, vectors: np.ndarray) -> np.ndarray:
        """Energies (n,) for raw embeddings (n, d); lower = more likely correct.

        Computed in float32 (the precision the weights are stored in; half the memory
        traffic of float64, which is what a forward pass for a few candidates costs)."""
        if not self._cast:
            self._cast = {k: v.astype(np.float32) for k, v in self.params.items()}
        x = self.features(vectors).astype(np.float32)
        if len(x) > 16:
            energies, _ = forward(self._cast, x)
            return energies.astype(np.float64)
        # A few candidates (the pipeline's k): one vector-matrix product per row. A (k, d)
        # matrix product is handed to multi-threaded BLAS, which on a busy 2-core machine
        # waits for its second thread (measured: median 28 ms instead of 0.2 ms).
        return np.array([forward(self._cast, row[None, :])[0][0] for row in x],
                        dtype=np.float64)

    def probability(self, energies: np.ndarray) -> np.ndarray | None:
        if self.platt is None:
            return None
        a, c = self.platt
        return _sigmoid(a - c * np.asarray(energies, dtype=np.float64))


def fit_platt(energies: np.ndarray, passed: np.ndarray, *, iters: int = 200,
              l2: float = 1e-3) -> tuple[float, float]:
    """Logistic regression of pass on energy (Newton's method, tiny L2 for separable data):
    returns (a, c) with p = sigmoid(a - c * E)."""
    e = np.asarray(energies, dtype=np.float64)
    y = np.asarray(passed, dtype=np.float64)
    mu, sd = e.mean(), e.std() or 1.0
    X = np.stack([np.ones_like(e), -(e - mu) / sd], axis=1)
    w = np.zeros(2)
    for _ in range(iters):
        p = _sigmoid(X @ w)
        grad = X.T @ (p - y) + l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    # Undo the scaling: w0 + w1 * -(E - mu)/sd  =  (w0 + w1*mu/sd) - (w1/sd) * E
    return float(w[0] + w[1] * mu / sd), float(w[1] / sd)
