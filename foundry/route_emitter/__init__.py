"""Route emitter (local mode): turns RUNNING actual LRPs on one cell into router.register.

Sans-IO: ``routing_table`` (BBS snapshot → registry messages), ``unregistration``
(the 30 s × 20 re-send cache), ``scheduler`` (greet, register interval, jitter) and
``core`` (glue) are fed a clock; ``emitter`` (NATS + BBS polling) is the edge.
"""
