"""Fixtures for the router's loopback tests; the helpers live in gorouter_harness.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from gorouter_harness import guid, harness, loop_thread, nats_server, pki  # noqa: E402,F401
