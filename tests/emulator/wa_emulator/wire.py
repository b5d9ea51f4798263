# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The web-app-to-coreapp channel: one JSON line each way over TCP (ports baseport + offset)."""

import json
import socket
import socketserver

PORT_OFFSETS = {"message": 0, "contacts": 1, "control": 2, "healthcheck": 3}
# How often a serving loop looks for its shutdown: a stop waits this long per server (the default is 0.5 s).
SHUTDOWN_POLL = 0.05


class NodeUnreachable(Exception):
    pass


def call(host, port, command, args=None, timeout=10.0):
    """Send ``command`` and return the reply ``{"payload": ..., "errors": [...]}``."""
    request = json.dumps({"command": command, "args": args or {}}).encode() + b"\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            with sock.makefile("rb") as reader:
                line = reader.readline()
    except OSError as exc:
        raise NodeUnreachable("%s:%s: %s" % (host, port, exc)) from exc
    if not line:
        raise NodeUnreachable("%s:%s closed the connection" % (host, port))
    return json.loads(line)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        if not line:
            return
        try:
            request = json.loads(line)
            reply = self.server.dispatch(self.server.kind, request.get("command"), request.get("args") or {})
        except Exception as exc:  # pylint: disable=broad-except
            reply = {"errors": [{"code": 1014, "title": "Internal error", "details": str(exc)}]}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, kind, dispatch):
        self.kind = kind
        self.dispatch = dispatch
        super().__init__(address, _Handler)


def serve(address, base_port, dispatch):
    """Listen on the four coreapp ports; ``dispatch(kind, command, args)`` answers each request."""
    servers = []
    for kind, offset in PORT_OFFSETS.items():
        servers.append(_Server((address, base_port + offset), kind, dispatch))
    return servers
