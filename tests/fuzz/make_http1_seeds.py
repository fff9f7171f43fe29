#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_http1 (tests/fuzz/corpus/fuzz_http1/) from real Runtime API
exchanges, in the target's record format: a flags byte, then [op][3-byte LE length][bytes].
Run from the repository root: python3 tests/fuzz/make_http1_seeds.py"""
import os
import struct

OUT = "tests/fuzz/corpus/fuzz_http1"
DOWN, UP, UP_EOF, DOWN_EOF = 0, 1, 2, 3
RESET, SMALL_READS = 4, 8
REWRITE, SMALL_EVENT, SMALL_HEAD, UP_DOWN = 1, 2, 4, 8

NEXT_REQ = (b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
            b"User-Agent: aws-lambda-cpp/0.2.6\r\nAccept: */*\r\n\r\n")
EVENT = (b'{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","body":"{\\"a\\":1}",'
         b'"attributes":{"AWSTraceHeader":"Root=1-5759e988-bd862e3fe1be46a994272793;'
         b'Parent=53995c3f42cd8ad8;Sampled=1"},"messageAttributes":{"traceparent":{"stringValue":'
         b'"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","dataType":"String"}},'
         b'"eventSource":"aws:sqs"}]}')
NEXT_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
             b"Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
             b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:f\r\n"
             b"Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;"
             b"Sampled=1;Lineage=a87bd80c:0\r\n"
             b"Lambda-Runtime-Client-Context: {\"custom\":{\"k\":\"v\"}}\r\n"
             b"Date: Fri, 16 Nov 2018 22:08:26 GMT\r\n")
ACCEPTED = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nDate: Fri, 16 Nov 2018 22:08:27 GMT\r\n"
            b"Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
RID = b"8476a536-e9f4-11e8-9739-2dfe598c3fcd"


def rec(op, data=b""):
    return bytes([op]) + struct.pack("<I", len(data))[:3] + data


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out


def next_cl(body=EVENT):
    return NEXT_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


def next_chunked(body=EVENT):
    return NEXT_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, 50) + b"0\r\n\r\n"


def post(path, body, extra=b""):
    return (b"POST /2018-06-01/runtime/" + path + b" HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n" + extra +
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def go_post(path, body):
    """aws-lambda-go: every POST chunked, with a declared trailer left empty."""
    return (b"POST /2018-06-01/runtime/" + path + b" HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
            b"User-Agent: Go-http-client/1.1\r\nTransfer-Encoding: chunked\r\n"
            b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
            b"Content-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n" +
            chunked(body, 7) + b"0\r\n\r\n")


def streaming_post(error=False):
    head = (b"POST /2018-06-01/runtime/invocation/" + RID + b"/response HTTP/1.1\r\n"
            b"Host: 127.0.0.1:9001\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
            b"Transfer-Encoding: chunked\r\nContent-Type: application/vnd.awslambda.http-integration-response\r\n"
            b"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n")
    prelude = b'{"statusCode":200,"headers":{"content-type":"text/plain"}}' + b"\0" * 8
    body = chunked(prelude, 64) + chunked(b"hello " * 40, 37)
    if error:
        body += (b"0\r\nLambda-Runtime-Function-Error-Type: Runtime.StreamError\r\n"
                 b"Lambda-Runtime-Function-Error-Body: eyJlcnJvck1lc3NhZ2UiOiJib29tIn0=\r\n\r\n")
    else:
        body += b"0\r\n\r\n"
    return head + body


def invoke(next_resp, post_req, flags=0, split=False):
    out = bytes([flags]) + rec(DOWN, NEXT_REQ)
    if split:
        out += rec(UP | SMALL_READS, next_resp)
    else:
        out += rec(UP, next_resp)
    return out + rec(DOWN, post_req) + rec(UP, ACCEPTED)


def simple(status, body):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    ok = post(b"invocation/" + RID + b"/response", b'{"statusCode":200,"body":"ok"}')
    err = post(b"invocation/" + RID + b"/error", b'{"errorMessage":"boom","errorType":"Error","stackTrace":[]}',
               b"Lambda-Runtime-Function-Error-Type: Unhandled\r\n")
    write("buffered_cl", invoke(next_cl(), ok))
    write("buffered_cl_rewrite", invoke(next_cl(), ok, REWRITE))
    write("next_chunked", invoke(next_chunked(), ok, split=True))
    write("next_chunked_rewrite", invoke(next_chunked(), ok, REWRITE, split=True))
    write("next_oversize", invoke(next_cl(EVENT * 40), ok, SMALL_EVENT | REWRITE))
    write("error", invoke(next_cl(), err))
    write("go_chunked_trailers", invoke(next_cl(), go_post(b"invocation/" + RID + b"/response", b'"ok"')))
    write("streaming", invoke(next_cl(), streaming_post()))
    write("streaming_error_trailers", invoke(next_cl(), streaming_post(True)))
    write("init_error", bytes([0]) + rec(DOWN, post(b"init/error", b'{"errorMessage":"x","errorType":"E"}',
                                                   b"Lambda-Runtime-Function-Error-Type: Runtime.Init\r\n"))
          + rec(UP, ACCEPTED))
    write("upstream_down", bytes([UP_DOWN]) + rec(DOWN, NEXT_REQ) + rec(DOWN, ok))
    write("upstream_reset_mid_event", bytes([0]) + rec(DOWN, NEXT_REQ) + rec(UP | RESET, next_cl()[:300])
          + rec(DOWN, NEXT_REQ) + rec(UP, next_cl()))
    write("upstream_eof_mid_stream", bytes([0]) + rec(DOWN, streaming_post()[:400]) + rec(UP_EOF))
    write("runtime_gone_mid_next", bytes([0]) + rec(DOWN, NEXT_REQ) + rec(DOWN_EOF) + rec(UP, next_cl()))
    # Orphaned /next (proxy/orphan.c): the runtime leaves while the event is arriving.
    part = next_cl()[:len(NEXT_HEAD) + 40]
    write("orphan_arriving", bytes([0]) + rec(DOWN, NEXT_REQ) + rec(UP, part) + rec(DOWN_EOF)
          + rec(UP, next_cl()[len(part):]) + rec(UP_EOF))
    cpart = next_chunked()[:len(NEXT_HEAD) + 90]
    write("orphan_arriving_chunked_rewrite", bytes([REWRITE]) + rec(DOWN, NEXT_REQ) + rec(UP, cpart)
          + rec(DOWN_EOF) + rec(UP | SMALL_READS, next_chunked()[len(cpart):]))
    write("orphan_oversize", bytes([SMALL_EVENT]) + rec(DOWN, NEXT_REQ) + rec(UP, part) + rec(DOWN_EOF)
          + rec(UP, next_cl(EVENT * 40)[len(part):]))
    write("orphan_cut", bytes([0]) + rec(DOWN, NEXT_REQ) + rec(UP, part) + rec(DOWN_EOF)
          + rec(UP | RESET, next_cl()[len(part):len(part) + 30]))
    write("orphan_fin_then_eof", bytes([0]) + rec(DOWN, NEXT_REQ) + rec(DOWN_EOF) + rec(UP_EOF))
    write("pipelined", bytes([0]) + rec(DOWN, NEXT_REQ + ok) + rec(UP, next_cl()) + rec(UP, ACCEPTED))
    write("continue_100", bytes([0]) + rec(DOWN, ok) + rec(UP, b"HTTP/1.1 100 Continue\r\n\r\n" + ACCEPTED))
    write("head_and_close", bytes([0]) + rec(DOWN, b"HEAD /2018-06-01/ping HTTP/1.1\r\n\r\n")
          + rec(UP, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") + rec(DOWN, b"GET /x HTTP/1.1\r\n\r\n")
          + rec(UP, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye") + rec(UP_EOF))
    write("restore_next", bytes([0]) + rec(DOWN, b"GET /2018-06-01/runtime/restore/next HTTP/1.1\r\n\r\n")
          + rec(UP, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    write("upstream_5xx", invoke(simple(b"500 Internal Server Error",
                                        b'{"errorMessage":"Internal error","errorType":"ServiceError"}\n'), ok))
    write("forbidden_403", invoke(simple(b"403 Forbidden", b'{"errorMessage":"Invalid state transition",'
                                         b'"errorType":"InvalidStateTransition"}\n'), ok))
    big = b"x" * (1024 * 1024)
    write("header_1mib", bytes([0]) + rec(DOWN, post(b"invocation/" + RID + b"/error", b"{}",
                                                     b"Lambda-Runtime-Function-XRay-Error-Cause: " + big + b"\r\n"))
          + rec(UP, ACCEPTED))
    write("header_over_limit", bytes([SMALL_HEAD]) + rec(DOWN, post(b"invocation/r/error", b"{}",
                                                                   b"X-Huge: " + b"y" * 4000 + b"\r\n")))


if __name__ == "__main__":
    main()
