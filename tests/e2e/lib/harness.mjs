// SPDX-License-Identifier: Apache-2.0
// Shared plumbing for the end-to-end suites: TAP output, the emulator, the OTLP sink, the real
// Node runtime client with the real OTel instrumentation, the producer, and span-tree checks.
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD = path.resolve(REPO, process.env.TB_BUILD || 'build');
export const TRACEBRIDGE = path.join(BUILD, 'tracebridge');
export const WRAPPER = path.join(REPO, 'wrapper/tracebridge-wrapper');
const HANDLERS = path.join(REPO, 'tests/handlers');
const RIC = path.join(REPO, 'tests/node/node_modules/aws-lambda-ric/index.mjs');
export const requireNode = createRequire(path.join(REPO, 'tests/node/package.json'));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// TB_VALGRIND=1: the real extension runs under valgrind (memcheck), which makes it ~20-50x
// slower to start and to answer; SLOW scales the timeouts and deadlines that depend on it.
// TB_QUICK=1 (set by the valgrind suite too): suites run only their essential groups.
export const VALGRIND = process.env.TB_VALGRIND === '1';
export const QUICK = VALGRIND || process.env.TB_QUICK === '1';
export const SLOW = VALGRIND ? 6 : 1;

export class Tap {
    constructor() {
        this.n = 0;
        this.failed = 0;
        process.on('exit', () => {
            console.log(`1..${this.n}`);
            // Logs of a failed run are kept for diagnosis; a clean run leaves nothing behind.
            if (this.failed === 0 && !process.env.TB_E2E_KEEP) for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
        });
    }
    ok(cond, desc, diag) {
        this.n++;
        if (cond) console.log(`ok ${this.n} - ${desc}`);
        else {
            this.failed++;
            console.log(`not ok ${this.n} - ${desc}`);
            if (diag !== undefined) this.diag(diag);
        }
        return !!cond;
    }
    eq(got, want, desc) {
        return this.ok(got === want, desc, { got, want });
    }
    skip(desc, why) {
        this.n++;
        console.log(`ok ${this.n} - ${desc} # SKIP ${why}`);
    }
    diag(x) {
        const s = typeof x === 'string' ? x : JSON.stringify(x, null, 1);
        for (const l of s.split('\n').slice(0, 40)) console.log(`# ${l}`);
    }
}

const tmpDirs = [];
// Runs the groups of one suite in order (TB_E2E_ONLY: those whose name contains it), each
// timed; one that throws is a failure and the next still runs. Exits with the suite's status.
export async function runGroups(t, groups) {
    const only = process.env.TB_E2E_ONLY?.toLowerCase();
    for (const g of groups) {
        if (only && !g.name.toLowerCase().includes(only)) continue;
        const t0 = Date.now();
        try {
            await g();
        } catch (err) {
            t.ok(false, `${g.name} ran to the end`, String(err && err.stack || err));
        }
        t.diag(`${g.name}: ${Date.now() - t0} ms`);
    }
    process.exit(t.failed ? 1 : 0);
}

export function tmpDir(name) {
    const base = process.env.TB_E2E_TMP || os.tmpdir();
    const d = fs.mkdtempSync(path.join(base, `tb-${name}-`));
    tmpDirs.push(d);
    return d;
}

// A loopback port that was free a moment ago, for a server started later (tracebridge's proxy and
// receiver). Taken below the kernel's ephemeral range: a port from bind(0) is also what the next
// outgoing connection of any process may be given as its local port, and a keep-alive connection
// holding it makes the later listen fail (EADDRINUSE) for as long as it stays open. A port is
// handed out once per process.
const givenPorts = new Set();
const ephemeralLow = (() => {
    try { return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768; } catch { return 32768; }
})();
const tryListen = (port) => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(0));
    s.listen(port, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
    });
});
export async function freePort() {
    const lo = Math.max(1024, ephemeralLow - 12000), span = ephemeralLow - lo;
    for (let i = 0; span > 0 && i < 64; i++) {
        const p = lo + Math.floor(Math.random() * span);
        if (givenPorts.has(p)) continue;
        if (await tryListen(p)) {
            givenPorts.add(p);
            return p;
        }
    }
    return tryListen(0); // no room below the ephemeral range: the kernel's choice
}

const children = new Set();
process.on('exit', () => {
    for (const c of children) {
        try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    }
});

// Starts a helper process and resolves once it prints "READY <ports...>".
export function startReady(cmd, args, { env = process.env, log, timeoutMs = 15000 } = {}) {
    return new Promise((resolve, reject) => {
        const out = log ? fs.openSync(log, 'a') : 'ignore';
        const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', out] });
        children.add(child);
        child.on('exit', () => children.delete(child));
        let buf = '';
        const timer = setTimeout(() => reject(new Error(`${path.basename(args[0] || cmd)}: no READY within ${timeoutMs} ms`)), timeoutMs);
        child.stdout.on('data', (d) => {
            buf += d.toString();
            const m = /READY ([\d ]+)\n/.exec(buf);
            if (m) {
                clearTimeout(timer);
                resolve({ child, ports: m[1].trim().split(' ').map(Number) });
            }
        });
        child.on('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`${cmd} ${args[0] || ''} exited with ${code} before READY`));
        });
    });
}

export function stopChild(child, sig = 'SIGTERM') {
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        child.once('exit', resolve);
        try { child.kill(sig); } catch { resolve(); }
    });
}

// HTTP request → {status, headers, trailers, body: Buffer, chunks: [{t, len}]}.
export function request(port, method, p, body, headers = {}) {
    return new Promise((resolve, reject) => {
        const payload = body === undefined || body === null ? null : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
        const t0 = performance.now();
        const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: { ...(payload ? { 'Content-Length': payload.length } : {}), ...headers }, agent: false }, (res) => {
            const parts = [];
            const chunks = [];
            res.on('data', (c) => {
                parts.push(c);
                chunks.push({ t: performance.now() - t0, len: c.length });
            });
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts), chunks, ms: performance.now() - t0 }));
            res.on('error', reject);
        });
        req.on('error', reject);
        if (payload) req.write(payload);
        req.end();
    });
}

export const json = (r) => JSON.parse(r.body.toString('utf8'));

// The command of a runtime that only reports its AWS_LAMBDA_RUNTIME_API (lib/idle-runtime.mjs),
// for tests that play the runtime themselves with runtimeNext.
export const IDLE_RUNTIME = ['node', path.join(REPO, 'tests/e2e/lib/idle-runtime.mjs')];

// One runtime GET /next on its own connection. done: {status, headers, body} once the answer is
// whole, or null if the connection ended first; close(): the runtime goes away (socket destroyed).
export function runtimeNext(port) {
    const req = http.get({ host: '127.0.0.1', port, path: '/2018-06-01/runtime/invocation/next', agent: false });
    const done = new Promise((resolve) => {
        req.on('response', (res) => {
            const parts = [];
            res.on('data', (c) => parts.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
            res.on('error', () => resolve(null));
            res.on('aborted', () => resolve(null));
        });
        req.on('error', () => resolve(null));
        req.on('close', () => resolve(null));
    });
    return { done, close: () => req.destroy() };
}

export async function startSink(dir, { fault, idleResetMs } = {}) {
    const file = path.join(dir, 'spans.jsonl');
    const reqs = path.join(dir, 'sink-requests.jsonl');
    const args = [path.join(REPO, 'tests/tools/otlp-sink.mjs'), '--out', file, '--requests', reqs];
    if (fault) args.push('--fault', fault);
    if (idleResetMs) args.push('--idle-reset-ms', String(idleResetMs));
    const { child, ports } = await startReady(process.execPath, args, { log: path.join(dir, 'sink.log') });
    return {
        child, port: ports[0], controlPort: ports[1], file, requestsFile: reqs,
        endpoint: `http://127.0.0.1:${ports[0]}`,
        spans: () => readJsonl(file),
        requests: () => readJsonl(reqs),
        fault: (mode) => request(ports[1], 'POST', '/fault', mode),
        stats: async () => json(await request(ports[1], 'GET', '/stats')),
        stop: () => stopChild(child),
    };
}

export function readJsonl(file) {
    let text;
    try {
        text = fs.readFileSync(file, 'utf8');
    } catch {
        return [];
    }
    // Only whole lines: a writer may be in the middle of the last one.
    const whole = text.slice(0, text.lastIndexOf('\n') + 1);
    return whole.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export async function waitFor(fn, timeoutMs = 5000, stepMs = 25) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) return v;
        await sleep(stepMs);
    }
}

// The runtime command Lambda's Node bootstrap would exec: node + OTel hooks + the real RIC.
export function ricCommand({ otel = true } = {}) {
    const args = ['node'];
    if (otel) args.push('--import', path.join(HANDLERS, 'register-hook.mjs'), '--require', path.join(HANDLERS, 'otel-setup.cjs'));
    args.push(RIC);
    return args;
}

// Makes an /opt/extensions-style folder holding `name` → target (symlinks keep the basename).
export function extensionsDir(dir, entries) {
    const d = path.join(dir, 'extensions');
    fs.mkdirSync(d, { recursive: true });
    for (const [name, target] of Object.entries(entries)) {
        if (VALGRIND && target === TRACEBRIDGE) writeValgrindShim(path.join(d, name), dir);
        else fs.symlinkSync(target, path.join(d, name));
    }
    return d;
}

// The extension under valgrind: a shim with the extension's name execs valgrind on the real
// binary (argv[0] keeps the basename "tracebridge", which is the Lambda-Extension-Name). Errors
// go to <dir>/valgrind.<pid>.log and make the process exit 99.
function writeValgrindShim(file, dir) {
    const q = (x) => `'${String(x).replace(/'/g, "'\\''")}'`;
    const args = ['valgrind', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite', '--track-fds=no', '-q',
        `--log-file=${path.join(dir, 'valgrind.%p.log')}`, TRACEBRIDGE];
    fs.writeFileSync(file, `#!/bin/sh\nexec ${args.map(q).join(' ')} "$@"\n`, { mode: 0o755 });
}

// After the emulator stopped: how every tracebridge process of the run ended. exits: the
// emulator's exit records; sanitizer: ASan/LSan/UBSan lines in its output; valgrind: the
// non-empty valgrind logs (VALGRIND only).
export function extensionHealth(dir) {
    const exits = readJsonl(path.join(dir, 'emulator.jsonl')).filter((x) => x.type === 'exit' && x.kind === 'extension');
    let procLog = '';
    try { procLog = fs.readFileSync(path.join(dir, 'processes.log'), 'utf8'); } catch { /* none */ }
    const sanitizer = procLog.split('\n').filter((l) => l.startsWith('[ext:tracebridge]') && /AddressSanitizer|LeakSanitizer|runtime error:/.test(l));
    const valgrind = [];
    for (const f of fs.readdirSync(dir).filter((x) => /^valgrind\.\d+\.log$/.test(x))) {
        const text = fs.readFileSync(path.join(dir, f), 'utf8');
        if (text.trim()) valgrind.push(`${f}:\n${text}`);
    }
    const listenFailed = procLog.split('\n').filter((l) => l.startsWith('[ext:tracebridge]') && /proxy cannot listen|OTLP receiver not started/.test(l));
    return { exits, sanitizer, valgrind, procLog, listenFailed };
}

// TAP checks on extensionHealth(): every tracebridge process exited 0 at SHUTDOWN, no sanitizer
// report, under valgrind no valgrind error (exit code 99) or leak, and — unless the test took a
// port on purpose (o.portTaken) — the proxy and the receiver listened on the ports they were given.
export function checkExtensionHealth(t, dir, label, o = {}) {
    const h = extensionHealth(dir);
    if (!o.portTaken) t.ok(h.listenFailed.length === 0, `${label}: tracebridge's proxy and receiver listened on the ports the test gave them`, h.listenFailed.slice(0, 4).join('\n'));
    t.ok(h.exits.length > 0 && h.exits.every((x) => x.code === 0), `${label}: every tracebridge process (${h.exits.length}) exited 0 after SHUTDOWN`, h.exits);
    t.ok(h.sanitizer.length === 0, `${label}: no sanitizer report from tracebridge`, h.sanitizer.slice(0, 10).join('\n'));
    if (VALGRIND) t.ok(h.valgrind.length === 0 && h.exits.every((x) => x.code !== 99), `${label}: valgrind found no error or definite leak in tracebridge`, h.valgrind.join('\n').slice(0, 4000));
    return h;
}

// Starts the emulator. o: {dir, extensions, handler, timeoutMs, env, extEnv, rtEnv, runtime, mi,
// lazyInit, shutdownMs, initTimeoutMs, port, args}. The init timeout defaults to 30 s, not
// Lambda's 10 s: no suite tests it, and a JVM agent or a Node runtime with its instrumentation
// can take longer than 10 s to start on a loaded 2-core machine (seen), failing rows for a
// reason that is not tracebridge's.
export async function startEmulator(o) {
    const args = [path.join(REPO, 'tests/emulator/emulator.mjs'), '--task-root', HANDLERS, '--handler', o.handler ?? 'orders.handler',
        '--timeout-ms', String(o.timeoutMs ?? 3000), '--log', path.join(o.dir, 'emulator.jsonl'), '--proc-log', path.join(o.dir, 'processes.log'),
        '--shutdown-ms', String(o.shutdownMs ?? 2000), '--init-timeout-ms', String((o.initTimeoutMs ?? 30000) * SLOW)];
    if (o.port) args.push('--port', String(o.port));
    if (o.extensions) args.push('--extensions', o.extensions);
    if (o.mi) args.push('--managed-instances', '--max-concurrency', String(o.maxConcurrency ?? 4));
    if (o.lazyInit) args.push('--lazy-init');
    for (const [flag, m] of [['--env', o.env], ['--extension-env', o.extEnv], ['--runtime-env', o.rtEnv]]) {
        for (const [k, v] of Object.entries(m || {})) args.push(flag, `${k}=${v}`);
    }
    args.push(...(o.args || []));
    args.push('--', ...(o.runtime ?? ricCommand()));
    const { child, ports } = await startReady(process.execPath, args, { log: path.join(o.dir, 'emulator.log'), timeoutMs: 15000 * SLOW });
    const [apiPort, controlPort] = ports;
    const emu = {
        child, apiPort, controlPort,
        invoke: async (payload, headers = {}) => request(controlPort, 'POST', '/invoke', typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload), headers),
        post: async (p, body) => json(await request(controlPort, 'POST', p, body)),
        state: async () => json(await request(controlPort, 'GET', '/state')),
        log: async () => json(await request(controlPort, 'GET', '/log')),
        init: async () => json(await request(controlPort, 'POST', '/init')),
        shutdown: async () => json(await request(controlPort, 'POST', '/shutdown')),
        stop: async () => {
            await request(controlPort, 'POST', '/exit').catch(() => {});
            await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
            await stopChild(child, 'SIGKILL');
        },
        procLog: () => { try { return fs.readFileSync(path.join(o.dir, 'processes.log'), 'utf8'); } catch { return ''; } },
    };
    return emu;
}

// ---- producer: a tiny service with the OTel SDK that starts the trace --------------------------

export function makeProducer(endpoint, serviceName = 'orders-api') {
    const api = requireNode('@opentelemetry/api');
    const { BasicTracerProvider, SimpleSpanProcessor } = requireNode('@opentelemetry/sdk-trace-base');
    const { resourceFromAttributes } = requireNode('@opentelemetry/resources');
    const { OTLPTraceExporter } = requireNode('@opentelemetry/exporter-trace-otlp-proto');
    const { W3CTraceContextPropagator } = requireNode('@opentelemetry/core');
    const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': serviceName }),
        spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
    });
    const tracer = provider.getTracer('producer');
    const prop = new W3CTraceContextPropagator();
    // run(send): POST /publish (SERVER) → send_to_sqs (PRODUCER); send(traceparent, ids) does the
    // actual enqueue/invoke. Returns {traceId, publishSpanId, sendSpanId, traceparent, result}.
    async function run(send, { sendName = 'send_to_sqs', sampled = true } = {}) {
        const opts = sampled ? {} : {};
        const root = tracer.startSpan('POST /publish', { kind: api.SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/publish' }, ...opts });
        const rootCtx = api.trace.setSpan(api.ROOT_CONTEXT, root);
        const sendSpan = tracer.startSpan(sendName, { kind: api.SpanKind.PRODUCER, attributes: { 'messaging.system': 'aws_sqs', 'messaging.destination.name': 'orders', 'messaging.operation.type': 'send' } }, rootCtx);
        const carrier = {};
        prop.inject(api.trace.setSpan(rootCtx, sendSpan), carrier, api.defaultTextMapSetter);
        let result;
        try {
            result = await send(carrier.traceparent);
        } finally {
            sendSpan.end();
            root.end();
        }
        return { traceId: root.spanContext().traceId, publishSpanId: root.spanContext().spanId, sendSpanId: sendSpan.spanContext().spanId, traceparent: carrier.traceparent, result };
    }
    return { run, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

export const sqsAttr = (v) => ({ DataType: 'String', StringValue: v });

// ---- span trees ------------------------------------------------------------------------------

export function spansOfTrace(spans, traceId) {
    return spans.filter((s) => s.traceId === traceId);
}

export function childrenOf(spans, parent) {
    return spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
}

// Tracebridge's invocation span for a request id.
export function tbSpan(spans, requestId) {
    return spans.find((s) => s.scope.name.startsWith('tracebridge') && s.attributes['faas.invocation_id'] === requestId) ??
        spans.find((s) => s.scope.name !== '@opentelemetry/instrumentation-aws-lambda' && s.attributes['faas.invocation_id'] === requestId && s.service !== 'orders-api');
}

export function handlerSpan(spans, requestId) {
    return spans.find((s) => s.scope.name === '@opentelemetry/instrumentation-aws-lambda' && s.kind === 'SERVER' && s.attributes['faas.invocation_id'] === requestId);
}

// Waits until the sink has requestId's tracebridge span, its handler span and business_logic
// (and the producer's send span); the spans, or false after timeoutMs.
export async function waitChain(sink, requestId, prod, timeoutMs = 4000 * SLOW) {
    return waitFor(() => {
        const spans = sink.spans();
        if (prod && !spans.some((s) => s.spanId === prod.sendSpanId)) return false;
        const tb = tbSpan(spans, requestId);
        const hs = handlerSpan(spans, requestId);
        return tb && hs && childrenOf(spans, hs).some((c) => c.name === 'business_logic') && spans;
    }, timeoutMs);
}

// producer → tracebridge → handler → business_logic, one trace, parents chained; returns the
// tracebridge, handler and business_logic spans.
export function checkJoin(t, spans, prod, requestId, label, want = {}) {
    if (!spans) {
        t.ok(false, `${label}: spans arrived (tracebridge span, handler span, business_logic)`, { requestId });
        return {};
    }
    const tb = tbSpan(spans, requestId);
    const hs = handlerSpan(spans, requestId);
    const bl = hs && childrenOf(spans, hs).find((c) => c.name === 'business_logic');
    const send = spans.find((s) => s.spanId === prod.sendSpanId);
    const joined = tb && hs && bl && send && tb.traceId === prod.traceId && tb.parentSpanId === prod.sendSpanId && hs.traceId === prod.traceId && hs.parentSpanId === tb.spanId && bl.parentSpanId === hs.spanId;
    if (!t.ok(joined, `${label}: one trace, producer → tracebridge → handler → business_logic`)) t.diag(renderTree(spans.filter((s) => s.traceId === prod.traceId || s.attributes['faas.invocation_id'] === requestId)));
    if (want.name && tb) t.ok(tb.name === want.name && (!want.kind || tb.kind === want.kind), `${label}: tracebridge span is ${want.kind ?? ''} "${want.name}"`, { name: tb.name, kind: tb.kind });
    return { tb, hs, bl };
}

// A withStack body run(st, prod) with a producer exporting to the stack's sink, shut down
// before the stack stops.
export const withProducer = (run) => async (st) => {
    const prod = makeProducer(st.sink.endpoint);
    try {
        return await run(st, prod);
    } finally {
        await prod.shutdown();
    }
};

// Renders spans as an indented tree (for diagnostics and the demo).
export function renderTree(spans) {
    const byId = new Map(spans.map((s) => [s.traceId + s.spanId, s]));
    const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.traceId + s.parentSpanId));
    const lines = [];
    const walk = (s, depth) => {
        lines.push(`${'  '.repeat(depth)}${s.name} [${s.service}] ${s.kind} ${s.durationMs.toFixed(1)}ms ${s.traceId.slice(0, 8)}/${s.spanId}${s.status.code === 'ERROR' ? ' ERROR' : ''}`);
        for (const c of spans.filter((x) => x.parentSpanId === s.spanId && x.traceId === s.traceId).sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1))) walk(c, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    return lines.join('\n');
}

// The full stack: OTLP sink, emulator with tracebridge as the extension and the wrapper, the Node
// handler under the real RIC + OTel instrumentation exporting to tracebridge's local receiver.
// o: {dir, handler, flush, timeoutMs, shutdownMs, env, otlpPort (default: a free port; 4318 =
// the SDK default, then the handler gets no endpoint at all), lazyInit, mi, maxConcurrency, extEnv, runtime,
// args (more emulator options, e.g. --provided, --snapstart), binary (the extension, default
// TRACEBRIDGE), sink or sinkOpts}.
// Under valgrind the function timeout and the SHUTDOWN budget are scaled by SLOW.
export async function startTracebridgeStack(o) {
    const sink = o.sink ?? (await startSink(o.dir, o.sinkOpts));
    const exts = extensionsDir(o.dir, { tracebridge: o.binary ?? TRACEBRIDGE });
    const events = path.join(o.dir, 'events.jsonl');
    const otlpPort = o.otlpPort ?? (await freePort());
    const proxyPort = await freePort();
    const env = {
        AWS_LAMBDA_EXEC_WRAPPER: WRAPPER,
        TRACEBRIDGE_READY_FILE: path.join(o.dir, 'tracebridge.ready'),
        TRACEBRIDGE_PROXY_PORT: String(proxyPort),
        TRACEBRIDGE_OTLP_LISTEN: `127.0.0.1:${otlpPort}`,
        TRACEBRIDGE_FLUSH: o.flush ?? 'end',
        TRACEBRIDGE_LOG_LEVEL: 'debug',
        HANDLER_EVENTS_OUT: events,
        ...(o.env || {}),
    };
    // The handler and tracebridge share the function's environment in Lambda; only in tests do
    // they get different OTLP endpoints: tracebridge → the sink, the handler → tracebridge.
    const extEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, ...(o.extEnv || {}) };
    const rtEnv = otlpPort === 4318 ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: `http://localhost:${otlpPort}` };
    const emu = await startEmulator({ dir: o.dir, extensions: exts, handler: o.handler, timeoutMs: (o.timeoutMs ?? 3000) * SLOW, shutdownMs: (o.shutdownMs ?? 2000) * SLOW,
        env, extEnv, rtEnv, lazyInit: o.lazyInit, mi: o.mi, maxConcurrency: o.maxConcurrency, runtime: o.runtime, args: o.args });
    return { emu, sink, events, proxyPort, otlpPort, handled: () => readJsonl(events) };
}

// One test group's stack, from start to health check: a fresh tmpDir(o.tmp), the stack of
// startTracebridgeStack(o), run(st, dir), then — whatever run did, even throw — the emulator and
// the sink stopped (which ends tracebridge with SHUTDOWN), afterStop(result of run, st, dir) for
// the checks that need the run over (what reached the sink, the logs), and last
// checkExtensionHealth(t, dir, label). A throw from run or afterStop skips the health checks and
// reaches the caller (the suites report it as "<group> ran to the end"). Returns run's result.
export async function withStack(t, label, o, run, afterStop) {
    const dir = tmpDir(o.tmp);
    const st = await startTracebridgeStack({ ...o, dir });
    let result;
    try {
        result = await run(st, dir);
    } finally {
        await st.emu.stop();
        await st.sink.stop();
    }
    if (afterStop) await afterStop(result, st, dir);
    checkExtensionHealth(t, dir, label, o);
    return result;
}
