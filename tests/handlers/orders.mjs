// SPDX-License-Identifier: Apache-2.0
// Test handler for the real aws-lambda-ric + OTel Lambda instrumentation. It records the event it
// received (HANDLER_EVENTS_OUT, one JSON line per invocation) so tests can check what tracebridge
// delivered, and makes a child span "business_logic" under the instrumentation's handler span.
// Mode: event.mode, else the JSON body of the first SQS/SNS record's "mode", else HANDLER_MODE:
//   ok | error (throws; event.errorBytes: message length) | timeout (sleeps past any timeout) |
//   crash (process.exit(3); mid-stream for `stream`) | sleep (event.sleepMs, then ok) |
//   oom (allocates until the emulator's --enforce-memory kills the runtime)
// SQS records whose JSON body has "fail": true are answered as batchItemFailures; a durable
// execution answers {Status: FAILED} when its input says "fail", else SUCCEEDED.
// `handler` answers buffered; `stream` streams its answer (awslambda.streamifyResponse).
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../node/package.json', import.meta.url));
const { trace, context: otelContext } = require('@opentelemetry/api');
const tracer = trace.getTracer('orders-handler');

function modeOf(event) {
    if (event && typeof event === 'object') {
        if (typeof event.mode === 'string') return event.mode;
        const r = Array.isArray(event.Records) ? event.Records[0] : null;
        const body = r?.body ?? r?.Sns?.Message;
        if (typeof body === 'string') {
            try {
                const j = JSON.parse(body);
                if (typeof j.mode === 'string') return j.mode;
                if (typeof j.Message === 'string') return JSON.parse(j.Message).mode ?? null;
            } catch { /* not JSON */ }
        }
        if (event.detail && typeof event.detail.mode === 'string') return event.detail.mode;
    }
    return process.env.HANDLER_MODE || 'ok';
}

function record(event, context, extra = {}) {
    const file = process.env.HANDLER_EVENTS_OUT;
    if (!file) return;
    const span = trace.getSpan(otelContext.active());
    const sc = span?.spanContext();
    fs.appendFileSync(file, JSON.stringify({
        requestId: context.awsRequestId,
        event,
        clientContext: context.clientContext ?? null,
        xrayEnv: process.env._X_AMZN_TRACE_ID ?? null,
        runtimeApi: process.env.AWS_LAMBDA_RUNTIME_API,
        at: Date.now(),
        activeSpan: sc ? { traceId: sc.traceId, spanId: sc.spanId } : null,
        ...extra,
    }) + '\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs fn(span) in the child span "business_logic"; an error thrown is recorded on that span
// (exception event, status ERROR) and thrown on.
function inBusinessSpan(fn) {
    return tracer.startActiveSpan('business_logic', async (span) => {
        try {
            return await fn(span);
        } catch (err) {
            span.recordException(err);
            span.setStatus({ code: 2, message: err.message });
            throw err;
        } finally {
            span.end();
        }
    });
}

function businessLogic(event, mode) {
    return inBusinessSpan(async (span) => {
        span.setAttribute('orders.count', Array.isArray(event?.Records) ? event.Records.length : 1);
        await sleep(Number(process.env.HANDLER_WORK_MS ?? 15));
        // errorBytes: a long message, so the runtime's X-Ray error-cause header gets that big.
        if (mode === 'error') throw new Error(event?.errorBytes ? 'E'.repeat(Number(event.errorBytes)) : 'order validation failed');
        if (mode === 'timeout') await sleep(10 * 60 * 1000);
        if (mode === 'crash') process.exit(3);
        if (mode === 'sleep') await sleep(Number(event?.sleepMs ?? 100));
        if (mode === 'oom') {
            const hog = [];
            for (;;) {
                hog.push(Buffer.alloc(16 * 1024 * 1024, 1));
                await sleep(5);
            }
        }
        const out = { processed: Array.isArray(event?.Records) ? event.Records.length : 1 };
        // Partial batch failure (ReportBatchItemFailures): SQS records whose body says "fail".
        const failed = (Array.isArray(event?.Records) ? event.Records : []).filter((r) => {
            try { return r.eventSource === 'aws:sqs' && JSON.parse(r.body).fail === true; } catch { return false; }
        });
        if (failed.length) out.batchItemFailures = failed.map((r) => ({ itemIdentifier: r.messageId }));
        if (event?.respBytes) out.pad = 'r'.repeat(Number(event.respBytes));
        if (event?.echo) out.echo = event.echo;
        return out;
    });
}

export const handler = async (event, context) => {
    const mode = modeOf(event);
    record(event, context, { mode });
    const result = await businessLogic(event, mode);
    if (event && typeof event.DurableExecutionArn === 'string') {
        // A durable execution answers with its status (what the durable SDK returns).
        const input = JSON.parse(event.InitialExecutionState?.Operations?.[0]?.ExecutionDetails?.InputPayload ?? '{}');
        if (input.fail) return { Status: 'FAILED', Error: { ErrorType: 'OrderRejected', ErrorMessage: 'order rejected' } };
        return { Status: 'SUCCEEDED', Result: JSON.stringify(result) };
    }
    if (event && event.requestContext && (event.httpMethod || event.version === '2.0')) {
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
    }
    return { ok: true, ...result };
};

// Streams a deterministic body in several chunks; mode "error" fails mid-stream.
export const stream = awslambda.streamifyResponse(async (event, responseStream, context) => {
    const mode = modeOf(event);
    record(event, context, { mode, streaming: true });
    responseStream.setContentType('text/plain');
    const chunks = Number(event?.chunks ?? 5);
    const size = Number(event?.chunkSize ?? 1000);
    await inBusinessSpan(async () => {
        for (let i = 0; i < chunks; i++) {
            responseStream.write(String.fromCharCode(97 + (i % 26)).repeat(size - 1) + '\n');
            await sleep(Number(event?.gapMs ?? 20));
            if (mode === 'error' && i === 1) throw new Error('stream broke');
            if (mode === 'crash' && i === 1) process.exit(3);
        }
    });
    responseStream.end();
});
