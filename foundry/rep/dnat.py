"""iptables rules that make a cell forward host ports to app containers.

Rules live in cflab's own nat chains (CFLAB-DNAT jumped to from PREROUTING,
CFLAB-SNAT from POSTROUTING): flushing Docker's chains would break the
container's DNS. Rules match addresses, never interface names (their order
is not the attach order). MASQUERADE toward the container network makes the
app reply through the cell, as DNAT alone would be dropped by the host.
"""

from __future__ import annotations

from dataclasses import dataclass

DNAT_CHAIN = "CFLAB-DNAT"
SNAT_CHAIN = "CFLAB-SNAT"


@dataclass(frozen=True)
class Mapping:
    host_port: int
    container_ip: str
    container_port: int
    owner: str  # the container guid, kept as a rule comment

    def rule(self, cell_ip: str) -> list[str]:
        return [
            "-d", f"{cell_ip}/32", "-p", "tcp", "--dport", str(self.host_port),
            "-m", "comment", "--comment", self.owner,
            "-j", "DNAT", "--to-destination", f"{self.container_ip}:{self.container_port}",
        ]


def setup_commands(container_subnet: str, cell_ip: str = "",
                   ) -> tuple[list[list[str]], list[list[str]]]:
    """(chain commands, rules to ensure): chains are created or flushed; each rule is
    checked with -C and appended only when missing, so a rep restart is harmless.

    With `cell_ip`, the cell's own app containers are kept off its host ports: the
    router reaches an instance through them, a neighbour must not (on CF the default
    ASGs deny apps the cell's private address)."""
    chains = [["-t", "nat", "-N", c] for c in (DNAT_CHAIN, SNAT_CHAIN)]
    chains += [["-t", "nat", "-F", c] for c in (DNAT_CHAIN, SNAT_CHAIN)]
    ensure = [["-t", "nat", DNAT_CHAIN, "-s", container_subnet, "-d", f"{cell_ip}/32",
               "-j", "RETURN"]] if cell_ip else []
    ensure += [
        ["-t", "nat", "PREROUTING", "-j", DNAT_CHAIN],
        ["-t", "nat", "OUTPUT", "-j", DNAT_CHAIN],
        ["-t", "nat", "POSTROUTING", "-j", SNAT_CHAIN],
        ["-t", "nat", SNAT_CHAIN, "-d", container_subnet, "-j", "MASQUERADE"],
    ]
    return chains, ensure


def add_commands(cell_ip: str, mappings: list[Mapping]) -> list[list[str]]:
    return [["-t", "nat", "-A", DNAT_CHAIN, *m.rule(cell_ip)] for m in mappings]


def delete_commands(cell_ip: str, mappings: list[Mapping]) -> list[list[str]]:
    return [["-t", "nat", "-D", DNAT_CHAIN, *m.rule(cell_ip)] for m in mappings]


def restore_input(op: str, cell_ip: str, mappings: list[Mapping]) -> str:
    """An instance's rules as one `iptables-restore --noflush` transaction (`op` -A or
    -D): one process instead of one `iptables` per rule (the rep's fork and exec of each
    were ~15% of its CPU while instances started), and all of them or none apply."""
    if op not in ("-A", "-D"):
        raise ValueError(f"op: -A or -D, not {op!r}")
    commands = (add_commands if op == "-A" else delete_commands)(cell_ip, mappings)
    lines = ["*nat"]
    for cmd in commands:  # ["-t", "nat", op, chain, *rule]: the table is the *nat header
        if any(not a or any(ch.isspace() or ch in "\"'" for ch in a) for a in cmd):
            raise ValueError(f"a rule argument iptables-restore cannot carry: {cmd[4:]}")
        lines.append(" ".join(cmd[2:]))
    return "\n".join([*lines, "COMMIT", ""])


@dataclass(frozen=True)
class PlatformService:
    """A platform job apps must reach (CredHub): the cell forwards its own port to it.

    App containers sit on the cell's network only, as on a Diego cell, so the
    cell plays the network path: `name` resolves (via /etc/hosts) to the cell's
    address on the container network, and the cell DNATs that port to the job.
    """

    name: str
    port: int
    target_ip: str

    def rules(self, cell_container_ip: str) -> list[list[str]]:
        return [
            ["-t", "nat", DNAT_CHAIN, "-d", f"{cell_container_ip}/32", "-p", "tcp",
             "--dport", str(self.port), "-j", "DNAT",
             "--to-destination", f"{self.target_ip}:{self.port}"],
            ["-t", "nat", SNAT_CHAIN, "-d", f"{self.target_ip}/32", "-p", "tcp",
             "--dport", str(self.port), "-j", "MASQUERADE"],
        ]
