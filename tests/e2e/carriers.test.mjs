// SPDX-License-Identifier: Apache-2.0
// Each carrier of DESIGN.md beyond SQS/SNS/EventBridge, fed by the emulator in the shape its
// event source delivers, through the REAL tracebridge extension, the wrapper and the real Node
// runtime client + OTel Lambda instrumentation: the producer's trace must join, producer →
// tracebridge → handler → business_logic, with nothing in the handler but the defaults.
import { createHash } from 'node:crypto';
import { Tap, withStack, sqsAttr, tbSpan, handlerSpan, waitChain, checkJoin, withProducer, runGroups } from './lib/harness.mjs';

const t = new Tap();
const check = (spans, prod, rid, label, want) => checkJoin(t, spans, prod, rid, label, want);
const ridOf = (p) => p.result.invocations[0].requestId;

// An EventBridge event as a rule would put it into a queue or topic.
const ebEvent = (detail) => ({ version: '0', id: 'b8e3a5d0-6f4b-4c1e-9b7a-0c2f1d3e4a5b', 'detail-type': 'OrderPlaced', source: 'com.example.orders', account: '123456789012', time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), region: 'us-east-1', resources: [], detail });

// The Datadog headers a dd-trace producer writes for a W3C traceparent's ids.
function datadogHeaders(traceparent) {
    const [, traceId, spanId, flags] = traceparent.split('-');
    return {
        'x-datadog-trace-id': BigInt(`0x${traceId.slice(16)}`).toString(),
        'x-datadog-parent-id': BigInt(`0x${spanId}`).toString(),
        'x-datadog-sampling-priority': flags === '01' ? '1' : '0',
        'x-datadog-tags': `_dd.p.dm=-0,_dd.p.tid=${traceId.slice(0, 16)}`,
    };
}

async function groupQueues() {
    await withStack(t, 'queues', { tmp: 'carriers-q', timeoutMs: 1500, shutdownMs: 1500 }, withProducer(async ({ emu, sink }, prod) => {
        // EventBridge rule → SQS: the event is the SQS body (read-only).
        let p = await prod.run((tp) => emu.post('/eventbridge-sqs/put', { queue: 'orders', detail: { traceparent: tp, order: 1 } }), { sendName: 'put_events' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'EventBridge → SQS', { name: 'process orders', kind: 'CONSUMER' });
        // EventBridge → SNS → SQS (raw delivery off): SNS envelope in the body, the event in it.
        p = await prod.run((tp) => emu.post('/sns-sqs/publish', { topic: 'orders-topic', queue: 'orders', message: JSON.stringify(ebEvent({ __traceparent__: tp, order: 2 })) }), { sendName: 'put_events' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'EventBridge → SNS → SQS', { name: 'process orders' });
        // A Datadog-instrumented producer: the _datadog message attribute (String, JSON).
        p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":3}', messageAttributes: { _datadog: sqsAttr(JSON.stringify(datadogHeaders(tp))) } }] }));
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'Datadog producer → SQS (_datadog String attribute)', { name: 'process orders' });
        // The same as a Binary attribute (base64 JSON), as dd-trace writes it through SNS.
        p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":4}', messageAttributes: { _datadog: { DataType: 'Binary', BinaryValue: Buffer.from(JSON.stringify(datadogHeaders(tp))).toString('base64') } } }] }));
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'Datadog producer → SQS (_datadog Binary attribute)', { name: 'process orders' });
        // EventBridge with detail._datadog.
        p = await prod.run((tp) => emu.post('/eventbridge/put', { detail: { _datadog: datadogHeaders(tp), order: 5 } }), { sendName: 'put_events' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'Datadog producer → EventBridge (detail._datadog)');
    }));
}

async function groupKafka() {
    await withStack(t, 'kafka', { tmp: 'carriers-k', timeoutMs: 1500, shutdownMs: 1500 }, withProducer(async ({ emu, sink }, prod) => {
        let p = await prod.run((tp) => emu.post('/kafka/produce', { topic: 'orders', partition: 3, messages: [{ value: { order: 1 }, headers: { traceparent: tp, 'content-type': 'application/json' } }] }), { sendName: 'produce' });
        let c = check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'Amazon MSK (aws:kafka, header bytes)', { name: 'process orders', kind: 'CONSUMER' });
        if (c.tb) t.ok(c.tb.attributes['messaging.system'] === 'kafka' && c.tb.attributes['faas.trigger'] === 'pubsub', 'MSK: messaging.system=kafka', c.tb.attributes);
        const wait = sink.spans().find((x) => x.name === 'wait orders' && x.traceId === p.traceId);
        t.ok(wait && wait.parentSpanId === p.sendSpanId && wait.attributes['messaging.system'] === 'kafka' && wait.attributes['tracebridge.queue.wait_ms'] >= 0,
            'MSK: the time since the record\'s timestamp is an inferred "wait orders" span under the producer', wait && { parent: wait.parentSpanId, attrs: wait.attributes });
        p = await prod.run((tp) => emu.post('/kafka/produce', { selfManaged: true, signed: true, topic: 'orders', messages: [{ value: 'plain', headers: { traceparent: tp, tracestate: 'vendor=é' } }, { value: 'two' }] }), { sendName: 'produce' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'self-managed Kafka (signed header bytes, a record without headers)', { name: 'process orders' });
        p = await prod.run((tp) => emu.post('/kafka/produce', { topic: 'orders', messages: [{ value: '{}', headers: datadogHeaders(tp) }] }), { sendName: 'produce' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'MSK from a Datadog producer (x-datadog-* headers)', { name: 'process orders' });
    }));
}

async function groupStreams() {
    await withStack(t, 'streams', { tmp: 'carriers-s', timeoutMs: 1500, shutdownMs: 1500 }, withProducer(async ({ emu, sink }, prod) => {
        let p = await prod.run((tp) => emu.post('/kinesis/put', { records: [{ data: { traceparent: tp, order: 1 } }] }), { sendName: 'put_record' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'Kinesis (traceparent in the decoded data)');
        p = await prod.run((tp) => emu.post('/kinesis/put', { records: [{ data: { _otel: { traceparent: tp }, order: 2 } }] }), { sendName: 'put_record' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'Kinesis (_otel.traceparent)');
        p = await prod.run((tp) => emu.post('/dynamodb/write', { records: [{ newImage: { Id: { N: '101' }, traceparent: { S: tp } } }] }), { sendName: 'put_item' });
        check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'DynamoDB Streams (NewImage traceparent)');
    }));
}

// Step Functions: no SDK anywhere; the ids come from the execution (README "Step Functions").
async function groupStepFunctions() {
    await withStack(t, 'step functions', { tmp: 'carriers-sfn', timeoutMs: 1500, shutdownMs: 1500 }, async ({ emu, sink }) => {
        const arn = 'arn:aws:states:us-east-1:123456789012:execution:OrderFlow:exec-42';
        const sha = (s) => createHash('sha256').update(s).digest('hex');
        const tasks = [['ChargeCard', '2026-12-03T06:00:01.000Z', 0], ['ShipOrder', '2026-12-03T06:00:02.500Z', 1]];
        const seen = [];
        for (const [state, entered, retry] of tasks) {
            const r = await emu.post('/stepfunctions/task', { execution: 'exec-42', state, enteredTime: entered, retryCount: retry, input: { order: 7 } });
            const rid = r.invocations[0].requestId;
            const spans = await waitChain(sink, rid, null);
            const tb = spans && tbSpan(spans, rid);
            const hs = spans && handlerSpan(spans, rid);
            seen.push(tb);
            t.ok(tb && tb.traceId === sha(arn).slice(0, 32) && tb.parentSpanId === sha(`${arn}\n${state}\n${entered}\n${retry}`).slice(0, 16) && hs && hs.parentSpanId === tb.spanId && hs.traceId === tb.traceId,
                `Step Functions ${state}: trace id from the execution ARN, parent from the state entry, the handler under tracebridge`, tb && { trace: tb.traceId, parent: tb.parentSpanId });
        }
        t.ok(seen.every((s) => s && s.traceId === seen[0]?.traceId), 'Step Functions: every task of one execution is one trace');
    });
}

// Durable functions: the user's carrier inside the checkpointed InputPayload (read, never
// rewritten), and the execution's answer on the span.
async function groupDurable() {
    await withStack(t, 'durable', { tmp: 'carriers-d', timeoutMs: 1500, shutdownMs: 1500 }, withProducer(async ({ emu, sink, handled }, prod) => {
        let p = await prod.run((tp) => emu.post('/durable/invoke', { name: 'order-o-9', input: { order: 9, __traceparent__: tp }, returnEvent: true }), { sendName: 'start_execution' });
        let c = check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'durable function (InputPayload __traceparent__)');
        const seen = handled().at(-1)?.event;
        t.eq(seen?.InitialExecutionState?.Operations?.[0]?.ExecutionDetails?.InputPayload, p.result.event.InitialExecutionState.Operations[0].ExecutionDetails.InputPayload, 'durable: the checkpointed InputPayload reaches the handler byte for byte');
        if (c.tb) t.ok(c.tb.attributes['aws.lambda.durable_execution_arn'] === p.result.event.DurableExecutionArn && c.tb.attributes['aws.lambda.durable.first_invocation'] === true && c.tb.attributes['aws.lambda.durable.status'] === 'SUCCEEDED' && c.tb.status.code !== 'ERROR',
            'durable: execution ARN, first invocation, SUCCEEDED', c.tb.attributes);
        p = await prod.run((tp) => emu.post('/durable/invoke', { name: 'order-o-10', input: { order: 10, fail: true, __traceparent__: tp }, replay: 2, returnEvent: true }), { sendName: 'start_execution' });
        c = check(await waitChain(sink, ridOf(p), p), p, ridOf(p), 'durable function, a replay that fails');
        if (c.tb) t.ok(c.tb.attributes['aws.lambda.durable.first_invocation'] === false && c.tb.attributes['aws.lambda.durable.status'] === 'FAILED' && c.tb.status.code === 'ERROR' && c.tb.status.message === 'order rejected' && c.tb.attributes['error.type'] === 'OrderRejected',
            'durable: {"Status":"FAILED"} makes the span ERROR (message, error.type); not the first invocation', { attrs: c.tb.attributes, status: c.tb.status });
    }));
}

await runGroups(t, [groupQueues, groupKafka, groupStreams, groupStepFunctions, groupDurable]);
