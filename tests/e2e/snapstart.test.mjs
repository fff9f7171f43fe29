// SPDX-License-Identifier: Apache-2.0
// SnapStart and freeze/thaw with the REAL tracebridge extension in the emulator's --snapstart
// mode (tests/emulator/README.md) and a runtime client that reports restores the way the Python
// runtime client does (tests/emulator/snapstart-runtime.mjs):
//   restore   two copies restored from "one snapshot": the test build
//             (${TB_BUILD}/tracebridge-test-seeded) started with one TRACEBRIDGE_TEST_IDS_SEED in
//             both, so both start with the same id pool, as two restored sandboxes do. The
//             emulator pauses every process (SIGSTOP) for the snapshot and answers the runtime's
//             /runtime/restore/next; no Extensions API event comes on restore. 1000 invocations
//             each: no span id or trace id of one copy appears in the other.
//   control   the same two copies with a runtime that never calls /restore/next, so nothing
//             tells tracebridge about the restore (and no clock jumps here): their ids collide.
//             This is the check above failing without the reseed.
//   freeze    an OTLP backend that resets connections idle for more than 1.5 s (a peer that
//             dropped them while the sandbox was frozen): after 2 s idle the kept connection is
//             reset on first use and the batch goes again at once on a new one; after 5 s idle
//             (more than the exporter's 4 s) no kept connection is used at all. Every span
//             arrives, no export counts as failed.
// TB_E2E_ONLY=<group> runs one group.
import fs from 'node:fs';
import path from 'node:path';
import { Tap, withStack, sleep, request, BUILD, REPO, QUICK, runGroups } from './lib/harness.mjs';

const t = new Tap();
const SEEDED = path.join(BUILD, 'tracebridge-test-seeded');
const RUNTIME = ['node', path.join(REPO, 'tests/emulator/snapstart-runtime.mjs')];
const N = QUICK ? 200 : 1000;

const tbSpans = (sink) => sink.spans().filter((s) => s.scope.name.startsWith('tracebridge'));
// Invocation spans only (the Telemetry API adds the init and restore spans of the cold start).
const invSpans = (spans) => spans.filter((s) => s.attributes['faas.invocation_id']);

// One restored copy: the seeded extension in a --snapstart emulator, n direct invocations.
// Returns what the checks need once the stack is stopped (every span flushed at SHUTDOWN).
async function runCopy(label, n, rtEnv) {
    const o = {
        tmp: `snap-${label}`, binary: SEEDED, runtime: RUNTIME, flush: 'invoke', args: ['--snapstart', '--snapshot-ms', '300'],
        extEnv: { TRACEBRIDGE_TEST_IDS_SEED: '424242' }, env: rtEnv,
    };
    let out = null;
    await withStack(t, label, o, async ({ emu }) => {
        const init = await emu.init();
        let good = 0;
        for (let i = 0; i < n; i++) {
            const r = await emu.invoke({ n: i });
            if (r.status === 200 && !r.headers['x-amz-function-error']) good++;
        }
        out = { init, good, log: await emu.log(), procLog: emu.procLog() };
    }, async (_r, st) => {
        out.spans = tbSpans(st.sink);
    });
    return out;
}

function overlap(a, b, key) {
    const seen = new Set(a.map((s) => s[key]));
    return b.filter((s) => seen.has(s[key])).length;
}

function checkSnapshotFlow(c, label) {
    const types = c.log.map((e) => e.type);
    const snap = types.indexOf('snapshot');
    const restored = types.indexOf('restore-done');
    t.ok(c.init.ok && snap >= 0 && types.indexOf('restore-start') > snap && restored > snap, `${label}: init, snapshot, restore`, c.init);
    const events = c.log.filter((e) => e.type === 'ext-event');
    const first = c.log.findIndex((e) => e.type === 'ext-event');
    t.ok(events.length > 0 && events[0].eventType === 'INVOKE' && first > restored,
        `${label}: the extension gets nothing on restore; its first event is the first INVOKE`, events.slice(0, 2));
}

async function groupRestore() {
    const [a, b] = await Promise.all([runCopy('copy-a', N), runCopy('copy-b', N)]);
    for (const [c, l] of [[a, 'copy-a'], [b, 'copy-b']]) {
        checkSnapshotFlow(c, l);
        t.ok(c.log.some((e) => e.type === 'restore-start' && e.runtimeWaiting), `${l}: the runtime waited in /restore/next over the snapshot`);
        t.eq(c.good, N, `${l}: ${N} invocations succeeded`);
        t.eq(invSpans(c.spans).length, N, `${l}: ${N} tracebridge invocation spans exported`);
        t.eq(new Set(c.spans.map((s) => s.spanId)).size, c.spans.length, `${l}: span ids distinct within the copy`);
        t.ok(/sandbox restored from a snapshot \(the runtime's \/restore\/next returned\)/.test(c.procLog), `${l}: tracebridge says it reseeded`);
    }
    const sids = overlap(a.spans, b.spans, 'spanId');
    const tids = overlap(a.spans, b.spans, 'traceId');
    t.eq(sids, 0, `restored copies of one state: no span id in common over ${N} invocations each (${a.spans.length} spans)`);
    t.eq(tids, 0, `restored copies of one state: no trace id in common`);
}

async function groupControl() {
    const n = 100;
    const skip = { SNAPSTART_RUNTIME_SKIP_RESTORE: '1' };
    const [a, b] = await Promise.all([runCopy('control-a', n, skip), runCopy('control-b', n, skip)]);
    for (const [c, l] of [[a, 'control-a'], [b, 'control-b']]) {
        checkSnapshotFlow(c, l);
        t.eq(c.good, n, `${l}: ${n} invocations succeeded`);
        t.ok(!/sandbox restored from a snapshot/.test(c.procLog), `${l}: no restore reported to tracebridge`);
    }
    const sids = overlap(a.spans, b.spans, 'spanId');
    t.ok(sids > 0, `without a reseed the two copies collide: ${sids} of ${n} span ids in common (the restore check can fail)`);
    t.diag(`control: ${sids} span ids and ${overlap(a.spans, b.spans, 'traceId')} trace ids in common`);
}

async function groupFreeze() {
    const o = { tmp: 'snap-freeze', runtime: RUNTIME, flush: 'end', sinkOpts: { idleResetMs: 1500 } };
    let third = 0;
    await withStack(t, 'freeze', o, async ({ emu }) => {
        const ok = [];
        ok.push((await emu.invoke({ n: 0 })).status === 200);
        await sleep(2000); // idle past the backend's 1.5 s, under the exporter's 4 s
        ok.push((await emu.invoke({ n: 1 })).status === 200);
        await sleep(5000); // past the exporter's 4 s: no kept connection is used
        third = Date.now();
        ok.push((await emu.invoke({ n: 2 })).status === 200);
        t.ok(ok.every(Boolean), 'freeze: every invocation succeeded');
        const nr = await request(emu.apiPort, 'GET', '/2018-06-01/runtime/restore/next');
        t.eq(nr.status, 404, 'outside SnapStart the emulator has no /runtime/restore/next (as RAPID)');
    }, async (_r, st, dir) => {
        const reqs = st.sink.requests();
        const resets = reqs.filter((r) => r.status === 'reset');
        const accepted = reqs.filter((r) => r.status === 200);
        t.eq(invSpans(tbSpans(st.sink)).length, 3, 'freeze: all three invocation spans arrived');
        const shape = reqs.map((r) => [r.conn, r.status]);
        t.ok(resets.length >= 1 && resets[0].t < third, 'freeze: the connection kept over 2 s was reset by the backend on first use', shape);
        const afterReset = accepted.find((r) => resets.length && r.t >= resets[0].t);
        t.ok(afterReset && afterReset.conn !== resets[0].conn && afterReset.t < third, 'freeze: the batch went again at once on a new connection', shape);
        const late = reqs.filter((r) => r.t >= third);
        t.ok(late.length >= 1 && late.every((r) => r.status === 200) && late[0].conn > afterReset?.conn,
            'freeze: after 5 s idle the export went straight to a new connection (the kept one was never tried)', shape);
        const log = fs.readFileSync(path.join(dir, 'processes.log'), 'utf8');
        t.ok(!/export failed|spans lost/.test(log), 'freeze: no export counted as failed');
    });
}

for (const bin of [SEEDED]) {
    if (!fs.existsSync(bin)) {
        t.ok(false, `${bin} exists (make all)`);
        process.exit(1);
    }
}
const groups = [groupRestore, groupControl, groupFreeze];
await runGroups(t, groups);
