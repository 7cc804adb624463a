"""A manifest file's bytes as text: a regular file within the size budget, in a Unicode
encoding YAML reads (UTF-8, or UTF-16/32 with a byte order mark), with no character YAML
refuses. Every refusal names the line, the byte offset and what to do about it.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from pathlib import Path

from barecount.manifest.limits import MAX_FILE_BYTES, YamlProblem, line_and_column

# Longest first: the UTF-32 little-endian mark starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
# What YAML allows in a stream: tab, line breaks and printable characters.
_REFUSED = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SAVE_AS_UTF8 = "save the file as UTF-8"


def read_text(file: Path) -> str:
    """The text of ``file``.

    Raises:
        YamlProblem: the file cannot be read, is not a regular file, is over the size
            budget, is not Unicode text, or holds a character YAML refuses.
    """
    data = _read_bytes(file)
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _decode(data, len(bom), codec, name)
    return _decode(data, 0, "utf-8", "UTF-8")


def _read_bytes(file: Path) -> bytes:
    try:
        # O_NONBLOCK: a pipe named *.yaml must not block the reader; regular files ignore it
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise YamlProblem(1, _open_problem(file, exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise YamlProblem(
                1,
                "not a regular file (a directory, device, pipe or socket); manifests are plain "
                "text files, so replace it with one or remove it",
            )
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlProblem(1, f"cannot read file ({exc.strerror or exc}); check it") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise YamlProblem(
            1,
            f"file is over the {MAX_FILE_BYTES} byte budget for one manifest file; "
            "split it into several files",
        )
    return data


def _open_problem(file: Path, exc: OSError) -> str:
    if file.is_symlink():
        target = os.readlink(file)
        if exc.errno == errno.ELOOP:
            return f"symbolic link loop (the link points to {target!r}); fix or remove the link"
        if exc.errno == errno.ENOENT:
            return f"broken symbolic link to {target!r}; fix or remove the link"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read file (permission denied); make it readable"
    return f"cannot read file ({exc.strerror or exc}); check it"


def _decode(data: bytes, skip: int, codec: str, name: str) -> str:
    try:
        text = data[skip:].decode(codec)
    except UnicodeDecodeError as exc:
        good = data[skip : skip + exc.start].decode(codec)
        _check_characters(good, data, skip, codec)
        offset = skip + exc.start
        line, column = line_and_column(good)
        raise YamlProblem(
            line,
            f"byte 0x{data[offset]:02x} at byte offset {offset} (column {column}) is not "
            f"{name}; {SAVE_AS_UTF8}",
        ) from None
    _check_characters(text, data, skip, codec)
    return text


def _check_characters(text: str, data: bytes, skip: int, codec: str) -> None:
    match = _REFUSED.search(text)
    if match is None:
        return
    before = text[: match.start()]
    offset = skip + len(before.encode(codec))
    line, column = line_and_column(before)
    char = match.group()
    where = f"at byte offset {offset} (column {column})"
    if char == "\x00" and codec == "utf-8" and _looks_like_utf16(data):
        raise YamlProblem(
            line,
            f"NUL byte {where}: the file looks like UTF-16 without a byte order mark; "
            f"{SAVE_AS_UTF8}",
        )
    raise YamlProblem(
        line,
        f"control character U+{ord(char):04X} {where} is not allowed in YAML; remove it, "
        f'or write it as an escape such as "\\x{ord(char):02x}" inside double quotes'
        if ord(char) < 0x100
        else f"character U+{ord(char):04X} {where} is not allowed in YAML; remove it",
    )


def _looks_like_utf16(data: bytes) -> bool:
    """ASCII text saved as UTF-16 has a NUL in every other byte."""
    head = data[:200]
    nuls = max(head[0::2].count(0), head[1::2].count(0))
    return nuls >= 2 and nuls >= len(head) // 4
