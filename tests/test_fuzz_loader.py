"""Bounded fuzzing: mutated phantom files never crash scan/load with anything but our errors.

Loading must raise only VtkDicomError subclasses (or succeed, with warnings), never hang,
and never modify the input. Bounded in examples and time so CI stays fast.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vtkdicom_app as vda
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.phantom import MultiFrame, TransferSyntax, write_phantom

_SEEDS: dict[str, bytes] = {}


def _seeds(base: Path) -> dict[str, bytes]:
    """Small valid files of four encodings (written once per session)."""
    if _SEEDS:
        return _SEEDS
    out = _SEEDS
    variants = {
        "explicit": {},
        "implicit": {"transfer_syntax": TransferSyntax.IMPLICIT_LITTLE},
        "rle": {"transfer_syntax": TransferSyntax.RLE},
        "enhanced": {"multiframe": MultiFrame.ENHANCED},
    }
    for name, opts in variants.items():
        res = write_phantom(base / name, rows=8, columns=8, slices=2, pixel_spacing=(10.0, 10.0), slice_spacing=10.0, **opts)
        out[name] = res.files[0].read_bytes()
    return out


mutation = st.tuples(
    st.sampled_from(["explicit", "implicit", "rle", "enhanced"]),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(0, 4000)),
)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutation)
def test_mutated_files_raise_only_documented_errors(case, tmp_path_factory: pytest.TempPathFactory) -> None:
    name, flips, cut = case
    data = bytearray(_seeds(tmp_path_factory.getbasetemp() / "fuzz_seeds")[name])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    if cut is not None:
        data = data[:cut]
    folder = tmp_path_factory.mktemp("fuzz")
    target = folder / "f.dcm"
    target.write_bytes(bytes(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vda.scan(folder)
            vol = vda.load(folder)
        assert vol.array.ndim == 3
    except VtkDicomError:
        pass
    assert target.read_bytes() == bytes(data)  # input untouched
    shutil.rmtree(folder)
