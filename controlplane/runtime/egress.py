"""Where rooms may never connect: the one list of blocked destination ranges (pure data).

Both runtimes that isolate rooms enforce it: the Docker firewall (`docker_firewall.py`,
iptables on the rooms' bridge) and the Kubernetes NetworkPolicy (`k8s_manifests.py`). Chromium's
URL blocklist is a second layer that cannot take ranges.
"""

from __future__ import annotations

# Egress is open to the internet (rooms browse the web) but never to these: private networks
# (where the cluster's pods, services, nodes and databases live), loopback, link-local (cloud
# metadata at 169.254.169.254), carrier-grade NAT (some clusters' pod ranges; Alibaba metadata
# 100.100.100.200), "this network", multicast and reserved space; in IPv6 the same, plus every
# range that lands on this host or carries an IPv4 address to be translated or tunnelled (a way
# around the IPv4 list): the unspecified address `::` (which Linux delivers to this host), `::1`
# and the IPv4-compatible `::a.b.c.d` (all in `::/96`), IPv4-mapped, NAT64 (well-known and
# local-use), discard-only, Teredo and 6to4; unique-local (AWS metadata fd00:ec2::254),
# link-local, the old site-local, multicast.
BLOCKED_IPV4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
BLOCKED_IPV6 = (
    "::/96",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
)
