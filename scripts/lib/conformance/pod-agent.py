#!/usr/bin/python3
# The conformance runner's helper inside one pod's network namespace (started with `ip netns exec`): it serves
# every container port of the model (TCP listeners that accept, UDP echo, SCTP where the kernel has it) and
# probes targets on request, many at once, from this namespace.
#
# Why Python asyncio and not Node: one long-lived process per pod serves and probes, so start-up time hardly
# matters, but memory does (~10 MB RSS here against ~45 MB for a Node process, times every pod of a model); and
# Python's socket module can open SCTP sockets and sees ICMP errors on connected UDP sockets directly, which
# Node's net/dgram cannot.
#
# Protocol (JSON lines): argv[1] is {"serve": [{"proto": "TCP", "port": 80}, ...]} (argv[2], the pod's network
# namespace, only labels the process). The agent prints
# {"ready": true, "serving": [...], "unsupported": {"SCTP": "reason"}} once it listens, then answers each stdin
# line {"id": N, "timeoutMs": T, "probes": [{"proto", "ip", "port"}, ...]} with
# {"id": N, "results": [{"verdict": "Connected|Rejected|Dropped|Skipped|Error", "detail": "..."}]} in order.
# It exits when stdin closes (the runner went away).
import asyncio
import errno
import json
import os
import socket
import sys

MAX_IN_FLIGHT = 32
UDP_RESEND_S = 0.3
UNREACHABLE = {
    errno.EHOSTUNREACH: "ICMP host unreachable / administratively prohibited",
    errno.ENETUNREACH: "ICMP network unreachable",
    errno.EACCES: "ICMP communication administratively prohibited",
    errno.EPERM: "ICMP communication administratively prohibited",
    errno.EPROTO: "ICMP protocol error",
}


def sctp_problem():
    """Why SCTP sockets cannot be used here, or None when they can."""
    proto = getattr(socket, "IPPROTO_SCTP", 132)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto).close()
        return None
    except OSError as err:
        return f"SCTP sockets are not available: {err.strerror or err}"


def failure_verdict(err):
    if isinstance(err, ConnectionRefusedError) or getattr(err, "errno", None) == errno.ECONNREFUSED:
        return "Rejected", "connection refused (TCP RST or ICMP port unreachable)"
    reason = UNREACHABLE.get(getattr(err, "errno", None))
    if reason is not None:
        return "Rejected", f"{errno.errorcode.get(err.errno, err.errno)}: {reason}"
    return "Error", f"{type(err).__name__}: {err}"


async def handle_stream(_reader, writer):
    # The prober only needs the handshake; close at once so nothing lingers.
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:
        pass


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)

    def error_received(self, exc):
        pass


async def serve(spec, sctp_unavailable):
    loop = asyncio.get_running_loop()
    serving = []
    for entry in spec.get("serve", []):
        proto, port = entry["proto"], int(entry["port"])
        if proto == "TCP":
            await asyncio.start_server(handle_stream, "0.0.0.0", port, reuse_address=True, backlog=512)
        elif proto == "UDP":
            await loop.create_datagram_endpoint(UdpEcho, local_addr=("0.0.0.0", port))
        elif proto == "SCTP":
            if sctp_unavailable is not None:
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, getattr(socket, "IPPROTO_SCTP", 132))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            await asyncio.start_server(handle_stream, sock=sock, backlog=512)
        else:
            continue
        serving.append(f"{proto}/{port}")
    return serving


async def probe_stream(ip, port, timeout, proto):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    sock.setblocking(False)
    # An ordinary close (FIN, then TIME_WAIT here), never a reset close: without TIME_WAIT the kernel may reuse a
    # source port while OVS conntrack still holds that 5-tuple, and the new SYN is then judged against it.
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (ip, port)), timeout)
        return "Connected", "connected"
    except asyncio.TimeoutError:
        return "Dropped", f"no answer within {round(timeout * 1000)} ms{source_port(sock)}"
    except OSError as err:
        return failure_verdict(err)
    finally:
        sock.close()


def source_port(sock):
    # The 5-tuple matters when conntrack state from an earlier connection is suspected.
    try:
        return f" (source port {sock.getsockname()[1]})"
    except OSError:
        return ""


async def probe_udp(ip, port, timeout):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    payload = b"conformance " + os.urandom(8).hex().encode()
    deadline = loop.time() + timeout
    try:
        sock.connect((ip, port))
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return "Dropped", f"no echo within {round(timeout * 1000)} ms{source_port(sock)}"
            # A lost first datagram is resent, as a client would: only silence for the whole timeout is Dropped.
            sock.send(payload)
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 4096), min(UDP_RESEND_S, remaining))
            except asyncio.TimeoutError:
                continue
            if data == payload:
                return "Connected", "echoed"
    except OSError as err:
        return failure_verdict(err)
    finally:
        sock.close()


async def probe(target, timeout, sctp_unavailable):
    proto, ip, port = target["proto"], target["ip"], int(target["port"])
    if proto == "TCP":
        return await probe_stream(ip, port, timeout, socket.IPPROTO_TCP)
    if proto == "UDP":
        return await probe_udp(ip, port, timeout)
    if proto == "SCTP":
        if sctp_unavailable is not None:
            return "Skipped", sctp_unavailable
        return await probe_stream(ip, port, timeout, getattr(socket, "IPPROTO_SCTP", 132))
    return "Error", f"unknown protocol {proto}"


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def answer(request, limit, sctp_unavailable):
    timeout = max(0.05, float(request.get("timeoutMs", 2000)) / 1000)

    async def one(target):
        async with limit:
            try:
                verdict, detail = await probe(target, timeout, sctp_unavailable)
            except Exception as err:  # a probe must answer, whatever happened
                verdict, detail = "Error", f"{type(err).__name__}: {err}"
            return {"verdict": verdict, "detail": detail}

    results = await asyncio.gather(*(one(t) for t in request.get("probes", [])))
    emit({"id": request.get("id"), "results": list(results)})


async def main():
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sctp_unavailable = sctp_problem()
    try:
        serving = await serve(spec, sctp_unavailable)
    except OSError as err:
        emit({"ready": False, "error": f"cannot serve: {err}"})
        return
    unsupported = {} if sctp_unavailable is None else {"SCTP": sctp_unavailable}
    emit({"ready": True, "serving": serving, "unsupported": unsupported})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    tasks = set()
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            request = json.loads(line)
        except ValueError:
            sys.stderr.write(f"pod-agent: ignoring a line that is not JSON: {line[:80]!r}\n")
            continue
        task = asyncio.create_task(answer(request, limit, sctp_unavailable))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, BrokenPipeError):
        pass
