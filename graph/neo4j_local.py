"""A local Neo4j 5.26 LTS server that the project runs for development and tests.

Neo4j comes from Maven Central: `graph/neo4j-pom.xml` (shipped in the package; also reachable
as `tools/neo4j/pom.xml`) is resolved with `mvn dependency:copy-dependencies` into `lib/` of the
Neo4j directory, once per version, and the server runs as a child process in its own session
(`org.neo4j.server.CommunityEntryPoint` with a generated config): Bolt on loopback only, on a free
port (the previous one when it is still free), HTTP off, auth on with a generated password kept
0600, heap and page cache capped. One server per directory, shared by every process: the state
file is written (marked "starting") before the server answers, under a file lock, so a second
process waits for that server instead of starting another. Neo4j recovers its transaction logs
after a `kill -9`, so a restart has the data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from graph import local_server
from graph.errors import ConfigError, StoreUnavailable
from graph.queries import ROUND_TRIP

NEO4J_VERSION = "5.26.30"  # keep in step with graph/neo4j-pom.xml and docker/ (a test checks)
HOST = "127.0.0.1"
USER = "neo4j"
STATE_FILE = "server.json"
PASSWORD_FILE = "password"
LOG_FILE = "server.log"
LOCK_FILE = ".lock"
HEAP = os.environ.get("VOUCHGRAPH_NEO4J_HEAP", "512m")
PAGE_CACHE = os.environ.get("VOUCHGRAPH_NEO4J_PAGECACHE", "256m")
# JDK modules Neo4j reaches into for its page cache and Netty (the launcher script passes the
# same); without them it falls back to slower code paths and logs warnings.
_JVM_OPENS = (
    "java.base/java.nio",
    "java.base/java.lang",
    "java.base/java.util",
    "java.base/sun.nio.ch",
    "java.base/java.io",
    "java.base/java.util.concurrent",
)

# Children started by this process, so that stopping one also reaps it.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ToolMissing(ConfigError):
    """Java or Maven is not installed (the local Neo4j needs both to start the first time)."""


@dataclass(frozen=True)
class Neo4jServer:
    """Where a running local Neo4j listens and how to log in."""

    port: int
    password: str
    pid: int
    home: Path

    @property
    def uri(self) -> str:
        return f"bolt://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """The settings that point every command of the project at this server."""
        return {
            "VOUCHGRAPH_GRAPH_URI": self.uri,
            "NEO4J_USER": USER,
            "NEO4J_PASSWORD": self.password,
        }

    def shell_lines(self) -> str:
        """`export` lines for `eval "$(vouchgraph neo4j start --env)"`."""
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.env().items())


def default_home() -> Path:
    """The Neo4j directory: VOUCHGRAPH_NEO4J_DIR, else `<user data dir>/vouchgraph/neo4j`."""
    explicit = os.environ.get("VOUCHGRAPH_NEO4J_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("vouchgraph")) / "neo4j"


def java_executable() -> str:
    """The `java` to run Neo4j with: $JAVA_HOME/bin/java, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise ToolMissing("Java not found: the local Neo4j needs Java 17 or 21 (`java` on PATH)")
    return found


def _pom() -> Path:
    return Path(str(resources.files("graph").joinpath("neo4j-pom.xml")))


def lib_dir(home: Path) -> Path:
    """The Neo4j jars, resolved from Maven Central on first use and kept per version."""
    return home / f"lib-{NEO4J_VERSION}"


def ensure_jars(home: Path) -> Path:
    """Resolve Neo4j's jars into the Neo4j directory unless they are already there."""
    lib = lib_dir(home)
    if (lib / ".complete").exists():
        return lib
    with local_server.locked(home, ".jars.lock"):  # two processes may need them at once
        if not (lib / ".complete").exists():
            _resolve_jars(home, lib)
    return lib


def _resolve_jars(home: Path, lib: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing("Maven not found: the local Neo4j's jars are resolved with `mvn`")
    partial = home / f".lib-{NEO4J_VERSION}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(_pom()),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}",
        "-DincludeScope=runtime",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise StoreUnavailable(f"resolving Neo4j {NEO4J_VERSION} with Maven failed: {tail}")
    (partial / ".complete").write_text(NEO4J_VERSION + "\n", encoding="utf-8")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)


def _password(directory: Path) -> str:
    return local_server.secret(directory / PASSWORD_FILE, 24)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as Neo4j binds it: connections of a killed server in TIME_WAIT do not hold the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_port(previous: int | None) -> int:
    if previous and _port_free(previous):
        return previous  # keeps the URI of an earlier `--env` valid across restarts
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def config_text(home: Path, port: int) -> str:
    """neo4j.conf for a loopback-only, memory-capped server with auth on and HTTP off."""
    lines = [
        f"server.default_listen_address={HOST}",
        f"server.default_advertised_address={HOST}",
        "server.bolt.enabled=true",
        f"server.bolt.listen_address={HOST}:{port}",
        "server.bolt.tls_level=DISABLED",
        "server.http.enabled=false",
        "server.https.enabled=false",
        "dbms.security.auth_enabled=true",
        f"server.memory.pagecache.size={PAGE_CACHE}",
        # a bulk import or a big export must not take the machine's memory
        "db.memory.transaction.total.max=320m",
        f"server.directories.data={home / 'data'}",
        f"server.directories.logs={home / 'logs'}",
        f"server.directories.import={home / 'import'}",
        f"server.directories.run={home / 'run'}",
        f"server.directories.lib={lib_dir(home)}",
        f"server.directories.plugins={home / 'plugins'}",
        # no phoning home: the bank's network has no internet
        "dbms.usage_report.enabled=false",
        "db.tx_log.rotation.retention_policy=2 files",
        "server.logs.gc.enabled=false",
    ]
    return "\n".join(lines) + "\n"


def _read_state(home: Path) -> dict[str, object] | None:
    try:
        state = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
        return {"pid": int(state["pid"]), "port": int(state["port"]), "state": state["state"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_state(home: Path, pid: int, port: int, state: str) -> None:
    local_server.write_private(
        home / STATE_FILE, json.dumps({"pid": pid, "port": port, "state": state})
    )


def _is_our_server(pid: int, home: Path) -> bool:
    # a recycled pid will not be a Neo4j entry point started on this directory
    if pid in _children:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return "CommunityEntryPoint" in cmdline and str(home) in cmdline


def _answers(port: int, password: str) -> bool:
    """True once Bolt accepts our login and the default database answers a query."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        if sock.connect_ex((HOST, port)) != 0:
            return False
    import neo4j

    try:
        with (
            neo4j.GraphDatabase.driver(
                f"bolt://{HOST}:{port}", auth=(USER, password), connection_timeout=3
            ) as driver,
            driver.session() as session,
        ):
            session.run(ROUND_TRIP.text).consume()
        return True
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
        return False


def _log_tail(home: Path, lines: int = 5) -> str:
    text = ""
    for name in (LOG_FILE, "logs/neo4j.log"):
        with contextlib.suppress(OSError):
            text += (home / name).read_text(encoding="utf-8", errors="replace")
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def running(home: Path | None = None) -> Neo4jServer | None:
    """The server of `home` when it is up and answering, else None."""
    home = home or default_home()
    state = _read_state(home)
    if state is None or state["state"] != "running":
        return None
    pid, port = int(state["pid"]), int(state["port"])  # type: ignore[call-overload]
    if not local_server.alive(pid, _children) or not _is_our_server(pid, home):
        return None
    password = _password(home)
    if not _answers(port, password):
        return None
    return Neo4jServer(port, password, pid, home)


def _set_initial_password(home: Path, lib: Path, java: str, password: str) -> None:
    # Only before the very first start: later the password lives in the system database.
    if (home / "data" / "databases" / "system").exists():
        return
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    done = subprocess.run(
        [
            java,
            "-cp",
            f"{lib}/*",
            "org.neo4j.cli.AdminTool",
            "dbms",
            "set-initial-password",
            password,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise StoreUnavailable("setting the local Neo4j's initial password failed")


def jvm_command(java: str, lib: Path, main: str, heap: str = HEAP) -> list[str]:
    """A java command line for one of Neo4j's entry points, with the heap capped."""
    opens = [f"--add-opens={module}=ALL-UNNAMED" for module in _JVM_OPENS]
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Dfile.encoding=UTF-8",
        *opens,
        "-cp",
        f"{lib}/*",
        main,
    ]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it dies (Linux)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(
    home: Path, startup_timeout: float, tied: bool = False, port: int | None = None
) -> Neo4jServer:
    java = java_executable()
    lib = ensure_jars(home)
    for sub in ("conf", "data", "logs", "import", "run", "plugins"):
        local_server.private_dir(home / sub)
    password = _password(home)
    previous = _read_state(home)
    if port is None:
        port = _pick_port(int(previous["port"]) if previous else None)  # type: ignore[call-overload]
    local_server.write_private(home / "conf" / "neo4j.conf", config_text(home, port))
    _set_initial_password(home, lib, java, password)
    command = [
        *jvm_command(java, lib, "org.neo4j.server.CommunityEntryPoint"),
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
    ]
    with open(home / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the shell that started it does not stop it
            close_fds=True,
            cwd=home,
            preexec_fn=_die_with_parent if tied else None,
        )
    _children[proc.pid] = proc
    _write_state(home, proc.pid, port, "starting")
    return _wait_until_up(home, proc.pid, port, password, startup_timeout)


def _wait_until_up(
    home: Path, pid: int, port: int, password: str, startup_timeout: float
) -> Neo4jServer:
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if not local_server.alive(pid, _children):
            _children.pop(pid, None)
            with contextlib.suppress(FileNotFoundError):
                (home / STATE_FILE).unlink()
            raise StoreUnavailable(f"local Neo4j exited while starting; log: {_log_tail(home)}")
        if _answers(port, password):
            _write_state(home, pid, port, "running")
            return Neo4jServer(port, password, pid, home)
        time.sleep(0.25)
    # still starting (recovering a big store): leave it running, a later call will find it
    raise StoreUnavailable(
        f"local Neo4j (pid {pid}) still starting after {startup_timeout:.0f} s; "
        "run `vouchgraph neo4j status`"
    )


def ensure_running(
    home: Path | None = None, startup_timeout: float = 180.0, tied: bool = False
) -> Neo4jServer:
    """Return the server of `home`, starting it first if no process has. A `tied` server
    (tests) is stopped by the kernel when the starting process dies, even by `kill -9`."""
    home = home or default_home()
    server = running(home)
    if server is not None:
        return server
    with local_server.locked(home, LOCK_FILE):
        state = _read_state(home)
        if state is not None:
            pid, port = int(state["pid"]), int(state["port"])  # type: ignore[call-overload]
            if local_server.alive(pid, _children) and _is_our_server(pid, home):
                # running or still starting (another process started it): wait, never kill
                return _wait_until_up(home, pid, port, _password(home), startup_timeout)
        return _spawn(home, startup_timeout, tied)


def stop(home: Path | None = None, timeout: float = 60.0) -> bool:
    """Stop the server of `home` cleanly (SIGTERM: Neo4j checkpoints); True if one ran."""
    home = home or default_home()
    with local_server.locked(home, LOCK_FILE):
        state = _read_state(home)
        if state is None:
            return False
        pid = int(state["pid"])  # type: ignore[call-overload]
        was_running = local_server.alive(pid, _children) and _is_our_server(pid, home)
        if was_running:
            local_server.terminate(pid, _children, timeout)
        child = _children.pop(pid, None)
        if child is not None:  # it exited by itself: reap it
            child.wait()
        with contextlib.suppress(FileNotFoundError):
            (home / STATE_FILE).unlink()
        return was_running


def status(home: Path | None = None) -> dict[str, object]:
    """What `vouchgraph neo4j status` shows: running, starting or stopped, and where."""
    home = home or default_home()
    result: dict[str, object] = {
        "home": str(home),
        "version": NEO4J_VERSION,
        "jars_cached": (lib_dir(home) / ".complete").exists(),
    }
    state = _read_state(home)
    pid = int(state["pid"]) if state else 0  # type: ignore[call-overload]
    if state is None or not (local_server.alive(pid, _children) and _is_our_server(pid, home)):
        result["state"] = "stopped"
        return result
    server = running(home)
    result.update(pid=pid, port=state["port"])
    if server is None:
        result["state"] = "starting"
        return result
    result.update(state="running", uri=server.uri, user=USER)
    return result


@contextlib.contextmanager
def offline(home: Path | None = None, startup_timeout: float = 180.0) -> Iterator[Path]:
    """Stop the server of `home` for an offline tool (`neo4j-admin database import`) and
    start it again afterwards, on the same port, even when the tool fails.

    The directory's lock is held while the tool runs, so a process that wants the server then
    waits for the restart instead of starting a server on store files being rewritten.
    """
    home = home or default_home()
    before = _read_state(home)
    port = int(before["port"]) if before else None  # type: ignore[call-overload]
    stop(home)
    with local_server.locked(home, LOCK_FILE):
        state = _read_state(home)
        if state is not None and local_server.alive(int(state["pid"]), _children):  # type: ignore[call-overload]
            raise StoreUnavailable("another process started the local Neo4j again; retry")
        try:
            yield home
        finally:
            # the same port, so the URI every client holds stays valid
            same = port if port is not None and _port_free(port) else None
            _spawn(home, startup_timeout, port=same)
