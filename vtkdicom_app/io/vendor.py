"""Vendor attributes: private tags and the Siemens CSA header, read where the standard is silent.

Private elements are only meaningful inside the block their private creator reserved
(``(gggg,00xx)`` names the owner of elements ``(gggg,xx00-xxFF)``), so every lookup here
checks the creator before it trusts a value. The values the loader needs:

* diffusion b-value and gradient direction: the standard DiffusionBValue (0018,9087) and
  DiffusionGradientOrientation (0018,9089) first, then Siemens (0019,xx0C/xx0E), GE
  (0043,xx39 / 0019,xxBB-BD) and Philips (2001,xx03 / 2005,xxB0-B2);
* Siemens mosaics: NumberOfImagesInMosaic and the slice normal from the CSA image header
  (read with nibabel's maintained parser, :mod:`nibabel.nicom.csareader`), or
  (0019,xx0A) when the CSA header is missing;
* Philips: the label/control type of ASL images (2005,xx29) and the private scale slope and
  intercept (2005,xx0E / 2005,xx0D) that turn display values into floating-point values.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from vtkdicom_app.io.header import private_key
from vtkdicom_app.io.records import first_number, unit_vector

__all__ = [
    "private_value",
    "DiffusionInfo",
    "diffusion_info",
    "label_type",
    "philips_scale",
    "CsaInfo",
    "csa_info",
]

_VR_FORMATS = {"FL": "f", "FD": "d", "US": "H", "SS": "h", "UL": "I", "SL": "i"}


def _decode(value: Any, vr: str) -> Any:
    """A private value as read (typed, or raw bytes when its VR was unknown) -> Python value."""
    if not isinstance(value, (bytes, bytearray)):
        return value
    raw = bytes(value)
    if vr in _VR_FORMATS:
        size = struct.calcsize(_VR_FORMATS[vr])
        count = len(raw) // size
        if count == 0:
            return None
        vals = struct.unpack_from(f"<{count}{_VR_FORMATS[vr]}", raw)
        return vals[0] if count == 1 else vals
    if vr in ("IS", "DS", "CS", "LO", "SH"):
        text = raw.decode("latin_1", errors="replace").rstrip("\x00 ").strip()
        if vr in ("IS", "DS"):
            try:
                nums = [float(p) for p in text.split("\\") if p.strip()]
            except ValueError:
                return None
            if not nums:
                return None
            return nums[0] if len(nums) == 1 else tuple(nums)
        return text
    return raw


def private_value(tags: dict[str, Any], group: int, creator: str, offset: int, vr: str) -> Any:
    """Value of a private element whose block is owned by ``creator`` (prefix, case-insensitive).

    Parameters
    ----------
    tags : dict
        A file's tags as read by the loader (private elements under ``_pGGGGEEEE`` keys).
    group : int
        The odd group number, e.g. ``0x0019``.
    creator : str
        Start of the private creator string, e.g. ``"SIEMENS MR HEADER"``.
    offset : int
        The element's low byte, e.g. ``0x0C`` for (0019,xx0C).
    vr : str
        The VR to decode raw bytes with (implicit VR files and VR UN).

    Returns
    -------
    object or None
        None when no block of that creator holds the element.
    """
    groups = tags.get("_pgroups")
    if not groups or group not in groups:
        return None
    want = creator.upper()
    for block in range(0x10, 0x20):
        owner = tags.get(private_key(group, block))
        if owner is None:
            continue
        if isinstance(owner, (bytes, bytearray)):
            owner = owner.decode("latin_1", errors="replace")
        if not str(owner).strip().upper().startswith(want):
            continue
        value = tags.get(private_key(group, (block << 8) | offset))
        if value is not None:
            return _decode(value, vr)
    return None


@dataclasses.dataclass(frozen=True)
class DiffusionInfo:
    """Diffusion encoding of one image.

    Attributes
    ----------
    bvalue : float or None
        s/mm2.
    gradient : tuple of float or None
        Unit direction in patient coordinates (LPS); None for b = 0 or when unknown.
    source : str
        Where the values came from ("standard", "Siemens", "GE", "Philips", "CSA").
    problem : str or None
        An absurd value that was ignored, naming the tag.
    """

    bvalue: float | None
    gradient: tuple[float, float, float] | None
    source: str
    problem: str | None = None


def diffusion_info(tags: dict[str, Any], csa: CsaInfo | None = None) -> DiffusionInfo | None:
    """b-value and gradient direction of an image, from the standard tags or the vendor's.

    Parameters
    ----------
    tags : dict
        The file's tags (see :func:`private_value`).
    csa : CsaInfo, optional
        The Siemens CSA image header, when read.

    Returns
    -------
    DiffusionInfo or None
        None when the image carries no diffusion attribute.
    """
    problem = None
    b = first_number(tags.get("DiffusionBValue"))
    g = tags.get("DiffusionGradientOrientation")
    source = "standard"
    if b is None and csa is not None and csa.bvalue is not None:
        b, g, source = csa.bvalue, csa.gradient, "CSA"
    if b is None:
        sb = first_number(private_value(tags, 0x0019, "SIEMENS MR HEADER", 0x0C, "IS"))
        if sb is not None:
            b, source = sb, "Siemens"
            g = private_value(tags, 0x0019, "SIEMENS MR HEADER", 0x0E, "FD")
    if b is None:
        ge = private_value(tags, 0x0043, "GEMS_PARM_01", 0x39, "IS")
        gb = first_number(ge)
        if gb is not None:
            # GE adds 1e9 (and multiples) as flags to the b-value in slop_int_6
            b, source = float(int(gb) % 1_000_000_000), "GE"
            g = tuple(first_number(private_value(tags, 0x0019, "GEMS_ACQU_01", off, "DS")) for off in (0xBB, 0xBC, 0xBD))
    if b is None:
        pb = first_number(private_value(tags, 0x2001, "Philips Imaging DD 001", 0x03, "FL"))
        if pb is not None:
            b, source = pb, "Philips"
            g = tuple(first_number(private_value(tags, 0x2005, "Philips MR Imaging DD 001", off, "FL")) for off in (0xB0, 0xB1, 0xB2))
    if b is None:
        return None
    if not (0.0 <= b <= 100_000.0):
        problem = f"diffusion b-value {b:g} ({source} tags) is not plausible; ignored"
        return DiffusionInfo(None, None, source, problem)
    return DiffusionInfo(round(b, 3), unit_vector(g) if b > 0 else None, source, problem)


def label_type(tags: dict[str, Any]) -> str | None:
    """Philips ASL label/control type (2005,xx29): "LABEL", "CONTROL" or None."""
    for creator in ("Philips MR Imaging DD 005", "Philips MR Imaging DD 001"):
        value = private_value(tags, 0x2005, creator, 0x29, "CS")
        if isinstance(value, str) and value.strip().upper() in ("LABEL", "CONTROL"):
            return value.strip().upper()
    return None


def philips_scale(tags: dict[str, Any]) -> tuple[float, float] | None:
    """Philips private (scale slope, scale intercept) from (2005,xx0E) and (2005,xx0D), or None.

    Philips documents the floating-point value as ``(stored - scale intercept) / scale slope``
    while display values are ``stored x RescaleSlope + RescaleIntercept``; the loader keeps
    display values (as pydicom and the other viewers do) and reports these two in metadata.
    """
    slope = first_number(private_value(tags, 0x2005, "Philips MR Imaging DD 001", 0x0E, "FL"))
    if slope is None or slope == 0:
        return None
    intercept = first_number(private_value(tags, 0x2005, "Philips MR Imaging DD 001", 0x0D, "FL")) or 0.0
    return (slope, intercept)


@dataclasses.dataclass(frozen=True)
class CsaInfo:
    """What the loader takes from a Siemens CSA image header (0029,xx10).

    Attributes
    ----------
    n_mosaic : int or None
        NumberOfImagesInMosaic.
    slice_normal : tuple of float or None
        SliceNormalVector (LPS): the direction in which the mosaic's tiles are stacked.
    bvalue : float or None
    gradient : tuple of float or None
        DiffusionGradientDirection (LPS).
    problem : str or None
        Why the header could not be read.
    """

    n_mosaic: int | None
    slice_normal: tuple[float, float, float] | None
    bvalue: float | None
    gradient: tuple[float, float, float] | None
    problem: str | None = None


def csa_info(tags: dict[str, Any]) -> CsaInfo | None:
    """Read the Siemens CSA image header of a file, if it has one.

    Returns
    -------
    CsaInfo or None
        None when the file has no CSA image header; a CsaInfo with ``problem`` set when the
        header is there but damaged.
    """
    raw = private_value(tags, 0x0029, "SIEMENS CSA HEADER", 0x10, "OB")
    if not isinstance(raw, (bytes, bytearray)) or not raw:
        return None
    import warnings

    with warnings.catch_warnings():  # nibabel warns that its DICOM *wrappers* are experimental
        warnings.simplefilter("ignore", UserWarning)
        from nibabel.nicom import csareader

    try:
        header = csareader.read(bytes(raw))
        n = csareader.get_n_mosaic(header)
        normal = csareader.get_slice_normal(header)
        bvalue = csareader.get_b_value(header)
        gradient = csareader.get_g_vector(header)
    except Exception as exc:  # nibabel raises CSAReadError, ValueError, struct.error...
        return CsaInfo(None, None, None, None, f"damaged CSA image header (0029,1010): {type(exc).__name__}: {exc}")
    n_int = None
    if n is not None:
        try:
            n_int = int(n)
        except (TypeError, ValueError):
            n_int = None
    return CsaInfo(
        n_int,
        unit_vector(None if normal is None else list(normal)),
        first_number(bvalue),
        unit_vector(None if gradient is None else list(gradient)),
    )
