"""Builds images, renders job configs, drives Compose: the `cflab` command."""
