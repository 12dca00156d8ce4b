"""MPR views rendered offscreen (letters, scale bar, crosshair) against PNG baselines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import vtkdicom_app as vda
from vtkdicom_app.mpr import MprCursor, Plane
from vtkdicom_app.rendering.slice_view import contact_sheet, render_slice

BASELINES = Path(__file__).resolve().parent / "baselines"
UPDATE = os.environ.get("VTKDICOM_APP_UPDATE_BASELINES") == "1"


def _compare(rgb: np.ndarray, name: str) -> None:
    path = BASELINES / f"{name}.png"
    if UPDATE:
        Image.fromarray(rgb).save(path)
        return
    assert path.exists(), f"missing baseline {path.name}; run with VTKDICOM_APP_UPDATE_BASELINES=1 and look at it"
    ref = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    assert ref.shape == rgb.shape
    diff = np.abs(ref - rgb.astype(np.int16))
    assert diff.mean() < 3.0 and np.percentile(diff, 99) < 60, (name, float(diff.mean()))


@pytest.fixture(scope="module")
def cursor(phantom_factory: Any) -> MprCursor:
    ph = phantom_factory(rows=64, columns=64, slices=48, pixel_spacing=(3.0, 3.0), slice_spacing=3.0)
    c = MprCursor(vda.load(ph.outdir))
    c.set_point(ph.spec.marker_center)
    return c


@pytest.mark.parametrize("plane", [Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL], ids=lambda p: p.value)
def test_slice_views_against_baselines(cursor: MprCursor, plane: Plane, tmp_path: Path) -> None:
    rgb = render_slice(cursor.slice(plane), tmp_path / "v.png", window=400, level=40, crosshair=cursor.point, size=(160, 160))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "v.png").convert("RGB")), rgb)
    _compare(rgb, f"mpr_{plane.value}")


def test_contact_sheet_against_baseline(cursor: MprCursor) -> None:
    slices = [cursor.slice(p) for p in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)]
    sheet = contact_sheet(slices, None, window=1800, level=400, crosshair=cursor.point, tile=128)
    _compare(sheet, "mpr_sheet_bone_window")
