# SPDX-License-Identifier: Apache-2.0
"""Test handler for the real Python runtime client (awslambdaric) with the OpenTelemetry or ADOT
Lambda instrumentation (tests/stacks/python-*). Like orders.mjs it records the event it received
(HANDLER_EVENTS_OUT, one JSON line per invocation) so the tests can check what tracebridge
delivered, and does its work in a child span "business_logic" under the instrumentation's
invocation span: it totals the orders it was given (direct payload, SQS/SNS record bodies, an
SNS envelope inside an SQS body, EventBridge detail, an API Gateway body). HANDLER_WORK_MS
(default 15) adds that much simulated I/O time.
"""

import json
import os
import time

from opentelemetry import trace

tracer = trace.get_tracer("orders-handler")


def _loads(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _orders(event):
    """Every {"order": n} the event carries, whatever its source."""
    if not isinstance(event, dict):
        return []
    found = []
    for rec in event.get("Records") or []:
        body = _loads(rec.get("body")) if "body" in rec else _loads((rec.get("Sns") or {}).get("Message"))
        if isinstance(body, dict) and isinstance(body.get("Message"), str):
            body = _loads(body["Message"])  # SNS envelope in an SQS body
        found.append(body)
    if isinstance(event.get("detail"), dict):
        found.append(event["detail"])
    if isinstance(event.get("body"), str):
        found.append(_loads(event["body"]))
    if "order" in event:
        found.append(event)
    return [o["order"] for o in found if isinstance(o, dict) and isinstance(o.get("order"), int)]


def _record(event, context):
    out = os.environ.get("HANDLER_EVENTS_OUT")
    if not out:
        return
    sc = trace.get_current_span().get_span_context()
    line = {
        "requestId": context.aws_request_id,
        "event": event,
        "clientContext": getattr(context.client_context, "custom", None) if context.client_context else None,
        "xrayEnv": os.environ.get("_X_AMZN_TRACE_ID"),
        "runtimeApi": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "at": int(time.time() * 1000),
        "activeSpan": {"traceId": format(sc.trace_id, "032x"), "spanId": format(sc.span_id, "016x")} if sc.is_valid else None,
    }
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def handler(event, context):
    _record(event, context)
    with tracer.start_as_current_span("business_logic") as span:
        orders = _orders(event)
        span.set_attribute("orders.count", len(orders))
        time.sleep(float(os.environ.get("HANDLER_WORK_MS", "15")) / 1000.0)
        result = {"processed": len(orders), "total": sum(orders)}
    if isinstance(event, dict) and "requestContext" in event and ("httpMethod" in event or event.get("version") == "2.0"):
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(result)}
    return {"ok": True, **result}
