"""File > Open from PACS: search a PACS, pick a study and a series, retrieve it, open it.

The dialog only translates input: every search, listing and transfer is a call on
:mod:`vtkdicom_app.net` (C-FIND / QIDO-RS through :func:`~vtkdicom_app.net.find` and
:func:`~vtkdicom_app.net.list_series`, C-GET / C-MOVE / WADO-RS through
:func:`~vtkdicom_app.net.retrieve`), run in a :class:`~vtkdicom_app.app.worker.Worker`.
Servers come from ``servers.toml`` (:func:`~vtkdicom_app.net.load_servers`) or are typed in
ad hoc. Retrieved series land in the study cache (``cache_dir`` of servers.toml, else
:func:`~vtkdicom_app.net.default_cache_dir`) and open as a folder does. Errors are the net
layer's one-line messages, shown in the dialog.

The main window adds the menu entry with :func:`install_pacs_action`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt5 import QtCore, QtWidgets

from vtkdicom_app import net
from vtkdicom_app.app.worker import Worker
from vtkdicom_app.errors import VtkDicomError
from vtkdicom_app.net.config import DEFAULT_CALLING_AET

if TYPE_CHECKING:
    from vtkdicom_app.app.main_window import MainWindow

__all__ = ["PacsDialog", "install_pacs_action", "open_pacs_dialog", "ADHOC"]

ADHOC = "(ad hoc server)"
"""The server list's entry that uses the host/port/AE/URL fields."""

_Qt = QtCore.Qt
_METHODS: tuple[tuple[str, net.RetrieveMethod | None], ...] = (
    ("server's default", None),
    ("C-GET", net.RetrieveMethod.GET),
    ("C-MOVE", net.RetrieveMethod.MOVE),
    ("DICOMweb (QIDO-RS / WADO-RS)", net.RetrieveMethod.WEB),
)
STUDY_COLUMNS = ("Date", "Patient ID", "Patient name", "Modalities", "Series", "Images", "Accession", "Description")
SERIES_COLUMNS = ("#", "Modality", "Images", "Description", "Series UID")


def _one_line(message: str) -> str:
    """The first non-empty line (net messages are one line; anything else is cut)."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return message.strip() or "unknown error"


def _table(columns: Sequence[str], name: str) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    vheader = table.verticalHeader()
    if vheader is not None:
        vheader.setVisible(False)
    header = table.horizontalHeader()
    if header is not None:
        header.setStretchLastSection(True)
    return table


def _fill(table: QtWidgets.QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.blockSignals(True)
    table.clearSelection()
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.setItem(r, c, QtWidgets.QTableWidgetItem(value))
    table.resizeColumnsToContents()
    table.blockSignals(False)


def _selected_rows(table: QtWidgets.QTableWidget) -> list[int]:
    model = table.selectionModel()
    return [] if model is None else sorted(index.row() for index in model.selectedRows())


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


class PacsDialog(QtWidgets.QDialog):
    """Search a PACS, list a study's series, retrieve one into the study cache.

    Parameters
    ----------
    parent : QWidget, optional
    opener : callable, optional
        ``opener(folder)`` is called with the retrieved folder (the main window's
        ``open_path``); what it returns is kept in :attr:`opened`.
    config : str or os.PathLike, optional
        servers.toml (default :func:`~vtkdicom_app.net.config_path`).
    cache_dir : str or os.PathLike, optional
        The study cache (default: servers.toml's ``cache_dir``, else
        :func:`~vtkdicom_app.net.default_cache_dir`).
    anonymize : bool
        Hide patient names in the results.

    Attributes
    ----------
    worker : Worker or None
        The last search, listing or retrieval started (tests wait on it).
    studies : list of StudyRecord
        The rows of the study table.
    series : list of SeriesRecord
        The rows of the series table (of the selected study).
    last_result : RetrieveResult or None
        The last retrieval.
    opened : object
        What ``opener`` returned for the last retrieval (the main window's load worker).
    last_error : str or None
        The one-line message shown in the error line.
    """

    retrieved = QtCore.pyqtSignal(object)
    """Emitted with the :class:`~vtkdicom_app.net.RetrieveResult` of a finished retrieval."""
    worker_created = QtCore.pyqtSignal(object)
    """Emitted with each :class:`Worker` just before it starts."""

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        opener: Callable[[str], Any] | None = None,
        config: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        anonymize: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pacs_dialog")
        self.setWindowTitle("Open from PACS")
        self.opener = opener
        self.config = config
        self.cache_dir_override = Path(cache_dir) if cache_dir is not None else None
        self.anonymize = anonymize
        self.servers_file: net.ServersFile | None = None
        self.worker: Worker | None = None
        self.studies: list[net.StudyRecord] = []
        self.series: list[net.SeriesRecord] = []
        self.last_result: net.RetrieveResult | None = None
        self.opened: Any = None
        self.last_error: str | None = None
        self._shown_study: str | None = None
        self._pending_study: int | None = None
        self._retrieving = False
        self._build()
        self.reload_servers()
        self.resize(900, 640)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)

        server_box = QtWidgets.QGroupBox("Server")
        form = QtWidgets.QGridLayout(server_box)
        self.server_combo = QtWidgets.QComboBox()
        self.server_combo.setObjectName("server")
        self.server_combo.currentIndexChanged.connect(self._server_changed)
        self.method_combo = QtWidgets.QComboBox()
        self.method_combo.setObjectName("method")
        for label, method in _METHODS:
            self.method_combo.addItem(label, method)
        self.echo_button = QtWidgets.QPushButton("Test connection")
        self.echo_button.clicked.connect(lambda: self._ignore(self.echo()))
        self.host = QtWidgets.QLineEdit()
        self.host.setPlaceholderText("pacs.example.org")
        self.port = QtWidgets.QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(104)
        self.called_aet = QtWidgets.QLineEdit()
        self.called_aet.setPlaceholderText("PACS")
        self.calling_aet = QtWidgets.QLineEdit()
        self.calling_aet.setPlaceholderText(DEFAULT_CALLING_AET)
        self.url = QtWidgets.QLineEdit()
        self.url.setPlaceholderText("https://host/dicom-web (DICOMweb)")
        form.addWidget(QtWidgets.QLabel("Server"), 0, 0)
        form.addWidget(self.server_combo, 0, 1, 1, 3)
        form.addWidget(QtWidgets.QLabel("Method"), 0, 4)
        form.addWidget(self.method_combo, 0, 5)
        form.addWidget(self.echo_button, 0, 6)
        form.addWidget(QtWidgets.QLabel("Host"), 1, 0)
        form.addWidget(self.host, 1, 1)
        form.addWidget(QtWidgets.QLabel("Port"), 1, 2)
        form.addWidget(self.port, 1, 3)
        form.addWidget(QtWidgets.QLabel("Called AE"), 1, 4)
        form.addWidget(self.called_aet, 1, 5)
        form.addWidget(QtWidgets.QLabel("Our AE"), 2, 4)
        form.addWidget(self.calling_aet, 2, 5)
        form.addWidget(QtWidgets.QLabel("DICOMweb URL"), 2, 0)
        form.addWidget(self.url, 2, 1, 1, 3)
        self.adhoc_fields: tuple[QtWidgets.QWidget, ...] = (self.host, self.port, self.called_aet, self.url)
        layout.addWidget(server_box)

        search_box = QtWidgets.QGroupBox("Search")
        grid = QtWidgets.QGridLayout(search_box)
        self.patient_id = QtWidgets.QLineEdit()
        self.patient_id.setPlaceholderText("ID, * and ? allowed")
        self.patient_name = QtWidgets.QLineEdit()
        self.patient_name.setPlaceholderText("DOE^J*")
        self.date_from = QtWidgets.QLineEdit()
        self.date_from.setPlaceholderText("YYYYMMDD")
        self.date_to = QtWidgets.QLineEdit()
        self.date_to.setPlaceholderText("YYYYMMDD")
        self.modality = QtWidgets.QLineEdit()
        self.modality.setPlaceholderText("CT, MR, ...")
        self.accession = QtWidgets.QLineEdit()
        self.search_button = QtWidgets.QPushButton("Search")
        self.search_button.setObjectName("search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(lambda: self._ignore(self.search()))
        for widget in (self.patient_id, self.patient_name, self.date_from, self.date_to, self.modality, self.accession):
            widget.returnPressed.connect(lambda: self._ignore(self.search()))
        grid.addWidget(QtWidgets.QLabel("Patient ID"), 0, 0)
        grid.addWidget(self.patient_id, 0, 1)
        grid.addWidget(QtWidgets.QLabel("Patient name"), 0, 2)
        grid.addWidget(self.patient_name, 0, 3)
        grid.addWidget(QtWidgets.QLabel("Accession"), 0, 4)
        grid.addWidget(self.accession, 0, 5)
        grid.addWidget(QtWidgets.QLabel("Study date from"), 1, 0)
        grid.addWidget(self.date_from, 1, 1)
        grid.addWidget(QtWidgets.QLabel("to"), 1, 2)
        grid.addWidget(self.date_to, 1, 3)
        grid.addWidget(QtWidgets.QLabel("Modality"), 1, 4)
        grid.addWidget(self.modality, 1, 5)
        grid.addWidget(self.search_button, 0, 6, 2, 1)
        layout.addWidget(search_box)

        splitter = QtWidgets.QSplitter(_Qt.Orientation.Vertical)
        self.study_table = _table(STUDY_COLUMNS, "studies")
        self.study_table.itemSelectionChanged.connect(self._study_selected)
        self.series_table = _table(SERIES_COLUMNS, "series")
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        self.series_table.doubleClicked.connect(lambda _index: self._ignore(self.retrieve()))
        splitter.addWidget(self.study_table)
        splitter.addWidget(self.series_table)
        layout.addWidget(splitter, 1)

        self.status = QtWidgets.QLabel("Choose a server and search.")
        self.status.setObjectName("pacs_status")
        self.error_label = QtWidgets.QLabel("")
        self.error_label.setObjectName("pacs_error")
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(_Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        layout.addWidget(self.status)
        layout.addWidget(self.error_label)

        row = QtWidgets.QHBoxLayout()
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("pacs_progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m")
        self.progress.setTextVisible(False)
        self.retrieve_button = QtWidgets.QPushButton("Retrieve")
        self.retrieve_button.setObjectName("retrieve")
        self.retrieve_button.clicked.connect(lambda: self._ignore(self.retrieve()))
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QtWidgets.QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        row.addWidget(self.progress, 1)
        row.addWidget(self.retrieve_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.close_button)
        layout.addLayout(row)
        self._update_buttons()

    @staticmethod
    def _ignore(_worker: Worker | None) -> None:
        """Slots return nothing (the worker is kept in :attr:`worker`)."""

    # ------------------------------------------------------------------ servers
    def reload_servers(self) -> None:
        """Read servers.toml again (keeping the chosen server when it is still there)."""
        current = self.server_combo.currentText()
        self.servers_file = None
        names: list[str] = []
        try:
            self.servers_file = net.load_servers(self.config)
            names = list(self.servers_file.servers)
        except net.PacsError as exc:
            self.show_error(str(exc))
        self.server_combo.blockSignals(True)
        self.server_combo.clear()
        self.server_combo.addItems(names + [ADHOC])
        default = current if current in names or current == ADHOC else (self.servers_file.default if self.servers_file else None)
        index = self.server_combo.findText(default) if default else 0
        self.server_combo.setCurrentIndex(max(index, 0))
        self.server_combo.blockSignals(False)
        self._server_changed()

    def _server_changed(self, *_args: Any) -> None:
        name = self.server_combo.currentText()
        adhoc = name == ADHOC
        for widget in self.adhoc_fields:
            widget.setEnabled(adhoc)
        if not adhoc and self.servers_file is not None and name in self.servers_file.servers:
            s = self.servers_file.servers[name]
            self.host.setText(s.host or "")
            self.port.setValue(int(s.port or 104))
            self.called_aet.setText(s.called_aet if s.has_dimse else "")
            self.calling_aet.setText(s.calling_aet)
            self.url.setText(s.public_url)
        elif self.servers_file is not None and self.servers_file.calling_aet and not self.calling_aet.text():
            self.calling_aet.setText(self.servers_file.calling_aet)

    def server(self) -> net.ServerConfig:
        """The chosen server: a named one (our AE title as typed), or one from the ad hoc fields.

        Raises
        ------
        ServerConfigError
            Ad hoc fields incomplete or invalid (the net layer's message).
        """
        name = self.server_combo.currentText()
        calling = self.calling_aet.text().strip() or None
        if name != ADHOC and self.servers_file is not None and name in self.servers_file.servers:
            s = self.servers_file.servers[name]
            if calling and calling != s.calling_aet:
                s = dataclasses.replace(s, calling_aet=calling)
            return s
        host = self.host.text().strip() or None
        url = self.url.text().strip() or None
        called = self.called_aet.text().strip() or None
        return net.ServerConfig.adhoc(host=host, port=self.port.value() if host else None, called_aet=called, url=url, calling_aet=calling)

    def method(self) -> net.RetrieveMethod | None:
        """The chosen method (None: the server's default)."""
        data = self.method_combo.currentData()
        return data if isinstance(data, net.RetrieveMethod) else None

    def _web(self) -> bool | None:
        m = self.method()
        return None if m is None else m is net.RetrieveMethod.WEB

    def cache_dir(self) -> Path:
        """Where retrievals go: the dialog's ``cache_dir``, servers.toml's, or the default."""
        if self.cache_dir_override is not None:
            return self.cache_dir_override
        if self.servers_file is not None and self.servers_file.cache_dir:
            return Path(self.servers_file.cache_dir).expanduser()
        return net.default_cache_dir()

    def query(self) -> net.Query:
        """A study-level :class:`~vtkdicom_app.net.Query` of the search fields.

        Raises
        ------
        QueryFailedError
            A malformed date, modality or value (the net layer's message).
        """
        start, end = self.date_from.text().strip(), self.date_to.text().strip()
        dates = f"{start}-{end}" if (start or end) else None
        return net.Query(
            level=net.QueryLevel.STUDY,
            patient_id=self.patient_id.text().strip() or None,
            patient_name=self.patient_name.text().strip() or None,
            study_date=net.parse_date_range(dates) if dates else None,
            modality=self.modality.text().strip() or None,
            accession_number=self.accession.text().strip() or None,
        )

    # ------------------------------------------------------------------ actions
    def echo(self) -> Worker | None:
        """Test connection: C-ECHO (or a QIDO-RS ping) in a worker."""
        try:
            s, web = self.server(), self._web()
        except VtkDicomError as exc:
            self.show_error(str(exc))
            return None

        def done(seconds: float) -> None:
            self.status.setText(f"{s.describe(web=bool(web))} answered in {1000 * seconds:.0f} ms")

        return self._start("Testing the connection", lambda _progress: net.echo(s, web=web), done)

    def search(self) -> Worker | None:
        """Search studies with the fields (C-FIND or QIDO-RS, in a worker)."""
        if self.busy:
            return None
        try:
            s, q, web = self.server(), self.query(), self._web()
        except VtkDicomError as exc:
            self.show_error(str(exc))
            return None

        def done(records: list[Any]) -> None:
            self.studies = [r for r in records if isinstance(r, net.StudyRecord)]
            self.series = []
            self._shown_study = None
            _fill(self.series_table, [])
            _fill(self.study_table, [self._study_row(r) for r in self.studies])
            self.status.setText(f"{len(self.studies)} stud{'y' if len(self.studies) == 1 else 'ies'} on {s.describe(web=bool(web))}")
            if len(self.studies) == 1:
                self.study_table.selectRow(0)

        return self._start("Searching", lambda _progress: net.find(s, q, web=web), done)

    def _study_row(self, r: net.StudyRecord) -> list[str]:
        name = "***" if self.anonymize and r.patient_name else r.patient_name
        return [r.study_date, r.patient_id, name, "/".join(r.modalities), _count(r.n_series), _count(r.n_instances), r.accession_number, r.description]

    def selected_study(self) -> net.StudyRecord | None:
        """The study of the selected row."""
        rows = _selected_rows(self.study_table)
        return self.studies[rows[0]] if rows and rows[0] < len(self.studies) else None

    def selected_series(self) -> net.SeriesRecord | None:
        """The series of the selected row."""
        rows = _selected_rows(self.series_table)
        return self.series[rows[0]] if rows and rows[0] < len(self.series) else None

    def _study_selected(self) -> None:
        rows = _selected_rows(self.study_table)
        if not rows:
            return
        if self.busy:
            self._pending_study = rows[0]
            return
        self.list_series(rows[0])

    def list_series(self, row: int) -> Worker | None:
        """List the series of the study in ``row`` (series-level C-FIND or QIDO-RS, in a worker)."""
        if self.busy or not 0 <= row < len(self.studies):
            return None
        study = self.studies[row]
        try:
            s, web = self.server(), self._web()
        except VtkDicomError as exc:
            self.show_error(str(exc))
            return None

        def done(records: list[net.SeriesRecord]) -> None:
            self.series = sorted(records, key=lambda r: (r.series_number if r.series_number is not None else 1 << 30, r.series_uid))
            self._shown_study = study.study_uid
            _fill(
                self.series_table,
                [[_count(r.series_number), r.modality, _count(r.n_instances), r.description, r.series_uid] for r in self.series],
            )
            self.status.setText(f"{len(self.series)} series in study {study.study_date} {study.description}".rstrip())
            if len(self.series) == 1:
                self.series_table.selectRow(0)

        return self._start("Listing series", lambda _progress: net.list_series(s, study.study_uid, web=web), done)

    def retrieve(self) -> Worker | None:
        """Retrieve the selected series (or the whole study when no series is selected) into
        the study cache, with progress and Cancel; then open it."""
        study = self.selected_study()
        if self.busy or study is None:
            return None
        series = self.selected_series() if self._shown_study == study.study_uid else None
        try:
            s, method = self.server(), self.method()
        except VtkDicomError as exc:
            self.show_error(str(exc))
            return None
        cache = self.cache_dir()
        series_uid = series.series_uid if series is not None else None

        def work(progress: Callable[[int, int, str], None]) -> net.RetrieveResult:
            return net.retrieve(s, study.study_uid, series_uid, method=method, cache_dir=cache, progress=progress)

        what = f"series {series.series_number if series and series.series_number is not None else ''}".rstrip() if series else "study"
        self._retrieving = True
        return self._start(f"Retrieving {what}", work, self._retrieved)

    def _retrieved(self, result: net.RetrieveResult) -> None:
        self.last_result = result
        self.progress.setRange(0, max(result.n_instances, 1))
        self.progress.setValue(result.n_instances)
        self.status.setText(f"{result.n_instances} instances in {result.folder} ({result.n_transferred} transferred, {result.n_cached} already cached)")
        self.retrieved.emit(result)
        if self.opener is not None:
            self.opened = self.opener(os.fspath(result))
            self.accept()

    def cancel(self) -> None:
        """Cancel the running retrieval at its next instance (whole files stay in the cache)."""
        if self.worker is not None and self.worker.isRunning():
            self.worker.cancel()
            self.status.setText("Cancelling...")

    @property
    def busy(self) -> bool:
        """Whether a search, listing or retrieval runs."""
        return self.worker is not None and not self.worker.isFinished()

    # ------------------------------------------------------------------ workers
    def _start(self, title: str, fn: Callable[[Callable[[int, int, str], None]], Any], done: Callable[[Any], None]) -> Worker:
        self.clear_error()
        worker = Worker(fn, self)
        self.status.setText(f"{title}...")
        self.progress.setRange(0, 0)  # busy until the first report
        self.progress.setTextVisible(self._retrieving)

        def progressed(n: int, total: int, stage: str) -> None:
            if total > 0:
                self.progress.setRange(0, total)
                self.progress.setValue(min(n, total))
            self.status.setText(f"{title}: {stage} {n}/{total}")

        def cancelled() -> None:
            self.status.setText(f"{title}: cancelled (whole files stay in the cache; Retrieve again fetches only the rest)")

        worker.progressed.connect(progressed)
        worker.succeeded.connect(done)
        worker.failed.connect(self.show_error)
        worker.cancelled.connect(cancelled)
        worker.finished.connect(self._worker_finished)
        self.worker = worker
        self.worker_created.emit(worker)
        worker.start()
        self._update_buttons()
        return worker

    def _worker_finished(self) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self._retrieving = False
        self._update_buttons()
        pending, self._pending_study = self._pending_study, None
        if pending is not None and 0 <= pending < len(self.studies) and self.studies[pending].study_uid != self._shown_study:
            self.list_series(pending)

    def _update_buttons(self) -> None:
        busy = self.busy
        self.search_button.setEnabled(not busy)
        self.echo_button.setEnabled(not busy)
        self.retrieve_button.setEnabled(not busy and self.selected_study() is not None)
        self.cancel_button.setEnabled(busy and self._retrieving)
        self.study_table.setEnabled(not (busy and self._retrieving))
        self.series_table.setEnabled(not (busy and self._retrieving))

    def show_error(self, message: str) -> None:
        """Show the net layer's message in the error line (one line; never a traceback)."""
        self.last_error = _one_line(message)
        self.error_label.setText(self.last_error)
        self.error_label.setToolTip(message)
        self.error_label.show()
        self.status.setText("Failed.")

    def clear_error(self) -> None:
        """Hide the error line."""
        self.last_error = None
        self.error_label.clear()
        self.error_label.hide()

    def done(self, r: int) -> None:  # noqa: D102 - QDialog API
        # a QThread must not be destroyed while it runs: stop the transfer, wait for it
        if self.worker is not None and self.worker.isRunning():
            self.worker.cancel()
            self.worker.wait()
        super().done(r)


def open_pacs_dialog(window: MainWindow, *, config: str | os.PathLike[str] | None = None, cache_dir: str | os.PathLike[str] | None = None) -> PacsDialog:
    """Show the window's PACS dialog (made on first use, then reused with servers.toml read again).

    Parameters
    ----------
    window : MainWindow
        The retrieved folder opens in it through ``window.open_path``.
    config, cache_dir : optional
        See :class:`PacsDialog`.

    Returns
    -------
    PacsDialog
    """
    dialog = window.findChild(PacsDialog, "pacs_dialog")
    if not isinstance(dialog, PacsDialog):
        dialog = PacsDialog(window, opener=window.open_path, config=config, cache_dir=cache_dir, anonymize=bool(getattr(window, "anonymize", False)))
    else:
        dialog.reload_servers()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def install_pacs_action(
    window: MainWindow,
    menu: QtWidgets.QMenu,
    *,
    config: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> QtWidgets.QAction:
    """Add "Open from PACS..." to ``menu``; it shows :class:`PacsDialog`, whose retrieved
    series opens in ``window`` as a folder does (``window.open_path(folder)``).

    Parameters
    ----------
    window : MainWindow
    menu : QMenu
        Usually the window's File menu.
    config, cache_dir : optional
        See :class:`PacsDialog`.

    Returns
    -------
    QAction
    """
    action = QtWidgets.QAction("Open from &PACS...", menu)
    action.setObjectName("open_from_pacs")
    action.setStatusTip("Search a PACS (DIMSE or DICOMweb), retrieve a series into the study cache and open it")

    def show(_checked: bool = False) -> None:
        open_pacs_dialog(window, config=config, cache_dir=cache_dir)

    action.triggered.connect(show)
    menu.addAction(action)
    return action
