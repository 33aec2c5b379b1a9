"""cflab's Cloud Controller: apps, routes, bits and services; desires LRPs in the BBS.

It speaks a subset of CC's v2 and v3 JSON APIs over HTTPS (and a plain-HTTP internal
port from which cells download app bits). There is no UAA: every request is served
as user ``admin`` without authentication, as befits a single-user lab foundation.
"""
