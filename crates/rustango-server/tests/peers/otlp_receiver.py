"""A minimal OTLP/HTTP trace receiver for rustango's tests.

Listens on 127.0.0.1 (port 0: the OS picks one), prints the port on the first line of
stdout, and appends one JSON object per received span to the file named by argv[1].
Requests are parsed with the official protobuf definitions (PyPI opentelemetry-proto),
so a malformed export fails the test instead of passing unnoticed.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

OUT = sys.argv[1]


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with open(OUT, "a", encoding="utf-8") as out:
            for rs in request.resource_spans:
                resource = {a.key: value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.write(
                            json.dumps(
                                {
                                    "service": resource.get("service.name"),
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent_span_id": span.parent_span_id.hex(),
                                    "name": span.name,
                                    "kind": span.kind,
                                    "status": span.status.code,
                                    "attributes": {
                                        a.key: value(a.value) for a in span.attributes
                                    },
                                }
                            )
                            + "\n"
                        )
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
