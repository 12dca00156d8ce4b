"""What every command shares: the command record and its lazily filled parser, parent parsers
for the shared options, argument types, the warnings policy, output checks and writers, and
the volume loading of the single-series commands.

Nothing heavy is imported at module level: ``vtkdicom-app --help`` builds every command's
parser stub without numpy, pydicom or VTK. A command's own options (whose ``choices`` come
from the library's enums and preset files) are added when that command is parsed or its
help is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from vtkdicom_app.errors import UsageError  # the one usage error (exit 2), named here for the commands

if TYPE_CHECKING:
    import numpy.typing as npt

    from vtkdicom_app.io.loader import ProgressCallback
    from vtkdicom_app.volume import Volume

__all__ = [
    "UsageError",
    "ImageFormat",
    "RASTER_FORMATS",
    "Command",
    "CommandParser",
    "enum_values",
    "parse_series",
    "parse_size",
    "parse_vector",
    "parse_range",
    "parse_surface_threshold",
    "AUTO_THRESHOLD",
    "input_parents",
    "frame_parent",
    "crop_parent",
    "parse_crop",
    "check_crop",
    "crop_options",
    "quiet_parent",
    "report_warnings",
    "warn",
    "volume_memory_limit",
    "check_output",
    "check_frame",
    "check_range",
    "write_image",
    "write_json",
    "fmt_vec",
    "read_any",
    "load_for",
]


class ImageFormat(enum.Enum):
    """Image files the commands write, chosen by the output's suffix."""

    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"
    BMP = "bmp"
    GIF = "gif"
    PDF = "pdf"
    SVG = "svg"

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The file suffixes that name this format (lower case, with the dot)."""
        return {ImageFormat.JPEG: (".jpg", ".jpeg"), ImageFormat.TIFF: (".tif", ".tiff")}.get(self, ("." + self.value,))

    @classmethod
    def from_path(cls, path: str, allowed: Sequence[ImageFormat], option: str) -> ImageFormat:
        """The format a path's suffix names, if the command can write it.

        Parameters
        ----------
        path : str
            The output file.
        allowed : sequence of ImageFormat
            What the command can write there.
        option : str
            The option that gave the path (for the message), e.g. ``"-o"``.

        Returns
        -------
        ImageFormat

        Raises
        ------
        UsageError
            Another suffix, or none.
        """
        suffix = os.path.splitext(path)[1].lower()
        for fmt in allowed:
            if suffix in fmt.suffixes:
                return fmt
        names = ", ".join(x for fmt in allowed for x in fmt.suffixes)
        raise UsageError(f"{option} {path}: {'no suffix' if not suffix else 'cannot write ' + suffix} here; use one of {names}")


RASTER_FORMATS = (ImageFormat.PNG, ImageFormat.JPEG, ImageFormat.TIFF, ImageFormat.BMP)


# ---------------------------------------------------------------------------- commands
class CommandParser(argparse.ArgumentParser):
    """A sub-parser whose command-specific options are added on first use.

    ``populate(parser)`` runs once, before the first parse or help of this command: the
    options whose ``choices`` come from the library's enums and presets import numpy, which
    ``vtkdicom-app --help`` and the other commands do not need.
    """

    def __init__(self, *args: Any, populate: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate

    def populate(self) -> None:
        """Add the command's own options now (once)."""
        populate, self._populate = self._populate, None
        if populate is not None:
            populate(self)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:  # type: ignore[override]
        self.populate()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.populate()
        return super().format_usage()

    def format_help(self) -> str:
        self.populate()
        return super().format_help()


@dataclasses.dataclass(frozen=True)
class Command:
    """One ``vtkdicom-app`` command.

    Attributes
    ----------
    name : str
        The word on the command line.
    help : str
        One line for ``vtkdicom-app --help``.
    run : callable
        ``run(args) -> exit code``; runs after ``check``.
    add_arguments : callable, optional
        Adds the command's own options (called lazily, see :class:`CommandParser`).
    check : callable, optional
        ``check(args)``: every check of the options that needs no data, run before ``run``
        loads anything. Raises :class:`UsageError` (exit 2) or, for an output that cannot be
        written or an unknown file format, a ``VtkDicomError`` (exit 1).
    parents : callable, optional
        Returns the parent parsers of the shared options (built when the parser is).
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    check: Callable[[argparse.Namespace], None] | None = None
    parents: Callable[[], list[argparse.ArgumentParser]] | None = None

    def register(self, subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
        """Add this command to ``subparsers`` (made with ``parser_class=CommandParser``)."""
        kwargs: dict[str, Any] = {"help": self.help, "description": self.help, "parents": self.parents() if self.parents else []}
        if self.add_arguments is not None:
            kwargs["populate"] = self.add_arguments
        parser = subparsers.add_parser(self.name, **kwargs)
        parser.set_defaults(func=self.run, _check=self.check)
        return parser


def enum_values(kind: type[enum.Enum], *, exclude: Iterable[enum.Enum] = ()) -> list[str]:
    """An enum's values as argparse ``choices`` (``--plane`` from :class:`~vtkdicom_app.mpr.Plane`...)."""
    left_out = set(exclude)
    return [str(member.value) for member in kind if member not in left_out]


# ---------------------------------------------------------------------------- argument types
def parse_series(text: str) -> str | int:
    """``--series``: a SeriesNumber (digits) as an int, anything else as a uid."""
    key = text.strip()
    if not key:
        raise argparse.ArgumentTypeError("--series needs a series uid or a SeriesNumber")
    return int(key) if key.lstrip("+-").isdigit() and "." not in key else key


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` (or ``N`` for a square) in pixels, 16..8192."""
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h) if sep else int(w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH, got {text!r}") from None
    if min(size) < 16 or max(size) > 8192:
        raise argparse.ArgumentTypeError(f"size {text} out of range 16..8192")
    return size


def parse_vector(text: str) -> tuple[float, float, float]:
    """``x,y,z`` in mm."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,z in mm, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers x,y,z, got {text!r}")
    x, y, z = values
    return x, y, z


def parse_range(text: str) -> tuple[float, float | None]:
    """``LO`` or ``LO:HI`` in the volume's units."""
    lo, sep, hi = text.partition(":")
    try:
        return float(lo), (float(hi) if sep and hi else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold must be LO or LO:HI in the volume's units, got {text!r}") from None


AUTO_THRESHOLD = "auto"


def parse_surface_threshold(text: str) -> tuple[float | str, float | None]:
    """A surface's ``--threshold``: ``auto`` (Otsu's), ``LO`` or ``LO:HI``."""
    if text.strip().lower() == AUTO_THRESHOLD:
        return AUTO_THRESHOLD, None
    try:
        return parse_range(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"threshold must be auto (Otsu's), LO or LO:HI in the volume's units, got {text!r}") from None


def parse_memory_size(text: str) -> int:
    """``--memory-limit``: bytes, or a size with a unit (``500MB``, ``4GB``, ``1.5GiB``)."""
    from vtkdicom_app.io.pixels import parse_size as parse_bytes

    try:
        size = parse_bytes(text, what="--memory-limit")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"--memory-limit {text}: give a size > 0")
    return size


# ---------------------------------------------------------------------------- parent parsers
def quiet_parent() -> argparse.ArgumentParser:
    """``-q`` after the command too (``vtkdicom-app info DIR -q``)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars, no warnings")
    return p


def input_parents(
    path_help: str = "folder (recursive), file or DICOMDIR", *, series: bool = True, optional_path: bool = False
) -> list[argparse.ArgumentParser]:
    """The shared options of the commands that load a volume: ``path``, ``--series``,
    ``--memory-limit`` and ``-q``.

    Parameters
    ----------
    path_help : str
        What ``path`` may be.
    series : bool
        Add ``--series`` (the viewer picks its series itself).
    optional_path : bool
        ``path`` may be left out (``view`` opens an empty window).
    """
    paths = argparse.ArgumentParser(add_help=False)
    paths.add_argument("path", nargs="?" if optional_path else None, help=path_help)
    parents = [paths]
    if series:
        chosen = argparse.ArgumentParser(add_help=False)
        chosen.add_argument("--series", type=parse_series, help="series uid or SeriesNumber; default: the largest")
        parents.append(chosen)
    memory = argparse.ArgumentParser(add_help=False)
    memory.add_argument(
        "--memory-limit",
        dest="volume_memory_limit",
        type=parse_memory_size,
        metavar="SIZE",
        help="the most memory one volume may take, e.g. 4GB (default: $VTKDICOM_APP_MEMORY_LIMIT, else 80%% of the available memory)",
    )
    return [*parents, memory, quiet_parent()]


def parse_crop(text: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``--crop x0,y0,z0,x1,y1,z1``: two opposite corners of a box in LPS mm."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x0,y0,z0,x1,y1,z1 in LPS mm, got {text!r}") from None
    if len(values) != 6:
        raise argparse.ArgumentTypeError(f"expected six numbers x0,y0,z0,x1,y1,z1 (two opposite corners, LPS mm), got {text!r}")
    x0, y0, z0, x1, y1, z1 = values
    return (x0, y0, z0), (x1, y1, z1)


def crop_parent() -> argparse.ArgumentParser:
    """``--crop`` and ``--downsample``: what a command that loads one volume reads of it.

    Both go to :func:`vtkdicom_app.io.loader.load` as ``roi=`` and ``stride=`` (only the
    files and rows inside the box are read). ``--crop`` is not ``--roi``: on ``stats`` and
    ``export-mesh`` that is the region the statistics or the segment are taken in, inside
    the loaded volume.
    """
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--crop",
        type=parse_crop,
        metavar="X0,Y0,Z0,X1,Y1,Z1",
        help="load only the voxels inside this box: two opposite corners in LPS mm, only the files and rows it needs are read "
        "(write --crop=-10,... when x0 is negative)",
    )
    p.add_argument("--downsample", type=int, metavar="N", help="load every N-th voxel along each axis (spacing N times larger)")
    return p


def check_crop(args: argparse.Namespace) -> None:
    """``--crop`` of zero size or ``--downsample`` below 1 are usage errors (before loading).

    Raises
    ------
    UsageError
        One line naming the values.
    """
    crop, downsample = getattr(args, "crop", None), getattr(args, "downsample", None)
    if crop is None and downsample is None:
        return
    from vtkdicom_app.io.loader import validate_roi, validate_stride

    try:
        if crop is not None:
            validate_roi(crop, name="--crop")
        if downsample is not None:
            validate_stride(downsample, name="--downsample")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def crop_options(args: argparse.Namespace) -> dict[str, Any]:
    """``roi`` and ``stride`` keywords of ``load`` for ``--crop`` and ``--downsample`` (nothing when not given)."""
    out: dict[str, Any] = {}
    if getattr(args, "crop", None) is not None:
        out["roi"] = args.crop
    if getattr(args, "downsample", None) not in (None, 1):
        out["stride"] = args.downsample
    return out


def frame_parent(help: str = "frame N (from 0) of a 4D series") -> argparse.ArgumentParser:
    """``--frame N`` of the commands that work on one volume of a 4D series."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--frame", type=int, help=help)
    return p


# ---------------------------------------------------------------------------- warnings
@contextlib.contextmanager
def report_warnings(quiet: bool = False, stream: TextIO | None = None) -> Iterator[list[str]]:
    """The one warnings policy of every command.

    Each library warning (a ``UserWarning``, which every
    :class:`~vtkdicom_app.errors.VtkDicomWarning` is) is printed to stderr as
    ``warning: <message>`` when it happens, once per message however often it is raised;
    ``quiet`` (``-q``) silences them. Other categories (DeprecationWarning...) keep Python's
    own handling.

    Parameters
    ----------
    quiet : bool
        Print nothing.
    stream : file, optional
        Where to print (default: ``sys.stderr`` at the time of the warning).

    Yields
    ------
    list of str
        The messages printed so far (or, when quiet, that would have been).
    """
    seen: list[str] = []
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None) -> None:
            if not issubclass(category, UserWarning):
                previous(message, category, filename, lineno, file, line)
                return
            text = str(message).strip()
            if text in seen:
                return
            seen.append(text)
            if not quiet:
                print(f"warning: {text}", file=stream or sys.stderr, flush=True)

        warnings.showwarning = show
        warnings.simplefilter("always", UserWarning)  # every occurrence reaches show(), which prints each message once
        yield seen


def warn(message: str, category: type[Warning] | None = None) -> None:
    """A warning of the command itself, through the same policy as the library's."""
    if category is None:
        from vtkdicom_app.errors import VtkDicomWarning

        category = VtkDicomWarning
    warnings.warn(message, category, stacklevel=2)


@contextlib.contextmanager
def volume_memory_limit(limit: int | None) -> Iterator[None]:
    """``--memory-limit``: the loader's limit (``VTKDICOM_APP_MEMORY_LIMIT``) while a command runs."""
    if limit is None:
        yield
        return
    name = "VTKDICOM_APP_MEMORY_LIMIT"
    before = os.environ.get(name)
    os.environ[name] = str(int(limit))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


# ---------------------------------------------------------------------------- checks
def check_output(path: str | None, option: str = "-o") -> None:
    """Refuse (exit 1) an output whose folder is missing or not writable, before any work.

    Raises
    ------
    UsageError
        ``path`` is a folder.
    VtkDicomError
        Its folder does not exist or is not writable.
    """
    if not path:
        return
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    from vtkdicom_app.errors import VtkDicomError

    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise VtkDicomError(f"output folder {folder} {what} (for {option} {path})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VtkDicomError(f"output folder {folder} is not writable (for {option} {path})")


def check_frame(args: argparse.Namespace) -> None:
    """``--frame`` counts from 0."""
    frame = getattr(args, "frame", None)
    if frame is not None and frame < 0:
        raise UsageError(f"--frame {frame}: frames count from 0")


def check_range(option: str, value: tuple[Any, float | None] | None) -> None:
    """``LO:HI`` with HI below LO is a usage error."""
    if value is None:
        return
    lo, hi = value
    if hi is not None and not isinstance(lo, str) and hi < lo:
        raise UsageError(f"{option} {lo:g}:{hi:g}: HI is below LO")


# ---------------------------------------------------------------------------- outputs
def write_image(rgb: npt.ArrayLike, path: str, fmt: ImageFormat) -> None:
    """Write an ``(h, w, 3)`` uint8 image in ``fmt`` (Pillow), atomically."""
    import numpy as np
    from PIL import Image

    from vtkdicom_app.atomic import atomic_path

    image = Image.fromarray(np.ascontiguousarray(rgb))
    options: dict[str, Any] = {"quality": 95} if fmt is ImageFormat.JPEG else {}
    with atomic_path(path, suffix=fmt.suffixes[0]) as tmp:
        image.save(tmp, format=fmt.value.upper(), **options)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    from vtkdicom_app.atomic import atomic_path

    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)


def fmt_vec(values: Sequence[float], digits: int = 4) -> str:
    """``(a, b, c)`` with ``digits`` decimals."""
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


# ---------------------------------------------------------------------------- loading
def read_any(path: str, series: str | int | None, progress: ProgressCallback | None, **crop: Any) -> Volume:
    """A DICOM series, or a NIfTI/NRRD/MetaImage/VTI volume by its suffix.

    ``roi=`` and ``stride=`` (:func:`crop_options`) crop a DICOM series as it is read; a
    volume file is read whole, then cropped alike.
    """
    from vtkdicom_app.io.formats import VolumeFormat, read_volume
    from vtkdicom_app.io.loader import crop_volume, load

    try:
        VolumeFormat.from_path(path)
        is_volume_file = os.path.isfile(path)
    except Exception:
        is_volume_file = False
    if is_volume_file:
        return crop_volume(read_volume(path), **crop)
    return load(path, series=series, progress=progress, **crop)


def load_for(args: argparse.Namespace) -> Volume:
    """The volume a command works on (DICOM or a volume file), with a terminal progress bar.

    With ``--frame N`` the frame N (from 0) of a 4D series; ``--crop`` and ``--downsample``
    as ``load(roi=, stride=)`` (a frame of a 4D series is read whole, then cropped).
    """
    from vtkdicom_app.cli._progress import progress_for

    crop = crop_options(args)
    with progress_for(args) as progress:
        frame = getattr(args, "frame", None)
        if frame is not None:
            from vtkdicom_app.errors import VtkDicomError
            from vtkdicom_app.io.loader import crop_volume, load_sequence

            seq = load_sequence(args.path, series=args.series, progress=progress, lazy=True)
            if not 0 <= frame < len(seq):
                raise VtkDicomError(f"--frame {frame}: the series has frames 0..{len(seq) - 1}")
            return crop_volume(seq[frame], **crop)
        return read_any(args.path, args.series, progress, **crop)
