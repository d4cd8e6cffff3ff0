"""Output files: readers see the old file or the whole new one, and a path that cannot be
written is a one-line error naming it, found before anything else is written.

Every `-o FILE` goes through `Output`:

- a new file is created with the usual mode (0666 less the umask); an existing regular
  file is replaced with a file of its mode, by writing a hidden temporary file in the
  same folder and renaming it over the old one;
- a symbolic link is followed: the rename happens on the file it points to, in that
  file's folder, and the link stays a link;
- a FIFO, a terminal, a device or any other file that is not a regular file, and the
  process's own descriptors (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`), are written
  through as they are (they cannot be renamed over, and must not be);
- a missing folder is an error (unless the command makes its folders, as `export`
  does), as are a directory, a denied permission, or a path through a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import click

_REASONS = {
    errno.EISDIR: "is a directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENXIO: "no reader or device at that path",
    errno.EPIPE: "the reader closed it",
}


def reason(exc: OSError) -> str:
    """A short lower-case reason for an OS error, without the path Python puts in it."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    if exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


class OutputError(click.ClickException):
    """A file that cannot be written: `cannot write PATH: REASON` (exit 1)."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"cannot write {path}: {why}".replace("\n", "\\n"))


# A process's own descriptors: whatever they lead to (a shell redirection to a regular
# file included), they are written through, never renamed over.
_DESCRIPTOR = re.compile(
    r"/dev/(?P<std>stdin|stdout|stderr)|/dev/fd/(?P<fd>\d+)"
    r"|/proc/(?P<pid>self|thread-self|\d+)/fd/(?P<proc_fd>\d+)"
)
_STANDARD = {"stdin": 0, "stdout": 1, "stderr": 2}


def _is_descriptor(name: str) -> bool:
    return _DESCRIPTOR.fullmatch(os.path.abspath(name)) is not None


def _own_descriptor(name: str) -> int | None:
    """The number of this process's descriptor that NAME names (/dev/stdout: 1), if it does."""
    found = _DESCRIPTOR.fullmatch(os.path.abspath(name))
    if found is None:
        return None
    if found["std"]:
        return _STANDARD[found["std"]]
    if found["fd"]:
        return int(found["fd"])
    if found["pid"] in ("self", "thread-self", str(os.getpid())):
        return int(found["proc_fd"])
    return None


def _own_stream_at(info: os.stat_result | None) -> int | None:
    """This process's standard output or error, when it is the very file INFO describes."""
    if info is None:
        return None
    for fd in (1, 2):
        try:
            own = os.fstat(fd)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
            return fd
    return None


def _folder_of(name: str) -> Path:
    """The folder a new file at NAME goes in, as the user wrote it unless a link leads elsewhere."""
    target = Path(os.path.realpath(name))
    if os.fspath(target) == os.path.abspath(name):
        return Path(name).parent
    return target.parent


def _check_folder(name: str, folder: Path, *, access: bool = True) -> None:
    """The folder a new file goes in: it must exist, be a folder (and let us create files)."""
    try:
        info = folder.stat()
    except FileNotFoundError:
        raise OutputError(name, f"no such folder {folder}") from None
    except OSError as exc:
        raise OutputError(name, reason(exc)) from None
    if not stat.S_ISDIR(info.st_mode):
        raise OutputError(name, f"{folder} is not a folder")
    if access and not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(name, f"permission denied in folder {folder}")


def check_new_file(name: str) -> None:
    """Check, without writing, that a file could be created at NAME if nothing is there.

    An existing path is left to the caller (a backup refuses it, naming it).
    """
    if os.path.lexists(name):
        return
    if name.endswith(os.sep):
        raise OutputError(name, "is a directory")
    _check_folder(name, _folder_of(name))


class Output:
    """One output file, prepared before anything else is written and put in place by commit().

        with Output(path) as out:   # checks the path, creates the temporary file
            out.write(data)
            out.commit()            # the rename; without it the temporary file is removed

    Opening finds every problem a path can have (no folder, a directory, no permission),
    so a command can open its output before it records anything in the ledger, and
    record only when the file is ready: after that, commit() is one rename in the folder
    that was checked (or nothing at all, for a FIFO or a device written through).
    """

    def __init__(self, path: str, *, make_folders: bool = False) -> None:
        self.name = path
        self.make_folders = make_folders
        self._target = Path(os.path.realpath(path))  # a link's target, in its own folder
        self._temp: Path | None = None
        self._fd = -1
        self.direct = False  # written through: a FIFO, a terminal, a device

    def __enter__(self) -> Output:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()

    def open(self) -> None:
        """Check the path and open what will be written: a temporary file, or the node itself."""
        if _is_descriptor(self.name):
            self._open_direct()
            return
        try:
            info: os.stat_result | None = os.stat(self.name)  # through any links
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise OutputError(self.name, reason(exc)) from None
        if (info is not None and stat.S_ISDIR(info.st_mode)) or self.name.endswith(os.sep):
            raise OutputError(self.name, "is a directory")
        if info is not None and not stat.S_ISREG(info.st_mode):
            self._open_direct()
            return
        own = _own_stream_at(info)
        if own is not None:  # a link (or any other name) to where this process's output goes
            self._dup_own(own)
            return
        if self.make_folders:
            self._make_folders()
        # Creating the temporary file then says why the folder refuses it, if it does.
        _check_folder(self.name, _folder_of(self.name), access=False)
        self._open_temp(self._target.parent, info)

    def _make_folders(self) -> None:
        folder = self._target.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:  # a file where a folder should be
            raise OutputError(self.name, f"{exc.filename or folder} is not a folder") from None
        except OSError as exc:
            raise OutputError(self.name, reason(exc)) from None

    def _open_direct(self) -> None:
        own = _own_descriptor(self.name)
        if own is not None:
            self._dup_own(own)
            return
        try:
            regular = stat.S_ISREG(os.stat(self.name).st_mode)
            # Another process's descriptor to a regular file: appended to, never truncated.
            flags = os.O_WRONLY | os.O_NOCTTY | (os.O_APPEND if regular else 0)
            self._fd = os.open(self.name, flags)
        except OSError as exc:
            raise OutputError(self.name, reason(exc)) from None
        self.direct = True

    def _dup_own(self, own: int) -> None:
        # The descriptor itself (a copy of it): writes go where the process's own go, at
        # its offset, after what was printed so far.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            self._fd = os.dup(own)
        except OSError as exc:
            raise OutputError(self.name, reason(exc)) from None
        self.direct = True

    def _open_temp(self, folder: Path, info: os.stat_result | None) -> None:
        # The name's start only: a name near the file system's limit must still fit.
        stem = self._target.name[:64]
        for _ in range(100):
            import secrets  # here: it costs `show` a tenth of its start-up

            temp = folder / f".{stem}.{secrets.token_hex(6)}.tmp"
            try:
                # A new file: 0666 less the umask (the kernel applies it), as any program makes.
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(self.name, reason(exc)) from None
            break
        else:
            raise OutputError(self.name, f"cannot create a temporary file in {folder}")
        self._fd, self._temp = fd, temp
        if info is not None:
            try:  # the replacement keeps the old file's mode (and owner, when we may)
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
                if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, info.st_uid, info.st_gid)
            except OSError as exc:
                self.discard()
                raise OutputError(self.name, reason(exc)) from None

    def write(self, data: bytes) -> None:
        """Write all of `data`."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.discard()
            raise OutputError(self.name, reason(exc)) from None

    def write_all(self, chunks: Iterable[bytes], *, batch: int = 1 << 16) -> None:
        """Write every chunk, gathered in batches of about `batch` bytes."""
        for gathered in batches(chunks, batch):
            self.write(gathered)

    def restart(self) -> None:
        """Throw away what was written so far (a temporary file only), to write again."""
        if self._temp is None:
            raise OutputError(self.name, "cannot rewrite a FIFO or a device")
        try:
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)
        except OSError as exc:
            self.discard()
            raise OutputError(self.name, reason(exc)) from None

    def sync(self) -> None:
        """Put the temporary file's bytes on disk: after this, commit() writes no data."""
        if self._temp is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self.discard()
            raise OutputError(self.name, reason(exc)) from None

    def commit(self) -> None:
        """Put the file in place: one rename over the old file (or over the link's target)."""
        self.sync()
        try:
            os.close(self._fd)
        except OSError as exc:
            self._fd = -1
            self.discard()
            raise OutputError(self.name, reason(exc)) from None
        self._fd = -1
        if self._temp is not None:
            try:
                os.replace(self._temp, self._target)
            except OSError as exc:
                self.discard()
                raise OutputError(self.name, reason(exc)) from None
            self._temp = None

    def discard(self) -> None:
        """Close and remove the temporary file if commit() did not happen; harmless after it."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None


def batches(chunks: Iterable[bytes], size: int = 1 << 16) -> Iterator[bytes]:
    """The chunks joined into pieces of about `size` bytes: one write per piece, not per line."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def write_atomically(path: str, chunks: Iterable[bytes], *, make_folders: bool = False) -> None:
    """Write a file so that readers see the old file or the whole new one, never a part."""
    with Output(path, make_folders=make_folders) as out:
        out.write_all(chunks)
        out.commit()
