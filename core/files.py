"""Publishing files and folders all-or-nothing, owner-only.

Two writers, shared by every command that leaves files for someone to read:

- ``write_file_atomic``: one file through a private temporary sibling,
  fsynced, renamed over the target, folder fsynced.
- ``FolderPublisher``: a whole folder (a dataset export, an evaluation
  report). Files go into a fresh hidden sibling folder (0700, files 0600),
  each fsynced; a completion marker (``COMPLETE.json``: every file's SHA-256
  and size, and the folder's manifest hash) is written last; the folder is
  fsynced and swapped in with ONE rename (``renameat2(RENAME_EXCHANGE)`` on
  Linux, ``renamex_np(RENAME_SWAP)`` on macOS). The previous folder stays
  whole until that rename, then is removed. Where no atomic exchange exists
  the previous folder is renamed aside first and put back by the next run if
  a crash fell between the two renames.

A consumer (a tuning backend, a reviewer's script) trusts a folder only when
``read_complete`` verifies its marker: a kill at any step leaves either the
previous complete folder or the new one, never a mix (tests/core/test_files.py).

Temporaries are named ``.<target>.attune-<kind>-<pid>-<random>`` so the next
run can tell its predecessors' leftovers (dead pid) from a concurrent run's.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from core.errors import AttuneError, UsageError

MARKER = "COMPLETE.json"
MARKER_FORMAT = 1
FILE_MODE = 0o600
FOLDER_MODE = 0o700
_TAG = ".attune-"
# Where no pid can be asked about (Windows), a temporary this old is a leftover.
_STALE_AFTER_S = 3600


class PublishFailed(AttuneError):
    """A file or folder could not be written; the previous one was left as it was."""


# Steps a crash can fall between. Module-level names on purpose: the kill
# tests replace them in a child process to die at each one in turn.
def fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_exchange():  # noqa: ANN202 - returns a ctypes function or None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux"):
        fn = getattr(libc, "renameat2", None)
        if fn is None:
            return None
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        at_fdcwd, rename_exchange = -100, 2
        return lambda a, b: fn(at_fdcwd, a, at_fdcwd, b, rename_exchange)
    if sys.platform == "darwin":
        fn = getattr(libc, "renamex_np", None)
        if fn is None:
            return None
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        rename_swap = 0x2
        return lambda a, b: fn(a, b, rename_swap)
    return None


_EXCHANGE = _load_exchange()


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic rename; False where the system cannot."""
    if _EXCHANGE is None:
        return False
    if _EXCHANGE(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _temp_name(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}{_TAG}{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _is_leftover(path: Path) -> bool:
    """A temporary of a run that is over (its process is gone), never a live one's."""
    try:
        pid = int(path.name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return True
    if os.name == "posix":
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:
        return time.time() - path.lstat().st_mtime > _STALE_AFTER_S
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def clean_leftovers(target: Path) -> list[Path]:
    """Finish or undo what an earlier, killed run left beside ``target``.

    A previous folder renamed aside (no atomic exchange) is put back when the
    target is missing; every other leftover temporary is removed. Returns
    what was removed.
    """
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return []
    prefix = f".{target.name}{_TAG}"
    leftovers = sorted(p for p in parent.iterdir() if p.name.startswith(prefix) and _is_leftover(p))
    removed = []
    for p in leftovers:
        if "-old-" in p.name and not target.exists():
            os.rename(p, target)
            fsync_dir(parent)
            continue
        _remove(p)
        removed.append(p)
    return removed


def write_file_atomic(path: Path, data: bytes | str) -> None:
    """One file, owner-only, whole or not at all (temporary, fsync, rename, fsync folder)."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not a file")
    try:
        clean_leftovers(path)
        tmp = _temp_name(path, "tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        raise PublishFailed(f"{path}: cannot write ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PublishFailed(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _HashingFile:
    """A private file in the staging folder that hashes what it is given."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._f = os.fdopen(fd, "wb", buffering=1024 * 1024)
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | str) -> int:
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.hash.update(data)
        self.size += len(data)
        return self._f.write(data)

    def finish(self) -> None:
        if self._f.closed:
            return
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._f.close()


def folder_hash(files: dict[str, dict[str, Any]]) -> str:
    """The manifest hash of a published folder: every file's name and SHA-256, sorted."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\x00{files[name]['sha256']}\n".encode())
    return h.hexdigest()


class FolderPublisher:
    """Write a folder's files into a staging sibling, then swap it in whole.

    ``owned`` names the files this kind of folder holds: an existing target
    holding anything else (a user's own files) is refused rather than
    replaced, since publishing replaces the whole folder.
    """

    def __init__(self, target: Path, owned: Collection[str]) -> None:
        self.target = Path(target)
        self.owned = {*owned, MARKER}
        self.files: dict[str, _HashingFile] = {}
        self.staging: Path | None = None
        if self.target.is_symlink():
            # The swap would replace the link, not the folder it points to.
            raise UsageError(f"{self.target}: is a symbolic link; give the folder it points to")
        if self.target.exists() and not self.target.is_dir():
            raise UsageError(f"{self.target}: not a folder")
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
            clean_leftovers(self.target)
            self._refuse_foreign()
            # An empty folder at once: the path is shown to be writable, and
            # the swap below is then always an exchange of two folders.
            if not self.target.exists():
                self.target.mkdir(mode=FOLDER_MODE)
            self.staging = _temp_name(self.target, "new")
            self.staging.mkdir(mode=FOLDER_MODE)
            os.chmod(self.staging, FOLDER_MODE)  # whatever the umask says
        except OSError as exc:
            raise PublishFailed(f"{self.target}: cannot create the folder ({exc.strerror or exc})") from exc

    def _refuse_foreign(self) -> None:
        if not self.target.is_dir():
            return
        for entry in self.target.iterdir():
            name = entry.name
            # Temp files of older Attune versions (".<file>.<random>.tmp") are ours too.
            ours = name in self.owned or (name.startswith(".") and name.endswith(".tmp"))
            if not ours:
                raise UsageError(
                    f"{self.target}: holds {name!r}, which Attune did not write; "
                    "publishing replaces the whole folder, so choose an empty or new folder"
                )

    def open(self, name: str) -> _HashingFile:
        if name not in self.owned or name == MARKER or name in self.files:
            raise ValueError(f"{name!r} is not a file of this folder (or was opened twice)")
        assert self.staging is not None
        f = _HashingFile(self.staging / name)
        self.files[name] = f
        return f

    def write(self, name: str, data: bytes | str) -> None:
        self.open(name).write(data)

    def commit(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Finish every file, write the marker, swap the folder in; returns the marker."""
        assert self.staging is not None, "already committed or discarded"
        staging = self.staging
        try:
            listing = {}
            for name, f in self.files.items():
                f.finish()
                listing[name] = {"sha256": f.hash.hexdigest(), "bytes": f.size}
            marker: dict[str, Any] = {
                "attune_complete": MARKER_FORMAT,
                "manifest_sha256": folder_hash(listing),
                "files": listing,
                **(meta or {}),
            }
            m = _HashingFile(staging / MARKER)
            m.write(json.dumps(marker, indent=2, sort_keys=True) + "\n")
            m.finish()
            fsync_dir(staging)
            if exchange(staging, self.target):
                # ``staging`` now holds the previous folder.
                fsync_dir(self.target.parent)
                _remove(staging)
            else:
                self._swap_in_two_steps(staging)
            self.staging = None
            return marker
        except OSError as exc:
            raise PublishFailed(f"{self.target}: cannot write ({exc.strerror or exc}); "
                                "the previous folder was left as it was") from exc

    def _swap_in_two_steps(self, staging: Path) -> None:
        old = None
        if self.target.exists():
            old = _temp_name(self.target, "old")
            os.rename(self.target, old)
        try:
            os.rename(staging, self.target)
        except OSError:
            if old is not None:
                os.rename(old, self.target)
            raise
        fsync_dir(self.target.parent)
        if old is not None:
            _remove(old)

    def discard(self) -> None:
        for f in self.files.values():
            f.close()
        if self.staging is not None:
            _remove(self.staging)
            self.staging = None

    def __enter__(self) -> FolderPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()  # a no-op after commit


def read_complete(folder: Path) -> dict[str, Any] | None:
    """The folder's marker when every listed file is there with its hash; else None."""
    folder = Path(folder)
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        listing = marker["files"]
        if marker.get("attune_complete") != MARKER_FORMAT or folder_hash(listing) != marker["manifest_sha256"]:
            return None
        for name, info in listing.items():
            h = hashlib.sha256()
            with open(folder / name, "rb") as f:
                for block in iter(lambda f=f: f.read(1024 * 1024), b""):
                    h.update(block)
            if h.hexdigest() != info["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return marker
