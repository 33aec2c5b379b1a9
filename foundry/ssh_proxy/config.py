"""ssh_proxy.json, as the orchestrator renders it under /var/vcap/jobs/ssh_proxy/config/."""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import ConfigError, JobConfig


@dataclass(frozen=True)
class SSHProxyConfig(JobConfig):
    listen_address: str = "0.0.0.0:2222"
    host_key_file: str = ""          # the proxy's own SSH host key
    uaa_url: str = "https://uaa.service.cf.internal:8443"
    uaa_client: str = "ssh-proxy"
    uaa_client_secret: str = ""
    uaa_redirect_uri: str = "/login"
    cc_url: str = "https://cloud-controller:9022"
    ca_file: str = ""                # trusts UAA's and the CC's certificates
    bbs_address: str = "https://bbs.service.cf.internal:8889"
    bbs_ca_cert_file: str = ""       # the BBS's mutual TLS (an https bbs_address needs all three)
    bbs_client_cert_file: str = ""
    bbs_client_key_file: str = ""
    backend_user: str = "vcap"
    backend_key_file: str = ""       # private key the instances' sshd authorizes
    session_command: str = ""        # run around every session (the instance's env + bash)
    # strict mode: reach the instance's sshd through its TLS proxy port (61002), with this
    # client certificate, verifying the instance identity certificate
    backend_tls: bool = False
    backend_cert_file: str = ""
    backend_key_tls_file: str = ""
    backend_ca_file: str = ""        # the instance identity root
    timeout: float = 10.0

    def check(self) -> None:
        if self.timeout <= 0:
            raise ConfigError("timeout: must be greater than zero")
        if not self.host_key_file or not self.backend_key_file:
            raise ConfigError("host_key_file and backend_key_file are required")
        if self.backend_tls and not (self.backend_cert_file and self.backend_key_tls_file
                                     and self.backend_ca_file):
            raise ConfigError("backend_tls needs backend_cert_file, backend_key_tls_file and "
                              "backend_ca_file")
        if self.bbs_address.startswith("https:") and not (
                self.bbs_ca_cert_file and self.bbs_client_cert_file and self.bbs_client_key_file):
            raise ConfigError("bbs_ca_cert_file, bbs_client_cert_file, bbs_client_key_file:"
                              " required for an https bbs_address (the BBS's mutual TLS)")


from_dict = SSHProxyConfig.from_dict
load = SSHProxyConfig.load
