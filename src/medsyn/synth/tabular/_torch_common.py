"""What the deep tabular generators (``tvae``, ``ctgan``) share: torch, devices, seeding, layout, state.

torch is imported lazily (``import medsyn.synth`` stays fast and works without it) through
:func:`load_torch`, which names the extra to install when it is missing. The pieces:

- :class:`DeepTabularGenerator`: the fit/sample plumbing of both generators — parameter
  checks, the mode-specific transformer (:mod:`._transform`), device choice (CUDA when there is
  one and ``device="auto"``), torch's CPU threads (``threads``, default 1: these small networks
  gain little from more, and where the cores are busy — shared CI runners, several workers — extra
  OpenMP threads made a training step 5–15× slower in our measurements), one
  ``torch.Generator`` seeded from the caller's ``rng`` (so no global seeding and the same seed
  gives the same rows), sampling in chunks, and the network weights as named arrays;
- :class:`SpanLayout`: index tensors that apply ``tanh``/softmax/Gumbel-softmax to every span of
  the transformed matrix, and the per-span cross-entropies, in a few tensor operations instead
  of a Python loop over columns;
- :func:`linear`, :func:`dropout`: layers initialised and dropped out with that generator
  (``torch.nn`` defaults would draw from torch's global random state).
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from medsyn._deps import require
from medsyn.data.conditions import Conditions
from medsyn.errors import InputError, Problem
from medsyn.synth.tabular._base import TabularGenerator
from medsyn.synth.tabular._plan import ModelColumn
from medsyn.synth.tabular._transform import ModeTransformer, Span

if TYPE_CHECKING:
    import torch

__all__ = ["DeepTabularGenerator", "SpanLayout", "dropout", "linear", "load_torch"]

#: rows generated per network call while sampling (bounds memory at any ``n``)
SAMPLE_CHUNK = 65_536


def load_torch() -> ModuleType:
    """torch, or a :class:`~medsyn.errors.MissingDependencyError` naming the extra that installs it."""
    return require("torch", "synth", "the deep tabular generators (tvae, ctgan)")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is checked, with a clear error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(Problem("device", repr(device), '"auto", "cpu", "cuda" or "cuda:N"')) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(Problem("device", repr(device), "an available device", fix='pass device="auto" or "cpu"'))
    if dev.type not in ("cpu", "cuda"):
        raise InputError(Problem("device", repr(device), '"auto", "cpu", "cuda" or "cuda:N"'))
    return dev


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` (at most the cores this process may use), then restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(int(threads), _cores())))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def torch_generator(rng: np.random.Generator, device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` seeded from ``rng`` (the only source of randomness)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(2**63 - 1)))
    return gen


def linear(n_in: int, n_out: int, gen: torch.Generator, device: torch.device) -> torch.nn.Linear:
    """``nn.Linear`` with torch's default initialisation (U(±1/√n_in)), drawn from ``gen``."""
    import torch

    layer: torch.nn.Linear = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out, device=device)  # type: ignore[no-untyped-call]
    bound = 1.0 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)
    return layer


def dropout(x: torch.Tensor, p: float, gen: torch.Generator, training: bool) -> torch.Tensor:
    """Inverted dropout with masks from ``gen``."""
    if not training or p <= 0:
        return x
    import torch

    keep = torch.rand(x.shape, generator=gen, device=x.device) >= p
    return x * keep / (1.0 - p)


def gumbel(shape: Sequence[int], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard Gumbel noise −log(−log U) from ``gen`` (``rand`` is several times faster than ``exponential_``)."""
    import torch

    u = torch.rand(shape, generator=gen, device=device).clamp_(1e-20, 1.0)
    return -(-u.log()).log()


class SpanLayout:
    """Vectorised activations and losses over the spans of a :class:`ModeTransformer` matrix.

    Every one-hot column carries the number of its span, so a softmax, Gumbel-softmax or
    cross-entropy over all spans at once is a handful of segment operations (``index_add``,
    ``scatter_reduce``) on the one-hot columns — linear in the matrix width, with no Python loop
    over columns and no padding to the widest span.
    """

    def __init__(self, spans: Sequence[Span], width: int, device: torch.device) -> None:
        import torch

        onehots = [s for s in spans if s.kind == "onehot"]
        self.width = width
        self.n_spans = len(onehots)
        self.scalar = torch.tensor([s.start for s in spans if s.kind == "scalar"], dtype=torch.long, device=device)
        cols = [c for s in onehots for c in range(s.start, s.stop)]
        self.onehot = torch.tensor(cols, dtype=torch.long, device=device)
        self.segment = torch.tensor([i for i, s in enumerate(onehots) for _ in range(s.width)], dtype=torch.long)
        self.segment = self.segment.to(device)
        starts = np.cumsum([0] + [s.width for s in onehots])[:-1]
        self.starts = torch.tensor(starts, dtype=torch.long, device=device)  # span → its first one-hot position
        order = torch.cat([self.scalar, self.onehot])
        self.inverse = torch.argsort(order)  # columns of cat([scalars, one-hots]) back to matrix order

    def _segment_sum(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros((x.shape[0], self.n_spans)).index_add(1, self.segment, x)

    def _normalise(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per span: softmax of ``logits`` (one-hot columns) and its log normaliser ``(rows, spans)``."""
        seg = self.segment.expand(logits.shape[0], -1)
        top = logits.new_full((logits.shape[0], self.n_spans), -math.inf)
        top = top.scatter_reduce(1, seg, logits.detach(), reduce="amax", include_self=True)
        shifted = (logits - top[:, self.segment]).exp()
        total = self._segment_sum(shifted)
        return shifted / total[:, self.segment], total.log() + top

    def activate(self, raw: torch.Tensor, gen: torch.Generator | None = None, tau: float = 0.2) -> torch.Tensor:
        """``tanh`` on scalars; softmax on one-hot spans (Gumbel-softmax at temperature ``tau`` with ``gen``)."""
        import torch

        logits = raw[:, self.onehot]
        if gen is not None:
            logits = (logits + gumbel(logits.shape, gen, raw.device)) / tau
        probs, _ = self._normalise(logits)
        return torch.cat([torch.tanh(raw[:, self.scalar]), probs], dim=1)[:, self.inverse]

    def draw(self, raw: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """For sampling: ``tanh`` on scalars, logits + Gumbel noise on one-hot spans.

        The argmax of each span (taken when decoding) is then a draw from the span's softmax (the
        Gumbel-max trick), and so also the argmax of a Gumbel-softmax at any temperature — without
        computing the softmax.
        """
        import torch

        out = raw.clone()
        out[:, self.scalar] = torch.tanh(raw[:, self.scalar])
        out[:, self.onehot] += gumbel((raw.shape[0], self.onehot.shape[0]), gen, raw.device)
        return out

    def hot(self, data: torch.Tensor) -> torch.Tensor:
        """Where each one-hot span of a transformed matrix is hot: ``(rows, spans)`` positions among the one-hots."""
        import torch

        positions = torch.arange(self.onehot.shape[0], dtype=data.dtype, device=data.device)
        return self._segment_sum(data[:, self.onehot] * positions).round().long()

    def cross_entropy(self, raw: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
        """Per row and span, −log softmax(raw span)[hot] (``hot`` as from :meth:`hot`): ``(rows, spans)``."""
        logits = raw[:, self.onehot]
        _, log_norm = self._normalise(logits)
        return log_norm - logits.gather(1, hot)

    def cross_entropy_at(self, raw: torch.Tensor, span: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Per row, −log softmax(raw span ``span[row]``)[``position[row]``] (a position among the one-hots)."""
        import torch

        logits = raw[:, self.onehot]
        _, log_norm = self._normalise(logits)
        rows = torch.arange(raw.shape[0], device=raw.device)
        return log_norm[rows, span] - logits[rows, position]


def module_arrays(module: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    """A module's ``state_dict`` as named numpy arrays (for the safetensors file)."""
    return {f"{prefix}{k}": v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_module_arrays(module: torch.nn.Module, arrays: Mapping[str, np.ndarray], prefix: str) -> None:
    """Load what :func:`module_arrays` wrote; ``ValueError`` when names or shapes do not match."""
    import torch

    state = {k[len(prefix) :]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"network weights do not fit the architecture: {exc}") from None


# -- the shared generator -----------------------------------------------------------------------
def _positive_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and int(v) >= 1


def _number(v: object) -> float | None:
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v)):
        return float(v)
    return None


def _positive(v: object) -> bool:
    x = _number(v)
    return x is not None and x > 0


def _non_negative(v: object) -> bool:
    x = _number(v)
    return x is not None and x >= 0


def _layers(v: object) -> bool:
    return isinstance(v, (list, tuple)) and all(_positive_int(x) for x in v)


def _device(v: object) -> bool:
    return isinstance(v, str)


Check = tuple[Callable[[object], bool], str]
POSITIVE_INT: Check = (_positive_int, "a whole number >= 1")
POSITIVE: Check = (_positive, "a number > 0")
NON_NEGATIVE: Check = (_non_negative, "a number >= 0")
LAYERS: Check = (_layers, "a list of layer widths, each >= 1 (may be empty)")
DEVICE: Check = (_device, '"auto", "cpu", "cuda" or "cuda:N"')


class DeepTabularGenerator(TabularGenerator):
    """Fit/sample plumbing of the torch generators; subclasses build, train and run the networks.

    Subclasses declare ``_checks`` (parameter → constraint) and implement :meth:`_build`,
    :meth:`_train`, :meth:`_generate` and :meth:`_nets`. Parameters every subclass has:
    ``epochs``, ``batch_size``, ``max_modes``, ``device`` and ``threads``.
    """

    _checks: ClassVar[dict[str, Check]] = {
        "epochs": POSITIVE_INT,
        "batch_size": POSITIVE_INT,
        "max_modes": POSITIVE_INT,
        "device": DEVICE,
        "threads": POSITIVE_INT,
    }
    epochs: int
    batch_size: int
    max_modes: int
    device: str
    threads: int

    # -- hooks for subclasses ---------------------------------------------------------------
    @abstractmethod
    def _build(self, gen: torch.Generator) -> None:
        """Create the networks on ``self.device_`` (weights drawn from ``gen``)."""

    @abstractmethod
    def _train(self, data: torch.Tensor, gen: torch.Generator, advance: Callable[[int], None]) -> np.ndarray:
        """Train on the transformed matrix; return the per-epoch losses ``(epochs, k)``."""

    @abstractmethod
    def _generate(self, n: int, gen: torch.Generator, conditions: Conditions, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` model-table rows (networks in eval mode, gradients off)."""

    @abstractmethod
    def _nets(self) -> dict[str, torch.nn.Module]:
        """The networks to save (by name); those needed for sampling at least."""

    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Further learned state beyond the networks (override when there is some)."""
        return {}, {}

    def _load_extra_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`_extra_state` (called after the transformer is restored, before :meth:`_build`)."""

    # -- fit / sample -----------------------------------------------------------------------
    def _check_params(self) -> None:
        problems = [
            Problem(f"{self.name} parameter '{name}'", repr(getattr(self, name)), expected)
            for name, (ok, expected) in self._checks.items()
            if not ok(getattr(self, name))
        ]
        if problems:
            raise InputError(problems)

    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        self._check_params()
        load_torch()
        import torch

        self.device_ = resolve_device(self.device)
        self.transformer_ = ModeTransformer(max_modes=int(self.max_modes)).fit(table, columns, rng)
        matrix = self.transformer_.transform(table, rng)
        with cpu_threads(self.threads):
            gen = torch_generator(rng, self.device_)
            self.layout_ = SpanLayout(self.transformer_.spans, self.transformer_.width, self.device_)
            self._build(gen)
            data = torch.from_numpy(matrix).to(self.device_)
            with self._progress(self._show_progress, int(self.epochs), f"{self.name}: training") as advance:
                self.history_ = self._train(data, gen, advance)
        for net in self._nets().values():
            net.eval()

    def _sample(self, n: int, rng: np.random.Generator, conditions: Conditions) -> pd.DataFrame:
        import torch

        parts: list[pd.DataFrame] = []
        with cpu_threads(self.threads), torch.no_grad():
            gen = torch_generator(rng, self.device_)
            for start in range(0, max(n, 1), SAMPLE_CHUNK):
                parts.append(self._generate(min(SAMPLE_CHUNK, n - start), gen, conditions, rng))
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    # -- state ------------------------------------------------------------------------------
    def _model_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        t_state, t_arrays = self.transformer_.to_state()
        extra, extra_arrays = self._extra_state()
        arrays = {f"transformer/{k}": v for k, v in t_arrays.items()} | extra_arrays
        arrays["history"] = np.asarray(self.history_, dtype=np.float64)
        for name, net in self._nets().items():
            arrays |= module_arrays(net, f"net/{name}/")
        return {"transformer": t_state, "nets": sorted(self._nets()), **extra}, arrays

    def _load_model_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self._check_params()
        load_torch()
        t_arrays = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("transformer/")}
        self.transformer_ = ModeTransformer.from_state(state["transformer"], t_arrays, self.columns_)
        self.history_ = np.asarray(arrays["history"], dtype=np.float64)
        self._load_extra_state(state, arrays)
        self.device_ = resolve_device(self.device)
        with cpu_threads(self.threads):
            gen = torch_generator(np.random.default_rng(0), self.device_)  # weights are overwritten below
            self.layout_ = SpanLayout(self.transformer_.spans, self.transformer_.width, self.device_)
            self._build(gen)
            nets = self._nets()
            if sorted(nets) != list(state["nets"]):
                raise ValueError(f"saved networks {state['nets']} do not match {sorted(nets)}")
            for name, net in nets.items():
                load_module_arrays(net, arrays, f"net/{name}/")
                net.to(self.device_)
                net.eval()
