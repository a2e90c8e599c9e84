"""The Ray that a batch, or a clip's passes, run on: Ray started on this machine, or the
cluster at --ray-address, reached through Ray's public interface only (ray.init,
ray.exceptions, its documented variables). Before Ray is imported, a socket checks that
a gRPC server (as Ray's GCS is) answers at the address; a cluster that does not admit
this machine is known from what ray.init raises.

Ray's token authentication, as Ray 2.60 documents it: a cluster started with a token
(`ray start` takes the one in RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or
~/.ray/auth_token) admits only clients that send it, and a client sends its token only
with RAY_AUTH_MODE=token in its environment when Ray is imported. When that variable is
unset and the cluster is on this machine, the token found here is the one `ray start`
found, so the batch sets the variable for itself (as ray.init does for `--ray-address
auto`). To a cluster on another machine no token is sent unless RAY_AUTH_MODE=token
says so; the refusal names the variables to set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from nst.errors import InputError
from nst.quiet import native_stderr_to

ANSWER_SECONDS = 5
"""How long, in seconds, the port of --ray-address has to accept a connection, and then to
answer the HTTP/2 greeting, before the batch is refused."""
HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""What an HTTP/2 client sends first (RFC 9113, section 3.4): the connection preface,
then an empty SETTINGS frame (a 9-byte frame header: length 0, type 4, no flags, stream
0). An HTTP/2 server, as a gRPC server such as Ray's GCS is, answers with a SETTINGS
frame of its own."""
CORES_PER_WORKER = 4
"""Without --workers, one task runs at a time for every 4 cores of the cluster (at least one)."""
AUTH_MODE = "RAY_AUTH_MODE"
"""Ray's variable for its authentication; `token` makes a client send its token."""
WORKER_NICENESS = "RAY_worker_niceness"
"""Ray's variable for its workers' niceness, read when Ray starts: 15 by default (Ray 2.60),
so that its workers yield the cores to every other process. A batch's jobs and a clip's
frames are this program's own work, which a single run does at its own priority; beside
other work, at niceness 15 they took 5 to 20 times as long (measured on a loaded 2-core
Zen 3). So Ray started on this machine runs its workers at this process's niceness, unless
the variable is set."""


@dataclass(frozen=True)
class RayAddress:
    """Where a batch's Ray is: `address` None for Ray started on this machine, else the
    --ray-address of a cluster; `token` whether the batch sets RAY_AUTH_MODE=token for
    itself to join that cluster."""

    address: str | None
    token: bool = False


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster a batch runs on: where ("Ray on this machine" or the address), its
    live nodes, CPU cores (all, and the most one node has) and GPUs."""

    where: str
    nodes: int
    cores: int
    largest_node_cores: int
    gpus: float

    def shares(self, workers: int | None) -> tuple[int, int]:
        """How many tasks run at once (`workers`, None: one per CORES_PER_WORKER cores) and
        the threads each task's TensorFlow ops get: the cores shared among them, at most a
        node's."""
        at_once = workers or max(1, self.cores // CORES_PER_WORKER)
        return at_once, max(1, min(self.largest_node_cores, self.cores // at_once))


def check_ray_address(address: str | None) -> RayAddress:
    """The --ray-address `address` (None: Ray started on this machine), checked before Ray
    is imported: a gRPC server, as Ray's GCS is, answers at HOST:PORT (see _why_silent);
    the token is to be sent when the address is on this machine, RAY_AUTH_MODE is unset
    and a token is found here. Other forms (`auto`, `ray://...`) are left to ray.init.
    InputError, in one sentence, when no such server answers."""
    if address is None or "://" in address or not address.rpartition(":")[2].isdigit():
        return RayAddress(address)
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    reason = _why_silent(host, int(port))
    if reason is not None:
        raise InputError(
            f"--ray-address {address}: no Ray cluster answers there ({reason}); start one "
            f"with `ray start --head --port {port}`, or give the address that `ray start "
            f"--head` printed"
        )
    send_token = AUTH_MODE not in os.environ and _on_this_machine(host) and _has_token()
    return RayAddress(address, send_token)


def _why_silent(host: str, port: int) -> str | None:
    """Why no gRPC server answers at `host`:`port`, or None when one does: the connection
    is refused or not accepted within ANSWER_SECONDS, or what accepts it does not answer
    HTTP2_GREETING with a SETTINGS frame within ANSWER_SECONDS (an HTTP/1 server such as
    Ray's dashboard, which ray.init would otherwise retry for many minutes). With Ray's
    TLS on (RAY_USE_TLS) the server expects TLS first, and only the connection is
    checked."""
    try:
        with socket.create_connection((host, port), ANSWER_SECONDS) as connection:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return None
            connection.sendall(HTTP2_GREETING)
            header = b""
            while len(header) < 9 and (part := connection.recv(9 - len(header))):
                header += part
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__
    return None if len(header) == 9 and header[3] == 4 else "the server there speaks no gRPC"


@contextlib.contextmanager
def ray_cluster(where: RayAddress) -> Iterator[tuple[ModuleType, Cluster]]:
    """Ray, started on this machine or connected to the cluster at `where`, and shut down
    after the block; the ray module and the Cluster. InputError, in one sentence, when
    Ray cannot start or the cluster does not admit this machine."""
    # Ray reads RAY_AUTH_MODE when it is first imported, so it is set before `import ray`.
    # In a process that imported ray before (a program using the Python API), the import
    # has read the mode already: ray.init connects without the token, the cluster refuses
    # it, and the refusal asks for RAY_AUTH_MODE=token, which, set before that program
    # starts, is read in time.
    first_import = "ray" not in sys.modules
    with _unless_set(AUTH_MODE, "token") if where.token else contextlib.nullcontext():
        import ray

        address = where.address
        in_main_thread = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if address is None:
                with _unless_set(WORKER_NICENESS, "0"):
                    ray.init(address="local", include_dashboard=False, **quiet)
            else:
                with _stderr_held():
                    ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.AuthenticationError) as e:
            if address is not None and _refuses_token(e):
                user_mode = os.environ.get(AUTH_MODE, "").lower() == "token"
                sent = _has_token() and (first_import if where.token else user_mode)
                raise InputError(_refusal(address, sent)) from None
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            what = f"--ray-address {address}: cannot connect" if address else "Ray cannot start"
            raise InputError(f"{what} ({reason})") from None
        try:
            nodes = [node for node in ray.nodes() if node["Alive"]]
            cores = [int(node["Resources"].get("CPU", 0)) for node in nodes]
            name = "Ray on this machine" if address is None else f"the Ray cluster at {address}"
            gpus = ray.cluster_resources().get("GPU", 0)
            yield ray, Cluster(name, len(nodes), max(1, sum(cores)), max([1, *cores]), gpus)
        finally:
            ray.shutdown()
            if in_main_thread:  # ray.init installs its own
                signal.signal(signal.SIGTERM, sigterm)


def _refusal(address: str, sent: bool) -> str:
    """The sentence for a cluster at `address` that does not admit this machine: it
    refuses the token this process `sent`, or wants one that was not sent."""
    refusal = "refuses this machine's token" if sent else "wants its token"
    return (
        f"--ray-address {address}: the Ray cluster there {refusal}; set RAY_AUTH_MODE=token "
        f"and RAY_AUTH_TOKEN to the token that `ray get-auth-token` prints on its head node"
    )


def _refuses_token(error: BaseException) -> bool:
    """Whether ray.init's `error` says that the cluster does not admit this process's
    token (or its lack of one): Ray's AuthenticationError, raised as itself, or named in
    the cause of the ConnectionError that ray.init raises when it gives up connecting
    (that cause keeps only the text of its last try's traceback)."""
    from ray.exceptions import AuthenticationError

    return any(
        isinstance(cause, AuthenticationError) or AuthenticationError.__name__ in str(cause)
        for cause in (error, error.__cause__)
        if cause is not None
    )


def _on_this_machine(host: str) -> bool:
    """Whether `host` is this machine: a loopback address or one of its own (one that a
    socket here can be bound to)."""
    with contextlib.suppress(OSError):
        places = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        for family, kind, _, _, place in places:
            with socket.socket(family, kind) as s, contextlib.suppress(OSError):
                s.bind((place[0], 0))
                return True
    return False


def _has_token() -> bool:
    """Whether Ray finds a token here, where it looks in this order: RAY_AUTH_TOKEN when
    it is not empty, else the file RAY_AUTH_TOKEN_PATH names when that is set, else
    ~/.ray/auth_token. A RAY_AUTH_TOKEN_PATH file that cannot be read counts as none
    (Ray stops at once in token mode then, rather than look further)."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return True
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    path = Path(named).expanduser() if named else Path.home() / ".ray" / "auth_token"
    try:
        return bool(path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return False


@contextlib.contextmanager
def _unless_set(name: str, value: str) -> Iterator[None]:
    """The environment variable `name` set to `value` for the block when it is not set."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


@contextlib.contextmanager
def _stderr_held() -> Iterator[None]:
    """This process's standard error (file descriptor 2) held back for the block: written
    out after it when it succeeds, dropped when it raises. While ray.init retries a
    cluster that refuses its token (about 20 s: one try a second), Ray's C++ client
    writes a warning there for each try; the refusal is then said in one sentence."""
    with tempfile.TemporaryFile() as held:
        with native_stderr_to(held.fileno()):
            yield
        held.seek(0)
        with open(2, "wb", closefd=False) as stderr:
            shutil.copyfileobj(held, stderr)
