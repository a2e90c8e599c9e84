"""Ray started on this machine for a batch or a clip's passes (nst.ray_cluster)."""

import os

from nst.ray_cluster import CORES_PER_WORKER, Cluster, RayAddress, ray_cluster


def test_ray_started_here_runs_its_workers_at_this_process_s_priority(ray_env):
    """Not at Ray's own niceness 15, at which a worker beside other work took 5 to 20 times as
    long as the same frame in this process."""
    with ray_cluster(RayAddress(None)) as (ray, cluster):
        niceness = ray.remote(lambda: os.nice(0))  # by value: workers cannot import tests/
        assert ray.get(niceness.remote()) == os.nice(0)
        assert cluster.where == "Ray on this machine" and cluster.cores == os.cpu_count()


def test_without_workers_one_task_runs_for_every_4_cores_with_their_threads():
    big = Cluster("a cluster", nodes=2, cores=16, largest_node_cores=8, gpus=0)
    assert CORES_PER_WORKER == 4
    assert big.shares(None) == (4, 4)
    assert big.shares(2) == (2, 8)
    assert big.shares(1) == (1, 8)  # a task's threads stay on one node
    assert Cluster("one core", 1, 1, 1, 0).shares(None) == (1, 1)
