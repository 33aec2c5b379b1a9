from foundry.route_emitter.config import EmitterConfig
from foundry.route_emitter.core import REGISTER, UNREGISTER, EmitterCore, Publish
from foundry.route_emitter.routing_table import RoutingTable

DESIRED = {
    "process_guid": "pg", "instances": 2, "log_guid": "app-guid",
    "routes": {"cf-router": [{"hostnames": ["app.example.com", "www.example.com"], "port": 8080,
                              "route_service_url": None, "protocol": "http1"}]},
    "metric_tags": {"source_id": {"static": "app-guid"}, "instance_id": {"dynamic": "INDEX"},
                    "space_name": "dev"},
}


def actual(index=0, ig="ig-0", state="RUNNING", cell="cell-1", host_port=61000, tls=61002):
    return {"process_guid": "pg", "index": index, "domain": "cf-apps", "instance_guid": ig,
            "cell_id": cell, "address": "10.244.0.5",
            "ports": [{"container_port": 8080, "host_port": host_port,
                       "container_tls_proxy_port": 61001, "host_tls_proxy_port": tls},
                      {"container_port": 8080, "host_port": host_port,
                       "container_tls_proxy_port": 61443, "host_tls_proxy_port": 0},
                      {"container_port": 2222, "host_port": 61001,
                       "container_tls_proxy_port": 61002, "host_tls_proxy_port": 61003}],
            "instance_address": "10.255.1.2", "preferred_address": "HOST", "crash_count": 0,
            "state": state, "since": 1700000000123456789, "availability_zone": "z1"}


def test_register_message_shape():
    t = RoutingTable("cell-1")
    changes = t.update([DESIRED], [actual()])
    first = changes.registrations[0]
    assert first == {
        "host": "10.244.0.5", "port": 61000, "tls_port": 61002, "uris": ["app.example.com"],
        "app": "app-guid", "private_instance_id": "ig-0", "private_instance_index": "0",
        "server_cert_domain_san": "ig-0", "endpoint_updated_at_ns": 1700000000123456789,
        "tags": {"source_id": "app-guid", "instance_id": "0", "space_name": "dev",
                 "component": "route-emitter"},
        "availability_zone": "z1", "protocol": "http1"}
    assert list(first) == list(first.keys())  # Go field order (checked by equality above)
    assert [m["uris"] for m in changes.registrations] == [["app.example.com"],
                                                           ["www.example.com"]]
    periodic = t.registrations()[0]
    assert "endpoint_updated_at_ns" not in periodic


def test_no_tls_port_key_when_zero_and_port_kept():
    t = RoutingTable("cell-1")
    msg = t.update([DESIRED], [actual(tls=0)]).registrations[0]
    assert "tls_port" not in msg and msg["port"] == 61000
    msg = RoutingTable("cell-1").update([DESIRED], [actual(host_port=0)]).registrations[0]
    assert msg["port"] == 0 and msg["tls_port"] == 61002


def test_only_running_on_my_cell():
    t = RoutingTable("cell-1")
    changes = t.update([DESIRED], [actual(state="CLAIMED"), actual(1, "ig-1", cell="cell-2")])
    assert changes.registrations == []


def test_direct_instance_address():
    t = RoutingTable("cell-1")
    a = {**actual(), "preferred_address": "INSTANCE"}
    msg = t.update([DESIRED], [a]).registrations[0]
    assert (msg["host"], msg["port"], msg["tls_port"]) == ("10.255.1.2", 8080, 61001)


def core(**kw):
    c = EmitterCore(EmitterConfig(cell_id="cell-1", **kw), rng=lambda: 0.5)
    c.tick(0)
    return c


def test_nothing_emitted_before_greeting_then_everything():
    c = EmitterCore(EmitterConfig(cell_id="cell-1"))
    assert c.on_snapshot([DESIRED], [actual()], 0) == []
    outs = c.on_router_start({"minimumRegisterIntervalInSeconds": 20}, 0.5, greet_reply=True)
    assert [o.subject for o in outs] == [REGISTER, REGISTER]


def test_crash_unregisters_and_repeats_until_reregistered():
    c = core(unregistration_interval=30, unregistration_send_count=20)
    c.on_router_start({"minimumRegisterIntervalInSeconds": 20}, 0, greet_reply=True)
    c.on_snapshot([DESIRED], [actual()], 1)
    outs = c.on_snapshot([DESIRED], [actual(state="CRASHED")], 2)
    assert [o.subject for o in outs] == [UNREGISTER, UNREGISTER]
    assert outs[0].message["private_instance_id"] == "ig-0"
    again = [o for o in c.tick(32) if isinstance(o, Publish) and o.subject == UNREGISTER]
    assert len(again) == 2
    # the same route on the same address comes back (a restart got the same port): cancel
    outs = c.on_snapshot([DESIRED], [actual(ig="ig-new")], 40)
    assert [o.subject for o in outs] == [REGISTER, REGISTER]
    assert outs[0].message["endpoint_updated_at_ns"]
    assert [o for o in c.tick(70) if getattr(o, "subject", "") == UNREGISTER] == []


def test_route_unmapped_and_desired_deleted_unregister():
    c = core()
    c.on_router_start({}, 0, greet_reply=True)
    c.on_snapshot([DESIRED], [actual()], 1)
    fewer = {**DESIRED, "routes": {"cf-router": [{"hostnames": ["app.example.com"],
                                                  "port": 8080}]}}
    outs = c.on_snapshot([fewer], [actual()], 2)
    assert [(o.subject, o.message["uris"]) for o in outs] == [
        (REGISTER, ["app.example.com"]), (UNREGISTER, ["www.example.com"])]
    outs = c.on_snapshot([], [actual()], 3)
    assert [o.subject for o in outs] == [UNREGISTER]


def test_periodic_emission_every_interval():
    c = core()
    c.on_router_start({"minimumRegisterIntervalInSeconds": 5}, 0, greet_reply=True)
    c.on_snapshot([DESIRED], [actual()], 1)
    assert c.tick(4.9) == []
    assert [o.subject for o in c.tick(5)] == [REGISTER, REGISTER]
