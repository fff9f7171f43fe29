// SPDX-License-Identifier: Apache-2.0
// make demo: one order goes through a queue into a Lambda function, and the trace comes out whole.
// Starts the OTLP sink, the local Lambda emulator with build/tracebridge as the extension and the
// wrapper, the Node handler under the real aws-lambda-ric + OTel instrumentation, and a producer
// that starts a trace and enqueues with traceparent in MessageAttributes. Prints the joined trace
// as a waterfall and writes build/demo/trace.html. Exit status 0 only if the trace is joined.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tmpDir, startTracebridgeStack, makeProducer, sqsAttr, waitFor, tbSpan, handlerSpan, childrenOf, REPO, TRACEBRIDGE } from '../e2e/lib/harness.mjs';

const tty = process.stdout.isTTY;
const c = (code, s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);

function tree(spans) {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const kids = (s) => spans.filter((x) => x.parentSpanId === s.spanId).sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
    const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
    const rows = [];
    const walk = (s, depth) => {
        rows.push({ s, depth });
        for (const k of kids(s)) walk(k, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    return { rows, roots };
}

const origin = (s) => (s.scope.name.startsWith('tracebridge') ? 'tracebridge' : s.scope.name === '@opentelemetry/instrumentation-aws-lambda' ? 'OTel Lambda instr.' : s.scope.name);

function waterfall(rows) {
    const t0 = rows.reduce((m, r) => (BigInt(r.s.startTimeUnixNano) < m ? BigInt(r.s.startTimeUnixNano) : m), BigInt(rows[0].s.startTimeUnixNano));
    const t1 = rows.reduce((m, r) => (BigInt(r.s.endTimeUnixNano) > m ? BigInt(r.s.endTimeUnixNano) : m), 0n);
    const total = Number(t1 - t0) / 1e6 || 1;
    const W = 40;
    const lines = [];
    lines.push(`${'service'.padEnd(12)} ${'span'.padEnd(56)} ${'duration'.padStart(9)}  ${'0 ms'.padEnd(W / 2)}${(total.toFixed(0) + ' ms').padStart(W / 2)}`);
    for (const { s, depth } of rows) {
        const a = Math.floor(((Number(BigInt(s.startTimeUnixNano) - t0) / 1e6) / total) * W);
        const w = Math.max(1, Math.round((s.durationMs / total) * W));
        const bar = ' '.repeat(a) + '█'.repeat(Math.min(w, W - a));
        let name = `${'  '.repeat(depth)}${depth ? '└ ' : ''}${s.name} (${s.kind.toLowerCase()}, ${origin(s)})`;
        if (name.length > 56) name = name.slice(0, 55) + '…';
        const colour = s.scope.name.startsWith('tracebridge') ? 36 : s.service === 'orders-api' ? 33 : 32;
        lines.push(`${(s.service ?? '?').padEnd(12)} ${name.padEnd(56)} ${(s.durationMs.toFixed(1) + ' ms').padStart(9)}  ${c(colour, bar.padEnd(W))}`);
    }
    return { text: lines.join('\n'), total, t0 };
}

const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]);

function html(rows, total, t0, verdict, traceId) {
    const r = rows.map(({ s, depth }) => {
        const left = ((Number(BigInt(s.startTimeUnixNano) - t0) / 1e6) / total) * 100;
        const width = Math.max(0.4, (s.durationMs / total) * 100);
        const cls = s.scope.name.startsWith('tracebridge') ? 'tb' : s.service === 'orders-api' ? 'prod' : 'fn';
        const attrs = Object.entries(s.attributes).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n');
        return `<tr title="${esc(attrs)}"><td>${esc(s.service)}</td><td style="padding-left:${depth * 18 + 4}px">${esc(s.name)} <small>${esc(s.kind.toLowerCase())} · ${esc(origin(s))} · ${esc(s.spanId)}</small></td><td class="d">${s.durationMs.toFixed(1)} ms</td><td class="w"><div class="bar ${cls}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div></td></tr>`;
    }).join('\n');
    return `<!doctype html><meta charset="utf-8"><title>tracebridge demo trace ${traceId}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td{padding:4px;border-bottom:1px solid #eee;white-space:nowrap}
td.w{width:45%;position:relative}.bar{position:absolute;top:6px;height:14px;border-radius:3px}.tb{background:#0aa}.prod{background:#d90}.fn{background:#4a4}
td.d{text-align:right;font-variant-numeric:tabular-nums}small{color:#888}.ok{color:#080}.bad{color:#b00}</style>
<h1>tracebridge demo</h1><p>Trace <code>${traceId}</code> · ${total.toFixed(1)} ms · <b class="${verdict.ok ? 'ok' : 'bad'}">${esc(verdict.text)}</b></p>
<table><tr><th>service</th><th>span</th><th>duration</th><th>timeline</th></tr>
${r}</table><p><small>Hover a row for its attributes. Orange: producer (OTel SDK); teal: tracebridge; green: the handler (OTel Lambda instrumentation).</small></p>`;
}

async function main() {
    if (!fs.existsSync(TRACEBRIDGE)) {
        console.error(`demo: ${TRACEBRIDGE} is missing (make all)`);
        return 2;
    }
    const dir = tmpDir('demo');
    // 4318 is the SDKs' default: use it (the handler then needs no OTLP setting at all) if free.
    const otlpPort = await new Promise((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(undefined));
        s.listen(4318, '127.0.0.1', () => s.close(() => resolve(4318)));
    });
    console.log(`demo: starting the OTLP sink, the Lambda emulator with ${path.relative(REPO, TRACEBRIDGE)} + wrapper, the Node handler (aws-lambda-ric + OTel)…`);
    const st = await startTracebridgeStack({ dir, otlpPort, flush: 'end', env: { TRACEBRIDGE_LOG_LEVEL: 'info' } });
    const { emu, sink } = st;
    const prod = makeProducer(sink.endpoint, 'orders-api');
    let code = 1;
    try {
        const init = await emu.init(); // a warm function: the waterfall shows the hop, not the cold start
        if (!init.ok) throw new Error(`function init failed: ${JSON.stringify(init)}`);
        // One direct invoke first, so the handler's OTel exporter has loaded its encoders and
        // opened its connection to tracebridge's receiver (first-use costs of the SDK, not ours).
        await emu.invoke({ warmup: true });
        console.log('demo: producer: POST /publish → send_to_sqs (traceparent in MessageAttributes) → queue "orders" → function');
        const p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: JSON.stringify({ orderId: 'A-1001', items: 3 }), messageAttributes: { traceparent: sqsAttr(tp), tenant: sqsAttr('acme') } }], wait: false }));
        await prod.flush();
        // The queue delivers on its own (like the SQS event source mapping); find the invocation
        // by the tracebridge span that joined this trace, or by the emulator's log.
        // Wait for the invocation the queue made (not the warm-up) to finish.
        const sqsDone = (log) => {
            const r = log.filter((x) => x.type === 'invoke' && x.source === 'sqs').map((x) => x.requestId)[0];
            return r && log.some((x) => x.type === 'invoke-done' && x.requestId === r);
        };
        await waitFor(async () => sqsDone(await emu.log()), 8000);
        const rid = (await emu.log()).filter((x) => x.type === 'invoke' && x.source === 'sqs').map((x) => x.requestId)[0];
        const spans = await waitFor(() => {
            const s = sink.spans();
            const hs = handlerSpan(s, rid);
            return tbSpan(s, rid) && hs && childrenOf(s, hs).length && s.some((x) => x.spanId === p.sendSpanId) && s;
        }, 8000) || sink.spans();
        const related = spans.filter((s) => s.traceId === p.traceId || s.attributes['faas.invocation_id'] === rid);
        const tb = tbSpan(spans, rid);
        const hs = handlerSpan(spans, rid);
        const bl = hs && childrenOf(spans, hs).find((s) => s.name === 'business_logic');
        const traceIds = new Set(related.map((s) => s.traceId));
        const joined = !!(tb && hs && bl && traceIds.size === 1 && tb.parentSpanId === p.sendSpanId && hs.parentSpanId === tb.spanId && bl.parentSpanId === hs.spanId);
        const ordered = tree(related.filter((s) => s.traceId === p.traceId)).rows;
        const rows = ordered.length ? ordered : tree(related).rows;
        console.log('');
        const w = waterfall(rows);
        console.log(w.text);
        console.log('');
        const chain = [ordered.find((r) => r.s.spanId === p.publishSpanId), ordered.find((r) => r.s.spanId === p.sendSpanId), tb && { s: tb }, hs && { s: hs }, bl && { s: bl }].filter(Boolean).map((r) => r.s.name);
        const verdict = joined
            ? { ok: true, text: `JOINED: one trace (${p.traceId}), ${related.length} spans, parents chained: ${chain.join(' → ')}` }
            : { ok: false, text: `NOT JOINED: ${traceIds.size} trace id(s); ${!tb ? 'no tracebridge span; ' : ''}${!hs ? 'no handler span; ' : ''}${tb && tb.parentSpanId !== p.sendSpanId ? 'tracebridge span not under send_to_sqs; ' : ''}${tb && hs && hs.parentSpanId !== tb.spanId ? 'handler span not under the tracebridge span; ' : ''}` };
        console.log(verdict.ok ? c(32, verdict.text) : c(31, verdict.text));
        const outDir = path.join(REPO, 'build/demo');
        fs.mkdirSync(outDir, { recursive: true });
        fs.writeFileSync(path.join(outDir, 'trace.html'), html(rows, w.total, w.t0, verdict, p.traceId));
        fs.writeFileSync(path.join(outDir, 'spans.jsonl'), related.map((s) => JSON.stringify(s)).join('\n') + '\n');
        console.log(`demo: wrote ${path.relative(process.cwd(), path.join(outDir, 'trace.html'))} (open it in a browser); logs in ${dir}`);
        code = joined ? 0 : 1;
    } finally {
        await prod.shutdown();
        await emu.stop();
        await sink.stop();
    }
    return code;
}

const t0 = Date.now();
main().then((code) => {
    console.log(`demo: finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    process.exit(code);
}, (err) => {
    console.error(err);
    process.exit(1);
});
