#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// A minimal runtime client with SnapStart support, for the emulator's --snapstart tests. It
// talks to AWS_LAMBDA_RUNTIME_API the way the SnapStart-capable Python runtime client
// (awslambdaric) does: when AWS_LAMBDA_INITIALIZATION_TYPE is snap-start it ends its init with
// GET /2018-06-01/runtime/restore/next on a connection of its own (awslambdaric uses a new
// http.client connection for restore/*), which returns once the sandbox was restored; then the
// usual loop of /next and /response on one keep-alive connection. The handler answers
// {"ok":true,"requestId":...} to every event. (The Node runtime client has no SnapStart: Lambda
// offers it for Java, Python and .NET only.)
// SNAPSTART_RUNTIME_SKIP_RESTORE=1: never call /restore/next (a runtime that reports no restore;
// RAPID then restores without releasing it, lambda-apis.md §1.2 / RIE handleRestore).
import http from 'node:http';

const [host, port] = String(process.env.AWS_LAMBDA_RUNTIME_API || '').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, path, body, { fresh = false } = {}) {
    return new Promise((resolve, reject) => {
        const payload = body === undefined ? null : Buffer.from(body);
        const req = http.request({ host, port: Number(port), method, path, agent: fresh ? false : agent,
            headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} }, (res) => {
            const parts = [];
            res.on('data', (c) => parts.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
            res.on('error', reject);
        });
        req.on('error', reject);
        if (payload) req.write(payload);
        req.end();
    });
}

async function main() {
    if (process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'snap-start' && process.env.SNAPSTART_RUNTIME_SKIP_RESTORE !== '1') {
        const r = await call('GET', '/2018-06-01/runtime/restore/next', undefined, { fresh: true });
        if (r.status !== 200) {
            console.error(`snapstart-runtime: /restore/next answered ${r.status}`);
            process.exit(1);
        }
        console.error('snapstart-runtime: restored');
    }
    for (;;) {
        const ev = await call('GET', '/2018-06-01/runtime/invocation/next');
        const rid = ev.headers['lambda-runtime-aws-request-id'];
        if (ev.status !== 200 || !rid) {
            console.error(`snapstart-runtime: /next answered ${ev.status}`);
            process.exit(1);
        }
        await call('POST', `/2018-06-01/runtime/invocation/${rid}/response`, JSON.stringify({ ok: true, requestId: rid }));
    }
}

main().catch((err) => {
    console.error(`snapstart-runtime: ${err.stack || err}`);
    process.exit(1);
});
