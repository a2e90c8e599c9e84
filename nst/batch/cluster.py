"""The Ray a batch runs on: Ray started on this machine, or the cluster at --ray-address,
checked before anything is written (a cluster answers there and admits this machine).

Ray's token authentication: a cluster started with a token (`ray start` takes the one in
RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token) admits only
clients that send it, and a client sends its token only with RAY_AUTH_MODE=token in its
environment. When that variable is unset and the cluster is on this machine, the token
Ray finds here is the one `ray start` found, so the batch turns the mode on for itself
(as Ray does for `--ray-address auto`). To a cluster on another machine no token is sent
unless RAY_AUTH_MODE=token says so; the refusal names the variables to set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from nst.errors import InputError

ANSWER_SECONDS = 10
"""How long, in seconds, the cluster at --ray-address has to answer the batch's first
question (its cluster id) before the batch is refused."""
AUTH_MODE = "RAY_AUTH_MODE"
"""Ray's variable for its authentication; `token` makes a client send its token."""


@dataclass(frozen=True)
class RayAddress:
    """Where a batch's Ray is: `address` None for Ray started on this machine, else the
    --ray-address of a cluster; `token` whether the batch turns Ray's token
    authentication on in its own process to join that cluster."""

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


def check_ray_address(address: str | None) -> RayAddress:
    """The --ray-address `address` (None: Ray started on this machine), checked: a Ray
    cluster answers at HOST:PORT and admits this machine, with this machine's token when
    the cluster is on this machine and RAY_AUTH_MODE is unset. Other forms (`auto`,
    `ray://...`) are left to ray.init. InputError, in one sentence, when no cluster
    answers or the cluster wants a token that this process does not send."""
    if address is None or "://" in address or not address.rpartition(":")[2].isdigit():
        return RayAddress(address)
    import grpc

    code, details = _ask_cluster_id(address)
    send_token = (
        code == grpc.StatusCode.UNAUTHENTICATED
        and AUTH_MODE not in os.environ
        and _on_this_machine(address)
        and _has_token()
    )
    if send_token:
        with _token_mode():
            code, details = _ask_cluster_id(address)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        sent = (send_token or os.environ.get(AUTH_MODE, "").lower() == "token") and _has_token()
        refusal = "refuses this machine's token" if sent else "wants its token"
        raise InputError(
            f"--ray-address {address}: the Ray cluster there {refusal}; set "
            f"RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the token that `ray get-auth-token` "
            f"prints on its head node"
        )
    if code != grpc.StatusCode.OK:
        raise InputError(
            f"--ray-address {address}: no Ray cluster answers there ({details}); start one "
            f"with `ray start --head --port {address.rpartition(':')[2]}`, or give the "
            f"address that `ray start --head` printed"
        )
    return RayAddress(address, send_token)


@contextlib.contextmanager
def ray_cluster(where: RayAddress) -> Iterator[tuple[object, Cluster]]:
    """Ray, started on this machine or connected to the cluster at `where`, and shut down
    after the block; the ray module and the Cluster."""
    import ray

    address = where.address
    in_main_thread = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    with _token_mode() if where.token else contextlib.nullcontext():
        try:
            if address is None:
                ray.init(address="local", include_dashboard=False, **quiet)
            else:
                ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.AuthenticationError) as e:
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


def _ask_cluster_id(address: str) -> tuple[object, str]:
    """Ask the cluster's control service (GCS) at `address` for its cluster id, over
    Ray's own channel (TLS when RAY_USE_TLS says so, this process's token when Ray's
    token authentication is on); the gRPC status code and its details."""
    import grpc
    from ray._private.grpc_utils import init_grpc_channel
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    with init_grpc_channel(address) as channel:
        service = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        try:
            service.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=ANSWER_SECONDS)
        except grpc.RpcError as e:
            return e.code(), (e.details() or e.code().name).rsplit(": ", 1)[-1]
    return grpc.StatusCode.OK, ""


def _on_this_machine(address: str) -> bool:
    """Whether the host of HOST:PORT `address` is this machine: a loopback address or one
    of its own (one that a socket here can be bound to)."""
    host = address.rpartition(":")[0].strip("[]")
    with contextlib.suppress(OSError):
        for family, kind, _, _, place in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
            with socket.socket(family, kind) as s, contextlib.suppress(OSError):
                s.bind((place[0], 0))
                return True
    return False


def _has_token() -> bool:
    """Whether Ray finds a token here: RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names,
    or ~/.ray/auth_token."""
    from ray._raylet import AuthenticationTokenLoader

    return AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True)


@contextlib.contextmanager
def _token_mode() -> Iterator[None]:
    """Ray's token authentication on in this process for the block, as RAY_AUTH_MODE=token
    in its environment at the start would have it; then off again."""
    from ray._raylet import Config

    os.environ[AUTH_MODE] = "token"
    Config.initialize("")  # Ray reads its RAY_* variables when imported: again, now
    try:
        yield
    finally:
        os.environ.pop(AUTH_MODE, None)
        Config.initialize("")
