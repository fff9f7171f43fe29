// SPDX-License-Identifier: Apache-2.0
// The Runtime API proxy (build/tools/proxyd, identity hooks) between the REAL Node runtime client
// and the emulator, put in place by the REAL wrapper through the ready file: every invocation kind
// gives byte-identical results and the emulator sees byte-identical requests, compared with a run
// without the proxy.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Tap, tmpDir, startEmulator, startReady, stopChild, freePort, readJsonl, ricCommand, waitFor, BUILD, WRAPPER } from './lib/harness.mjs';

const t = new Tap();
const PROXYD = path.join(BUILD, 'tools/proxyd');
const PLAIN = ricCommand({ otel: false });
const sha = (b) => createHash('sha256').update(b).digest('hex');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

// Runs `invocations` against one emulator, directly or through proxyd + wrapper.
async function run(mode, handler, invocations) {
    const dir = tmpDir(`proxy-${mode}`);
    const events = path.join(dir, 'events.jsonl');
    const port = await freePort();
    const env = { HANDLER_EVENTS_OUT: events };
    let proxy = null;
    if (mode === 'proxy') {
        proxy = await startReady(PROXYD, ['--listen-port', '0', '--upstream', `127.0.0.1:${port}`], { log: path.join(dir, 'proxyd.log') });
        const ready = path.join(dir, 'tracebridge.ready');
        fs.writeFileSync(ready, `127.0.0.1:${proxy.ports[0]}\n`);
        Object.assign(env, { AWS_LAMBDA_EXEC_WRAPPER: WRAPPER, TRACEBRIDGE_READY_FILE: ready });
    }
    const emu = await startEmulator({ dir, port, handler, env, runtime: PLAIN, lazyInit: true, timeoutMs: 5000 });
    const responses = [];
    try {
        for (const inv of invocations) {
            const r = await emu.invoke(inv.payload, inv.headers || {});
            responses.push({ status: r.status, outcome: r.headers['x-emu-outcome'] ?? (r.trailers['lambda-runtime-function-error-type'] ? 'error' : 'success'), ctype: r.headers['content-type'], body: r.body, trailers: r.trailers, chunks: r.chunks, ms: r.ms });
        }
        // Each invocation ends when the runtime is back in /next: wait for that before comparing.
        const log = await waitFor(async () => {
            const l = await emu.log();
            const done = l.filter((x) => x.type === 'invoke-done' || x.type === 'init-error').length;
            return done >= invocations.length && l;
        }, 5000);
        const rapi = log.filter((x) => x.type === 'rapi').map((x) => {
            const h = [];
            for (let i = 0; i < x.headers.length; i += 2) {
                const k = x.headers[i].toLowerCase();
                h.push(`${k}: ${k === 'host' ? '<host>' : x.headers[i + 1].replace(UUID, '<id>')}`);
            }
            return { method: x.method, path: x.path.replace(UUID, '<id>'), headers: h, bodyLen: x.bodyLen ?? null, bodySha256: x.bodySha256 ?? null, trailers: x.trailers ?? null };
        });
        const out = { responses, rapi, handled: readJsonl(events), apiPort: emu.apiPort, proxyPort: proxy?.ports[0] };
        await emu.stop();
        if (proxy) {
            await stopChild(proxy.child);
            const plog = fs.readFileSync(path.join(dir, 'proxyd.log'), 'utf8');
            t.ok(proxy.child.exitCode === 0 && !/AddressSanitizer|runtime error:|LeakSanitizer/.test(plog), `proxyd (${handler}) exits 0 on SIGTERM with no sanitizer report`, { code: proxy.child.exitCode, signal: proxy.child.signalCode, log: plog.slice(-2000) });
        }
        return out;
    } finally {
        await emu.stop();
        if (proxy) await stopChild(proxy.child, 'SIGKILL');
    }
}

function compare(direct, proxied, what) {
    t.ok(proxied.handled.length > 0 && proxied.handled.every((h) => h.runtimeApi === `127.0.0.1:${proxied.proxyPort}`), `${what}: the runtime really talked to the proxy`);
    t.eq(proxied.responses.length, direct.responses.length, `${what}: same number of results`);
    direct.responses.forEach((d, i) => {
        const p = proxied.responses[i];
        const same = p && d.status === p.status && d.outcome === p.outcome && d.ctype === p.ctype && d.body.equals(p.body) && JSON.stringify(d.trailers) === JSON.stringify(p.trailers);
        t.ok(same, `${what} #${i + 1}: result byte-identical (${d.outcome}, ${d.body.length} bytes)`, p && { direct: { s: d.status, o: d.outcome, len: d.body.length, sha: sha(d.body), tr: d.trailers }, proxied: { s: p.status, o: p.outcome, len: p.body.length, sha: sha(p.body), tr: p.trailers } });
    });
    const dr = JSON.stringify(direct.rapi, null, 1);
    const pr = JSON.stringify(proxied.rapi, null, 1);
    if (!t.ok(dr === pr, `${what}: the Runtime API saw byte-identical requests (${direct.rapi.length} requests: methods, paths, headers, bodies, trailers)`)) {
        const a = dr.split('\n');
        const b = pr.split('\n');
        for (let i = 0; i < Math.max(a.length, b.length); i++) {
            if (a[i] !== b[i]) {
                t.diag(`first difference at line ${i}: direct ${a[i]} | proxied ${b[i]}`);
                break;
            }
        }
    }
    const dh = direct.handled.map((h) => JSON.stringify([h.event, h.clientContext, h.xrayEnv && h.xrayEnv.replace(/Root=[^;]+;Parent=[0-9a-f]+/, 'R')]));
    const ph = proxied.handled.map((h) => JSON.stringify([h.event, h.clientContext, h.xrayEnv && h.xrayEnv.replace(/Root=[^;]+;Parent=[0-9a-f]+/, 'R')]));
    t.ok(JSON.stringify(dh) === JSON.stringify(ph), `${what}: the handler received identical events, client context and trace header`);
}

async function main() {
    if (!fs.existsSync(PROXYD)) {
        t.ok(false, `${PROXYD} exists (make all)`);
        return;
    }
    const cc = Buffer.from(JSON.stringify({ custom: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, client: {}, env: {} })).toString('base64');
    const bigNumber = '{"mode":"ok","n":123456789012345678901234567890,"s":"\\u00e9\\ud83d\\ude00","pad":"' + 'p'.repeat(6 * 1024 * 1024 - 200) + '"}';
    const buffered = [
        { payload: { mode: 'ok', echo: 'hello' }, headers: { 'X-Amz-Client-Context': cc } },
        { payload: bigNumber }, // a 6 MB event (chunked from the emulator, like RAPID)
        { payload: { mode: 'ok', respBytes: 2 * 1024 * 1024 } }, // a 2 MiB response
        { payload: { mode: 'error' } },
        { payload: { mode: 'ok', echo: 'after error' } },
    ];
    compare(await run('direct', 'orders.handler', buffered), await run('proxy', 'orders.handler', buffered), 'buffered');

    const streaming = [
        { payload: { chunks: 8, chunkSize: 4096, gapMs: 40 } },
        { payload: { mode: 'error', chunks: 5, chunkSize: 100, gapMs: 5 } },
        { payload: { chunks: 3, chunkSize: 1 << 20, gapMs: 1 } },
    ];
    const ds = await run('direct', 'orders.stream', streaming);
    const ps = await run('proxy', 'orders.stream', streaming);
    compare(ds, ps, 'streaming');
    const first = ps.responses[0];
    t.ok(first.chunks.length >= 4 && first.chunks[0].t < first.ms - 150, `streaming through the proxy stays incremental (first byte ${first.chunks[0].t.toFixed(0)} ms of ${first.ms.toFixed(0)} ms)`);
    t.ok(ps.responses[1].trailers['lambda-runtime-function-error-type'] !== undefined, 'mid-stream error trailer crosses the proxy');

    const initErr = [{ payload: { mode: 'ok' } }];
    const di = await run('direct', 'missing.handler', initErr);
    const pi = await run('proxy', 'missing.handler', initErr);
    t.ok(di.responses[0].outcome === 'init-error' && /ImportModuleError|HandlerNotFound|Cannot find module/.test(di.responses[0].body.toString()), 'init error (missing handler module) reported directly', di.responses[0].body.toString());
    t.ok(pi.responses[0].outcome === 'init-error' && di.responses[0].body.equals(pi.responses[0].body), 'init error: identical through the proxy', pi.responses[0].body.toString());
    const initPosts = (x) => x.rapi.filter((r) => r.path.endsWith('/init/error'));
    t.ok(initPosts(pi).length === 1 && JSON.stringify(initPosts(di)) === JSON.stringify(initPosts(pi)), '/runtime/init/error request byte-identical through the proxy', initPosts(pi));
}

try {
    await main();
} catch (err) {
    t.ok(false, 'proxy suite ran to the end', String(err && err.stack || err));
}
process.exit(t.failed ? 1 : 0);
