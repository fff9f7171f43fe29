// SPDX-License-Identifier: Apache-2.0
// Real Java and Go handler stacks through the REAL tracebridge extension, one row per stack x
// trigger (issue 12), with DEFAULT tracebridge settings and each instrumentation set up as its
// users set it up:
//   java17-otel, java25-otel (or the newest LTS JDK found): the Java runtime interface client
//     2.10.1 started as Lambda's java runtime starts it, the OpenTelemetry Java agent 2.31.1 added
//     by an otel-handler wrapper chained behind tracebridge's (TRACEBRIDGE_NEXT_WRAPPER); a typed
//     SQS handler for the SQS triggers, a generic Map handler for the others, and a
//     RequestStreamHandler for every trigger;
//   go-otellambda, go-xrayconfig: aws-lambda-go 1.55.1 + otellambda (default config / xrayconfig),
//     run as provided.al2023 runs them: once with the bootstrap recipe of layer/README-layer.md
//     (a bootstrap script that execs /opt/tracebridge-wrapper with the real binary) and once
//     with the binary as the bootstrap itself (tracebridge bypassed: spans from INVOKE only).
// Each group fires its triggers, stops the environment (SHUTDOWN flushes what the default
// flush=invoke still holds) and then checks every row; results go to
// tests/out/stack-results/<stack>.jsonl.
import fs from 'node:fs';
import path from 'node:path';
import { Tap, withStack, makeProducer, tmpDir, TRACEBRIDGE } from './lib/harness.mjs';
import { TRIGGERS, isSqsTrigger, fire, describeRow, handlerParent, checkJoinedRow, resultsWriter, xrayHeader, xrayTraceId } from './lib/stackrows.mjs';
import { SB, GO_SCOPE, JAVA_ENV, OTEL_HANDLER, readText, javaCommand, javaStacks, bootstrapRecipe } from '../stacks/lib/jvmgo.mjs';

const t = new Tap();
const record = resultsWriter();

// What tracebridge's defaults are (the harness sets test-friendly ones: flush=end, debug logs).
const TB_DEFAULTS = { TRACEBRIDGE_FLUSH: 'invoke', TRACEBRIDGE_LOG_LEVEL: 'info' };

// Fires every [trigger, xray] of a group, in order, and returns what each row needs later.
async function fireAll(st, prod, list) {
    const fired = [];
    for (const [trigger, xray] of list) {
        const f = await fire(st.emu, prod, trigger, xray);
        fired.push({ trigger, xray, ...f });
    }
    return fired;
}

const rowOf = (st, f) => describeRow(st.sink.spans(), st.handled().find((h) => h.requestId === f.rid) ?? null, f.rid, f.prods);
const xrayLabel = (x) => (x ? ' (X-Ray Sampled=1)' : '');

// ---- Java ----------------------------------------------------------------------------------

const JAVA_HANDLERS = [
    ['sqs', 'orders.OrdersSqsHandler::handleRequest', TRIGGERS.filter(isSqsTrigger)],
    ['generic', 'orders.OrdersHandler::handleRequest', TRIGGERS.filter((x) => !isSqsTrigger(x))],
    ['stream', 'orders.OrdersStreamHandler::handleRequest', TRIGGERS],
];

async function javaGroup(js) {
    for (const [kind, handler, triggers] of JAVA_HANDLERS) {
        const list = triggers.map((x) => [x, null]);
        list.push([triggers[0], xrayHeader(true)]); // Lambda's active tracing on: the X-Ray header must not matter
        const o = {
            tmp: `${js.name}-${kind}`, handler, runtime: javaCommand(js.home, handler), timeoutMs: 15000, shutdownMs: 3000,
            args: ['--execution-env', `AWS_Lambda_java${js.major}`, '--memory', '512'],
            env: { ...TB_DEFAULTS, TRACEBRIDGE_NEXT_WRAPPER: OTEL_HANDLER, ...JAVA_ENV },
        };
        await withStack(t, `${js.name} ${kind} handler`, o, async (st) => {
            const prod = makeProducer(st.sink.endpoint);
            try {
                return await fireAll(st, prod, list);
            } finally {
                await prod.shutdown();
            }
        }, (fired, st) => {
            for (const f of fired) {
                const label = `${js.name} ${kind} handler, ${f.trigger}${xrayLabel(f.xray)}`;
                const row = rowOf(st, f);
                const joined = checkJoinedRow(t, label, row);
                const custom = row.rec?.clientContext?.custom?.traceparent;
                t.ok(row.tb && custom === `00-${row.tb.traceId}-${row.tb.spanId}-01`, `${label}: the handler's client context carries custom.traceparent = the tracebridge span`, { custom, java: row.rec?.java });
                if (kind === 'sqs') t.ok(row.chain.length === 2 && row.chain[0].kind === 'CONSUMER' && row.invocation.kind === 'SERVER', `${label}: the agent's SERVER span and its SQS CONSUMER span under it`, row.chain.map((s) => `${s.kind} ${s.name} (${s.scope.name})`));
                record({ stack: js.name, trigger: f.trigger, joined, handler_parent: handlerParent(row, f.xray ?? row.rec?.xrayEnv), handler: kind, xray: f.xray ? 'Sampled=1' : 'Sampled=0', mode: 'exec-wrapper',
                    detail: `${row.invocation ? `${row.invocation.kind} "${row.invocation.name}" (${row.invocation.scope.name})` : 'no handler span'}; runtime ${row.rec?.java ? 'Java ' + row.rec.java : '?'}` });
            }
        });
    }
}

// ---- Go --------------------------------------------------------------------------------------

function goRowRecord(stack, f, row, joined, mode) {
    const inv = row.invocation;
    record({ stack, trigger: f.trigger, joined, handler_parent: handlerParent(row, f.xray ?? row.rec?.xrayEnv), xray: f.xray ? 'Sampled=1' : 'Sampled=0', mode,
        detail: inv ? `${inv.kind} "${inv.name}" (${inv.scope.name})${row.rec?.xrayEnv ? `; _X_AMZN_TRACE_ID ${row.rec.xrayEnv}` : ''}` : `no handler span exported; _X_AMZN_TRACE_ID ${row.rec?.xrayEnv ?? 'unset'}` });
}

// With the recipe: the event is promoted, tracebridge's span joins the producer; what the handler's
// own span gets depends on the configuration.
async function goRecipeGroup(stack) {
    const bin = path.join(SB, stack, 'bootstrap');
    const xrayStack = stack === 'go-xrayconfig';
    const list = TRIGGERS.map((x) => [x, null]);
    if (xrayStack) list.push(...TRIGGERS.map((x) => [x, xrayHeader(true)]));
    const o = { tmp: `${stack}-recipe`, handler: 'bootstrap', runtime: [bootstrapRecipe(tmpDir('go-bootstrap'), bin)], args: ['--provided'], env: TB_DEFAULTS };
    await withStack(t, `${stack} with the bootstrap recipe`, o, async (st) => {
        const prod = makeProducer(st.sink.endpoint);
        try {
            return { fired: await fireAll(st, prod, list), api: st.emu.apiPort };
        } finally {
            await prod.shutdown();
        }
    }, ({ fired, api }, st) => {
        for (const f of fired) {
            // Rows that need the planned X-Ray header rewrite say so in their description.
            const label = `${stack} (bootstrap recipe), ${f.trigger}${xrayLabel(f.xray)}${xrayStack && !f.xray ? ' [needs TRACEBRIDGE_XRAY_HEADER=auto]' : ''}`;
            const row = rowOf(st, f);
            const p = f.prods[0];
            t.ok(row.rec && row.rec.runtimeApi !== `127.0.0.1:${api}` && row.rec.event?.headers?.traceparent === (row.tb && `00-${p.traceId}-${row.tb.spanId}-01`),
                `${label}: through the proxy (the recipe's wrapper), the event promoted to headers.traceparent = tracebridge span`, { runtimeApi: row.rec?.runtimeApi, headers: row.rec?.event?.headers });
            let joined = false;
            if (!xrayStack) {
                // otellambda's default EventToCarrier is empty: every invocation is a new root.
                const inv = row.invocation;
                t.ok(row.tb && row.tb.traceId === p.traceId && row.tb.parentSpanId === p.sendSpanId, `${label}: tracebridge span is the child of the producer span`);
                t.ok(inv && inv.scope.name === GO_SCOPE && inv.kind === 'SERVER' && !inv.parentSpanId && inv.traceId !== p.traceId,
                    `${label}: otellambda's default config reads no context: the handler span is a new root trace (not joined)`, inv && { traceId: inv.traceId, parent: inv.parentSpanId });
                t.ok(row.business && row.business.parentSpanId === inv?.spanId, `${label}: business_logic is the child of the handler span`);
            } else if (!f.xray) {
                // Lambda's X-Ray off (Sampled=0): the X-Ray header, rewritten to the promoted context
                // (TRACEBRIDGE_XRAY_HEADER=auto), is xrayconfig's only channel.
                const want = row.tb && `Root=1-${row.tb.traceId.slice(0, 8)}-${row.tb.traceId.slice(8)};Parent=${row.tb.spanId};Sampled=1`;
                t.ok(row.rec && want && row.rec.xrayEnv?.startsWith(want), `${label}: _X_AMZN_TRACE_ID is the X-Ray form of the tracebridge span (auto X-Ray rewrite)`, { got: row.rec?.xrayEnv, want });
                joined = checkJoinedRow(t, label, row);
            } else {
                // Lambda's X-Ray on (Sampled=1): auto leaves Lambda's header alone; xrayconfig follows it.
                const inv = row.invocation;
                t.ok(row.tb && row.tb.traceId === p.traceId && row.tb.parentSpanId === p.sendSpanId, `${label}: tracebridge span is the child of the producer span`);
                t.ok(row.rec?.xrayEnv === f.xray, `${label}: _X_AMZN_TRACE_ID is Lambda's own header, unchanged`, { got: row.rec?.xrayEnv, want: f.xray });
                t.ok(inv && inv.traceId === xrayTraceId(f.xray) && inv.parentSpanId === /Parent=([0-9a-f]{16})/.exec(f.xray)[1], `${label}: the handler span is the child of Lambda's X-Ray segment (not joined)`, inv && { traceId: inv.traceId, parent: inv.parentSpanId });
            }
            goRowRecord(stack, f, row, joined, 'bootstrap-recipe');
        }
    });
}

// The binary itself as the bootstrap: provided.al2023 ignores AWS_LAMBDA_EXEC_WRAPPER, so the
// runtime talks to Lambda directly. tracebridge must still make a span per INVOKE, say so once,
// and break nothing.
async function goDirectGroup(stack) {
    const bin = path.join(SB, stack, 'bootstrap');
    const o = { tmp: `${stack}-direct`, handler: 'bootstrap', runtime: [bin], args: ['--provided'], env: TB_DEFAULTS };
    await withStack(t, `${stack} without the recipe`, o, async (st) => {
        const prod = makeProducer(st.sink.endpoint);
        try {
            return { fired: await fireAll(st, prod, TRIGGERS.map((x) => [x, null])), api: st.emu.apiPort };
        } finally {
            await prod.shutdown();
        }
    }, ({ fired, api }, st, dir) => {
        const log = fs.readFileSync(path.join(dir, 'processes.log'), 'utf8');
        const said = log.split('\n').filter((l) => l.startsWith('[ext:tracebridge]') && /never reached the proxy/.test(l));
        t.ok(said.length === 1 && /AWS_LAMBDA_EXEC_WRAPPER/.test(said[0]), `${stack} without the recipe: tracebridge said once that the runtime bypasses the proxy`, said);
        for (const f of fired) {
            const label = `${stack} (bootstrap without the recipe), ${f.trigger}`;
            const row = rowOf(st, f);
            t.ok(f.outcome === 'success', `${label}: the invocation succeeded`, f.outcome);
            t.ok(row.rec && row.rec.runtimeApi === `127.0.0.1:${api}`, `${label}: the runtime talked to the Runtime API directly`, row.rec?.runtimeApi);
            t.ok(row.tb && row.tb.attributes['tracebridge.bypass'] === true && row.tb.attributes['faas.invocation_id'] === f.rid && !row.tb.parentSpanId,
                `${label}: tracebridge made its invocation span from the INVOKE event (a root, tracebridge.bypass=true)`, row.tb && { parent: row.tb.parentSpanId, attrs: row.tb.attributes });
            const ev = row.rec?.event ?? null;
            if (f.trigger === 'direct') t.ok(ev && ev.__traceparent__ === f.prods[0].traceparent, `${label}: unproxied, the handler gets the event unchanged (__traceparent__ still in it)`, ev);
            else if (f.trigger === 'apigw-v2') t.ok(ev && ev.headers?.traceparent === f.prods[0].traceparent, `${label}: unproxied, the event is unchanged (the caller's traceparent)`, ev?.headers);
            else t.ok(ev && ev.headers === undefined, `${label}: unproxied, the event is unchanged (no headers added)`, ev && Object.keys(ev));
            if (stack === 'go-otellambda') {
                t.ok(row.invocation && !row.invocation.parentSpanId && row.business?.parentSpanId === row.invocation.spanId,
                    `${label}: the handler's spans still reach the backend through tracebridge's receiver (a root, business_logic under it)`);
            } else {
                // Lambda's own not-sampled header is xrayconfig's parent: its sampler drops every span.
                t.ok(!row.invocation && /Sampled=0/.test(row.rec?.xrayEnv ?? ''), `${label}: xrayconfig follows Lambda's Sampled=0 header, so the handler exports no span`, { xrayEnv: row.rec?.xrayEnv, got: row.invocation?.name });
            }
            goRowRecord(stack, f, row, false, 'bootstrap-direct');
        }
    });
}

// ---- main ------------------------------------------------------------------------------------

const groups = [];
for (const js of javaStacks()) {
    groups.push([js.name, async () => {
        if (js.home === 'none') return t.skip(`${js.name}: a newer LTS JDK than 17 under /usr/lib/jvm`, 'none installed');
        if (!t.ok(js.home && fs.existsSync(path.join(js.home, 'bin/java')) && readText(path.join(SB, 'java17-otel/classpath.txt')), `${js.name}: built (tests/stacks/${js.dir}/install.sh)`)) return;
        await javaGroup(js);
    }]);
}
for (const stack of ['go-otellambda', 'go-xrayconfig']) {
    groups.push([stack, async () => {
        const why = readText(path.join(SB, stack, 'unavailable'));
        if (why) return t.skip(`${stack}: built`, why);
        if (!t.ok(fs.existsSync(path.join(SB, stack, 'bootstrap')), `${stack}: built (tests/stacks/${stack}/install.sh)`)) return;
        await goRecipeGroup(stack);
        await goDirectGroup(stack);
    }]);
}

if (!fs.existsSync(TRACEBRIDGE)) {
    t.ok(false, `${TRACEBRIDGE} exists (make all)`);
    process.exit(1);
}
for (const [name, g] of groups) {
    if (process.env.TB_E2E_ONLY && !name.includes(process.env.TB_E2E_ONLY)) continue;
    const t0 = Date.now();
    try {
        await g();
    } catch (err) {
        t.ok(false, `${name} ran to the end`, String(err && err.stack || err));
    }
    t.diag(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
process.exit(t.failed ? 1 : 0);
