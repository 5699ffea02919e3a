"""Room runtimes: where a room's browser runs (local processes, Docker, Kubernetes).

The contract is `base.py`; the backend is chosen in `controlplane/wiring.py`."""
