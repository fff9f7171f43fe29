// SPDX-License-Identifier: Apache-2.0
// System-level robustness of the REAL tracebridge extension (${TB_BUILD}/tracebridge) in the local
// Lambda emulator, with the wrapper, the real Node runtime client and the real OTel instrumentation
// exporting to tracebridge's receiver (issues 7, 4 and 9):
//   backend   OTLP backend down / slow (2 s) / 500 / 429 + Retry-After: invocations succeed with
//             the right bytes, the handler-observed time does not change, buffered spans arrive
//             once the backend is back
//   failures  runtime crash mid-request and mid-stream, timeout: next invocation is a cold start
//             that works; the failed invocation's span is ERROR with its outcome
//   big       6 MB events rewritten (or passed unchanged over the limit), ~1 MiB X-Ray error cause
//   hostile   hostile trace values never reach headers.traceparent / Client-Context; no crash
//   secrets   OTLP header values never appear in any log line at debug level
//   load      1000 sequential invocations, 64 in flight (Managed Instances): bytes, peak RSS, fds
// Prints the numbers as TAP comments. TB_QUICK=1 (and TB_VALGRIND=1) runs smaller loads;
// TB_E2E_ONLY=<group> runs one group.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Tap, withStack, waitFor, sleep, json, tbSpan, handlerSpan, TRACEBRIDGE, SLOW, QUICK, VALGRIND, runGroups } from './lib/harness.mjs';

const t = new Tap();
const STRICT_TP = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
const hex = (n) => crypto.randomBytes(n).toString('hex');
const newTp = () => `00-${hex(16)}-${hex(8)}-01`;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const MAX_FLUSH_MS = 200; // TRACEBRIDGE_MAX_FLUSH_MS default
// Peak RSS is only meaningful for the plain build (ASan's quarantine and valgrind's own memory
// dwarf it); it is printed in every case.
const MEASURE_RSS = !VALGRIND && !/asan/.test(process.env.TB_BUILD || '');

function median(a) {
    if (a.length === 0) return NaN;
    const s = [...a].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const pct = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));

// One invocation whose answer is known byte for byte: {"ok":true,"processed":1,"echo":"<echo>"}.
async function invokeEcho(emu, echo, extra = {}) {
    const r = await emu.invoke({ echo, ...extra });
    const want = JSON.stringify({ ok: true, processed: 1, echo });
    const body = r.body.toString();
    return {
        ok: r.status === 200 && body === want && !r.headers['x-amz-function-error'],
        rid: r.headers['x-amzn-requestid'], ms: Number(r.headers['x-emu-duration-ms']), cold: r.headers['x-emu-cold-start'] === 'true',
        got: `${r.status} ${body.slice(0, 200)}`,
    };
}

async function extensionPid(emu) {
    return (await emu.log()).filter((x) => x.type === 'spawn' && x.kind === 'extension').at(-1)?.pid;
}

// Memory and descriptors of a process. closeWait: its TCP sockets whose peer closed and that it
// never closed itself (the mark of a descriptor leak).
function procInfo(pid) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    const state = new Map();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
        let text = '';
        try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
        for (const l of text.split('\n').slice(1)) {
            const p = l.trim().split(/\s+/);
            if (p.length > 9) state.set(p[9], p[3]);
        }
    }
    let closeWait = 0;
    let sockets = 0;
    const fds = fs.readdirSync(`/proc/${pid}/fd`);
    for (const fd of fds) {
        let link = '';
        try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m) sockets++;
        if (m && state.get(m[1]) === '08') closeWait++;
    }
    return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS'), fds: fds.length, sockets, other: fds.length - sockets, closeWait };
}

const alive = (pid) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};

// ---- backend faults -------------------------------------------------------------------------

async function groupBackend() {
    await withStack(t, 'backend faults', { tmp: 'faults-backend', flush: 'invoke', env: { HANDLER_WORK_MS: '2' }, extEnv: { OTEL_EXPORTER_OTLP_TIMEOUT: '5000' } }, backendFaults);
}

async function backendFaults({ emu, sink }, dir) {
    // Each fault is measured against a healthy baseline taken in the same minute, interleaved in
    // blocks (the machine's load drifts more than the effect looked for).
    const BLOCKS = QUICK ? 2 : 4;
    const PER_BLOCK = 6;
    const rows = [];
    let seq = 0;
    const doneLog = async (res) => waitFor(async () => {
        const l = await emu.log();
        return res.every((r) => l.some((x) => x.type === 'invoke-done' && x.requestId === r.rid)) && l;
    }, 2000 * SLOW) || emu.log();
    try {
        for (let i = 0; i < 5; i++) await invokeEcho(emu, `warm${i}`);
        for (const [name, mode] of [['down', 'down'], ['slow 2 s', 'slow:2000'], ['500', '500'], ['429 Retry-After: 1', '429:1']]) {
            const base = [];
            const res = [];
            for (let b = 0; b < BLOCKS; b++) {
                for (let i = 0; i < PER_BLOCK; i++) base.push(await invokeEcho(emu, `${name}-ok-${seq++}`));
                await sink.fault(mode);
                for (let i = 0; i < PER_BLOCK; i++) res.push(await invokeEcho(emu, `${name}-${seq++}`));
                if (mode.startsWith('429')) {
                    // tracebridge no longer holds invocations for a refusing backend, so a block
                    // is shorter than Retry-After: wait it out once so a retry meets the fault.
                    await new Promise((r) => setTimeout(r, 1300));
                    res.push(await invokeEcho(emu, `${name}-${seq++}`));
                }
                await sink.fault('ok');
            }
            const bad = [...base, ...res].filter((r) => !r.ok);
            t.ok(bad.length === 0, `${name}: ${res.length} invocations during the fault (and ${base.length} between) succeeded with the right bytes`, bad.slice(0, 3));
            const log = await doneLog(res);
            const after = res.map((r) => log.find((x) => x.type === 'invoke-done' && x.requestId === r.rid)?.afterResponseMs ?? NaN);
            const ms = res.map((r) => r.ms);
            const row = { name, base: median(base.map((r) => r.ms)), median: median(ms), p90: pct(ms, 0.9), max: Math.max(...ms), afterMedian: median(after), afterMax: Math.max(...after) };
            rows.push(row);
            const bound = 5 * SLOW;
            t.ok(row.median - row.base < bound, `${name}: handler-observed invocation time unchanged (median ${fmt(row.median)} ms vs ${fmt(row.base)} ms healthy: ${fmt(row.median - row.base)} ms, bound ${bound} ms)`);
            t.ok(row.max < 500 * SLOW, `${name}: no invocation stalled by the backend (max ${fmt(row.max)} ms)`);
            // flush=invoke: tracebridge holds /event/next at most TRACEBRIDGE_MAX_FLUSH_MS after
            // the response for an export in progress (billed time, not the caller's latency).
            t.ok(row.afterMax < MAX_FLUSH_MS + 100 * SLOW, `${name}: response → next invocation ready ≤ max flush budget (median ${fmt(row.afterMedian)} ms, max ${fmt(row.afterMax)} ms)`);
            if (mode.startsWith('429')) {
                const reqs = sink.requests();
                const gaps = [];
                for (let i = 1; i < reqs.length; i++) if (reqs[i].status === 429 && reqs[i - 1].status === 429) gaps.push(reqs[i].t - reqs[i - 1].t);
                t.ok(gaps.length >= 1 && gaps.every((g) => g >= 900), `429: Retry-After (1 s) honoured between attempts (${gaps.length} back-to-back 429s, smallest gap ${gaps.length ? Math.min(...gaps) : '-'} ms)`, gaps);
            }
            if (mode === '500') {
                const procLog = fs.readFileSync(`${dir}/processes.log`, 'utf8');
                t.ok(/\[ext:tracebridge\].*backend rejected \d+ spans with status 500/.test(procLog), '500: not retried (not retryable in OTLP); the drop is logged');
                continue; // those spans are dropped by design
            }
            // The backend is back: everything buffered meanwhile arrives (flush=invoke exports at
            // INVOKE, so keep invoking now and then).
            const t0 = Date.now();
            const all = await waitFor(async () => {
                const spans = sink.spans();
                if (res.every((r) => tbSpan(spans, r.rid) && handlerSpan(spans, r.rid))) return true;
                await invokeEcho(emu, `kick-${seq++}`);
                await sleep(250);
                return false;
            }, 15000 * SLOW, 0);
            const spans = sink.spans();
            const missing = res.filter((r) => !tbSpan(spans, r.rid) || !handlerSpan(spans, r.rid)).map((r) => r.rid);
            t.ok(all, `${name}: once the backend is back, the ${res.length} tracebridge spans and the handler's ${res.length} spans of the fault arrive (${Date.now() - t0} ms)`, { missing: missing.length, first: missing.slice(0, 3) });
        }
    } finally {
        t.diag('handler-observed invocation time (ms, emulator: event released → response), fault vs healthy baseline;');
        t.diag('and response → next invocation ready (ms, billed time after the response):');
        t.diag(rows.map((r) => `${r.name.padEnd(20)} healthy median ${fmt(r.base)} | fault median ${fmt(r.median)} (${r.median - r.base >= 0 ? '+' : ''}${fmt(r.median - r.base)}) p90 ${fmt(r.p90)} max ${fmt(r.max)} | after response median ${fmt(r.afterMedian)} max ${fmt(r.afterMax)}`).join('\n'));
    }
}

// A long outage, then SHUTDOWN once the backend is back: the backoff grown meanwhile must not
// make the last flush give up (it once recursed until the stack overflowed: SIGSEGV at
// SHUTDOWN, every buffered span lost). And Retry-After: 0 must not become a busy loop.
async function groupOutage() {
    const rids = [];
    const opts = { tmp: 'faults-outage', flush: 'end', shutdownMs: 1000, extEnv: { OTEL_EXPORTER_OTLP_TIMEOUT: '500' } };
    await withStack(t, 'outage then SHUTDOWN', opts, async ({ emu, sink }) => {
        await sink.fault('429:0');
        const t0 = Date.now();
        for (let i = 0; i < 5; i++) rids.push((await invokeEcho(emu, `ra0-${i}`)).rid);
        await sleep(1000);
        const n429 = sink.requests().filter((q) => q.status === 429).length;
        t.ok(n429 <= 40, `Retry-After: 0 answered to every request: ${n429} requests in ${Date.now() - t0} ms (backoff, not a busy loop)`);
        await sink.fault('down');
        for (let i = 0; i < 20; i++) {
            const r = await invokeEcho(emu, `outage-${i}`);
            if (!r.ok) t.diag(r);
            rids.push(r.rid);
            await sleep(100);
        }
        await sink.fault('ok');
        return emu.shutdown();
    }, (sd, { sink }) => {
        const ext = sd?.extensions?.[0];
        t.ok(ext && ext.code === 0 && !ext.killed, 'after an outage: tracebridge flushed and exited 0 at SHUTDOWN', sd);
        const spans = sink.spans();
        const lost = rids.filter((r) => !tbSpan(spans, r) || !handlerSpan(spans, r));
        t.ok(lost.length === 0, `after an outage: the ${rids.length} invocations' spans buffered during it were delivered at SHUTDOWN`, { lost: lost.length });
    });
}

// ---- crash, timeout -----------------------------------------------------------------------------

async function groupFailures() {
    await withStack(t, 'crash/timeout', { tmp: 'faults-fail', flush: 'invoke', timeoutMs: 1500, shutdownMs: 1500 }, async ({ emu, sink }) => {
        const w = await invokeEcho(emu, 'warm');
        t.ok(w.ok && w.cold, 'first invocation works (cold start)', w);
        for (const [label, payload, outcome, wantOutcome] of [
            ['crash mid-request', { mode: 'crash' }, 'crash', 'crash'],
            ['timeout', { mode: 'timeout' }, 'timeout', 'timeout'],
        ]) {
            const tp = newTp();
            const r = await emu.invoke({ ...payload, __traceparent__: tp });
            const rid = r.headers['x-amzn-requestid'];
            t.eq(r.headers['x-emu-outcome'], outcome, `${label}: the caller gets the ${outcome}`);
            const next = await invokeEcho(emu, `after-${label}`);
            t.ok(next.ok && next.cold, `${label}: the next invocation works, in a new environment (cold start)`, next);
            const sp = await waitFor(() => tbSpan(sink.spans(), rid), 6000 * SLOW);
            t.ok(sp && sp.status.code === 'ERROR' && sp.attributes['tracebridge.invocation.outcome'] === wantOutcome && sp.traceId === tp.slice(3, 35) && sp.parentSpanId === tp.slice(36, 52),
                `${label}: the failed invocation's span is ERROR with tracebridge.invocation.outcome=${wantOutcome}, joined to the caller's context`, sp && { status: sp.status, attrs: sp.attributes });
        }
        const resets = (await emu.log()).filter((x) => x.type === 'shutdown-done');
        t.ok(resets.length >= 2 && resets.every((s) => s.extensions.every((e) => e.code === 0 && !e.killed)), `every reset (${resets.map((s) => s.reason).join(', ')}): tracebridge flushed and exited 0 within the SHUTDOWN deadline`, resets);
    });
}

async function groupStreamCrash() {
    const opts = { tmp: 'faults-stream', handler: 'orders.stream', flush: 'invoke', timeoutMs: 2000, shutdownMs: 1500 };
    await withStack(t, 'crash mid-stream', opts, async ({ emu, sink }) => {
        const w = await emu.invoke({ chunks: 3, chunkSize: 100 });
        t.ok(w.status === 200 && w.body.length === 300, 'streaming handler works', w.status);
        const tp = newTp();
        const r = await emu.invoke({ mode: 'crash', chunks: 5, chunkSize: 1000, gapMs: 20, __traceparent__: tp });
        const body = r.body.toString();
        t.ok(body.startsWith('a'.repeat(999) + '\n') && body.length < 5000, `crash mid-stream: the caller got the part streamed before the crash (${body.length} bytes), then the end`, body.slice(0, 50));
        const log = await emu.log();
        const rid = log.filter((x) => x.type === 'invoke').at(-1).requestId;
        const res = log.find((x) => x.type === 'result' && x.requestId === rid);
        t.ok(res && res.outcome === 'crash', 'crash mid-stream: outcome crash', res);
        const next = await emu.invoke({ chunks: 3, chunkSize: 100 });
        t.ok(next.status === 200 && next.body.toString() === 'a'.repeat(99) + '\n' + 'b'.repeat(99) + '\n' + 'c'.repeat(99) + '\n', 'crash mid-stream: the next streamed invocation is byte-identical', next.body.length);
        const sp = await waitFor(() => tbSpan(sink.spans(), rid), 6000 * SLOW);
        t.ok(sp && sp.status.code === 'ERROR' && sp.attributes['tracebridge.invocation.outcome'] === 'crash' && sp.traceId === tp.slice(3, 35),
            'crash mid-stream: span ERROR with tracebridge.invocation.outcome=crash', sp && { status: sp.status, attrs: sp.attributes });
    });
}

// ---- big events and headers --------------------------------------------------------------------

async function groupBig() {
    const big = (n) => {
        const blob = crypto.randomBytes(n * 3 / 4).toString('base64');
        return { blob, sha: sha256(blob) };
    };
    await withStack(t, 'big events', { tmp: 'faults-big', flush: 'invoke' }, async ({ emu, sink, handled }) => {
        // 6 MB event (under the default 8 MiB limit): rewritten.
        const b = big(6 * 1000 * 1000);
        const tp = newTp();
        const r = await emu.invoke({ order: 1, __traceparent__: tp, blob: b.blob, tail: 'end', echo: 'big' });
        const rid = r.headers['x-amzn-requestid'];
        t.ok(r.status === 200 && r.body.toString() === '{"ok":true,"processed":1,"echo":"big"}', '6 MB event: the function works, answer byte-identical', r.body.toString().slice(0, 100));
        const ev = handled().find((x) => x.requestId === rid)?.event;
        t.ok(ev && !('__traceparent__' in ev) && ev.tail === 'end' && sha256(ev.blob) === b.sha && STRICT_TP.test(ev.headers?.traceparent ?? '') && ev.headers.traceparent.slice(3, 35) === tp.slice(3, 35),
            '6 MB event: rewritten (traceparent promoted into headers, __traceparent__ stripped, 6 MB of data intact)', ev && { keys: Object.keys(ev), headers: ev.headers });
        const sp = await waitFor(async () => {
            await invokeEcho(emu, 'kick');
            return tbSpan(sink.spans(), rid);
        }, 5000 * SLOW);
        t.ok(sp && sp.traceId === tp.slice(3, 35) && sp.parentSpanId === tp.slice(36, 52) && ev?.headers?.traceparent.slice(36, 52) === sp.spanId, '6 MB event: handler context is the tracebridge span, child of the caller');

        // A 5 MB response through the proxy.
        const rr = await emu.invoke({ respBytes: 5 * 1000 * 1000, echo: 'resp' });
        const want = JSON.stringify({ ok: true, processed: 1, pad: 'r'.repeat(5 * 1000 * 1000), echo: 'resp' });
        t.ok(rr.status === 200 && rr.body.length === want.length && rr.body.toString() === want, `5 MB response: byte-identical (${rr.body.length} bytes)`);

        // ~1 MiB header: the runtime's X-Ray error cause (Lambda-Runtime-Function-XRay-Error-Cause)
        // carrying a 1 MiB - 4 KiB error message goes through the proxy intact.
        const n = 1024 * 1024 - 4096;
        const re = await emu.invoke({ mode: 'error', errorBytes: n });
        const rid2 = re.headers['x-amzn-requestid'];
        let msgOk = false;
        try {
            msgOk = json(re).errorMessage === 'E'.repeat(n);
        } catch { /* not JSON */ }
        t.ok(re.headers['x-amz-function-error'] === 'Unhandled' && msgOk, '~1 MiB error: the caller gets the whole error message');
        const xc = (await emu.log()).find((x) => x.type === 'xray-error-cause' && x.requestId === rid2);
        t.ok(xc && xc.bytes > n && xc.json && xc.messageSha256 === sha256('E'.repeat(n)), `~1 MiB header: the X-Ray error cause (${xc?.bytes} bytes) reached the Runtime API intact`, xc);
        const after = await invokeEcho(emu, 'after-big');
        t.ok(after.ok, 'after the big ones: the next invocation works', after);
    });

    // Over TRACEBRIDGE_MAX_EVENT_BYTES: relayed unchanged, the function still works.
    const overOpts = { tmp: 'faults-big2', flush: 'invoke', env: { TRACEBRIDGE_MAX_EVENT_BYTES: String(4 * 1024 * 1024) } };
    await withStack(t, 'event over the limit', overOpts, async ({ emu, handled }) => {
        const b = big(6 * 1000 * 1000);
        const tp = newTp();
        const raw = JSON.stringify({ order: 1, __traceparent__: tp, blob: b.blob, echo: 'over' });
        const r = await emu.invoke(raw);
        const rid = r.headers['x-amzn-requestid'];
        t.ok(r.status === 200 && r.body.toString() === '{"ok":true,"processed":1,"echo":"over"}', '6 MB event over a 4 MiB limit: the function works');
        const ev = handled().find((x) => x.requestId === rid)?.event;
        t.ok(ev && JSON.stringify(ev) === raw, '6 MB event over the limit: the handler got it unchanged', ev && Object.keys(ev));
    });
}

// ---- hostile trace values -----------------------------------------------------------------------

const RESERVED = ['__traceparent__', '__tracestate__', '__baggage__'];
const CTX_KEYS = ['traceparent', 'tracestate', 'baggage'];

// What the handler got, minus what tracebridge may legitimately change: reserved keys, the
// context keys in headers (and headers itself if the event had none).
function normalise(ev, hadHeaders) {
    if (!ev || typeof ev !== 'object' || Array.isArray(ev)) return JSON.stringify(ev);
    const o = { ...ev };
    for (const k of RESERVED) delete o[k];
    if (o.headers && typeof o.headers === 'object') {
        o.headers = { ...o.headers };
        for (const k of CTX_KEYS) delete o.headers[k];
        if (!hadHeaders) delete o.headers;
    }
    if (o.multiValueHeaders && typeof o.multiValueHeaders === 'object') {
        o.multiValueHeaders = { ...o.multiValueHeaders };
        for (const k of CTX_KEYS) delete o.multiValueHeaders[k];
    }
    return JSON.stringify(o);
}

function hostileCases() {
    const tid = hex(16);
    const sid = hex(8);
    const valid = `00-${tid}-${sid}-01`;
    const deep = (n, inner) => '{"a":'.repeat(n) + inner + '}'.repeat(n);
    const str = (s) => JSON.stringify(s);
    const direct = (v) => `{"n":1,"__traceparent__":${v}}`;
    const cases = [
        ['CR/LF (escaped)', direct(str(`${valid}\r\nx-evil: 1`))],
        ['CR/LF in tracestate', `{"__traceparent__":${str(valid)},"__tracestate__":${str('a=b\r\nx-evil: 1')}}`],
        ['quotes', direct(str(`${valid}","evil":"1`))],
        ['backslashes', direct(str(`${valid}\\\\\\`))],
        ['overlong (suffix on version 00)', direct(str(`${valid}-${'a'.repeat(100000)}`))],
        ['overlong (1 MiB value)', direct(str('0'.repeat(1024 * 1024)))],
        ['future version with a long tail', direct(str(`cc-${tid}-${sid}-01-${'x'.repeat(5000)}`))],
        ['upper-case hex', direct(str(`00-${tid.toUpperCase()}-${sid.toUpperCase()}-01`))],
        ['non-hex', direct(str(`00-${tid.slice(0, 31)}g-${sid}-01`))],
        ['all-zero trace id', direct(str(`00-${'0'.repeat(32)}-${sid}-01`))],
        ['version ff', direct(str(`ff-${tid}-${sid}-01`))],
        ['not a string', direct(`{"traceparent":${str(valid)}}`)],
        ['number', direct('123456789012345678901234567890')],
        ['JSON escapes for the digits', direct(`"\\u0030\\u0030-${tid}-${sid}-01"`)],
        ['NUL inside', direct(`"${valid}\\u0000"`)],
        ['lone surrogate', direct(`"${valid}\\ud800"`)],
        ['duplicate keys (hostile, valid)', `{"__traceparent__":${str(`${valid}\r\nx: 1`)},"__traceparent__":${str(valid)},"n":2}`],
        ['duplicate keys (valid, hostile)', `{"__traceparent__":${str(valid)},"__traceparent__":${str(`${valid}"x`)},"n":3}`],
        ['duplicate headers.traceparent', `{"headers":{"traceparent":${str(valid)},"traceparent":"evil\\r\\n"},"n":4}`],
        // (2000: the Node handler's own JSON.stringify of the event gives up a little above 3000)
        ['deep nesting (2000 levels) + valid context', `{"__traceparent__":${str(valid)},"d":${deep(2000, '1')}}`],
        ['deep nesting (2000 levels) first, context after', `{"d":${deep(2000, '[]')},"__traceparent__":${str(valid)}}`],
        ['context nested deep (not top-level)', deep(200, `{"__traceparent__":${str(valid)}}`)],
        ['headers.traceparent hostile (API-style)', `{"headers":{"traceparent":${str(`${valid}\r\nx: 1`)},"Content-Type":"a"},"body":"x"}`],
        ['headers not an object', `{"headers":"traceparent: ${valid}","__traceparent__":${str(valid)}}`],
        ['top-level array', `[{"__traceparent__":${str(valid)}}]`],
        ['top-level string', str(valid)],
    ];
    const bin = [
        ['invalid UTF-8 in the value', Buffer.concat([Buffer.from(`{"__traceparent__":"${valid}`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])],
        ['invalid UTF-8 elsewhere + valid context', Buffer.concat([Buffer.from(`{"x":"`), Buffer.from([0xed, 0xa0, 0x80, 0xfe]), Buffer.from(`","__traceparent__":"${valid}"}`)])],
    ];
    return [...cases.map(([n, s]) => [n, Buffer.from(s)]), ...bin];
}

async function groupHostile() {
    await withStack(t, 'hostile trace values', { tmp: 'faults-hostile', flush: 'invoke' }, async ({ emu, handled }) => {
        await invokeEcho(emu, 'warm');
        const pid = await extensionPid(emu);
        const bad = [];
        const outcomes = [];
        let n = 0;
        const check = (label, sentBuf, rec, hdrBefore, ccBefore) => {
            n++;
            if (!rec) return bad.push({ label, why: 'handler did not record the event' });
            let sent;
            try {
                sent = JSON.parse(sentBuf.toString('utf8'));
            } catch {
                sent = undefined;
            }
            const hadHeaders = sent && typeof sent === 'object' && !Array.isArray(sent) && 'headers' in sent;
            if (hdrBefore === undefined && hadHeaders) hdrBefore = sent.headers?.traceparent;
            const tp = rec.event?.headers?.traceparent;
            if (tp !== undefined && tp !== hdrBefore && !(typeof tp === 'string' && STRICT_TP.test(tp))) bad.push({ label, why: 'headers.traceparent is neither the original nor valid', tp: String(tp).slice(0, 120) });
            const cc = rec.clientContext?.Custom?.traceparent ?? rec.clientContext?.custom?.traceparent;
            if (cc !== undefined && cc !== ccBefore && !(typeof cc === 'string' && STRICT_TP.test(cc))) bad.push({ label, why: 'Client-Context custom.traceparent is neither the original nor valid', cc: String(cc).slice(0, 120) });
            // tracestate / baggage written next to a promoted traceparent: printable ASCII with
            // no quote or backslash (W3C grammar), or the original value.
            for (const k of ['tracestate', 'baggage']) {
                const v = rec.event?.headers?.[k];
                const before = hadHeaders ? sent.headers?.[k] : undefined;
                if (v !== undefined && v !== before && !(typeof v === 'string' && /^[\x20-\x7e]*$/.test(v) && !/["\\]/.test(v))) bad.push({ label, why: `headers.${k} is hostile`, v: String(v).slice(0, 120) });
                const c = rec.clientContext?.custom?.[k] ?? rec.clientContext?.Custom?.[k];
                if (c !== undefined && !(typeof c === 'string' && /^[\x20-\x7e]*$/.test(c) && !/["\\]/.test(c))) bad.push({ label, why: `Client-Context custom.${k} is hostile`, v: String(c).slice(0, 120) });
            }
            outcomes.push(`${label}: ${tp !== undefined && tp !== hdrBefore ? 'promoted' : 'unchanged'}`);
            if (normalise(rec.event, hadHeaders) !== normalise(sent, hadHeaders)) bad.push({ label, why: 'the rest of the event changed', got: JSON.stringify(rec.event).slice(0, 200), sent: JSON.stringify(sent).slice(0, 200) });
        };
        // Direct invokes with hostile values in the event.
        for (const [label, buf] of hostileCases()) {
            const r = await emu.invoke(buf);
            const rid = r.headers['x-amzn-requestid'];
            if (r.status !== 200 || r.headers['x-emu-outcome'] !== 'success') {
                bad.push({ label, why: 'invocation failed', status: r.status, outcome: r.headers['x-emu-outcome'], body: r.body.toString().slice(0, 200) });
                continue;
            }
            check(label, buf, handled().find((x) => x.requestId === rid));
        }
        // Hostile Client Context (the Java channel) with a valid and with no event context.
        const hostileCc = JSON.stringify({ custom: { traceparent: `${newTp()}\r\nx-evil: 1`, other: 'a"b\\c' }, env: {}, client: {} });
        for (const [label, payload] of [['hostile Client-Context, valid event context', { __traceparent__: newTp(), n: 5 }], ['hostile Client-Context, no event context', { n: 6 }]]) {
            const buf = Buffer.from(JSON.stringify(payload));
            const r = await emu.invoke(buf, { 'X-Amz-Client-Context': Buffer.from(hostileCc).toString('base64') });
            const rid = r.headers['x-amzn-requestid'];
            const rec = handled().find((x) => x.requestId === rid);
            if (r.headers['x-emu-outcome'] !== 'success') bad.push({ label, why: 'invocation failed', body: r.body.toString().slice(0, 200) });
            else {
                check(label, buf, rec, undefined, JSON.parse(hostileCc).custom.traceparent);
                if (rec && rec.clientContext?.Custom?.other !== 'a"b\\c' && rec.clientContext?.custom?.other !== 'a"b\\c') bad.push({ label, why: 'Client-Context custom.other changed', cc: rec.clientContext });
            }
        }
        // SQS message attributes and API Gateway headers with hostile values. viaSource: the
        // handler's record of the event source's invocation ({rec}), or null when it failed.
        const viaSource = async (label, route, body) => {
            const inv = (await emu.post(route, body)).invocations?.[0];
            if (!inv || inv.outcome !== 'success') {
                bad.push({ label, why: 'invocation failed', inv });
                return null;
            }
            n++;
            return { rec: handled().find((x) => x.requestId === inv.requestId) };
        };
        for (const v of [`${newTp()}\r\nx-evil: 1`, newTp().toUpperCase(), `${newTp()}"}`, 'x'.repeat(70000)]) {
            const label = `SQS attribute ${JSON.stringify(v.slice(0, 40))}`;
            const got = await viaSource(label, '/sqs/send', { queue: 'orders', messages: [{ body: '{"order":1}', messageAttributes: { traceparent: { DataType: 'String', StringValue: v } } }], returnEvent: true });
            if (!got) continue;
            const rec = got.rec;
            const tp = rec?.event?.headers?.traceparent;
            if (tp !== undefined && !STRICT_TP.test(tp)) bad.push({ label, why: 'invalid headers.traceparent', tp: String(tp).slice(0, 100) });
            if (rec?.event?.Records?.[0]?.messageAttributes?.traceparent?.stringValue !== v) bad.push({ label, why: 'the message attribute changed' });
        }
        for (const v of [`${newTp()}\r\nx-evil: 1`, newTp().toUpperCase(), 'evil', newTp() + ','.repeat(10000)]) {
            const label = `API GW v2 header ${JSON.stringify(v.slice(0, 40))}`;
            const got = await viaSource(label, '/apigw/v2', { method: 'POST', path: '/orders', headers: { traceparent: v, 'x-amzn-trace-id': `Root=1-${v}` }, body: '{}' });
            if (!got) continue;
            const tp = got.rec?.event?.headers?.traceparent;
            if (tp !== v && !STRICT_TP.test(tp ?? '')) bad.push({ label, why: 'headers.traceparent neither original nor valid', tp: String(tp).slice(0, 100) });
        }
        t.diag(outcomes.join('\n'));
        t.ok(bad.length === 0, `hostile trace values (${n} invocations): the handler got the original event or a correctly promoted valid context, never a hostile value in headers.traceparent or Client-Context`, bad.slice(0, 6));
        const crashes = (await emu.log()).filter((x) => x.type === 'crash' || x.type === 'shutdown-start');
        t.ok(alive(pid) && crashes.length === 0, 'hostile trace values: tracebridge still running (no crash, no reset)', crashes);
        const ok = await invokeEcho(emu, 'after-hostile');
        t.ok(ok.ok && !ok.cold, 'hostile trace values: the next invocation works in the same environment', ok);
    });
}

// ---- secrets -------------------------------------------------------------------------------------

async function groupSecrets() {
    const secret = `s3cr3t-${hex(8)}`;
    const opts = {
        tmp: 'faults-secrets', flush: 'invoke',
        extEnv: { OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${secret},x-api-key=${secret}k` },
        env: { TRACEBRIDGE_LOG_LEVEL: 'debug' },
    };
    await withStack(t, 'secrets', opts, async ({ emu, sink }) => {
        for (const mode of ['ok', '500', '429:0', 'down', 'ok']) {
            await sink.fault(mode);
            for (let i = 0; i < 3; i++) await invokeEcho(emu, `s-${mode}-${i}`);
        }
        await emu.shutdown();
    }, (_, { sink }, dir) => secretsNotLogged(secret, sink, dir));
}

// After the secrets run: the headers were sent, and their values are in no log of the run.
function secretsNotLogged(secret, sink, dir) {
    const procLog = fs.readFileSync(`${dir}/processes.log`, 'utf8');
    const extLines = procLog.split('\n').filter((l) => l.startsWith('[ext:tracebridge]'));
    // The export error paths are where a request's details could end up in a log line.
    const exportErrors = extLines.filter((l) => /"module":"exporter"/.test(l) && /"level":"(WARN|ERROR)"/.test(l));
    const sent = sink.requests().filter((q) => q.headers && q.headers.authorization === '<redacted>' && q.headers['x-api-key'] === '<redacted>');
    t.ok(sent.length > 0 && exportErrors.length >= 2, `secrets: the headers were sent to the backend (${sent.length} requests) and tracebridge logged its export failures at debug level (${extLines.length} lines, ${exportErrors.length} from the exporter)`);
    const leaks = [];
    for (const f of fs.readdirSync(dir)) {
        const p = `${dir}/${f}`;
        if (!fs.statSync(p).isFile() || f === 'sink-requests.jsonl') continue;
        const text = fs.readFileSync(p, 'utf8');
        if (text.includes(secret) || text.includes(encodeURIComponent(secret))) leaks.push(f);
    }
    t.ok(leaks.length === 0 && !extLines.some((l) => /s3cr3t/.test(l)), 'secrets: the OTLP header values appear in no tracebridge log line (and in no other log of the run)', leaks);
}

// ---- load: sequential and Managed Instances -------------------------------------------------------

async function groupLoad() {
    const N = QUICK ? 150 : 1000;
    const budgetMs = (QUICK ? 15000 : 30000) * SLOW;
    await withStack(t, 'sequential load', { tmp: 'faults-load', flush: 'invoke', env: { HANDLER_WORK_MS: '0' } }, async ({ emu, sink }) => {
        const rids = [];
        let peakFds = 0;
        const pid = await extensionPid(emu);
        for (let i = 0; i < 20; i++) await invokeEcho(emu, `warm${i}`);
        const info0 = procInfo(pid);
        const t0 = Date.now();
        const bad = [];
        for (let i = 0; i < N && Date.now() - t0 < budgetMs; i++) {
            const r = await invokeEcho(emu, `seq-${i}-${hex(4)}`);
            if (!r.ok) bad.push(r);
            rids.push(r.rid);
            if (i % 50 === 0) peakFds = Math.max(peakFds, procInfo(pid).fds);
        }
        const took = Date.now() - t0;
        const info1 = procInfo(pid);
        t.ok(bad.length === 0 && rids.length >= Math.min(N, 300), `sequential: ${rids.length} invocations in ${took} ms (${fmt(rids.length / took * 1000)}/s), all with the right bytes`, bad.slice(0, 3));
        t.diag(`sequential: tracebridge VmHWM ${info1.hwmKb} kB, VmRSS ${info0.rssKb} → ${info1.rssKb} kB, fds ${info0.fds} → ${info1.fds} (peak sampled ${peakFds})`);
        if (MEASURE_RSS) t.ok(info1.hwmKb < 32 * 1024, `sequential: tracebridge peak RSS ${(info1.hwmKb / 1024).toFixed(1)} MB < 32 MB`);
        t.ok(info1.fds <= info0.fds && info1.closeWait === 0 && info1.other === info0.other, `sequential: tracebridge fd count did not grow (${info0.fds} → ${info1.fds}), no socket left in CLOSE_WAIT`, info1);
        await emu.shutdown();
        const spans = sink.spans();
        const tbIds = new Set(spans.filter((s) => s.scope.name.startsWith('tracebridge')).map((s) => s.attributes['faas.invocation_id']));
        const hIds = new Set(spans.filter((s) => s.scope.name === '@opentelemetry/instrumentation-aws-lambda').map((s) => s.attributes['faas.invocation_id']));
        const lost = rids.filter((r) => !tbIds.has(r) || !hIds.has(r));
        t.ok(lost.length === 0, `sequential: every invocation's tracebridge span and handler span reached the backend (${rids.length} each)`, { lost: lost.length });
    });
}

async function groupConcurrent() {
    const C = 64;
    const rounds = QUICK ? 2 : 4;
    // A 10 s function timeout: 64 handlers at once on a small (2-CPU, sanitizer) machine can
    // take more than the default 3 s, and a timeout here would measure the machine, not tracebridge.
    await withStack(t, 'Managed Instances load', { tmp: 'faults-mi', mi: true, maxConcurrency: C, timeoutMs: 10000, env: { HANDLER_WORK_MS: '150' } }, async ({ emu, sink }) => {
        const pid = await extensionPid(emu);
        const round = async (tag) => Promise.all(Array.from({ length: C }, (_, i) => invokeEcho(emu, `${tag}-${i}-${hex(4)}`)));
        // The SDKs' keep-alive pools grow to the burst's peak over the first rounds (each
        // socket an open connection to the receiver): measure after they settled.
        await round('warm1');
        await round('warm2');
        const info0 = procInfo(pid);
        const all = [];
        for (let r = 0; r < rounds; r++) all.push(...(await round(`r${r}`)));
        const info1 = procInfo(pid);
        const bad = all.filter((x) => !x.ok);
        t.ok(bad.length === 0, `Managed Instances: ${all.length} invocations, ${C} at a time, all with the right bytes`, bad.slice(0, 3));
        // Peak in flight, from the emulator's dispatch and result records.
        const log = await emu.log();
        const evs = [];
        for (const x of log) {
            if (x.type === 'invoke') evs.push([x.t, 1]);
            if (x.type === 'result') evs.push([x.t, -1]);
        }
        evs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        let cur = 0;
        let peak = 0;
        for (const [, d] of evs) peak = Math.max(peak, (cur += d));
        t.ok(peak === C, `Managed Instances: ${peak} invocations were in flight at once`);
        t.diag(`Managed Instances: tracebridge VmHWM ${info1.hwmKb} kB, VmRSS ${info0.rssKb} → ${info1.rssKb} kB, fds ${info0.fds} → ${info1.fds}`);
        if (MEASURE_RSS) t.ok(info1.hwmKb < 32 * 1024, `Managed Instances: tracebridge peak RSS ${(info1.hwmKb / 1024).toFixed(1)} MB < 32 MB`);
        // The sockets are not flat here: the handler's SDK keeps adding keep-alive connections
        // to the receiver in bursts (all ESTABLISHED on both ends, bounded by
        // RECEIVER_MAX_CONNS). A leaked connection is one whose peer closed and tracebridge did
        // not (CLOSE_WAIT); other descriptors (pipes, files, timers) must stay exactly flat.
        t.ok(info1.other === info0.other && info1.closeWait === 0 && info1.sockets < 300,
            `Managed Instances: no descriptor leak over ${all.length} invocations (non-socket fds ${info0.other} → ${info1.other}, sockets ${info0.sockets} → ${info1.sockets}, none in CLOSE_WAIT)`, info1);
        await emu.shutdown();
        const spans = sink.spans();
        const tbIds = new Set(spans.filter((s) => s.scope.name.startsWith('tracebridge')).map((s) => s.attributes['faas.invocation_id']));
        const lost = all.filter((x) => !tbIds.has(x.rid));
        t.ok(lost.length === 0, `Managed Instances: every invocation's tracebridge span reached the backend at SHUTDOWN (${all.length})`, { lost: lost.length });
    });
}

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
const groups = [groupBackend, groupOutage, groupFailures, groupStreamCrash, groupBig, groupHostile, groupSecrets, groupLoad, groupConcurrent];
await runGroups(t, groups);
