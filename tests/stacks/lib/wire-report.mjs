// SPDX-License-Identifier: Apache-2.0
// What each real runtime client does on the wire (tests/stacks/NOTES.md): runs a stack in the
// emulator without tracebridge (the runtime client talks to the Runtime API itself) and with it
// (what reaches the Runtime API through the proxy), sends a small direct invoke, a 4 KB one (its
// /next body comes chunked, as RAPID sends bodies over ~2 KB) and an SQS batch, and summarises the
// emulator's record of every Runtime API request: connections (peer ports), HTTP version, framing
// (Content-Length, Transfer-Encoding, Expect), Connection and User-Agent headers, /next and
// /response on shared or separate connections, and the runtime's threads and child processes.
//   node tests/stacks/lib/wire-report.mjs [stack...]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

process.env.TB_E2E_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-wire-'));
process.on('exit', () => fs.rmSync(process.env.TB_E2E_TMP, { recursive: true, force: true }));
const { startEmulator, startTracebridgeStack, startSink, tmpDir, waitFor } = await import('../../e2e/lib/harness.mjs');
const { STACKS } = await import('./stacks.mjs');

const hdr = (raw, name) => {
    const out = [];
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1]);
    return out;
};
const uniq = (xs) => [...new Set(xs)];

function procInfo(pid) {
    try {
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const threads = Number(/Threads:\s+(\d+)/.exec(status)[1]);
        let children = [];
        for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
            const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
            if (c) children = children.concat(c.split(/\s+/));
        }
        const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        return { comm, threads, children: children.map((c) => { try { return fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim(); } catch { return c; } }) };
    } catch (err) {
        return { error: String(err) };
    }
}

function summarise(log) {
    const rapi = log.filter((x) => x.type === 'rapi' && x.path.startsWith('/2018-06-01/'));
    const group = (re) => rapi.filter((x) => re.test(x.path));
    const describe = (rs) => rs.length === 0 ? null : {
        requests: rs.length,
        connections: uniq(rs.map((r) => r.peer)).length,
        http: uniq(rs.map((r) => r.httpVersion)).join(','),
        headers: uniq(rs.flatMap((r) => r.headers.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()))).sort().join(' '),
        connection: uniq(rs.flatMap((r) => hdr(r.headers, 'connection'))).join(',') || '(none)',
        transferEncoding: uniq(rs.flatMap((r) => hdr(r.headers, 'transfer-encoding'))).join(',') || '(none)',
        expect: uniq(rs.flatMap((r) => hdr(r.headers, 'expect'))).join(',') || '(none)',
        userAgent: uniq(rs.flatMap((r) => hdr(r.headers, 'user-agent'))).join(' | ') || '(none)',
        status: uniq(rs.map((r) => r.status ?? 200)).join(','),
    };
    const next = group(/\/runtime\/invocation\/next$/);
    const resp = group(/\/response$/);
    const shared = next.some((n) => resp.some((r) => r.peer === n.peer));
    return { next: describe(next), response: describe(resp), error: describe(group(/\/error$/)), nextAndResponseShareAConnection: shared };
}

async function observe(stack, withTb) {
    const dir = tmpDir(`wire-${stack.name}`);
    const sink = await startSink(dir);
    const common = { args: ['--execution-env', stack.execEnv], runtime: stack.runtime, timeoutMs: 10000 };
    let emu;
    if (withTb) emu = (await startTracebridgeStack({ dir, sink, flush: 'invoke', env: { HANDLER_EVENTS_OUT: '', ...(stack.next ? { TRACEBRIDGE_NEXT_WRAPPER: stack.next } : {}) }, ...common })).emu;
    else emu = await startEmulator({ dir, env: { HANDLER_EVENTS_OUT: '', ...(stack.next ? { AWS_LAMBDA_EXEC_WRAPPER: stack.next } : {}) }, rtEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint }, ...common });
    try {
        const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        await emu.invoke({ order: 1, __traceparent__: tp });
        await emu.invoke({ order: 2, __traceparent__: tp, pad: 'p'.repeat(4096) });
        await emu.post('/sqs/send', { queue: 'orders', messages: [{ body: '{"order":3}' }, { body: '{"order":4}' }] });
        await waitFor(async () => (await emu.log()).filter((x) => x.type === 'invoke-done').length >= 3, 5000);
        const log = await emu.log();
        const rt = log.find((x) => x.type === 'spawn' && x.kind === 'runtime');
        return { ...summarise(log), runtimeProcess: rt ? procInfo(rt.pid) : null };
    } finally {
        await emu.stop();
        await sink.stop();
    }
}

const want = process.argv.slice(2);
for (const stack of STACKS) {
    if (want.length && !want.includes(stack.name)) continue;
    if (stack.missing()) continue;
    for (const withTb of [false, true]) console.log(JSON.stringify({ stack: stack.name, through: withTb ? 'tracebridge' : 'direct', ...(await observe(stack, withTb)) }));
}
process.exit(0);
