"""Test and demo data: DICOM series whose every voxel is known (like ``pydicom.data``).

* :mod:`vtkdicom_app.testing.phantom`: CT phantoms (orientations, gantry tilt, multi-frame,
  transfer syntaxes, several series, 4D sequences) and the analytic model they sample;
* :mod:`vtkdicom_app.testing.phantom_mr`: Siemens mosaics and classic 4D MR series in each
  vendor's style, built on the CT phantom;
* :mod:`vtkdicom_app.testing.images`: bare image files with chosen pixels, attributes and
  transfer syntax, for unit tests of the readers.

The main writers are importable from here; names load lazily, so importing this package
costs nothing until a writer is used (numpy and pydicom load then)::

    from vtkdicom_app.testing import write_phantom
    result = write_phantom("phantom/", rows=64, columns=64, slices=32)

``vtkdicom_app.phantom`` and ``vtkdicom_app.phantom_mr`` re-export these modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vtkdicom_app._lazy import lazy_names

_LAZY: dict[str, str] = {
    "write_phantom": "vtkdicom_app.testing.phantom",
    "write_sequence": "vtkdicom_app.testing.phantom",
    "phantom_values": "vtkdicom_app.testing.phantom",
    "make_spec": "vtkdicom_app.testing.phantom",
    "WriteSpec": "vtkdicom_app.testing.phantom",
    "write_mosaic": "vtkdicom_app.testing.phantom_mr",
    "write_classic_4d": "vtkdicom_app.testing.phantom_mr",
    "write_image": "vtkdicom_app.testing.images",
}

__all__ = ["WriteSpec", "make_spec", "phantom_values", "write_classic_4d", "write_image", "write_mosaic", "write_phantom", "write_sequence"]

if TYPE_CHECKING:  # pragma: no cover
    from vtkdicom_app.testing.images import write_image
    from vtkdicom_app.testing.phantom import (
        WriteSpec,
        make_spec,
        phantom_values,
        write_phantom,
        write_sequence,
    )
    from vtkdicom_app.testing.phantom_mr import write_classic_4d, write_mosaic


__getattr__, __dir__ = lazy_names(__name__, _LAZY)
