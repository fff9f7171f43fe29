// SPDX-License-Identifier: Apache-2.0
// The layer as Lambda uses it: the emulator launches extensions from the UNZIPPED layer's
// /opt/extensions and starts the real Node runtime client through the layer's
// /opt/tracebridge-wrapper. Run by tests/e2e/layer.sh with the unzipped folder:
//   node tests/e2e/layer_emulator.test.mjs OPT_DIR
// Checks the trace join through the static binary, a clean SHUTDOWN, and HTTPS export with the
// static TLS stack (curl + mbedTLS) to a server whose certificate a test CA signed: the CA given
// by OTEL_EXPORTER_OTLP_CERTIFICATE or $SSL_CERT_FILE is trusted; a server signed by another
// CA, one whose certificate names another host, and any of them with only the system CAs are
// refused (nothing exported, invocations unaffected).
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Tap, tmpDir, freePort, startSink, startEmulator, makeProducer, sqsAttr, waitFor, tbSpan, handlerSpan, readJsonl, renderTree } from './lib/harness.mjs';

const t = new Tap();
const opt = path.resolve(process.argv[2] || '');
const extDir = path.join(opt, 'extensions');
const wrapper = path.join(opt, 'tracebridge-wrapper');

async function stack(dir, extEnv) {
    const otlpPort = await freePort();
    const events = path.join(dir, 'events.jsonl');
    const env = {
        AWS_LAMBDA_EXEC_WRAPPER: wrapper,
        TRACEBRIDGE_READY_FILE: path.join(dir, 'tracebridge.ready'),
        TRACEBRIDGE_PROXY_PORT: String(await freePort()),
        TRACEBRIDGE_OTLP_LISTEN: `127.0.0.1:${otlpPort}`,
        TRACEBRIDGE_FLUSH: 'end',
        TRACEBRIDGE_LOG_LEVEL: 'debug',
        HANDLER_EVENTS_OUT: events,
    };
    const rtEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://localhost:${otlpPort}` };
    const emu = await startEmulator({ dir, extensions: extDir, timeoutMs: 3000, shutdownMs: 1500, env, extEnv, rtEnv });
    return { emu, handled: () => readJsonl(events) };
}

async function traceJoin() {
    const dir = tmpDir('layer-emu');
    const sink = await startSink(dir);
    const { emu, handled } = await stack(dir, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint });
    const prod = makeProducer(sink.endpoint);
    try {
        const p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":1}', messageAttributes: { traceparent: sqsAttr(tp) } }] }));
        const rid = p.result.invocations[0].requestId;
        const ev = handled().at(-1);
        t.ok(ev && ev.runtimeApi !== `127.0.0.1:${emu.apiPort}`, 'layer wrapper pointed the runtime at the static binary\'s proxy', ev?.runtimeApi);
        const spans = await waitFor(() => {
            const s = sink.spans();
            return tbSpan(s, rid) && handlerSpan(s, rid) && s;
        }, 5000);
        const tb = spans && tbSpan(spans, rid);
        const hs = spans && handlerSpan(spans, rid);
        const joined = tb && hs && tb.traceId === p.traceId && tb.parentSpanId === p.sendSpanId && hs.traceId === p.traceId && hs.parentSpanId === tb.spanId;
        if (!t.ok(joined, 'static binary from the layer: producer → tracebridge span → handler span, one trace')) t.diag(spans ? renderTree(spans) : 'no spans');
        t.ok(ev?.event?.headers?.traceparent === `00-${p.traceId}-${tb?.spanId}-01`, 'handler event carries headers.traceparent = the tracebridge span', ev?.event?.headers);
        const sum = await emu.shutdown();
        const x = sum?.extensions?.find((e) => e.name === 'tracebridge');
        t.ok(x && x.registered && x.code === 0 && !x.killed, 'extension exits 0 on SHUTDOWN, before the deadline', sum);
    } finally {
        await prod.shutdown().catch(() => {});
        await emu.stop();
        await sink.stop();
    }
}

// A test CA and server certificates made fresh by tests/e2e/lib/make_certs.sh.
function pki(dir) {
    execFileSync('bash', [path.join(path.dirname(new URL(import.meta.url).pathname), 'lib/make_certs.sh'), dir], { stdio: 'ignore' });
    const pair = (n) => ({ key: path.join(dir, `${n}.key`), cert: path.join(dir, `${n}.pem`) });
    return { ca: path.join(dir, 'ca.pem'), server: pair('server'), foreign: pair('foreign'), wrongname: pair('wrongname') };
}

function startTlsSink(files) {
    const posts = [];
    const srv = https.createServer({ key: fs.readFileSync(files.key), cert: fs.readFileSync(files.cert) }, (req, res) => {
        let n = 0;
        req.on('data', (c) => { n += c.length; });
        req.on('end', () => {
            posts.push({ path: req.url, bytes: n, type: req.headers['content-type'] });
            res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Length': 0 });
            res.end();
        });
    });
    return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ port: srv.address().port, posts, close: () => new Promise((r) => srv.close(r)) })));
}

async function httpsCase(label, files, extEnv, expectExport) {
    const dir = tmpDir('layer-tls');
    const tls = await startTlsSink(files);
    const { emu } = await stack(dir, { OTEL_EXPORTER_OTLP_ENDPOINT: `https://localhost:${tls.port}`, ...extEnv(dir) });
    try {
        const r = await emu.invoke({ order: 9, __traceparent__: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
        t.ok(r.status === 200, `${label}: the invocation succeeds`, { status: r.status });
        await emu.shutdown(); // SHUTDOWN flushes whatever is buffered
        const got = await waitFor(() => tls.posts.some((p) => p.path === '/v1/traces'), expectExport ? 4000 : 1500);
        if (expectExport) t.ok(got, `${label}: spans exported over HTTPS (verified)`, tls.posts);
        else t.ok(!got, `${label}: nothing sent to an unverifiable server`, tls.posts);
    } finally {
        await emu.stop();
        await tls.close();
    }
}

async function main() {
    if (!fs.existsSync(path.join(extDir, 'tracebridge')) || !fs.existsSync(wrapper)) {
        t.skip('layer in the emulator', `no unzipped layer with a wrapper at ${opt}`);
        return;
    }
    await traceJoin();
    const p = pki(tmpDir('layer-ca'));
    const withCa = () => ({ OTEL_EXPORTER_OTLP_CERTIFICATE: p.ca });
    await httpsCase('HTTPS, server signed by the CA in OTEL_EXPORTER_OTLP_CERTIFICATE', p.server, withCa, true);
    await httpsCase('HTTPS, server signed by the CA in SSL_CERT_FILE', p.server, () => ({ SSL_CERT_FILE: p.ca }), true);
    await httpsCase('HTTPS, server signed by another CA than OTEL_EXPORTER_OTLP_CERTIFICATE', p.foreign, withCa, false);
    await httpsCase('HTTPS, certificate from the right CA for another host name', p.wrongname, withCa, false);
    await httpsCase('HTTPS with the system CAs only', p.server, () => ({}), false);
}

main().catch((e) => {
    t.ok(false, `layer emulator test crashed: ${e.stack}`);
    process.exitCode = 1;
});
