"""Analysis with known answers on the phantom."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vtkdicom_app as vda
from vtkdicom_app.analysis import angle, connected_components, distance, histogram, line_profile, plot_histogram, region_stats, resample_isotropic
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.phantom import PhantomOrientation

PV: dict[str, Any] = dict(rows=96, columns=96, slices=64, pixel_spacing=(2.0, 2.0), slice_spacing=2.5, partial_volume=True)


@pytest.fixture(scope="module")
def phantom(phantom_factory: Any) -> tuple[vda.Volume, Any]:
    ph = phantom_factory(**PV, orientation=PhantomOrientation.OBLIQUE, noise_sd=5.0)
    return vda.load(ph.outdir), ph.spec


def test_sphere_volume_by_threshold_within_one_percent(phantom: Any) -> None:
    vol, spec = phantom
    mid = (spec.body_hu + spec.sphere_hu) / 2
    stats = region_stats(vol, sphere=(spec.sphere_center, spec.sphere_radius * 1.3), lower=mid)
    assert stats.volume_mm3 == pytest.approx(spec.sphere_volume_mm3, rel=0.01)


def test_body_mean_equals_the_phantom_value_within_noise(phantom: Any) -> None:
    vol, spec = phantom
    # a box inside the body, away from lungs, spine, sphere and marker
    c = np.array([0.0, 0.1 * spec.field_of_view_mm, 0.0])
    half = np.array([0.04, 0.02, 0.1]) * spec.field_of_view_mm
    c[0] = 0.13 * spec.field_of_view_mm
    stats = region_stats(vol, box=(c - half, c + half))
    assert stats.count > 50
    assert stats.mean == pytest.approx(spec.body_hu, abs=3 * 5.0 / math.sqrt(stats.count) + 0.5)
    assert stats.std == pytest.approx(5.0, rel=0.3)
    assert stats.percentiles[50.0] == pytest.approx(spec.body_hu, abs=3)


def test_measurements_are_exact() -> None:
    assert distance((0, 0, 0), (3, 4, 12)) == 13.0
    assert angle((1, 0, 0), (0, 0, 0), (0, 2, 0)) == pytest.approx(90.0)
    assert angle((1, 1, 0), (0, 0, 0), (1, 0, 0)) == pytest.approx(45.0)


def test_profile_crosses_the_sphere(phantom: Any) -> None:
    vol, spec = phantom
    c = np.asarray(spec.sphere_center)
    r = spec.sphere_radius
    d, values = line_profile(vol, c - [1.5 * r, 0, 0], c + [1.5 * r, 0, 0])
    inside = d[values > (spec.body_hu + spec.sphere_hu) / 2]
    assert inside.max() - inside.min() == pytest.approx(2 * r, abs=2 * max(vol.spacing))


def test_isotropic_resampling_keeps_geometry(phantom: Any) -> None:
    vol, spec = phantom
    iso = resample_isotropic(vol)
    assert iso.spacing[0] == iso.spacing[1] == iso.spacing[2] == pytest.approx(min(vol.spacing))
    np.testing.assert_allclose(iso.origin, vol.origin)
    np.testing.assert_allclose(iso.direction, vol.direction)
    np.testing.assert_allclose(iso.field_of_view, vol.field_of_view, atol=max(vol.spacing))
    assert iso.value_at(spec.sphere_center) == pytest.approx(spec.sphere_hu, abs=20)


def test_connected_components_of_bone(phantom: Any) -> None:
    vol, spec = phantom
    comps, labels = connected_components(vol, lower=(spec.body_hu + spec.sphere_hu) / 2)
    assert len(comps) >= 2 and labels.shape == vol.shape
    biggest = comps[0]
    assert biggest.volume_mm3 == pytest.approx(spec.sphere_volume_mm3, rel=0.02)
    np.testing.assert_allclose(biggest.centroid, spec.sphere_center, atol=max(vol.spacing))
    marker = min(comps, key=lambda c: distance(c.centroid, spec.marker_center))
    assert marker.centroid[0] > 0  # on the patient's left


def test_histogram_and_plot(phantom: Any, tmp_path: Path) -> None:
    vol, _ = phantom
    counts, edges = histogram(vol, bins=64)
    assert counts.sum() == vol.array.size and len(edges) == 65
    out = plot_histogram(vol, tmp_path / "h.png")
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(VtkDicomError, match="no voxel"):
        region_stats(vol, lower=1e9)
