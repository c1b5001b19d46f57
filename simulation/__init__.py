"""Simulated fleet of laptops with Claude Cowork / Claude Code histories, for tests, the demo and benchmarks.

Writes synthetic trees only (invented people, `*.invalid` / `corp.example` addresses); never reads real data.
Entry point: `simulation.fleet.simulate_fleet`; truth.json schema in simulation/README.md.
"""
