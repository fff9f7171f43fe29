// SPDX-License-Identifier: Apache-2.0
// Real handler stacks in Python and Node through the REAL tracebridge extension and wrapper, with
// DEFAULT tracebridge settings and each instrumentation configured the way its users configure it
// (tests/stacks/NOTES.md): python-otel, python-adot, node-otel (tests/node + tests/handlers) and
// node-adot, under the project's emulator and under the AWS Lambda Runtime Interface Emulator
// (RIE, a second and independent control plane). One row per stack x trigger x X-Ray header:
//   producer (POST /publish → send) → tracebridge span → handler invocation span → business_logic
// Each row checks that chain span by span (ids decoded by the sink's real OTLP decoder), that the
// spans are sampled and none is lost, and that the handler saw no __traceparent__. Rows go to
// tests/out/stack-results/<stack>.jsonl ({stack, trigger, joined, handler_parent, detail,
// xray_sampled, control_plane}).
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Tap, REPO, TRACEBRIDGE, WRAPPER, withStack, makeProducer, sqsAttr, readJsonl, tmpDir, freePort, startSink, request, sleep, waitFor, tbSpan, renderTree, stopChild } from './lib/harness.mjs';
import { sqsRecord, sqsEvent } from '../emulator/events.mjs';
import { STACKS } from '../stacks/lib/stacks.mjs';

const t = new Tap();
const STK = path.join(REPO, 'tests/stacks');
const HANDLERS = path.join(REPO, 'tests/handlers');
const RIE = path.join(STK, 'rie/.installed/aws-lambda-rie');
const RESULTS = path.join(REPO, 'tests/out/stack-results');

// Where each stack's invocation span SHOULD get its parent. Lambda's X-Ray tracing active
// (Sampled=1): ADOT Node lets X-Ray win (its layer's OTEL_PROPAGATORS=baggage,tracecontext,xray),
// and tracebridge must leave Lambda's own header alone, so the parent is Lambda's X-Ray segment.
// Otherwise (PassThrough, Sampled=0, or no header as with RIE) every stack joins tracebridge's
// span; for ADOT Node that needs the X-Ray header rewrite of TRACEBRIDGE_XRAY_HEADER=auto.
function expectedParent(stack, xraySampled) {
    return stack.name === 'node-adot' && xraySampled === 1 ? 'xray' : 'tracebridge';
}
const needsXrayRewrite = (stack, xraySampled) => stack.name === 'node-adot' && xraySampled === 0;

const hex = (n) => randomBytes(n).toString('hex');
const xrayHeader = (sampled) => `Root=1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${hex(12)};Parent=${hex(8)};Sampled=${sampled}`;
function parseXray(v) {
    const m = /Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16})(?:;Sampled=([01]))?/.exec(v || '');
    return m ? { traceId: m[1] + m[2], parent: m[3], sampled: m[4] } : null;
}

// ---- triggers: each sends one invocation through the emulator (x = Lambda-Runtime-Trace-Id to
// use, null = the emulator's own, Sampled=0) and returns {rid, prods, parent} -----------------------

const snsAttrs = (tp) => ({ traceparent: { Type: 'String', Value: tp } });
const TRIGGERS = [
    ['direct', async (emu, prod, x) => {
        const p = await prod.run(async (tp) => {
            const r = await emu.invoke({ order: 1, __traceparent__: tp }, x ? { 'X-Emu-Trace-Id': x } : {});
            return { requestId: r.headers['x-amzn-requestid'] };
        }, { sendName: 'invoke_lambda' });
        return { rid: p.result.requestId, prods: [p], parent: p };
    }],
    ['sqs', async (emu, prod, x) => {
        const p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', traceId: x, messages: [{ body: '{"order":2}', messageAttributes: { traceparent: sqsAttr(tp) } }] }));
        return { rid: p.result.invocations[0].requestId, prods: [p], parent: p };
    }],
    ['sqs-batch', async (emu, prod, x) => {
        // Two messages of two traces in one batch: tracebridge's parent is the first record's
        // (TRACEBRIDGE_BATCH_PARENT=first), with a link to each.
        const msgs = [];
        const ps = await Promise.all([3, 4].map((n) => prod.run(async (tp) => { msgs.push({ tp, m: { body: `{"order":${n}}`, messageAttributes: { traceparent: sqsAttr(tp) } } }); })));
        msgs.sort((a, b) => a.m.body.localeCompare(b.m.body));
        const sent = await emu.post('/sqs/send', { queue: 'orders', traceId: x, messages: msgs.map((e) => e.m) });
        const first = ps.find((p) => p.traceparent === msgs[0].tp);
        return { rid: sent.invocations[0].requestId, prods: ps, parent: first, batch: sent.invocations.length };
    }],
    ['sns', async (emu, prod, x) => {
        const p = await prod.run((tp) => emu.post('/sns/publish', { topic: 'orders-topic', message: '{"order":5}', messageAttributes: snsAttrs(tp), traceId: x }), { sendName: 'publish_to_sns' });
        return { rid: p.result.invocations[0].requestId, prods: [p], parent: p };
    }],
    ['sns-sqs', async (emu, prod, x) => {
        const p = await prod.run((tp) => emu.post('/sns-sqs/publish', { topic: 'orders-topic', queue: 'orders', message: '{"order":6}', messageAttributes: snsAttrs(tp), traceId: x }), { sendName: 'publish_to_sns' });
        return { rid: p.result.invocations[0].requestId, prods: [p], parent: p };
    }],
    ['eventbridge', async (emu, prod, x) => {
        const p = await prod.run((tp) => emu.post('/eventbridge/put', { source: 'com.example.orders', detailType: 'OrderPlaced', detail: { traceparent: tp, order: 7 }, traceId: x }), { sendName: 'put_events' });
        return { rid: p.result.invocations[0].requestId, prods: [p], parent: p };
    }],
    ['apigw-v2', async (emu, prod, x) => {
        const p = await prod.run((tp) => emu.post('/apigw/v2', { method: 'POST', path: '/orders', headers: { traceparent: tp, 'content-type': 'application/json' }, body: '{"order":8}', traceId: x }), { sendName: 'http_client' });
        return { rid: p.result.invocations[0].requestId, prods: [p], parent: p };
    }],
];

// ---- evaluation of one row ------------------------------------------------------------------------

// The chain of one invocation: producer → tracebridge → handler invocation span → business_logic.
// The handler's invocation span is found from the span that was active when the handler ran (the
// handler records it), walking up through the instrumentation's own spans (an SQS CONSUMER span
// of the instrumentation sits between them in some stacks).
function evaluate(stack, row, spans, handled) {
    const byId = new Map(spans.map((s) => [s.traceId + s.spanId, s]));
    const rec = handled.find((h) => h.requestId === row.rid);
    const prod = row.parent;
    const tb = tbSpan(spans, row.rid);
    const xray = parseXray(rec?.xrayEnv);
    const out = { rec, tb, xray, prodSend: prod.sendSpanId, problems: [] };
    const bad = (m) => out.problems.push(m);
    if (!rec) bad('the handler recorded no invocation');
    for (const p of row.prods) if (!byId.has(p.traceId + p.sendSpanId) || !byId.has(p.traceId + p.publishSpanId)) bad(`producer spans of ${p.traceId} missing`);
    if (!tb) bad('no tracebridge span');
    else if (tb.traceId !== prod.traceId || tb.parentSpanId !== prod.sendSpanId) bad(`tracebridge span ${tb.spanId} is not the child of the producer span ${prod.sendSpanId}`);
    if (rec && JSON.stringify(rec.event).includes('__traceparent__')) bad('the handler saw __traceparent__');
    const tp = rec?.event?.headers?.traceparent;
    if (rec && tb && tp !== `00-${tb.traceId}-${tb.spanId}-01`) bad(`the event's headers.traceparent is ${tp}, not the sampled tracebridge span`);
    const active = rec?.activeSpan;
    let inv = active ? byId.get(active.traceId + active.spanId) : null;
    while (inv && inv.parentSpanId) {
        const up = byId.get(inv.traceId + inv.parentSpanId);
        if (!up || up.scope.name !== stack.scope) break;
        inv = up;
    }
    if (inv && inv.scope.name !== stack.scope) inv = null;
    out.inv = inv;
    out.bl = active ? spans.find((s) => s.name === 'business_logic' && s.traceId === active.traceId && s.parentSpanId === active.spanId) : null;
    if (!rec) out.parent = 'none';
    else if (inv) {
        if (tb && inv.traceId === tb.traceId && inv.parentSpanId === tb.spanId) out.parent = 'tracebridge';
        else if (inv.traceId === prod.traceId && inv.parentSpanId === prod.sendSpanId) out.parent = 'producer';
        else if (xray && inv.traceId === xray.traceId && inv.parentSpanId === xray.parent) out.parent = 'xray';
        else if (!inv.parentSpanId) out.parent = 'root';
        else out.parent = 'other';
    } else if (!active) out.parent = 'none';
    // Not exported: the handler ran in a trace nobody sampled; whose it was tells the parent.
    else if (xray && active.traceId === xray.traceId) out.parent = 'xray';
    else out.parent = active.traceId === prod.traceId ? 'none' : 'root';
    if (rec && !inv) bad(active ? `the handler's invocation span (trace ${active.traceId}) was not exported` : 'the handler had no active span');
    if (inv && !out.bl) bad(`no business_logic span under ${active.spanId}`);
    return out;
}

function describe(e) {
    const s = (x) => x ? x.spanId : '-';
    const chain = `handler span ${s(e.inv)}, parent: ${e.parent}; tracebridge span ${s(e.tb)}, parent: ${e.tb?.parentSpanId ?? '-'} (producer ${e.prodSend})`;
    return e.problems.length ? `${chain}: ${e.problems.join('; ')}` : chain;
}

// Checks one row (TAP) and returns its results line.
function checkRow(stack, plane, row, spans, handled) {
    const e = evaluate(stack, row, spans, handled);
    const want = expectedParent(stack, row.xraySampled);
    let ok = e.problems.length === 0 && e.parent === want;
    if (want === 'xray' && e.inv && e.xray) ok = ok && e.inv.traceId === e.xray.traceId && e.inv.parentSpanId === e.xray.parent;
    const joined = e.problems.length === 0 && e.parent === 'tracebridge';
    const xr = row.xraySampled === null ? 'no X-Ray header' : `X-Ray Sampled=${row.xraySampled}`;
    const note = needsXrayRewrite(stack, row.xraySampled) ? ' [needs TRACEBRIDGE_XRAY_HEADER=auto]' : '';
    const label = `${stack.name} ${row.trigger} (${plane}, ${xr}): handler span's parent is ${want === 'xray' ? "Lambda's X-Ray segment" : 'the tracebridge span'}, tracebridge's is the producer, business_logic under the handler${note}`;
    if (!t.ok(ok, label, { got: e.parent, detail: describe(e) })) {
        const ids = new Set(row.prods.map((p) => p.traceId));
        if (e.rec?.activeSpan) ids.add(e.rec.activeSpan.traceId);
        t.diag(renderTree(spans.filter((x) => ids.has(x.traceId))));
    }
    if (row.trigger === 'sqs-batch' && e.tb) {
        const links = new Set((e.tb.links || []).map((l) => l.traceId + '/' + l.spanId));
        t.ok(row.batch === 1 && row.prods.every((p) => links.has(`${p.traceId}/${p.sendSpanId}`)), `${stack.name} sqs-batch (${plane}, ${xr}): one invocation, the tracebridge span links both records' contexts`, e.tb.links);
    }
    return { stack: stack.name, trigger: row.trigger, joined, handler_parent: e.parent, detail: describe(e), xray_sampled: row.xraySampled, control_plane: plane };
}

// tracebridge's own account at SHUTDOWN: nothing dropped, nothing left unsent.
function checkNothingLost(label, log) {
    const m = [...log.matchAll(/shutdown: (\d+) spans exported, (\d+) left unsent/g)].at(-1);
    const dropped = /dropp/i.test(log.split('\n').filter((l) => /"level":"(WARN|ERROR)"/.test(l)).join('\n'));
    t.ok(m && m[2] === '0' && !dropped, `${label}: tracebridge exported every span at SHUTDOWN (${m ? m[1] : '?'} spans, ${m ? m[2] : '?'} left unsent, none dropped)`, m ? m[0] : log.slice(-2000));
}

// ---- the project's emulator ---------------------------------------------------------------------

async function emulatorStack(stack, results) {
    const o = {
        tmp: `stk-${stack.name}`, flush: 'invoke', timeoutMs: 6000, shutdownMs: 3000, runtime: stack.runtime,
        args: ['--execution-env', stack.execEnv], env: stack.next ? { TRACEBRIDGE_NEXT_WRAPPER: stack.next } : {},
    };
    await withStack(t, `${stack.name} (emulator)`, o, async (st) => {
        const prod = makeProducer(st.sink.endpoint);
        const rows = [];
        try {
            for (const xraySampled of [0, 1]) {
                for (const [trigger, run] of TRIGGERS) {
                    const r = await run(st.emu, prod, xraySampled === 1 ? xrayHeader(1) : null);
                    rows.push({ ...r, trigger, xraySampled });
                }
            }
        } finally {
            await prod.shutdown();
        }
        // Lambda sends SHUTDOWN only between invocations: after the runtime's next /next.
        const last = rows.at(-1).rid;
        await waitFor(async () => (await st.emu.log()).some((x) => x.type === 'invoke-done' && x.requestId === last), 5000);
        return rows;
    }, (rows, st) => {
        const spans = st.sink.spans();
        const handled = st.handled();
        for (const row of rows) results.push(checkRow(stack, 'emulator', row, spans, handled));
        checkNothingLost(`${stack.name} (emulator)`, st.emu.procLog());
        // Everything the handler exported reached the sink through tracebridge's receiver.
        const direct = spans.filter((s) => s.service === 'orders-fn' && !s.scope.name.startsWith('tracebridge') && /OTel-OTLP-Exporter/.test(s.userAgent || ''));
        t.ok(direct.length === 0, `${stack.name} (emulator): every handler span went through tracebridge's receiver, none straight to the backend`, direct.slice(0, 3));
    });
}

// ---- the AWS Lambda Runtime Interface Emulator ------------------------------------------------------
// RIE starts every executable in /opt/extensions (hard-coded) and ignores AWS_LAMBDA_EXEC_WRAPPER,
// so each run gets an /opt of its own in a private mount namespace (unshare -m, a bind mount of a
// temporary folder; the host's /opt is never touched) with extensions/tracebridge, the layer's
// tracebridge-wrapper, and a bootstrap that execs the wrapper with the runtime's command line, as
// a custom runtime's bootstrap must. RIE initialises at the first invoke and sends no
// Lambda-Runtime-Trace-Id (no X-Amzn-Trace-Id on the invoke).

const sh = (x) => `'${String(x).replace(/'/g, "'\\''")}'`;

function connectable(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
    });
}

async function startRie(stack, dir, sink) {
    const opt = path.join(dir, 'opt');
    fs.mkdirSync(path.join(opt, 'extensions'), { recursive: true });
    fs.symlinkSync(TRACEBRIDGE, path.join(opt, 'extensions/tracebridge'));
    fs.symlinkSync(WRAPPER, path.join(opt, 'tracebridge-wrapper'));
    fs.writeFileSync(path.join(opt, 'bootstrap'), `#!/bin/sh\nexec /opt/tracebridge-wrapper ${stack.runtime.map((a) => sh(a === 'node' ? process.execPath : a)).join(' ')}\n`, { mode: 0o755 });
    const [port, apiPort, proxyPort, otlpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const env = {
        PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'en_US.UTF-8', TZ: ':UTC',
        AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'orders-fn', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
        AWS_LAMBDA_FUNCTION_TIMEOUT: '6', AWS_EXECUTION_ENV: stack.execEnv, _HANDLER: 'orders.handler', LAMBDA_TASK_ROOT: HANDLERS,
        AWS_ACCESS_KEY_ID: 'ASIARIEEXAMPLE', AWS_SECRET_ACCESS_KEY: 'rie/secret/not/real', AWS_SESSION_TOKEN: 'rie-session-token',
        AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
        // One environment for the extension and the handler, as in Lambda: tracebridge exports to
        // the sink, and its wrapper points the handler's SDK at tracebridge's receiver.
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        TRACEBRIDGE_READY_FILE: path.join(dir, 'tracebridge.ready'), TRACEBRIDGE_PROXY_PORT: String(proxyPort),
        TRACEBRIDGE_OTLP_LISTEN: `127.0.0.1:${otlpPort}`, TRACEBRIDGE_LOG_LEVEL: 'debug',
        HANDLER_EVENTS_OUT: path.join(dir, 'events.jsonl'),
        ...(stack.next ? { TRACEBRIDGE_NEXT_WRAPPER: stack.next } : {}),
    };
    for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) if (process.env[k] !== undefined) env[k] = process.env[k];
    const log = fs.openSync(path.join(dir, 'rie.log'), 'a');
    const child = spawn('unshare', ['-m', 'sh', '-c', 'mount --bind "$0" /opt && exec "$@"', opt, RIE,
        '--runtime-interface-emulator-address', `127.0.0.1:${port}`, '--runtime-api-address', `127.0.0.1:${apiPort}`, '/opt/bootstrap'],
    { env, cwd: HANDLERS, stdio: ['ignore', log, log] });
    process.on('exit', () => { try { child.kill('SIGKILL'); } catch { /* gone */ } });
    if (!(await waitFor(() => connectable(port), 5000))) throw new Error(`RIE did not listen on ${port} (${path.join(dir, 'rie.log')})`);
    const invoke = async (payload) => {
        const rid = randomUUID();
        const r = await request(port, 'POST', '/2015-03-31/functions/function/invocations', JSON.stringify(payload), { 'X-Amzn-RequestId': rid, 'Content-Type': 'application/json' });
        return { rid, status: r.status, body: r.body.toString() };
    };
    return { child, invoke, log: () => fs.readFileSync(path.join(dir, 'rie.log'), 'utf8'), handled: () => readJsonl(path.join(dir, 'events.jsonl')) };
}

const RIE_O = { region: 'us-east-1', account: '123456789012' };
const RIE_TRIGGERS = [
    ['direct', async (rie, prod) => {
        const p = await prod.run((tp) => rie.invoke({ order: 11, __traceparent__: tp }), { sendName: 'invoke_lambda' });
        return { rid: p.result.rid, prods: [p], parent: p, status: p.result.status };
    }],
    ['sqs', async (rie, prod) => {
        const p = await prod.run((tp) => rie.invoke(sqsEvent([sqsRecord(RIE_O, 'orders', { body: '{"order":12}', messageId: randomUUID(), messageAttributes: { traceparent: sqsAttr(tp) } })])));
        return { rid: p.result.rid, prods: [p], parent: p, status: p.result.status };
    }],
];

async function rieStack(stack, results) {
    const dir = tmpDir(`stk-rie-${stack.name}`);
    const sink = await startSink(dir);
    let rie;
    const rows = [];
    try {
        rie = await startRie(stack, dir, sink);
        const prod = makeProducer(sink.endpoint);
        try {
            for (const [trigger, run] of RIE_TRIGGERS) rows.push({ ...(await run(rie, prod)), trigger, xraySampled: null });
        } finally {
            await prod.shutdown();
        }
        await sleep(200); // the runtime's next /next; RIE sends SHUTDOWN on SIGTERM
        const exited = new Promise((r) => rie.child.once('exit', (code, sig) => r({ code, sig })));
        rie.child.kill('SIGTERM');
        const ex = await Promise.race([exited, sleep(8000).then(() => null)]);
        t.ok(ex !== null, `${stack.name} (RIE): RIE ended after SIGTERM (SHUTDOWN to tracebridge)`, ex);
    } finally {
        if (rie) await stopChild(rie.child, 'SIGKILL');
        await sink.stop();
    }
    const spans = sink.spans();
    const handled = rie.handled();
    t.ok(rows.every((r) => r.status === 200), `${stack.name} (RIE): every invoke answered 200`, rows.map((r) => r.status));
    // RIE sends no Lambda-Runtime-Trace-Id; with TRACEBRIDGE_XRAY_HEADER=auto (the default)
    // tracebridge writes the promoted context there in X-Ray form, its own span as Parent.
    const xrayWant = (h) => {
        const tb = tbSpan(spans, h.requestId);
        return tb && `Root=1-${tb.traceId.slice(0, 8)}-${tb.traceId.slice(8)};Parent=${tb.spanId};Sampled=1`;
    };
    t.ok(handled.length > 0 && handled.every((h) => h.xrayEnv === xrayWant(h)), `${stack.name} (RIE): the handler's X-Ray header is the promoted context with the tracebridge span as Parent (RIE sends none)`, handled.map((h) => [h.xrayEnv, xrayWant(h)]));
    for (const row of rows) results.push(checkRow(stack, 'rie', row, spans, handled));
    const log = rie.log();
    checkNothingLost(`${stack.name} (RIE)`, log);
    const san = log.split('\n').filter((l) => /AddressSanitizer|LeakSanitizer|runtime error:/.test(l));
    t.ok(san.length === 0, `${stack.name} (RIE): no sanitizer report from tracebridge`, san.slice(0, 10).join('\n'));
}

// ---- main ------------------------------------------------------------------------------------------

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
const only = process.env.TB_E2E_ONLY;
const unshareWorks = await new Promise((resolve) => {
    const c = spawn('unshare', ['-m', 'true'], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('exit', (code) => resolve(code === 0));
});
fs.mkdirSync(RESULTS, { recursive: true });
for (const stack of STACKS) {
    if (only && !stack.name.includes(only)) continue;
    const why = stack.missing();
    if (why) {
        t.ok(false, `${stack.name}: stack installed (${why}; tests/deps.sh installs it)`);
        continue;
    }
    const results = [];
    try {
        await emulatorStack(stack, results);
    } catch (err) {
        t.ok(false, `${stack.name} (emulator) ran to the end`, String(err && err.stack || err));
    }
    if (!fs.existsSync(RIE)) t.skip(`${stack.name} (RIE)`, 'tests/stacks/rie/install.sh built no RIE (it needs the Go version of its go.mod)');
    else if (!unshareWorks) t.skip(`${stack.name} (RIE)`, 'unshare -m (a private mount namespace for /opt) is not permitted here');
    else {
        try {
            await rieStack(stack, results);
        } catch (err) {
            t.ok(false, `${stack.name} (RIE) ran to the end`, String(err && err.stack || err));
        }
    }
    fs.writeFileSync(path.join(RESULTS, `${stack.name}.jsonl`), results.map((r) => JSON.stringify(r)).join('\n') + (results.length ? '\n' : ''));
}
process.exit(t.failed ? 1 : 0);
