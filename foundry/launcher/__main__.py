"""`launcher APP_DIR START_COMMAND METADATA`: run the app's start command in its directory.

Like buildpackapplifecycle's launcher it is what the executor starts as the
app process; it changes to the app directory and replaces itself with
`sh -c START_COMMAND`, so the app's PID is the one the executor watches.

Before that, when VCAP_SERVICES holds ``credhub-ref`` entries (and
CREDHUB_SKIP_INTERPOLATION is unset), it posts VCAP_SERVICES to CredHub's
``/api/v1/interpolate`` over mutual TLS with the instance identity certificate,
trusting every ``*.crt`` in CF_SYSTEM_CERT_PATH, and replaces VCAP_SERVICES with
the answer (3 attempts, 1 s apart). If that fails it exits non-zero, so the
instance crashes and Diego restarts it. VCAP_PLATFORM_OPTIONS is always unset, and
VCAP_APPLICATION gets the instance's `host`, `port`, `instance_id`, `instance_index`.
"""

from __future__ import annotations

import os
import sys
import time

from foundry.launcher.interpolation import (
    ATTEMPTS,
    RETRY_DELAY,
    InterpolateRequest,
    InterpolationError,
    apply_answer,
    build_request,
    needs_interpolation,
    response_error,
)
from foundry.launcher.vcap import with_instance_fields


def post_interpolate(req: InterpolateRequest, timeout: float = 10.0) -> tuple[int, bytes]:
    # Imported here: 90 ms that an app without CredHub references never waits for.
    import http.client  # noqa: PLC0415
    import ssl  # noqa: PLC0415

    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata="".join(_read(f) for f in req.ca_files))
    ctx.load_cert_chain(req.cert_file, req.key_file)
    conn = http.client.HTTPSConnection(req.host, req.port, context=ctx, timeout=timeout)
    try:
        conn.request("POST", req.path, body=req.body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read() + "\n"


def interpolate(env: dict[str, str], attempts: int = ATTEMPTS,
                delay: float = RETRY_DELAY) -> dict[str, str]:
    cert_path = env.get("CF_SYSTEM_CERT_PATH") or "/etc/cf-system-certificates"
    try:
        names = os.listdir(cert_path)
    except OSError:
        names = []
    req = build_request(env, names)
    from http.client import HTTPException  # noqa: PLC0415 - see post_interpolate
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            status, body = post_interpolate(req)
        except (OSError, HTTPException) as e:  # ssl.SSLError is an OSError
            status, body, last = None, b"", f"cannot reach CredHub at {req.host}:{req.port}: {e}"
        else:
            if status == 200:
                return apply_answer(env, body)
            last = response_error(status, body)
        if attempt == attempts:  # every failure is retried, as the lifecycle does
            break
        time.sleep(delay)
    raise InterpolationError(f"{last} (after {attempt} attempt{'s' if attempt > 1 else ''})")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: launcher APP_DIR START_COMMAND [METADATA]", file=sys.stderr)
        return 2
    app_dir, command = args[0], args[1]
    try:
        os.chdir(app_dir)
    except OSError as exc:
        print(f"launcher: cannot enter {app_dir}: {exc.strerror}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    if needs_interpolation(env):
        try:
            env = interpolate(env)
        except InterpolationError as e:
            print(f"launcher: Unable to interpolate credhub references: {e}", file=sys.stderr)
            return 3
    env.pop("VCAP_PLATFORM_OPTIONS", None)
    env = with_instance_fields(env)
    os.execvpe("sh", ["sh", "-c", command], env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
