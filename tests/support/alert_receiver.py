"""A Slack-style webhook on 127.0.0.1 that keeps the text of every alert posted to it,
for tests that check what the pipeline's failure notifier (kpi.alerts) sends."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class AlertReceiver:
    """Serves from construction until `shutdown()`; `url` is the hook to configure and
    `alerts` the texts received, in order."""

    def __init__(self) -> None:
        self.alerts: list[str] = []
        alerts = self.alerts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                alerts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["text"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
