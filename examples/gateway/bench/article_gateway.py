#!/usr/bin/env python3
"""The article's gateway design, as the benchmark baseline: a thread per connection
(socketserver.ThreadingMixIn), one recv(1024) per reading, the same JSON body the article
builds, one "upload" per line (written to stdout instead of an HTTPS POST, as the Rust
gateway's stdout sink does), and the bare status sent back.

    python3 article_gateway.py PORT > /dev/null
"""
import socket
import socketserver
import sys
import time


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        host = socket.gethostname()
        while True:
            data = self.request.recv(1024).strip()
            if not data:
                break
            text = data.decode("utf-8", "replace")
            split_data = text.split(",")
            if len(split_data) < 2:
                break
            sensor = split_data[1]
            payload = split_data[0]
            body = ('{ "Time" : "' + time.asctime(time.localtime(time.time())) + '", "GatewayId" : "bench", '
                    '"DeviceId" : "' + host + '",' + '"SensorId" : "' + sensor + '", "SensorType" : "'
                    + payload.split(":")[0] + '", "SensorValue" : "' + payload.split(":")[1] + '"}')
            sys.stdout.write(body + "\n")
            sys.stdout.flush()
            self.request.sendall(b"201")


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


if __name__ == "__main__":
    port = int(sys.argv[1])
    with Server(("127.0.0.1", port), Handler) as server:
        server.serve_forever()
