"""fakemdb.py - a hostile MariaDB server for the transport tests (issue 14
item 5): it speaks just enough of the client/server protocol to greet a
client, read its handshake response and ask it to switch to an
authentication plugin that sends the password in clear
(mysql_clear_password, or dialog).  It records every byte each client sent
so a test can assert that a password never reached it.  It offers no TLS
(a client that insists on TLS gives up after the greeting).  Asked to
switch to mysql_native_password or client_ed25519, it sends the scramble
or nonce those plugins expect, so a client that allows the plugin answers
(event 'answered-switch').

Standard library only.  Not a database: nothing here is ever a mock of a
server vaultd is tested against; it is the attacker.
"""
import random
import socket
import struct
import threading

# Capability flags (include/mariadb_com.h).
CLIENT_LONG_PASSWORD = 1
CLIENT_PROTOCOL_41 = 512
CLIENT_SECURE_CONNECTION = 32768
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC = 1 << 21
CLIENT_CONNECT_WITH_DB = 8
CLIENT_MYSQL = 1           # MariaDB: the server is not MySQL (bit 0 clear)
CLIENT_SSL = 2048


def _packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xff]) + payload


def _recv_exact(conn, n, got):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        got.extend(chunk)
        buf += chunk
    return buf


def _read_packet(conn, got):
    hdr = _recv_exact(conn, 4, got)
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    return hdr[3], _recv_exact(conn, n, got)


class FakeServer:
    """Listens on (host, port 0 = any); each client gets the greeting
    (initial plugin mysql_native_password) and then an auth switch request
    to `switch_to`.  .received holds every byte of every client, .events
    what happened per connection ('switched', 'answered-switch', 'eof',
    'ssl-request')."""

    def __init__(self, host="127.0.0.1", switch_to="mysql_clear_password",
                 family=socket.AF_INET):
        self.switch_to = switch_to
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.events = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,),
                             daemon=True).start()

    def _greeting(self):
        scramble = b"abcdefghijklmnopqrst"      # 20 bytes, fixed
        caps = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 |
                CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH_LENENC |
                CLIENT_CONNECT_ATTRS)
        p = b"\x0a" + b"5.5.5-10.11.99-MariaDB-fake\x00"
        p += struct.pack("<I", 42)
        p += scramble[:8] + b"\x00"
        p += struct.pack("<H", caps & 0xffff)
        p += b"\x2d"                              # utf8mb4_general_ci
        p += struct.pack("<H", 2)                 # autocommit
        p += struct.pack("<H", caps >> 16)
        p += bytes([21])
        p += b"\x00" * 6
        p += struct.pack("<I", 0)                 # MariaDB extended caps
        p += scramble[8:] + b"\x00"
        p += b"mysql_native_password\x00"
        return p

    def _client(self, conn):
        got = bytearray()
        ev = []
        try:
            conn.settimeout(15)
            conn.sendall(_packet(0, self._greeting()))
            seq, resp = _read_packet(conn, got)
            caps = struct.unpack("<I", resp[:4])[0] if len(resp) >= 4 else 0
            if caps & CLIENT_SSL and len(resp) <= 32:
                ev.append("ssl-request")
                raise EOFError
            # The auth switch: 0xfe, plugin name, plugin data.
            sw = b"\xfe" + self.switch_to.encode() + b"\x00"
            if self.switch_to == "dialog":
                sw += b"\x04Password: "   # a password question
            elif self.switch_to == "mysql_native_password":
                # A 20-byte scramble, as the server's own switch sends.
                sw += bytes(random.randint(33, 126) for _ in range(20)) + \
                    b"\x00"
            elif self.switch_to == "client_ed25519":
                sw += bytes(random.randint(0, 255) for _ in range(32))
            else:
                sw += b"\x00"
            conn.sendall(_packet(seq + 1, sw))
            ev.append("switched")
            seq, resp = _read_packet(conn, got)
            ev.append("answered-switch")
            err = b"\xff" + struct.pack("<H", 1045) + b"#28000" + \
                b"Access denied (fake)"
            conn.sendall(_packet(seq + 1, err))
        except (EOFError, OSError, socket.timeout):
            ev.append("eof")
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self.lock:
                self.received.extend(got)
                self.events.append(ev)

    def saw(self, secret):
        """True when secret (str) appeared in any byte a client sent."""
        with self.lock:
            return secret.encode() in bytes(self.received)

    def close(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
