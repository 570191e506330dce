"""Imported by the workers' fork server as it starts (a preload module): it dies with the daemon.
Never to be imported anywhere else."""

from monitor.runners.orphan import arm_fork_server

arm_fork_server()
