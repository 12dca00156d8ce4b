"""Pixel decoding (vtkdicom_app.io.pixels.read_frames) with known answers.

Small files with chosen stored values are written with pydicom (compressed ones with the
installed encoders: pydicom's RLE, pyjpegls, pylibjpeg-openjpeg, and gdcm for the JPEG
lossless processes that no Python encoder writes); the frames read back must be exactly the
stored values after rescale, in the output type the rules give (int16 when exact, float32
otherwise, uint8 RGB).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import uid
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.pixels import pixel_array as pydicom_pixel_array

from vtkdicom_app.errors import DecoderMissingError, DicomReadError, MemoryLimitError
from vtkdicom_app.io.header import NeedsPydicom, read_header
from vtkdicom_app.io.pixels import DECODER_PACKAGES, parse_size, read_frames
from vtkdicom_app.io.records import FrameRecord, records_from_header, records_from_pydicom
from vtkdicom_app.testing.images import uid_for, write_image

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(20260101)
U12 = RNG.integers(0, 4096, (40, 33)).astype(np.uint16)  # J2K needs >= 32 rows and columns


def _records(*paths: Path) -> list[FrameRecord]:
    out: list[FrameRecord] = []
    for p in paths:
        try:
            out.extend(records_from_header(read_header(p)))
        except NeedsPydicom:
            out.extend(records_from_pydicom(str(p)))
    return out


def _read(*paths: Path, **kwargs: object) -> np.ndarray:
    array, warnings = read_frames(_records(*paths), **kwargs)  # type: ignore[arg-type]
    assert warnings == []
    return array


def _gdcm_compress(src: Path, dst: Path, syntax: int) -> Path:
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return dst


# --- rescale and output type --------------------------------------------------------------------


def test_integer_rescale_gives_exact_int16(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.dcm", U12, BitsStored=12, HighBit=11, RescaleIntercept="-1024", RescaleSlope="1")
    out = _read(path)
    assert out.dtype == np.int16 and out.shape == (1, 40, 33)
    np.testing.assert_array_equal(out[0], U12.astype(np.int32) - 1024)
    scaled = write_image(tmp_path / "b.dcm", U12, BitsStored=12, HighBit=11, RescaleIntercept="-2000", RescaleSlope="3")
    out = _read(scaled)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out[0], U12.astype(np.int32) * 3 - 2000)


def test_fractional_rescale_gives_float32(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.dcm", U12, RescaleIntercept="-3", RescaleSlope="0.25")
    out = _read(path)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], U12 * 0.25 - 3)


def test_values_past_int16_fall_back_to_float32_exactly(tmp_path: Path) -> None:
    fits = write_image(tmp_path / "fits.dcm", np.array([[0, 100], [4000, 32767]], np.uint16))
    assert _read(fits).dtype == np.int16  # 16-bit unsigned may overflow int16, but these values fit
    big = np.array([[0, 100], [40000, 65535]], np.uint16)
    out = _read(write_image(tmp_path / "big.dcm", big))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], big)


def test_each_slice_has_its_own_rescale(tmp_path: Path) -> None:
    a = write_image(tmp_path / "a.dcm", U12, RescaleIntercept="0", RescaleSlope="1", InstanceNumber=1)
    b = write_image(tmp_path / "b.dcm", U12, RescaleIntercept="-1000", RescaleSlope="2", InstanceNumber=2)
    out = _read(a, b)
    np.testing.assert_array_equal(out[0], U12)
    np.testing.assert_array_equal(out[1], U12.astype(np.int32) * 2 - 1000)


# --- signedness and bits stored ------------------------------------------------------------------


@pytest.mark.parametrize(
    "syntax", [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.ExplicitVRBigEndian, uid.DeflatedExplicitVRLittleEndian],
    ids=["explicit", "implicit", "big-endian", "deflate"],
)
def test_unused_high_bits_are_masked(tmp_path: Path, syntax: str) -> None:
    garbage = U12 | (RNG.integers(0, 16, U12.shape).astype(np.uint16) << 12)  # overlay bits above BitsStored
    path = write_image(tmp_path / "a.dcm", garbage, transfer_syntax=syntax, BitsStored=12, HighBit=11, RescaleIntercept="-1024")
    np.testing.assert_array_equal(_read(path)[0], U12.astype(np.int32) - 1024)


@pytest.mark.parametrize("syntax", [uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian], ids=["little", "big"])
def test_signed_values_narrower_than_their_word_are_sign_extended(tmp_path: Path, syntax: str) -> None:
    values = RNG.integers(-2048, 2048, (6, 7)).astype(np.int16)
    twelve_bits = (values.astype(np.int32) & 0x0FFF).astype(np.int16)  # two's complement in 12 bits, high bits 0
    path = write_image(tmp_path / "a.dcm", twelve_bits, transfer_syntax=syntax, BitsStored=12, HighBit=11)
    out = _read(path)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out[0], values)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint32, np.int32])
def test_other_word_sizes_and_signedness(tmp_path: Path, dtype: type) -> None:
    info = np.iinfo(dtype)
    values: np.ndarray = RNG.integers(max(info.min, -500), min(info.max, 500), (6, 7)).astype(dtype)
    out = _read(write_image(tmp_path / "a.dcm", values, RescaleIntercept="-10"))
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out[0], values.astype(np.int64) - 10)


def test_unsupported_bits_allocated_is_named(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.dcm", np.zeros((4, 4), np.uint16), BitsAllocated=12, BitsStored=12, HighBit=11)
    with pytest.raises(DicomReadError, match=r"BitsAllocated \(0028,0100\) = 12 is not supported"):
        read_frames(_records(path))


# --- colour and planar configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("planar", "syntax"),
    [(0, uid.ExplicitVRLittleEndian), (1, uid.ExplicitVRLittleEndian), (0, uid.ExplicitVRBigEndian), (0, uid.RLELossless)],
    ids=["interleaved", "planar", "big-endian", "rle"],
)
def test_rgb_frames_come_back_interleaved_whatever_the_planar_configuration(tmp_path: Path, planar: int, syntax: str) -> None:
    rgb = RNG.integers(0, 256, (3, 5, 7, 3)).astype(np.uint8)
    path = write_image(tmp_path / "a.dcm", rgb, planar_configuration=planar, transfer_syntax=syntax)
    assert pydicom.dcmread(path, stop_before_pixels=True).PlanarConfiguration == planar
    out = _read(path)
    assert out.dtype == np.uint8 and out.shape == (3, 5, 7, 3)
    np.testing.assert_array_equal(out, rgb)


# --- compressed transfer syntaxes -------------------------------------------------------------------


def _compressed(folder: Path, syntax: str) -> Path:
    """``U12`` (12 bits stored, intercept -1024) in ``folder``/c.dcm, encoded in ``syntax``."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = write_image(folder / "plain.dcm", U12, BitsStored=12, HighBit=11, RescaleIntercept="-1024")
    if syntax in (uid.JPEGLossless, uid.JPEGLosslessSV1):
        import gdcm

        process = gdcm.TransferSyntax.JPEGLosslessProcess14 if syntax == uid.JPEGLossless else gdcm.TransferSyntax.JPEGLosslessProcess14_1
        return _gdcm_compress(plain, folder / "c.dcm", process)
    return write_image(folder / "c.dcm", U12, transfer_syntax=syntax, BitsStored=12, HighBit=11, RescaleIntercept="-1024")


LOSSLESS = [uid.RLELossless, uid.JPEGLSLossless, uid.JPEG2000Lossless, uid.JPEGLossless, uid.JPEGLosslessSV1]


@pytest.mark.parametrize("syntax", LOSSLESS, ids=lambda s: uid.UID(s).keyword)
def test_lossless_syntaxes_decode_to_the_stored_values(tmp_path: Path, syntax: str) -> None:
    path = _compressed(tmp_path, syntax)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    out = _read(path)
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out[0], U12.astype(np.int32) - 1024)
    # every installed decoder that claims the syntax gives the same stored values
    plugins = get_decoder(syntax).available_plugins
    assert plugins, f"no decoder installed for {syntax}"
    for plugin in plugins:
        if plugin == "pillow" and syntax != uid.JPEG2000Lossless:
            continue
        np.testing.assert_array_equal(pydicom_pixel_array(str(path), decoding_plugin=plugin), U12, err_msg=plugin)


def test_the_installed_decoders_cover_the_table(tmp_path: Path) -> None:
    # DECODER_PACKAGES tells what to install; in this environment every syntax has a decoder
    for syntax, (name, package) in DECODER_PACKAGES.items():
        assert get_decoder(syntax).is_available, f"{name}: {package}"
    assert {"gdcm", "pylibjpeg"} <= set(get_decoder(uid.JPEGLosslessSV1).available_plugins)
    assert "pylibjpeg" in get_decoder(uid.JPEG2000Lossless).available_plugins


def test_missing_decoders_are_named_with_the_package_to_install(tmp_path: Path) -> None:
    """A machine without the decoder packages: their imports fail (a fresh interpreter)."""
    j2k = _compressed(tmp_path / "j", uid.JPEG2000Lossless)
    jpeg = _compressed(tmp_path / "l", uid.JPEGLosslessSV1)
    code = f"""
import sys
for name in ("gdcm", "PIL", "openjpeg", "libjpeg", "pylibjpeg", "jpeg_ls", "rle"):
    sys.modules[name] = None  # import fails as if the package were not installed
from vtkdicom_app.errors import DecoderMissingError
from vtkdicom_app.io.header import read_header
from vtkdicom_app.io.pixels import read_frames
from vtkdicom_app.io.records import records_from_header
for path in ({str(j2k)!r}, {str(jpeg)!r}):
    try:
        read_frames(records_from_header(read_header(path)))
        print("DECODED")
    except DecoderMissingError as exc:
        print(exc)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    j2k_msg, jpeg_msg = proc.stdout.strip().splitlines()
    assert "JPEG 2000 Lossless pixel data (transfer syntax 1.2.840.10008.1.2.4.90) needs a decoder" in j2k_msg
    assert "pylibjpeg-openjpeg" in j2k_msg and "python-gdcm" in j2k_msg
    assert "JPEG Lossless SV1" in jpeg_msg and "1.2.840.10008.1.2.4.70" in jpeg_msg and "pylibjpeg-libjpeg" in jpeg_msg


def _encapsulated(tmp_path: Path, name: str, syntax: str, fragment: bytes) -> Path:
    path = write_image(tmp_path / name, np.zeros((8, 8), np.uint16), SOPInstanceUID=uid_for(name), InstanceNumber=int(name[-1]))
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([fragment])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = uid.UID(syntax)
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=True, force_encoding=True)
    return path


def test_a_syntax_no_plugin_decodes_raises_decoder_missing(tmp_path: Path) -> None:
    path = _encapsulated(tmp_path, "v1", "1.2.840.10008.1.2.4.100", b"\x00\x00\x01\xb3" + bytes(60))  # MPEG2 video
    with pytest.raises(DecoderMissingError, match=r"1\.2\.840\.10008\.1\.2\.4\.100"):
        read_frames(_records(path))


def test_a_syntax_no_plugin_decodes_is_named_without_advice_to_install_what_is_installed(tmp_path: Path) -> None:
    path = _encapsulated(tmp_path, "v1", "1.2.840.10008.1.2.4.100", b"\x00\x00\x01\xb3" + bytes(60))
    with pytest.raises(DecoderMissingError) as info:
        read_frames(_records(path))
    message = str(info.value)
    assert "MPEG2 Main Profile / Main Level" in message
    assert "install pylibjpeg" not in message and "python-gdcm" not in message


def test_corrupt_compressed_data_names_the_file_and_syntax(tmp_path: Path) -> None:
    good = [_compressed(tmp_path / f"g{n}", uid.JPEG2000Lossless) for n in range(2)]
    bad = _encapsulated(tmp_path, "bad1", uid.JPEG2000Lossless, b"\xff\x4f\xff\x51" + bytes(40))  # a J2K start, then zeros
    with pytest.raises(DicomReadError, match=r"bad1: could not decode JPEG 2000 Lossless pixel data") as info:
        read_frames(_records(bad))
    assert not isinstance(info.value, DecoderMissingError)
    # in a series, the bad file's slice is filled and named in a warning; the others decode
    for n, p in enumerate(good):
        ds = pydicom.dcmread(p)
        ds.SOPInstanceUID = uid_for("good", n)
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [0, 0, 2 * n]
        ds.save_as(p)
    ds = pydicom.dcmread(bad)
    ds.Rows, ds.Columns = 40, 33
    ds.save_as(bad)
    array, warnings = read_frames(_records(good[0], bad, good[1]))
    np.testing.assert_array_equal(array[0], U12.astype(np.int32) - 1024)
    np.testing.assert_array_equal(array[2], U12.astype(np.int32) - 1024)
    assert (array[1] == array[[0, 2]].min()).all()
    (warning,) = warnings
    assert warning.startswith("slice(s) 1 could not be read and were filled with") and "bad1" in warning


# --- native reads: truncation, multi-frame, windows, memory ---------------------------------------


def test_truncated_native_pixels_are_reported(tmp_path: Path) -> None:
    whole = write_image(tmp_path / "f0", U12, InstanceNumber=1, SOPInstanceUID=uid_for("f0"))
    cut = write_image(tmp_path / "f1", U12, InstanceNumber=2, SOPInstanceUID=uid_for("f1"))
    cut.write_bytes(cut.read_bytes()[:-100])
    with pytest.raises(DicomReadError, match=rf"truncated pixel data: {U12.nbytes - 100} of {U12.nbytes} bytes"):
        read_frames(_records(cut))
    array, warnings = read_frames(_records(whole, cut))
    np.testing.assert_array_equal(array[0], U12)
    assert (array[1] == U12.min()).all() and "slice(s) 1 could not be read" in warnings[0]


def test_multiframe_frames_and_windows(tmp_path: Path) -> None:
    frames = RNG.integers(0, 4096, (3, 10, 12)).astype(np.uint16)
    path = write_image(tmp_path / "mf.dcm", frames)
    records = _records(path)
    assert [r.frame for r in records] == [0, 1, 2]
    np.testing.assert_array_equal(_read(path), frames)
    window = (2, 9, 1, 12, 3)  # rows 2:9:3, columns 1:12:3
    np.testing.assert_array_equal(read_frames(records, window=window)[0], frames[:, 2:9:3, 1:12:3])
    compressed = write_image(tmp_path / "rle.dcm", frames, transfer_syntax=uid.RLELossless)
    np.testing.assert_array_equal(read_frames(_records(compressed), window=window)[0], frames[:, 2:9:3, 1:12:3])


def test_the_memory_limit_is_checked_before_allocating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image(tmp_path / "a.dcm", U12)
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "1K")
    with pytest.raises(MemoryLimitError, match="VTKDICOM_APP_MEMORY_LIMIT"):
        read_frames(_records(path))
    monkeypatch.setenv("VTKDICOM_APP_MEMORY_LIMIT", "1M")
    np.testing.assert_array_equal(_read(path)[0], U12)


def test_parse_size_units() -> None:
    assert parse_size("1048576") == 1 << 20
    assert parse_size("4GB") == parse_size("4 gib") == 4 << 30
    assert parse_size("1.5G") == 3 << 29
    assert parse_size("500M") == 500 << 20
    with pytest.raises(ValueError, match="LIMIT = 'lots'"):
        parse_size("lots", what="LIMIT")
    with pytest.raises(ValueError):
        parse_size("5 parsecs")
