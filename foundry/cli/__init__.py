"""Operator CLIs installed on platform VMs (cfdot)."""
