"""A network power relay that runs a local command per switch, in labgrid's `simplerest` protocol.

    python -m rig.lab.relay --on 'uhubctl -l 1-1 -p {index} -a on' --off 'uhubctl -l 1-1 -p {index} -a off'

Run it on the exporter host next to whatever really switches the device (a USB hub port, a GPIO, the
emulator's power socket) and export it as a NetworkPowerPort (model: simplerest, host:
'http://HOST:PORT/relay/{index}/{value}'); labgrid's NetworkPowerDriver then switches it for any
client holding the place. GET /relay/N/1 switches on, /relay/N/0 off, /relay/N answers 1 or 0.
A failing command answers HTTP 500 with its output, so `labgrid-client power` fails loudly.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Relay:
    def __init__(self, on_cmd: str, off_cmd: str) -> None:
        self.commands = {True: on_cmd, False: off_cmd}
        self.state: dict[int, bool] = {}
        self.lock = threading.Lock()  # one switch at a time: a relay board has one coil driver

    def switch(self, index: int, on: bool) -> tuple[bool, str]:
        cmd = self.commands[on].replace("{index}", str(index))
        with self.lock:
            done = subprocess.run(shlex.split(cmd), capture_output=True, text=True, timeout=60)
            if done.returncode == 0:
                self.state[index] = on
        return done.returncode == 0, (done.stdout + done.stderr).strip()


def handler_for(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) not in (2, 3) or parts[0] != "relay" or not parts[1].isdigit():
                return self._answer(404, "expected /relay/INDEX or /relay/INDEX/0|1")
            index = int(parts[1])
            if len(parts) == 2:
                return self._answer(200, "1" if relay.state.get(index) else "0")
            if parts[2] not in ("0", "1"):
                return self._answer(400, f"value {parts[2]!r}: expected 0 or 1")
            ok, output = relay.switch(index, parts[2] == "1")
            return self._answer(200 if ok else 500, "ok" if ok else f"command failed: {output}")

        def _answer(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write(f"relay: {fmt % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rig.lab.relay", description=__doc__.split("\n\n")[0])
    p.add_argument("--on", required=True, help="command that switches port {index} on")
    p.add_argument("--off", required=True, help="command that switches port {index} off")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    args = p.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Relay(args.on, args.off)))
    host, port = server.server_address[:2]
    print(f"relay listening on http://{host}:{port}/relay/{{index}}/{{value}}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
