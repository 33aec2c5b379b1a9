"""Put the job's credentials into gorouter.yml inline, as BOSH renders the job.

In a BOSH deployment the manifest says `cert_chain: ((gorouter_backend_tls.certificate))`;
the director interpolates the variable from its config server and the template
writes the PEM into `/var/vcap/jobs/gorouter/config/gorouter.yml`. Operators
rely on that file (the strict-mode procedure reads `backends.cert_chain` and
`backends.private_key` out of it). cflab's credentials are made at `up` by the
PKI step, in the job's secrets volume, after the host has rendered the config;
so the router's start interpolates them, once, before it reads its config.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

# cf-deployment's variable names → the files the PKI step writes for the gorouter job.
VARIABLES = {
    "gorouter_backend_tls.certificate": "backends.crt",
    "gorouter_backend_tls.private_key": "backends.key",
    "application_ca.certificate": "ca_certs.crt",
}
_VAR = re.compile(r"^\(\(([A-Za-z0-9_./-]+)\)\)$")


class CredentialsError(ValueError):
    """A variable that cannot be resolved; the message names it."""


def interpolate(doc: Any, secrets_dir: Path, where: str = "") -> Any:
    """`doc` with every string that is exactly `((name))` replaced by the credential."""
    if isinstance(doc, dict):
        return {k: interpolate(v, secrets_dir, f"{where}.{k}" if where else str(k))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [interpolate(v, secrets_dir, f"{where}[{i}]") for i, v in enumerate(doc)]
    if isinstance(doc, str) and (m := _VAR.match(doc.strip())):
        name = m.group(1)
        file = VARIABLES.get(name)
        if file is None:
            raise CredentialsError(f"{where}: unknown variable (({name})); known: "
                                   f"{', '.join(sorted(VARIABLES))}")
        try:
            return (secrets_dir / file).read_text()
        except OSError as e:
            raise CredentialsError(f"{where}: (({name})) has no credential in "
                                   f"{secrets_dir / file}: {e.strerror}") from None
    return doc


class _PemDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (`|`), the way the rendered PEM reads."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PemDumper.add_representer(str, _str)


def render(template: Path, secrets_dir: Path, out: Path) -> None:
    """Write `template` with its credentials to `out`: mode 0600, it holds a private key."""
    try:
        doc = yaml.safe_load(template.read_text())
    except OSError as e:
        raise CredentialsError(f"cannot read {template}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise CredentialsError(f"{template}: invalid YAML: {e}") from None
    text = yaml.dump(interpolate(doc, secrets_dir), Dumper=_PemDumper, sort_keys=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, out)
