"""The DICOM tags of one file, as plain rows (for the viewer's tag browser)."""

from __future__ import annotations

from vtkdicom_app.errors import DicomReadError

__all__ = ["read_tags"]


def read_tags(path: str, *, max_value_chars: int = 120) -> list[tuple[str, str, str, str]]:
    """``(tag, keyword, VR, value)`` rows of a file's data elements (pixel data left out).

    Sequences are listed with their item count; long values are shortened.

    Raises
    ------
    DicomReadError
        The file cannot be parsed.
    """
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        rows = []
        for meta in getattr(ds, "file_meta", None) or []:
            rows.append((str(meta.tag), meta.keyword, meta.VR, str(meta.value)[:max_value_chars]))
        for elem in ds:
            if elem.VR == "SQ":
                value = f"<{len(elem.value)} item(s)>"
            elif elem.VR in ("OB", "OW", "OF", "OD", "UN"):
                value = f"<{len(elem.value) if elem.value is not None else 0} bytes>"
            else:
                value = str(elem.value)
            rows.append((str(elem.tag), elem.keyword, elem.VR, value[:max_value_chars]))
        return rows
    except Exception as exc:  # pydicom raises many types on broken files
        raise DicomReadError(f"{path}: cannot read tags ({type(exc).__name__}: {exc})") from exc
