"""Reading a user object: which of its methods play which role, where its parameters are, then its view.

The reader works on a private copy and tries calls there (each trial's side effects are undone). Roles
are found in this order — outputs from ``X`` alone (so the labels can be checked before any call with
``y``), then the gradient, then the loss, then a training step — each by the names people give them
(`roles`) and by what calling them returns. Parameters are the arrays that get a gradient (by name,
by position in a returned structure, or left on the object after ``backward()``) and that the loss
depends on; a training step's gradient is read off the arrays it changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from ..errors import InputError, ModelInterfaceError
from .batch import Batch
from .copies import StateCopy, private_copy
from .discovery import container_slots, find_arrays
from .guard import ModelGuard
from .kit_loss import KitLoss, loss_from_spec, standard_loss
from .losses_implied import implied_loss, loss_functions
from .objects import ObjectView, first_number, first_output
from .roles import (
    GRADIENT_NAMES,
    LOSS_NAMES,
    LR_NAMES,
    OUTPUT_NAMES,
    STEP_NAMES,
    Call,
    argument_roles,
    as_number,
    composed_call,
    flatten_arrays,
    initial_state,
    neutral_arguments,
    positional_names,
)
from .shape_hint import input_width_hint
from .slots import Slot
from .steps import find_step
from .stored import stored_gradient_call
from .view import INFERENCE_LR, ModelView, gradient_key

__all__ = ["ObjectReader"]

#: Loss-like names that are something else in some codebases (Nielsen's evaluate counts correct answers).
AMBIGUOUS_LOSS_NAMES = ("evaluate",)


def _rows_like(array: np.ndarray, batch: Batch) -> np.ndarray | None:
    """Outputs as (B, K) rows if ``array`` has one entry per example in the batch's layout."""
    B = batch.size
    if batch.layout == "columns" and array.ndim == 2 and array.shape[1] == B:
        return array.T
    if array.ndim >= 1 and array.shape[0] == B:
        return array.reshape(B, -1)
    return None


def _detached(value: Any) -> Any:
    """``value`` with every array in it (also in a tuple or list) copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (tuple, list):
        return type(value)(_detached(v) for v in value)
    return value


def _decisions(array: np.ndarray) -> bool:
    """Every value 0 or 1, some 1: hard decisions (``np.round(A2)``). All zeros is not (a zero-initialised
    network's linear outputs)."""
    ones = array == 1
    return bool(np.any(ones) and np.all(ones | (array == 0)))


class ObjectReader:
    """Reads a user object (see the module docstring); ``loss`` is the user's ``loss=`` if given."""

    def __init__(self, model: Any, *, loss: Any = None, saved: Mapping[int, np.ndarray] | None = None) -> None:
        self.label = type(model).__name__
        #: read-only start values of the copy's arrays, by their id (see `private_copy`)
        self.target, self.copy_failure, self.start = private_copy(model, saved)
        self.user_loss: KitLoss | None = loss_from_spec(loss) if loss is not None else None
        self.outputs_call: Call | None = None
        self.batch: Batch | None = None
        self.notes: list[str] = []
        #: Whole-batch trial calls that raised, and gradient results that could not be read: what the
        #: error says when no role fits.
        self.failures: list[tuple[Call, Exception]] = []
        #: The gradient call returns the loss too, first (CS231n's ``(loss, grads)``, ``lossFun``).
        self.carries_loss = False
        self.unreadable: list[tuple[Call, Any]] = []
        self._pristine: StateCopy | ModelGuard | None = None
        try:
            self._pristine = StateCopy(vars(self.target), self.start)
        except Exception:  # its state cannot be deep-copied (a lock, an open file): put back by reference
            with contextlib.suppress(Exception):
                self._pristine = ModelGuard(self.target)

    # -- trials on the private copy -----------------------------------------------------------------
    def _reset(self) -> None:
        """Undo whatever a trial call did to the private copy."""
        if isinstance(self._pristine, StateCopy):
            self._pristine.put_back(vars(self.target))
        elif self._pristine is not None:
            self._pristine.reset()

    def _try(self, call: Call, batch: Batch) -> Any:
        """``call``'s result (the first example's, for a per-example call), or ``None`` if it raised. It runs
        on writable copies of the data, after a forward pass (a backward may read what forward cached)."""
        batch = batch.with_arrays(np.array(batch.X), np.array(batch.y))
        part = batch.take(slice(0, 1)) if call.per_example else batch
        if not call.binds(part):
            return None
        try:
            if self.outputs_call is not None:
                self.outputs_call.each(part) if self.outputs_call.per_example else self.outputs_call.whole(part)
        except Exception:
            pass
        try:
            return call.each(part)[0] if call.per_example else call.whole(part)
        except Exception as exc:
            self.failures.append((call, exc))
            return None
        finally:
            self._reset()

    def _calls(self, names: tuple[str, ...], batch: Batch, *, takes_y: bool = True) -> list[Call]:
        """Whole-batch then per-example calls of the methods named ``names`` the object has; further
        required arguments get neutral values by name (`roles.neutral_arguments`), or the call is left out."""
        out = []
        for name in names:
            method = getattr(self.target, name, None)
            if not callable(method) or isinstance(method, type):
                continue
            params = positional_names(method)
            for per_example in (False, True):
                n_data = (2 if takes_y else 1) if per_example else (len(batch.call_args()) if takes_y else 1)
                fixed = neutral_arguments(params[n_data:], batch.size, initial_state(self.target)) if params else {}
                if fixed is not None and (not params or len(params) >= n_data):
                    out.append(Call(name, method, per_example=per_example, takes_y=takes_y, fixed=fixed))
        return out

    def _gradient_calls(self, batch: Batch, pool: list[Slot]) -> list[Call]:
        """Gradient-like methods as ``(X, y)`` calls; or, when their parameters are named for the forward
        pass's outputs or cache (``backward_pass(y_train, output)``, ``backward(cache)``), fed from it."""
        out: list[Call] = []
        last: list[Call] = []  # ``backward(y)`` after ``forward(X)``: only when no method takes the data itself
        for name in (*GRADIENT_NAMES, "loss"):
            method, roles = self._method_roles(name)
            if method is None or roles is None:
                out += self._calls((name,), batch)
                continue
            dloss = self._loss_derivative(batch) if "dout" in roles else None
            if "dout" in roles and dloss is None:
                continue
            sources = self._calls((*OUTPUT_NAMES, *LOSS_NAMES), batch) if "cache" in roles else []
            sources += self._forward_sources(batch)
            composed = [composed_call(name, method, roles, source, dloss, pool, INFERENCE_LR) for source in sources
                        if source.name != name]
            if set(roles) - {"lr"} == {"y"}:
                last += composed
            else:
                out += composed
        return out + last

    def _method_roles(self, name: str) -> tuple[Callable[..., Any] | None, tuple[str, ...] | None]:
        """The object's method ``name`` and its arguments' roles (`argument_roles`), or ``None`` for either."""
        method = getattr(self.target, name, None)
        if not callable(method) or isinstance(method, type):
            return None, None
        return method, argument_roles(method)

    def _forward_sources(self, batch: Batch) -> list[Call]:
        """The forward calls a composed call may be fed from: the outputs call found, then every output method."""
        first = [self.outputs_call] if self.outputs_call is not None else []
        return first + self._calls(OUTPUT_NAMES, batch, takes_y=False)

    def _loss_derivative(self, batch: Batch) -> Callable[[Any, Any, bool], Any] | None:
        """∂loss/∂outputs for a backward that takes it (``backward(grad)``): from ``loss=`` (a criterion's
        ``backward()``, your derivative, or a standard loss), or the loss functions the object keeps."""
        kit = self.user_loss
        if kit is None:
            kept = loss_functions(self.target)
            kit = loss_from_spec(kept[1]) if kept is not None and isinstance(kept[1], tuple) else None
        if kit is None:
            return None
        columns = batch.layout == "columns"
        return lambda outputs, y, one: kit.gradient(outputs, y, columns=columns, one_example=one)

    # -- outputs ---------------------------------------------------------------------------------
    def outputs(self, batch: Batch) -> np.ndarray | None:
        """Outputs from ``X`` alone, as (B, K) rows: a forward-like method (whole batch or one example at a
        time), or CS231n's ``loss(X)`` returning scores."""
        self.batch = batch
        for call in self._calls(OUTPUT_NAMES, batch, takes_y=False) + self._calls(("loss",), batch, takes_y=False):
            rows = self._outputs_of(call, batch)
            if rows is not None:
                self.outputs_call = call
                return rows
        return None

    def _outputs_of(self, call: Call, batch: Batch) -> np.ndarray | None:
        try:
            results = call.each(batch) if call.per_example else [call.whole(batch)]
            arrays = [np.asarray(first_output(r)) for r in results]
        except Exception:
            return None
        finally:
            self._reset()
        if any(a.dtype.kind != "f" or a.size == 0 or _decisions(a) for a in arrays):
            return None  # decisions or class labels (predict's A2 > 0.5, np.round(A2)), not scores
        if call.per_example:
            if len({a.shape for a in arrays}) != 1:
                return None
            rows = np.stack([a.reshape(-1) for a in arrays]).astype(np.float64)
        else:
            found = _rows_like(arrays[0], batch)
            if found is None or (arrays[0].ndim == 1 and arrays[0].dtype.kind in "iub"):
                return None  # class labels, not scores
            rows = found.astype(np.float64)
        return rows if np.all(np.isfinite(rows)) else None

    # -- the view ------------------------------------------------------------------------------------
    def view(self, batch: Batch, outputs: np.ndarray | None) -> ModelView:
        candidates: list[Slot] = list(find_arrays(self.target))
        container = container_slots(self.target)
        gradient, reader, slots = self._gradient_role(batch, candidates, container)
        loss_call, kit_loss = self._loss_role(batch, outputs, gradient)
        step, step_slots = find_step(self, batch, candidates, container, loss_call, kit_loss)
        if gradient is None:
            if step is None:
                raise self._no_interface(batch)
            slots = step_slots
            self.notes.insert(0, f"no gradient method: gradients read off one {step.describe()} as "
                                 f"(before - after) / lr")
        source = container[0] if container else "attributes"
        style = self._style(gradient, loss_call, step)
        view = ObjectView(self.target, slots, private=self.copy_failure is None, label=self.label, style=style,
                          outputs=self.outputs_call, loss=loss_call, gradient=gradient, gradient_reader=reader,
                          step=step, kit_loss=kit_loss)
        if not view.params:
            raise ModelInterfaceError(f"{self.label}: no float parameter arrays found in {source}; expected weights "
                                      f"as float arrays (self.W1, a params dict, lists of weights, layer objects)")
        where = f"the dict self.{source}" if container else "its attributes"
        view.notes.add(f"{style}; parameters read from {where}: {', '.join(view.names)}", first=True)
        if batch.layout != "rows":
            view.notes.add(batch.describe())
        for note in self.notes:
            view.notes.add(note)
        if self.copy_failure:
            view.notes.add(f"the model could not be deep-copied ({self.copy_failure}); it was checked in place and "
                           f"restored")
        return view

    def _style(self, gradient: Call | None, loss: Call | None, step: Call | None) -> str:
        if gradient is None:
            return "self-training object"
        if gradient is loss and gradient.name == "loss":
            return "CS231n-style loss(X, y) -> (loss, grads)"
        if gradient is loss:
            return f"{gradient.describe()} -> (loss, gradients)"
        if gradient.per_example:
            return f"per-example {gradient.describe()}"
        if gradient.feeds:  # composed from the forward pass: say how, as for the loss below
            read = f"forward/backward object: {gradient.describe()}"
            return read + (f", loss {loss.describe()}" if loss is not None and loss.feeds else "")
        return "forward/backward object"

    # -- gradient ----------------------------------------------------------------------------------
    def _gradient_role(self, batch: Batch, candidates: list[Any], container: tuple[str, list[Slot]] | None
                       ) -> tuple[Call | None, Callable[[Any], Mapping[str, Any]] | None, list[Slot]]:
        pool = container[1] if container else candidates
        for call in self._gradient_calls(batch, pool):
            result = self._try(call, batch)
            if result is None or as_number(result) is not None or (isinstance(result, np.ndarray)
                                                                    and "dout" in call.feeds):
                stored = stored_gradient_call(self, call, batch, pool)
                if stored is not None:
                    self.carries_loss = False
                    return stored
                continue
            matched = self._match(result, pool, batch, strict=container is not None)
            if matched is not None:
                return (call, *matched)
            if call.name != "loss":
                self.unreadable.append((call, result))
        return stored_gradient_call(self, None, batch, pool) or (None, None, [])

    def _match(self, result: Any, pool: list[Slot], batch: Batch, *, strict: bool
               ) -> tuple[Callable[[Any], Mapping[str, Any]], list[Slot]] | None:
        """How to read ``result`` into parameter gradients, and the parameters, or ``None``. A dict anywhere in
        a returned tuple is the gradient (``(loss, grads)``, ``(loss, grads, h, c)``)."""
        self.carries_loss = isinstance(result, tuple | list) and len(result) > 1 and as_number(result[0]) is not None
        grads = result
        if isinstance(result, tuple | list):
            dicts = [item for item in result if isinstance(item, Mapping)]
            grads = dicts[0] if len(dicts) == 1 else result
        if isinstance(grads, Mapping):
            return self._match_keys(grads, pool, result is not grads, strict=strict)
        arrays = flatten_arrays(result)
        if not arrays:
            return None
        return self._match_positions(arrays, pool, batch)

    def _match_keys(self, grads: Mapping[str, Any], pool: list[Slot], paired: bool, *, strict: bool
                    ) -> tuple[Callable[[Any], Mapping[str, Any]], list[Slot]] | None:
        flat = _flatten(grads)
        names = {s.name: s for s in pool}
        leaf = {s.name.rsplit(".", 1)[-1]: s for s in pool if "." in s.name}
        keys: dict[str, str] = {}
        for key in flat:
            target = gradient_key(set(names), key) or gradient_key(set(leaf), key)
            if target is not None:
                keys[key] = names[target].name if target in names else leaf[target].name
        if not keys:
            return None
        chosen = list(pool) if strict else [names.get(n) or next(s for s in pool if s.name == n) for n in keys.values()]
        extras = sorted(set(flat) - set(keys))
        if extras:
            self.notes.append(f"gradient entries without a parameter of that name were left out: {', '.join(extras)}")

        def read(result: Any) -> Mapping[str, Any]:
            raw = result
            if isinstance(result, tuple | list):
                raw = next((item for item in result if isinstance(item, Mapping)), result)
            raw = _flatten(raw) if isinstance(raw, Mapping) else raw
            if not isinstance(raw, Mapping):
                return raw
            return {keys[k]: v for k, v in raw.items() if k in keys}

        return read, chosen

    def _match_positions(self, arrays: list[np.ndarray], pool: list[Slot], batch: Batch
                         ) -> tuple[Callable[[Any], Mapping[str, Any]], list[Slot]] | None:
        """Returned arrays matched to parameters by shape, in order; parameters the loss does not depend
        on (optimizer buffers) are skipped, and arrays left over (a returned hidden state) ignored."""
        live = [s for s in pool if self._loss_depends_on(s, batch)]
        order: list[int | None] = []
        used: set[int] = set()
        for a in arrays:
            index = next((i for i, s in enumerate(live) if i not in used and np.shape(s.read()) == a.shape), None)
            order.append(index)
            if index is not None:
                used.add(index)
        if not used:
            return None
        chosen = [live[i] for i in sorted(used)]
        names = [live[i].name if i is not None else "" for i in order]

        def read(result: Any) -> Mapping[str, Any]:
            found = flatten_arrays(result) or []
            return {name: a for name, a in zip(names, found) if name}

        return read, chosen

    def _loss_depends_on(self, slot: Slot, batch: Batch) -> bool:
        """Whether moving this array changes the model's loss (or its outputs)."""
        probe = self._probe
        if probe is None:
            return True
        array = slot.read()
        if not isinstance(array, np.ndarray) or not array.flags.writeable:
            return False
        saved = array.copy()
        try:
            reference = _detached(probe(batch))  # a forward may return its own buffer, which the next call rewrites
            scale = 1e-3 * max(1.0, float(np.sqrt(np.mean(np.square(saved, dtype=np.float64)))))
            noise = np.asarray(scale * np.random.default_rng(0).standard_normal(array.shape))
            array += noise.astype(array.dtype)
            moved = _detached(probe(batch))
        except Exception:
            return True
        finally:
            np.copyto(array, saved)
            self._reset()
        try:
            return not np.array_equal(np.asarray(moved, dtype=np.float64), np.asarray(reference, dtype=np.float64))
        except (TypeError, ValueError):
            return True

    @property
    def _probe(self) -> Callable[[Batch], Any] | None:
        """A call whose result changes when a parameter does: the outputs, else a loss-like method."""
        if self.batch is None:
            return None
        if self.outputs_call is not None:
            out: Call = self.outputs_call
            return lambda b: [first_output(r) for r in out.each(b)] if out.per_example else first_output(out.whole(b))
        for loss_call in self._calls(LOSS_NAMES, self.batch):
            if not loss_call.per_example:
                return partial(_loss_of, loss_call)
        return None

    # -- loss --------------------------------------------------------------------------------------------
    def _loss_role(self, batch: Batch, outputs: np.ndarray | None, gradient: Call | None
                   ) -> tuple[Call | None, KitLoss | None]:
        own = self._own_loss(batch, gradient)
        if self.user_loss is not None:
            if own is not None:
                raise InputError(f"{self.label} has its own loss, {own.describe()}; loss= is for models whose code "
                                 f"has none — leave it out", option="loss")
            if not self.user_loss.undecided:  # else `loss_evidence` says which reduction
                self.notes.append(f"loss: {self.user_loss.describe()}")
            return None, self.user_loss
        if own is not None:
            return own, None
        implied = implied_loss(self, batch, outputs)
        if implied is not None:
            self.notes.append(f"no loss method: the kit uses {implied.describe()}")
            return None, implied
        if outputs is None:
            return None, None
        return None, self._default_loss(outputs)

    def _own_loss(self, batch: Batch, gradient: Call | None) -> Call | None:
        """A method of the model that returns its loss: the gradient call itself when it returns the loss
        first (CS231n's loss(X, y) -> (loss, grads), lossFun, forward_backward), else a loss method."""
        if gradient is not None and self.carries_loss and not gradient.per_example:
            return gradient
        for call in self._loss_calls(batch) + self._calls(("forward",), batch):
            result = self._try(call, batch)
            if result is not None and as_number(first_number(result)) is not None:
                return call
            shape = np.shape(result) if isinstance(result, np.ndarray) else ()
            if call.name in LOSS_NAMES and not call.per_example and len(shape) >= 1 and np.prod(shape) > 1:
                raise ModelInterfaceError(f"{self.label}.{call.describe()} returned an array of shape {shape}; "
                                          f"expected a single number (the batch loss)")
        raised = [(c, e) for c, e in self.failures if c.name in LOSS_NAMES and c.name not in AMBIGUOUS_LOSS_NAMES
                  and not c.per_example]
        if raised:  # the model has a loss, and its code raised under every convention: that is the error
            raise self._call_error(*raised[0])
        return None

    def _loss_calls(self, batch: Batch) -> list[Call]:
        """Loss methods as ``(X, y)`` calls; or, when they take the forward pass's outputs
        (``compute_loss(probs, y)``, ``cost(AL, Y)``), fed from it — never given X in their place."""
        out: list[Call] = []
        for name in LOSS_NAMES:
            method, roles = self._method_roles(name)
            if method is None or roles is None or "out" not in roles:
                out += self._calls((name,), batch)
            elif self.outputs_call is not None:
                out.append(composed_call(name, method, roles, self.outputs_call))
        return out

    def _call_error(self, call: Call, exc: Exception) -> Exception:
        from ..errors import ModelCallError

        try:
            hint = input_width_hint(exc, self.batch, ((s.name, s.read()) for s in find_arrays(self.target)))
        except Exception:  # a hint is never worth a second error
            hint = ""
        error = ModelCallError(f"{hint}{self.label}.{call.name}(...) raised {type(exc).__name__}: {exc} [call 1 of "
                               f"{call.name}]")
        error.__cause__ = exc
        return error

    def _default_loss(self, outputs: np.ndarray) -> KitLoss:
        """A provisional loss: `loss_evidence.identify_loss` replaces it by the standard loss the model's
        gradient is the gradient of, or raises when there is none."""
        first = "cross-entropy" if outputs.shape[1] >= 2 else "half squared error"
        return replace(standard_loss(first, source="identified from the model's gradient"), undecided="loss")

    def _no_interface(self, batch: Batch) -> Exception:
        if self.unreadable:
            call, result = self.unreadable[0]
            return ModelInterfaceError(
                f"{self.label}.{call.describe()} returned a {type(result).__name__}; expected a dict mapping each "
                f"parameter name to its gradient, (loss, grads), or the gradients' arrays in the parameters' order")
        raised = [(c, e) for c, e in self.failures if not c.per_example and c.name in GRADIENT_NAMES]
        if raised:
            return self._call_error(*raised[0])
        floats = [n for n, v in vars(self.target).items() if type(v) is float and not n.startswith("_")] \
            if hasattr(self.target, "__dict__") else []
        if len(floats) >= 2 and not find_arrays(self.target):
            return ModelInterfaceError(
                f"{self.label} keeps its weights as Python floats ({', '.join(floats[:8])}"
                f"{' ...' if len(floats) > 8 else ''}); the kit perturbs numpy arrays in place. Keep them in arrays "
                f"(self.w1 = np.array(0.5), or one array of weights), or name them in gradcheck_kit.wrap(...)")
        takes_dout = [n for n in GRADIENT_NAMES if callable(m := getattr(self.target, n, None))
                      and "dout" in (argument_roles(m) or ())]
        if takes_dout:
            return ModelInterfaceError(
                f"{self.label}.{takes_dout[0]}(...) takes the gradient of the loss with respect to the outputs, and "
                f"the model keeps no loss: name it with loss= — your criterion object (with a backward()), "
                f"(loss_fn, loss_derivative), or a standard loss such as loss='cross_entropy'")
        have = [self._why_not(n, batch) for n in dict.fromkeys(OUTPUT_NAMES + LOSS_NAMES + GRADIENT_NAMES + STEP_NAMES)
                if callable(getattr(self.target, n, None)) and not isinstance(getattr(self.target, n), type)]
        return ModelInterfaceError(
            f"{self.label} offers no interface gradcheck_kit can check. Looked for: a gradient method "
            f"backward(X, y)/gradients/grads/backprop (or per example, backprop(x, y)) returning a dict, a list of "
            f"arrays or (loss, grads), or leaving them on the object; a CS231n-style loss(X, y) returning (loss, "
            f"grads); a training step train(X, y, lr)/step/update/update_mini_batch/train_on_batch updating the "
            f"weights in place. Found: {'; '.join(have) or 'none of these'}. For plain functions use "
            f"gradcheck_kit.wrap(...)."
        )

    def _why_not(self, name: str, batch: Batch) -> str:
        """A found method and why it was not used: its signature, and what went wrong."""
        method = getattr(self.target, name)
        params = positional_names(method)
        signature = f"{name}({', '.join(n for n, _ in params)})"
        if self.outputs_call is not None and name == self.outputs_call.name:
            return f"{signature}: read for the outputs (it gives no gradient)"
        failed = next((e for c, e in self.failures if c.name == name), None)
        if failed is not None:
            return f"{signature} raised {type(failed).__name__}"
        if name in STEP_NAMES:
            if any(n in LR_NAMES for n, _ in params):
                return f"{signature}: takes a learning rate, but one step moved no float array of the object"
            return f"{signature}: no learning rate among its arguments or on the object (self.lr, an optimizer)"
        if not self._calls((name,), batch):
            unknown = [n for n, required in params[2:] if required]
            return f"{signature}: the kit cannot give {', '.join(unknown) or 'its arguments'}"
        return f"{signature}: returned nothing the kit can read"


def _loss_of(call: Call, batch: Batch) -> Any:
    return first_number(call.whole(batch))


def _flatten(grads: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in grads.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
