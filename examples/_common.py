"""Shared by the examples: where to write, and a phantom when no DICOM folder is given."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def study_and_outdir() -> tuple[Path, Path]:
    """``python example.py [DICOM_FOLDER] [OUTDIR]``: use the phantom when no folder is given."""
    outdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="vtkdicom_app_example_"))
    outdir.mkdir(parents=True, exist_ok=True)
    if len(sys.argv) > 1 and sys.argv[1] != "-":
        return Path(sys.argv[1]), outdir
    from vtkdicom_app.phantom import write_phantom

    study = outdir / "phantom"
    if not study.exists():
        write_phantom(study, rows=128, columns=128, slices=80, pixel_spacing=(1.5, 1.5), slice_spacing=2.0, partial_volume=True)
    return study, outdir
