"""What the project's local servers (the embedded FalkorDB, the local Neo4j) share: a private
directory, files only the user can read, a directory lock, and a look at a process."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) readable by the user alone."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a 0600 file through a temporary file and a rename: a reader never sees half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def secret(path: Path, nbytes: int = 32) -> str:
    """The secret kept in `path`, generated (and kept 0600) on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    # hex, not urlsafe: a value starting with "-" would be read as an option by the tools that
    # take it on their command line (neo4j-admin's set-initial-password failed 1 time in 64)
    value = secrets.token_hex(nbytes)
    write_private(path, value + "\n")
    return value


@contextlib.contextmanager
def locked(directory: Path, name: str = ".lock") -> Iterator[None]:
    """Hold the directory's exclusive lock (one process at a time starts or stops its server)."""
    private_dir(directory)
    with open(directory / name, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def alive(pid: int, children: dict[int, subprocess.Popen[bytes]]) -> bool:
    """True while `pid` runs (a zombie does not count; our own children are polled)."""
    child = children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def terminate(pid: int, children: dict[int, subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM `pid` (both servers flush and checkpoint on it), SIGKILL it if it is still up
    after `timeout` seconds, and reap it when it is our child."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid, children):
        time.sleep(0.05)
    if alive(pid, children):
        os.kill(pid, signal.SIGKILL)
        while alive(pid, children):
            time.sleep(0.05)
    child = children.pop(pid, None)
    if child is not None:
        child.wait()
