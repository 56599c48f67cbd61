"""A corpus of broken files: each gives exit code 2 and one line, within bounded memory and time, and
nothing in a data file is ever executed."""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import load_batch, read_arrays, save_batch, save_model, write_atomically
from tests import models
from tests.models import data

ROOT = Path(__file__).resolve().parent.parent


def npy_header(shape, dtype="<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_member(path, name, header, payload_chunks, compress=True):
    """An archive with the hostile member ``name`` beside a good ``y``, so only that member is at fault."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=mode) as z:
        with z.open(name, "w", force_zip64=True) as member:
            member.write(header)
            for chunk in payload_chunks:
                member.write(chunk)
        z.writestr("y.npy", npy(np.zeros(4, dtype=np.int64)))


def raw_zip(path, members):
    """A zip written byte by byte, so its fields can say what zipfile would never write.

    ``members``: (name, data as stored, crc32, uncompressed size, method, flags) each.
    """
    out, central = bytearray(), bytearray()
    for name, stored, crc, size, method, flags in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(stored), size,
                           len(encoded), 0) + encoded + stored
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc,
                               len(stored), size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                                 len(out), 0)
    Path(path).write_bytes(bytes(out))


def stored(name, data, method=zipfile.ZIP_STORED, flags=0):
    return (name, data, zlib.crc32(data), len(data), method, flags)


def deflated(name, data):
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (name, packer.compress(data) + packer.flush(), zlib.crc32(data), len(data), zipfile.ZIP_DEFLATED, 0)


def corrupt_member(path, compression, name="X.npy"):
    """An npz whose member ``name`` is written with ``compression`` and then has its compressed stream
    scrambled past the .npy header (the header still reads; the data does not)."""
    X, y = data()
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        z.writestr("X.npy", npy(np.random.default_rng(0).normal(size=(64, 64))))
        z.writestr("y.npy", npy(y))
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    raw = bytearray(Path(path).read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(40, min(info.compress_size, 400)):
        raw[start + k] ^= 0x5A
    Path(path).write_bytes(bytes(raw))


def with_metadata(source, target, **fields):
    """A copy of the model file ``source`` whose metadata has ``fields`` replaced (None: removed)."""
    with np.load(source, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__gradcheck_kit__"]))
    meta.update(fields)
    arrays["__gradcheck_kit__"] = np.array(json.dumps({k: v for k, v in meta.items() if v is not None}))
    np.savez(target, **arrays)


#: One member of the split bomb: 15 MiB of zeros (an .npy of float64), deflated to about 15 KiB.
SPLIT_MEMBER = npy_header((15 * 1024**2 // 8 - 16,)) + b"\0" * (15 * 1024**2 - 128)
SPLIT_MEMBERS = 130


def split_bomb(path, *, extra=(), prefix=""):
    """130 members of 15 MiB each — each under the one-member bomb threshold — plus ``extra`` members:
    1.9 GiB declared, about 2 MiB on disk."""
    pad = deflated("pad.npy", SPLIT_MEMBER)
    raw_zip(path, [*extra, *((f"{prefix}pad{k}.npy", *pad[1:]) for k in range(SPLIT_MEMBERS))])


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    X, y = data()
    save_model(models.MLP(), d / "model.npz")
    save_batch(d / "batch.npz", X, y)
    good = (d / "batch.npz").read_bytes()
    files = {
        "truncated.npz": good[: len(good) // 2],
        "wrong_magic.npz": b"GIF89a" + good[6:],
        "empty.npz": b"",
        "pickle.npz": pickle.dumps(Exploit()),
    }
    for name, content in files.items():
        (d / name).write_bytes(content)
    np.savez(d / "object_array.npz", X=np.array([Exploit()], dtype=object), y=np.zeros(1))
    np.savez(d / "wrong_keys.npz", inputs=X, labels=y)
    np.savez(
        d / "nan_weights.npz", **{k: np.where(np.ones_like(v, bool), np.nan, v) for k, v in models.MLP().params.items()}
    )
    # a header declaring 8 TB of float64 with 16 bytes of data
    write_member(d / "huge_shape.npz", "X.npy", npy_header((10**12,)), [b"\0" * 16])
    # a header whose shape disagrees with its data
    write_member(d / "short_data.npz", "X.npy", npy_header((1000,)), [b"\0" * 80])
    # a decompression bomb: 512 MiB of zeros that compress to well under a megabyte
    chunk = b"\0" * (16 * 1024**2)
    write_member(d / "bomb.npz", "X.npy", npy_header((512 * 1024**2 // 8,)), [chunk] * 32)

    # zip members a numpy.savez archive never has
    good_members = [stored("X.npy", npy(X)), stored("y.npy", npy(y))]
    raw_zip(d / "encrypted.npz", [stored("X.npy", npy(X), flags=0x1), good_members[1]])
    raw_zip(d / "method99.npz", [stored("X.npy", npy(X), method=99), good_members[1]])
    name, packed, crc, size, method, flags = deflated("X.npy", npy(X))
    raw_zip(d / "bad_crc.npz", [(name, packed, crc ^ 0xFFFF, size, method, flags), good_members[1]])
    corrupt_member(d / "deflate_corrupt.npz", zipfile.ZIP_DEFLATED)
    corrupt_member(d / "lzma_corrupt.npz", zipfile.ZIP_LZMA)
    corrupt_member(d / "bzip2_corrupt.npz", zipfile.ZIP_BZIP2)
    raw_zip(d / "twice_X.npz", [*good_members, stored("X.npy", npy(X[:2]))])
    # not regular files: a FIFO nobody writes to, a socket, a directory
    os.mkfifo(d / "fifo.npz")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(d / "socket.npz"))
    (d / "directory.npz").mkdir()
    # model metadata of the wrong types, or not what save_model writes
    for name, fields in {
        "args_int.npz": {"args": 5},
        "args_dict.npz": {"args": {"a": 1}},
        "kwargs_list.npz": {"kwargs": [1, 2]},
        "kwargs_str.npz": {"kwargs": "sizes"},
        "params_int.npz": {"params": 3},
        "factory_list.npz": {"factory": ["os", "system"]},
        "factory_no_colon.npz": {"factory": "tests.models.MLP"},
    }.items():
        with_metadata(d / "model.npz", d / name, **fields)
    with np.load(d / "model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(d / "meta_numbers.npz", **{**arrays, "__gradcheck_kit__": np.zeros(3)})
    np.savez(d / "meta_deep.npz", **{**arrays, "__gradcheck_kit__": np.array("[" * 100_000 + "]" * 100_000)})
    np.savez(d / "meta_huge.npz", **{**arrays, "__gradcheck_kit__": np.array(" " * (2 * 1024**2) + "{}")})
    # the split bomb beside a good batch, and as a model's and weights' extra arrays
    split_bomb(d / "split_bomb.npz", extra=good_members)
    model_members = [stored(f"{k}.npy", npy(v)) for k, v in arrays.items()]
    split_bomb(d / "split_bomb_model.npz", extra=model_members, prefix="param/")
    split_bomb(d / "split_bomb_weights.npz", extra=[stored(f"{k}.npy", npy(v)) for k, v in models.MLP().params.items()])
    return d


CASES = [
    ("truncated.npz", "batch", "corrupt or truncated"),
    ("wrong_magic.npz", "batch", "is not an .npz file"),
    ("empty.npz", "batch", "is not an .npz file"),
    ("pickle.npz", "batch", "is a Python pickle; refused"),
    ("object_array.npz", "batch", "holds Python objects"),
    ("wrong_keys.npz", "batch", "expected 'X' and 'y'"),
    ("huge_shape.npz", "batch", "the limit is"),
    ("short_data.npz", "batch", "truncated or corrupt"),
    ("bomb.npz", "batch", "decompression bomb"),
    ("nan_weights.npz", "weights", "non-finite value(s)"),
    ("pickle.npz", "model", "is a Python pickle; refused"),
    ("batch.npz", "model", "has no gradcheck_kit metadata"),
    # issue 12, item 5: each used to end in a raw exception (exit 3), a hang, or 1.9 GiB of memory
    ("encrypted.npz", "batch", "array 'X' is encrypted; expected a plain numpy.savez archive"),
    ("method99.npz", "batch", "array 'X' uses zip compression method 99; expected stored or deflated"),
    ("bad_crc.npz", "batch", "Bad CRC-32"),
    ("deflate_corrupt.npz", "batch", "member 'X' is not a readable array (Error -3 while decompressing"),
    ("lzma_corrupt.npz", "batch", "member 'X' is not a readable array (Corrupt input data)"),
    ("bzip2_corrupt.npz", "batch", "member 'X' is not a readable array (Invalid data stream)"),
    ("twice_X.npz", "batch", "holds two arrays named 'X'; expected each name once"),
    ("fifo.npz", "batch", "is a named pipe (FIFO); expected an .npz file"),
    ("socket.npz", "batch", "is a socket; expected an .npz file"),
    ("directory.npz", "batch", "is a directory; expected an .npz file"),
    ("/proc/self/mem", "batch", "cannot be read (Input/output error)"),
    ("fifo.npz", "model", "is a named pipe (FIFO)"),
    ("socket.npz", "weights", "is a socket"),
    ("args_int.npz", "model", "metadata 'args' is int 5; expected a JSON list of constructor arguments"),
    ("args_dict.npz", "model", "metadata 'args' is dict {'a': 1}; expected a JSON list"),
    ("kwargs_list.npz", "model", "metadata 'kwargs' is list [1, 2]; expected a JSON object of constructor"),
    ("kwargs_str.npz", "model", "metadata 'kwargs' is str 'sizes'; expected a JSON object"),
    ("params_int.npz", "model", "metadata 'params' is int 3; expected a JSON list of parameter names"),
    ("factory_list.npz", "model", "metadata 'factory' is list ['os', 'system']; expected an import spec"),
    ("factory_no_colon.npz", "model", "metadata 'factory' is 'tests.models.MLP'; expected an import spec"),
    ("meta_numbers.npz", "model", "its metadata is a float64 array of shape (3,); expected one JSON string"),
    ("meta_deep.npz", "model", "its metadata is not valid JSON (RecursionError"),
    ("meta_huge.npz", "model", "the limit is 1.0 MiB (model metadata)"),
    ("args_int.npz", "trusted-model", "metadata 'args' is int 5"),
    ("split_bomb_model.npz", "trusted-model", "the file has ['pad0', 'pad1',"),
    ("split_bomb_weights.npz", "weights", "the file has ['pad0', 'pad1',"),
]


@pytest.mark.parametrize(("name", "role", "message"), CASES)
def test_broken_file_exits_2_with_one_line_quickly(corpus, name, role, message):
    args = {
        "batch": ["report", "model.npz", "--trust", "--batch", name],
        "model": ["report", name, "--batch", "batch.npz"],
        "trusted-model": ["report", name, "--trust", "--batch", "batch.npz"],
        "weights": ["report", "tests.models:MLP", "--weights", name, "--batch", "batch.npz"],
    }[role]
    if name.startswith("/proc/") and not Path(name).exists():
        pytest.skip(f"no {name} here")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "gradcheck_kit", *args], cwd=corpus, env=env, capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - start
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert elapsed < 20
    assert not (corpus / "PWNED").exists()


def test_refusals_allocate_little(corpus):
    import tracemalloc

    for name in ("bomb.npz", "huge_shape.npz", "short_data.npz"):
        tracemalloc.start()
        with pytest.raises(gk.InputError):
            read_arrays(corpus / name)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 8 * 1024**2, (name, peak)


def test_the_bomb_really_is_one(corpus):
    info = zipfile.ZipFile(corpus / "bomb.npz").infolist()[0]
    assert info.file_size > 500 * info.compress_size


def test_the_split_bomb_is_what_the_issue_measured(corpus):
    with zipfile.ZipFile(corpus / "split_bomb.npz") as z:
        infos = z.infolist()
    assert len(infos) == SPLIT_MEMBERS + 2
    pads = [i for i in infos if i.filename.startswith("pad")]
    assert all(i.file_size == 15 * 1024**2 for i in pads)
    assert sum(i.file_size for i in pads) > 1.8 * 1024**3
    assert (corpus / "split_bomb.npz").stat().st_size < 3 * 1024**2


def test_a_batch_beside_a_split_bomb_reads_only_X_and_y(corpus, monkeypatch):
    """Before: every member was read first (RSS +1.9 GiB, 10 s). After: only X.npy and y.npy are opened."""
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    X, y = load_batch(corpus / "split_bomb.npz")
    assert set(opened) == {"X.npy", "y.npy"}
    np.testing.assert_array_equal(X, data()[0])


def peak_rss_of_report(corpus, batch):
    """The real command in a child process; its exit code and peak RSS as the kernel measured it (Linux: KiB)."""
    code = (
        "import resource, sys\n"
        "from gradcheck_kit.cli import main\n"
        f"code = main(['report', 'model.npz', '--trust', '--batch', {batch!r}, '-q'])\n"
        "print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=corpus, env=env, capture_output=True, text=True, timeout=60)
    exit_code, peak_kib = map(int, r.stdout.split()[-2:])
    assert exit_code == 0, r.stderr
    return peak_kib


def test_the_command_on_a_split_bomb_stays_small(corpus):
    """Against the same command on the plain batch in the same environment: reading every member costs +1.9 GiB."""
    baseline = peak_rss_of_report(corpus, "batch.npz")
    bomb = peak_rss_of_report(corpus, "split_bomb.npz")
    assert bomb - baseline < 100 * 1024, (bomb, baseline)


def test_reading_every_member_of_a_split_bomb_is_refused_unread(corpus):
    tracemalloc = pytest.importorskip("tracemalloc")
    tracemalloc.start()
    with pytest.raises(gk.InputError, match=r"its 132 arrays expand from .* refused as a decompression bomb"):
        read_arrays(corpus / "split_bomb.npz")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 1024**2, peak


def test_a_fifo_swapped_in_after_the_check_does_not_block(corpus):
    """The stat check says 'regular file', then the path is a FIFO: opening must neither wait for a
    writer nor read it (a child process, so a regression fails on the timeout instead of hanging)."""
    code = (
        "import pathlib, stat, os\n"
        "from gradcheck_kit import InputError\n"
        "from gradcheck_kit.io import load_batch\n"
        "real = pathlib.Path.stat\n"
        "class Regular:\n"
        "    st_mode = stat.S_IFREG | 0o644\n"
        "pathlib.Path.stat = lambda self, **kw: Regular() if self.name == 'fifo.npz' else real(self, **kw)\n"
        "try:\n"
        "    load_batch('fifo.npz')\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], cwd=corpus, env=env, capture_output=True, text=True, timeout=30)
    assert "batch 'fifo.npz' is a named pipe (FIFO); expected an .npz file" in r.stdout, (r.stdout, r.stderr)


@pytest.fixture
def run_dir(tmp_path):
    X, y = data()
    save_model(models.MLP(), tmp_path / "model.npz")
    save_batch(tmp_path / "batch.npz", X, y)
    np.savez(tmp_path / "weights.npz", **models.MLP().params)
    (tmp_path / "net.py").write_text("from tests.models import MLP\n\ndef make_net():\n    return MLP()\n")
    (tmp_path / "link.npz").symlink_to(tmp_path / "batch.npz")
    return tmp_path


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gradcheck_kit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "victim", "role"),
    [
        (("model.npz", "--trust", "--batch", "batch.npz", "-o", "batch.npz"), "batch.npz", "--batch"),
        (("model.npz", "--trust", "--batch", "batch.npz", "-o", "model.npz"), "model.npz", "MODEL"),
        (("model.npz", "--trust", "--batch", "batch.npz", "--output", "./sub/../batch.npz"), "batch.npz", "--batch"),
        (("model.npz", "--trust", "--batch", "batch.npz", "-o", "link.npz"), "batch.npz", "--batch"),
        (("tests.models:MLP", "--weights", "weights.npz", "--batch", "batch.npz", "-o", "weights.npz"), "weights.npz",
         "--weights"),
        (("net.py:make_net", "--weights", "weights.npz", "--batch", "batch.npz", "-o", "net.py"), "net.py",
         "MODEL's Python"),
    ],
)
def test_output_onto_an_input_is_refused_and_the_input_kept(run_dir, args, victim, role):
    (run_dir / "sub").mkdir()
    before = (run_dir / victim).read_bytes()
    r = cli("report", *args, cwd=run_dir)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"is the {role} file" in lines[0] and "choose another file" in lines[0], r.stderr
    assert (run_dir / victim).read_bytes() == before


def test_output_replaces_a_file_whole_and_keeps_its_permissions(run_dir):
    out = run_dir / "report.txt"
    out.write_text("an older, longer report\n" * 100)
    out.chmod(0o600)
    r = cli("report", "model.npz", "--trust", "--batch", "batch.npz", "-q", "-o", out, cwd=run_dir)
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("OK:") and out.read_text().count("\n") == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []


def test_output_to_a_device_is_written_in_place(run_dir):
    r = cli("report", "model.npz", "--trust", "--batch", "batch.npz", "-q", "-o", os.devnull, cwd=run_dir)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")

    def write(handle):
        handle.write(b"half a rep")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_save_model_and_save_batch_write_atomically(tmp_path, monkeypatch):
    X, y = data()
    save_batch(tmp_path / "batch.npz", X, y)
    before = (tmp_path / "batch.npz").read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="No space left"):
        save_batch(tmp_path / "batch.npz", X + 1, y)
    assert (tmp_path / "batch.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["batch.npz"]
