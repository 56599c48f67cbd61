"""Models, batches and the shipped data on disk, read without ever unpickling.

A model file is an ``.npz`` holding the parameter arrays (``param/<name>``) and one JSON metadata entry
(``__gradcheck_kit__``) naming the code that rebuilds the model: an import spec
``package.module:Factory`` (or ``path/to/file.py:Factory``) and its constructor arguments. Loading a
model therefore **imports and runs that code**; the arrays themselves are read with pickling disabled,
after checking every member's header against the declared sizes, so a corrupt, truncated, pickled,
object-typed or decompression-bomb file is refused with one clear message and bounded memory.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import os
import stat
import sys
import zipfile
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .model.discovery import array_attributes, container_slots
from .model.slots import Slot

__all__ = [
    "MAX_BYTES",
    "load_batch",
    "load_digits",
    "load_model",
    "read_arrays",
    "resolve_factory",
    "save_batch",
    "save_model",
]

MODEL_FORMAT = "gradcheck_kit.model/1"
META_KEY = "__gradcheck_kit__"
PARAM_PREFIX = "param/"
#: Largest total of array bytes a file may declare, unless GRADCHECK_KIT_MAX_BYTES says otherwise.
MAX_BYTES = 2 * 1024**3
#: A member larger than BOMB_BYTES that expands more than BOMB_RATIO times is refused as a zip bomb:
#: real weights and data do not compress that well.
BOMB_BYTES = 16 * 1024**2
BOMB_RATIO = 200
_PICKLE_MAGIC = (b"\x80", b"(", b"]", b"}")
#: Compression methods numpy can write and the standard library reads.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _describe_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def max_bytes() -> int:
    """The byte limit: GRADCHECK_KIT_MAX_BYTES if set (a whole number of bytes), else `MAX_BYTES`."""
    text = os.environ.get("GRADCHECK_KIT_MAX_BYTES")
    if text is None:
        return MAX_BYTES
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = -1
    if value <= 0:
        raise InputError(
            f"GRADCHECK_KIT_MAX_BYTES={text!r}; expected a positive whole number of bytes, e.g. 4294967296"
        )
    return value


def _open_archive(path: Path, what: str) -> zipfile.ZipFile:
    """The zip archive at ``path``, after refusing what is not a regular file, a pickle, a bare ``.npy``
    or anything else that is not a zip."""
    where = f"{what} {str(path)!r}"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{where} does not exist") from None
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{where} is a directory; expected an .npz file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{where} is not a regular file (a pipe, socket or device); expected an .npz file")
    try:
        with path.open("rb") as handle:
            head = handle.read(6)
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror or exc})") from None
    if head[:1] in _PICKLE_MAGIC or head[:2] == b"\x80\x04":
        raise InputError(
            f"{where} is a Python pickle; refused, because unpickling can run arbitrary code (save "
            f"arrays with numpy.savez instead)"
        )
    if head.startswith(b"\x93NUMPY"):
        raise InputError(f"{where} is a single .npy array; expected an .npz archive of named arrays")
    if head[:4] != b"PK\x03\x04":
        raise InputError(f"{where} is not an .npz file (it does not start with the zip signature)")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{where} is a corrupt or truncated .npz ({exc})") from None


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, spent: int, limit: int) -> int:
    """Validate one member's zip entry and ``.npy`` header against the bytes left of ``limit`` after
    ``spent``; return the bytes its array declares."""
    name = info.filename[: -len(".npy")]
    if info.flag_bits & 0x1:
        raise InputError(f"{where}: array {name!r} is encrypted; expected a plain numpy.savez archive")
    if info.compress_type not in _COMPRESSIONS:
        raise InputError(
            f"{where}: array {name!r} uses zip compression method {info.compress_type}; expected "
            f"stored or deflated members, as numpy.savez writes"
        )
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = reader(member)
            header_end = member.tell()
    except Exception as exc:  # zlib/lzma errors, bad magic, short reads: all mean an unreadable member
        raise InputError(f"{where}: member {name!r} is not a readable array ({exc})") from None
    if dtype.hasobject:
        raise InputError(
            f"{where}: array {name!r} holds Python objects (dtype {dtype}); refused, because reading it "
            f"would unpickle (store numbers only)"
        )
    nbytes = math.prod(shape) * dtype.itemsize
    if spent + nbytes > limit:
        raise InputError(
            f"{where} declares {_describe_bytes(spent + nbytes)} of arrays (array {name!r} has shape "
            f"{shape}); the limit is {_describe_bytes(limit)} (GRADCHECK_KIT_MAX_BYTES)"
        )
    if info.file_size > BOMB_BYTES and info.file_size > BOMB_RATIO * max(info.compress_size, 1):
        raise InputError(
            f"{where}: array {name!r} expands from {_describe_bytes(info.compress_size)} to "
            f"{_describe_bytes(info.file_size)} ({info.file_size // max(info.compress_size, 1)}:1); "
            f"refused as a decompression bomb"
        )
    if header_end + nbytes != info.file_size:
        raise InputError(
            f"{where}: array {name!r} declares shape {shape} ({_describe_bytes(nbytes)}) but its data is "
            f"{_describe_bytes(max(info.file_size - header_end, 0))}: the file is truncated or corrupt"
        )
    return nbytes


def read_arrays(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    names: Collection[str] | None = None,
    max_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (only ``names``, when given), each validated before it is read.

    Raises `InputError` for: a missing or non-regular file, a pickle, a non-zip file, a truncated or
    corrupt archive, an encrypted member or one with an unknown compression, a member that is not an
    ``.npy`` array, object (pickled) arrays, a header whose shape does not match the member's size, a
    decompression bomb, or more than ``max_bytes`` of declared data in the members read.
    """
    path = Path(path)
    where = f"{what} {str(path)!r}"
    limit = globals()["max_bytes"]() if max_bytes is None else max_bytes
    with _open_archive(path, what) as archive:
        members = archive.infolist()
        for info in members:
            if not info.filename.endswith(".npy"):
                raise InputError(f"{where} holds {info.filename!r}, which is not a numpy array")
        wanted = [i for i in members if names is None or i.filename[: -len(".npy")] in names]
        total = 0
        for info in wanted:
            total += _check_member(archive, info, where, total, limit)
        arrays: dict[str, np.ndarray] = {}
        for info in wanted:
            name = info.filename[: -len(".npy")]
            try:
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
            except Exception as exc:  # a corrupt stream (bad CRC, zlib or lzma error) found only while reading
                raise InputError(f"{where}: array {name!r} could not be read ({exc})") from None
    return arrays


def save_batch(path: str | os.PathLike[str], X: np.ndarray, y: np.ndarray) -> Path:
    """Write a batch as an ``.npz`` with arrays ``X`` and ``y`` (the CLI's ``--batch``)."""
    path = Path(path)
    X, y = np.asarray(X), np.asarray(y)
    if object in (X.dtype, y.dtype):
        raise InputError("save_batch: X and y must be numeric arrays, not object arrays")
    np.savez(path, X=X, y=y)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def load_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a batch written by `save_batch` (arrays ``X`` and ``y``), without unpickling."""
    arrays = read_arrays(path, what="batch")
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise InputError(f"batch {str(path)!r} has arrays {sorted(arrays)}; expected 'X' and 'y' (missing {missing})")
    return arrays["X"], arrays["y"]


# -- models ---------------------------------------------------------------------------------------
def _param_slots(model: Any) -> list[Slot]:
    found = container_slots(model)
    return found[1] if found is not None else array_attributes(model)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _constructor_kwargs(model: Any) -> dict[str, Any]:
    """Constructor arguments read back from same-named attributes (the scikit-learn convention)."""
    cls = type(model)
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    kwargs: dict[str, Any] = {}
    for name, param in list(signature.parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if hasattr(model, name) and not callable(getattr(model, name)):
            value = getattr(model, name)
            value = list(value) if isinstance(value, tuple) else value
            if _jsonable(value) and not isinstance(value, np.ndarray):
                kwargs[name] = value
                continue
        if param.default is param.empty:
            raise InputError(
                f"save_model: cannot read {cls.__name__}'s constructor argument {name!r} back from the object; "
                f"pass kwargs={{{name!r}: ...}} (JSON values) to save_model"
            )
    return kwargs


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    factory: str | None = None,
    args: list[Any] | tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """Save a model's parameters and how to rebuild it, for `load_model` and ``gradcheck-kit report``.

    Parameters
    ----------
    model
        The model object (parameters from its ``params``/``parameters`` dict, else its public float array
        attributes).
    path
        Target ``.npz`` file.
    factory
        Import spec of the class or function that builds the model: ``"package.module:Name"`` or
        ``"path/to/file.py:Name"``. Default: the model's own class, which must be importable (not defined
        in ``__main__``).
    args, kwargs
        Constructor arguments (JSON values). Default ``kwargs``: read back from attributes named like the
        constructor's parameters; parameters with defaults may be left out.
    """
    cls = type(model)
    if factory is None:
        if cls.__module__ == "__main__":
            raise InputError(
                f"save_model: {cls.__name__} is defined in the script being run (__main__), which cannot be imported "
                f"later; pass factory='path/to/your_file.py:{cls.__qualname__}'"
            )
        factory = f"{cls.__module__}:{cls.__qualname__}"
        try:
            resolved = resolve_factory(factory)
        except InputError:
            resolved = None
        if resolved is not cls:
            raise InputError(f"save_model: {factory!r} does not import back to {cls.__name__}; pass factory=...")
    kwargs = dict(kwargs) if kwargs is not None else _constructor_kwargs(model)
    if not _jsonable(list(args)) or not _jsonable(kwargs):
        raise InputError("save_model: args and kwargs must be JSON values (numbers, strings, lists, dicts)")
    # Build a fresh model now: it proves the metadata rebuilds the model, and its parameters (not caches
    # such as self.hidden left by a forward pass) are the ones to save.
    fresh = {s.name: np.asarray(s.read()) for s in _param_slots(_build(factory, list(args), kwargs))}
    current = {s.name: s for s in _param_slots(model)}
    if not fresh:
        raise InputError(f"save_model: {factory} builds a model with no float parameter arrays to save")
    for name, array in fresh.items():
        if name not in current:
            raise InputError(f"save_model: {factory}(...) builds a model with {name!r}, which {cls.__name__} lacks")
        if np.asarray(current[name].read()).shape != array.shape:
            raise InputError(
                f"save_model: {name!r} has shape {np.asarray(current[name].read()).shape} but "
                f"{factory}(**{kwargs}) builds it with {array.shape}; pass the constructor kwargs"
            )
    slots = [current[name] for name in fresh]
    meta = {
        "format": MODEL_FORMAT,
        "factory": factory,
        "args": list(args),
        "kwargs": kwargs,
        "params": [s.name for s in slots],
    }
    from . import __version__

    meta["kit_version"] = __version__
    arrays = {f"{PARAM_PREFIX}{s.name}": np.asarray(s.read()) for s in slots}
    path = Path(path)
    payload: dict[str, Any] = {**arrays, META_KEY: np.array(json.dumps(meta))}
    np.savez(path, **payload)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def resolve_factory(spec: str) -> Any:
    """Import ``package.module:Name`` or ``path/to/file.py:Name`` (dotted names allowed after the colon).

    This imports and runs the named module's code.
    """
    if ":" not in spec:
        raise InputError(f"import spec {spec!r} has no ':'; expected 'package.module:Name' or 'path/to/file.py:Name'")
    module_part, _, attr = spec.rpartition(":")
    if not module_part or not attr:
        raise InputError(f"import spec {spec!r}; expected 'package.module:Name' or 'path/to/file.py:Name'")
    try:
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            file = Path(module_part)
            if not file.is_file():
                raise InputError(f"import spec {spec!r}: file {module_part!r} does not exist")
            name = f"gradcheck_kit_user_{abs(hash(str(file.resolve())))}"
            module_spec = importlib.util.spec_from_file_location(name, file)
            if module_spec is None or module_spec.loader is None:
                raise InputError(f"import spec {spec!r}: {module_part!r} cannot be imported as Python")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_part)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"import spec {spec!r}: importing {module_part!r} raised {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InputError(f"import spec {spec!r}: {module_part!r} has no attribute {part!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InputError(f"import spec {spec!r} names a {type(target).__name__}, not a class or function")
    return target


def _build(factory: str, args: list[Any], kwargs: Mapping[str, Any]) -> Any:
    build = resolve_factory(factory)
    try:
        return build(*args, **kwargs)
    except Exception as exc:
        raise InputError(
            f"building the model with {factory}(*{args}, **{dict(kwargs)}) raised {type(exc).__name__}: {exc}"
        ) from exc


def _assign(model: Any, params: Mapping[str, np.ndarray], source: str) -> Any:
    slots = {s.name: s for s in _param_slots(model)}
    missing = sorted(set(slots) - set(params))
    extra = sorted(set(params) - set(slots))
    if missing or extra:
        raise InputError(
            f"{source} does not match the model: "
            + "; ".join(
                part
                for part in (
                    f"the model has {missing} that the file lacks" if missing else "",
                    f"the file has {extra} that the model lacks" if extra else "",
                )
                if part
            )
        )
    for name, array in params.items():
        current = np.asarray(slots[name].read())
        if array.shape != current.shape:
            raise InputError(f"{source}: {name!r} has shape {array.shape} but the model's is {current.shape}")
        if array.dtype.kind != "f":
            raise InputError(f"{source}: {name!r} has dtype {array.dtype}; expected a float array")
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise InputError(f"{source}: {name!r} has {bad} non-finite value(s) (NaN or inf); expected finite weights")
        slots[name].write(np.array(array))
    return model


def load_model(
    path: str | os.PathLike[str] | None = None,
    *,
    factory: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    args: list[Any] | tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Rebuild a model saved by `save_model`, or build one from ``factory`` and load ``weights``.

    ``load_model("model.npz")`` reads the metadata, **imports and calls the factory it names**, then
    assigns the saved parameters (names and shapes must match). ``load_model(factory="pkg.mod:make",
    weights="weights.npz")`` does the same from an import spec and a plain ``.npz`` of name → array.
    """
    if path is not None:
        arrays = read_arrays(path, what="model")
        if META_KEY not in arrays:
            raise InputError(
                f"model {str(path)!r} has no gradcheck_kit metadata; save it with "
                f"gradcheck_kit.save_model, or pass an import spec with --weights"
            )
        try:
            meta = json.loads(str(arrays.pop(META_KEY)))
        except (ValueError, TypeError) as exc:
            raise InputError(f"model {str(path)!r}: its metadata is not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT or not isinstance(meta.get("factory"), str):
            raise InputError(f"model {str(path)!r}: unrecognised metadata; expected format {MODEL_FORMAT!r}")
        params = {k[len(PARAM_PREFIX) :]: v for k, v in arrays.items() if k.startswith(PARAM_PREFIX)}
        model = _build(factory or meta["factory"], list(meta.get("args", [])), dict(meta.get("kwargs", {})))
        return _assign(model, params, f"model {str(path)!r}")
    if factory is None or weights is None:
        raise InputError("load_model needs a saved model path, or both factory= and weights=")
    params = read_arrays(weights, what="weights")
    params = {
        k[len(PARAM_PREFIX) :] if k.startswith(PARAM_PREFIX) else k: v for k, v in params.items() if k != META_KEY
    }
    model = _build(factory, list(args), dict(kwargs or {}))
    return _assign(model, params, f"weights {str(weights)!r}")


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits: ``X`` (1797, 64) uint8 pixel counts 0..16, ``y`` (1797,) labels 0..9.

    A copy of the test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin,
    C. Kaynak, 1998; CC BY 4.0), as distributed by scikit-learn's ``load_digits``; each pixel counts the
    on-pixels in a 4×4 block of a 32×32 bitmap.
    """
    with (
        resources.files("gradcheck_kit").joinpath("data/digits.npz").open("rb") as handle,
        np.load(handle, allow_pickle=False) as data,
    ):
        return data["X"].copy(), data["y"].copy()
