"""Egress rules for Docker room containers: pure rule builders plus an idempotent applier.

Rooms browse the public web, but must never reach what sits next to them: the host itself
(Redis, PostgreSQL, the Docker API if exposed, any other port), private networks, loopback,
link-local (cloud metadata at 169.254.169.254), carrier-grade NAT and reserved space. Docker
routes a room's packets two ways, so two chains of ours are needed:

* to another machine (or another container): the host's FORWARD chain, where Docker's
  `DOCKER-USER` chain runs first. `WP-FWD-<bridge>` is jumped from `DOCKER-USER` for packets
  arriving on the rooms bridge and rejects the blocked ranges; everything else returns to Docker's
  rules (accepted, NAT-masqueraded), so public destinations stay open.
* to the host's own addresses (the gateway, the host's LAN address, other bridges' gateways):
  the host's INPUT chain, which Docker's chains never see. `WP-IN-<bridge>` is jumped from
  `INPUT` for packets arriving on the rooms bridge and rejects everything new.

Before either blocks, both chains let through replies (conntrack ESTABLISHED/RELATED) and the
few destinations the agent needs: the control plane's agent endpoint (from AGENT_CONTROL_URL as
rooms see it), TURN/STUN servers, the DNS servers rooms use (port 53) and DOCKER_EGRESS_ALLOW.
Allowances match the *original* destination (`conntrack --ctorigdst`), so an endpoint published
by Docker (DNAT to a container on another network) is allowed by the address rooms dial.
Rejections use `icmp-admin-prohibited`: a room fails fast (EHOSTUNREACH), and a probe can tell the
firewall from a closed port (ECONNREFUSED).

The rooms network is IPv4-only; for IPv6 both chains reject everything from the bridge (and room
containers also run with IPv6 disabled).

Chain names carry the bridge name, so two deployments with different bridges on one host (or a
test next to a development deployment) never flush each other's rules. Applying is idempotent:
the chains are created if missing, refilled atomically by `iptables-restore --noflush` (a declared
chain is flushed and refilled in one commit, so there is no moment without rules), and the jumps
are inserted only when `iptables -C` says they are absent.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from controlplane.runtime.agent_env import DEFAULT_PORTS
from controlplane.runtime.egress import BLOCKED_IPV4
from controlplane.settings import Settings

log = logging.getLogger(__name__)

FWD_PREFIX = "WP-FWD-"
IN_PREFIX = "WP-IN-"
DOCKER_USER = "DOCKER-USER"
REJECT_V4 = ["-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]
REJECT_V6 = ["-j", "REJECT", "--reject-with", "icmp6-adm-prohibited"]
ESTABLISHED = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"]
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
COMMAND_TIMEOUT_SECONDS = 20.0

Rule = list[str]


class FirewallError(RuntimeError):
    """The egress rules could not be applied (the message says why and what to do)."""


@dataclass(frozen=True)
class Allowance:
    """Rooms may open connections to `network` (on `port`, over `protos`; all ports if None)."""

    network: ipaddress.IPv4Network
    port: int | None
    protos: tuple[str, ...]
    reason: str


# --- pure: names, addresses, allowances, rules ------------------------------------------------


def forward_chain(settings: Settings) -> str:
    return FWD_PREFIX + settings.DOCKER_BRIDGE_NAME


def input_chain(settings: Settings) -> str:
    return IN_PREFIX + settings.DOCKER_BRIDGE_NAME


def gateway_ip(settings: Settings) -> str:
    """The rooms network's gateway: its subnet's first address, the host as rooms see it."""
    network = ipaddress.IPv4Network(settings.DOCKER_SUBNET, strict=True)
    return str(next(network.hosts()))


def _is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def room_control_url(settings: Settings) -> str:
    """AGENT_CONTROL_URL as a room container must dial it. A loopback or unspecified host means
    "the control plane on this host", which rooms reach at the bridge gateway."""
    parts = urlsplit(settings.AGENT_CONTROL_URL)
    host = parts.hostname or ""
    if not _is_loopback_host(host):
        return settings.AGENT_CONTROL_URL
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    return parts._replace(netloc=f"{gateway_ip(settings)}:{port}").geturl()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    return parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme, 80)


def ice_endpoints(url: str) -> list[tuple[str, int, tuple[str, ...]]]:
    """(host, port, protocols) of a `stun:`/`turn:`/`turns:` URL (RFC 7064/7065)."""
    scheme, _, rest = url.partition(":")
    scheme = scheme.lower()
    target, _, query = rest.lstrip("/").partition("?")
    if target.startswith("["):
        host, _, port_text = target[1:].partition("]")
        port_text = port_text.lstrip(":")
    else:
        host, _, port_text = target.partition(":")
    if scheme not in {"stun", "stuns", "turn", "turns"} or not host:
        raise ValueError(f"not a STUN/TURN URL: {url!r}")
    secure = scheme.endswith("s")
    port = int(port_text) if port_text else (5349 if secure else 3478)
    transport = parse_qs(query).get("transport", [""])[0].lower()
    protos: tuple[str, ...]
    if secure:
        protos = ("tcp",)  # TLS (or DTLS, rarely used): TCP to the server's TLS port
    elif transport in {"udp", "tcp"}:
        protos = (transport,)
    elif scheme == "stun":
        protos = ("udp",)
    else:
        protos = ("udp", "tcp")
    return [(host, port, protos)]


def parse_allow_entry(entry: str) -> tuple[ipaddress.IPv4Network, int | None]:
    """`IP`, `CIDR`, `IP:PORT` or `CIDR:PORT` (IPv4)."""
    text = entry.strip()
    network_text, port = text, None
    if ":" in text:
        network_text, _, port_text = text.rpartition(":")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError(f"bad port in DOCKER_EGRESS_ALLOW entry {entry!r}")
    try:
        network = ipaddress.IPv4Network(network_text, strict=False)
    except ValueError as exc:
        raise ValueError(f"bad DOCKER_EGRESS_ALLOW entry {entry!r}: {exc}") from exc
    return network, port


def hostnames_to_resolve(settings: Settings) -> list[str]:
    """Names (not IP literals) in the endpoints rooms may reach; the applier resolves them."""
    hosts = [_host_port(room_control_url(settings))[0]]
    for url in [*settings.TURN_URLS, *settings.STUN_URLS]:
        hosts.extend(host for host, _, _ in ice_endpoints(url))
    names = []
    for host in hosts:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host not in names:
                names.append(host)
    return names


def _addresses(host: str, resolved: Mapping[str, Sequence[str]]) -> list[ipaddress.IPv4Network]:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        found = resolved.get(host)
        if not found:
            raise ValueError(f"cannot resolve {host!r} for the room egress rules") from None
        return [ipaddress.IPv4Network(f"{ip}/32") for ip in found if ":" not in ip]
    if address.version != 4:
        return []  # the rooms network is IPv4-only
    return [ipaddress.IPv4Network(f"{address}/32")]


def allowances(
    settings: Settings,
    *,
    dns_servers: Sequence[str] = (),
    resolved: Mapping[str, Sequence[str]] | None = None,
) -> list[Allowance]:
    """What rooms may reach despite the block, in rule order (pure: names come pre-resolved)."""
    names = resolved or {}
    allowed: list[Allowance] = []
    host, port = _host_port(room_control_url(settings))
    for network in _addresses(host, names):
        allowed.append(Allowance(network, port, ("tcp",), "control plane agent endpoint"))
    for url in settings.TURN_URLS:
        for ice_host, ice_port, protos in ice_endpoints(url):
            for network in _addresses(ice_host, names):
                allowed.append(Allowance(network, ice_port, protos, f"TURN {url}"))
    for url in settings.STUN_URLS:
        for ice_host, ice_port, protos in ice_endpoints(url):
            for network in _addresses(ice_host, names):
                allowed.append(Allowance(network, ice_port, protos, f"STUN {url}"))
    for server in dns_servers:
        for network in _addresses(server, names):
            allowed.append(Allowance(network, 53, ("udp", "tcp"), "DNS"))
    for entry in settings.DOCKER_EGRESS_ALLOW:
        network, entry_port = parse_allow_entry(entry)
        protos = ("tcp", "udp") if entry_port is not None else ()
        allowed.append(Allowance(network, entry_port, protos, f"DOCKER_EGRESS_ALLOW {entry}"))
    unique: list[Allowance] = []
    for item in allowed:
        if all(
            (item.network, item.port, item.protos) != (u.network, u.port, u.protos) for u in unique
        ):
            unique.append(item)
    return unique


def _allow_rules(chain: str, allowed: Sequence[Allowance]) -> list[Rule]:
    rules: list[Rule] = []
    for item in allowed:
        if item.port is None:
            rules.append(
                ["-A", chain, "-m", "conntrack", "--ctorigdst", str(item.network), "-j", "RETURN"]
            )
            continue
        for proto in item.protos:
            match = ["-p", proto, "-m", "conntrack", "--ctorigdst", str(item.network)]
            rules.append(["-A", chain, *match, "--ctorigdstport", str(item.port), "-j", "RETURN"])
    return rules


def firewall_rules(
    settings: Settings,
    *,
    dns_servers: Sequence[str] = (),
    resolved: Mapping[str, Sequence[str]] | None = None,
) -> list[Rule]:
    """The IPv4 contents of both chains as iptables argv lists (`-A CHAIN ...`), in order."""
    allowed = allowances(settings, dns_servers=dns_servers, resolved=resolved)
    fwd, inp = forward_chain(settings), input_chain(settings)
    blocked = list(BLOCKED_IPV4)
    subnet = str(ipaddress.IPv4Network(settings.DOCKER_SUBNET))
    if not any(ipaddress.IPv4Network(subnet).subnet_of(ipaddress.IPv4Network(b)) for b in blocked):
        blocked.append(subnet)  # room-to-room traffic stays blocked on any subnet
    rules: list[Rule] = [["-A", fwd, *ESTABLISHED]]
    rules += _allow_rules(fwd, allowed)
    rules += [["-A", fwd, "-d", cidr, *REJECT_V4] for cidr in blocked]
    rules.append(["-A", inp, *ESTABLISHED])
    rules += _allow_rules(inp, allowed)
    rules.append(["-A", inp, *REJECT_V4])
    return rules


def jump_rules(settings: Settings) -> list[Rule]:
    """Where our IPv4 chains hook in (`PARENT -i bridge -j CHAIN`, without -A/-I)."""
    bridge = settings.DOCKER_BRIDGE_NAME
    return [
        [DOCKER_USER, "-i", bridge, "-j", forward_chain(settings)],
        ["INPUT", "-i", bridge, "-j", input_chain(settings)],
    ]


def ipv6_rules(settings: Settings) -> list[Rule]:
    """IPv6 contents: the rooms network has no IPv6, so everything from the bridge is rejected."""
    return [["-A", chain, *REJECT_V6] for chain in (forward_chain(settings), input_chain(settings))]


def ipv6_jump_rules(settings: Settings) -> list[Rule]:
    bridge = settings.DOCKER_BRIDGE_NAME
    return [
        ["FORWARD", "-i", bridge, "-j", forward_chain(settings)],
        ["INPUT", "-i", bridge, "-j", input_chain(settings)],
    ]


def restore_script(chains: Sequence[str], rules: Sequence[Rule]) -> str:
    """`iptables-restore --noflush` input that flushes and refills `chains` in one commit."""
    lines = ["*filter", *(f":{chain} - [0:0]" for chain in chains)]
    lines += [shlex.join(rule) for rule in rules]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def shell_commands(settings: Settings, rules: Sequence[Rule]) -> list[str]:
    """The IPv4 rules as shell commands, for admins who apply them themselves."""
    ipt = settings.DOCKER_IPTABLES
    chains = [forward_chain(settings), input_chain(settings)]
    out = [f"{ipt} -w -N {chain} 2>/dev/null || {ipt} -w -F {chain}" for chain in chains]
    out += [f"{ipt} -w {shlex.join(rule)}" for rule in rules]
    for jump in jump_rules(settings):
        args = shlex.join(jump[1:])
        out.append(f"{ipt} -w -C {jump[0]} {args} 2>/dev/null || {ipt} -w -I {jump[0]} 1 {args}")
    return out


# --- I/O: discovery and the applier -----------------------------------------------------------


def host_dns_servers(settings: Settings) -> list[str]:
    """The DNS servers room containers use: DOCKER_DNS, else the host's resolv.conf servers as
    Docker picks them (loopback ones are skipped; systemd-resolved's upstream list is used)."""
    if settings.DOCKER_DNS:
        return list(settings.DOCKER_DNS)
    for path in (Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf")):
        servers = []
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                try:
                    address = ipaddress.ip_address(fields[1])
                except ValueError:
                    continue
                if address.version == 4 and not address.is_loopback:
                    servers.append(str(address))
        if servers:
            return servers
    return []  # Docker falls back to public resolvers, which need no allowance


def resolve_names(names: Sequence[str]) -> dict[str, list[str]]:
    resolved: dict[str, list[str]] = {}
    for name in names:
        try:
            infos = socket.getaddrinfo(name, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FirewallError(
                f"cannot resolve {name!r} for the room egress rules: {exc}"
            ) from exc
        resolved[name] = sorted({str(info[4][0]) for info in infos})
    return resolved


Runner = Callable[[Sequence[str], str | None], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _sibling(binary: str, family: int, suffix: str = "") -> str:
    """iptables -> ip6tables / iptables-restore (also for -legacy/-nft names and full paths)."""
    head, _, base = binary.rpartition("/")
    if family == 6:
        base = base.replace("iptables", "ip6tables", 1)
    name = base + suffix
    return f"{head}/{name}" if head else name


class Firewall:
    """Applies, checks and removes the rooms' egress rules on this host."""

    def __init__(self, settings: Settings, *, runner: Runner = _run) -> None:
        self._settings = settings
        self._run = runner
        self._ipt4 = settings.DOCKER_IPTABLES
        self._ipt6 = _sibling(settings.DOCKER_IPTABLES, 6)

    @property
    def chains(self) -> list[str]:
        return [forward_chain(self._settings), input_chain(self._settings)]

    def current_rules(self) -> list[Rule]:
        dns = host_dns_servers(self._settings)
        names = hostnames_to_resolve(self._settings) + [
            server for server in dns if not _is_ip(server)
        ]
        return firewall_rules(self._settings, dns_servers=dns, resolved=resolve_names(names))

    def _must(self, argv: Sequence[str], stdin: str | None = None) -> str:
        try:
            proc = self._run(argv, stdin)
        except (OSError, subprocess.SubprocessError) as exc:
            raise FirewallError(self._explain(argv, str(exc))) from exc
        if proc.returncode != 0:
            raise FirewallError(self._explain(argv, (proc.stderr or proc.stdout).strip()))
        return proc.stdout

    def _ok(self, argv: Sequence[str]) -> bool:
        try:
            return self._run(argv, None).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    @staticmethod
    def _explain(argv: Sequence[str], error: str) -> str:
        hint = ""
        if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
            hint = f" ({argv[0]} is not installed)"
        elif os.geteuid() != 0:
            hint = " (the control plane is not root: it needs CAP_NET_ADMIN on the host)"
        return (
            f"cannot apply the room egress firewall{hint}: `{shlex.join(argv)}` failed: {error}. "
            "Run the control plane as root (or with CAP_NET_ADMIN in the host's network "
            "namespace), or apply equivalent rules yourself and set DOCKER_EGRESS_FIREWALL=false "
            "(docs/deployment.md, Docker runtime)."
        )

    def _ensure_chains(self, ipt: str) -> None:
        for chain in self.chains:
            if not self._ok([ipt, "-w", "-n", "-L", chain]):
                self._must([ipt, "-w", "-N", chain])

    def _ensure_jumps(self, ipt: str, jumps: Sequence[Rule]) -> None:
        for jump in jumps:
            if not self._ok([ipt, "-w", "-C", *jump]):
                self._must([ipt, "-w", "-I", jump[0], "1", *jump[1:]])

    def apply(self) -> list[Rule]:
        """Create/refill our chains and hook them in; safe to repeat. Returns the IPv4 rules."""
        rules = self.current_rules()
        if not self._ok([self._ipt4, "-w", "-n", "-L", DOCKER_USER]):
            self._must([self._ipt4, "-w", "-n", "-L", DOCKER_USER])  # raises with the reason
        self._ensure_chains(self._ipt4)
        restore = _sibling(self._ipt4, 4, "-restore")
        self._must([restore, "-w", "--noflush"], restore_script(self.chains, rules))
        self._ensure_jumps(self._ipt4, jump_rules(self._settings))
        self._apply_ipv6()
        log.info(
            "room egress firewall applied",
            extra={"bridge": self._settings.DOCKER_BRIDGE_NAME, "rules": len(rules)},
        )
        return rules

    def _apply_ipv6(self) -> None:
        if not self._ok([self._ipt6, "-w", "-n", "-L", "INPUT"]):
            log.warning(
                "ip6tables unavailable; room containers run with IPv6 disabled instead",
                extra={"binary": self._ipt6},
            )
            return
        self._ensure_chains(self._ipt6)
        restore = _sibling(self._ipt6, 4, "-restore")
        self._must(
            [restore, "-w", "--noflush"], restore_script(self.chains, ipv6_rules(self._settings))
        )
        self._ensure_jumps(self._ipt6, ipv6_jump_rules(self._settings))

    def installed(self) -> bool:
        """Both IPv4 jumps are in place and our chains end in their reject rules."""
        for jump in jump_rules(self._settings):
            if not self._ok([self._ipt4, "-w", "-C", *jump]):
                return False
        inp = input_chain(self._settings)
        return self._ok([self._ipt4, "-w", "-C", inp, *REJECT_V4]) and self._ok(
            [self._ipt4, "-w", "-C", forward_chain(self._settings), "-d", "10.0.0.0/8", *REJECT_V4]
        )

    def remove(self) -> None:
        """Unhook and delete our chains (tests, uninstall). Missing pieces are fine."""
        for ipt, jumps in (
            (self._ipt4, jump_rules(self._settings)),
            (self._ipt6, ipv6_jump_rules(self._settings)),
        ):
            for jump in jumps:
                for _ in range(10):  # a bounded loop: duplicates from racing appliers
                    if not self._ok([ipt, "-w", "-D", *jump]):
                        break
            for chain in self.chains:
                self._ok([ipt, "-w", "-F", chain])
                self._ok([ipt, "-w", "-X", chain])


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def main() -> None:  # pragma: no cover - a convenience for admins
    """`python -m controlplane.runtime.docker_firewall`: print the rules as shell commands."""
    settings = Settings()
    for line in shell_commands(settings, Firewall(settings).current_rules()):
        print(line)


if __name__ == "__main__":  # pragma: no cover
    main()
