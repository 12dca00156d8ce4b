"""napari reader plugin (npe2): ``napari study/`` and File > Open read DICOM folders by content.

The manifest is ``napari.yaml`` beside this file, registered through the ``napari.manifest``
entry point; its reader command is :func:`vtkdicom_app.napari._reader.get_reader`. Importing
this package imports nothing (no VTK, no pydicom, not even numpy): napari imports the reader
module only when a path is opened, and the reader imports the loader only when the path holds
DICOM. :mod:`vtkdicom_app.napari._reader` says how layers are placed in napari's world (LPS
millimetres, axes z, y, x).
"""
