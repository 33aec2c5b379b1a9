"""The Gorouter-like HTTP router: routes from NATS, route-integrity TLS to backends.

Sans-IO core (registry, route_table, pool, pruning, classifier, sticky, headers,
http11, framing, accesslog, metrics, config) with asyncio edges (proxy, frontend,
fastpath, transport, nats_client, status, router, workers). Run with
`python3 -m foundry.gorouter -c gorouter.yml [--workers N]`.
"""
