"""`ModelView`: every supported model style seen through one interface.

A view works on a *private copy* of the user's object whenever one can be made: its parameters are
bound to float64 working arrays that the numeric engine perturbs in place. Calls into user code are
counted and wrapped so that a failure names the call instead of surfacing from deep inside numpy.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import GradcheckError, ModelCallError, ModelInterfaceError
from ..numeric.finite import all_finite
from ..numeric.fitting import fit_scale, near
from .batch import Batch
from .copies import deep_copy, kept_or_copied
from .discovery import find_arrays
from .naming import is_recurrent, order_layers
from .naming import layer_map as names_to_layers
from .notes import Notes
from .shape_hint import input_width_hint
from .slots import Slot
from .steps import declared_batch_size, declared_passes, says_one_example

__all__ = ["INFERENCE_LR", "Capabilities", "ModelView", "as_loss_value", "gradient_key", "match_gradients"]

#: Step used to read a gradient off one in-place update. Small enough that a per-example loop inside
#: ``train`` stays first-order accurate, large enough that ``before - after`` keeps ~10 significant digits.
INFERENCE_LR = 1e-4
#: Relative mismatch between one whole step and the sum of single-example steps above which the step
#: may loop over the examples (rounding in ``(before - after) / lr`` stays orders of magnitude below).
LOOP_DRIFT = 1e-7
#: Calls of each kind on which the kit looks whether the model draws from numpy's global generator.
DRAW_WATCH = 2
#: Examples a step is tried on to tell whether it loops over them.
LOOP_PROBE = 8


def as_loss_value(value: Any, call: str | Callable[[], str]) -> float:
    """The loss as a Python float, or a `ModelInterfaceError` saying what came back instead (``call``
    names the call; a function building that name is called only for the message)."""
    if type(value) is float or type(value) is np.float64:  # the common case, once per loss evaluation
        return float(value)
    if callable(call):
        call = call()
    if isinstance(value, (bool, np.bool_)):
        raise ModelInterfaceError(f"{call} returned a bool; expected a single number (the batch loss)")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelInterfaceError(
            f"{call} returned a {type(value).__name__}; expected a single number (the batch loss)"
        ) from None
    if array.size != 1:
        raise ModelInterfaceError(
            f"{call} returned an array of shape {array.shape}; expected a single number (the batch loss)"
        )
    return float(array.reshape(()))


def gradient_key(names: set[str], key: str) -> str | None:
    """Map gradient keys such as ``"dW1"``, ``"W1_grad"`` or ``"grad_W1"`` to parameter ``"W1"``."""
    if key in names:
        return key
    for candidate in (key[1:] if key.startswith("d") else None,
                      key[: -len("_grad")] if key.endswith("_grad") else None,
                      key[len("grad_"):] if key.startswith("grad_") else None):
        if candidate and candidate in names:
            return candidate
    return None


def _flatten_grads(grads: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in grads.items():
        if isinstance(value, Mapping):
            flat.update(_flatten_grads(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _plain_gradients(grads: Any, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray] | None:
    """The common case, checked cheaply: a dict keyed by the parameter names, float arrays of their shapes
    (``None`` for anything else)."""
    if type(grads) is not dict or grads.keys() != shapes.keys():
        return None
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        value = grads[name]
        if type(value) is not np.ndarray or value.dtype.kind != "f" or value.shape != tuple(shape):
            return None
        out[name] = np.asarray(value, dtype=np.float64)
    return out


def match_gradients(grads: Any, shapes: Mapping[str, tuple[int, ...]], call: str) -> dict[str, np.ndarray]:
    """Validate a user gradient mapping against the parameters and return float64 arrays by name: the
    model's own where it returned float64 ones (no copy: `ModelView.gradients` decides what to copy)."""
    plain = _plain_gradients(grads, shapes)
    if plain is not None:
        return plain
    if not isinstance(grads, Mapping):
        raise ModelInterfaceError(
            f"{call} returned a {type(grads).__name__}; expected a dict mapping each parameter name "
            f"({', '.join(shapes)}) to its gradient"
        )
    flat = _flatten_grads(grads)
    names = set(shapes)
    matched: dict[str, Any] = {}
    extra = []
    for key, value in flat.items():
        target = gradient_key(names, str(key))
        if target is None or target in matched:
            extra.append(str(key))
        else:
            matched[target] = value
    missing = [n for n in shapes if n not in matched]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise ModelInterfaceError(
            f"{call} returned gradient keys {sorted(map(str, flat))}: {'; '.join(parts)}; expected one "
            f"gradient per parameter: {list(shapes)}"
        )
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        value = matched[name]
        kind = np.asarray(value).dtype.kind if not isinstance(value, (list, tuple)) else "f"
        if kind in "cOSUV":
            raise ModelInterfaceError(
                f"{call} returned {name!r} with dtype {np.asarray(value).dtype}; expected a real float array of shape "
                f"{shape}"
            )
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelInterfaceError(
                f"{call} returned a {type(value).__name__} for {name!r}; expected a numeric array of shape {shape}"
            ) from None
        if array.shape != tuple(shape):
            raise ModelInterfaceError(
                f"{call} returned {name!r} with shape {array.shape}; expected {tuple(shape)}, the shape of the "
                "parameter"
            )
        out[name] = array
    return out


@dataclass(frozen=True)
class Capabilities:
    """What a view offers, declared by the view; checks are chosen by these, never by a model's name.

    Attributes
    ----------
    kind
        ``"network"`` (a trainable model with a batch loss) or ``"function"`` (one custom function,
        e.g. a torch ``autograd.Function``, checked through ``<g, f(inputs)>``).
    predict, train
        It returns outputs ``(B, K)`` for ``X``; it has its own in-place training step.
    layered
        Layers with their own backward, each also checked in isolation.
    separate_backward
        The gradient comes from a call separate from the loss (``backward(X, y)``), which may reuse
        state from the last forward.
    kit_loss
        The model has no loss of its own; the kit's cross-entropy of its outputs stands in.
    chain
        Its tensors form a chain from the input to the loss, so a wrong delta propagates towards the
        input (False for independent inputs of one function, and for recurrent layers).
    own_gradient
        The gradient comes from the model's own gradient code, not read off its training step (so the
        step itself can be checked against it).
    """

    kind: Literal["network", "function"] = "network"
    predict: bool = False
    train: bool = False
    layered: bool = False
    separate_backward: bool = False
    kit_loss: bool = False
    chain: bool = True
    own_gradient: bool = True

    def provides(self, need: str) -> bool:
        """Whether the view offers ``need`` (``"network"``, ``"predict"``, ``"train"``, ``"layered"`` ...)."""
        if need in ("network", "function"):
            return self.kind == need
        return bool(getattr(self, need))


class ModelView:
    """Uniform access to a model's parameters, loss, gradient, predictions and training step.

    Subclasses implement ``_loss``, ``_gradients`` and optionally ``_predict`` and ``_train``; this
    class binds working arrays, counts calls and wraps failures.

    Attributes
    ----------
    style
        Human-readable name of the interface found (``"forward/backward object"``, ...).
    params
        Working float64 arrays by parameter name, in forward order; perturbing them changes the model.
    notes
        Facts about how the model was read that the report should state.
    """

    style = "model"
    kind: Literal["network", "function"] = "network"
    chain = True
    layered = False
    separate_backward = False
    kit_loss: Any = None
    own_gradient = True

    def __init__(self, target: Any, slots: Sequence[Slot], *, private: bool, label: str) -> None:
        self.target = target
        self.private = private
        self.label = label
        self.notes = Notes()
        self.train_method: str | None = None
        #: Parameter → layer when the model says so (``wrap(layers=...)``); else by name (`naming`).
        self.layer_map: dict[str, str] | None = getattr(self, "layer_map", None)
        #: Set when the training step loops over the examples: what the sum of single-example steps is
        #: divided by to give the gradient of the batch loss (B when the loss is a mean, 1 when a sum).
        self.step_per_example: float | None = None
        self._step_fits: list[tuple[float, float]] | None = None  # `_step_probe`
        self._optimizer_state: list[str] | None = None
        #: numpy's global generator state every call starts from, once pinned (`pin_global_random`).
        self._random_state: Any = None
        #: The model's code draws from numpy's global generator (seen on one of its first calls).
        self.draws_global_random = False
        #: numpy's floating-point error handling as the caller set it (the kit's own code runs with its own).
        self.user_errstate: dict[str, Any] = dict(np.geterr())
        self._last_batch: Batch | None = None
        #: Set when a probe saw the model write into X or y: every call then gets fresh copies.
        self.copy_inputs = False
        #: Set when a probe saw a loss or forward call change the weights: they are put back after each call.
        self.protect_params = False
        #: Set when a probe saw a call re-bind a weight to a new array of the same values (``self.W =
        #: self.W.copy()``): the working arrays are bound again after each call, or the kit's moves would not
        #: reach the model's next call.
        self.rebind_params = False
        self.calls: Counter[str] = Counter()
        self._slots: dict[str, Slot] = {}
        self._originals: dict[str, Any] = {}
        self.params: dict[str, np.ndarray] = {}
        #: Read-only arrays holding, bitwise, what the user's array a parameter's working array was copied
        #: from held when the guard saved it (the guard's copies, lent by `adapt`): a baseline that costs no
        #: copy, read once by the measurement. Usually the working array's values too, but not necessarily
        #: (a deepcopy hook, a trial call): check that it still holds exactly them before using one.
        self.start_values: dict[str, np.ndarray] = {}
        self.source_dtypes: dict[str, np.dtype] = {}
        for slot in slots:
            self._bind(slot)

    # -- parameters -----------------------------------------------------------------------------
    def _bind(self, slot: Slot) -> None:
        original = slot.read()
        if isinstance(original, np.matrix):
            raise ModelInterfaceError(f"parameter {slot.name!r} is a numpy.matrix: its * and ** are matrix products, "
                                      f"so the kit's arithmetic on it would be wrong; keep parameters as ndarray "
                                      f"(np.asarray(m))")
        self._slots[slot.name] = slot
        self._originals[slot.name] = original
        self.source_dtypes[slot.name] = original.dtype
        if self.private and original.dtype == np.float64 and original.flags.writeable:
            # A private float64 copy is perturbed in place: aliases inside the copy stay consistent.
            self.params[slot.name] = original
            return
        work = np.array(original, dtype=np.float64)
        slot.write(work)
        if slot.read() is work:
            self.params[slot.name] = work
            return
        # The container is rebuilt on every access (e.g. ``params()`` returning a new dict): perturb the
        # model's own array in place; on a live model the guard restores it afterwards.
        slot.write(original)
        self.params[slot.name] = original
        if original.dtype != np.float64:
            self.notes.add(
                f"{slot.name} is {original.dtype} and could not be swapped for a float64 copy; it is checked "
                f"in {original.dtype} with a looser tolerance"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.params)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: array.shape for name, array in self.params.items()}

    def layers_of(self) -> dict[str, str]:
        """The layer of every parameter."""
        return dict(self.layer_map) if self.layer_map else names_to_layers(self.names)

    def layer_order(self) -> tuple[str, ...]:
        """Layers from the input to the output."""
        if self.layer_map:
            return tuple(dict.fromkeys(self.layer_map[n] for n in self.names))
        return tuple(order_layers(self.names))

    @property
    def capabilities(self) -> Capabilities:
        chain = self.chain and not (self.layer_map is None and is_recurrent(self.names))
        return Capabilities(kind=self.kind, predict=self.can_predict, train=self.can_train, layered=self.layered,
                            separate_backward=self.separate_backward, kit_loss=self.kit_loss is not None,
                            chain=chain, own_gradient=self.own_gradient)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the current working values."""
        return {name: array.copy() for name, array in self.params.items()}

    def load(self, values: Mapping[str, np.ndarray]) -> None:
        """Write ``values`` into the working arrays (re-binding any slot user code re-assigned)."""
        self.rebind()
        for name, array in self.params.items():
            np.copyto(array, values[name], casting="unsafe")

    def rebind(self) -> None:
        """Bind every working array to its slot again where user code re-assigned the slot."""
        for name, array in self.params.items():
            slot = self._slots[name]
            if slot.read() is not array:
                slot.write(array)

    def current(self) -> dict[str, np.ndarray]:
        """Values now in the model's slots (user code may have re-assigned them), as float64 copies."""
        out = {}
        for name, array in self.params.items():
            value = self._slots[name].read()
            if value is None:
                raise ModelInterfaceError(f"parameter {name!r} disappeared from the model during a call")
            value = np.asarray(value)
            if value.shape != array.shape:
                raise ModelInterfaceError(
                    f"parameter {name!r} changed shape from {array.shape} to {value.shape} during a call"
                )
            out[name] = np.array(value, dtype=np.float64)
        return out

    def slots_hold_params(self) -> bool:
        """Whether every parameter's slot still holds its working array (user code re-assigned none)."""
        return all(self._slots[name].read() is array for name, array in self.params.items())

    def current_one(self, name: str) -> np.ndarray:
        """One parameter's value now in its slot (see `current`)."""
        value = self._slots[name].read()
        if value is None:
            raise ModelInterfaceError(f"parameter {name!r} disappeared from the model during a call")
        return np.asarray(value)

    def settle(self) -> None:
        """Reading the model is done (no slot will be unbound any more): a private copy's own arrays that
        float64 working copies replaced (float32 ones) are not kept besides them — no second full copy. Until
        then they are kept: unbinding a slot puts the very object back, which aliases elsewhere in the model
        (a layer's ``grads`` dict holding its ``dW``) still point at."""
        if self.private:
            for name, array in self.params.items():
                if self._originals.get(name) is not array:
                    self._originals[name] = None

    def unbind(self, name: str) -> None:
        """Stop treating ``name`` as a parameter (a cache or a stored gradient): its original is put back."""
        slot = self._slots.pop(name)
        original = self._originals.pop(name)
        if original is None:  # dropped by `settle`: the working values, back in the dtype the model had
            original = self.params[name].astype(self.source_dtypes[name])
        if slot.read() is not original:
            with contextlib.suppress(Exception):
                slot.write(original)
        self.params.pop(name, None)
        self.source_dtypes.pop(name, None)

    def release(self) -> None:
        """Put the original objects back in their slots (matters only for a live, non-copied model)."""
        if self.private:
            return
        for name, slot in self._slots.items():
            with contextlib.suppress(Exception):  # the guard restores contents and bindings regardless
                slot.write(self._originals[name])

    # -- calls into user code ---------------------------------------------------------------------
    def pin_global_random(self) -> bool:
        """A forward that draws from numpy's global generator (dropout masks with ``np.random.rand``) gives a
        different loss on every call. From now on every call into the model starts from one saved state of
        that generator, so it draws the same numbers each time; kept only if the loss then repeats. The
        caller's generator state is put back by the guard after the run."""
        batch = self._last_batch
        if batch is None:
            return False
        self._random_state = np.random.get_state()
        first, second = self.loss(batch), self.loss(batch)
        if first == second:
            self.draws_global_random = True  # the kit sets the generator's state now: the guard puts it back
            self.notes.add("the forward pass draws from numpy's global random generator (dropout, noise): every "
                           "call starts from the same generator state, so each draws the same numbers and the "
                           "gradient is checked for those")
            return True
        self._random_state = None
        return False

    def _call(self, what: str, func: Callable[..., Any], *args: Any) -> Any:
        self.calls[what] += 1
        if self._random_state is not None:
            np.random.set_state(self._random_state)
        # whether the model draws from numpy's global generator: looked at on the first calls of each kind
        # only; the guard puts the state back only for a model that draws
        watch = not self.draws_global_random and self.calls[what] <= DRAW_WATCH
        try:
            with np.errstate(**self.user_errstate):  # the model's code computes as the caller set numpy up
                if not watch:
                    return func(*args)
                before = _generator_state_if_alone()
                try:
                    return func(*args)
                finally:
                    self.draws_global_random = _drew_since(before)
        except (KeyboardInterrupt, SystemExit, GradcheckError):
            raise  # the kit's own errors already say what is wrong
        except Exception as exc:
            raise self._call_error(what, exc) from exc

    def _call_error(self, what: str, exc: Exception) -> ModelCallError:
        """The kit's error for the model's own ``exc`` in the latest call of ``what`` (already counted)."""
        hint = ""
        if "read-only" in str(exc):
            hint = " (the kit passes X read-only: the model writes into its input array)"
        width = input_width_hint(exc, self._last_batch, self.params.items()) if self.calls[what] == 1 else ""
        return ModelCallError(
            f"{width}{self.label}.{what}(...) raised {type(exc).__name__}: {exc}{hint} "
            f"[call {self.calls[what]} of {what}]"
        )

    def _loss_parts(self, batch: Batch) -> tuple[str, Callable[[], Any], Callable[[Any], float]] | None:
        """For `loss_loop`: the name of the call behind the loss, that call with its arguments bound, and
        what turns its result into the loss — when one plain call gives the loss; ``None`` otherwise."""
        return None

    def _gradient_parts(self, batches: Sequence[Batch]
                        ) -> tuple[str, list[Callable[[], Any]], Callable[[Any], dict[str, np.ndarray]]] | None:
        """For `gradient_loop`: as `_loss_parts`, for the analytic gradient on each of ``batches`` (one call
        bound per batch; one function, shared by all, turns a call's result into the gradient, reading the
        model's arrays without copying them, as ``gradients(batch, copy=False)``)."""
        return None

    def _guarded(self, call: Callable[..., Any], batch: Batch, *rest: Any) -> Any:
        if self.copy_inputs:
            batch = batch.with_arrays(np.array(batch.X), np.array(batch.y))
        if not self.protect_params:
            if not self.rebind_params:
                return call(batch, *rest)
            try:
                return call(batch, *rest)
            finally:
                self.rebind()
        before = self.snapshot()
        try:
            return call(batch, *rest)
        finally:
            self.load(before)

    def loss(self, batch: Batch) -> float:
        """The batch loss at the current working parameters."""
        self._last_batch = batch
        return self._guarded(self._loss, batch)

    def gradients(self, batch: Batch, *, copy: bool = True) -> dict[str, np.ndarray]:
        """The model's own (analytic) gradient at the current working parameters: float64 arrays no later
        call of the model can write into (`kept_or_copied`). ``copy=False``: possibly the model's own arrays —
        use them at once and never write into them; a training replay step saves a parameter-sized copy that
        way — and no note on non-finite entries: such calls are made at weights the kit moved, not at the
        model's."""
        if not copy:  # read at once at weights the kit moved (a replay, a curvature product): no report notes
            return self._guarded(self._gradients, batch)
        # the model's own arrays where nothing of the model's holds them any more, else copies
        grads = kept_or_copied(list(self._guarded(self._gradients, batch).items()))
        for name, g in grads.items():
            if not all_finite((g,)):
                bad = int((~np.isfinite(g)).sum())
                self.notes.add(f"the analytic gradient of {name} has {bad} non-finite entr{'y' if bad == 1 else 'ies'}",
                               key=f"non-finite gradient {name}")
        return grads

    def focus(self, name: str | None, batch: Batch | None = None) -> None:
        """Hint that only parameter ``name`` will move in the next loss calls (``None``: any may).
        Views that can reuse work between such calls (layered models) override this."""

    @property
    def can_predict(self) -> bool:
        return False

    @property
    def can_train(self) -> bool:
        """Whether the model has its own in-place training step."""
        return self.train_method is not None

    def predict(self, batch: Batch) -> np.ndarray:
        """Model outputs as (B, K) rows, whatever the model's layout: probabilities or scores."""
        out = self._guarded(self._predict, batch)
        try:
            array = np.array(out, dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelInterfaceError(
                f"{self.label}'s prediction returned a {type(out).__name__}; expected a numeric array (B, K)"
            ) from None
        B = batch.size
        if batch.layout == "columns" and array.ndim == 2 and array.shape[-1] == B:
            array = array.T
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim > 2 and array.shape[0] == B:
            array = array.reshape(B, -1)
        if array.ndim != 2 or array.shape[0] != B:
            raise ModelInterfaceError(
                f"{self.label}'s prediction returned shape {array.shape}; expected ({B}, K), one row per example"
            )
        return array

    def freeze_state(self) -> None:
        """Remember the object's state besides its parameters (optimizer buffers, step counters...), so
        every gradient read off a training step starts from it, not from the previous step's state."""
        keep = self._keep()
        try:
            self._pristine: dict[str, Any] | None = deep_copy(vars(self.target), dict(keep))
        except Exception:  # no __dict__, or uncopyable state: steps then see whatever state is there
            self._pristine = None

    def _keep(self) -> dict[int, Any]:
        keep: dict[int, Any] = {id(a): a for a in self.params.values()}
        for slot in self._slots.values():
            mapping = getattr(slot, "mapping", None)
            if mapping is not None:
                keep[id(mapping)] = mapping
        return keep

    def _restore_state(self) -> None:
        pristine = getattr(self, "_pristine", None)
        if pristine is None:
            return
        state = vars(self.target)
        state.clear()
        state.update(deep_copy(pristine, self._keep()))

    def _step_gradient(self, batch: Batch, lr: float) -> dict[str, np.ndarray]:
        """One step from the frozen state (`freeze_state`), read as a gradient; weights and state put back,
        so a replay after this probe starts with no momentum of the probe's."""
        before = self.snapshot()
        self._restore_state()
        try:
            self._train(batch, lr)
            after = self.current()
        finally:
            self.load(before)
            self._restore_state()
        return {name: (before[name] - after[name]) / lr for name in before}

    def optimizer_state(self, batch: Batch) -> list[str]:
        """Float arrays the training step changes that are neither parameters nor caches a loss or
        gradient computation rewrites — momentum velocities, Adam moments. With them, a step is not
        −lr × the gradient, and no gradient is read off it. Found once, on the private copy."""
        if self._optimizer_state is None:
            self._optimizer_state = self._find_optimizer_state(batch)
        return self._optimizer_state

    def _others(self) -> dict[str, np.ndarray]:
        mine = {id(a) for a in self.params.values()} | {id(self._slots[n].read()) for n in self.params}
        return {slot.name: np.array(value, copy=True) for slot in find_arrays(self.target)
                if id(value := slot.read()) not in mine}

    def _find_optimizer_state(self, batch: Batch) -> list[str]:
        if not self.can_train or not hasattr(self.target, "__dict__"):
            return []
        before = self.snapshot()
        self._restore_state()
        try:
            start = self._others()
            self.loss(batch)
            if self.own_gradient:
                self.gradients(batch)
            computed = _changed(start, self._others())
            self._restore_state()
            start = self._others()
            self._train(batch, INFERENCE_LR)
            stepped = _changed(start, self._others())
        except GradcheckError:
            return []
        finally:
            self.load(before)
            self._restore_state()
        leaves = {n.rsplit(".", 1)[-1].split("[")[0] for n in self.params}
        return [name for name in stepped if name not in computed  # nor stored gradients (grad_kernel, dW)
                and not _names_a_gradient(leaves, name.rsplit(".", 1)[-1].split("[")[0])]

    def require_plain_step(self, batch: Batch) -> None:
        """Raise when the gradient would be read off a step that keeps optimizer state."""
        state = self.optimizer_state(batch)
        if state:
            raise ModelInterfaceError(
                f"{self.label} has no gradient method, and its training step {self.step_description()} also updates "
                f"{', '.join(state[:6])}{' ...' if len(state) > 6 else ''} — optimizer state (momentum, Adam "
                f"moments), so its move is not −lr × the gradient and no gradient can be read off it. Give the model "
                f"a gradient method (backward(X, y) returning the gradients), or pass its gradient function through "
                f"gradcheck_kit.wrap(params, loss=..., grads=...)")

    def inferred_gradients(self, batch: Batch, lr: float) -> dict[str, np.ndarray]:
        """Gradient read off the model's own training step as ``(before - after) / lr``; weights put back.

        Every step starts from the state frozen by `freeze_state`, so momentum buffers or step counters
        left by earlier steps do not leak into the gradient. When the step loops over the examples (each
        sees the weights the previous ones moved, `step_per_example`), it is read off one step per
        example from the same weights and scaled as the loss scales them, so it does not drift with lr
        or with the batch size."""
        if batch.size == 1 or not self.step_loops(batch):
            return self._step_gradient(batch, lr)
        if self.step_per_example is None:
            self.step_per_example = self._loss_reduction(batch.take(slice(0, LOOP_PROBE)))  # 1 or > 1: scaled below
            self.notes.add(
                f"{self.step_description()} loops over the examples (each one moves the weights for the next): the "
                "gradient is read off one step per example, all from the same weights"
            )
        singles = [self._step_gradient(batch.take(slice(i, i + 1)), lr) for i in range(batch.size)]
        scale = float(batch.size) if (self.step_per_example or 1.0) > 1 else 1.0
        return {name: np.sum([g[name] for g in singles], axis=0) / scale for name in self.params}

    def step_loops(self, batch: Batch) -> bool:
        """Whether the training step loops over the examples, each moving the weights for the next (decided
        once, on the first examples of ``batch``; False for a model without a step of its own).

        Evidence, at the small `INFERENCE_LR`: the whole step matches a multiple of the sum of
        single-example steps (taken from the same weights) only up to a drift that shrinks in proportion
        when lr does. A step that computes one gradient at fixed weights matches to rounding at any lr."""
        (_, drift), (_, smaller) = self._step_probe(batch)
        return math.isfinite(drift) and drift > LOOP_DRIFT and smaller < drift / 4

    def step_is_one_update(self, batch: Batch) -> bool:
        """Whether the training step moves the weights once along the examples' summed gradient: at both
        rates of `step_loops`'s probe it matches the sum of single-example steps to `LOOP_DRIFT`, by the
        same factor (a rate that did not reach the update changes the factor). Not so for a step that
        loops, keeps momentum, picks examples at random — nor where the probe could not tell."""
        (scale, drift), (scale_smaller, smaller) = self._step_probe(batch)
        return (all(math.isfinite(d) and d <= LOOP_DRIFT for d in (drift, smaller))
                and near(scale, scale_smaller))

    def _step_probe(self, batch: Batch) -> list[tuple[float, float]]:
        """The factor and residual (`fit_scale`) of the whole step fitted to the sum of single-example steps,
        at `INFERENCE_LR` and an eighth of it, on the first `LOOP_PROBE` examples (once per view)."""
        if self._step_fits is None:
            fits = [(math.nan, math.inf)] * 2
            batch = batch.take(slice(0, LOOP_PROBE))  # a property of the code: a few examples tell
            if self.can_train and batch.size >= 2:
                singles = [self._step_gradient(batch.take(slice(i, i + 1)), INFERENCE_LR) for i in range(batch.size)]
                total = _flat({name: np.sum([g[name] for g in singles], axis=0) for name in self.params})
                fits = [fit_scale(_flat(self._step_gradient(batch, lr)), total)
                        for lr in (INFERENCE_LR, INFERENCE_LR / 8)]
            self._step_fits = fits
        return self._step_fits

    def _loss_reduction(self, batch: Batch) -> float:
        """What the batch loss divides the sum of single-example losses by: B for a mean, 1 for a sum."""
        whole = self.loss(batch)
        total = sum(self.loss(batch.take(slice(i, i + 1))) for i in range(batch.size))
        if near(whole, total) and not near(whole, total / batch.size):
            return 1.0
        if not near(whole, total / batch.size):
            self.notes.add(
                "the batch loss is neither the mean nor the sum of the examples' losses; the per-example steps "
                "are averaged"
            )
        return float(batch.size)

    def declared_batch_size(self) -> tuple[str, int | None] | None:
        """The mini-batch size the model says it trains with, and where it says so (`steps.declared_batch_size`)."""
        return declared_batch_size(self.target) if self.target is not None else None

    def trains_on_all_given(self, batch: Batch) -> str | None:
        """Where the model says its own training method makes passes over the data it is given
        (`steps.declared_passes`) when one call of it is one update along the gradient of all of it
        (`step_is_one_update`): it is handed the training set and trains on every example at once. None
        otherwise, and when the step could not be probed."""
        if not self.can_train or self.target is None or self.train_method is None:
            return None
        where = declared_passes(self.target, self.train_method)
        if where is None or says_one_example(self.target):  # the kit's step would take the batch at once
            return None
        try:
            return where if self.step_is_one_update(batch) else None
        except GradcheckError:
            return None

    def step_description(self) -> str:
        """How the report names the model's training step (``update_mini_batch(batch, eta)``)."""
        return f"{self.train_method}(...)" if self.train_method else "the training step"

    def train_step(self, batch: Batch, lr: float) -> None:
        """One in-place update of the working parameters by the model's own training method."""
        if self.copy_inputs:
            batch = batch.with_arrays(np.array(batch.X), np.array(batch.y))
        self._train(batch, lr)
        values = self.current()
        self.load(values)

    # -- subclass hooks -------------------------------------------------------------------------
    def _loss(self, batch: Batch) -> float:
        raise NotImplementedError

    def _gradients(self, batch: Batch) -> dict[str, np.ndarray]:
        """The model's gradient by parameter: possibly the model's own arrays, as `gradients` with
        ``copy=False``."""
        raise NotImplementedError

    def _predict(self, batch: Batch) -> Any:
        raise NotImplementedError

    def _train(self, batch: Batch, lr: float) -> None:
        raise ModelInterfaceError(f"{self.label} has no training step")


def _flat(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays.values()])


def _changed(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> list[str]:
    """Names whose array is new, or differs in shape or value."""
    return [name for name, value in after.items()
            if name not in before or before[name].shape != value.shape or not np.array_equal(before[name], value,
                                                                                              equal_nan=True)]


def _names_a_gradient(params: set[str], name: str) -> bool:
    """``dW``, ``grad_kernel``, ``W_grad``, ``W_diff``, ``d_W`` beside parameter ``W`` (not ``W`` itself, which
    under another owner — ``v.W`` — is an optimizer's buffer)."""
    stems = (name[1:] if name.startswith("d") else "", name[2:] if name.startswith("d_") else "",
             name.removeprefix("grad_") if name.startswith("grad_") else "",
             name.removesuffix("_grad") if name.endswith("_grad") else "",
             name.removesuffix("_diff") if name.endswith("_diff") else "")
    return any(stem and stem in params for stem in stems)


def _generator_state_if_alone() -> tuple[Any, ...] | None:
    """numpy's global generator state, to tell afterwards whether the model drew from it; only when this is
    the process's one Python thread: with others running, one of them may draw meanwhile, and taking that
    for the model would make the guard rewind the other thread's numbers. The model is then taken not to
    draw (unless its loss proves it, which `ModelView.pin_global_random` handles)."""
    if threading.active_count() != 1:
        return None
    state: tuple[Any, ...] = np.random.get_state(legacy=True)  # type: ignore[assignment]
    return state


def _drew_since(before: tuple[Any, ...] | None) -> bool:
    """Whether the global generator moved since ``before``, with this still the one Python thread."""
    if before is None or threading.active_count() != 1:
        return False
    now: tuple[Any, ...] = np.random.get_state(legacy=True)  # type: ignore[assignment]
    return bool(now[2] != before[2] or not np.array_equal(now[1], before[1]))
