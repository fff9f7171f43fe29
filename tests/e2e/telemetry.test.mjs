// SPDX-License-Identifier: Apache-2.0
// What the platform says, end to end: the REAL tracebridge extension subscribes to the
// emulator's Telemetry API (tests/emulator/telemetry.mjs: validation, batching, delivery after
// the response and at SHUTDOWN), and the platform's facts land on the spans the OTLP sink
// decodes: the cold start's init span, the report's duration, billed duration and memory, the
// runtimeDone outcome (error, timeout, out of memory), the SnapStart restore span, the tenant id,
// and Managed Instances (16 concurrent invocations, events shuffled, a timeout that is not
// enforced). A platform without the API, and one that accepts and never delivers (RIE), change
// nothing but one log line.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Tap, withStack, readJsonl, tbSpan, waitFor, TRACEBRIDGE, SLOW, QUICK, runGroups } from './lib/harness.mjs';

const t = new Tap();
const MiB = 1024 * 1024;
const ns = (s) => BigInt(s);
const ms = (a, b) => Number(ns(a) - ns(b)) / 1e6;
const tbSpans = (spans) => spans.filter((s) => s.scope.name.startsWith('tracebridge'));
const newTp = () => `00-${crypto.randomBytes(16).toString('hex')}-${crypto.randomBytes(8).toString('hex')}-01`;
const rid = (r) => r.headers['x-amzn-requestid'];
const near = (a, b, tol) => typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= tol;

function emuLog(dir) {
    return readJsonl(`${dir}/emulator.jsonl`);
}

// The platform.report record the emulator emitted for a request id (its own log has the type
// and id; the record is rebuilt from the invoke-done and init-done lines it was made from).
function invokeDone(log, id) {
    return log.find((x) => x.type === 'invoke-done' && x.requestId === id);
}

function tbLog(dir) {
    let text = '';
    try { text = fs.readFileSync(`${dir}/processes.log`, 'utf8'); } catch { /* none */ }
    return text.split('\n').filter((l) => l.startsWith('[ext:tracebridge] ')).map((l) => {
        try { return JSON.parse(l.slice(18)); } catch { return null; }
    }).filter(Boolean);
}

// ---- on-demand: cold start, warm, error, tenant --------------------------------------------

async function groupOnDemand() {
    const o = { tmp: 'tm-ondemand', flush: 'invoke', args: ['--telemetry-freeze'] };
    await withStack(t, 'on-demand', o, async ({ emu }) => {
        const tp = newTp();
        const a = await emu.invoke({ order: 1, __traceparent__: tp });
        const b = await emu.invoke({ order: 2 });
        const c = await emu.invoke({ mode: 'error' });
        const d = await emu.invoke({ order: 4 }, { 'X-Amz-Tenant-Id': 'tenant-blue' });
        const e = await emu.invoke({ order: 5 });
        t.ok([a, b, d, e].every((r) => r.status === 200 && !r.headers['x-amz-function-error']) && c.headers['x-amz-function-error'] === 'Unhandled',
            'on-demand: the invocations answer as without telemetry (four ok, one error)');
        await emu.shutdown();
        return { tp, ids: [a, b, c, d, e].map(rid) };
    }, async ({ tp, ids }, { sink }, dir) => {
        const [A, B, C, D, E] = ids;
        const spans = sink.spans();
        const log = emuLog(dir);
        const sub = log.find((x) => x.type === 'telemetry-subscribe');
        t.ok(sub && sub.schemaVersion === '2025-01-29' && sub.types.join() === 'platform' && sub.timeoutMs === 25 && sub.maxItems === 1000 && sub.maxBytes === 262144 && sub.path === '/',
            'subscription: schema 2025-01-29, platform events, buffering 25 ms / 1000 items / 256 KiB, destination sandbox.localdomain:<port>/', sub);
        const subAt = log.findIndex((x) => x.type === 'telemetry-subscribe');
        const firstNext = log.findIndex((x) => x.type === 'ext-next');
        const reg = log.findIndex((x) => x.type === 'ext-register');
        t.ok(reg >= 0 && reg < subAt && subAt < firstNext, 'subscribed after register, before the first /event/next');
        const started = tbLog(dir).find((l) => l.level === 'INFO' && /^started in \d+\.\d{3} ms \(exec to registered and subscribed/.test(l.msg));
        t.ok(started, 'one INFO line: how long from exec to registered (and subscribed)', started);
        t.diag(started?.msg ?? 'no start-up line');

        const sa = tbSpan(spans, A);
        const init = spans.find((s) => s.name === 'aws.lambda.init');
        const initDone = log.find((x) => x.type === 'init-done');
        t.ok(sa && sa.attributes['faas.coldstart'] === true && near(sa.attributes['aws.lambda.init_duration_ms'], initDone?.initDurationMs, 2),
            'cold start: faas.coldstart=true and the report\'s init duration on the first invocation', sa?.attributes);
        t.ok(init && sa && init.traceId === sa.traceId && init.parentSpanId === sa.spanId && sa.traceId === tp.slice(3, 35),
            'init span: in the first invocation\'s trace (the caller\'s), child of its span', init && { trace: init.traceId, parent: init.parentSpanId });
        t.ok(init && init.attributes['aws.lambda.init.phase'] === 'init' && init.attributes['aws.lambda.init.type'] === 'on-demand' &&
            /^nodejs:\d+\.v\d+$/.test(init.attributes['aws.lambda.runtime_version']) && init.status.code !== 'ERROR' &&
            near(init.attributes['aws.lambda.init_duration_ms'], initDone?.initDurationMs, 2),
            'init span: phase, type, runtime version, duration from initReport', init?.attributes);
        t.ok(init && sa && ns(init.endTimeUnixNano) <= ns(sa.startTimeUnixNano) && near(ms(init.endTimeUnixNano, init.startTimeUnixNano), initDone?.initDurationMs, 3),
            'init span: initStart to initRuntimeDone, before the invocation', init && { durMs: ms(init.endTimeUnixNano, init.startTimeUnixNano), init: initDone });
        t.eq(spans.filter((s) => s.name === 'aws.lambda.init').length, 1, 'one init span for the sandbox');

        for (const [label, id] of [['cold', A], ['warm', B], ['tenant', D], ['last before SHUTDOWN', E]]) {
            const s = tbSpan(spans, id);
            const at = s?.attributes ?? {};
            const done = invokeDone(log, id);
            t.ok(s && (done ? near(at['aws.lambda.duration_ms'], done.durationMs, 3) : at['aws.lambda.duration_ms'] > 0) && at['aws.lambda.billed_duration_ms'] === Math.ceil(at['aws.lambda.duration_ms']) &&
                at['aws.lambda.max_memory_used_mb'] > 0 && at['aws.lambda.max_memory_used_mb'] <= 128 && at['faas.max_memory'] === 128 * MiB &&
                at['aws.lambda.status'] === 'success' && s.status.code !== 'ERROR',
                `${label}: duration, billed duration, max memory used, memory size and status from platform.report`, { at, done });
        }
        t.ok(tbSpan(spans, B)?.attributes['faas.coldstart'] === false && !('aws.lambda.init_duration_ms' in (tbSpan(spans, B)?.attributes ?? {})), 'warm: not a cold start, no init duration');
        const sc = tbSpan(spans, C);
        t.ok(sc && sc.status.code === 'ERROR' && sc.attributes['aws.lambda.status'] === 'error' && sc.attributes['error.type'] === 'Runtime.Unknown' &&
            sc.events.some((x) => x.name === 'exception'),
            'error: ERROR from the proxy (exception event), confirmed by runtimeDone (aws.lambda.status=error, error.type)', sc && { status: sc.status, at: sc.attributes });
        t.eq(tbSpan(spans, D)?.attributes['aws.lambda.tenant_id'], 'tenant-blue', 'tenant isolation: aws.lambda.tenant_id (Lambda-Runtime-Aws-Tenant-Id and the events\' tenantId)');
        t.ok(!('aws.lambda.tenant_id' in (tbSpan(spans, B)?.attributes ?? {})), 'no tenant: no tenant id');
        // Frozen between invocations: each report reached tracebridge during the next invocation
        // (or at SHUTDOWN), after its own invocation was over.
        const batches = log.filter((x) => x.type === 'telemetry-send'); // when each POST began
        const gaps = ids.slice(0, -1).map((id, i) => [invokeDone(log, id)?.t, log.find((x) => x.type === 'invoke' && x.requestId === ids[i + 1])?.t]);
        t.ok(gaps.every(([from, to]) => from !== undefined && to !== undefined && !batches.some((bt) => bt.t > from && bt.t < to)),
            'with --telemetry-freeze nothing was delivered between an invocation\'s end and the next INVOKE');
    });
}

// ---- timeout, out of memory ----------------------------------------------------------------

async function groupTimeout() {
    await withStack(t, 'timeout', { tmp: 'tm-timeout', flush: 'invoke', timeoutMs: 1500, shutdownMs: 1500 }, async ({ emu, sink }) => {
        const r = await emu.invoke({ mode: 'timeout' });
        t.eq(r.headers['x-emu-outcome'], 'timeout', 'timeout: the caller gets the timeout');
        const s = await waitFor(() => tbSpan(sink.spans(), rid(r)), 6000 * SLOW);
        const at = s?.attributes ?? {};
        t.ok(s && s.status.code === 'ERROR' && at['tracebridge.invocation.outcome'] === 'timeout' && at['aws.lambda.status'] === 'timeout' &&
            at['error.type'] === 'Sandbox.Timedout' && at['aws.lambda.billed_duration_ms'] >= 1500,
            'timeout: ERROR, outcome timeout, runtimeDone status timeout, error.type Sandbox.Timedout, billed duration past the timeout', s && { status: s.status, at });
        const next = await emu.invoke({ order: 1 });
        t.ok(next.status === 200 && next.headers['x-emu-cold-start'] === 'true', 'timeout: the next invocation runs in a new sandbox');
        await emu.shutdown();
    });
}

async function groupOutOfMemory() {
    const o = { tmp: 'tm-oom', flush: 'invoke', timeoutMs: 5000, shutdownMs: 1500, args: ['--enforce-memory', '--memory', '256'] };
    await withStack(t, 'out of memory', o, async ({ emu, sink }) => {
        const r = await emu.invoke({ mode: 'oom' });
        t.ok(r.headers['x-emu-outcome'] === 'crash' && r.headers['x-emu-error-type'] === 'Runtime.OutOfMemory', 'out of memory: the runtime was killed (Runtime.OutOfMemory)', r.headers);
        const s = await waitFor(() => tbSpan(sink.spans(), rid(r)), 6000 * SLOW);
        const at = s?.attributes ?? {};
        t.ok(s && s.status.code === 'ERROR' && s.status.message === 'out of memory' && at['tracebridge.invocation.outcome'] === 'out_of_memory' &&
            at['error.type'] === 'Runtime.OutOfMemory' && at['aws.lambda.out_of_memory'] === true,
            'out of memory: named as such (outcome out_of_memory, error.type Runtime.OutOfMemory, aws.lambda.out_of_memory)', s && { status: s.status, at });
        t.ok(at['aws.lambda.max_memory_used_mb'] === 256 && at['faas.max_memory'] === 256 * MiB, 'out of memory: max memory used == memory size (256 MB)', at);
        const next = await emu.invoke({ order: 1 });
        t.ok(next.status === 200 && !next.headers['x-amz-function-error'], 'out of memory: the next invocation works');
        await emu.shutdown();
    });
}

// ---- SnapStart ------------------------------------------------------------------------------

async function groupRestore() {
    await withStack(t, 'SnapStart restore', { tmp: 'tm-restore', flush: 'invoke', args: ['--restore-events'] }, async ({ emu }) => {
        const a = await emu.invoke({ order: 1 });
        const b = await emu.invoke({ order: 2 });
        await emu.shutdown();
        return [rid(a), rid(b)];
    }, async ([A, B], { sink }) => {
        const spans = sink.spans();
        const sa = tbSpan(spans, A);
        const rs = spans.find((s) => s.name === 'aws.lambda.restore');
        const dur = rs && ms(rs.endTimeUnixNano, rs.startTimeUnixNano);
        t.ok(rs && sa && rs.traceId === sa.traceId && rs.parentSpanId === sa.spanId && ns(rs.endTimeUnixNano) <= ns(sa.startTimeUnixNano) + 5000000n,
            'restore span: child of the first invocation after the restore, before it', rs && { rs: rs.attributes, parent: rs.parentSpanId });
        t.ok(rs && near(rs.attributes['aws.lambda.restore_duration_ms'], dur, 2) && rs.attributes['aws.lambda.status'] === 'success' && /^nodejs:/.test(rs.attributes['aws.lambda.runtime_version']),
            'restore span: restoreStart to restoreRuntimeDone, restoreReport\'s duration, status, runtime version', rs?.attributes);
        t.ok(sa && sa.attributes['faas.coldstart'] === true && near(sa.attributes['aws.lambda.restore_duration_ms'], dur, 2) && !('aws.lambda.init_duration_ms' in sa.attributes),
            'restored invocation: cold start, restore duration, no init duration (SnapStart reports the init elsewhere)', sa?.attributes);
        t.ok(tbSpan(spans, B) && !('aws.lambda.restore_duration_ms' in tbSpan(spans, B).attributes) && spans.filter((s) => s.name === 'aws.lambda.restore').length === 1,
            'one restore span; the next invocation has none');
    });
}

// ---- Managed Instances ------------------------------------------------------------------------

async function groupManagedInstances() {
    const C = 16;
    const o = { tmp: 'tm-mi', mi: true, maxConcurrency: C + 1, timeoutMs: 2000, shutdownMs: 2000, env: { HANDLER_WORK_MS: '50' } };
    await withStack(t, 'Managed Instances', o, async ({ emu }) => {
        const all = await Promise.all(Array.from({ length: C }, (_, i) => emu.invoke({ order: i, mode: 'sleep', sleepMs: 10 * (i % 5) }, { 'X-Amz-Tenant-Id': `tenant-${i % 4}` })));
        t.ok(all.every((r) => r.status === 200 && !r.headers['x-amz-function-error']), `Managed Instances: ${C} concurrent invocations answered`);
        // A timeout is not enforced: the caller hears of it at the deadline, the runtime answers later.
        const late = await emu.invoke({ mode: 'sleep', sleepMs: 2600 });
        t.eq(late.headers['x-emu-outcome'], 'timeout', 'Managed Instances: the caller gets the timeout at the deadline');
        await waitFor(async () => (await emu.log()).some((x) => x.type === 'rapi' && x.late && x.path.includes(rid(late))), 3000 * SLOW);
        await new Promise((r) => setTimeout(r, 2500)); // the hold and the 1 s export clock
        await emu.shutdown();
        return { all: all.map((r, i) => ({ id: rid(r), i })), late: rid(late) };
    }, async ({ all, late }, { sink }, dir) => {
        const spans = sink.spans();
        const log = emuLog(dir);
        const took = new Map(log.filter((x) => x.type === 'result').map((x) => [x.requestId, x.t - (log.find((y) => y.type === 'invoke' && y.requestId === x.requestId)?.t ?? 0)]));
        const bad = [];
        // The emulator's report duration against its own log's invoke-to-result time: 4.4 ms apart
        // once for the cold first of 16 concurrent invocations on a loaded 2-CPU machine.
        for (const { id, i } of all) {
            const s = tbSpan(spans, id);
            const at = s?.attributes ?? {};
            if (!s || at['aws.lambda.status'] !== 'success' || typeof at['aws.lambda.duration_ms'] !== 'number' || at['aws.lambda.tenant_id'] !== `tenant-${i % 4}` ||
                'aws.lambda.billed_duration_ms' in at || 'aws.lambda.max_memory_used_mb' in at || !near(at['aws.lambda.duration_ms'], took.get(id), 6)) bad.push({ id, i, at, took: took.get(id) });
        }
        t.ok(bad.length === 0, `Managed Instances: each of the ${C} spans has its own report (status, duration) and tenant, no billed duration or memory`, bad.slice(0, 3));
        t.ok(log.some((x) => x.type === 'telemetry-event' && x.event === 'platform.report') && !log.some((x) => x.type === 'telemetry-event' && x.event === 'platform.runtimeDone'),
            'Managed Instances: reports, no runtimeDone');
        t.ok(log.filter((x) => x.type === 'telemetry-batch').every((x) => x.shuffled && x.ok), 'Managed Instances: every batch was delivered, its events shuffled');
        const sl = tbSpan(spans, late);
        const at = sl?.attributes ?? {};
        const inv = log.find((x) => x.type === 'invoke' && x.requestId === late);
        t.ok(sl && at['tracebridge.invocation.outcome'] === 'timeout' && sl.status.code === 'ERROR' && inv &&
            Math.abs(Number(ns(sl.endTimeUnixNano) / 1000000n) - inv.deadlineMs) <= 2,
            'Managed Instances: the timed-out invocation\'s span ends at its deadline, status timeout', sl && { at, end: Number(ns(sl.endTimeUnixNano) / 1000000n), deadline: inv?.deadlineMs });
        t.ok(at['aws.lambda.status'] === 'timeout' && at['aws.lambda.duration_ms'] >= 2500, 'Managed Instances: the late answer was accepted and its report (status timeout, the whole duration) reached the span', at);
    });
}

// ---- platforms without it ---------------------------------------------------------------------

async function groupWithout() {
    for (const [mode, line] of [['refuse', /refused the subscription/], ['silent', /accepted the subscription but has sent no event/]]) {
        await withStack(t, `Telemetry API ${mode}`, { tmp: `tm-${mode}`, flush: 'end', args: ['--telemetry', mode] }, async ({ emu, sink }) => {
            const a = await emu.invoke({ order: 1 });
            const b = await emu.invoke({ order: 2 });
            const s = await waitFor(() => tbSpan(sink.spans(), rid(b)), 3000 * SLOW);
            t.ok(a.status === 200 && b.status === 200 && s && !Object.keys(s.attributes).some((k) => k.startsWith('aws.lambda.')),
                `${mode}: spans go out at once, as before, with no platform facts`, s?.attributes);
            await emu.shutdown();
        }, async (r, st, dir) => {
            const lines = tbLog(dir).filter((l) => line.test(l.msg));
            t.eq(lines.length, 1, `${mode}: said once in the log`);
        });
    }
    await withStack(t, 'TRACEBRIDGE_TELEMETRY=off', { tmp: 'tm-off', flush: 'end', env: { TRACEBRIDGE_TELEMETRY: 'off' } }, async ({ emu, sink }) => {
        const a = await emu.invoke({ order: 1 });
        const s = await waitFor(() => tbSpan(sink.spans(), rid(a)), 3000 * SLOW);
        t.ok(s && !('aws.lambda.status' in s.attributes), 'off: spans without platform facts');
        await emu.shutdown();
    }, async (r, st, dir) => {
        t.ok(!emuLog(dir).some((x) => x.type === 'subscribe'), 'off: no subscription');
    });
}

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
const groups = QUICK ? [groupOnDemand, groupTimeout] : [groupOnDemand, groupTimeout, groupOutOfMemory, groupRestore, groupManagedInstances, groupWithout];
await runGroups(t, groups);
