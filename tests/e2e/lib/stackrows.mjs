// SPDX-License-Identifier: Apache-2.0
// Shared plumbing for the real-stack suites (tests/e2e/stacks_jvmgo.test.mjs and others): fire one trigger per
// row through the emulator with a producer that starts the trace, find the spans of that row
// (producer → tracebridge → the handler's invocation span → business_logic), classify where the
// handler's invocation span got its parent, check a row, and write the results file
// tests/out/stack-results/<stack>.jsonl (one JSON object per row).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO, sqsAttr, tbSpan, renderTree } from './harness.mjs';

export const TRIGGERS = ['direct', 'sqs-single', 'sqs-batch', 'sns', 'sns-sqs', 'eventbridge', 'apigw-v2'];
const SQS_TRIGGERS = new Set(['sqs-single', 'sqs-batch', 'sns-sqs']);
export const isSqsTrigger = (trigger) => SQS_TRIGGERS.has(trigger);

// An X-Ray header as Lambda sends it on /next (Sampled=1: Lambda's active tracing is on).
export function xrayHeader(sampled) {
    const epoch = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
    return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=${sampled ? 1 : 0}`;
}

export const xrayTraceId = (h) => {
    const m = /Root=1-([0-9a-f]{8})-([0-9a-f]{24})/.exec(h || '');
    return m ? m[1] + m[2] : null;
};

// Fires one trigger. traceId: the Lambda-Runtime-Trace-Id for that invocation (null: the
// emulator's own, Sampled=0). Returns {rid, outcome, prods: [producer results; the first is the
// parent the row expects]}.
export async function fire(emu, prod, trigger, traceId = null) {
    const tid = traceId ? { traceId } : {};
    const one = async (send, sendName) => {
        const p = await prod.run(send, { sendName });
        const inv = p.result.invocations?.[0];
        return { rid: inv?.requestId ?? p.result.requestId, outcome: inv?.outcome ?? p.result.outcome, prods: [p] };
    };
    switch (trigger) {
        case 'direct':
            return one(async (tp) => {
                const r = await emu.invoke({ order: 1, __traceparent__: tp }, traceId ? { 'X-Emu-Trace-Id': traceId } : {});
                return { requestId: r.headers['x-amzn-requestid'], outcome: r.headers['x-emu-outcome'], body: r.body.toString() };
            }, 'invoke_lambda');
        case 'sqs-single':
            return one((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":2}', messageAttributes: { traceparent: sqsAttr(tp) } }], ...tid }), 'send_to_sqs');
        case 'sqs-batch': {
            const q = [];
            const [a, b] = await Promise.all([0, 1].map((i) => prod.run(async (tp) => { q.push({ body: `{"order":${3 + i}}`, messageAttributes: { traceparent: sqsAttr(tp) } }); })));
            const sent = await emu.post('/sqs/send', { queue: 'orders', messages: q, ...tid });
            const first = q[0].messageAttributes.traceparent.StringValue.slice(3, 35);
            const prods = a.traceId === first ? [a, b] : [b, a];
            return { rid: sent.invocations[0].requestId, outcome: sent.invocations[0].outcome, prods, invocations: sent.invocations.length };
        }
        case 'sns':
            return one((tp) => emu.post('/sns/publish', { topic: 'orders-topic', message: '{"order":5}', messageAttributes: { traceparent: { Type: 'String', Value: tp } }, ...tid }), 'publish_to_sns');
        case 'sns-sqs':
            return one((tp) => emu.post('/sns-sqs/publish', { topic: 'orders-topic', queue: 'orders', message: '{"order":6}', messageAttributes: { traceparent: { Type: 'String', Value: tp } }, ...tid }), 'publish_to_sns');
        case 'eventbridge':
            return one((tp) => emu.post('/eventbridge/put', { source: 'com.example.orders', detailType: 'OrderPlaced', detail: { traceparent: tp, order: 7 }, ...tid }), 'put_events');
        case 'apigw-v2':
            return one((tp) => emu.post('/apigw/v2', { method: 'POST', path: '/orders', headers: { traceparent: tp, 'content-type': 'application/json' }, body: '{"order":8}', ...tid }), 'http_client');
        default:
            throw new Error(`unknown trigger ${trigger}`);
    }
}

// The spans of one row: tracebridge's span, the span that was active in the handler (from what
// the handler recorded), its chain of handler-side ancestors up to the invocation span, and
// business_logic.
export function describeRow(spans, rec, rid, prods) {
    const tb = tbSpan(spans, rid) ?? null;
    const byId = new Map(spans.map((s) => [s.traceId + '/' + s.spanId, s]));
    const a = rec?.activeSpan;
    const active = a ? byId.get(a.traceId + '/' + a.spanId) ?? null : null;
    const business = active ? spans.find((s) => s.name === 'business_logic' && s.traceId === active.traceId && s.parentSpanId === active.spanId) ?? null : null;
    // Walk up from the active span while the parent is another span of the handler's service.
    const chain = [];
    for (let s = active; s; ) {
        chain.push(s);
        const parent = s.parentSpanId ? byId.get(s.traceId + '/' + s.parentSpanId) : null;
        if (!parent || parent === tb || parent.service !== s.service || parent.scope.name.startsWith('tracebridge')) break;
        s = parent;
    }
    const invocation = chain.at(-1) ?? null;
    return { spans, rec, tb, active, business, chain, invocation, prods };
}

// Where the handler's invocation span got its parent: tracebridge | producer | xray | root | none.
export function handlerParent(row, xray) {
    const inv = row.invocation;
    if (!inv) return 'none';
    if (!inv.parentSpanId) return 'root';
    if (row.tb && inv.traceId === row.tb.traceId && inv.parentSpanId === row.tb.spanId) return 'tracebridge';
    if (row.prods.some((p) => inv.traceId === p.traceId && inv.parentSpanId === p.sendSpanId)) return 'producer';
    if (xray && inv.traceId === xrayTraceId(xray)) return 'xray';
    return 'other';
}

// The checks every joined row makes (contract of issue 12). Returns true when the row joined.
export function checkJoinedRow(t, label, row) {
    const p = row.prods[0];
    const { tb, invocation: inv, business: bl, active } = row;
    const ok1 = t.ok(tb && tb.traceId === p.traceId && tb.parentSpanId === p.sendSpanId, `${label}: tracebridge span is the child of the producer span`, tb && { traceId: tb.traceId, parent: tb.parentSpanId, want: p.sendSpanId });
    const ok2 = t.ok(inv && tb && inv.traceId === tb.traceId && inv.parentSpanId === tb.spanId, `${label}: the handler's invocation span is the child of the tracebridge span`, inv ? { name: inv.name, scope: inv.scope.name, traceId: inv.traceId, parent: inv.parentSpanId, tb: tb?.spanId } : 'no handler invocation span');
    const ok3 = t.ok(bl && active && bl.parentSpanId === active.spanId && row.chain.includes(active), `${label}: business_logic is the child of the handler's span (${row.chain.map((s) => s.name).join(' ← ')})`);
    const trace = row.spans.filter((s) => s.traceId === p.traceId);
    const ids = new Set(trace.map((s) => s.spanId));
    const dangling = trace.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId));
    const unsampled = [tb, ...row.chain, bl].filter((s) => s && s.flags !== null && s.flags !== undefined && (s.flags & 1) === 0);
    t.ok(trace.length >= 5 && dangling.length === 0 && unsampled.length === 0, `${label}: all ${trace.length} spans of the trace arrived, sampled, none with a missing parent`, { dangling: dangling.map((s) => s.name), unsampled: unsampled.map((s) => s.name) });
    const raw = JSON.stringify(row.rec?.event ?? null);
    t.ok(row.rec && !raw.includes('__traceparent__'), `${label}: the handler saw no __traceparent__`, raw.slice(0, 300));
    if (!(ok1 && ok2 && ok3)) t.diag(renderTree(row.spans.filter((s) => row.prods.some((x) => x.traceId === s.traceId) || (row.invocation && s.traceId === row.invocation.traceId))));
    return !!(ok1 && ok2 && ok3);
}

// tests/out/stack-results/<stack>.jsonl, rewritten by each run of a suite.
export function resultsWriter() {
    const dir = path.join(REPO, 'tests/out/stack-results');
    fs.mkdirSync(dir, { recursive: true });
    const started = new Set();
    return (row) => {
        const file = path.join(dir, `${row.stack}.jsonl`);
        if (!started.has(row.stack)) {
            fs.writeFileSync(file, '');
            started.add(row.stack);
        }
        fs.appendFileSync(file, JSON.stringify(row) + '\n');
    };
}

