"""Reading an input file with bounds: regular files only, never more than a limit.

A FIFO blocks ``open`` until someone writes (an import hung for 400 s), a
device behind a symlink (``/dev/zero``) reads forever until ``MemoryError``,
and a file that grows while read can pass a size check made before. So the
type is checked before opening (without following into a FIFO's open), again
on the open descriptor, and the read itself stops one byte past the limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import InputRefused

_KINDS = [
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
]


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def not_regular_reason(mode: int) -> str:
    return f"not a regular file ({_kind(mode)}); only regular files are read"


def _mb(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n} bytes"


def read_bounded(path: Path | str, limit: int) -> bytes:
    """The bytes of regular file ``path``; InputRefused (one line) for anything else or over ``limit``."""
    path = Path(path)
    try:
        st = path.stat()  # follows symlinks: a link to /dev/zero is a device
    except OSError as exc:
        raise InputRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputRefused(path, not_regular_reason(st.st_mode))
    if st.st_size > limit:
        raise InputRefused(path, f"the file is over {_mb(limit)}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)  # the file may have been swapped for a FIFO since the check
        if not stat.S_ISREG(st.st_mode):
            raise InputRefused(path, not_regular_reason(st.st_mode))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise InputRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if total > limit:
        raise InputRefused(path, f"the file is over {_mb(limit)} (it grew while being read)")
    return b"".join(chunks)


# Small files the user names on the command line (speaker maps, column maps, system
# instructions): a megabyte is far more than any of them needs.
SMALL_FILE_BYTES = 1024 * 1024


def read_small_text(path: Path | str, limit: int = SMALL_FILE_BYTES) -> str:
    """A small UTF-8 text file (BOM allowed), bounded; InputRefused for anything else."""
    data = read_bounded(path, limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputRefused(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if "\x00" in text:
        raise InputRefused(path, "binary file (NUL bytes), not text")
    return text


class _NotJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> object:
    raise _NotJsonNumber(f"{name} is not valid JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):  # 1e999
        raise _NotJsonNumber(f"{literal[:20]} is out of range")
    return value


def parse_json(path: Path | str, text: str) -> object:
    """JSON ``text`` of ``path``, strictly: NaN/Infinity, nesting past the recursion limit and
    numbers past CPython's digit limit are one-line MalformedInput errors, not tracebacks."""
    from json import JSONDecodeError, loads

    from core.errors import MalformedInput

    try:
        return loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except JSONDecodeError as exc:
        raise MalformedInput(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise MalformedInput(f"{path}: not valid JSON (nested too deeply)") from None
    except _NotJsonNumber as exc:
        raise MalformedInput(f"{path}: not valid JSON ({exc})") from None
    except ValueError:
        raise MalformedInput(f"{path}: not valid JSON (a number with too many digits)") from None


def read_small_json(path: Path | str, limit: int = SMALL_FILE_BYTES) -> object:
    """A small JSON file, bounded and strict; one-line errors for every way it can be wrong."""
    return parse_json(path, read_small_text(path, limit))
