// SPDX-License-Identifier: Apache-2.0
// Full trace join with the REAL tracebridge extension (${TB_BUILD}/tracebridge), the wrapper, the
// real Node runtime client + OTel Lambda instrumentation exporting to tracebridge's receiver, and
// a producer with the OTel SDK. Asserts on spans decoded by the sink with a real decoder:
//   POST /publish → send_to_sqs (producer) → tracebridge span → handler span → business_logic
import fs from 'node:fs';
import path from 'node:path';
import { Tap, withStack, makeProducer, sqsAttr, waitFor, json, tbSpan, handlerSpan, childrenOf, renderTree, TRACEBRIDGE, SLOW, runGroups, waitChain, checkJoin, withProducer } from './lib/harness.mjs';

const t = new Tap();

const checkChain = (spans, prod, rid, label, want) => checkJoin(t, spans, prod, rid, label, want);

async function groupMain() {
    await withStack(t, 'event sources', { tmp: 'trace', timeoutMs: 1500, shutdownMs: 1500 }, withProducer(eventSources));
}

async function eventSources({ emu, sink, handled }, prod) {
    const lastHandled = () => handled().at(-1);
    // SQS, one message, traceparent in MessageAttributes (SDK shape).
    let p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":1}', messageAttributes: { traceparent: sqsAttr(tp) } }] }));
    let rid = p.result.invocations[0].requestId;
    const ev1 = lastHandled();
    t.ok(ev1.runtimeApi !== `127.0.0.1:${emu.apiPort}`, 'the wrapper pointed the runtime at the tracebridge proxy', ev1.runtimeApi);
    let spans = await waitChain(sink, rid, p);
    let c = checkChain(spans, p, rid, 'SQS single message', { name: 'process orders', kind: 'CONSUMER' });
    if (c.tb) {
        t.ok(c.tb.attributes['faas.coldstart'] === true && c.tb.attributes['faas.invocation_id'] === rid, 'SQS: tracebridge span has faas.invocation_id and faas.coldstart=true on the first invocation', c.tb.attributes);
        t.ok(c.tb.attributes['messaging.system'] === 'aws_sqs' && c.tb.attributes['messaging.destination.name'] === 'orders' && c.tb.attributes['messaging.message.id'] === p.result.messageIds[0], 'SQS: messaging.* attributes', c.tb.attributes);
        t.ok(ev1.event.headers && ev1.event.headers.traceparent === `00-${p.traceId}-${c.tb.spanId}-01`, 'SQS: the handler event carries headers.traceparent = tracebridge span', ev1.event.headers);
        // Lambda sends Sampled=0 (X-Ray PassThrough): TRACEBRIDGE_XRAY_HEADER=auto rewrites it.
        t.eq(ev1.xrayEnv, `Root=1-${p.traceId.slice(0, 8)}-${p.traceId.slice(8)};Parent=${c.tb.spanId};Sampled=1`, 'SQS: Lambda-Runtime-Trace-Id (_X_AMZN_TRACE_ID) is the X-Ray form of the tracebridge span');
        // Time in the queue (TRACEBRIDGE_QUEUE_SPANS=on by default): SentTimestamp → invocation.
        const wait = spans.find((s) => s.name === 'wait orders' && s.traceId === p.traceId);
        const sentMs = Number(ev1.event.Records[0].attributes.SentTimestamp);
        t.ok(wait && wait.parentSpanId === p.sendSpanId && wait.attributes['tracebridge.inferred'] === true && !('faas.coldstart' in wait.attributes) &&
            BigInt(wait.startTimeUnixNano) === BigInt(sentMs) * 1000000n && BigInt(wait.endTimeUnixNano) <= BigInt(c.tb.startTimeUnixNano) &&
            wait.attributes['tracebridge.queue.wait_ms'] >= 5 && c.tb.attributes['tracebridge.queue.wait_ms'] === wait.attributes['tracebridge.queue.wait_ms'],
            'SQS: an inferred "wait orders" span from SentTimestamp to the invocation, under the producer beside the tracebridge span', wait && { parent: wait.parentSpanId, start: wait.startTimeUnixNano, end: wait.endTimeUnixNano, sentMs, tbStart: c.tb.startTimeUnixNano, attrs: wait.attributes });
        t.ok(c.tb.links?.length === 2 && c.tb.links[0].attributes['tracebridge.message.receive_count'] === 1 && !('tracebridge.message.redelivered' in c.tb.links[0].attributes) &&
            !('tracebridge.batch.redelivered_count' in c.tb.attributes), 'SQS: the record link says it is the first delivery; no redeliveries on the span', { links: c.tb.links, attrs: c.tb.attributes });
    }

    // SQS mixed batch: two traces in one batch → parent = first record, links to both.
    const q = [];
    const p1 = prod.run(async (tp) => { q.push({ body: '{"order":2}', messageAttributes: { traceparent: sqsAttr(tp) } }); });
    const p2 = prod.run(async (tp) => { q.push({ body: '{"order":3}', messageAttributes: { traceparent: sqsAttr(tp) } }); });
    const [r1, r2] = await Promise.all([p1, p2]);
    const sent = await emu.post('/sqs/send', { queue: 'orders', messages: q });
    rid = sent.invocations[0].requestId;
    t.ok(sent.invocations.length === 1, 'mixed batch: two messages, one invocation');
    spans = await waitChain(sink, rid, r1) && await waitChain(sink, rid, r2);
    const firstTrace = JSON.parse(JSON.stringify(q[0])).messageAttributes.traceparent.StringValue.slice(3, 35);
    const pFirst = [r1, r2].find((r) => r.traceId === firstTrace);
    c = checkChain(spans, pFirst, rid, 'SQS mixed batch (first record is the parent)');
    if (c.tb) {
        const linked = new Set(c.tb.links.map((l) => l.traceId + '/' + l.spanId));
        t.ok(linked.has(`${r1.traceId}/${r1.sendSpanId}`) && linked.has(`${r2.traceId}/${r2.sendSpanId}`), 'mixed batch: links to every record\'s context', c.tb.links);
        t.ok(c.tb.attributes['messaging.batch.message_count'] === 2, 'mixed batch: messaging.batch.message_count = 2', c.tb.attributes);
        t.ok(c.tb.attributes['faas.coldstart'] === false, 'second invocation: faas.coldstart=false');
    }

    // Partial batch failure and redrive: the handler names one of three messages in
    // batchItemFailures; the queue redelivers it once (maxReceiveCount 2), and it fails again.
    p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [8, 9, 10].map((o) => ({ body: JSON.stringify({ order: o, fail: o === 9 }), messageAttributes: { traceparent: sqsAttr(tp) }, maxReceiveCount: 2, visibilityMs: 30 })) }));
    const failedId = p.result.messageIds[1];
    t.ok(p.result.invocations.length === 2, 'partial failure: the failed message came back once (two invocations)', p.result.invocations);
    if (p.result.invocations.length === 2) {
        const [first, again] = p.result.invocations.map((i) => i.requestId);
        spans = await waitChain(sink, first, p);
        c = checkChain(spans, p, first, 'partial failure, first delivery');
        const link = (tb, id) => tb?.links?.find((l) => l.attributes['messaging.message.id'] === id);
        if (c.tb) {
            t.ok(c.tb.status.code === 'ERROR' && c.tb.status.message === '1 of 3 records failed (batchItemFailures)' && c.tb.attributes['tracebridge.batch.failed_count'] === 1,
                'partial failure: the span says 1 of 3 records failed', { status: c.tb.status, attrs: c.tb.attributes });
            t.ok(link(c.tb, failedId)?.attributes['tracebridge.message.failed'] === true && p.result.messageIds.filter((id) => id !== failedId).every((id) => link(c.tb, id) && !('tracebridge.message.failed' in link(c.tb, id).attributes)),
                'partial failure: only the failed record\'s link is marked', c.tb.links);
        }
        spans = await waitChain(sink, again, p);
        c = checkChain(spans, p, again, 'partial failure, redelivery');
        if (c.tb) {
            const l = link(c.tb, failedId);
            t.ok(l && l.attributes['tracebridge.message.receive_count'] === 2 && l.attributes['tracebridge.message.redelivered'] === true && l.attributes['tracebridge.message.failed'] === true,
                'redelivery: the record\'s link says receive count 2, redelivered, failed again', c.tb.links);
            t.ok(c.tb.attributes['tracebridge.batch.redelivered_count'] === 1 && c.tb.attributes['tracebridge.batch.max_receive_count'] === 2 && c.tb.status.message === '1 of 1 records failed (batchItemFailures)',
                'redelivery: counted on the span', { attrs: c.tb.attributes, status: c.tb.status });
        }
    }

    // SNS.
    p = await prod.run((tp) => emu.post('/sns/publish', { topic: 'orders-topic', message: '{"order":4}', messageAttributes: { traceparent: { Type: 'String', Value: tp } } }), { sendName: 'publish_to_sns' });
    rid = p.result.invocations[0].requestId;
    checkChain(await waitChain(sink, rid, p), p, rid, 'SNS');

    // SNS → SQS (raw delivery off: the SNS envelope is the SQS body).
    p = await prod.run((tp) => emu.post('/sns-sqs/publish', { topic: 'orders-topic', queue: 'orders', message: '{"order":5}', messageAttributes: { traceparent: { Type: 'String', Value: tp } } }), { sendName: 'publish_to_sns' });
    rid = p.result.invocations[0].requestId;
    checkChain(await waitChain(sink, rid, p), p, rid, 'SNS → SQS', { name: 'process orders' });

    // EventBridge: detail.traceparent.
    p = await prod.run((tp) => emu.post('/eventbridge/put', { source: 'com.example.orders', detailType: 'OrderPlaced', detail: { traceparent: tp, order: 6 } }), { sendName: 'put_events' });
    rid = p.result.invocations[0].requestId;
    checkChain(await waitChain(sink, rid, p), p, rid, 'EventBridge');

    // Direct invoke with __traceparent__: the key is gone from the handler's event.
    p = await prod.run(async (tp) => {
        const r = await emu.invoke({ order: 7, __traceparent__: tp });
        return { status: r.status, requestId: r.headers['x-amzn-requestid'], body: json(r) };
    }, { sendName: 'invoke_lambda' });
    rid = p.result.requestId;
    const ev7 = lastHandled().event;
    t.ok(!('__traceparent__' in ev7) && ev7.order === 7 && typeof ev7.headers?.traceparent === 'string', 'direct invoke: __traceparent__ stripped, headers.traceparent added', ev7);
    checkChain(await waitChain(sink, rid, p), p, rid, 'direct invoke with __traceparent__');

    // Direct invoke with a plain top-level traceparent: read, and kept in the event.
    p = await prod.run(async (tp) => {
        const r = await emu.invoke({ order: 72, traceparent: tp });
        return { requestId: r.headers['x-amzn-requestid'], tp };
    }, { sendName: 'invoke_lambda' });
    rid = p.result.requestId;
    const ev72 = lastHandled().event;
    t.ok(ev72.traceparent === p.result.tp && typeof ev72.headers?.traceparent === 'string', 'direct invoke, plain traceparent: kept, headers.traceparent added', ev72);
    checkChain(await waitChain(sink, rid, p), p, rid, 'direct invoke with a plain top-level traceparent');

    // Lambda's own X-Ray tracing active for the invocation (Sampled=1): its header is kept, so
    // its segments stay under its root; the W3C targets still join the trace.
    const active = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:8a3f2b1c:0';
    p = await prod.run(async (tp) => {
        const r = await emu.invoke({ order: 71, __traceparent__: tp }, { 'X-Emu-Trace-Id': active });
        return { status: r.status, requestId: r.headers['x-amzn-requestid'] };
    }, { sendName: 'invoke_lambda' });
    rid = p.result.requestId;
    t.eq(lastHandled().xrayEnv, active, 'active X-Ray tracing (Sampled=1): Lambda-Runtime-Trace-Id kept as Lambda sent it');
    checkChain(await waitChain(sink, rid, p), p, rid, 'direct invoke with active X-Ray tracing');

    // API Gateway v1 and v2: headers.traceparent (kept trace id, parent-id = tracebridge span).
    for (const v of ['v1', 'v2']) {
        p = await prod.run((tp) => emu.post(`/apigw/${v}`, { method: 'POST', path: '/orders', headers: { traceparent: tp, 'content-type': 'application/json' }, body: '{"order":8}' }), { sendName: 'http_client' });
        rid = p.result.invocations[0].requestId;
        c = checkChain(await waitChain(sink, rid, p), p, rid, `API Gateway ${v}`);
        t.ok(p.result.invocations[0].payload.statusCode === 200, `API Gateway ${v}: proxy result intact`);
    }

    // Error: tracebridge span status ERROR with an exception event; the invoke result unchanged.
    p = await prod.run((tp) => emu.invoke({ mode: 'error', __traceparent__: tp }).then((r) => ({ requestId: r.headers['x-amzn-requestid'], err: r.headers['x-amz-function-error'], body: json(r) })), { sendName: 'invoke_lambda' });
    rid = p.result.requestId;
    t.ok(p.result.err === 'Unhandled' && p.result.body.errorMessage === 'order validation failed', 'error: the caller gets the handler error unchanged');
    c = checkChain(await waitChain(sink, rid, p), p, rid, 'error invocation');
    if (c.tb) {
        const exc = c.tb.events.find((e) => e.name === 'exception');
        t.ok(c.tb.status.code === 'ERROR' && exc && /order validation failed/.test(JSON.stringify(exc.attributes)), 'error: tracebridge span status ERROR with an exception event from the /error body', { status: c.tb.status, events: c.tb.events });
    }

    // Timeout: the environment resets (SHUTDOWN reason timeout); the span is ended as an error
    // and flushed during that SHUTDOWN; the next invocation is a cold start again.
    p = await prod.run((tp) => emu.invoke({ mode: 'timeout', __traceparent__: tp }).then((r) => ({ requestId: r.headers['x-amzn-requestid'], outcome: r.headers['x-emu-outcome'] })), { sendName: 'invoke_lambda' });
    rid = p.result.requestId;
    t.eq(p.result.outcome, 'timeout', 'timeout: the caller gets the timeout');
    const tbT = await waitFor(() => tbSpan(sink.spans(), rid), 4000 * SLOW);
    t.ok(tbT && tbT.status.code === 'ERROR' && tbT.traceId === p.traceId && tbT.parentSpanId === p.sendSpanId, 'timeout: tracebridge span exported at the reset SHUTDOWN, status ERROR, still joined to the producer', tbT && { status: tbT.status, attrs: tbT.attributes });
    const sd = await waitFor(async () => (await emu.log()).find((x) => x.type === 'shutdown-done' && x.reason === 'timeout'), 4000 * SLOW);
    t.ok(sd && sd.extensions[0].code === 0 && !sd.extensions[0].killed, 'timeout: tracebridge exited 0 within the SHUTDOWN deadline', sd);
    p = await prod.run((tp) => emu.invoke({ order: 9, __traceparent__: tp }).then((r) => ({ requestId: r.headers['x-amzn-requestid'] })), { sendName: 'invoke_lambda' });
    rid = p.result.requestId;
    c = checkChain(await waitChain(sink, rid, p), p, rid, 'after the timeout (new environment)');
    if (c.tb) t.ok(c.tb.attributes['faas.coldstart'] === true, 'after the reset: faas.coldstart=true again');

    // Everything the handler exported went through tracebridge, none straight to the sink.
    const fromHandler = sink.spans().filter((s) => s.service === 'orders-fn' && !s.scope.name.startsWith('tracebridge'));
    t.ok(fromHandler.length > 10 && fromHandler.every((s) => !/OTel-OTLP-Exporter-JavaScript/.test(s.userAgent)), `the handler's ${fromHandler.length} spans all reached the sink through tracebridge's receiver, none directly`, [...new Set(fromHandler.map((s) => s.userAgent))]);
}

// Streaming response and the default flush mode (invoke): the last invocation's spans leave at
// SHUTDOWN, within its deadline.
async function groupStreamingShutdown() {
    const opts = { tmp: 'trace-stream', handler: 'orders.stream', flush: 'invoke', shutdownMs: 2000 };
    await withStack(t, 'streaming', opts, withProducer(async ({ emu, sink }, prod) => {
        let want = '';
        for (let i = 0; i < 5; i++) want += String.fromCharCode(97 + i).repeat(999) + '\n';
        const p = await prod.run(async (tp) => {
            const r = await emu.invoke({ chunks: 5, chunkSize: 1000, gapMs: 30, __traceparent__: tp });
            return { body: r.body.toString(), chunks: r.chunks.length };
        }, { sendName: 'invoke_lambda' });
        t.ok(p.result.body === want && p.result.chunks >= 3, 'streaming through tracebridge: body byte-identical and incremental', { len: p.result.body.length, chunks: p.result.chunks });
        const log0 = await emu.log();
        const rid = log0.filter((x) => x.type === 'invoke').at(-1).requestId;
        await new Promise((r) => setTimeout(r, 300));
        t.ok(!tbSpan(sink.spans(), rid), 'flush=invoke: the last invocation\'s tracebridge span is not exported before SHUTDOWN');
        const t0 = Date.now();
        const sd = await emu.shutdown();
        const took = Date.now() - t0;
        const spans = await waitFor(() => sink.spans().some((s) => s.spanId === p.sendSpanId) && sink.spans(), 2000 * SLOW);
        const c = checkChain(spans, p, rid, 'streaming, exported at SHUTDOWN');
        t.ok(sd.extensions[0].code === 0 && !sd.extensions[0].killed && took < 2000 * SLOW, `SHUTDOWN: tracebridge flushed and exited 0 before the deadline (${took} ms)`, sd);
        if (c.tb) t.ok(BigInt(c.tb.endTimeUnixNano) >= BigInt(c.bl.endTimeUnixNano), 'streaming: tracebridge span ends after the stream ended (after business_logic)');
    }));
}

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
await runGroups(t, [groupMain, groupStreamingShutdown]);
