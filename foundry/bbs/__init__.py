"""The BBS: Diego's store of desired and actual LRPs and cell presences.

Sans-IO state (``state``, ``placement``, ``restart``, ``validation``) is fed a clock;
``store`` (SQLite) and ``server`` (stdlib HTTP) are the edges.
"""
