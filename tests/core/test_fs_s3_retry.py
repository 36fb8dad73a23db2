"""A PUT that meets a dead S3 endpoint is retried, and the object appears whole or not at all."""

from __future__ import annotations

import socket
import threading
import time

import boto3

from tests.conftest import free_port
from ultralink.core.fs import read_bytes, resolve, write_atomic


class FlakyProxy:
    """A TCP proxy on 127.0.0.1 in front of the moto server that can go down for a while.

    While down it accepts and immediately resets every connection, the way a restarting
    endpoint or a dropped load balancer does; the client sees real connection errors.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.down = threading.Event()
        self.refused = 0
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            if self.down.is_set():
                self.refused += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self._sock.close()


def test_put_is_retried_through_an_outage(s3_env, moto_server, monkeypatch):
    moto_port = int(moto_server.rsplit(":", 1)[1])
    proxy = FlakyProxy(moto_port)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
        loc = resolve(f"s3://{s3_env}/out/_report.json")
        payload = b"{" + b'"x": 1, ' * 200_000 + b'"end": true}'
        proxy.down.set()
        errors: list[BaseException] = []

        def put() -> None:
            try:
                write_atomic(loc, payload)
            except BaseException as exc:  # reported below
                errors.append(exc)

        writer = threading.Thread(target=put)
        writer.start()
        deadline = time.time() + 30
        while proxy.refused < 2 and time.time() < deadline:
            time.sleep(0.05)
        s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
        assert "Contents" not in s3.list_objects_v2(Bucket=s3_env, Prefix="out/")  # nothing half-written
        proxy.down.clear()
        writer.join(60)
        assert not writer.is_alive() and not errors, errors
        assert proxy.refused >= 2
        assert read_bytes(loc) == payload
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_env, Prefix="out/")["Contents"]]
        assert keys == ["out/_report.json"]
    finally:
        proxy.close()
