"""The harness tests and the benchmark share: real servers, the worker as a process, ports.

One module per concern:

- :mod:`.paths`: where the repository and the stack configs are.
- :mod:`.binaries`: livekit-server, the Collector, Prometheus and promtool, via
  ``scripts/ensure-infra.sh`` (``$PROMTOOL`` overrides promtool).
- :mod:`.ports`: free loopback ports, the only place they are picked.
- :mod:`.probes`: HTTP probes without proxies, bounded polling.
- :mod:`.processes`: a server process in its own process group, stopped with everything
  it spawned; :mod:`.servers` and :mod:`.lifecycle`: what the servers share.
- :mod:`.livekit`, :mod:`.collector` (with :mod:`.otlp`), :mod:`.prometheus`, :mod:`.redis`:
  the servers; :mod:`.cluster`: livekit-server nodes sharing one Redis; :mod:`.file_sd`:
  Prometheus's file-based discovery with the shipped fleet config.
- :mod:`.worker_process`: ``python -m worker`` as a subprocess; :mod:`.sdk_logs`: the SDK's
  log lines it waits for; :mod:`.fleet`: workers spread over a cluster's nodes.
- :mod:`.rooms`: rooms kept occupied by synthetic participants.
- :mod:`.capture`: reading metrics, sockets and health answers;
  :mod:`.sampling`: sampling a process tree on a thread.
- :mod:`.fakes`: stand-ins for ``rtc`` objects in unit tests and the micro-benchmark.

Every server binds loopback only, on free ports, and stops everything it started.
"""

from .binaries import PromtoolMissingError, binary, find_promtool, run_promtool
from .capture import (
    SampleKey,
    Socket,
    health_answers,
    histogram_max,
    metric_problems,
    monotonic_samples,
    samples,
    sockets_of,
    value,
    went_backwards,
)
from .cluster import CLUSTER_API_KEY, LiveKitCluster
from .collector import OtelCollector
from .fakes import FakeRoom, fake_participant, fake_publication
from .file_sd import FLEET_CONFIG, fleet_config, write_targets
from .fleet import FleetWorker, WorkerFleet
from .lifecycle import StartStop
from .livekit import LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LiveKitServer
from .otlp import Span, parse_otlp_json_spans
from .paths import COLLECTOR_CONFIG, ENSURE_INFRA, REPO_ROOT
from .ports import free_port, free_ports, free_udp_port_range, occupied_port
from .probes import http_get, http_ok, wait_until
from .processes import ManagedProcess, log_tail, run_module_json
from .prometheus import Prometheus
from .redis import RedisServer
from .rooms import LiveRooms
from .sampling import PeriodicSampler, RssSampler, process_tree
from .servers import ManagedServer
from .worker_process import ServerCredentials, WorkerProcess

__all__ = [
    # paths and binaries
    "COLLECTOR_CONFIG",
    "ENSURE_INFRA",
    "REPO_ROOT",
    "PromtoolMissingError",
    "binary",
    "find_promtool",
    "run_promtool",
    # ports, probes, polling
    "free_port",
    "free_ports",
    "free_udp_port_range",
    "occupied_port",
    "http_get",
    "http_ok",
    "wait_until",
    # processes and servers
    "StartStop",
    "ManagedProcess",
    "ManagedServer",
    "log_tail",
    "run_module_json",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LiveKitServer",
    "OtelCollector",
    "Span",
    "parse_otlp_json_spans",
    "Prometheus",
    "RedisServer",
    "CLUSTER_API_KEY",
    "LiveKitCluster",
    "FLEET_CONFIG",
    "fleet_config",
    "write_targets",
    # the worker and its rooms
    "ServerCredentials",
    "WorkerProcess",
    "FleetWorker",
    "WorkerFleet",
    "LiveRooms",
    # reading what runs
    "SampleKey",
    "Socket",
    "health_answers",
    "histogram_max",
    "metric_problems",
    "monotonic_samples",
    "samples",
    "sockets_of",
    "value",
    "went_backwards",
    "PeriodicSampler",
    "RssSampler",
    "process_tree",
    # unit-test stand-ins
    "FakeRoom",
    "fake_participant",
    "fake_publication",
]
