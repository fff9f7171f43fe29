// SPDX-License-Identifier: Apache-2.0
// The emulator itself, with the REAL aws-lambda-ric and OTel instrumentation and no tracebridge:
// Runtime API behaviour, event shapes, timeouts/crashes/resets, streaming, the Extensions API
// lifecycle (with a fake extension), the exec wrapper, Managed Instances.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Tap, tmpDir, startSink, startEmulator, readJsonl, waitFor, extensionsDir, request, json, REPO, WRAPPER, handlerSpan, childrenOf, ricCommand, IDLE_RUNTIME, runtimeNext, runGroups } from './lib/harness.mjs';

// Groups that do not look at spans run the runtime client without OTel (nothing to export to).
const PLAIN = ricCommand({ otel: false });

const t = new Tap();
const md5 = (s) => createHash('md5').update(s).digest('hex');
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const XRAY_RE = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/;

async function groupRuntime() {
    const dir = tmpDir('emu-rt');
    const sink = await startSink(dir);
    const events = path.join(dir, 'events.jsonl');
    const emu = await startEmulator({ dir, timeoutMs: 1500, env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, HANDLER_EVENTS_OUT: events } });
    const lastEvent = () => readJsonl(events).at(-1);
    try {
        let r = await emu.invoke({ mode: 'ok', n: 12345678901234567890n.toString(), headers: { traceparent: TP } });
        t.eq(r.status, 200, 'direct invoke: 200');
        t.ok(json(r).ok === true, 'direct invoke: handler result returned', r.body.toString());
        t.eq(r.headers['x-emu-cold-start'], 'true', 'first invoke is a cold start');
        const rec = lastEvent();
        t.eq(rec.requestId, r.headers['x-amzn-requestid'], 'runtime got Lambda-Runtime-Aws-Request-Id = the invoke id');
        t.ok(XRAY_RE.test(rec.xrayEnv ?? ''), 'Lambda-Runtime-Trace-Id is Root=…;Parent=…;Sampled=0 (→ _X_AMZN_TRACE_ID)', rec.xrayEnv);
        t.eq(rec.runtimeApi, `127.0.0.1:${emu.apiPort}`, 'runtime sees AWS_LAMBDA_RUNTIME_API = the emulator');

        r = await emu.invoke({ mode: 'ok' }, { 'X-Amz-Client-Context': Buffer.from(JSON.stringify({ custom: { k: 'v' }, env: {}, client: {} })).toString('base64') });
        t.eq(r.headers['x-emu-cold-start'], 'false', 'second invoke is warm');
        t.eq(lastEvent().clientContext?.Custom?.k ?? lastEvent().clientContext?.custom?.k, 'v', 'Client-Context delivered (parsed by the RIC)', lastEvent().clientContext);

        r = await emu.invoke({ mode: 'error' });
        t.eq(r.headers['x-amz-function-error'], 'Unhandled', 'handler error: X-Amz-Function-Error Unhandled');
        t.eq(json(r).errorType, 'Error', 'handler error: runtime error body returned');

        // Spans from the real instrumentation, exported straight to the sink.
        const spans = await waitFor(() => {
            const s = sink.spans();
            return s.filter((x) => x.name === 'business_logic').length >= 3 && s;
        }, 5000);
        const hs = spans && handlerSpan(spans, readJsonl(events)[0].requestId);
        t.ok(hs && hs.traceId === TP.slice(3, 35) && hs.parentSpanId === TP.slice(36, 52), 'handler span parented by headers.traceparent (real instrumentation)', hs);
        t.ok(hs && childrenOf(spans, hs).some((c) => c.name === 'business_logic'), 'business_logic is a child of the handler span');
        t.ok(hs && hs.attributes['faas.coldstart'] === true, 'instrumentation saw a cold start');

        // Timeout: the caller gets the timeout error on time; the environment is reset (cold start).
        const t0 = Date.now();
        r = await emu.invoke({ mode: 'timeout' });
        const took = Date.now() - t0;
        t.eq(r.headers['x-emu-outcome'], 'timeout', 'timeout: outcome timeout');
        t.ok(/Task timed out after 1\.50 seconds/.test(r.body.toString()), 'timeout: Lambda-style message', r.body.toString());
        t.ok(took >= 1450 && took < 2500, `timeout: answered at the deadline (${took} ms)`);
        r = await emu.invoke({ mode: 'ok' });
        t.ok(r.headers['x-emu-outcome'] === 'success' && r.headers['x-emu-cold-start'] === 'true', 'after a timeout the next invoke re-initialises (cold start)');

        // Crash: Runtime.ExitError, then a fresh environment.
        r = await emu.invoke({ mode: 'crash' });
        t.eq(r.headers['x-emu-error-type'], 'Runtime.ExitError', 'crash: Runtime.ExitError');
        t.ok(/exit status 3/.test(r.body.toString()), 'crash: exit status in the message', r.body.toString());
        r = await emu.invoke({ mode: 'ok' });
        t.ok(r.headers['x-emu-outcome'] === 'success' && r.headers['x-emu-cold-start'] === 'true', 'after a crash the next invoke re-initialises');
        const st = await emu.state();
        t.ok(st.inits === 3 && st.resets === 2, 'three inits, two resets so far', st);

        // Event sources: exact shapes.
        const sent = await emu.post('/sqs/send', { queue: 'orders', messages: [
            { body: '{"order":1}', messageAttributes: { traceparent: { DataType: 'String', StringValue: TP } } },
            { body: 'plain', messageAttributes: { n: { dataType: 'Number', stringValue: '7' } }, awsTraceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' },
        ] });
        t.ok(sent.invocations.length === 1 && sent.invocations[0].outcome === 'success', 'SQS: two messages in one batch invocation', sent);
        const sqs = lastEvent().event;
        const [r1, r2] = sqs.Records;
        t.ok(r1.eventSource === 'aws:sqs' && r1.eventSourceARN === 'arn:aws:sqs:us-east-1:123456789012:orders' && r1.awsRegion === 'us-east-1', 'SQS record: eventSource, eventSourceARN, awsRegion');
        t.ok(r1.messageAttributes.traceparent.stringValue === TP && r1.messageAttributes.traceparent.dataType === 'String' && Array.isArray(r1.messageAttributes.traceparent.stringListValues), 'SQS record: messageAttributes in the ESM shape (stringValue, dataType, list fields)', r1.messageAttributes);
        t.eq(r1.md5OfBody, md5('{"order":1}'), 'SQS record: md5OfBody is the MD5 of the body');
        t.ok(/^[0-9a-f]{32}$/.test(r1.md5OfMessageAttributes) && r1.receiptHandle.startsWith('AQEB') && r1.messageId === sent.messageIds[0], 'SQS record: md5OfMessageAttributes, receiptHandle, messageId');
        t.ok(r2.attributes.AWSTraceHeader?.startsWith('Root=1-5759e988') && !('AWSTraceHeader' in r1.attributes) && r2.attributes.ApproximateReceiveCount === '1', 'SQS record: AWSTraceHeader only when sent, system attributes present');
        // The SQS MD5 of message attributes, checked against a value computed by hand for {n: Number 7}.
        t.eq(r2.md5OfMessageAttributes, md5(Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('n'), Buffer.from([0, 0, 0, 6]), Buffer.from('Number'), Buffer.from([1]), Buffer.from([0, 0, 0, 1]), Buffer.from('7')])), 'SQS record: md5OfMessageAttributes per the SQS algorithm');

        await emu.post('/sns/publish', { topic: 'orders-topic', message: '{"order":2}', messageAttributes: { traceparent: { Type: 'String', Value: TP } } });
        const sns = lastEvent().event.Records;
        t.ok(sns.length === 1 && sns[0].EventSource === 'aws:sns' && sns[0].Sns.MessageAttributes.traceparent.Value === TP && 'SigningCertUrl' in sns[0].Sns && sns[0].Sns.Type === 'Notification', 'SNS event shape (one record, Sns.MessageAttributes.*.Value, SigningCertUrl)', sns[0]);

        await emu.post('/sns-sqs/publish', { topic: 'orders-topic', queue: 'orders', message: '{"order":3}', messageAttributes: { traceparent: { Type: 'String', Value: TP } } });
        const snsq = lastEvent().event.Records[0];
        const env = JSON.parse(snsq.body);
        t.ok(snsq.eventSource === 'aws:sqs' && Object.keys(snsq.messageAttributes).length === 0 && env.Type === 'Notification' && env.MessageAttributes.traceparent.Value === TP && 'SigningCertURL' in env && env.Message === '{"order":3}', 'SNS→SQS: SNS envelope in the SQS body, SQS messageAttributes empty', snsq);

        await emu.post('/eventbridge/put', { source: 'com.example.orders', detailType: 'OrderPlaced', detail: { traceparent: TP, id: 4 } });
        const eb = lastEvent().event;
        t.ok(eb.version === '0' && eb['detail-type'] === 'OrderPlaced' && eb.detail.traceparent === TP && eb.account === '123456789012' && /Z$/.test(eb.time), 'EventBridge event shape', eb);

        const a1 = await emu.post('/apigw/v1', { method: 'POST', path: '/orders', headers: { traceparent: TP, 'Content-Type': 'application/json' }, body: '{}' });
        const v1 = lastEvent().event;
        t.ok(v1.httpMethod === 'POST' && v1.multiValueHeaders.traceparent[0] === TP && v1.requestContext.stage === 'prod' && a1.invocations[0].payload.statusCode === 200, 'API Gateway v1 event shape and proxy result', v1);
        await emu.post('/apigw/v2', { method: 'GET', path: '/orders', headers: { Traceparent: TP } });
        const v2 = lastEvent().event;
        t.ok(v2.version === '2.0' && v2.headers.traceparent === TP && v2.requestContext.http.method === 'GET' && /^Root=1-/.test(v2.headers['x-amzn-trace-id']), 'API Gateway v2 event shape (lower-case headers, x-amzn-trace-id Root only)', v2);

        // Runtime API error answers.
        let e = await request(emu.apiPort, 'POST', '/2018-06-01/runtime/invocation/not-a-request/response', '{}');
        t.ok(e.status === 400 && json(e).errorType === 'InvalidRequestID', '/response with an unknown id → 400 InvalidRequestID');
        e = await request(emu.apiPort, 'POST', '/2018-06-01/runtime/init/error', '{}');
        t.ok(e.status === 403 && json(e).errorType === 'InvalidStateTransition', '/init/error after init → 403');
        e = await request(emu.apiPort, 'POST', '/2020-01-01/extension/register', '{"events":["INVOKE"]}', { 'Lambda-Extension-Name': 'late' });
        t.ok(e.status === 403 && json(e).errorType === 'Extension.RegistrationClosed', 'register after init → 403 Extension.RegistrationClosed');
        e = await request(emu.apiPort, 'GET', '/2020-01-01/extension/event/next');
        t.ok(e.status === 403 && json(e).errorType === 'Extension.MissingExtensionIdentifier', 'event/next without identifier → 403');

        // A large event goes out chunked (like RAPID) and arrives intact; a 2 MiB response comes back.
        const big = { mode: 'ok', pad: 'x'.repeat(3 * 1024 * 1024) };
        r = await emu.invoke(big);
        t.ok(r.status === 200 && lastEvent().event.pad.length === big.pad.length, '3 MiB event delivered intact');
    } finally {
        await emu.stop();
        await sink.stop();
    }
}

async function groupStreaming() {
    const dir = tmpDir('emu-stream');
    const emu = await startEmulator({ dir, handler: 'orders.stream', runtime: PLAIN });
    try {
        let r = await emu.invoke({ chunks: 6, chunkSize: 1000, gapMs: 60 });
        let want = '';
        for (let i = 0; i < 6; i++) want += String.fromCharCode(97 + i).repeat(999) + '\n';
        t.ok(r.status === 200 && r.body.toString() === want, 'streaming: body byte-identical', { len: r.body.length });
        t.eq(r.headers['content-type'], 'text/plain', 'streaming: content type from the handler');
        t.ok(r.chunks.length >= 3 && r.chunks[0].t < r.ms - 150, `streaming: relayed incrementally (first byte at ${r.chunks[0]?.t.toFixed(0)} ms of ${r.ms.toFixed(0)} ms, ${r.chunks.length} reads)`);
        r = await emu.invoke({ mode: 'error', chunks: 6, chunkSize: 100, gapMs: 5 });
        const tr = r.trailers || {};
        t.ok(tr['lambda-runtime-function-error-type'] && tr['lambda-runtime-function-error-body'], 'streaming error: error trailers relayed', tr);
        const eb = tr['lambda-runtime-function-error-body'] ? JSON.parse(Buffer.from(tr['lambda-runtime-function-error-body'], 'base64').toString()) : {};
        t.ok(eb.errorMessage === 'stream broke', 'streaming error: trailer body is base64 error JSON', eb);
        const log = await emu.log();
        t.ok(log.some((x) => x.type === 'rapi' && x.streaming && x.trailers && x.trailers['lambda-runtime-function-error-type']), 'streaming error: runtime sent the mid-stream error as trailers');
    } finally {
        await emu.stop();
    }
}

async function groupExtensions() {
    const dir = tmpDir('emu-ext');
    const out = path.join(dir, 'ext.jsonl');
    const fake = path.join(REPO, 'tests/emulator/fake-extension.mjs');
    const exts = extensionsDir(dir, { 'fake-ext': fake, 'zz-shutdown-only': fake });
    const events = path.join(dir, 'events.jsonl');
    // zz-shutdown-only reads its own subscription from the name-keyed variable below.
    const emu = await startEmulator({ dir, extensions: exts, timeoutMs: 1200, shutdownMs: 1000,
        env: { FAKE_EXT_OUT: out, FAKE_EXT_EVENTS_zz_shutdown_only: 'SHUTDOWN', HANDLER_EVENTS_OUT: events, _SECRET_UNDERSCORE: 'x' }, runtime: PLAIN });
    try {
        let r = await emu.invoke({ mode: 'ok' });
        t.eq(r.headers['x-emu-outcome'], 'success', 'with extensions: invoke succeeds');
        const log = await emu.log();
        const idx = (pred) => log.findIndex(pred);
        const lastReg = Math.max(...log.map((x, i) => (x.type === 'ext-register' ? i : -1)));
        const rtStart = idx((x) => x.type === 'spawn' && x.kind === 'runtime');
        t.ok(lastReg >= 0 && rtStart > lastReg, 'runtime started only after every extension registered');
        const recs = readJsonl(out);
        const reg = recs.find((x) => x.kind === 'register' && x.ext === 'fake-ext');
        const body = JSON.parse(reg.body);
        t.ok(reg.status === 200 && body.functionName === 'orders-fn' && body.handler === 'orders.handler' && body.accountId === '123456789012' && /^[0-9a-f-]{36}$/.test(reg.id), 'register: 200, identifier, functionName/handler, accountId with the feature header', body);
        const env = reg.env;
        t.ok(!('_HANDLER' in env) && !('_SECRET_UNDERSCORE' in env) && !('AWS_EXECUTION_ENV' in env) && !('LAMBDA_TASK_ROOT' in env), 'extension env: no _* variables, no AWS_EXECUTION_ENV, no LAMBDA_TASK_ROOT');
        t.ok(env.AWS_LAMBDA_RUNTIME_API === `127.0.0.1:${emu.apiPort}` && env.AWS_LAMBDA_FUNCTION_NAME === 'orders-fn' && env.FAKE_EXT_OUT === out, 'extension env: AWS_LAMBDA_RUNTIME_API, function name, customer variables');
        const inv = recs.find((x) => x.kind === 'event' && x.ext === 'fake-ext' && x.event.eventType === 'INVOKE');
        const h = readJsonl(events).at(-1);
        t.ok(inv && inv.event.requestId === r.headers['x-amzn-requestid'] && inv.event.invokedFunctionArn.endsWith(':function:orders-fn') && inv.eventId, 'INVOKE event: requestId, invokedFunctionArn, event identifier');
        t.ok(inv && inv.event.tracing.type === 'X-Amzn-Trace-Id' && inv.event.tracing.value.split(';')[0] === h.xrayEnv.split(';')[0], 'INVOKE tracing.value has the same Root as the runtime header');
        t.ok(inv && Math.abs(inv.event.deadlineMs - (Date.now() + 1200)) < 1500, 'INVOKE deadlineMs is epoch ms near now + timeout');

        // Timeout reset: extensions get SHUTDOWN reason timeout; the next invoke launches them anew.
        const pid1 = reg.pid;
        r = await emu.invoke({ mode: 'timeout' });
        t.eq(r.headers['x-emu-outcome'], 'timeout', 'timeout with extensions');
        await waitFor(() => readJsonl(out).some((x) => x.kind === 'event' && x.event.eventType === 'SHUTDOWN'), 3000);
        const sd = readJsonl(out).filter((x) => x.kind === 'event' && x.event.eventType === 'SHUTDOWN');
        t.ok(sd.length === 2 && sd.every((x) => x.event.shutdownReason === 'timeout'), 'timeout: both extensions got SHUTDOWN reason timeout', sd.map((x) => x.event));
        r = await emu.invoke({ mode: 'ok' });
        const regs = readJsonl(out).filter((x) => x.kind === 'register' && x.ext === 'fake-ext');
        t.ok(r.headers['x-emu-outcome'] === 'success' && regs.length === 2 && regs[1].pid !== pid1, 'after the reset the extensions are started again (new process)');

        // Spindown: runtime SIGTERM first, then SHUTDOWN with deadlineMs; extensions exit by themselves.
        const before = Date.now();
        const s = await emu.shutdown();
        const sd2 = readJsonl(out).filter((x) => x.kind === 'event' && x.event.eventType === 'SHUTDOWN').slice(-2);
        t.ok(sd2.length === 2 && sd2.every((x) => x.event.shutdownReason === 'spindown' && x.event.deadlineMs >= before + 900 && x.event.deadlineMs <= Date.now() + 1000), 'spindown: SHUTDOWN with reason and deadlineMs = now + budget', sd2.map((x) => x.event));
        t.ok(s.extensions.every((x) => x.code === 0 && !x.killed) && s.runtime.signal === 'SIGTERM', 'spindown: runtime got SIGTERM, extensions exited 0 on their own', s);
        const log2 = await emu.log();
        const lastShutdown = log2.map((x, i) => (x.type === 'shutdown-start' ? i : -1)).filter((i) => i >= 0).at(-1);
        const rtExit = log2.findIndex((x, i) => i > lastShutdown && x.type === 'exit' && x.kind === 'runtime');
        const firstSd = log2.findIndex((x, i) => i > lastShutdown && x.type === 'ext-event' && x.eventType === 'SHUTDOWN');
        t.ok(rtExit > 0 && firstSd > rtExit, 'spindown order: runtime stopped before SHUTDOWN reached the extensions');
        const zz = readJsonl(out).filter((x) => x.ext === 'zz-shutdown-only' && x.kind === 'event');
        t.ok(zz.length === 2 && zz.every((x) => x.event.eventType === 'SHUTDOWN'), 'an extension subscribed to SHUTDOWN only never gets INVOKE', zz.map((x) => x.event.eventType));
    } finally {
        await emu.stop();
    }
}

async function groupExtensionFaults() {
    const fake = path.join(REPO, 'tests/emulator/fake-extension.mjs');
    // An extension that never exits after SHUTDOWN is SIGKILLed at the deadline.
    {
        const dir = tmpDir('emu-hang');
        const exts = extensionsDir(dir, { hang: fake });
        const emu = await startEmulator({ dir, extensions: exts, shutdownMs: 600, env: { FAKE_EXT_SHUTDOWN: 'hang' }, runtime: PLAIN });
        try {
            await emu.invoke({});
            const s = await emu.shutdown();
            t.ok(s.extensions[0].killed && s.extensions[0].signal === 'SIGKILL' && s.durationMs >= 550 && s.durationMs < 1600, `hung extension SIGKILLed at the deadline (${s.durationMs} ms)`, s);
        } finally {
            await emu.stop();
        }
    }
    // An extension that crashes before registering fails init; so does /extension/init/error.
    for (const [mode, type] of [['crash', 'Extension.Crash'], ['init-error', 'Extension.ConfigInvalid']]) {
        const dir = tmpDir('emu-crash');
        const exts = extensionsDir(dir, { bad: fake });
        const emu = await startEmulator({ dir, extensions: exts, lazyInit: true, env: { FAKE_EXT_INIT: mode }, runtime: PLAIN });
        try {
            const r = await emu.invoke({});
            t.ok(r.headers['x-emu-outcome'] === 'init-error' && r.headers['x-emu-error-type'] === type, `extension ${mode} during init → invoke fails with ${type}`, r.headers);
        } finally {
            await emu.stop();
        }
    }
    // The exec wrapper: missing → init fails like Lambda's bootstrap (exit 127); the tracebridge
    // wrapper without a ready file → fail open, the function works.
    {
        const dir = tmpDir('emu-wrap');
        const emu = await startEmulator({ dir, lazyInit: true, env: { AWS_LAMBDA_EXEC_WRAPPER: '/nonexistent/wrapper' }, runtime: PLAIN });
        try {
            const r = await emu.invoke({});
            t.ok(r.headers['x-emu-outcome'] === 'init-error' && /exit status 127/.test(r.body.toString()), 'missing AWS_LAMBDA_EXEC_WRAPPER → init error, exit status 127', r.body.toString());
        } finally {
            await emu.stop();
        }
        const dir2 = tmpDir('emu-wrap2');
        const events = path.join(dir2, 'events.jsonl');
        const emu2 = await startEmulator({ dir: dir2, env: { AWS_LAMBDA_EXEC_WRAPPER: WRAPPER, TRACEBRIDGE_READY_FILE: path.join(dir2, 'none'), HANDLER_EVENTS_OUT: events }, runtime: PLAIN });
        try {
            const r = await emu2.invoke({ mode: 'ok' });
            t.ok(r.headers['x-emu-outcome'] === 'success' && readJsonl(events)[0].runtimeApi === `127.0.0.1:${emu2.apiPort}`, 'runtime started through the tracebridge wrapper; no ready file → direct API (fail open)');
            t.ok(/tracebridge-wrapper: proxy not ready/.test(emu2.procLog()), 'wrapper said so on stderr');
        } finally {
            await emu2.stop();
        }
    }
}

async function groupManagedInstances() {
    const dir = tmpDir('emu-mi');
    const fake = path.join(REPO, 'tests/emulator/fake-extension.mjs');
    const out = path.join(dir, 'ext.jsonl');
    const exts = extensionsDir(dir, { 'inv-ext': fake });
    const emu = await startEmulator({ dir, extensions: exts, mi: true, maxConcurrency: 4, timeoutMs: 5000,
        env: { FAKE_EXT_OUT: out, FAKE_EXT_EVENTS: 'INVOKE,SHUTDOWN', HANDLER_WORK_MS: '400' }, runtime: PLAIN });
    try {
        const reg = await waitFor(() => readJsonl(out).find((x) => x.kind === 'register'), 5000);
        t.ok(reg && reg.status === 403 && JSON.parse(reg.body).errorType === 'Extension.InvalidEventType', 'Managed Instances: registering for INVOKE → 403 Extension.InvalidEventType', reg && reg.body);
        await emu.stop();
        const dir2 = tmpDir('emu-mi2');
        const out2 = path.join(dir2, 'ext.jsonl');
        const exts2 = extensionsDir(dir2, { 'shut-ext': fake });
        const emu2 = await startEmulator({ dir: dir2, extensions: exts2, mi: true, maxConcurrency: 4, timeoutMs: 5000,
            env: { FAKE_EXT_OUT: out2, FAKE_EXT_EVENTS: 'SHUTDOWN', HANDLER_WORK_MS: '800' }, runtime: PLAIN });
        try {
            const init = await emu2.init();
            t.ok(init.ok, 'Managed Instances: init completes', init);
            const t0 = Date.now();
            const rs = await Promise.all([1, 2, 3, 4].map((i) => emu2.invoke({ mode: 'ok', i })));
            const took = Date.now() - t0;
            t.ok(rs.every((r) => r.headers['x-emu-outcome'] === 'success'), 'Managed Instances: 4 concurrent invocations succeed');
            t.ok(took < 1600, `Managed Instances: they ran concurrently (${took} ms for 4 × 800 ms of work; sequential would be 3200)`);
            const reg2 = readJsonl(out2).find((x) => x.kind === 'register');
            t.ok(reg2.status === 200 && reg2.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances' && !('AWS_LAMBDA_MAX_CONCURRENCY' in reg2.env), 'Managed Instances: SHUTDOWN-only registration; AWS_LAMBDA_MAX_CONCURRENCY only for the runtime');
            const s = await emu2.shutdown();
            t.ok(s.extensions[0].code === 0, 'Managed Instances: SHUTDOWN delivered, extension exited 0');
        } finally {
            await emu2.stop();
        }
    } finally {
        await emu.stop();
    }
}

// Closed /next, as Lambda treats them: a waiting /next whose connection closes is dropped (the next
// invocation goes to another); an invocation written to a /next that closes is lost and times out,
// never queued again. The test plays the runtime (IDLE_RUNTIME + raw /next connections).
async function groupNextClosed() {
    const dir = tmpDir('emu-next-closed');
    const emu = await startEmulator({ dir, mi: true, maxConcurrency: 4, timeoutMs: 1500, runtime: IDLE_RUNTIME, env: { RUNTIME_ADDR_OUT: path.join(dir, 'rt-addr') } });
    const post = (id, body) => request(emu.apiPort, 'POST', `/2018-06-01/runtime/invocation/${id}/response`, body);
    try {
        const a = [1, 2, 3].map(() => runtimeNext(emu.apiPort));
        t.ok(await waitFor(async () => (await emu.state()).pendingNext === 3, 3000), 'closed /next: 3 /next wait');
        a[0].close();
        a[1].close();
        t.ok(await waitFor(async () => (await emu.state()).pendingNext === 1, 3000), 'closed /next: 2 closed, 1 left waiting');
        let r = emu.invoke({ n: 1 });
        const got = await a[2].done;
        t.ok(got && got.status === 200 && json(got).n === 1, 'closed /next: the invocation goes to the /next still open');
        await post(got.headers['lambda-runtime-aws-request-id'], '{"ok":1}');
        t.eq((await r).body.toString(), '{"ok":1}', 'closed /next: and is answered');

        const b = runtimeNext(emu.apiPort);
        await waitFor(async () => (await emu.state()).pendingNext === 1, 3000);
        r = emu.invoke({ pad: 'x'.repeat(10000) }, { 'X-Emu-Next-Stall-Ms': '300' });
        const stalled = await waitFor(async () => (await emu.log()).find((x) => x.type === 'next-stalled'), 3000);
        b.close(); // mid-delivery: half the event was written
        const c = runtimeNext(emu.apiPort);
        const lost = await r;
        t.eq(lost.headers['x-emu-outcome'], 'timeout', 'closed /next: an invocation whose /next closed mid-delivery times out');
        const log = await emu.log();
        t.ok(stalled && log.some((x) => x.type === 'next-lost' && x.requestId === stalled.requestId), 'closed /next: and is logged lost', log.filter((x) => x.type === 'next-lost'));
        t.eq((await emu.state()).nextLost, 1, 'closed /next: /state counts 1 lost');
        r = emu.invoke({ n: 3 });
        const next = await c.done;
        t.ok(next && json(next).n === 3, 'closed /next: it was not queued again: the next /next gets the next invocation', next && next.body.toString());
        await post(next.headers['lambda-runtime-aws-request-id'], '{"ok":3}');
        t.eq((await r).body.toString(), '{"ok":3}', 'closed /next: which is answered');
    } finally {
        await emu.stop();
    }
}

const groups = [groupRuntime, groupStreaming, groupExtensions, groupExtensionFaults, groupManagedInstances, groupNextClosed];
await runGroups(t, groups);
