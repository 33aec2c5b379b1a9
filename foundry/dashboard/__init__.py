"""The dashboard job: a live view of the foundation, read from the jobs' own APIs and logs.

Pure logic (what the state is, what changed, how a request is classified, what a
certificate says) lives in `state`, `views`, `accesslog` and `certs`; sockets,
files and NATS only in `collectors` and `server`.
"""
