"""Connection settings for Google Cloud (project, region, bucket, prefix, sign-in) — ``attune connect`` in a dialog.

The optional Gemini API key (generation through the Gemini Developer API) is
never saved with the settings: it goes to the OS keychain only, or, where
there is no secure keychain, is kept in memory for this session
(``attune connect --api-key-prompt`` does the same).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core import gemini_connection as gconn
from desktop.errors import show_exception
from desktop.operations import tuning as ops

SIGN_IN = {"adc": "Application Default Credentials", "service_account": "Service-account JSON file",
           "access_token": "Access-token file"}


class ConnectionDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Google Cloud connection")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.project, self.region, self.bucket, self.prefix, self.file = (QLineEdit() for _ in range(5))
        self.auth = QComboBox()
        for key, label in SIGN_IN.items():
            self.auth.addItem(label, key)
        form.addRow("Project", self.project)
        form.addRow("Region", self.region)
        form.addRow("Bucket", self.bucket)
        form.addRow("Prefix", self.prefix)
        form.addRow("Sign-in", self.auth)
        form.addRow("Key / token file", self.file)
        self.api_key = QLineEdit()
        self.api_key.setObjectName("connectionApiKey")
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("optional; kept in the OS keychain only")
        form.addRow("Gemini API key", self.api_key)
        self.api_key_state = QLabel()
        self.api_key_state.setObjectName("connectionApiKeyState")
        self.api_key_state.setTextFormat(Qt.TextFormat.PlainText)
        form.addRow("", self.api_key_state)
        layout.addLayout(form)
        self.result_label = QLabel()
        self.result_label.setObjectName("connectionTestResult")
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.test_button = QPushButton("Test connection")
        buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.test_button.clicked.connect(self.test)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.set_connection(gconn.Connection())
        ops.load_connection(parent=self).success(self.set_connection).run_in_background()
        ops.api_key_state(parent=self).success(lambda has: self.api_key_state.setText(
            "a key is stored" if has else "no key stored")).failure(
            lambda exc: self.api_key_state.setText(f"keychain: {exc}")).run_in_background()

    def set_connection(self, conn: gconn.Connection) -> None:
        self.project.setText(conn.project)
        self.region.setText(conn.region)
        self.bucket.setText(conn.bucket)
        self.prefix.setText(conn.prefix)
        self.auth.setCurrentIndex(max(0, self.auth.findData(conn.auth)))
        self.file.setText(conn.service_account_file or conn.access_token_file)

    def connection(self) -> gconn.Connection:
        auth = self.auth.currentData()
        path = self.file.text().strip()
        return gconn.Connection(
            project=self.project.text().strip(), region=self.region.text().strip() or gconn.DEFAULT_REGION,
            bucket=self.bucket.text().strip().removeprefix("gs://").strip("/"), prefix=self.prefix.text().strip(),
            auth=auth, service_account_file=path if auth == "service_account" else "",
            access_token_file=path if auth == "access_token" else "")

    def test(self) -> None:
        try:
            conn = self.connection().check()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.result_label.setText(str(exc))
            return
        self.test_button.setEnabled(False)
        self.result_label.setText("Testing…")
        ops.test_connection(parent=self, conn=conn).success(
            lambda checks: self.result_label.setText("\n".join(
                f"{'ok' if c.ok else 'FAIL'}  {c.part}: {c.message}" for c in checks))
        ).finally_(lambda: self.test_button.setEnabled(True)).run_in_background()

    def save(self) -> None:
        try:
            conn = self.connection().check()
        except Exception as exc:  # noqa: BLE001
            show_exception(self, exc)
            return
        key = self.api_key.text().strip()
        if not key:
            ops.save_connection(parent=self, conn=conn).success(lambda _c: self.accept()).run_in_background()
            return

        def kept(in_keychain: bool) -> None:
            self.api_key.clear()
            if in_keychain:
                self.api_key_state.setText("key kept in the OS keychain")
                ops.save_connection(parent=self, conn=conn).success(lambda _c: self.accept()).run_in_background()
                return
            # Stay open so this is read: the key lives only until the app closes.
            self.api_key_state.setText("no secure keychain on this system: the key was written nowhere and "
                                       "is kept for this session only (settings saved)")
            ops.save_connection(parent=self, conn=conn).run_in_background()

        ops.keep_api_key(parent=self, key=key).success(kept).run_in_background()
