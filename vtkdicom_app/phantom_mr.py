"""The MR phantoms' former home: a re-export of :mod:`vtkdicom_app.testing.phantom_mr`.

The code lives in :mod:`vtkdicom_app.testing.phantom_mr` (test and demo data). This module
keeps every existing import working (``from vtkdicom_app.phantom_mr import write_mosaic``),
private helpers included: they are the same objects.
"""

from __future__ import annotations

from vtkdicom_app.testing.phantom_mr import (  # noqa: F401  (private names: kept for old imports)
    _DTI_PROTOCOL,
    MR_IMAGE_STORAGE,
    Classic4DResult,
    Classic4DStyle,
    CsaMode,
    MosaicResult,
    _save,
    _volume_plan,
    csa_header_bytes,
    write_classic_4d,
    write_mosaic,
)

__all__ = [
    "Classic4DResult",
    "Classic4DStyle",
    "CsaMode",
    "MosaicResult",
    "csa_header_bytes",
    "write_classic_4d",
    "write_mosaic",
]
