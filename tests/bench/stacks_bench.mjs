// Handler-observed invocation time and cold start with and without tracebridge, for the real Java
// (java17-otel: RIC + OTel Java agent) and Go (go-otellambda with the bootstrap recipe) stacks.
// Two environments side by side in the emulator, one with the tracebridge extension (default
// settings) and one without (the handler's SDK exports straight to the sink), invoked in
// alternation with the same SQS event (one record carrying a traceparent). "Handler-observed" is
// what the caller sees: the emulator's time from releasing the event to the runtime to its
// response. Cold start: init (first extension/runtime start → everything waits in next) and the
// first invocation, over ROUNDS fresh environment pairs.
//   node tests/bench/stacks_bench.mjs [java17|go ...]   (env: TB_BENCH_INVOKES, TB_BENCH_COLD;
//   TB_BENCH_FLUSH=end|adaptive: tracebridge's flush mode instead of the default invoke)
import fs from 'node:fs';
import path from 'node:path';
import { startTracebridgeStack, startEmulator, startSink, tmpDir as harnessTmpDir, waitFor, makeProducer, sqsAttr, REPO, WRAPPER } from '../e2e/lib/harness.mjs';

const SB = path.join(REPO, 'build/stacks');
const N = Number(process.env.TB_BENCH_INVOKES || 100);
const ROUNDS = Number(process.env.TB_BENCH_COLD || 3);
const dirs = [];
const tmpDir = (n) => { const d = harnessTmpDir(n); dirs.push(d); return d; };
const readText = (f) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return null; } };

function stacks() {
    const home = readText(path.join(SB, 'java17-otel/java_home'));
    const cp = [path.join(SB, 'java17-otel/target/classes'), readText(path.join(SB, 'java17-otel/classpath.txt'))].join(':');
    const handler = 'orders.OrdersSqsHandler::handleRequest';
    const otelHandler = path.join(REPO, 'tests/stacks/java17-otel/otel-handler');
    const goBin = path.join(SB, 'go-otellambda/bootstrap');
    return {
        java17: {
            ready: !!home && fs.existsSync(path.join(SB, 'java17-otel/opentelemetry-javaagent.jar')),
            handler,
            runtime: () => [path.join(home || '', 'bin/java'), '-XX:+TieredCompilation', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto', '-cp', cp, 'com.amazonaws.services.lambda.runtime.api.client.AWSLambda', handler],
            args: ['--execution-env', 'AWS_Lambda_java17', '--memory', '512'],
            withEnv: { TRACEBRIDGE_NEXT_WRAPPER: otelHandler },
            withoutEnv: { AWS_LAMBDA_EXEC_WRAPPER: otelHandler },
            common: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', HANDLER_WORK_MS: '0' },
        },
        go: {
            ready: fs.existsSync(goBin),
            handler: 'bootstrap',
            runtime: (dir, withTb) => {
                if (!withTb) return [goBin];
                const f = path.join(dir, 'bootstrap');
                fs.writeFileSync(f, `#!/bin/sh\nexec ${WRAPPER} ${goBin} "$@"\n`, { mode: 0o755 });
                return [f];
            },
            args: ['--provided'],
            withEnv: {},
            withoutEnv: {},
            common: { HANDLER_WORK_MS: '0' },
        },
    };
}

const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);

// One environment with tracebridge and one without, started one after the other (two JVMs with
// the agent starting together on 2 cores can pass Lambda's 10 s init limit, and each cold start
// should be measured alone); withFirst alternates which starts first, as the second one finds
// the page cache warm.
async function pair(s, sink, withFirst) {
    const dirW = tmpDir('bench-with');
    const dirO = tmpDir('bench-without');
    const startWith = async () => (await startTracebridgeStack({ dir: dirW, sink, handler: s.handler, runtime: s.runtime(dirW, true), args: s.args, timeoutMs: 20000,
        env: { TRACEBRIDGE_FLUSH: process.env.TB_BENCH_FLUSH || 'invoke', TRACEBRIDGE_LOG_LEVEL: 'info', ...s.common, ...s.withEnv } })).emu;
    const startWithout = () => startEmulator({ dir: dirO, handler: s.handler, runtime: s.runtime(dirO, false), args: s.args, timeoutMs: 20000,
        env: { ...s.common, ...s.withoutEnv, OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint } });
    const out = {};
    for (const k of withFirst ? ['w', 'o'] : ['o', 'w']) {
        out[k] = k === 'w' ? await startWith() : await startWithout();
        out[k === 'w' ? 'initW' : 'initO'] = await initMs(out[k]);
    }
    return out;
}

// The emulator initialises right after it started; wait until init is over.
const initMs = async (emu) => (await waitFor(async () => (await emu.log()).find((x) => x.type === 'init-done'), 30000))?.initDurationMs;

async function bench(name, s) {
    const dir = tmpDir('bench-sink');
    const sink = await startSink(dir);
    const prod = makeProducer(sink.endpoint);
    const event = async (emu) => {
        const p = await prod.run((tp) => emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":1}', messageAttributes: { traceparent: sqsAttr(tp) } }] }));
        const inv = p.result.invocations[0];
        if (inv.outcome !== 'success') throw new Error(`${name}: invocation failed: ${JSON.stringify(inv)}`);
        return inv.durationMs;
    };
    const cold = { w: { init: [], first: [] }, o: { init: [], first: [] } };
    const warm = { w: [], o: [] };
    for (let r = 0; r < ROUNDS; r++) {
        const { w, o, initW, initO } = await pair(s, sink, r % 2 === 0);
        try {
            if (initW === undefined || initO === undefined) throw new Error(`${name}: init did not finish (Lambda's 10 s limit?)`);
            cold.w.init.push(initW);
            cold.o.init.push(initO);
            // Alternate which one goes first, so neither always runs on a quieter machine.
            const order = r % 2 ? [['o', o], ['w', w]] : [['w', w], ['o', o]];
            for (const [k, emu] of order) cold[k].first.push(await event(emu));
            if (r === ROUNDS - 1) {
                for (let i = 0; i < N; i++) {
                    const seq = i % 2 ? [['o', o], ['w', w]] : [['w', w], ['o', o]];
                    for (const [k, emu] of seq) warm[k].push(await event(emu));
                }
            }
        } finally {
            await w.stop();
            await o.stop();
        }
    }
    await prod.shutdown();
    await sink.stop();
    const f = (x) => (x === undefined ? '-' : x.toFixed(2));
    console.log(`${name}: ${N} warm invocations each (interleaved), ${ROUNDS} cold starts each`);
    console.log(`  ${'ms'.padEnd(34)} ${'without'.padStart(9)} ${'with tb'.padStart(9)} ${'added'.padStart(8)}`);
    const line = (label, a, b) => console.log(`  ${label.padEnd(34)} ${f(a).padStart(9)} ${f(b).padStart(9)} ${f(b - a).padStart(8)}`);
    line('warm invocation p50', median(warm.o), median(warm.w));
    line('warm invocation p99', pct(warm.o, 99), pct(warm.w, 99));
    line('init (cold start) median', median(cold.o.init), median(cold.w.init));
    line('first invocation median', median(cold.o.first), median(cold.w.first));
    console.log(`RESULT ${JSON.stringify({ name, n: N, rounds: ROUNDS, warm: { without: [median(warm.o), pct(warm.o, 99)], with: [median(warm.w), pct(warm.w, 99)] }, init: { without: cold.o.init, with: cold.w.init }, first: { without: cold.o.first, with: cold.w.first } })}`);
}

const all = stacks();
const want = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(all);
for (const name of want) {
    const s = all[name];
    if (!s || !s.ready) {
        console.log(`${name}: not built (tests/stacks/*/install.sh); skipped`);
        continue;
    }
    await bench(name, s);
}
for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
process.exit(0);
