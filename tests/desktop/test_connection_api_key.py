"""The Gemini API key in the Connection dialog: kept in the OS keychain only, or, with no secure keychain,
for this session only; never in the workspace. With it (and no project) generation goes to the Gemini API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from core import gemini_connection as gconn
from core.store import Store
from tests.desktop.conftest import drain
from tests.desktop.tune_helpers import answer_egress, close_page, open_page
from tests.fakes.gemini_server import FakeGoogle
from tests.fakes.gemini_workspace import fake, gstore  # noqa: F401 - fixtures

KEY = "AIza-test-key-not-a-real-one-4711"


class MemoryKeyring(KeyringBackend):
    """A secure-looking keychain for the test (priority above zero), held in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def no_session_key() -> Iterator[None]:
    old = keyring.get_keyring()
    gconn.remember_for_session(None)
    try:
        yield
    finally:
        gconn.remember_for_session(None)
        keyring.set_keyring(old)


def _workspace_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def _dialog(qtbot, home: Path):
    from desktop.connection_dialog import ConnectionDialog
    from desktop.operations import OpBus, install
    from desktop.taskman import TaskManager

    taskman = TaskManager(home)
    install(taskman, OpBus())
    dialog = ConnectionDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.project.text() == "proj")
    qtbot.waitUntil(lambda: dialog.api_key_state.text() != "")  # its keychain look-up has answered
    return dialog, taskman


def test_key_goes_to_the_keychain_only(qtbot, gstore: Store, tmp_path: Path, no_session_key) -> None:
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    dialog, taskman = _dialog(qtbot, tmp_path / "ws")
    try:
        qtbot.waitUntil(lambda: dialog.api_key_state.text() == "no key stored")
        dialog.api_key.setText(KEY)
        dialog.save_button.click()
        qtbot.waitUntil(lambda: dialog.result() == dialog.DialogCode.Accepted, timeout=10_000)
        assert memory.items == {(gconn.KEYRING_SERVICE, "api_key"): KEY}
        assert gconn.api_key() == KEY and dialog.api_key.text() == ""
    finally:
        drain(qtbot, taskman)
        taskman.shutdown()
    assert KEY.encode() not in _workspace_bytes(tmp_path / "ws")


def test_without_a_keychain_the_key_lasts_the_session_and_reaches_the_gemini_api(
        qtbot, gstore: Store, fake: FakeGoogle, tmp_path: Path, no_session_key) -> None:
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    dialog, taskman = _dialog(qtbot, tmp_path / "ws")
    try:
        dialog.project.setText("")  # no Vertex AI project: generation through the Gemini API
        dialog.api_key.setText(KEY)
        dialog.save_button.click()
        qtbot.waitUntil(lambda: "this session only" in dialog.api_key_state.text(), timeout=10_000)
        qtbot.waitUntil(lambda: gconn.load(gstore).project == "", timeout=10_000)
        assert dialog.isVisible()  # stays open, so the user reads where the key is (not) kept
        assert gconn.api_key() == KEY
        dialog.close()
    finally:
        drain(qtbot, taskman)
        taskman.shutdown()
    assert KEY.encode() not in _workspace_bytes(tmp_path / "ws")

    page, taskman = open_page(qtbot, tmp_path / "ws", vertex=False)
    try:
        seen: list = []
        timer = answer_egress("send_button", seen)
        page.gemini_system.setCurrentText("gemini:gemini-2.5-flash")
        page.generate_gemini_button.click()
        qtbot.waitUntil(lambda: " sent (" in page.gemini_result.text(), timeout=30_000)
        timer.stop()
        assert seen[0].fields["service"].text() == "gemini-api"
        calls = [r for r in fake.requests if r.path.endswith(":generateContent")]
        assert calls and {r.path for r in calls} == {"/v1beta/models/gemini-2.5-flash:generateContent"}
        assert {r.headers.get("x-goog-api-key") for r in calls} == {KEY}
    finally:
        close_page(qtbot, page, taskman)
