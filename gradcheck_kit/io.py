"""Models, batches and the shipped data on disk, read without ever unpickling.

A model file is an ``.npz`` holding the parameter arrays (``param/<name>``) and one JSON metadata entry
(``__gradcheck_kit__``) naming the code that rebuilds the model: an import spec
``package.module:Factory`` (or ``path/to/file.py:Factory``) and its constructor arguments. A model file
is therefore **code**: `load_model` refuses to import what a file names unless the caller trusts it
(``trusted=True``, or a list of the ``"module:callable"`` names allowed), or names the code itself
(``factory=``) — the trusted-types practice of skops and ``torch.load(weights_only=True)``. Factories
from modules that run commands, touch files or load code (builtins, os, sys, subprocess, pickle, ...)
are refused even when trusted.

Every array is read with pickling disabled, and only the members needed (the batch's ``X`` and ``y``,
the model's parameters), each after checking its zip entry and ``.npy`` header against the declared
sizes; so a corrupt, truncated, encrypted, pickled, object-typed or decompression-bomb file, or one that
is not a regular file (a pipe, socket or device), is refused with one clear `InputError`, in bounded
memory and without blocking.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import json
import math
import os
import secrets
import stat
import sys
import types
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import InputError
from .model.discovery import array_attributes, container_slots, find_arrays
from .model.layers import LayeredModel
from .model.slots import Slot

__all__ = [
    "MAX_BYTES",
    "REFUSED_MODULES",
    "load_batch",
    "load_digits",
    "load_model",
    "model_metadata",
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
#: Largest model metadata (one JSON string) read: save_model writes a few hundred bytes.
META_MAX_BYTES = 1024**2
#: Arrays larger than BOMB_BYTES (one member, or the members read together) that expand more than
#: BOMB_RATIO times are refused as a zip bomb: real weights and data do not compress that well.
BOMB_BYTES = 16 * 1024**2
BOMB_RATIO = 200
_PICKLE_MAGIC = (b"\x80", b"(", b"]", b"}")
#: Compression methods numpy can write and the standard library reads.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)

#: Modules (and their submodules) whose callables are never run as a model factory, trusted or not:
#: they run commands or code from strings, import or unpickle code, or open files, sockets and
#: processes. A deny list is a second line of defence, not a sandbox: ``trusted=True`` still runs any
#: other code a file names, so prefer naming the factory (``factory=`` or a list for ``trusted=``).
REFUSED_MODULES = frozenset({
    "_ctypes", "_io", "_pickle", "_posixsubprocess", "_thread", "antigravity", "asyncio", "bdb", "builtins",
    "bz2", "cloudpickle", "code", "codecs", "codeop", "compileall", "concurrent", "copyreg", "ctypes",
    "dbm", "dill", "distutils", "doctest", "ensurepip", "faulthandler", "fcntl", "ftplib", "functools",
    "gc", "glob", "gzip", "http", "imp", "importlib", "inspect", "io", "joblib", "jsonpickle", "logging",
    "lzma", "marshal", "mmap", "msvcrt", "multiprocessing", "nt", "ntpath", "numpy.ctypeslib",
    "numpy.distutils", "numpy.f2py", "numpy.lib._datasource", "numpy.lib._npyio_impl", "numpy.lib.format",
    "numpy.lib.npyio", "numpy.testing", "operator", "os", "pandas.io", "pathlib", "pdb", "pickle",
    "pickletools", "pip", "pkgutil", "platform", "posix", "posixpath", "profile", "pty", "py_compile",
    "pydoc", "requests", "resource", "runpy", "sched", "scipy.io", "selectors", "setuptools", "shelve",
    "shutil", "signal", "site", "smtplib", "socket", "socketserver", "sqlite3", "ssl", "subprocess",
    "sys", "sysconfig", "tarfile", "tempfile", "this", "threading", "timeit", "torch.hub", "torch.jit",
    "torch.package", "torch.serialization", "torch.utils.cpp_extension", "trace", "types", "unittest",
    "urllib", "venv", "webbrowser", "winreg", "xmlrpc", "yaml", "zipfile", "zipimport",
})
#: Callables of otherwise allowed libraries that read or write files, or unpickle.
_REFUSED_CALLABLES = frozenset({
    "numpy.DataSource", "numpy.fromfile", "numpy.fromregex", "numpy.genfromtxt", "numpy.load", "numpy.loadtxt",
    "numpy.memmap", "numpy.save", "numpy.savetxt", "numpy.savez", "numpy.savez_compressed", "pandas.read_pickle",
    "pandas.to_pickle", "torch.from_file", "torch.load", "torch.save",
})


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


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _open_file(path: Path, where: str) -> IO[bytes]:
    """``path`` opened for reading once it is known to be a regular file; never blocks on a pipe."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{where} does not exist") from None
    except (OSError, ValueError) as exc:  # permissions, a loop of links, a NUL byte in the name
        raise InputError(f"{where} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{where} is {_kind(mode)}; expected an .npz file")
    # O_NONBLOCK: were the path swapped for a FIFO after the check above, opening it must not wait for
    # a writer; the fstat below then refuses it.
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    flags = os.O_RDONLY | nonblocking | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{where} is {_kind(mode)}; expected an .npz file")
        if nonblocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_archive(path: Path, what: str) -> tuple[IO[bytes], zipfile.ZipFile]:
    """The open file and zip archive at ``path``, after refusing what is not a regular file, a pickle,
    a bare ``.npy`` or anything else that is not a zip."""
    where = f"{what} {str(path)!r}"
    handle = _open_file(path, where)
    try:
        try:
            head = handle.read(6)
            handle.seek(0)
        except OSError as exc:  # /proc/self/mem and the like: a regular file that cannot be read
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
            return handle, zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise InputError(f"{where} is a corrupt or truncated .npz ({exc})") from None
    except BaseException:
        handle.close()
        raise


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, spent: int, limit: int,
                  limit_name: str) -> int:
    """Validate one member's zip entry and ``.npy`` header against the bytes left of ``limit`` after
    ``spent``; return the bytes its array declares. Only the header is decompressed."""
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
            f"{shape}); the limit is {_describe_bytes(limit)} ({limit_name})"
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


class _Archive:
    """An open ``.npz``: its array names from the zip directory (nothing decompressed), and the arrays
    read on request, each checked first."""

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        self.path = Path(path)
        self.where = f"{what} {str(self.path)!r}"
        self._handle, self._zip = _open_archive(self.path, what)
        try:
            self.members: dict[str, zipfile.ZipInfo] = {}
            for info in self._zip.infolist():
                if not info.filename.endswith(".npy"):
                    raise InputError(f"{self.where} holds {info.filename!r}, which is not a numpy array")
                name = info.filename[: -len(".npy")]
                if name in self.members:
                    raise InputError(f"{self.where} holds two arrays named {name!r}; expected each name once")
                self.members[name] = info
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, names: Iterable[str], *, limit: int | None = None,
             limit_name: str = "GRADCHECK_KIT_MAX_BYTES") -> dict[str, np.ndarray]:
        """The arrays ``names`` (those present): every header checked before any data is read, and
        decompression bounded by the shapes the headers declare."""
        limit = max_bytes() if limit is None else limit
        wanted = [self.members[n] for n in dict.fromkeys(names) if n in self.members]
        total = 0
        for info in wanted:
            total += _check_member(self._zip, info, self.where, total, limit, limit_name)
        expanded = sum(i.file_size for i in wanted)
        packed = max(sum(i.compress_size for i in wanted), 1)
        if len(wanted) > 1 and expanded > BOMB_BYTES and expanded > BOMB_RATIO * packed:
            raise InputError(
                f"{self.where}: its {len(wanted)} arrays expand from {_describe_bytes(packed)} to "
                f"{_describe_bytes(expanded)} ({expanded // packed}:1); refused as a decompression bomb"
            )
        arrays: dict[str, np.ndarray] = {}
        for info in wanted:
            name = info.filename[: -len(".npy")]
            try:
                with self._zip.open(info) as member:
                    # reads exactly the bytes the checked header declares, never more
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
            except Exception as exc:  # a corrupt stream (bad CRC, zlib or lzma error) found only while reading
                raise InputError(f"{self.where}: array {name!r} could not be read ({exc})") from None
        return arrays


def read_arrays(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    names: Collection[str] | None = None,
    max_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (only ``names``, when given; others are not decompressed), each
    validated before it is read.

    Raises `InputError` for: a missing or non-regular file (directory, pipe, socket, device), a pickle, a
    non-zip file, a truncated or corrupt archive, an encrypted member or one with an unknown compression,
    a member that is not an ``.npy`` array, object (pickled) arrays, a header whose shape does not match
    the member's size, a decompression bomb, or more than ``max_bytes`` of declared data in the members
    read.
    """
    with _Archive(path, what) as archive:
        return archive.read(archive.members if names is None else names, limit=max_bytes)


def write_atomically(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a new file beside ``path``, then rename it over ``path``: a reader never sees
    half a file, a failed or interrupted write leaves the old file as it was, and a file that is also
    being read (an input of the same command) is not truncated under its reader. A symbolic link is
    followed, and an existing file keeps its permissions; a path that exists but is not a regular file
    (``/dev/null``, a pipe) is written in place."""
    path = Path(path)
    try:
        mode: int | None = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with path.open("wb") as handle:
            write(handle)
        return path
    target = path.resolve() if path.is_symlink() else path
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # created with 0o666 so the umask applies, as for any new file; O_EXCL: never someone else's file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _save_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> Path:
    path = Path(path)
    path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")  # as numpy.savez names it
    return write_atomically(path, lambda handle: np.savez(handle, **arrays))


def _is_path(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


def save_batch(path: str | os.PathLike[str], X: np.ndarray, y: np.ndarray) -> Path:
    """Write a batch as an ``.npz`` with arrays ``X`` and ``y`` (the CLI's ``--batch``)."""
    if not _is_path(path):
        got = f"an array of shape {path.shape}" if hasattr(path, "shape") else f"a {type(path).__name__}"
        later = next((repr(str(v)) for v in (X, y) if _is_path(v)), None)
        raise InputError(f"save_batch takes the path first, save_batch(path, X, y), but got {got} as the path"
                         + (f" and the path {later} after it" if later else "")
                         + f"; call save_batch({later or repr('batch.npz')}, X, y)")
    path = Path(path)
    X, y = np.asarray(X), np.asarray(y)
    if object in (X.dtype, y.dtype):
        raise InputError("save_batch: X and y must be numeric arrays, not object arrays")
    return _save_npz(path, {"X": X, "y": y})


def load_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a batch written by `save_batch` (arrays ``X`` and ``y``), without unpickling; other arrays
    in the file are not read."""
    with _Archive(path, "batch") as archive:
        missing = [k for k in ("X", "y") if k not in archive.members]
        if missing:
            raise InputError(
                f"batch {str(path)!r} has arrays {sorted(archive.members)}; expected 'X' and 'y' (missing {missing})"
            )
        arrays = archive.read(("X", "y"))
    return arrays["X"], arrays["y"]


# -- models ---------------------------------------------------------------------------------------
def _param_slots(model: Any) -> list[Slot]:
    """A ``params`` dict's arrays, else the model's float array attributes, else the float arrays held by
    what it holds (a list of layers, ``gk.layered(...)``, a network keeping its layers): ``[0].W``."""
    if isinstance(model, LayeredModel):  # named as the list it was made from, so either loads the other's file
        model = model.layers
    found = container_slots(model)
    if found is not None:
        return found[1]
    return array_attributes(model) or list(find_arrays(model))


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


def _own_factory(model: Any) -> str:
    """The import spec of the model's own class, checked to import back to it; refused for what has no
    class of its own to rebuild it from (a list of layers) or a class only the running script has."""
    cls = type(model)
    if isinstance(model, list | tuple | LayeredModel):
        what = "gk.layered(...)" if isinstance(model, LayeredModel) else f"a {cls.__name__} of layers"
        raise InputError(
            f"save_model: {what} has no class of its own to rebuild it from; pass factory='path/to/file.py:make_net' "
            "(or 'package.module:make_net'), a function of yours that builds the same layers, and args/kwargs for it"
        )
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
    return factory


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
    if _is_path(model) and not _is_path(path):
        raise InputError(f"save_model takes the model first, save_model(model, path), but got the path {str(model)!r} "
                         f"first and a {type(path).__name__} second; call save_model(model, {str(model)!r})")
    cls = type(model)
    # constructor arguments are read back from the object only when the factory is its own class
    own_class = factory is None or factory.rpartition(":")[2] == cls.__qualname__
    if factory is None:
        factory = _own_factory(model)
    if kwargs is None:
        kwargs = _constructor_kwargs(model) if own_class else {}
    kwargs = dict(kwargs)
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
    payload: dict[str, Any] = {**arrays, META_KEY: np.array(json.dumps(meta))}
    return _save_npz(path, payload)


def _refused_name(name: str) -> bool:
    """Whether the dotted ``name`` is, or lies inside, a module of `REFUSED_MODULES`."""
    parts = name.split(".")
    return any(".".join(parts[:k]) in REFUSED_MODULES for k in range(1, len(parts) + 1))


def _origins(target: Any) -> list[str]:
    """Dotted names saying where a callable comes from: its module, its module-qualified name, and for
    a bound method or another callable object, the module of what it is bound to or its type."""
    names: list[str] = []
    module = getattr(target, "__module__", None)
    if isinstance(module, str):
        names += [module, f"{module}.{getattr(target, '__qualname__', '')}"]
    owner = getattr(target, "__self__", None)
    if isinstance(owner, types.ModuleType):  # a builtin function: os.system's owner is posix
        names.append(owner.__name__)
    elif isinstance(owner, type):  # a classmethod such as Net.from_config
        names.append(owner.__module__)
    elif owner is not None:  # a method bound to an object: an open file's write
        names.append(type(owner).__module__)
    if not isinstance(target, (type, types.FunctionType, types.MethodType)):
        names.append(type(target).__module__)  # functools.partial, operator.methodcaller, builtins
    return names


def _refuse(spec: str, culprit: str, where: str | None = None) -> InputError:
    subject = f"{where} records the factory {spec!r}, which" if where else f"import spec {spec!r}"
    return InputError(
        f"{subject} names {culprit}, from a module whose callables can run commands, evaluate or import "
        f"code, touch files or end the process; refused always, even when trusted: a model factory is a "
        f"class or function of yours that builds the network"
    )


def _is_file_spec(module_part: str) -> bool:
    return module_part.endswith(".py") or os.sep in module_part or "/" in module_part


def _check_spec_allowed(spec: str, where: str | None = None) -> None:
    """Refuse, without importing anything, a spec whose module part is refused always."""
    module_part, _, attr = spec.rpartition(":")
    if not _is_file_spec(module_part) and (
        _refused_name(module_part) or f"{module_part}.{attr}" in _REFUSED_CALLABLES
    ):
        raise _refuse(spec, f"{module_part}.{attr}", where)


def resolve_factory(spec: str) -> Any:
    """Import ``package.module:Name`` or ``path/to/file.py:Name`` (dotted names allowed after the colon).

    This imports and runs the named module's code. Callables from `REFUSED_MODULES` (builtins, os, sys,
    subprocess, shutil, importlib, pickle, marshal, ctypes, runpy, code, ...) and the file-reading and
    -writing functions of numpy, pandas and torch are refused, before importing where the spec's module
    already says so.
    """
    if ":" not in spec:
        raise InputError(f"import spec {spec!r} has no ':'; expected 'package.module:Name' or 'path/to/file.py:Name'")
    module_part, _, attr = spec.rpartition(":")
    if not module_part or not attr:
        raise InputError(f"import spec {spec!r}; expected 'package.module:Name' or 'path/to/file.py:Name'")
    _check_spec_allowed(spec)
    is_file = _is_file_spec(module_part)
    try:
        if is_file:
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
        top = module_part.partition(".")[0]
        if isinstance(exc, ModuleNotFoundError) and exc.name is not None and exc.name.partition(".")[0] == top:
            raise InputError(
                f"import spec {spec!r}: no module {exc.name!r} on Python's import path (searched from "
                f"{os.getcwd()}); run the command from the folder that holds it, add that folder to PYTHONPATH, "
                f"or name the file: 'path/to/{module_part.replace('.', '/')}.py:{attr}'") from exc
        raise InputError(f"import spec {spec!r}: importing {module_part!r} raised {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        if part.startswith("__") and part.endswith("__"):  # __class__, __globals__, __builtins__: not a factory
            raise _refuse(spec, f"the special attribute {part}")
        if not hasattr(target, part):
            raise InputError(f"import spec {spec!r}: {module_part!r} has no attribute {part!r}")
        target = getattr(target, part)
        if isinstance(target, types.ModuleType) and _refused_name(target.__name__):
            raise _refuse(spec, f"the module {target.__name__}")
    if not callable(target):
        raise InputError(f"import spec {spec!r} names a {type(target).__name__}, not a class or function")
    for origin in _origins(target):
        if _refused_name(origin) or origin in _REFUSED_CALLABLES:
            raise _refuse(spec, f"{getattr(target, '__qualname__', type(target).__qualname__)} from {origin}")
    return target


def _build(factory: str, args: list[Any], kwargs: Mapping[str, Any]) -> Any:
    build = resolve_factory(factory)
    try:
        return build(*args, **kwargs)
    except Exception as exc:
        raise InputError(
            f"building the model with {factory}(*{args}, **{dict(kwargs)}) raised {type(exc).__name__}: {exc}"
        ) from exc


def _parse_metadata(archive: _Archive) -> dict[str, Any]:
    """The model metadata of ``archive``, every field checked for its JSON type; nothing imported."""
    where = archive.where
    if META_KEY not in archive.members:
        raise InputError(
            f"{where} has no gradcheck_kit metadata; save it with gradcheck_kit.save_model, or pass an "
            f"import spec with --weights"
        )
    raw = archive.read([META_KEY], limit=META_MAX_BYTES, limit_name="model metadata")[META_KEY]
    if raw.dtype.kind != "U" or raw.shape != ():
        raise InputError(
            f"{where}: its metadata is a {raw.dtype} array of shape {raw.shape}; expected one JSON string"
        )
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{where}: its metadata is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise InputError(f"{where}: unrecognised metadata; expected format {MODEL_FORMAT!r}")
    expected = {
        "factory": (str, "an import spec string 'package.module:Name'"),
        "args": (list, "a JSON list of constructor arguments"),
        "kwargs": (dict, "a JSON object of constructor arguments"),
        "params": (list, "a JSON list of parameter names"),
    }
    meta.setdefault("args", [])
    meta.setdefault("kwargs", {})
    meta.setdefault("params", [k[len(PARAM_PREFIX) :] for k in archive.members if k.startswith(PARAM_PREFIX)])
    for key, (kind, description) in expected.items():
        value = meta.get(key)
        if not isinstance(value, kind):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise InputError(
                f"{where}: metadata {key!r} is {type(value).__name__} {shown}; expected {description}"
            )
    if ":" not in meta["factory"]:
        raise InputError(
            f"{where}: metadata 'factory' is {meta['factory']!r}; expected an import spec 'package.module:Name'"
        )
    if not all(isinstance(name, str) for name in meta["params"]):
        raise InputError(f"{where}: metadata 'params' holds non-strings; expected a JSON list of parameter names")
    return meta


def model_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a model file written by `save_model` records — ``factory`` (the import spec it would run),
    ``args``, ``kwargs``, ``params`` — read and type-checked without importing anything: the way to see
    what ``trusted=`` would allow before allowing it."""
    with _Archive(path, "model") as archive:
        return _parse_metadata(archive)


def _check_trust(factory: str, trusted: bool | Collection[str], where: str) -> None:
    if isinstance(trusted, bool):
        allowed: tuple[str, ...] = ()
        if trusted:
            return
    elif isinstance(trusted, str):
        allowed = (trusted,)
    elif isinstance(trusted, Collection) and all(isinstance(name, str) for name in trusted):
        allowed = tuple(trusted)
    else:
        raise InputError(
            f"trusted={trusted!r}; expected True, False, or a list of 'module:callable' names to allow"
        )
    if factory in allowed:
        return
    raise InputError(
        f"{where} records the factory {factory!r}, and loading it would import and run that code; refused, "
        f"because a model file is code, not data. If you trust it, pass trusted=[{factory!r}] (or "
        f"trusted=True); or name the code yourself: load_model(factory={factory!r}, weights=...)",
        option="trusted",
    )


def _some(names: list[str], shown: int = 8) -> str:
    """A list of names for a message: all of a short one, the first ``shown`` and a count otherwise."""
    if len(names) <= shown:
        return str(names)
    return f"{str(names[:shown])[:-1]}, ... ({len(names)} in all)]"


def _assign(model: Any, archive: _Archive, source: str, *, prefixed_only: bool) -> Any:
    """Read from ``archive`` exactly the arrays the model's parameters need and write them in.

    A parameter ``W1`` is the array ``param/W1`` (a model file), or ``W1`` (a plain weights file, when
    not ``prefixed_only``); names are matched from the zip directory before anything is decompressed.
    """
    available: dict[str, str] = {}
    for member in archive.members:
        if member == META_KEY:
            continue
        if member.startswith(PARAM_PREFIX):
            name = member[len(PARAM_PREFIX) :]
        elif prefixed_only:
            continue
        else:
            name = member
        if name in available:
            raise InputError(f"{source} holds both {name!r} and {PARAM_PREFIX + name!r}; expected one of them")
        available[name] = member
    slots = {s.name: s for s in _param_slots(model)}
    missing = sorted(set(slots) - set(available))
    extra = sorted(set(available) - set(slots))
    if missing or extra:
        raise InputError(
            f"{source} does not match the model: "
            + "; ".join(
                part
                for part in (
                    f"the model has {_some(missing)} that the file lacks" if missing else "",
                    f"the file has {_some(extra)} that the model lacks" if extra else "",
                )
                if part
            )
        )
    read = archive.read([available[name] for name in slots])
    params = {name: read[available[name]] for name in slots}
    for name, array in params.items():
        current = np.asarray(slots[name].read())
        if array.shape != current.shape:
            raise InputError(f"{source}: {name!r} has shape {array.shape} but the model's is {current.shape}")
        if array.dtype.kind != "f":
            raise InputError(f"{source}: {name!r} has dtype {array.dtype}; expected a float array")
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise InputError(f"{source}: {name!r} has {bad} non-finite value(s) (NaN or inf); expected finite weights")
    for name, array in params.items():
        slots[name].write(np.array(array))
    return model


def load_model(
    path: str | os.PathLike[str] | None = None,
    *,
    trusted: bool | Collection[str] = False,
    factory: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    args: list[Any] | tuple[Any, ...] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """Rebuild a model saved by `save_model`, or build one from ``factory`` and load ``weights``.

    A model file is code: it records the import spec of the factory that rebuilds the model, and
    loading it imports and runs that factory. So by default nothing a file names is imported:
    ``load_model("model.npz")`` raises `InputError` naming the recorded factory.

    Parameters
    ----------
    path
        A model ``.npz`` written by `save_model`.
    trusted
        Which factory recorded in ``path`` may be imported and run: ``False`` (default) none,
        ``True`` whatever the file records, or a list of ``"module:callable"`` names allowed
        (``["mypkg.nets:Net"]``), compared exactly with the recorded spec (`model_metadata` shows it).
        Factories from `REFUSED_MODULES` are refused even when trusted.
    factory
        An import spec you name yourself (``"pkg.mod:make_net"`` or ``"path/to/file.py:make_net"``):
        builds the model instead of the file's factory, with no need for ``trusted``.
    weights
        With ``factory`` and no ``path``: an ``.npz`` of parameter name → array, or a model file
        written by `save_model` (its metadata is then read as data: its ``args``/``kwargs`` are passed
        when ``factory`` names a callable of the same name as the recorded one).
    args, kwargs
        Constructor arguments (JSON values); default: those recorded in the file, if any.

    Only the arrays the model's parameters need are read; names, shapes and dtypes must match, and
    the weights must be finite.
    """
    if path is not None:
        with _Archive(path, "model") as archive:
            meta = _parse_metadata(archive)
            if factory is None:
                _check_spec_allowed(meta["factory"], archive.where)
                _check_trust(meta["factory"], trusted, archive.where)
            model = _build(
                factory or meta["factory"],
                list(meta["args"] if args is None else args),
                dict(meta["kwargs"] if kwargs is None else kwargs),
            )
            return _assign(model, archive, archive.where, prefixed_only=True)
    if factory is None or weights is None:
        raise InputError("load_model needs a saved model path, or both factory= and weights=")
    with _Archive(weights, "weights") as archive:
        if META_KEY in archive.members and args is None and kwargs is None:
            meta = _parse_metadata(archive)
            if meta["factory"].rpartition(":")[2] == factory.rpartition(":")[2]:
                args, kwargs = meta["args"], meta["kwargs"]
        model = _build(factory, list(args or ()), dict(kwargs or {}))
        return _assign(model, archive, archive.where, prefixed_only=False)


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
