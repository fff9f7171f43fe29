// SPDX-License-Identifier: Apache-2.0
// What tracebridge costs a real handler stack (tests/stacks/*), measured in the project's emulator:
//   warm: the invocation time the emulator sees (the event released to the runtime until its
//         response arrived: the handler, its instrumentation's flush, the runtime client and,
//         with tracebridge, the proxy both ways), with and without tracebridge, two environments
//         side by side and invocations interleaved one by one (A, B, A, B, ...);
//   cold: from the exec of the runtime (through the wrappers) to its first /next reaching the
//         Runtime API, and the whole init (extensions started and registered, runtime ready),
//         with and without the extension + wrapper, alternating.
// Without tracebridge the handler's SDK exports straight to the OTLP sink on loopback (a backend
// with no network delay, so the comparison leaves out the flush time tracebridge saves).
// Direct invokes with a sampled __traceparent__ (the promotion path); the handler does no work
// of its own (HANDLER_WORK_MS=0).
//   node tests/bench/bench_stacks.mjs [stack...]    (env TB_BENCH_STACK_INVOKES, TB_BENCH_COLD,
//   TB_BENCH_TB_ENV)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

// Every temporary folder of the run under one base, removed at the end.
process.env.TB_E2E_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-bench-stacks-'));
process.on('exit', () => fs.rmSync(process.env.TB_E2E_TMP, { recursive: true, force: true }));
const { startEmulator, startTracebridgeStack, startSink, tmpDir, sleep, waitFor, TRACEBRIDGE } = await import('../e2e/lib/harness.mjs');
const { STACKS } = await import('../stacks/lib/stacks.mjs');
const { benchStacks } = await import('../stacks/lib/jvmgo.mjs');

const N = Number(process.env.TB_BENCH_STACK_INVOKES ?? 200);
const COLD = Number(process.env.TB_BENCH_COLD ?? 10);
const WARMUP = 10;
const want = process.argv.slice(2);

const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const f2 = (x) => (x === undefined ? '-' : x.toFixed(2));
const tp = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
// Java and Go stacks bring their own emulator options (--provided for Go), handler and variables.
const common = (stack) => ({ args: stack.args ?? ['--execution-env', stack.execEnv], runtime: stack.runtime, handler: stack.handler, timeoutMs: 10000, shutdownMs: 2000 });

// One environment of the stack: with tracebridge (extension, wrapper, default settings) or
// without (the stack's own wrapper only, the SDK exporting to the sink).
async function start(stack, withTb, dir, sink) {
    const env = { HANDLER_WORK_MS: '0', HANDLER_EVENTS_OUT: '', ...(stack.env || {}) };
    if (withTb) {
        if (stack.next) env.TRACEBRIDGE_NEXT_WRAPPER = stack.next;
        // TB_BENCH_TB_ENV: more tracebridge settings as JSON, to see where a difference comes from.
        const extra = JSON.parse(process.env.TB_BENCH_TB_ENV || '{}');
        const st = await startTracebridgeStack({ dir, sink, flush: 'invoke', env: { ...env, TRACEBRIDGE_LOG_LEVEL: 'info', ...extra }, ...common(stack), ...(stack.tbRuntime ? { runtime: stack.tbRuntime(dir) } : {}) });
        return st.emu;
    }
    if (stack.next) env.AWS_LAMBDA_EXEC_WRAPPER = stack.next;
    return startEmulator({ dir, env, rtEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint }, ...common(stack) });
}

async function invoke(emu) {
    const r = await emu.invoke({ order: 1, __traceparent__: tp() });
    if (r.status !== 200 || r.headers['x-emu-outcome'] !== 'success') throw new Error(`invoke failed: ${r.status} ${r.headers['x-emu-outcome']} ${r.body}`);
    return Number(r.headers['x-emu-duration-ms']);
}

async function warm(stack) {
    const dir = tmpDir(`bench-${stack.name}`);
    const sink = await startSink(dir);
    const a = await start(stack, true, dir, sink);
    // One init at a time: two JVMs with the agent starting together on 2 cores can pass
    // Lambda's 10 s init limit.
    await invoke(a);
    const dirB = tmpDir(`bench-${stack.name}-bare`);
    const b = await start(stack, false, dirB, sink);
    const out = { tb: [], base: [] };
    try {
        for (let i = 0; i < WARMUP; i++) {
            await invoke(a);
            await invoke(b);
        }
        for (let i = 0; i < N; i++) {
            // Alternate which goes first, so neither always runs right after the other.
            if (i % 2) { out.tb.push(await invoke(a)); out.base.push(await invoke(b)); }
            else { out.base.push(await invoke(b)); out.tb.push(await invoke(a)); }
        }
    } finally {
        await a.stop();
        await b.stop();
        await sink.stop();
    }
    return out;
}

// One cold start: a new emulator that initialises at once; from its log, runtime exec → first
// /next, and init start → init done.
async function coldOnce(stack, withTb, sink) {
    const dir = tmpDir(`cold-${stack.name}`);
    const emu = await start(stack, withTb, dir, sink);
    try {
        const log = await waitFor(async () => {
            const l = await emu.log();
            return l.some((x) => x.type === 'init-done') && l;
        }, 20000);
        if (!log) throw new Error(`${stack.name}: no init-done`);
        const rt = log.find((x) => x.type === 'spawn' && x.kind === 'runtime');
        const next = log.find((x) => x.type === 'rapi' && x.method === 'GET' && /invocation\/next$/.test(x.path) && x.t >= rt.t);
        const init0 = log.find((x) => x.type === 'init-start');
        const done = log.find((x) => x.type === 'init-done');
        return { exec: next.t - rt.t, init: done.t - init0.t };
    } finally {
        await emu.stop();
    }
}

async function cold(stack) {
    const dir = tmpDir(`cold-${stack.name}-sink`);
    const sink = await startSink(dir);
    const out = { tb: [], base: [] };
    try {
        for (let i = 0; i < COLD; i++) {
            out.base.push(await coldOnce(stack, false, sink));
            out.tb.push(await coldOnce(stack, true, sink));
            await sleep(50);
        }
    } finally {
        await sink.stop();
    }
    return out;
}

console.log(`  warm: ${N} invocations each, interleaved, after ${WARMUP} warm-ups; cold: ${COLD} starts each, alternating; times in ms`);
console.log(`  ${'stack'.padEnd(12)} ${'warm p50 without → with'.padEnd(26)} ${'warm p99 without → with'.padEnd(26)} ${'exec→1st /next, median'.padEnd(24)} ${'init, median'.padEnd(22)}`);
if (!fs.existsSync(TRACEBRIDGE)) {
    console.error(`${TRACEBRIDGE} is missing (make all)`);
    process.exit(1);
}
for (const stack of [...STACKS, ...benchStacks()]) {
    if (want.length && !want.includes(stack.name)) continue;
    const why = stack.missing();
    if (why) {
        console.log(`  ${stack.name.padEnd(12)} skipped: ${why}`);
        continue;
    }
    const w = await warm(stack);
    const c = await cold(stack);
    const med = (xs, k) => (xs.length ? pct(xs.map((x) => x[k]), 50) : undefined);
    const col = (x, y) => (x === undefined ? '-' : `${f2(x)} → ${f2(y)} (${y - x >= 0 ? '+' : ''}${f2(y - x)})`);
    console.log(`  ${stack.name.padEnd(12)} ${col(pct(w.base, 50), pct(w.tb, 50)).padEnd(26)} ${col(pct(w.base, 99), pct(w.tb, 99)).padEnd(26)} ${col(med(c.base, 'exec'), med(c.tb, 'exec')).padEnd(24)} ${col(med(c.base, 'init'), med(c.tb, 'init'))}`);
}
process.exit(0);
