"""A corpus of broken files: each gives exit code 2 and one line, within bounded memory and time, and
nothing in a data file is ever executed."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gradcheck_kit as gk
from gradcheck_kit.io import read_arrays, save_batch, save_model
from tests import models
from tests.models import data

ROOT = Path(__file__).resolve().parent.parent


def npy_header(shape, dtype="<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def write_member(path, name, header, payload_chunks, compress=True):
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=mode) as z:
        with z.open(name, "w", force_zip64=True) as member:
            member.write(header)
            for chunk in payload_chunks:
                member.write(chunk)


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
]


@pytest.mark.parametrize(("name", "role", "message"), CASES)
def test_broken_file_exits_2_with_one_line_quickly(corpus, name, role, message):
    args = {
        "batch": ["report", "model.npz", "--batch", name],
        "model": ["report", name, "--batch", "batch.npz"],
        "weights": ["report", "tests.models:MLP", "--weights", name, "--batch", "batch.npz"],
    }[role]
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
