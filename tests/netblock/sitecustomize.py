"""Blocks network access in every Python process of the test suite (pytest itself and notebook kernels).

The test suite puts this folder on PYTHONPATH and sets COURSE_BLOCK_NETWORK=1; any connection to an address
outside loopback then raises, so a notebook that silently reaches for the hub fails its test.
"""

import os
import socket

if os.environ.get("COURSE_BLOCK_NETWORK") == "1":
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex

    def _allowed(sock, address) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        host = address[0] if isinstance(address, tuple) else address
        return host in ("localhost", "::1", "") or str(host).startswith("127.")

    def _guarded_connect(self, address):
        if not _allowed(self, address):
            raise OSError(f"network access blocked in the test suite: connection to {address!r}")
        return _connect(self, address)

    def _guarded_connect_ex(self, address):
        if not _allowed(self, address):
            raise OSError(f"network access blocked in the test suite: connection to {address!r}")
        return _connect_ex(self, address)

    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
