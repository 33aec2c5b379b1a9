"""Scenarios: incident timelines as data, replayed in each route-integrity mode.

Sans-IO: ``schema`` (files), ``classify`` (one request), ``analysis`` (counts,
expectations), ``results`` and the Markdown half of ``report``. I/O: ``load``
(traffic), ``faults``, ``probes``, ``platform`` (BBS, router, cfdot), ``runner``.
"""
