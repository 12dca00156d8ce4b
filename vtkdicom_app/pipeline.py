"""The one place that runs VTK ``Update()`` and turns VTK error output into exceptions.

VTK reports problems through its output window and error events, not exceptions; a failed
filter quietly produces empty output. :func:`run_update` observes ``ErrorEvent`` on the
algorithm and raises :class:`~vtkdicom_app.errors.PipelineError` with VTK's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vtkdicom_app.errors import PipelineError

if TYPE_CHECKING:
    from vtkmodules.vtkCommonExecutionModel import vtkAlgorithm

__all__ = ["run_update", "use_threads"]

_THREADS_SET = False


def use_threads() -> str:
    """Switch VTK's SMP tools from the wheels' default (Sequential) to STDThread, once.

    Flying edges, windowed-sinc smoothing and the connectivity filters then use every core.
    Returns the backend in use.
    """
    global _THREADS_SET
    from vtkmodules.vtkCommonCore import vtkSMPTools

    if not _THREADS_SET:
        _THREADS_SET = True
        if vtkSMPTools.GetBackend() == "Sequential":
            vtkSMPTools.SetBackend("STDThread")
    return str(vtkSMPTools.GetBackend())


class _ErrorCatcher:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.CallDataType = 8  # VTK_STRING: the error text reaches the callback

    def __call__(self, _obj: Any, _event: str, message: Any = None) -> None:
        self.messages.append(str(message) if message is not None else "unknown VTK error")


def run_update(algorithm: vtkAlgorithm, what: str) -> Any:
    """Run ``algorithm.Update()`` and raise on VTK errors.

    Parameters
    ----------
    algorithm : vtkAlgorithm
        The filter or reader to update.
    what : str
        What it does, for the error message ("reading DICOM with vtkDICOMImageReader").

    Returns
    -------
    vtkDataObject
        ``algorithm.GetOutputDataObject(0)``.

    Raises
    ------
    PipelineError
        VTK emitted an ErrorEvent during the update.
    """
    from vtkmodules.vtkCommonCore import vtkCommand

    use_threads()
    catcher = _ErrorCatcher()
    tag = algorithm.AddObserver(vtkCommand.ErrorEvent, catcher)
    executive_tag = None
    executive = algorithm.GetExecutive() if hasattr(algorithm, "GetExecutive") else None
    if executive is not None:
        executive_tag = executive.AddObserver(vtkCommand.ErrorEvent, catcher)
    try:
        algorithm.Update()
    finally:
        algorithm.RemoveObserver(tag)
        if executive is not None and executive_tag is not None:
            executive.RemoveObserver(executive_tag)
    if catcher.messages:
        text = catcher.messages[0].strip().splitlines()[-1] if catcher.messages[0].strip() else "VTK error"
        raise PipelineError(f"{what} failed: {text}")
    return algorithm.GetOutputDataObject(0)
