from foundry.route_emitter.unregistration import UnregistrationCache

KEY = ("app.example.com", "10.0.0.2", 61000, 0)
MSG = {"host": "10.0.0.2", "port": 61000, "uris": ["app.example.com"]}


def test_resent_every_30s_20_times():
    c = UnregistrationCache(30, 20)
    assert c.add(KEY, MSG, 0) == MSG
    assert c.due(29.9) == []
    sent = []
    t = 0.0
    for _ in range(25):
        t += 30
        sent += c.due(t)
    assert len(sent) == 20
    assert c.pending == {} and c.next_deadline() is None


def test_cancelled_by_reregister():
    c = UnregistrationCache(30, 20)
    c.add(KEY, MSG, 0)
    assert c.next_deadline() == 30
    c.cancel(KEY)
    assert c.due(60) == []
