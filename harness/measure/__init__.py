"""Measurement: what a run measures, and nothing else.

- ``meters``: the per-stage host meter (wall, CPU, RSS peaks, anonymous memory) and ``downsample``;
- ``gpu/``: CUDA info, per-stage GPU counters, step timing, NVML sampling, GPU health;
- ``environment``: the environment fingerprint (packages, CPU, git state) written into each record;
- ``numerics``: the numerics fingerprint (BLAS, threads, a few reference kernels);
- ``machine_speed``: the machine-speed probe that normalises times across hosts;
- ``events``: the typed worker-to-parent events (one definition of the pipe's format).
"""
