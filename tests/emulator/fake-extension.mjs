#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// A minimal external extension for testing the emulator itself (no tracebridge needed).
// Symlink it into an extensions folder; its name is the link's basename. Env:
//   FAKE_EXT_OUT       file to append JSON lines to (register response, env, every event)
//   FAKE_EXT_EVENTS    events to subscribe to (default INVOKE,SHUTDOWN); FAKE_EXT_EVENTS_<name>
//                      (dashes as underscores) for one extension only
//   FAKE_EXT_SHUTDOWN  "exit" (default: exit 0 after SHUTDOWN), "hang" (never exit), "exit:MS"
//   FAKE_EXT_INIT      "ok" (default), "crash" (exit 4 before registering), "slow:MS" before
//                      registering, "init-error" (register, then /extension/init/error)
//   FAKE_EXT_INVOKE_MS time to "work" after each INVOKE before calling /event/next again
//   FAKE_EXT_NAME      override the Lambda-Extension-Name header
import fs from 'node:fs';
import path from 'node:path';

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension`;
const out = process.env.FAKE_EXT_OUT;
const name = process.env.FAKE_EXT_NAME || path.basename(process.argv[1]);
const write = (o) => out && fs.appendFileSync(out, JSON.stringify({ ext: name, t: Date.now(), pid: process.pid, ...o }) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
    const init = process.env.FAKE_EXT_INIT || 'ok';
    if (init === 'crash') process.exit(4);
    if (init.startsWith('slow:')) await sleep(Number(init.slice(5)));
    const events = (process.env[`FAKE_EXT_EVENTS_${name.replace(/-/g, '_')}`] || process.env.FAKE_EXT_EVENTS || 'INVOKE,SHUTDOWN').split(',').filter(Boolean);
    const r = await fetch(`${api}/register`, {
        method: 'POST',
        headers: { 'Lambda-Extension-Name': name, 'Lambda-Extension-Accept-Feature': 'accountId' },
        body: JSON.stringify({ events }),
    });
    const body = await r.text();
    const id = r.headers.get('lambda-extension-identifier');
    write({ kind: 'register', status: r.status, body, id, env: process.env });
    if (r.status !== 200) {
        await sleep(60000); // registration refused: wait to be killed
        return;
    }
    if (init === 'init-error') {
        const e = await fetch(`${api}/init/error`, { method: 'POST', headers: { 'Lambda-Extension-Identifier': id, 'Lambda-Extension-Function-Error-Type': 'Extension.ConfigInvalid' }, body: '{"errorMessage":"bad config","errorType":"Extension.ConfigInvalid"}' });
        write({ kind: 'init-error', status: e.status });
        process.exit(1);
    }
    for (;;) {
        const n = await fetch(`${api}/event/next`, { headers: { 'Lambda-Extension-Identifier': id } });
        const ev = await n.json();
        write({ kind: 'event', status: n.status, event: ev, eventId: n.headers.get('lambda-extension-event-identifier') });
        if (ev.eventType === 'SHUTDOWN') {
            const mode = process.env.FAKE_EXT_SHUTDOWN || 'exit';
            if (mode === 'hang') for (;;) await sleep(1000);
            if (mode.startsWith('exit:')) await sleep(Number(mode.slice(5)));
            write({ kind: 'exit' });
            process.exit(0);
        }
        if (process.env.FAKE_EXT_INVOKE_MS) await sleep(Number(process.env.FAKE_EXT_INVOKE_MS));
    }
}
main().catch((e) => { write({ kind: 'error', error: String(e) }); process.exit(1); });
