"""A lossy path in front of the SFU's media port, for tests of loss recovery.

This kernel has no `tc netem`, so loss is made in user space: the relay listens on the address
the SFU advertises in its ICE candidates and forwards datagrams both ways between each client
and the SFU's real media socket, like a NAT with one upstream socket per client. It drops the
given share of SRTP/SRTCP packets (RFC 7983: first byte 128-191) in each direction, with a
seeded generator so a run is repeatable; STUN and DTLS (the handshake and the data channels)
pass untouched, so connections come up as fast as without loss and only media is impaired.

Prints `READY` once listening; on SIGTERM prints one JSON line with what it forwarded and
dropped, then exits.
"""

import argparse
import asyncio
import json
import random
import signal


def is_srtp(datagram: bytes) -> bool:
    return bool(datagram) and 128 <= datagram[0] <= 191


class Counters:
    def __init__(self):
        self.forwarded = 0
        self.dropped = 0


class Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards the SFU for one client."""

    def __init__(self, relay, client, first):
        self.relay = relay
        self.client = client
        self.transport = None
        # What the client sent before this socket was open.
        self.pending = [first]

    def connection_made(self, transport):
        self.transport = transport
        for data in self.pending:
            self.send(data)
        self.pending = []

    def send(self, data):
        if self.transport is None:
            self.pending.append(data)
        elif self.relay.keep(data):
            self.transport.sendto(data)

    def datagram_received(self, data, addr):
        if self.relay.keep(data):
            self.relay.front.sendto(data, self.client)


class Relay(asyncio.DatagramProtocol):
    """The listening socket the clients reach (the SFU's advertised address)."""

    def __init__(self, loop, bind_ip, upstream, loss, seed):
        self.loop = loop
        self.bind_ip = bind_ip
        self.upstream = upstream
        self.loss = loss
        self.random = random.Random(seed)
        self.front = None
        self.clients = {}
        self.counters = Counters()

    def connection_made(self, transport):
        self.front = transport

    def keep(self, data: bytes) -> bool:
        if is_srtp(data) and self.random.random() < self.loss:
            self.counters.dropped += 1
            return False
        self.counters.forwarded += 1
        return True

    def datagram_received(self, data, addr):
        upstream = self.clients.get(addr)
        if upstream is not None:
            upstream.send(data)
            return
        upstream = Upstream(self, addr, data)
        self.clients[addr] = upstream
        self.loop.create_task(
            self.loop.create_datagram_endpoint(
                lambda: upstream, local_addr=(self.bind_ip, 0), remote_addr=self.upstream
            )
        )


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, help="ip:port the SFU advertises")
    parser.add_argument("--upstream", required=True, help="ip:port of the SFU's media socket")
    parser.add_argument("--loss", type=float, required=True, help="share of SRTP to drop, 0..1")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    listen_ip, listen_port = args.listen.rsplit(":", 1)
    upstream_ip, upstream_port = args.upstream.rsplit(":", 1)

    loop = asyncio.get_running_loop()
    relay = Relay(loop, listen_ip, (upstream_ip, int(upstream_port)), args.loss, args.seed)
    await loop.create_datagram_endpoint(lambda: relay, local_addr=(listen_ip, int(listen_port)))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("READY", flush=True)
    await stop.wait()
    counters = relay.counters
    print(
        json.dumps(
            {
                "clients": len(relay.clients),
                "forwarded": counters.forwarded,
                "dropped": counters.dropped,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
