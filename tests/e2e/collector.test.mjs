// SPDX-License-Identifier: Apache-2.0
// tracebridge exporting through the REAL OpenTelemetry Collector (core components, built from the
// pinned collector modules by tests/stacks/otelcol/install.sh): tracebridge → Collector OTLP/HTTP
// receiver → otlphttp exporter → the test sink. The Collector decodes every request into pdata
// (strictly: a message it rejects gets a 4xx, tracebridge drops and logs it, and the spans never
// reach the sink) and re-encodes it, so what arrives proves tracebridge's OTLP is what the
// Collector understands: ids, parents, kinds, attributes, links, events and status intact.
// Once with OTLP/HTTP protobuf (the default) and once with http/json.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Tap, withStack, startSink, makeProducer, sqsAttr, json, tbSpan, handlerSpan, childrenOf, renderTree, freePort, sleep, waitFor, tmpDir, REPO, TRACEBRIDGE } from './lib/harness.mjs';

const t = new Tap();
const COLLECTOR = path.join(REPO, 'build/stacks/otelcol/tb-otelcol');
// The otlphttp exporter's User-Agent: the BuildInfo of tests/stacks/otelcol/main.go.
const COLLECTOR_UA = /^tracebridge test collector \(core components\)\/0\.165\.0 /;

function portOpen(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
    });
}

// The Collector with an OTLP/HTTP receiver on 127.0.0.1 and an otlphttp exporter to the sink,
// without queue or retries, so the receiver answers only once the sink took the data.
async function startCollector(dir, sinkEndpoint) {
    const port = await freePort();
    const cfg = path.join(dir, 'collector.yaml');
    fs.writeFileSync(cfg, `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port}
exporters:
  otlphttp:
    endpoint: ${sinkEndpoint}
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp, debug]
`);
    const log = path.join(dir, 'collector.log');
    const out = fs.openSync(log, 'a');
    const child = spawn(COLLECTOR, ['--config', `file:${cfg}`], { stdio: ['ignore', out, out] });
    const t0 = Date.now();
    while (!(await portOpen(port))) {
        if (child.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`collector did not start: ${fs.readFileSync(log, 'utf8').slice(-2000)}`);
        await sleep(50);
    }
    return {
        endpoint: `http://127.0.0.1:${port}`, log: () => fs.readFileSync(log, 'utf8'), startMs: Date.now() - t0,
        stop: () => new Promise((resolve) => { if (child.exitCode !== null) return resolve(); child.once('exit', resolve); child.kill('SIGTERM'); }),
    };
}

async function group(protocol) {
    const label = `via the Collector (${protocol})`;
    const dir = tmpDir('collector');
    const sink = await startSink(dir);
    const col = await startCollector(dir, sink.endpoint);
    t.diag(`collector ready in ${col.startMs} ms`);
    const extEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: col.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: protocol };
    try {
        await withStack(t, label, { tmp: 'collector-stack', sink, extEnv, env: { TRACEBRIDGE_FLUSH: 'invoke', TRACEBRIDGE_LOG_LEVEL: 'info' } }, async ({ emu }) => {
            const prod = makeProducer(sink.endpoint);
            try {
                const q = [];
                const [a, b] = await Promise.all([1, 2].map((i) => prod.run(async (tp) => { q.push({ body: `{"order":${i}}`, messageAttributes: { traceparent: sqsAttr(tp) } }); })));
                const sent = await emu.post('/sqs/send', { queue: 'orders', messages: q });
                const first = q[0].messageAttributes.traceparent.StringValue.slice(3, 35);
                const batch = { rid: sent.invocations[0].requestId, prods: a.traceId === first ? [a, b] : [b, a], messageIds: sent.messageIds };
                const err = await prod.run((tp) => emu.invoke({ mode: 'error', __traceparent__: tp }).then((r) => ({ requestId: r.headers['x-amzn-requestid'], body: json(r) })), { sendName: 'invoke_lambda' });
                return { batch, err };
            } finally {
                await prod.shutdown();
            }
        }, async ({ batch, err }, st, stackDir) => {
            // Everything has left tracebridge at SHUTDOWN; the Collector passes it on.
            const spans = await waitFor(() => {
                const all = sink.spans();
                return tbSpan(all, err.result.requestId) && handlerSpan(all, err.result.requestId) && tbSpan(all, batch.rid) && all.filter((x) => x.service === 'orders-fn').length >= 9 && all;
            }, 5000) || sink.spans();
            const fnSpans = spans.filter((s) => s.service === 'orders-fn');
            // 7 spans of the two invocations, the cold start's init span (Telemetry API) and the
            // SQS batch's inferred queue wait span
            t.ok(fnSpans.length === 9 && fnSpans.filter((s) => s.name === 'aws.lambda.init').length === 1 && fnSpans.filter((s) => s.name === 'wait orders').length === 1 && fnSpans.every((s) => COLLECTOR_UA.test(s.userAgent)),
                `${label}: every function span reached the sink through the Collector`, fnSpans.map((s) => `${s.name} (${s.scope.name}): ${s.userAgent}`));
            const [p1, p2] = batch.prods;
            const tb = tbSpan(spans, batch.rid);
            const hs = handlerSpan(spans, batch.rid);
            const bl = hs && childrenOf(spans, hs).find((s) => s.name === 'business_logic');
            const chain = tb && hs && bl && tb.traceId === p1.traceId && tb.parentSpanId === p1.sendSpanId && hs.parentSpanId === tb.spanId && bl.parentSpanId === hs.spanId;
            if (!t.ok(chain, `${label}: SQS batch: producer → tracebridge → handler → business_logic, ids and parents intact`)) t.diag(renderTree(spans));
            if (tb) {
                const links = new Set(tb.links.map((l) => `${l.traceId}/${l.spanId}`));
                t.ok(tb.name === 'process orders' && tb.kind === 'CONSUMER' && tb.attributes['messaging.system'] === 'aws_sqs' && tb.attributes['messaging.batch.message_count'] === 2 &&
                    tb.attributes['faas.invocation_id'] === batch.rid && tb.attributes['faas.coldstart'] === true,
                `${label}: tracebridge span kind, name and attributes intact (string, int, bool)`, { name: tb.name, kind: tb.kind, attrs: tb.attributes });
                const recordLinks = tb.links.filter((l) => 'messaging.message.id' in l.attributes);
                t.ok(links.has(`${p1.traceId}/${p1.sendSpanId}`) && links.has(`${p2.traceId}/${p2.sendSpanId}`) && recordLinks.length === 2 && recordLinks.every((l) => batch.messageIds.includes(l.attributes['messaging.message.id'])),
                    `${label}: links to both records, with their attributes`, tb.links);
                t.ok(tb.resource['service.name'] === 'orders-fn' && tb.resource['cloud.provider'] === 'aws' && tb.scope.name.startsWith('tracebridge'), `${label}: resource and scope intact`, { resource: tb.resource, scope: tb.scope });
                t.ok(BigInt(tb.endTimeUnixNano) > BigInt(tb.startTimeUnixNano) && BigInt(tb.startTimeUnixNano) > 1700000000000000000n, `${label}: timestamps intact`);
            }
            const te = tbSpan(spans, err.result.requestId);
            const exc = te && te.events.find((e) => e.name === 'exception');
            t.ok(te && te.traceId === err.traceId && te.parentSpanId === err.sendSpanId && te.status.code === 'ERROR' && exc && /order validation failed/.test(JSON.stringify(exc.attributes)),
                `${label}: error invocation: status ERROR and the exception event intact`, te && { status: te.status, events: te.events });
            const tbLog = fs.readFileSync(path.join(stackDir, 'processes.log'), 'utf8').split('\n').filter((l) => l.startsWith('[ext:tracebridge]'));
            const bad = tbLog.filter((l) => /exporter/.test(l) && /rejected|cannot export|dropped|retry/i.test(l));
            t.ok(bad.length === 0, `${label}: tracebridge's exporter logged no rejection, retry or drop`, bad);
        });
    } finally {
        await col.stop();
        await sink.stop();
    }
    const clog = col.log();
    t.ok(!/"error"|\berror\b.*(reject|invalid|unmarshal)/i.test(clog.split('\n').filter((l) => !/level.*info/i.test(l)).join('\n')), `${label}: the Collector logged no error`, clog.slice(-1500));
}

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
if (fs.existsSync(path.join(REPO, 'build/stacks/otelcol/unavailable'))) {
    t.skip('tracebridge through the OpenTelemetry Collector', fs.readFileSync(path.join(REPO, 'build/stacks/otelcol/unavailable'), 'utf8').trim());
} else if (t.ok(fs.existsSync(COLLECTOR), 'the test Collector is built (tests/stacks/otelcol/install.sh)')) {
    for (const protocol of ['http/protobuf', 'http/json']) {
        try {
            await group(protocol);
        } catch (e) {
            t.ok(false, `collector group ${protocol} ran to the end`, String(e && e.stack || e));
        }
    }
}
process.exit(t.failed ? 1 : 0);
