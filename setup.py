"""Setuptools shim; the metadata lives in setup.cfg.

``packages`` and ``package_data`` are given here because ``find:`` in setup.cfg leaves out
``vtkdicom_app/data`` (the JSON presets; a folder without ``__init__.py``), and setuptools
then prints a long "Package would be ignored" deprecation warning on every build and
install. Listing the folder as a package of data files is what setuptools asks for; values
given here take precedence over setup.cfg's.
"""

from setuptools import find_packages, setup

PACKAGES = find_packages(include=["vtkdicom_app", "vtkdicom_app.*"])

setup(
    packages=[*PACKAGES, "vtkdicom_app.data"],
    package_data={"vtkdicom_app.data": ["*.json"], "vtkdicom_app.napari": ["napari.yaml"]},
)
