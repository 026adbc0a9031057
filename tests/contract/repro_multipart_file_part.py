"""Minimal reproduction of the schemathesis 4.32.5 bug that tests/contract/hooks.py works around (not a test).

POST /upload takes a multipart body: a file part ``file`` and an optional text ``tag`` of at most 8
characters; this server refuses anything else with a 400. schemathesis' negative fuzzing turns ``tag``
into null, a boolean, a number...; each reaches the server as text ("null", "true", "-741") that holds
to the schema, so the server rightly accepts it. schemathesis then reports "Schema-violating request
accepted": its check reads the form as sent but keeps the file part's generated ``Binary``, which
jsonschema_rs cannot validate. Without ``--without-file`` it fails; with it (same server, no file part)
it passes::

    python tests/contract/repro_multipart_file_part.py &   # or: ... --without-file &
    python -m schemathesis.cli run http://127.0.0.1:8766/openapi.json --checks negative_data_rejection \\
        --mode negative --phases fuzzing --seed 1 --max-examples 300
    SCHEMATHESIS_HOOKS=tests.contract.hooks PYTHONPATH=. python -m schemathesis.cli run ...  # passes: dropped
"""

from __future__ import annotations

import json
import sys
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WITH_FILE = "--without-file" not in sys.argv
PROPERTIES: dict[str, dict] = {"tag": {"type": "string", "maxLength": 8}}
REQUIRED = ["file"] if WITH_FILE else ["tag"]
if WITH_FILE:
    PROPERTIES["file"] = {"type": "string", "format": "binary"}
SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "repro", "version": "1"},
    "paths": {
        "/upload": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": PROPERTIES,
                                "required": REQUIRED,
                            }
                        }
                    },
                },
                "responses": {"201": {"description": "ok"}, "400": {"description": "bad"}},
            }
        }
    },
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.answer(200, SCHEMA)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, list] = {}
        for part in message.iter_parts() if message.is_multipart() else []:
            fields.setdefault(part.get_param("name", header="content-disposition"), []).append(part)
        tags = [part.get_payload(decode=True).decode(errors="replace") for part in fields.get("tag", [])]
        ok = (
            set(fields) <= set(PROPERTIES)
            and all(name in fields for name in REQUIRED)
            and len(tags) <= 1
            and all(len(tag) <= 8 for tag in tags)
        )
        self.answer(201 if ok else 400, {"ok": ok})

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", 8766), Handler).serve_forever()
