// SPDX-License-Identifier: Apache-2.0
// Fail open on settings, with the REAL tracebridge extension, the wrapper, the real Node runtime
// client and the real OTel instrumentation in the emulator: a setting that would break the
// function leaves it working and says what happened, once, in tracebridge's log.
//   upstream      TRACEBRIDGE_UPSTREAM=127.0.0.1:1 (nothing listens): the runtime talks to the
//                 emulator directly, every invocation succeeds, one line from tracebridge, none
//                 blaming the runtime for ignoring the wrapper; spans still come (from INVOKE)
//   port          TRACEBRIDGE_PROXY_PORT taken by another process: the same
//   next-wrapper  TRACEBRIDGE_NEXT_WRAPPER that does not exist: the runtime starts anyway
//   traceparent   an invalid "__traceparent__": stripped, one WARN saying what was wrong
//   lost          a backend that accepts and never answers: the spans lost at SHUTDOWN are one
//                 WARN with the count
// TB_E2E_ONLY=<group> runs one group.
import fs from 'node:fs';
import net from 'node:net';
import { Tap, withStack, TRACEBRIDGE, runGroups } from './lib/harness.mjs';

const t = new Tap();
const tbLines = (log) => log.split('\n').filter((l) => l.startsWith('[ext:tracebridge]'));

async function invokeAll(emu, n, label) {
    let good = 0;
    for (let i = 0; i < n; i++) {
        const r = await emu.invoke({ echo: `${label}-${i}` });
        if (r.status === 200 && !r.headers['x-amz-function-error'] && JSON.parse(r.body.toString()).echo === `${label}-${i}`) good++;
    }
    t.eq(good, n, `${label}: all ${n} invocations succeeded`);
}

function checkNoBlame(log, label) {
    t.ok(!/ignores\s+AWS_LAMBDA_EXEC_WRAPPER|ignores AWS_LAMBDA_EXEC_WRAPPER/.test(log), `${label}: the runtime is not blamed for ignoring the wrapper`);
}

async function groupUpstream() {
    await withStack(t, 'upstream', { tmp: 'set-upstream', env: { TRACEBRIDGE_UPSTREAM: '127.0.0.1:1' } }, async ({ emu }) => {
        await invokeAll(emu, 3, 'upstream');
    }, async (_r, st, dir) => {
        const log = fs.readFileSync(`${dir}/processes.log`, 'utf8');
        t.eq(tbLines(log).filter((l) => /is not reachable/.test(l)).length, 1, 'upstream: one tracebridge line says the upstream is not reachable');
        t.ok(/tracebridge-wrapper: proxy not ready/.test(log), 'upstream: the wrapper left the runtime on the Runtime API');
        checkNoBlame(log, 'upstream');
        t.ok(st.sink.spans().filter((s) => s.scope.name.startsWith('tracebridge')).length >= 3, 'upstream: tracebridge spans still exported (from INVOKE)');
    });
}

async function groupPort() {
    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
    const port = blocker.address().port;
    try {
        await withStack(t, 'port', { tmp: 'set-port', portTaken: true, env: { TRACEBRIDGE_PROXY_PORT: String(port) } }, async ({ emu }) => {
            await invokeAll(emu, 3, 'port');
        }, async (_r, _st, dir) => {
            const log = fs.readFileSync(`${dir}/processes.log`, 'utf8');
            t.eq(tbLines(log).filter((l) => /proxy cannot listen/.test(l)).length, 1, 'port: one tracebridge line says the port is taken');
            checkNoBlame(log, 'port');
        });
    } finally {
        blocker.close();
    }
}

async function groupNextWrapper() {
    await withStack(t, 'next-wrapper', { tmp: 'set-nextw', env: { TRACEBRIDGE_NEXT_WRAPPER: '/nonexistent/otel-instrument' } }, async ({ emu }) => {
        await invokeAll(emu, 2, 'next-wrapper');
    }, async (_r, _st, dir) => {
        const log = fs.readFileSync(`${dir}/processes.log`, 'utf8');
        t.ok(/TRACEBRIDGE_NEXT_WRAPPER=\/nonexistent\/otel-instrument is not an executable file/.test(log), 'next-wrapper: one line says it was skipped');
    });
}

async function groupTraceparent() {
    const bad = '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01';
    await withStack(t, 'traceparent', { tmp: 'set-tp' }, async ({ emu, handled }) => {
        for (let i = 0; i < 3; i++) {
            const r = await emu.invoke({ __traceparent__: bad, echo: `tp-${i}` });
            t.ok(r.status === 200 && !r.headers['x-amz-function-error'], `traceparent: invocation ${i} succeeded`);
        }
        const events = handled();
        t.ok(events.length === 3 && events.every((e) => !JSON.stringify(e.event ?? e).includes('__traceparent__')), 'traceparent: the handler never saw the invalid value', events.slice(0, 1));
    }, async (_r, _st, dir) => {
        const log = fs.readFileSync(`${dir}/processes.log`, 'utf8');
        const warns = tbLines(log).filter((l) => /"WARN".*__traceparent__.*not a valid traceparent/.test(l));
        t.eq(warns.length, 1, 'traceparent: one WARN for three invalid values (rate-limited)');
        t.ok(warns.length === 1 && /trace-id is not 32 lower-case hex digits/.test(warns[0]), 'traceparent: it says what was wrong', warns);
        t.ok(!log.includes('4BF92F3577B34DA6'), 'traceparent: the value is never logged beyond a short prefix');
    });
}

async function groupLost() {
    await withStack(t, 'lost', { tmp: 'set-lost', flush: 'invoke', shutdownMs: 1000, sinkOpts: { fault: 'slow:60000' } }, async ({ emu }) => {
        await invokeAll(emu, 3, 'lost');
    }, async (_r, _st, dir) => {
        const log = fs.readFileSync(`${dir}/processes.log`, 'utf8');
        const lost = tbLines(log).filter((l) => /"WARN".*spans lost/.test(l));
        t.eq(lost.length, 1, 'lost: one WARN at SHUTDOWN', tbLines(log).slice(-5));
        t.ok(lost.length === 1 && /\d+ spans lost/.test(lost[0]), 'lost: with the count', lost);
        t.ok(!tbLines(log).some((l) => /"INFO".*left unsent/.test(l) && !/ 0 left unsent/.test(l)), 'lost: not only an INFO line');
    });
}

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
const groups = [groupUpstream, groupPort, groupNextWrapper, groupTraceparent, groupLost];
await runGroups(t, groups);
