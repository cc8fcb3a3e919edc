"""The workload of one run of one worker, and the waves it is made of."""

from __future__ import annotations

from dataclasses import dataclass

from bench.load import LoadSpec, WaveSpec

__all__ = ["RunPlan"]


@dataclass(frozen=True)
class RunPlan:
    """The workload of one run.

    Attributes:
        single_rooms: rooms served one after another.
        single_hold: seconds each of them stays once its agent joined.
        concurrent_rooms: background rooms of the loaded phase, and rooms of each burst.
        ramp_spacing: seconds between two background room creations.
        probe_rooms: rooms dispatched one by one while the background rooms are live.
        probe_spacing: seconds between two probe rooms.
        probe_hold: seconds a probe room (and a burst room) stays once its agent joined.
        settle_before_probes: seconds between the last background room and the first probe.
        bursts: waves of ``concurrent_rooms`` rooms created at once.
        wait_agent: longest wait for one room's agent.
        idle_seconds: how long the idle worker's CPU is measured.
    """

    single_rooms: int
    single_hold: float
    concurrent_rooms: int
    ramp_spacing: float
    probe_rooms: int
    probe_spacing: float
    probe_hold: float
    settle_before_probes: float
    bursts: int
    wait_agent: float
    idle_seconds: float

    @property
    def jobs(self) -> int:
        """Jobs in the measured workload (the warm-up room excluded)."""
        loaded = self.concurrent_rooms + self.probe_rooms
        return self.single_rooms + loaded + self.concurrent_rooms * self.bursts

    def single(self) -> WaveSpec:
        """One room."""
        return WaveSpec(1, 0.0, self.single_hold, self.wait_agent)

    def load(self, rooms: int, probes: int) -> LoadSpec:
        """``probes`` probe rooms dispatched while ``rooms`` background rooms are live."""
        probes_after = (rooms - 1) * self.ramp_spacing + self.settle_before_probes
        end = probes_after + probes * self.probe_spacing + self.probe_hold + 1.0
        background = WaveSpec(
            rooms, self.ramp_spacing, self.probe_hold, self.wait_agent, stay_until=end
        )
        probe = WaveSpec(probes, self.probe_spacing, self.probe_hold, self.wait_agent)
        return LoadSpec(background, probe, probes_after)

    def burst(self) -> WaveSpec:
        """``concurrent_rooms`` rooms created at once."""
        return WaveSpec(self.concurrent_rooms, 0.0, self.probe_hold, self.wait_agent)
