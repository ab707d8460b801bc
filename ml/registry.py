"""Model versions on disk: one directory per version, and a pointer to the promoted one.

Layout under the registry root::

    <root>/<version>/manifest.json   what the version is (kind, data fingerprint, feature spec,
                                     calibration, metrics, file digests, code version)
    <root>/<version>/<file>          the files the trainer gave (weights, report, ...)
    <root>/PROMOTED                  the name of the version that serves, if any

A version is written into a hidden temporary directory and renamed into place, and PROMOTED is
replaced atomically, so a crash never leaves a half-written version or a torn pointer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from graph.settings import Settings

MANIFEST = "manifest.json"
PROMOTED = "PROMOTED"
REQUIRED_KEYS = ("kind", "data_fingerprint", "feature_spec", "calibration", "metrics")
_TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


class RegistryError(Exception):
    """A model-registry operation failed: unknown version, bad manifest, a file that does not
    match its digest."""

    code = "MODEL_REGISTRY"
    exit_code = 2


@dataclass
class VersionInfo:
    """One line of ``ModelRegistry.list``."""

    name: str
    kind: str
    created_at: str
    promoted: bool
    roc_auc: float | None


def _plain_name(name: str) -> bool:
    return (
        bool(name)
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and name not in (".", "..")
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _copy_synced(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


class ModelRegistry:
    """The model versions under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def create(
        self,
        manifest: Mapping[str, Any],
        files: Mapping[str, bytes | Path],
        name: str | None = None,
    ) -> str:
        """Stores a new version and returns its name.

        The default name is ``<UTC time>-<kind>-<first 8 of data_fingerprint>`` with ``-2``,
        ``-3``... appended when taken. The manifest gains ``version``, ``created_at``, ``files``
        (name: sha256) and ``code_version`` (unless given).
        """
        for key in REQUIRED_KEYS:
            if key not in manifest:
                raise RegistryError(f"manifest: missing required key {key!r}")
        for filename in files:
            if not _plain_name(filename) or filename == MANIFEST:
                raise RegistryError(
                    f"files: {filename!r} must be a plain file name other than {MANIFEST}"
                )
        if name is not None and (not _plain_name(name) or name.startswith(".")):
            raise RegistryError(f"name: {name!r} is not a valid version name")
        now = datetime.now(UTC)
        base = name or f"{now:%Y%m%d-%H%M%S}-{manifest['kind']}-{manifest['data_fingerprint'][:8]}"
        if not _plain_name(base) or base.startswith("."):
            raise RegistryError(f"manifest: kind and data_fingerprint give a bad name {base!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))
        try:
            digests: dict[str, str] = {}
            for filename, content in files.items():
                target = tmp / filename
                if isinstance(content, bytes | bytearray | memoryview):
                    _write_synced(target, bytes(content))
                    digests[filename] = hashlib.sha256(content).hexdigest()
                elif isinstance(content, Path):
                    digests[filename] = _copy_synced(content, target)
                else:
                    raise RegistryError(f"files[{filename!r}]: expected bytes or a Path")
            record = dict(manifest)
            record.setdefault("code_version", code_version())
            record.update(created_at=now.isoformat(), files=digests)
            return self._move_into_place(tmp, record, base, explicit=name is not None)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _move_into_place(self, tmp: Path, record: dict[str, Any], base: str, explicit: bool) -> str:
        for attempt in range(1, 1000):
            candidate = base if attempt == 1 else f"{base}-{attempt}"
            final = self.root / candidate
            if final.exists():
                if explicit:
                    raise RegistryError(f"a model version named {candidate!r} already exists")
                continue
            record["version"] = candidate
            try:
                text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise RegistryError(f"manifest: not JSON-serialisable: {exc}") from None
            _write_synced(tmp / MANIFEST, (text + "\n").encode("utf-8"))
            try:
                # A complete version is never an empty directory, so the rename cannot replace
                # one that another process created in the meantime; it fails and we move on.
                os.replace(tmp, final)
            except OSError:
                if final.exists() and not explicit:
                    continue
                raise
            return candidate
        raise RegistryError(f"no free version name for {base!r}")

    def _version_dir(self, name: str) -> Path:
        folder = self.root / name
        if not _plain_name(name) or name.startswith(".") or not (folder / MANIFEST).is_file():
            raise RegistryError(f"no model version named {name!r}")
        return folder

    def path(self, name: str) -> Path:
        """The directory of a version."""
        return self._version_dir(name)

    def show(self, name: str) -> dict[str, Any]:
        """The manifest of a version."""
        folder = self._version_dir(name)
        try:
            manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"model version {name!r}: unreadable manifest: {exc}") from None
        return manifest

    def list(self) -> list[VersionInfo]:
        """Every version, newest first."""
        if not self.root.is_dir():
            return []
        promoted = self._promoted_name()
        versions = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
                continue
            try:
                manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            metrics = manifest.get("metrics")
            auc = metrics.get("roc_auc") if isinstance(metrics, dict) else None
            versions.append(
                VersionInfo(
                    name=folder.name,
                    kind=str(manifest.get("kind", "")),
                    created_at=str(manifest.get("created_at", "")),
                    promoted=folder.name == promoted,
                    roc_auc=float(auc) if isinstance(auc, int | float) else None,
                )
            )
        versions.sort(key=lambda v: (v.created_at, v.name), reverse=True)
        return versions

    def verify(self, name: str) -> None:
        """Checks every file of a version against the sha256 its manifest records."""
        folder = self._version_dir(name)
        files = self.show(name).get("files")
        if not isinstance(files, dict):
            raise RegistryError(f"model version {name!r}: manifest has no file digests")
        for filename, expected in files.items():
            target = folder / filename
            if not _plain_name(filename) or not target.is_file():
                raise RegistryError(f"model version {name!r}: file {filename!r} is missing")
            if _sha256(target) != expected:
                raise RegistryError(
                    f"model version {name!r}: file {filename!r} does not match its sha256"
                )

    def promote(self, name: str) -> None:
        """Makes a verified version the one that serves."""
        self.verify(name)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(f"{name}\n".encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / PROMOTED)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _promoted_name(self) -> str | None:
        try:
            name = (self.root / PROMOTED).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def promoted(self) -> str | None:
        """The promoted version's name, or None when none is promoted."""
        name = self._promoted_name()
        if name is None:
            return None
        if (
            not _plain_name(name)
            or name.startswith(".")
            or not (self.root / name / MANIFEST).is_file()
        ):
            raise RegistryError(f"the promoted model version {name!r} is missing from {self.root}")
        return name

    def demote(self) -> None:
        """Promotes nothing: scoring falls back to the no-model rule."""
        (self.root / PROMOTED).unlink(missing_ok=True)


def code_version() -> str:
    """The installed vouchgraph version, with ``+g<git rev>`` (and ``-dirty``) when the package
    sits in a git checkout. Never raises."""
    try:
        version = metadata.version("vouchgraph")
    except metadata.PackageNotFoundError:
        version = "unknown"
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    rev = git("rev-parse", "--short", "HEAD")
    if not rev:
        return version
    status = git("status", "--porcelain")
    return f"{version}+g{rev}" + ("-dirty" if status else "")


def fingerprint(*arrays: np.ndarray, extra: Mapping[str, Any] | None = None) -> str:
    """sha256 hex digest over each array's dtype, shape and contents, then ``extra`` as JSON.

    Object arrays (strings) are hashed by their JSON form, since their bytes are pointers."""
    digest = hashlib.sha256()
    for array in arrays:
        a = np.ascontiguousarray(array)
        if a.dtype.kind == "O":
            data = json.dumps(a.tolist(), default=str).encode("utf-8")
        else:
            data = a.tobytes()
        digest.update(f"{a.dtype.str}|{a.shape}|{len(data)}|".encode())
        digest.update(data)
    if extra is not None:
        digest.update(json.dumps(extra, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return digest.hexdigest()


def default_root(settings: Settings) -> Path:
    """Where model versions live: ``$VOUCHGRAPH_MODEL_DIR``, else ``<data dir>/models``."""
    override = os.environ.get("VOUCHGRAPH_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    return settings.data_dir / "models"
