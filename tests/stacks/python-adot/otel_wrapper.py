# SPDX-License-Identifier: Apache-2.0
"""The ADOT Python Lambda layer's handler wrapper, as this stack's otel-instrument points
_HANDLER at it (the layer ships it as /opt/python/otel_wrapper.py; the PyPI distro does not).
On import it instruments the handler with AwsLambdaInstrumentor and an event context extractor
that reads the event's `headers` with Lambda's X-Ray header (_X_AMZN_TRACE_ID) put in as
X-Amzn-Trace-Id, replacing any such header of the event; the global propagators
(baggage,xray,tracecontext) then pick the parent: the last one that finds a context wins.
Then it loads the real handler named by ORIG_HANDLER.
"""

import os
from importlib import import_module

from opentelemetry.context import Context
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import get_current_span

XRAY_HEADER = "X-Amzn-Trace-Id"


def _carrier(event):
    headers = event.get("headers") if isinstance(event, dict) else None
    carrier = dict(headers) if isinstance(headers, dict) else {}
    xray = os.environ.get("_X_AMZN_TRACE_ID")
    if xray:
        carrier = {k: v for k, v in carrier.items() if k.lower() != XRAY_HEADER.lower()}
        carrier[XRAY_HEADER] = xray
    return carrier


def event_context_extractor(event):
    ctx = get_global_textmap().extract(_carrier(event))
    return ctx if get_current_span(ctx).get_span_context().is_valid else Context()


AwsLambdaInstrumentor().instrument(event_context_extractor=event_context_extractor)

_module, _, _name = os.environ["ORIG_HANDLER"].rpartition(".")
lambda_handler = getattr(import_module(_module.replace("/", ".")), _name)
