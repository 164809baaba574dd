"""Measured benchmarks (run as modules, e.g. `python -m benchmarks.simulator_scale`)."""
