"""Where a dataset lives: a local folder or an object-storage prefix, through pyarrow.fs.

    store = Store.open("s3://bucket/prefix")      # or "data/x", "/abs/x", "file:///x", "gs://b/p"
    store.write_bytes("dataset.json", blob)        # visible only once complete
    store.put_file(staged_path, "shards/statgen-000000.tar")

S3 settings come from the environment of the process that touches the store (a Ray
worker uses its own): AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (any S3-compatible store;
http or https from the URL's scheme), AWS_REGION / AWS_DEFAULT_REGION, and the usual
credential variables or instance profile. Without an endpoint or a region, pyarrow asks
AWS for the bucket's region. The pyarrow filesystem is never pickled; it is rebuilt lazily.

gs:// settings: Google's default credentials, or, with STORAGE_EMULATOR_HOST
([http://]host:port, what Google's own client libraries honour), an emulator reached
anonymously over plain HTTP.

Atomicity. Local: a hidden temporary name in the same folder, fsync, os.replace. Object
storage: the object is uploaded whole under a hidden temporary name (one output stream,
one write() call, closed once), then copied server-side to its name (S3 CopyObject, GCS
rewrite: the object appears whole or not at all) and the temporary removed. pyarrow has
no abort: closing a stream, or dropping it (its destructor closes it), publishes whatever
was written so far, so a write that fails half-way would publish a truncated object under
the name being written. With the hidden temporary name, what a failed upload leaves is a
hidden object, removed at once (or, if the process dies first, by the next --resume),
which readers never list. A process that dies mid-upload leaves nothing: an object
appears only when its stream closes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import pathlib
import posixpath
import re
import secrets
import shutil
import tempfile
import threading
import urllib.parse

import pyarrow as pa
import pyarrow.fs as pafs

from statgen import faults
from statgen.errors import ConfigError, StorePathError

CHUNK = 1 << 20
_REMOTE = ("s3", "gs")
_SUPPORTED = "a local folder, file:///abs/path, s3://bucket/prefix or gs://bucket/prefix"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]")


class Store:
    """A dataset location: a local folder or an object-storage prefix, through pyarrow.fs. Picklable (ships to Ray workers)."""

    def __init__(self, uri: str, local_root: pathlib.Path | None, scheme: str, base: str):
        self.uri = uri  # normalised: an absolute path, or scheme://bucket[/prefix]
        self.local_root = local_root
        self.is_local = local_root is not None
        self._scheme = scheme  # "file", "s3" or "gs"
        self._base = base  # the root as a pyarrow path: "/abs/x" or "bucket/prefix"
        self._fs: pafs.FileSystem | None = None

    # -- construction -------------------------------------------------------------------

    @classmethod
    def open(cls, uri: str) -> Store:
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigError(f"storage location {uri!r}: expected {_SUPPORTED}")
        m = _SCHEME.match(uri)
        if m is None:
            return cls._local(uri, uri)
        scheme = m.group(1).lower()
        if scheme in ("file", *_REMOTE) and not uri[len(scheme) + 1:].startswith("//"):
            raise ConfigError(f"storage location {uri!r}: malformed URI; expected {scheme}://...")
        parts = urllib.parse.urlsplit(uri)
        if scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ConfigError(f"storage location {uri!r}: malformed file URI; expected file:///absolute/path")
            return cls._local(urllib.parse.unquote(parts.path), uri)
        if scheme not in _REMOTE:
            raise ConfigError(f"storage location {uri!r}: unsupported scheme '{scheme}:'; use {_SUPPORTED} "
                              "(write ./name for a local folder whose name has a ':')")
        bucket, prefix = parts.netloc, parts.path.strip("/")
        segments = prefix.split("/") if prefix else []
        if (not _BUCKET.fullmatch(bucket) or parts.query or parts.fragment
                or any(s in ("", ".", "..") for s in segments)):
            raise ConfigError(
                f"storage location {uri!r}: malformed URI; expected {scheme}://bucket/prefix "
                "(lowercase bucket name, no empty, '.' or '..' path parts, no query)")
        base = "/".join([bucket, *segments])
        return cls(f"{scheme}://{base}", None, scheme, base)

    @classmethod
    def _local(cls, path: str, given: str) -> Store:
        root = pathlib.Path(os.path.abspath(os.path.expanduser(path)))
        if root.exists() and not root.is_dir():
            raise ConfigError(f"storage location {given!r}: {root} is a file; give a folder")
        return cls(str(root), root, "file", root.as_posix())

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fs": None}  # rebuilt from the worker's own environment

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def fs(self) -> pafs.FileSystem:
        if self._fs is None:
            self._fs = _make_filesystem(self._scheme, self._base.split("/", 1)[0])
        return self._fs

    # -- paths ----------------------------------------------------------------------------

    def _path(self, rel: str) -> str:
        rel = rel.strip("/")
        if any(s in (".", "..") for s in rel.split("/")) or "//" in rel:
            raise StorePathError(f"bad path {rel!r} inside {self.uri}")
        return f"{self._base.rstrip('/')}/{rel}" if rel else self._base

    def join(self, rel: str) -> str:
        """A full URI (object storage) or path (local) for messages."""
        rel = rel.strip("/")
        if self.is_local:
            return str(self.local_root / rel) if rel else self.uri
        return f"{self.uri}/{rel}" if rel else self.uri

    def filesystem_and_path(self, rel: str) -> tuple[pafs.FileSystem, str]:
        """For pyarrow.dataset / parquet. Locally the parent folder is created, since pyarrow
        does not; writes through it are plain writes, not atomic ones."""
        path = self._path(rel)
        if self.is_local and rel.strip("/"):
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        return self.fs, path

    @contextlib.contextmanager
    def _errors(self, what: str, rel: str):
        """Re-raise storage errors as OSError (same subclass and errno) naming the full location."""
        try:
            yield
        except (OSError, pa.ArrowException) as e:
            cls = type(e) if type(e) in _PLAIN_OS_ERRORS else OSError
            where = self.join(rel)
            err = cls(f"cannot {what} {where}: {_reason(e, where)}")
            err.errno = getattr(e, "errno", None)
            raise err from e

    # -- reading --------------------------------------------------------------------------

    def exists(self, rel: str) -> bool:
        with self._errors("look up", rel):
            return self.fs.get_file_info(self._path(rel)).type != pafs.FileType.NotFound

    def is_empty(self) -> bool:
        """No files anywhere under the root (a missing root is empty). A "directory" that
        outlived its files (pyarrow leaves a marker when deleting on S3) does not count.

        Locally, a walk that stops at the first file. On object storage, one recursive
        listing: a non-recursive one cannot be trusted to show sub-folders (GCS, and its
        emulator, list no implied folder for a prefix that holds only deeper objects, so
        a stopped run's _run/ and shards/ would look empty)."""
        with self._errors("list", ""):
            if self.is_local:
                todo = [self._path("")]
                while todo:
                    infos = self.fs.get_file_info(pafs.FileSelector(todo.pop(), allow_not_found=True))
                    if any(i.type == pafs.FileType.File for i in infos):
                        return False
                    todo += [i.path for i in infos if i.type == pafs.FileType.Directory]
                return True
            infos = self.fs.get_file_info(pafs.FileSelector(self._path(""), recursive=True, allow_not_found=True))
            return not any(i.type == pafs.FileType.File for i in infos)

    def list(self, subdir: str) -> list[str]:
        """Files directly under subdir, relative to the root, sorted; hidden names left out."""
        sub = subdir.strip("/")
        with self._errors("list", sub):
            infos = self.fs.get_file_info(pafs.FileSelector(self._path(sub), allow_not_found=True))
        return sorted(f"{sub}/{i.base_name}" if sub else i.base_name for i in infos
                      if i.type == pafs.FileType.File and not i.base_name.startswith("."))

    def list_hidden(self, subdir: str) -> list[str]:
        """The hidden files directly under subdir (temporary and partial files), relative to the root."""
        sub = subdir.strip("/")
        with self._errors("list", sub):
            infos = self.fs.get_file_info(pafs.FileSelector(self._path(sub), allow_not_found=True))
        return sorted(f"{sub}/{i.base_name}" if sub else i.base_name for i in infos
                      if i.type == pafs.FileType.File and i.base_name.startswith("."))

    def size(self, rel: str) -> int:
        with self._errors("stat", rel):
            info = self.fs.get_file_info(self._path(rel))
        if info.type != pafs.FileType.File:
            err = FileNotFoundError(f"cannot stat {self.join(rel)}: no such file")
            err.errno = errno.ENOENT
            raise err
        return info.size

    def open_input(self, rel: str):
        """A seekable, buffered binary file object (tarfile "r|", PIL, pyarrow). Close it."""
        with self._errors("open", rel):
            if self.is_local:
                return open(self._path(rel), "rb")
            # Each read on a pyarrow S3 or GCS file is one ranged GET: buffer to keep reads large.
            return io.BufferedReader(_ObjectReader(self.fs.open_input_file(self._path(rel))), CHUNK)

    def read_bytes(self, rel: str) -> bytes:
        with self.open_input(rel) as f, self._errors("read", rel):
            return f.read()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8")

    def sha256(self, rel: str) -> str:
        h = hashlib.sha256()
        with self.open_input(rel) as f, self._errors("read", rel):
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return h.hexdigest()

    # -- writing --------------------------------------------------------------------------

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Atomic: readers see the old content or all of the new, never a part."""
        view = memoryview(data)  # a TypeError here, before anything is created
        with self._errors("write", rel):
            if self.is_local:
                target = pathlib.Path(self._path(rel))
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = _hidden_temp(target)
                try:
                    with open(tmp, "xb") as f:
                        f.write(view)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, target)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
                _fsync_dir(target.parent)
            else:
                _put(self.fs, self._path(rel), pa.py_buffer(view), rel)

    def put_file(self, local_path: pathlib.Path, rel: str) -> None:
        """Publish a finished, staged local file under rel; the staged file is consumed
        (moved, or uploaded then removed). The target appears only when complete."""
        local_path = pathlib.Path(local_path)
        with self._errors("publish", rel):
            if not local_path.is_file():
                raise FileNotFoundError(errno.ENOENT, "no staged file", str(local_path))
            if self.is_local:
                target = pathlib.Path(self._path(rel))
                target.parent.mkdir(parents=True, exist_ok=True)
                _fsync_file(local_path)
                try:
                    os.replace(local_path, target)
                except OSError as e:
                    if e.errno != errno.EXDEV:
                        raise
                    tmp = _hidden_temp(target)
                    try:
                        shutil.copyfile(local_path, tmp)
                        _fsync_file(tmp)
                        os.replace(tmp, target)
                    except BaseException:
                        tmp.unlink(missing_ok=True)
                        raise
                    local_path.unlink()
                _fsync_dir(target.parent)
            else:
                if local_path.stat().st_size == 0:
                    _put(self.fs, self._path(rel), pa.py_buffer(b""), rel)
                else:
                    with pa.memory_map(str(local_path)) as src:
                        _put(self.fs, self._path(rel), src.read_buffer(), rel)
                local_path.unlink()

    def create_exclusive(self, rel: str, data: bytes) -> bool:
        """Create rel holding data, only if nothing is there; True when this call created it.

        Atomic against any other writer (the run lock): locally a private file linked into
        place (link() fails if the name exists); S3: PutObject with If-None-Match: *; GCS:
        an upload with ifGenerationMatch=0. An S3-compatible store that answers 501 to the
        condition, or ignores it, gets a check-then-write (not safe against a race)."""
        with self._errors("create", rel):
            path = self._path(rel)
            if self.is_local:
                target = pathlib.Path(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                # Not named like a temporary (.tmp), which sweep_partials removes.
                tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.excl")
                try:
                    with open(tmp, "xb") as f:
                        f.write(data)
                        f.flush()
                        os.fsync(f.fileno())
                    os.link(tmp, target)
                except FileExistsError:
                    return False
                finally:
                    tmp.unlink(missing_ok=True)
                _fsync_dir(target.parent)
                return True
            if self.exists(rel):  # cheap, and a store that ignores the condition still stops a later run
                return False
            bucket, key = path.split("/", 1)
            try:
                return (_s3_create_exclusive if self._scheme == "s3" else _gcs_create_exclusive)(bucket, key, data)
            except NotImplementedError:
                pass
        if self.exists(rel):
            return False
        self.write_bytes(rel, data)
        return True

    def delete(self, rel: str) -> None:
        """Remove one file; a missing one is fine."""
        with self._errors("delete", rel):
            try:
                self.fs.delete_file(self._path(rel))
            except FileNotFoundError:
                pass

    def staging_dir(self) -> pathlib.Path:
        """Where a worker stages a shard before put_file. Local: <root>/shards itself (stage
        under a hidden name, so put_file is a rename on the same filesystem). Object storage:
        a fresh temporary folder, which the caller removes."""
        if self.is_local:
            d = self.local_root / "shards"
            d.mkdir(parents=True, exist_ok=True)
            return d
        return pathlib.Path(tempfile.mkdtemp(prefix="statgen-stage-"))


# -- helpers -------------------------------------------------------------------------------

_PLAIN_OS_ERRORS = {OSError, FileNotFoundError, FileExistsError, PermissionError,
                    IsADirectoryError, NotADirectoryError, TimeoutError, ConnectionError}


class _ObjectReader(io.RawIOBase):
    """A pyarrow object-storage input file as a raw stream that never asks for bytes at or
    past the object's end: pyarrow's GCS file, sought or read there, asks GCS for a range
    that starts at the end, which GCS answers with 416 (Range Not Satisfiable). Reads are
    positional (read_at: one ranged GET each, as before); seeking only moves a number."""

    def __init__(self, f):
        self.f, self.end, self.pos = f, f.size(), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        k = min(len(b), self.end - self.pos)
        if k <= 0:
            return 0
        data = self.f.read_at(k, self.pos)
        memoryview(b).cast("B")[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        new = pos + (0, self.pos, self.end)[whence]
        if new < 0:
            raise OSError(errno.EINVAL, f"negative seek position {new}")
        self.pos = new
        return new

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        self.f.close()
        super().close()


def _reason(e: BaseException, where: str = "") -> str:
    """The cause in a few words; its file name only when it says more than `where` (the location
    the message already names), e.g. the hidden temporary file a write went to."""
    if isinstance(e, OSError) and e.strerror and not isinstance(e, pa.ArrowException):
        name = os.fspath(e.filename) if e.filename else ""
        name = name.decode(errors="replace") if isinstance(name, bytes) else name
        said = bool(name) and (where == name or where.endswith("/" + name.lstrip("/")))
        return e.strerror + (f" ({name})" if name and not said else "")
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _gcs_emulator() -> tuple[str, str] | None:
    """(scheme, host:port) of STORAGE_EMULATOR_HOST, or None when it is not set."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if not emulator:
        return None
    u = urllib.parse.urlsplit(emulator if "://" in emulator else f"http://{emulator}")
    if u.scheme not in ("http", "https") or not u.netloc or u.path.strip("/"):
        raise ConfigError(f"STORAGE_EMULATOR_HOST={emulator!r}: expected [http://]host:port")
    return u.scheme, u.netloc


def _s3_settings(bucket: str) -> tuple[str | None, str | None]:
    """(endpoint URL, region) from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_REGION /
    AWS_DEFAULT_REGION. Plain AWS without a region asks for the bucket's; an endpoint of
    its own without a region leaves it to the client's defaults."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        u = urllib.parse.urlsplit(endpoint)
        if u.scheme not in ("http", "https") or not u.netloc or u.path.strip("/"):
            raise ConfigError(f"AWS_ENDPOINT_URL={endpoint!r}: expected http(s)://host[:port]")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region and not endpoint:  # plain AWS: ask for the bucket's region (what FileSystem.from_uri does)
        region = pafs.resolve_s3_region(bucket)
    return endpoint, region


def _make_filesystem(scheme: str, bucket: str) -> pafs.FileSystem:
    if scheme == "file":
        return pafs.LocalFileSystem()
    if scheme == "gs":
        emulator = _gcs_emulator()
        if emulator:
            return pafs.GcsFileSystem(anonymous=True, endpoint_override=emulator[1], scheme=emulator[0])
        return pafs.FileSystem.from_uri(f"gs://{bucket}")[0]
    endpoint, region = _s3_settings(bucket)
    kwargs: dict = {"allow_delayed_open": True}  # small objects: one PutObject at close
    if region:
        kwargs["region"] = region
    if endpoint:
        u = urllib.parse.urlsplit(endpoint)
        kwargs.update(endpoint_override=u.netloc, scheme=u.scheme)
    return pafs.S3FileSystem(**kwargs)


# -- conditional create (the run lock) ----------------------------------------------------


_S3_CLIENTS: dict = {}
_S3_CLIENTS_LOCK = threading.Lock()


def _s3_create_exclusive(bucket: str, key: str, data: bytes) -> bool:
    """PutObject with If-None-Match: * (pyarrow cannot send it, hence botocore): S3 creates
    the object only if no object has that key, atomically; 412 when one does."""
    import botocore.config
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint, region = _s3_settings(bucket)
    try:
        with _S3_CLIENTS_LOCK:  # a client is thread-safe, creating one is not (and takes ~0.1 s)
            client = _S3_CLIENTS.get((endpoint, region))
            if client is None:
                settings = dict(s3={"addressing_style": "path"} if endpoint else {},  # as pyarrow does
                                retries={"mode": "standard"}, connect_timeout=10, read_timeout=60)
                try:  # botocore >= 1.36 adds checksums by default, which some S3-compatible stores refuse
                    config = botocore.config.Config(**settings, request_checksum_calculation="when_required")
                except TypeError:
                    config = botocore.config.Config(**settings)
                client = botocore.session.get_session().create_client("s3", endpoint_url=endpoint, region_name=region, config=config)
                _S3_CLIENTS[(endpoint, region)] = client
        client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        return True
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = e.response.get("Error", {}).get("Code", "")
        if status == 412 or code == "PreconditionFailed":
            return False  # it exists
        if status == 409 or code == "ConditionalRequestConflict":
            return False  # another conditional create of it is in flight: the caller looks again
        if status == 501 or code == "NotImplemented":
            raise NotImplementedError(code) from None
        raise OSError(errno.EIO, f"{code or status}: {e.response.get('Error', {}).get('Message', '')}".strip(": ")) from None
    except BotoCoreError as e:
        raise OSError(errno.EIO, str(e).splitlines()[0]) from None


GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"


def _gcs_create_exclusive(bucket: str, key: str, data: bytes) -> bool:
    """A JSON-API multipart upload with ifGenerationMatch=0: GCS creates the object only if
    no live object has that name, atomically; 412 when one does. The emulator is reached
    anonymously; real GCS with Google's default credentials (google-auth)."""
    import json
    import urllib.error
    import urllib.request

    emulator = _gcs_emulator()
    headers = {}
    if emulator:
        base = f"{emulator[0]}://{emulator[1]}"
    else:
        base = "https://storage.googleapis.com"
        try:
            import google.auth
            import google.auth.transport.requests

            creds, _ = google.auth.default(scopes=[GCS_SCOPE])
            creds.refresh(google.auth.transport.requests.Request())
        except Exception as e:  # noqa: BLE001 - no credentials, no network: one line
            raise OSError(errno.EACCES, f"no Google credentials for the lock ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        headers["Authorization"] = f"Bearer {creds.token}"
    boundary = f"statgen-{secrets.token_hex(8)}"
    body = b"".join([
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
        json.dumps({"name": key}).encode(),
        f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
        data,
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    url = f"{base}/upload/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?uploadType=multipart&ifGenerationMatch=0"
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={**headers, "Content-Type": f"multipart/related; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
        return True
    except urllib.error.HTTPError as e:
        if e.code == 412:
            return False  # it exists
        raise OSError(errno.EIO, f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise OSError(errno.EIO, str(e.reason)) from None


def _put(fs: pafs.FileSystem, path: str, buf: pa.Buffer, rel: str = "") -> None:
    """Publish one object whole: upload it under a hidden temporary name (one stream, one
    write() call, closed once), then copy it server-side to `path`. No `with` around the
    stream: its __exit__ would close, and so publish, a stream that failed half-way."""
    tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.{secrets.token_hex(4)}.tmp")
    out = fs.open_output_stream(tmp)
    try:
        cut = faults.eio_cut("upload", rel, buf.size)  # None unless a fault test asks
        if cut is None:
            out.write(buf)
        else:
            out.write(buf.slice(0, cut))
            raise faults.eio_error("upload", rel)
        out.close()
    except BaseException:
        # pyarrow has no abort: closing the stream publishes what it holds, under the
        # hidden name, which is removed at once (or swept by the next --resume). Close
        # it here rather than leave it to the destructor: the traceback would keep the
        # stream alive, and pyarrow finalises S3 in an atexit hook, after which an S3
        # stream that is destroyed hangs.
        with contextlib.suppress(Exception):
            out.close()
        del out
        with contextlib.suppress(Exception):
            fs.delete_file(tmp)
        raise
    try:
        fs.copy_file(tmp, path)  # server-side: `path` appears whole or not at all
    finally:
        with contextlib.suppress(Exception):
            fs.delete_file(tmp)


def _hidden_temp(target: pathlib.Path) -> pathlib.Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _fsync_file(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: pathlib.Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        _fsync_file(path)
