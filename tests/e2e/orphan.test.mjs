// SPDX-License-Identifier: Apache-2.0
// Runtime /next connections that close while they wait (issue 13), through the REAL tracebridge
// extension (${TB_BUILD}/tracebridge; its proxy put in place by the real wrapper) in the
// emulator, which treats closed /next as Lambda does (a closed waiting /next is dropped; an
// invocation written to a closed one is lost). The test plays the runtime over raw connections
// (IDLE_RUNTIME), so it decides when each /next opens and closes:
//   idle      1, 4 and 64 concurrent /next (on demand, and Managed Instances with that
//             concurrency); the runtime closes all but one, or all; every following invocation
//             is delivered and answered, and the emulator keeps exactly the runtime's /next
//   arriving  the event is half sent when the runtime closes its /next: the next /next gets
//             exactly that invocation (no /next of its own reaches the emulator) and it completes
import fs from 'node:fs';
import path from 'node:path';
import { Tap, tmpDir, withStack, waitFor, request, sleep, IDLE_RUNTIME, runtimeNext, SLOW, runGroups } from './lib/harness.mjs';

const t = new Tap();
const INVOCATIONS = 6;

const readAddr = (f) => {
    try {
        return fs.readFileSync(f, 'utf8').trim() || false;
    } catch {
        return false;
    }
};
const pendingIs = (emu, n) => waitFor(async () => (await emu.state()).pendingNext === n, 3000 * SLOW, 2);
// A /next answer, or null if none came within the function timeout and a margin.
const answerOf = (next) => Promise.race([next.done, sleep(6000 * SLOW).then(() => null)]);
const upstreamNexts = async (emu) => (await emu.log()).filter((x) => x.type === 'rapi' && x.method === 'GET' && x.path.endsWith('/invocation/next')).length;

// A stack whose runtime is the test: the proxy address the wrapper gave the runtime.
function stackOptions(tag, n) {
    const addrFile = path.join(tmpDir(`orphan-addr-${tag}`), 'rt-addr');
    return { addrFile, o: { tmp: `orphan-${tag}`, mi: n > 1, maxConcurrency: n, runtime: IDLE_RUNTIME, timeoutMs: 4000, env: { RUNTIME_ADDR_OUT: addrFile } } };
}

async function proxyAddress(label, addrFile, proxyPort) {
    const addr = await waitFor(() => readAddr(addrFile), 10000 * SLOW);
    t.eq(addr, `127.0.0.1:${proxyPort}`, `${label}: the wrapper pointed the runtime at the tracebridge proxy`);
}

// One invocation through the runtime's open /next `cur`: delivered with the exact payload,
// answered; returns [delivered and answered right, the runtime's next /next].
async function invokeThrough(emu, port, cur, i) {
    const payload = JSON.stringify({ n: i, pad: 'p'.repeat(i * 1500) }); // over 2 KB: chunked
    const answer = `{"answer":${i}}`;
    const r = emu.invoke(payload);
    const got = await answerOf(cur);
    const id = got?.headers['lambda-runtime-aws-request-id'];
    const delivered = got && got.status === 200 && got.body.toString() === payload;
    if (delivered) await request(port, 'POST', `/2018-06-01/runtime/invocation/${id}/response`, answer);
    const next = runtimeNext(port);
    const res = await r;
    return [delivered && res.headers['x-emu-outcome'] === 'success' && res.body.toString() === answer && res.headers['x-amzn-requestid'] === id, next];
}

async function groupIdle(n, keep) {
    const label = `${n} /next, ${n - keep} closed`;
    const { addrFile, o } = stackOptions(`${n}-${keep}`, n);
    await withStack(t, label, o, async ({ emu, proxyPort }) => {
        await proxyAddress(label, addrFile, proxyPort);
        const nexts = Array.from({ length: n }, () => runtimeNext(proxyPort));
        t.ok(await pendingIs(emu, n), `${label}: ${n} /next wait at the emulator`);
        const t0 = performance.now();
        for (const x of nexts.slice(keep)) x.close();
        const settled = await pendingIs(emu, keep);
        t.ok(settled, `${label}: the emulator keeps ${keep} waiting /next (${(performance.now() - t0).toFixed(1)} ms after the closes)`, await emu.state());
        let cur = keep ? nexts[0] : runtimeNext(proxyPort);
        let good = 0;
        for (let i = 0; i < INVOCATIONS; i++) {
            const [ok, next] = await invokeThrough(emu, proxyPort, cur, i);
            good += ok;
            cur = next;
        }
        t.eq(good, INVOCATIONS, `${label}: the ${INVOCATIONS} following invocations delivered and answered`);
        t.ok(await pendingIs(emu, 1), `${label}: the emulator holds exactly the runtime's one /next`, await emu.state());
        t.eq((await emu.state()).nextLost, 0, `${label}: no invocation lost`);
        cur.close();
        t.ok(await pendingIs(emu, 0), `${label}: the last /next closes at the emulator too`);
    });
}

async function groupArriving() {
    const label = 'arriving';
    const { addrFile, o } = stackOptions('arriving', 1);
    await withStack(t, label, o, async ({ emu, proxyPort }) => {
        await proxyAddress(label, addrFile, proxyPort);
        const a = runtimeNext(proxyPort);
        await pendingIs(emu, 1);
        const payload = JSON.stringify({ big: 'q'.repeat(200000), n: 1 });
        const r = emu.invoke(payload, { 'X-Emu-Next-Stall-Ms': String(800 * SLOW) });
        const stalled = await waitFor(async () => (await emu.log()).find((x) => x.type === 'next-stalled'), 3000 * SLOW);
        t.ok(stalled && stalled.sentBytes > 0, `${label}: the emulator sent ${stalled?.sentBytes} of ${payload.length} bytes, then stalls`);
        await sleep(100);
        a.close(); // the runtime goes away with the event half arrived
        await sleep(50);
        const before = await upstreamNexts(emu);
        const b = runtimeNext(proxyPort); // before the rest arrives
        const got = await answerOf(b);
        t.ok(got && got.status === 200 && got.body.toString() === payload && got.headers['lambda-runtime-aws-request-id'] === stalled?.requestId,
            `${label}: the next runtime /next gets exactly that invocation (${got?.body.length} bytes)`, got && { status: got.status, len: got.body.length });
        t.eq(await upstreamNexts(emu), before, `${label}: no /next of its own reached the emulator`);
        await request(proxyPort, 'POST', `/2018-06-01/runtime/invocation/${stalled?.requestId}/response`, '{"handed":true}');
        let cur = runtimeNext(proxyPort);
        const res = await r;
        t.ok(res.headers['x-emu-outcome'] === 'success' && res.body.toString() === '{"handed":true}', `${label}: and the invocation completes`, res.body.toString());
        const [ok, next] = await invokeThrough(emu, proxyPort, cur, 2);
        t.ok(ok, `${label}: the following invocation is delivered and answered`);
        cur = next;
        t.ok(await pendingIs(emu, 1) && (await emu.state()).nextLost === 0, `${label}: nothing lost, the emulator holds the runtime's one /next`, await emu.state());
        cur.close();
        t.ok(await pendingIs(emu, 0), `${label}: the last /next closes at the emulator too`);
    });
}

const groups = [
    () => groupIdle(1, 0),
    () => groupIdle(4, 1),
    () => groupIdle(4, 0),
    () => groupIdle(64, 1),
    () => groupIdle(64, 0),
    groupArriving,
];
await runGroups(t, groups);
