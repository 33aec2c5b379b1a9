"""Diego's healthcheck binary (cloudfoundry/healthcheck), stdlib only: runs in app containers.

Sans-IO: ``flags`` (Go-style flags and durations), ``result`` (outcome → exit code and
message), ``interface`` (which address to check); ``probe`` does the socket work and
``runner`` the startup/liveness loops with an injected clock.
"""
