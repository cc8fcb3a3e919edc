"""Fast tests of the cluster harness: configs and command lines, nothing started."""

from __future__ import annotations

from pathlib import Path

import yaml

from devtools.harness import (
    CLUSTER_API_KEY,
    FleetWorker,
    LiveKitCluster,
    LiveKitServer,
    WorkerFleet,
)


def test_a_standalone_server_is_in_dev_mode_with_the_dev_keys(tmp_path: Path) -> None:
    server = LiveKitServer(tmp_path)
    config = yaml.safe_load(server.config_path.read_text())
    assert "--dev" in server.process.argv
    assert "redis" not in config
    assert config["keys"] == {"devkey": "secret"}


def test_cluster_nodes_share_redis_and_a_non_dev_key_on_their_own_ports(tmp_path: Path) -> None:
    cluster = LiveKitCluster(tmp_path, nodes=2)
    configs = [yaml.safe_load(node.config_path.read_text()) for node in cluster.nodes]
    for node, config in zip(cluster.nodes, configs, strict=True):
        assert "--dev" not in node.process.argv
        assert config["redis"] == {"address": cluster.redis.address}
        assert config["keys"] == {CLUSTER_API_KEY: cluster.api_secret}
        assert len(cluster.api_secret) >= 32  # livekit-server's minimum outside dev mode
        assert config["bind_addresses"] == ["127.0.0.1"]
    ports = [{c["port"], c["rtc"]["tcp_port"], c["prometheus"]["port"]} for c in configs]
    assert not ports[0] & ports[1]
    ranges = [range(c["rtc"]["port_range_start"], c["rtc"]["port_range_end"] + 1) for c in configs]
    assert not set(ranges[0]) & set(ranges[1])
    assert cluster.access(1).url == cluster.nodes[1].url


def test_redis_binds_loopback_without_persistence(tmp_path: Path) -> None:
    argv = LiveKitCluster(tmp_path, nodes=1).redis.process.argv
    assert argv[argv.index("--bind") + 1] == "127.0.0.1"
    assert argv[argv.index("--save") + 1] == ""
    assert argv[argv.index("--appendonly") + 1] == "no"


def test_fleet_workers_alternate_nodes_and_name_themselves(tmp_path: Path) -> None:
    cluster = LiveKitCluster(tmp_path, nodes=2)
    fleet = WorkerFleet(cluster, tmp_path / "workers", env={"WORKER_MAX_JOBS": "20"})
    workers = [fleet.add(i % 2) for i in range(3)]
    try:
        _assert_named_and_placed(cluster, fleet, workers, tmp_path)
    finally:
        fleet.stop()  # none was started: this removes their metrics directories
    assert not any(worker.metrics_dir.exists() for worker in workers)


def _assert_named_and_placed(
    cluster: LiveKitCluster, fleet: WorkerFleet, workers: list[FleetWorker], tmp_path: Path
) -> None:
    assert [w.name for w in workers] == ["w0", "w1", "w2"]
    assert [w.env["LIVEKIT_URL"] for w in workers] == [
        cluster.nodes[0].url,
        cluster.nodes[1].url,
        cluster.nodes[0].url,
    ]
    for worker in workers:
        assert worker.argv[-1] == "start"
        assert worker.env["LIVEKIT_API_KEY"] == CLUSTER_API_KEY
        assert worker.env["WORKER_MAX_JOBS"] == "20"
        assert worker.env["OTEL_RESOURCE_ATTRIBUTES"] == f"service.instance.id={worker.name}"
    fleet.write_targets(tmp_path / "targets")
    targets = yaml.safe_load((tmp_path / "targets" / "agent-worker" / "workers.json").read_text())
    assert [t["targets"] for t in targets] == [[f"127.0.0.1:{w.metrics_port}"] for w in workers]
    assert [t["labels"]["node"] for t in targets] == ["node0", "node1", "node0"]
    assert fleet.spread(["nowhere"]) == {"w0": [], "w1": [], "w2": [], "": ["nowhere"]}
