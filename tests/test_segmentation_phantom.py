"""A CT series for the segmentation tests, written with pydicom: the project phantom plus a
table plate and a separate bone cylinder.

The model (LPS mm) is :func:`vtkdicom_app.phantom.phantom_values` on a 100 mm spec (elliptic
body, lungs, a 400 HU spine, a 2000 HU marker box on the patient's LEFT), with the bone
sphere made 20 mm in radius, plus what a real CT has and the project phantom does not:

* a table plate under the patient (posterior, +y), 1200 HU, the full length of the scan:
  a bone threshold catches it and it is the largest piece;
* a bone cylinder (700 HU, radius 5 mm, 60 mm long) apart from everything else.

Every voxel holds the model's value at its centre (no noise, no partial volume), so voxel
counts are known exactly. The tests here check the phantom itself.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from vtkdicom_app.phantom import make_spec, phantom_values

ROWS = COLUMNS = 160
SLICES = 110
PIXEL = 0.8
SLICE = 1.0
SPHERE_CENTER = np.array([0.0, -8.0, -5.0])
SPHERE_RADIUS = 20.0
TABLE = ((-55.0, 55.0), (36.0, 41.0))  # x and y ranges; all z
TABLE_HU = 1200.0
CYLINDER_AXIS = (-25.0, 15.0)  # x, y
CYLINDER_RADIUS = 5.0
CYLINDER_Z = (-30.0, 30.0)
CYLINDER_HU = 700.0


@dataclasses.dataclass
class SegPhantom:
    """What :func:`write_ct_with_table` wrote."""

    folder: Path
    files: list[Path]
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    sop_uids: list[str]
    spec: object

    @property
    def sphere_volume_mm3(self) -> float:
        return 4.0 / 3.0 * math.pi * SPHERE_RADIUS**3


def model_values(points: np.ndarray, spec: object) -> np.ndarray:
    """HU of the segmentation phantom at LPS points ``(..., 3)``."""
    out = phantom_values(points, spec)  # type: ignore[arg-type]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    (x0, x1), (y0, y1) = TABLE
    out[(x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)] = TABLE_HU
    cx, cy = CYLINDER_AXIS
    out[((x - cx) ** 2 + (y - cy) ** 2 <= CYLINDER_RADIUS**2) & (z >= CYLINDER_Z[0]) & (z <= CYLINDER_Z[1])] = CYLINDER_HU
    return out


def write_ct_with_table(folder: Path) -> SegPhantom:
    """Write the series (one file per axial slice, int16, explicit VR little endian)."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(make_spec(100.0), sphere_center=tuple(SPHERE_CENTER), sphere_radius=SPHERE_RADIUS)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    x0 = -(COLUMNS - 1) / 2 * PIXEL
    y0 = -(ROWS - 1) / 2 * PIXEL
    jj, ii = np.mgrid[0:ROWS, 0:COLUMNS].astype(np.float64)
    files: list[Path] = []
    sops: list[str] = []
    for k in range(SLICES):
        z = (k - (SLICES - 1) / 2) * SLICE
        pts = np.stack([x0 + ii * PIXEL, y0 + jj * PIXEL, np.full(ii.shape, z)], axis=-1)
        hu = np.rint(model_values(pts, spec)).astype(np.int16)
        ds = Dataset()
        sop = generate_uid()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.StudyDate = ds.SeriesDate = "20260101"
        ds.StudyTime = ds.SeriesTime = "120000"
        ds.AccessionNumber = "SEG1"
        ds.ReferringPhysicianName = ""
        ds.Modality = "CT"
        ds.Manufacturer = "vtkdicom_app test"
        ds.StudyDescription = "Segmentation phantom"
        ds.SeriesDescription = "CT with table"
        ds.PatientName = "Seg^Phantom"
        ds.PatientID = "SEG001"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyID = "1"
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.FrameOfReferenceUID = frame
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [f"{x0:.4f}", f"{y0:.4f}", f"{z:.4f}"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.PixelSpacing = [f"{PIXEL:g}", f"{PIXEL:g}"]
        ds.SliceThickness = f"{SLICE:g}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = ROWS, COLUMNS
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "HU"
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.PixelData = hu.tobytes()
        ds["PixelData"].VR = "OW"
        path = folder / f"IM{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
        sops.append(sop)
    return SegPhantom(folder, files, study, series, frame, sops, spec)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> SegPhantom:
    return write_ct_with_table(tmp_path_factory.mktemp("segphantom"))


def test_phantom_loads_with_its_model_values(written: SegPhantom) -> None:
    from vtkdicom_app.io.loader import load

    vol = load(written.folder)
    assert vol.shape == (SLICES, ROWS, COLUMNS)
    assert vol.metadata["FrameOfReferenceUID"] == written.frame_of_reference_uid
    # the marker (2000 HU) is on the patient's left (+x), the table posterior (+y)
    spec = written.spec
    assert vol.value_at(spec.marker_center) == 2000  # type: ignore[attr-defined]
    assert spec.marker_center[0] > 0  # type: ignore[attr-defined]
    assert vol.value_at((0.0, 38.0, 0.0)) == TABLE_HU
    assert vol.value_at((-25.0, 15.0, 0.0)) == CYLINDER_HU


def test_the_table_is_the_largest_bone_piece(written: SegPhantom) -> None:
    from scipy import ndimage

    from vtkdicom_app.io.loader import load

    vol = load(written.folder)
    labels, n = ndimage.label(vol.array >= 300)
    assert n == 5  # table, spine, sphere, marker, cylinder
    sizes = np.bincount(labels.ravel())[1:]
    largest = int(np.argmax(sizes)) + 1
    k, j, i = np.argwhere(labels == largest)[0]
    assert vol.array[k, j, i] == TABLE_HU
