"""The fast header reader (vtkdicom_app.io.header) on small files written with pydicom.

Every test writes real DICOM files in tmp_path and checks what ``read_header`` decodes
against the values written: attributes and their types, private elements with their
creators, the pixel data position (the bytes found there are the pixels written), and the
exceptions for input the reader must refuse or hand to pydicom.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from vtkdicom_app.io.header import (
    PRIVATE_OFFSETS,
    TS_EXPLICIT_LE,
    TS_IMPLICIT_LE,
    NeedsPydicom,
    NotDicom,
    is_gzip,
    open_dicom,
    private_key,
    read_header,
)
from vtkdicom_app.testing.images import write_image
from vtkdicom_app.testing.phantom import MultiFrame, write_phantom

PIXELS = (np.arange(12 * 20, dtype=np.uint16).reshape(12, 20) * 7) % 4096
ATTRS = dict(
    Modality="CT",
    PatientName="Doe^Jane",
    PatientID="P-42",
    ImageType=["ORIGINAL", "PRIMARY", "AXIAL"],
    ImagePositionPatient=["-12.5", "3", "100.25"],
    ImageOrientationPatient=[1, 0, 0, 0, 0, -1],
    PixelSpacing=["0.7", "0.9"],
    SliceThickness="2.5",
    InstanceNumber=17,
    SeriesNumber=4,
    RescaleIntercept="-1024",
    RescaleSlope="1.5",
    EchoTime="12.25",
    InstitutionName="Not wanted Hospital",  # not an attribute the loader reads
)


def _write(path: Path, **kwargs: object) -> Path:
    return write_image(path, PIXELS, **{**ATTRS, **kwargs})  # type: ignore[arg-type]


def _pixels_at(path: Path, offset: int, count: int) -> np.ndarray:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return np.frombuffer(fh.read(count * 2), "<u2")


# --- attributes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian], ids=["explicit", "implicit"])
def test_attributes_are_decoded_with_their_types(tmp_path: Path, syntax: str) -> None:
    path = _write(tmp_path / "a.dcm", transfer_syntax=syntax)
    h = read_header(path)
    t = h.tags
    assert h.transfer_syntax == syntax and h.has_meta and not h.enhanced and not h.gzipped
    assert (t["Rows"], t["Columns"]) == (12, 20)
    assert t["ImagePositionPatient"] == (-12.5, 3.0, 100.25)
    assert t["ImageOrientationPatient"] == (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    assert t["PixelSpacing"] == (0.7, 0.9)  # DICOM order: row spacing first
    assert t["SliceThickness"] == 2.5 and isinstance(t["SliceThickness"], float)
    assert t["InstanceNumber"] == 17 and isinstance(t["InstanceNumber"], int)
    assert (t["RescaleIntercept"], t["RescaleSlope"], t["EchoTime"]) == (-1024.0, 1.5, 12.25)
    assert t["ImageType"] == ("ORIGINAL", "PRIMARY", "AXIAL")
    assert (t["Modality"], t["PatientName"], t["PatientID"]) == ("CT", "Doe^Jane", "P-42")
    assert (t["BitsAllocated"], t["BitsStored"], t["PixelRepresentation"], t["SamplesPerPixel"]) == (16, 16, 0, 1)
    assert t["SOPInstanceUID"] == pydicom.dcmread(path).SOPInstanceUID
    assert t["MediaStorageSOPClassUID"] == t["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.7"
    assert "InstitutionName" not in t and t.get("InstitutionName", "absent") == "absent"


def test_pixel_offset_points_at_the_pixels_written(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm")
    h = read_header(path)
    assert h.pixel_length == PIXELS.nbytes and h.file_size == path.stat().st_size
    assert h.pixel_offset + h.pixel_length == h.file_size  # pixel data is the last element
    np.testing.assert_array_equal(_pixels_at(path, h.pixel_offset, PIXELS.size).reshape(12, 20), PIXELS)


def test_sequences_are_skipped_and_their_items_not_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    item.Rows = 999  # a wanted keyword, but nested: must not replace the top-level Rows
    ds.ReferencedImageSequence = DicomSequence([item])
    ds.save_as(path)
    undefined = tmp_path / "undefined.dcm"
    ds["ReferencedImageSequence"].is_undefined_length = True
    ds.save_as(undefined)
    assert b"\xfe\xff\xdd\xe0" in undefined.read_bytes()  # a sequence delimitation item was written
    for p in (path, undefined):
        h = read_header(p)
        assert h.tags["Rows"] == 12 and h.tags["PatientID"] == "P-42"
        np.testing.assert_array_equal(_pixels_at(p, h.pixel_offset, 20), PIXELS[0])


def test_lazy_tags_behave_as_a_dict(tmp_path: Path) -> None:
    tags = read_header(_write(tmp_path / "a.dcm")).tags
    n = len(tags)
    assert "Rows" in tags and "Nope" not in tags
    with pytest.raises(KeyError):
        _ = tags["Nope"]
    plain = tags.copy()
    assert type(plain) is dict and len(plain) == n and plain["PixelSpacing"] == (0.7, 0.9)
    assert dict(tags.items()) == plain and set(tags) == set(plain)


def test_invalid_numbers_stay_text_and_empty_numbers_are_none(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm", SliceThickness="1.23456", SpacingBetweenSlices="")
    raw = path.read_bytes()
    assert raw.count(b"1.23456 ") == 1
    path.write_bytes(raw.replace(b"1.23456 ", b"abc     "))  # same length: the file stays valid
    t = read_header(path).tags
    assert t["SliceThickness"] == "abc"
    assert t["SpacingBetweenSlices"] is None


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 100", "Müller^Jürgen"), ("ISO_IR 192", "Ŝmith^Ĵosé"), ("ISO_IR 144", "Иванов^Иван")],
)
def test_person_names_are_decoded_in_the_declared_character_set(tmp_path: Path, charset: str, name: str) -> None:
    path = _write(tmp_path / "a.dcm", SpecificCharacterSet=charset, PatientName=name)
    assert read_header(path).tags["PatientName"] == name


def test_an_unknown_character_set_is_handed_to_pydicom(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm", SpecificCharacterSet="ISO_IR 13")
    with pytest.raises(NeedsPydicom, match="character set"):
        read_header(path)


# --- private elements ---------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian], ids=["explicit", "implicit"])
def test_private_elements_are_captured_with_their_creators(tmp_path: Path, syntax: str) -> None:
    path = _write(tmp_path / "a.dcm", transfer_syntax=syntax)
    ds = pydicom.dcmread(path)
    siemens = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)  # block 0x10: elements 0x10xx
    siemens.add_new(0x0A, "US", 24)
    siemens.add_new(0x0B, "US", 5)  # an offset the loader does not read
    ge = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)  # second block: elements 0x11xx
    ge.add_new(0xBB, "DS", "0.5")
    ds.private_block(0x0011, "OTHER VENDOR", create=True).add_new(0x0A, "LO", "ignored")
    ds.save_as(path)
    t = read_header(path).tags
    assert t[private_key(0x0019, 0x0010)] == "SIEMENS MR HEADER"
    assert t[private_key(0x0019, 0x0011)] == "GEMS_ACQU_01"
    assert t["_pgroups"] == {0x0019}
    assert private_key(0x0019, 0x100B) not in t
    assert not any(k.startswith("_p0011") for k in t)
    if syntax == uid.ExplicitVRLittleEndian:
        assert t[private_key(0x0019, 0x100A)] == 24
        assert t[private_key(0x0019, 0x11BB)] == 0.5
    else:  # implicit VR: the private VR is unknown, the raw bytes are kept
        assert t[private_key(0x0019, 0x100A)] == struct.pack("<H", 24)
        assert t[private_key(0x0019, 0x11BB)] == b"0.5 "
    assert PRIVATE_OFFSETS[0x0019] >= {0x0A, 0xBB}


def test_a_large_private_header_past_the_first_read_is_captured_whole(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    csa = bytes(range(256)) * 160  # 40 kB: past the reader's first 16 kB
    ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", csa)
    ds.save_as(path)
    h = read_header(path)
    assert h.tags[private_key(0x0029, 0x1010)] == csa
    assert h.tags["Rows"] == 12
    np.testing.assert_array_equal(_pixels_at(path, h.pixel_offset, PIXELS.size).reshape(12, 20), PIXELS)


# --- files of other kinds -----------------------------------------------------------------------


def test_encapsulated_pixel_data_has_an_offset_and_no_length(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm", transfer_syntax=uid.RLELossless)
    h = read_header(path)
    assert h.transfer_syntax == uid.RLELossless and h.pixel_length == -1 and h.pixel_offset > 0
    assert h.tags["Rows"] == 12


def test_enhanced_multiframe_is_flagged(tmp_path: Path) -> None:
    res = write_phantom(tmp_path, rows=16, columns=16, slices=3, multiframe=MultiFrame.ENHANCED)
    h = read_header(res.files[0])
    assert h.enhanced and h.tags["NumberOfFrames"] == 3
    classic = write_phantom(tmp_path / "c", rows=16, columns=16, slices=3, multiframe=MultiFrame.CLASSIC)
    hc = read_header(classic.files[0])
    assert not hc.enhanced and hc.tags["GridFrameOffsetVector"] == (0.0, 2.0, 4.0)


def test_files_without_preamble_or_meta(tmp_path: Path) -> None:
    no_preamble = read_header(_write(tmp_path / "np.dcm", preamble=False))
    assert no_preamble.has_meta and no_preamble.tags["_NoPreamble"] and no_preamble.transfer_syntax == TS_EXPLICIT_LE
    for syntax in (TS_IMPLICIT_LE, TS_EXPLICIT_LE):
        path = _write(tmp_path / f"{syntax}.dcm", file_meta=False, transfer_syntax=syntax)
        h = read_header(path)
        assert not h.has_meta and h.tags["_NoMeta"]
        assert h.transfer_syntax == syntax  # guessed from the VR letters
        assert h.tags["PixelSpacing"] == (0.7, 0.9)
        np.testing.assert_array_equal(_pixels_at(path, h.pixel_offset, 20), PIXELS[0])


@pytest.mark.parametrize("syntax", [uid.ExplicitVRBigEndian, uid.DeflatedExplicitVRLittleEndian], ids=["big-endian", "deflate"])
def test_big_endian_and_deflate_are_handed_to_pydicom(tmp_path: Path, syntax: str) -> None:
    with pytest.raises(NeedsPydicom, match="transfer syntax"):
        read_header(_write(tmp_path / "a.dcm", transfer_syntax=syntax))


def test_float_pixel_data_is_handed_to_pydicom(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.BitsAllocated = 32
    ds.FloatPixelData = np.zeros((12, 20), "<f4").tobytes()
    ds.save_as(path)
    with pytest.raises(NeedsPydicom, match="float pixel data"):
        read_header(path)


# --- bad input ----------------------------------------------------------------------------------


def test_empty_short_and_foreign_files_are_not_dicom(tmp_path: Path) -> None:
    cases = {"empty": b"", "short": b"\x08\x00\x05", "text": b"hello, this is a text file\n" * 20, "png": b"\x89PNG\r\n\x1a\n" + bytes(300)}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(NotDicom):
            read_header(tmp_path / name)
    with pytest.raises(NotDicom, match="empty"):
        read_header(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        read_header(tmp_path / "missing.dcm")


def test_a_truncated_header_is_handed_to_pydicom(tmp_path: Path) -> None:
    raw = _write(tmp_path / "a.dcm").read_bytes()
    cut = raw.index(b"\x20\x00\x32\x00")  # inside the dataset, at ImagePositionPatient
    (tmp_path / "cut.dcm").write_bytes(raw[: cut + 6])
    with pytest.raises(NeedsPydicom, match="header ends before"):
        read_header(tmp_path / "cut.dcm")


def test_truncated_pixel_data_still_gives_a_header(tmp_path: Path) -> None:
    # the header is whole: the pixel reader (not this one) reports the missing bytes
    path = _write(tmp_path / "a.dcm")
    raw = path.read_bytes()
    path.write_bytes(raw[:-100])
    h = read_header(path)
    assert h.pixel_length == PIXELS.nbytes and h.pixel_offset + h.pixel_length > h.file_size


@pytest.mark.parametrize("delta", [8, -8])
def test_a_wrong_meta_group_length_is_never_misread(tmp_path: Path, delta: int) -> None:
    raw = bytearray(_write(tmp_path / "a.dcm").read_bytes())
    at = raw.index(b"\x02\x00\x00\x00UL") + 8
    struct.pack_into("<I", raw, at, struct.unpack_from("<I", raw, at)[0] + delta)
    (tmp_path / "b.dcm").write_bytes(raw)
    with pytest.raises(NeedsPydicom):
        read_header(tmp_path / "b.dcm")


def test_meta_without_transfer_syntax_is_never_misread(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_write(tmp_path / "a.dcm"))
    del ds.file_meta.TransferSyntaxUID
    ds.save_as(tmp_path / "b.dcm", implicit_vr=False, little_endian=True)
    with pytest.raises(NeedsPydicom):  # read as implicit VR, the explicit dataset runs past the file
        read_header(tmp_path / "b.dcm")


# --- gzip ------------------------------------------------------------------------------------------


def test_gzip_compressed_files_are_read_by_content(tmp_path: Path) -> None:
    plain = _write(tmp_path / "a.dcm")
    packed = tmp_path / "a.dcm.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    renamed = tmp_path / "no_suffix"
    renamed.write_bytes(packed.read_bytes())
    a = read_header(plain)
    for path in (packed, renamed):
        assert is_gzip(path) and not is_gzip(plain)
        h = read_header(path)
        assert h.gzipped and h.tags.copy() == a.tags.copy()
        assert (h.pixel_offset, h.pixel_length) == (a.pixel_offset, a.pixel_length)  # offsets in the decompressed bytes
        with open_dicom(path) as fh:
            assert fh.read() == plain.read_bytes()
    with open_dicom(plain) as fh:
        assert fh.read(132)[128:] == b"DICM"


def test_damaged_or_empty_gzip_is_not_dicom(tmp_path: Path) -> None:
    data = gzip.compress(_write(tmp_path / "a.dcm").read_bytes())
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(NotDicom, match="damaged gzip"):
        read_header(tmp_path / "cut.gz")
    with pytest.raises(NotDicom, match="empty gzip"):
        read_header(tmp_path / "empty.gz")
