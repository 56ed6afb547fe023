# Sourced by the live benchmarks: the two namespaces they measure in, named after the
# caller's pid ($NS_S server, $NS_C client), joined by a veth; the server has the fake hosts
# 203.0.113.0/24 on its loopback (documentation range only), the client routes through it.
# Removed by the caller's cleanup (ip netns del "$NS_C" "$NS_S").
make_bench_netns() {
    ip netns add "$NS_S"
    ip netns add "$NS_C"
    ip link add "vbs$$" type veth peer name "vbc$$"
    ip link set "vbs$$" netns "$NS_S"
    ip link set "vbc$$" netns "$NS_C"
    ip netns exec "$NS_S" ip link set lo up
    ip netns exec "$NS_C" ip link set lo up
    ip netns exec "$NS_S" ip addr add 198.51.100.1/24 dev "vbs$$"
    ip netns exec "$NS_C" ip addr add 198.51.100.2/24 dev "vbc$$"
    ip netns exec "$NS_S" ip link set "vbs$$" up
    ip netns exec "$NS_C" ip link set "vbc$$" up
    ip netns exec "$NS_S" ip addr add 203.0.113.0/24 dev lo
    ip netns exec "$NS_C" ip route add default via 198.51.100.1
    # Generous local port range: refused connects leave no TIME_WAIT, ports come back fast.
    ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
}
