"""Fast DICOM header reading.

The loader reads hundreds of files, and pydicom costs about a millisecond and a half per file
even with ``stop_before_pixels``. This module reads the few attributes the loader needs with
``struct`` straight from the first kilobytes of each file, for the little-endian transfer
syntaxes (implicit and explicit VR, and the headers of every encapsulated syntax, which are
explicit VR little endian). Anything it cannot read (big endian, deflate, enhanced
multi-frame functional groups, odd encodings) is handed to pydicom by the caller.

No pydicom import happens here: ``vtkdicom-app info`` on a plain series never imports it.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import io
import os
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from vtkdicom_app import uids
from vtkdicom_app.errors import NeedsPydicom, NotDicom  # defined in errors.py, re-exported here

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = [
    "FileHeader",
    "NotDicom",
    "NeedsPydicom",
    "read_header",
    "TS_IMPLICIT_LE",
    "TS_EXPLICIT_LE",
    "TS_EXPLICIT_BE",
    "TS_DEFLATED",
    "NATIVE_LE_SYNTAXES",
    "PRIVATE_OFFSETS",
    "open_dicom",
    "is_gzip",
    "private_key",
]

# the transfer syntaxes this reader tells apart (named in uids.py, short names kept here)
TS_IMPLICIT_LE = uids.IMPLICIT_VR_LITTLE_ENDIAN
TS_EXPLICIT_LE = uids.EXPLICIT_VR_LITTLE_ENDIAN
TS_DEFLATED = uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
TS_EXPLICIT_BE = uids.EXPLICIT_VR_BIG_ENDIAN
NATIVE_LE_SYNTAXES = frozenset({TS_IMPLICIT_LE, TS_EXPLICIT_LE})

_PIXEL_DATA = 0x7FE00010
_FLOAT_PIXEL_DATA = 0x7FE00008
_DOUBLE_PIXEL_DATA = 0x7FE00009
_PER_FRAME_FG = 0x52009230
_SHARED_FG = 0x52009229
_ITEM = 0xFFFEE000
_ITEM_DELIM = 0xFFFEE00D
_SEQ_DELIM = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

# Attributes the loader reads: tag -> (keyword, VR used to decode in implicit VR files).
WANTED: dict[int, tuple[str, str]] = {
    0x00020002: ("MediaStorageSOPClassUID", "UI"),
    0x00020010: ("TransferSyntaxUID", "UI"),
    0x00080005: ("SpecificCharacterSet", "CS"),
    0x00080008: ("ImageType", "CS"),
    0x00080016: ("SOPClassUID", "UI"),
    0x00080018: ("SOPInstanceUID", "UI"),
    0x00080020: ("StudyDate", "DA"),
    0x00080021: ("SeriesDate", "DA"),
    0x00080030: ("StudyTime", "TM"),
    0x00080032: ("AcquisitionTime", "TM"),
    0x00080060: ("Modality", "CS"),
    0x00080070: ("Manufacturer", "LO"),
    0x00081030: ("StudyDescription", "LO"),
    0x0008103E: ("SeriesDescription", "LO"),
    0x00100010: ("PatientName", "PN"),
    0x00100020: ("PatientID", "LO"),
    0x00100030: ("PatientBirthDate", "DA"),
    0x00100040: ("PatientSex", "CS"),
    0x00180050: ("SliceThickness", "DS"),
    0x00180080: ("RepetitionTime", "DS"),
    0x00180081: ("EchoTime", "DS"),
    0x00180086: ("EchoNumbers", "IS"),
    0x00180088: ("SpacingBetweenSlices", "DS"),
    0x00181060: ("TriggerTime", "DS"),
    0x00181120: ("GantryDetectorTilt", "DS"),
    0x00181164: ("ImagerPixelSpacing", "DS"),
    0x00185100: ("PatientPosition", "CS"),
    0x00189087: ("DiffusionBValue", "FD"),
    0x00189089: ("DiffusionGradientOrientation", "FD"),
    0x0020000D: ("StudyInstanceUID", "UI"),
    0x0020000E: ("SeriesInstanceUID", "UI"),
    0x00200010: ("StudyID", "SH"),
    0x00200011: ("SeriesNumber", "IS"),
    0x00200012: ("AcquisitionNumber", "IS"),
    0x00200013: ("InstanceNumber", "IS"),
    0x00200032: ("ImagePositionPatient", "DS"),
    0x00200037: ("ImageOrientationPatient", "DS"),
    0x00200052: ("FrameOfReferenceUID", "UI"),
    0x00200100: ("TemporalPositionIdentifier", "IS"),
    0x00200105: ("NumberOfTemporalPositions", "IS"),
    0x00201041: ("SliceLocation", "DS"),
    0x00280002: ("SamplesPerPixel", "US"),
    0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280006: ("PlanarConfiguration", "US"),
    0x00280008: ("NumberOfFrames", "IS"),
    0x00280009: ("FrameIncrementPointer", "AT"),
    0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"),
    0x00280030: ("PixelSpacing", "DS"),
    0x00280100: ("BitsAllocated", "US"),
    0x00280101: ("BitsStored", "US"),
    0x00280102: ("HighBit", "US"),
    0x00280103: ("PixelRepresentation", "US"),
    0x00280120: ("PixelPaddingValue", "US"),
    0x00281050: ("WindowCenter", "DS"),
    0x00281051: ("WindowWidth", "DS"),
    0x00281052: ("RescaleIntercept", "DS"),
    0x00281053: ("RescaleSlope", "DS"),
    0x00281054: ("RescaleType", "LO"),
    0x30040004: ("DoseType", "CS"),
    0x3004000C: ("GridFrameOffsetVector", "DS"),
    0x3004000E: ("DoseGridScaling", "DS"),
}

# Private elements the loader reads (vendor diffusion, mosaic and scaling attributes): group ->
# element offsets inside a private block (the low byte). Their private creators (gggg,0010-00FF)
# are read too, so that :mod:`vtkdicom_app.io.vendor` can check whose block a value is in.
PRIVATE_OFFSETS: dict[int, frozenset[int]] = {
    0x0019: frozenset({0x0A, 0x0C, 0x0E, 0xBB, 0xBC, 0xBD}),  # Siemens MR header; GE acquisition
    0x0029: frozenset({0x10}),  # Siemens CSA image header
    0x0043: frozenset({0x39}),  # GE b-value
    0x2001: frozenset({0x03}),  # Philips b-value
    0x2005: frozenset({0x0D, 0x0E, 0x29, 0xB0, 0xB1, 0xB2}),  # Philips scale, label type, gradient
}
_GZIP_MAGIC = b"\x1f\x8b"


@functools.lru_cache(maxsize=4096)
def private_key(group: int, element: int) -> str:
    """Key under which a private element's value is kept in a file's tags (``_pGGGGEEEE``).

    The groups that hold any captured private element are listed under ``_pgroups``.
    """
    return f"_p{group:04X}{element:04X}"


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the gzip magic bytes (a ``.dcm.gz`` file, whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_dicom(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a DICOM file for reading, decompressing it first when it is gzip-compressed.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    binary file object
        The file itself, or an in-memory copy of its decompressed bytes.
    """
    if is_gzip(path):
        with gzip.open(path, "rb") as fh:
            return io.BytesIO(fh.read())
    return open(path, "rb")


_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"})
_NUMERIC_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_CHARSETS = {
    "": "latin_1",
    "ISO_IR 6": "latin_1",
    "ISO_IR 100": "latin_1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 144": "iso8859_5",
    "ISO_IR 127": "iso8859_6",
    "ISO_IR 126": "iso8859_7",
    "ISO_IR 138": "iso8859_8",
    "ISO_IR 148": "iso8859_9",
    "ISO_IR 166": "tis_620",
    "ISO_IR 192": "utf_8",
    "GB18030": "gb18030",
    "GBK": "gbk",
}

_HEAD = struct.Struct("<HH2sH")
_U32 = struct.Struct("<I")
_IMPLICIT = struct.Struct("<HHI")
_FIRST_READ = 16384


class _NeedMore(Exception):
    """The header runs past the bytes read so far (private to the parser: it reads more and retries)."""


@dataclasses.dataclass(slots=True)
class FileHeader:
    """What the fast reader learned about one file.

    Attributes
    ----------
    path : str
        The file.
    tags : dict
        Decoded values by keyword: str for text, float/int or tuples of them for numbers.
    transfer_syntax : str
        TransferSyntaxUID (implicit VR little endian when the file meta is missing).
    pixel_offset : int
        Byte offset of the pixel data value, -1 when the file has no pixel data.
    pixel_length : int
        Declared length of the pixel data, -1 for encapsulated (undefined length).
    file_size : int
        Size of the file in bytes.
    has_meta : bool
        False when the file lacks the preamble and file meta information.
    enhanced : bool
        True when the file has per-frame functional groups (read by pydicom).
    """

    path: str
    tags: dict[str, Any]
    transfer_syntax: str
    pixel_offset: int = -1
    pixel_length: int = -1
    file_size: int = 0
    has_meta: bool = True
    enhanced: bool = False
    gzipped: bool = False


def _decode_value(raw: bytes, vr: str, codec: str) -> Any:
    if vr in _TEXT_VRS:
        text = raw.decode(codec if vr in ("PN", "LO", "SH", "LT", "ST", "UT", "UC") else "latin_1", errors="replace")
        text = text.rstrip("\x00 ").strip()
        if vr in ("DS", "IS"):
            parts = [p.strip() for p in text.split("\\")]
            try:
                nums = [float(p) for p in parts if p]
            except ValueError:
                return text  # invalid number: kept as text, consumers treat it as missing
            if vr == "IS":
                nums = [int(round(v)) for v in nums]
            if not nums:
                return None
            return nums[0] if len(nums) == 1 else tuple(nums)
        if "\\" in text and vr in ("CS", "UI"):
            return tuple(p.strip() for p in text.split("\\"))
        return text
    if vr in _NUMERIC_FORMATS:
        fmt = _NUMERIC_FORMATS[vr]
        size = struct.calcsize(fmt)
        count = len(raw) // size
        if count == 0:
            return None
        vals = struct.unpack_from(f"<{count}{fmt}", raw)
        return vals[0] if count == 1 else vals
    if vr == "AT":
        count = len(raw) // 4
        if count == 0:
            return None
        pairs = struct.unpack_from(f"<{2 * count}H", raw)
        tags = tuple((pairs[2 * n] << 16) | pairs[2 * n + 1] for n in range(count))
        return tags[0] if count == 1 else tags
    return raw


def _skip_sequence(buf: bytes, pos: int, explicit: bool) -> int:
    """Return the position just after an undefined-length sequence starting at ``pos``."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _NeedMore
        group, elem, length = _IMPLICIT.unpack_from(buf, pos)
        tag = (group << 16) | elem
        pos += 8
        if tag == _SEQ_DELIM:
            return pos
        if tag != _ITEM:
            raise NeedsPydicom(f"unexpected tag {tag:08X} inside a sequence")
        if length != _UNDEFINED:
            pos += length
            continue
        pos = _walk(buf, pos, explicit, None, None)


_SPECIAL = {_PIXEL_DATA: 1, _FLOAT_PIXEL_DATA: 1, _DOUBLE_PIXEL_DATA: 1, _PER_FRAME_FG: 2, _SHARED_FG: 2}
_ALL_VRS = frozenset(v.encode() for v in "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split())


class LazyTags(dict[str, Any]):
    """A dict of attribute values that decodes each raw value the first time it is read.

    The loader reads ~50 attributes per file but needs only ~20 of them for every file;
    decoding lazily halves the per-file cost.
    """

    __slots__ = ("_raw",)

    def __init__(self) -> None:
        super().__init__()
        self._raw: dict[str, tuple[bytes, str, str]] = {}

    def _load(self, key: str) -> Any:
        raw, vr, codec = self._raw.pop(key)
        value = _decode_value(raw, vr, codec)
        dict.__setitem__(self, key, value)
        return value

    def materialize(self) -> None:
        """Decode everything still raw."""
        for key in list(self._raw):
            self._load(key)

    def __getitem__(self, key: str) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in self._raw:
            return self._load(key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in self._raw:
            return self._load(key)
        return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._raw

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        dict.__setitem__(self, key, default)
        return default

    def __iter__(self) -> Iterator[str]:
        self.materialize()
        return dict.__iter__(self)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._raw)

    def keys(self) -> dict_keys[str, Any]:
        self.materialize()
        return dict.keys(self)

    def items(self) -> dict_items[str, Any]:
        self.materialize()
        return dict.items(self)

    def values(self) -> dict_values[str, Any]:
        self.materialize()
        return dict.values(self)

    def copy(self) -> dict[str, Any]:
        self.materialize()
        return dict(dict.items(self))


def _walk(
    buf: bytes,
    pos: int,
    explicit: bool,
    out: LazyTags | None,
    info: dict[str, int] | None,
    *,
    codec: str = "latin_1",
) -> int:
    """Walk data elements from ``pos``; fill ``out`` with wanted raw values (top level only).

    Returns the position where the walk stopped: the pixel data value (``info`` gets its
    offset and length), the end of an item, or the end of the buffer.
    """
    n = len(buf)
    wanted = WANTED
    special = _SPECIAL
    long_vrs = _LONG_VRS
    all_vrs = _ALL_VRS
    head = _HEAD.unpack_from
    implicit_head = _IMPLICIT.unpack_from
    u32 = _U32.unpack_from
    raw_out = out._raw if out is not None else None
    while pos < n:
        if pos + 8 > n:
            raise _NeedMore
        if explicit:
            group, elem, vr_b, length = head(buf, pos)
            if group == 0xFFFE:
                if elem == 0xE00D:
                    return pos + 8
                raise NeedsPydicom(f"unexpected delimiter (FFFE,{elem:04X})")
            if vr_b in long_vrs:
                if pos + 12 > n:
                    raise _NeedMore
                length = u32(buf, pos + 8)[0]
                vpos = pos + 12
            elif vr_b in all_vrs:
                vpos = pos + 8
            else:
                raise NeedsPydicom(f"invalid VR bytes {vr_b!r} at tag ({group:04X},{elem:04X})")
        else:
            group, elem, length = implicit_head(buf, pos)
            vpos = pos + 8
            vr_b = b""
            if group == 0xFFFE:
                if elem == 0xE00D:
                    return vpos
                raise NeedsPydicom(f"unexpected delimiter (FFFE,{elem:04X})")
        tag = (group << 16) | elem
        if raw_out is not None and group & 1 and group in PRIVATE_OFFSETS and length != _UNDEFINED:
            low = elem & 0xFF
            if (elem <= 0xFF and elem >= 0x10) or (elem > 0xFF and low in PRIVATE_OFFSETS[group]):
                if vpos + length > n:
                    raise _NeedMore
                pvr = "LO" if elem <= 0xFF else (vr_b.decode("ascii") if vr_b and vr_b != b"UN" else "UN")
                raw_out[private_key(group, elem)] = (buf[vpos : vpos + length], pvr, "latin_1")
                assert out is not None
                groups = dict.get(out, "_pgroups")
                if groups is None:
                    dict.__setitem__(out, "_pgroups", {group})
                else:
                    groups.add(group)
        if raw_out is not None and tag in special:
            assert info is not None
            if special[tag] == 1:
                info["offset"] = vpos
                info["length"] = -1 if length == _UNDEFINED else length
                info["pixel_tag"] = tag
                return vpos
            info["enhanced"] = 1
        if length == _UNDEFINED:
            # sequences (and UN of undefined length, whose content is implicit VR)
            pos = _skip_sequence(buf, vpos, explicit and vr_b != b"UN")
            continue
        end = vpos + length
        if raw_out is not None and tag in wanted:
            if end > n:
                raise _NeedMore
            keyword, implicit_vr = wanted[tag]
            use_vr = implicit_vr if not vr_b or vr_b == b"UN" else vr_b.decode("ascii")
            raw_out[keyword] = (buf[vpos:end], use_vr, codec)
            if tag == 0x00080005:
                value = out._load(keyword)  # type: ignore[union-attr]
                if value:
                    first = (value[0] if isinstance(value, tuple) else value).strip()
                    if first not in _CHARSETS:
                        raise NeedsPydicom(f"character set {first!r}")
                    codec = _CHARSETS[first]
        pos = end
    return pos


def _parse(buf: bytes, path: str, file_size: int) -> FileHeader:
    tags = LazyTags()
    info: dict[str, int] = {}
    has_meta = True
    if len(buf) >= 132 and buf[128:132] == b"DICM":
        pos = 132
    else:
        # No preamble: a file that starts with the meta group or a dataset.
        pos = 0
        has_meta = False
        if len(buf) < 8:
            raise NotDicom("file too short to be DICOM" if buf else "empty file")
        group = struct.unpack_from("<H", buf, 0)[0]
        if group in (0x0200, 0x0800):
            raise NeedsPydicom("big endian dataset without file meta")
        if group not in (0x0002, 0x0008):
            raise NotDicom("no DICM marker and no DICOM tags at the start")
    ts = TS_IMPLICIT_LE
    if buf[pos : pos + 2] == b"\x02\x00":
        # File meta group: always explicit VR little endian. Walk until the group ends.
        meta_end = None
        start = pos
        while pos + 8 <= len(buf) and buf[pos : pos + 2] == b"\x02\x00":
            group, elem, vr_b, length = _HEAD.unpack_from(buf, pos)
            if vr_b in _LONG_VRS:
                length = _U32.unpack_from(buf, pos + 8)[0]
                vpos = pos + 12
            else:
                vpos = pos + 8
            tag = (group << 16) | elem
            if tag in WANTED:
                if vpos + length > len(buf):
                    raise _NeedMore
                tags[WANTED[tag][0]] = _decode_value(buf[vpos : vpos + length], vr_b.decode("latin_1"), "latin_1")
            if tag == 0x00020000 and length == 4:
                meta_end = vpos + 4 + _U32.unpack_from(buf, vpos)[0]
            pos = vpos + length
        if meta_end is not None and meta_end != pos and start == 132:
            pos = meta_end if meta_end < len(buf) else pos
        ts = str(tags.get("TransferSyntaxUID") or TS_IMPLICIT_LE)
        if not has_meta:
            has_meta = True  # meta present, only the preamble is missing
            tags["_NoPreamble"] = True
    else:
        tags["_NoMeta"] = True
        has_meta = False
        # Guess the encoding of a dataset without meta: explicit VR has two letters at 4:6.
        vr_guess = buf[pos + 4 : pos + 6]
        if len(vr_guess) == 2 and 65 <= vr_guess[0] <= 90 and 65 <= vr_guess[1] <= 90:
            ts = TS_EXPLICIT_LE
    if ts in (TS_EXPLICIT_BE, TS_DEFLATED):
        raise NeedsPydicom(f"transfer syntax {ts}")
    explicit = ts != TS_IMPLICIT_LE
    _walk(buf, pos, explicit, tags, info)
    if "offset" not in info and len(buf) < file_size:
        raise _NeedMore
    header = FileHeader(
        path=path,
        tags=tags,
        transfer_syntax=ts,
        pixel_offset=info.get("offset", -1),
        pixel_length=info.get("length", -1),
        file_size=file_size,
        has_meta=has_meta,
        enhanced=bool(info.get("enhanced")),
    )
    if info.get("pixel_tag", _PIXEL_DATA) != _PIXEL_DATA:
        raise NeedsPydicom("float pixel data")
    return header


def read_header(path: str | os.PathLike[str]) -> FileHeader:
    """Read the loader's attributes from one file without pydicom.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    FileHeader

    Raises
    ------
    NotDicom
        The file is empty or its bytes are not DICOM.
    NeedsPydicom
        The file looks like DICOM but needs pydicom (big endian, deflate, odd encoding).
    OSError
        The file cannot be opened.
    """
    spath = os.fspath(path)
    with open(spath, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise NotDicom("empty file")
        buf = fh.read(_FIRST_READ)
        if buf[:2] == _GZIP_MAGIC:
            return _read_gzipped(spath)
        while True:
            try:
                return _parse(buf, spath, size)
            except _NeedMore:
                if len(buf) >= size:
                    raise NeedsPydicom("header ends before its declared lengths") from None
                buf += fh.read(max(len(buf), 65536))
            except (struct.error, UnicodeDecodeError, IndexError, ValueError) as exc:
                raise NeedsPydicom(str(exc)) from exc


def _read_gzipped(path: str) -> FileHeader:
    """Header of a gzip-compressed DICOM file (``.dcm.gz``): parsed from its decompressed bytes."""
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise NotDicom(f"damaged gzip file ({exc})") from exc
    if not data:
        raise NotDicom("empty gzip file")
    try:
        header = _parse(data, path, len(data))
    except _NeedMore:
        raise NeedsPydicom("header ends before its declared lengths") from None
    except (struct.error, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise NeedsPydicom(str(exc)) from exc
    header.gzipped = True
    return header
