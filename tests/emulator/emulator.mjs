#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// A local AWS Lambda execution environment: the Runtime API and the Extensions API on one
// 127.0.0.1 port, extensions launched from an /opt/extensions-style folder, the runtime started
// (through AWS_LAMBDA_EXEC_WRAPPER, as Lambda's bootstrap does) only after every extension
// registered, INVOKE and /next released together, timeouts and crashes resetting the environment
// with SHUTDOWN, and a control API (second port) with direct invoke and event-source feeders.
// Behaviour follows ../shared/reference/lambda-apis.md (from the project root); see README.md next to this file.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as ev from './events.mjs';
import { TelemetryApi } from './telemetry.mjs';

const USAGE = `usage: emulator.mjs [options] -- RUNTIME_COMMAND...
  --extensions DIR        start every executable file in DIR as an external extension
  --port N                Runtime+Extensions API port (default 0: any free port)
  --control-port N        control API port (default 0)
  --function-name NAME    (default orders-fn)   --handler H (_HANDLER, default index.handler)
  --task-root DIR         LAMBDA_TASK_ROOT and cwd of the runtime (default: cwd)
  --timeout-ms N          function timeout (default 3000)   --memory MB (default 128)
  --init-timeout-ms N     (default 10000)                    --shutdown-ms N (default 2000)
  --env K=V               function environment variable (repeatable), e.g. AWS_LAMBDA_EXEC_WRAPPER
  --pass-env NAME         copy NAME from the emulator's environment (repeatable)
  --extension-env K=V     only for the extensions / --runtime-env K=V only for the runtime (test
                          plumbing, e.g. different OTLP endpoints for the handler and the extension)
  --execution-env V       AWS_EXECUTION_ENV (default AWS_Lambda_nodejs24.x; '' leaves it unset)
  --provided              an OS-only runtime (provided.al2023): the runtime command is started
                          directly, AWS_LAMBDA_EXEC_WRAPPER is ignored, no AWS_EXECUTION_ENV
  --managed-instances     Lambda Managed Instances mode   --max-concurrency N (default 4)
  --snapstart             SnapStart: init, snapshot (every process SIGSTOPped), restore (SIGCONT,
                          /runtime/restore/next answered); --snapshot-ms N (default 200) between;
                          implies --restore-events
  --lazy-init             initialise at the first invoke (default: at start)
  --trace-lineage         add ;Lineage=... to Lambda-Runtime-Trace-Id
  --telemetry MODE        on (default) | silent (subscriptions accepted, nothing ever delivered,
                          as RIE does) | refuse (404, as a platform without the Telemetry API)
  --telemetry-freeze      deliver Telemetry API batches only while the sandbox would not be frozen
                          (an invocation's report then comes during the next one, as in Lambda)
  --restore-events        SnapStart-style restore: init type snap-start, and the Telemetry API's
                          restoreStart/restoreRuntimeDone/restoreReport before the first invoke
                          (the Runtime API's /restore/next only with --snapstart)
  --enforce-memory        kill the runtime when its RSS passes --memory (Runtime.OutOfMemory)
  --sqs-batch-size N      (default 10)  --sqs-window-ms N (default 20)
  --log FILE              JSON lines of everything that happens
  --proc-log FILE         output of the extensions and the runtime (default: stderr)
Prints "READY <api-port> <control-port>" once both ports listen.`;

function parseArgs(argv) {
    const o = {
        extensions: null, port: 0, controlPort: 0, functionName: 'orders-fn', handler: 'index.handler',
        taskRoot: process.cwd(), timeoutMs: 3000, memory: 128, initTimeoutMs: 10000, shutdownMs: 2000,
        env: {}, extEnv: {}, rtEnv: {}, passEnv: [], executionEnv: 'AWS_Lambda_nodejs24.x', provided: false, mi: false, maxConcurrency: 4,
        lazyInit: false, traceLineage: false, telemetryMode: 'on', telemetryFreeze: false, restoreEvents: false, enforceMemory: false, sqsBatchSize: 10, sqsWindowMs: 20, log: null, procLog: null,
        snapstart: false, snapshotMs: 200, restoreTimeoutMs: 10000,
        region: 'us-east-1', account: '123456789012', runtime: [],
    };
    const num = (v) => {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
        return n;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        switch (a) {
            case '--': o.runtime = argv.slice(i + 1); i = argv.length; break;
            case '--extensions': o.extensions = path.resolve(val()); break;
            case '--port': o.port = num(val()); break;
            case '--control-port': o.controlPort = num(val()); break;
            case '--function-name': o.functionName = val(); break;
            case '--handler': o.handler = val(); break;
            case '--task-root': o.taskRoot = path.resolve(val()); break;
            case '--timeout-ms': o.timeoutMs = num(val()); break;
            case '--memory': o.memory = num(val()); break;
            case '--init-timeout-ms': o.initTimeoutMs = num(val()); break;
            case '--shutdown-ms': o.shutdownMs = num(val()); break;
            case '--env': case '--extension-env': case '--runtime-env': {
                const kv = val();
                const eq = kv.indexOf('=');
                if (eq <= 0) throw new Error(`${a} wants K=V, got ${kv}`);
                const target = a === '--env' ? o.env : a === '--runtime-env' ? o.rtEnv : o.extEnv;
                target[kv.slice(0, eq)] = kv.slice(eq + 1);
                break;
            }
            case '--pass-env': o.passEnv.push(val()); break;
            case '--execution-env': o.executionEnv = val(); break;
            case '--provided': o.provided = true; o.executionEnv = ''; break;
            case '--managed-instances': o.mi = true; break;
            case '--max-concurrency': o.maxConcurrency = num(val()); break;
            case '--snapstart': o.snapstart = true; break;
            case '--snapshot-ms': o.snapshotMs = num(val()); break;
            case '--lazy-init': o.lazyInit = true; break;
            case '--trace-lineage': o.traceLineage = true; break;
            case '--telemetry': o.telemetryMode = val(); break;
            case '--telemetry-freeze': o.telemetryFreeze = true; break;
            case '--restore-events': o.restoreEvents = true; break;
            case '--enforce-memory': o.enforceMemory = true; break;
            case '--sqs-batch-size': o.sqsBatchSize = num(val()); break;
            case '--sqs-window-ms': o.sqsWindowMs = num(val()); break;
            case '--log': o.log = val(); break;
            case '--proc-log': o.procLog = val(); break;
            case '--region': o.region = val(); break;
            case '--account': o.account = val(); break;
            case '-h': case '--help': console.log(USAGE); process.exit(0); break;
            default: throw new Error(`unknown option ${a}\n${USAGE}`);
        }
    }
    if (o.runtime.length === 0) throw new Error(`no runtime command\n${USAGE}`);
    if (o.snapstart && o.mi) throw new Error('--snapstart and --managed-instances exclude each other');
    if (o.snapstart) o.restoreEvents = true; // the Telemetry API's side of the same restore
    return o;
}

const MAX_RESPONSE = 6 * 1024 * 1024; // buffered response limit (413 above)
const MAX_EXTENSIONS = 10;
const RUNTIME_API = '/2018-06-01';
const EXT_API = '/2020-01-01';

const hex = (n) => randomBytes(n).toString('hex');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// The X-Ray error cause a runtime sent with /error (up to ~1 MiB): its size, whether it is JSON,
// and a digest of the first exception's message, for tests that check it arrived intact.
function describeXrayCause(v) {
    const out = { bytes: Buffer.byteLength(v), json: false, messageSha256: null };
    try {
        const j = JSON.parse(v);
        out.json = true;
        const m = j?.exceptions?.[0]?.message;
        if (typeof m === 'string') out.messageSha256 = sha256(m);
    } catch { /* not JSON */ }
    return out;
}

function errorBody(errorType, errorMessage) {
    return JSON.stringify({ errorMessage, errorType });
}

function reply(res, status, body, headers = {}) {
    if (res.writableEnded || res.destroyed) return;
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body ?? '');
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': buf.length, ...headers });
    res.end(buf);
}

const replyError = (res, status, type, msg) => reply(res, status, errorBody(type, msg));

function readBody(req, limit = Infinity) {
    return new Promise((resolve, reject) => {
        const parts = [];
        let len = 0;
        let over = false;
        req.on('data', (c) => {
            len += c.length;
            if (len > limit) over = true;
            else parts.push(c);
        });
        req.on('end', () => resolve({ body: Buffer.concat(parts), len, over, trailers: req.trailers }));
        req.on('error', reject);
    });
}

function deferred() {
    let resolve;
    const p = new Promise((r) => { resolve = r; });
    return { promise: p, resolve };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The message ids of an SQS batch that failed: all of them when the invocation failed, else
// those the handler named in batchItemFailures (ReportBatchItemFailures).
function sqsFailed(r, batch) {
    if (r.outcome !== 'success' || r.functionError) return new Set(batch.map((e) => e.msg.messageId));
    try {
        const j = JSON.parse(r.body.toString('utf8'));
        return new Set((Array.isArray(j?.batchItemFailures) ? j.batchItemFailures : []).map((f) => f?.itemIdentifier));
    } catch {
        return new Set();
    }
}

class Emulator {
    constructor(o) {
        this.o = o;
        this.t0 = performance.now();
        this.logStream = o.log ? fs.createWriteStream(o.log, { flags: 'a' }) : null;
        this.procOut = o.procLog ? fs.createWriteStream(o.procLog, { flags: 'a' }) : process.stderr;
        this.events = []; // in-memory copy of the log, served at GET /log
        this.env = null; // the current execution environment (sandbox)
        this.generation = 0;
        this.queue = []; // invocations waiting for the environment
        this.sqs = new Map(); // queue name → { pending: [], timer }
        this.arn = `arn:aws:lambda:${o.region}:${o.account}:function:${o.functionName}`;
        this.stopping = false;
        this.stats = { invocations: 0, inits: 0, resets: 0, nextLost: 0 };
        this.telemetry = new TelemetryApi({ log: (type, fields) => this.log(type, fields), mi: o.mi, freeze: o.telemetryFreeze });
    }

    initType() {
        return this.o.mi ? 'lambda-managed-instances' : this.o.restoreEvents || this.o.snapstart ? 'snap-start' : 'on-demand';
    }

    log(type, fields = {}) {
        const e = { t: Math.round((performance.now() - this.t0) * 1000) / 1000, type, ...fields };
        this.events.push(e);
        if (this.events.length > 20000) this.events.splice(0, 10000);
        if (this.logStream) this.logStream.write(JSON.stringify(e) + '\n');
    }

    // ---- environments handed to processes -----------------------------------------------------

    baseEnv() {
        const o = this.o;
        const e = {
            PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
            LANG: 'en_US.UTF-8',
            TZ: ':UTC',
            AWS_REGION: o.region,
            AWS_DEFAULT_REGION: o.region,
            AWS_LAMBDA_FUNCTION_NAME: o.functionName,
            AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memory),
            AWS_LAMBDA_INITIALIZATION_TYPE: this.initType(),
            AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${this.apiPort}`,
            AWS_ACCESS_KEY_ID: 'ASIAEMULATOREXAMPLE',
            AWS_SECRET_ACCESS_KEY: 'emulator/secret/not/real',
            AWS_SESSION_TOKEN: 'emulator-session-token',
            AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.functionName}`,
            AWS_LAMBDA_LOG_STREAM_NAME: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${hex(16)}`,
            ...(o.executionEnv ? { AWS_EXECUTION_ENV: o.executionEnv } : {}),
            // Lambda's is 169.254.79.129:2000; tests send to nothing but loopback (the ADOT
            // distros send unsampled spans to this address over UDP).
            AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
            AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
            LAMBDA_TASK_ROOT: o.taskRoot,
            LAMBDA_RUNTIME_DIR: '/var/runtime',
            _HANDLER: o.handler,
        };
        // Sanitizer settings and explicitly passed variables (test plumbing, not Lambda's).
        for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'HOME', ...o.passEnv]) {
            if (process.env[k] !== undefined) e[k] = process.env[k];
        }
        return Object.assign(e, o.env);
    }

    runtimeEnv() {
        const e = this.baseEnv();
        if (this.o.mi) e.AWS_LAMBDA_MAX_CONCURRENCY = String(this.o.maxConcurrency);
        return Object.assign(e, this.o.rtEnv);
    }

    // Extensions do not see "_"-prefixed variables nor the runtime-only ones (lambda-apis.md §2.2).
    extensionEnv() {
        const e = this.baseEnv();
        for (const k of Object.keys(e)) {
            if (k.startsWith('_') || ['AWS_XRAY_CONTEXT_MISSING', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_LOG_GROUP_NAME',
                'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_XRAY_DAEMON_ADDRESS', 'LAMBDA_RUNTIME_DIR', 'LAMBDA_TASK_ROOT'].includes(k)) {
                delete e[k];
            }
        }
        return Object.assign(e, this.o.extEnv);
    }

    // ---- processes -------------------------------------------------------------------------------

    spawnProc(env, kind, name, file, args, procEnv) {
        const p = { kind, name, file, child: null, pid: null, exited: false, code: null, signal: null, killed: false, exitedAt: null };
        p.exitPromise = new Promise((resolve) => { p.onExit = resolve; });
        let child;
        try {
            child = spawn(file, args, { env: procEnv, cwd: this.o.taskRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (err) {
            this.log('spawn-error', { kind, name, error: String(err) });
            p.exited = true;
            p.code = 127;
            p.onExit();
            setImmediate(() => this.onProcExit(env, p));
            return p;
        }
        p.child = child;
        p.pid = child.pid;
        const prefix = `[${kind === 'runtime' ? 'runtime' : 'ext:' + name}] `;
        for (const s of [child.stdout, child.stderr]) {
            let partial = '';
            s.on('data', (d) => {
                const lines = (partial + d.toString('utf8')).split('\n');
                partial = lines.pop();
                for (const l of lines) this.procOut.write(prefix + l + '\n');
            });
            s.on('end', () => { if (partial) this.procOut.write(prefix + partial + '\n'); });
        }
        child.on('error', (err) => {
            this.log('spawn-error', { kind, name, error: String(err) });
            if (!p.exited) {
                p.exited = true;
                p.code = 127;
                p.onExit();
                this.onProcExit(env, p);
            }
        });
        child.on('exit', (code, signal) => {
            if (p.exited) return;
            p.exited = true;
            p.code = code;
            p.signal = signal;
            p.exitedAt = performance.now();
            this.log('exit', { kind, name, pid: p.pid, code, signal, generation: env.gen });
            p.onExit();
            this.onProcExit(env, p);
        });
        this.log('spawn', { kind, name, pid: child.pid, file, args, generation: env.gen });
        return p;
    }

    kill(p, sig) {
        if (!p || p.exited || !p.pid) return;
        if (sig === 'SIGKILL') p.killed = true;
        try {
            process.kill(-p.pid, sig); // the whole process group: the sandbox goes, children too
        } catch {
            try { process.kill(p.pid, sig); } catch { /* already gone */ }
        }
    }

    allProcs(env) {
        return [...env.launched.values()].map((l) => l.proc).concat(env.runtime.proc ? [env.runtime.proc] : []).filter(Boolean);
    }

    // ---- lifecycle -------------------------------------------------------------------------------

    newEnv() {
        const env = {
            gen: ++this.generation,
            state: 'init', // init → [snapshot → restoring →] ready → resetting → dead
            launched: new Map(), // extension file name → { name, proc, registered }
            exts: new Map(), // identifier → extension
            registrationOpen: true,
            runtime: { proc: null, started: false, pendingNext: [], restoreNext: null, initErrored: false },
            current: null, // the invocation in flight (on-demand mode)
            inflight: new Map(), // request id → invocation (all modes)
            runtimeQueue: [], // Managed Instances: invocations waiting for a /next
            firstInvoke: true,
            initStart: performance.now(),
            initDone: deferred(),
            reset: null,
        };
        this.env = env;
        this.stats.inits++;
        this.telemetry.attach(env);
        return env;
    }

    listExtensions() {
        const dir = this.o.extensions;
        if (!dir) return [];
        let names;
        try {
            names = fs.readdirSync(dir).sort();
        } catch {
            return [];
        }
        return names.map((n) => path.join(dir, n)).filter((f) => {
            try {
                const st = fs.statSync(f);
                return st.isFile() && (st.mode & 0o111) !== 0;
            } catch {
                return false;
            }
        });
    }

    // Starts init; resolves with null on success or an error {errorType, body} on failure.
    startInit() {
        const env = this.newEnv();
        this.log('init-start', { generation: env.gen });
        this.tmInitStart(env);
        const files = this.listExtensions();
        const extEnv = this.extensionEnv();
        for (const f of files) {
            const name = path.basename(f);
            const l = { name, proc: null, registered: false };
            env.launched.set(name, l);
            l.proc = this.spawnProc(env, 'extension', name, f, [], extEnv);
        }
        env.initTimer = setTimeout(() => this.initFailed(env, 'Sandbox.Timedout',
            `Init phase timed out after ${this.o.initTimeoutMs} ms`), this.o.initTimeoutMs);
        this.maybeStartRuntime(env);
        env.initDone.promise.then((err) => {
            if (err && this.queue.length) {
                const inv = this.queue.shift();
                this.finishResult(inv, { outcome: 'init-error', functionError: 'Unhandled', errorType: err.errorType, body: err.body });
            }
            this.pump();
        });
        return env.initDone.promise;
    }

    maybeStartRuntime(env) {
        if (env.state !== 'init' || env.runtime.started) return;
        for (const l of env.launched.values()) if (!l.registered) return;
        env.runtime.started = true;
        this.log('runtime-start', { generation: env.gen, registered: [...env.exts.values()].map((x) => x.name) });
        // Lambda's bootstrap: exec the wrapper with the interpreter command line, if one is set.
        const renv = this.runtimeEnv();
        let cmd = this.o.runtime.slice();
        if (cmd[0] === 'node') cmd[0] = process.execPath;
        // OS-only runtimes (provided.*) start the bootstrap directly and ignore the wrapper.
        const wrapper = this.o.provided ? null : renv.AWS_LAMBDA_EXEC_WRAPPER;
        if (this.o.provided && renv.AWS_LAMBDA_EXEC_WRAPPER) this.log('wrapper-ignored', { wrapper: renv.AWS_LAMBDA_EXEC_WRAPPER });
        if (wrapper) {
            let problem = null;
            try {
                fs.accessSync(wrapper, fs.constants.F_OK);
                try { fs.accessSync(wrapper, fs.constants.X_OK); } catch { problem = [126, 'is not executable']; }
            } catch {
                problem = [127, 'does not exist'];
            }
            if (problem) {
                this.procOut.write(`[runtime] bootstrap: wrapper ${wrapper} ${problem[1]}\n`);
                this.log('wrapper-error', { wrapper, code: problem[0] });
                const p = { kind: 'runtime', name: 'runtime', exited: true, code: problem[0], signal: null, exitPromise: Promise.resolve() };
                env.runtime.proc = p;
                setImmediate(() => this.onProcExit(env, p));
                return;
            }
            cmd = [wrapper, ...cmd];
        }
        env.runtime.proc = this.spawnProc(env, 'runtime', 'runtime', cmd[0], cmd.slice(1), renv);
    }

    // Init is over when every extension waits in /event/next and the runtime in /next, or (the
    // SnapStart runtime's "ready for the snapshot") in /restore/next.
    checkInitDone(env) {
        const rt = env.runtime;
        if (env.state !== 'init' || !rt.started || (rt.pendingNext.length === 0 && !rt.restoreNext)) return;
        for (const x of env.exts.values()) if (!this.extWaiting(x)) return;
        clearTimeout(env.initTimer);
        env.registrationOpen = false;
        const ms = performance.now() - env.initStart;
        env.initDurationMs = ms;
        this.log('init-done', { generation: env.gen, initDurationMs: Math.round(ms * 1000) / 1000 });
        this.tmInitDone(env, 'success', null);
        this.startMemoryWatch(env);
        if (this.o.snapstart) {
            this.snapshotAndRestore(env);
            return;
        }
        env.state = 'ready';
        env.initDone.resolve(null);
    }

    // ---- SnapStart ------------------------------------------------------------------------------
    // Lambda snapshots the sandbox after init and later restores it (many times, into many
    // sandboxes). Here the snapshot is a pause: every process of the sandbox is SIGSTOPped for
    // --snapshot-ms, then SIGCONTed, and the restore runs as RAPID runs it (RIE handleRestore):
    // the runtime's pending GET /runtime/restore/next is answered 200 (empty body), and the
    // restore is over when the runtime waits in /next again. Extensions get nothing on restore:
    // RAPID releases only the runtime, so an extension sits in /event/next from before the
    // snapshot until the first INVOKE (the Telemetry API's platform.restore* events are not
    // emulated). Copies of one snapshot are separate emulators (see README.md).
    async snapshotAndRestore(env) {
        env.state = 'snapshot';
        const procs = this.allProcs(env).filter((p) => !p.exited);
        for (const p of procs) this.kill(p, 'SIGSTOP');
        env.stopped = procs;
        this.log('snapshot', { generation: env.gen, pids: procs.map((p) => p.pid), snapshotMs: this.o.snapshotMs });
        await sleep(this.o.snapshotMs);
        if (env.state !== 'snapshot') return; // reset meanwhile
        env.state = 'restoring';
        for (const p of procs) this.kill(p, 'SIGCONT');
        env.stopped = null;
        const res = env.runtime.restoreNext;
        env.runtime.restoreNext = null;
        this.log('restore-start', { generation: env.gen, runtimeWaiting: !!res });
        env.restoreTimer = setTimeout(() => this.restoreFailed(env, 'Sandbox.Timedout', 'Restore timed out'), this.o.restoreTimeoutMs);
        if (res) reply(res, 200, '', { 'Content-Type': 'application/octet-stream' });
        this.checkRestoreDone(env);
    }

    checkRestoreDone(env) {
        if (env.state !== 'restoring' || env.runtime.pendingNext.length === 0) return;
        clearTimeout(env.restoreTimer);
        env.state = 'ready';
        this.log('restore-done', { generation: env.gen });
        env.initDone.resolve(null);
    }

    restoreFailed(env, errorType, message) {
        if (env.state !== 'restoring') return;
        clearTimeout(env.restoreTimer);
        this.log('restore-error', { generation: env.gen, errorType, message });
        const err = { errorType, body: Buffer.from(errorBody(errorType, message)) };
        this.reset(env, 'failure').then(() => env.initDone.resolve(err));
    }

    initFailed(env, errorType, message, body) {
        if (env.state !== 'init') return;
        clearTimeout(env.initTimer);
        this.log('init-error', { generation: env.gen, errorType, message });
        this.tmInitDone(env, 'error', errorType);
        const err = { errorType, body: body ?? Buffer.from(errorBody(errorType, message)) };
        this.reset(env, 'failure').then(() => env.initDone.resolve(err));
    }

    extWaiting(x) {
        return x.pending !== null && x.queue.length === 0;
    }

    deliverExt(x, event) {
        this.log('ext-event', { name: x.name, eventType: event.eventType, requestId: event.requestId });
        if (x.pending) {
            const res = x.pending;
            x.pending = null;
            reply(res, 200, JSON.stringify(event), { 'Lambda-Extension-Event-Identifier': randomUUID() });
        } else {
            x.queue.push(event);
        }
    }

    pump() {
        while (this.queue.length && !this.stopping) {
            const env = this.env;
            if (!env) {
                this.startInit();
                return;
            }
            if (env.state !== 'ready') return;
            if (!this.o.mi && env.current) return;
            if (this.o.mi && env.inflight.size >= this.o.maxConcurrency) return;
            this.dispatch(env, this.queue.shift());
        }
    }

    traceHeaders() {
        const root = `1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${hex(12)}`;
        const lineage = this.o.traceLineage ? `;Lineage=1:${hex(4)}:0` : '';
        // The runtime sees a Parent rebuilt for the function segment, extensions the raw header.
        return {
            ext: `Root=${root};Parent=${hex(8)};Sampled=0${lineage}`,
            runtime: `Root=${root};Parent=${hex(8)};Sampled=0${lineage}`,
        };
    }

    dispatch(env, inv) {
        const now = Date.now();
        inv.env = env;
        inv.state = 'running';
        inv.coldStart = env.firstInvoke;
        env.firstInvoke = false;
        inv.deadlineMs = now + this.o.timeoutMs;
        inv.dispatchedAt = performance.now();
        if (!inv.trace) inv.trace = this.traceHeaders();
        else if (typeof inv.trace === 'string') inv.trace = { ext: inv.trace, runtime: inv.trace };
        env.inflight.set(inv.id, inv);
        if (!this.o.mi) env.current = inv;
        this.stats.invocations++;
        this.log('invoke', { requestId: inv.id, generation: env.gen, coldStart: inv.coldStart, deadlineMs: inv.deadlineMs, bytes: inv.payload.length, source: inv.source });
        inv.timer = setTimeout(() => this.onTimeout(inv), this.o.timeoutMs);
        this.telemetry.thaw(env);
        if (this.o.restoreEvents && inv.coldStart) this.tmRestore(env, inv);
        this.tmStart(inv);
        const event = { eventType: 'INVOKE', deadlineMs: inv.deadlineMs, requestId: inv.id, invokedFunctionArn: this.arn, tracing: { type: 'X-Amzn-Trace-Id', value: inv.trace.ext } };
        // Released together: the INVOKE event to subscribed extensions and the event to the runtime.
        for (const x of env.exts.values()) if (x.events.has('INVOKE')) this.deliverExt(x, event);
        const res = env.runtime.pendingNext.shift();
        if (res) this.sendNext(res, inv);
        else if (this.o.mi) env.runtimeQueue.push(inv);
    }

    // Lambda hands an invocation to one /next, once: if that connection is gone (or goes before the
    // event is written whole) the invocation is lost and times out; it is never queued again. A
    // waiting /next whose connection closes is dropped from pendingNext (onNext), so this happens
    // only when the close races the delivery.
    sendNext(res, inv) {
        inv.deliveredToRuntime = true;
        if (res.destroyed) return this.nextLost(inv, 'connection closed before delivery');
        res.once('close', () => { if (!res.writableFinished) this.nextLost(inv, 'connection closed during delivery'); });
        const h = {
            'Content-Type': 'application/json',
            'Lambda-Runtime-Aws-Request-Id': inv.id,
            'Lambda-Runtime-Deadline-Ms': String(inv.deadlineMs),
            'Lambda-Runtime-Invoked-Function-Arn': this.arn,
            'Lambda-Runtime-Trace-Id': inv.trace.runtime,
        };
        if (inv.clientContext) h['Lambda-Runtime-Client-Context'] = inv.clientContext;
        if (inv.cognitoIdentity) h['Lambda-Runtime-Cognito-Identity'] = inv.cognitoIdentity;
        if (inv.tenantId) h['Lambda-Runtime-Aws-Tenant-Id'] = inv.tenantId;
        this.log('next-sent', { requestId: inv.id, bytes: inv.payload.length });
        // RAPID (Go net/http) frames bodies over ~2 KB as chunked: do the same, so what sits between
        // the runtime and us sees both framings.
        const chunked = inv.payload.length > 2048;
        res.writeHead(200, chunked ? h : { ...h, 'Content-Length': inv.payload.length });
        // X-Emu-Next-Stall-Ms (test-only): the first half now, the rest after the stall, so an
        // event can be caught "arriving" (what a slow network or a large event looks like).
        const cut = inv.nextStallMs > 0 ? inv.payload.length >> 1 : inv.payload.length;
        if (cut > 0) res.write(inv.payload.subarray(0, cut));
        const rest = () => {
            if (res.destroyed) return;
            if (cut < inv.payload.length) res.write(inv.payload.subarray(cut));
            res.end();
        };
        if (cut === inv.payload.length) return rest();
        this.log('next-stalled', { requestId: inv.id, sentBytes: cut, stallMs: inv.nextStallMs });
        setTimeout(rest, inv.nextStallMs);
    }

    nextLost(inv, why) {
        this.stats.nextLost++;
        this.log('next-lost', { requestId: inv.id, why });
    }

    onTimeout(inv) {
        const env = inv.env;
        if (inv.state === 'running' || inv.state === 'streaming') {
            const secs = (this.o.timeoutMs / 1000).toFixed(2);
            const msg = `${new Date().toISOString()} ${inv.id} Task timed out after ${secs} seconds`;
            this.log('timeout', { requestId: inv.id });
            this.finishResult(inv, { outcome: 'timeout', functionError: 'Unhandled', errorType: 'Sandbox.Timedout', body: Buffer.from(JSON.stringify({ errorMessage: msg })) });
        } else if (inv.state === 'responded') {
            this.log('timeout', { requestId: inv.id, afterResponse: true });
        } else {
            return;
        }
        if (!this.o.mi) {
            this.tmRuntimeDone(inv, 'timeout', 'Sandbox.Timedout');
            this.tmReport(inv, 'timeout', 'Sandbox.Timedout');
            this.reset(env, 'timeout');
        } else if (inv.state === 'failed') {
            // Managed Instances do not enforce the timeout: the runtime goes on, its slot stays
            // taken, and a late /response or /error is accepted (the report comes then).
            inv.lateOk = true;
            env.inflight.set(inv.id, inv);
        }
    }

    // Completes an invocation for its caller (exactly once).
    finishResult(inv, r) {
        if (inv.result) return;
        inv.result = { requestId: inv.id, coldStart: !!inv.coldStart, durationMs: inv.dispatchedAt ? Math.round((performance.now() - inv.dispatchedAt) * 1000) / 1000 : 0, ...r };
        if (inv.state === 'running' || inv.state === 'streaming' || inv.state === 'queued') inv.state = r.outcome === 'success' || r.outcome === 'error' ? 'responded' : 'failed';
        if (inv.stream && inv.stream.started && !inv.stream.ended) {
            inv.stream.ended = true;
            inv.stream.end({ 'Lambda-Runtime-Function-Error-Type': r.errorType ?? 'Runtime.Unknown', 'Lambda-Runtime-Function-Error-Body': Buffer.from(r.body ?? '').toString('base64') });
        }
        this.log('result', { requestId: inv.id, outcome: r.outcome, errorType: r.errorType, bytes: r.body ? r.body.length : r.bytes });
        if (this.o.mi && (r.outcome === 'success' || r.outcome === 'error')) this.tmReport(inv, r.outcome, r.outcome === 'error' ? r.errorType : null);
        if (this.o.mi && inv.env) {
            // Managed Instances: no freeze between invokes; the slot is free once answered.
            clearTimeout(inv.timer);
            inv.env.inflight.delete(inv.id);
            setImmediate(() => this.pump());
        }
        inv.done.resolve(inv.result);
    }

    checkInvokeDone(env) {
        if (env.state !== 'ready') return;
        const inv = env.current;
        if (this.o.mi || !inv || inv.state !== 'responded') return;
        if (env.runtime.pendingNext.length === 0) return;
        for (const x of env.exts.values()) if (x.events.has('INVOKE') && !this.extWaiting(x)) return;
        clearTimeout(inv.timer);
        inv.state = 'done';
        env.current = null;
        env.inflight.delete(inv.id);
        this.log('invoke-done', { requestId: inv.id, durationMs: Math.round((performance.now() - inv.dispatchedAt) * 1000) / 1000, afterResponseMs: inv.respondedAt ? Math.round((performance.now() - inv.respondedAt) * 1000) / 1000 : null });
        this.tmReport(inv, inv.result?.outcome === 'error' ? 'error' : 'success', inv.result?.outcome === 'error' ? inv.result.errorType : null);
        this.telemetry.freeze(env);
        setImmediate(() => this.pump());
    }

    onProcExit(env, p) {
        if (env.state === 'resetting' || env.state === 'dead') return;
        const what = p.kind === 'runtime' ? 'Runtime.ExitError' : 'Extension.Crash';
        const status = p.signal ? `signal: ${p.signal}` : `exit status ${p.code}`;
        if (env.state === 'init') {
            const msg = p.kind === 'runtime' ? `Runtime exited with error: ${status}` : `Extension ${p.name} exited before init completed: ${status}`;
            this.initFailed(env, env.runtime.initErrorType ?? what, msg, env.runtime.initErrorBody);
            return;
        }
        this.log('crash', { kind: p.kind, name: p.name, status, oom: !!env.oom });
        const crashType = env.oom && p.kind === 'runtime' ? 'Runtime.OutOfMemory' : what;
        for (const inv of env.inflight.values()) {
            if (inv.state === 'running' || inv.state === 'streaming') {
                const msg = p.kind === 'runtime' ? `RequestId: ${inv.id} Error: Runtime exited with error: ${status}` : `RequestId: ${inv.id} Error: extension ${p.name} crashed: ${status}`;
                this.finishResult(inv, { outcome: p.kind === 'runtime' ? 'crash' : 'extension-crash', functionError: 'Unhandled', errorType: crashType, body: Buffer.from(errorBody(crashType, msg)) });
                const st = crashType === 'Runtime.OutOfMemory' ? 'error' : 'failure';
                this.tmRuntimeDone(inv, st, crashType);
                this.tmReport(inv, st, crashType);
            }
        }
        this.reset(env, 'failure');
    }

    // Tears the environment down the way Lambda does (lambda-apis.md §2.4): SIGTERM to the runtime
    // with up to 30% of the budget, SHUTDOWN to subscribed extensions with deadlineMs, SIGKILL to
    // everything still running at the deadline. The next invoke initialises a new environment.
    reset(env, reason) {
        if (env.reset) return env.reset;
        env.reset = this.shutdownSequence(env, reason);
        return env.reset;
    }

    async shutdownSequence(env, reason) {
        const prevState = env.state;
        env.state = 'resetting';
        clearTimeout(env.initTimer);
        clearTimeout(env.restoreTimer);
        for (const p of env.stopped ?? []) this.kill(p, 'SIGCONT'); // a snapshot being taken
        env.stopped = null;
        this.stats.resets++;
        const start = performance.now();
        const registered = [...env.exts.values()].filter((x) => !x.internal);
        const budget = registered.length > 0 ? this.o.shutdownMs : 0;
        const deadlineMs = Date.now() + budget;
        this.log('shutdown-start', { generation: env.gen, reason, budgetMs: budget, prevState });
        for (const inv of env.inflight.values()) {
            clearTimeout(inv.timer);
            // An invocation answered but not done (the runtime or an extension had not called
            // next yet) still gets its runtimeDone and report.
            const r = inv.result;
            const st = inv.lateOk ? 'timeout' : r?.outcome === 'error' ? 'error' : 'success';
            const err = inv.lateOk ? 'Sandbox.Timedout' : r?.outcome === 'error' ? r.errorType : null;
            if (inv.lateOk || (r && (r.outcome === 'success' || r.outcome === 'error'))) {
                this.tmRuntimeDone(inv, st, err);
                this.tmReport(inv, st, err);
            }
        }
        clearInterval(env.memTimer);
        // The sandbox thaws for its shutdown: what the Telemetry API holds goes out now.
        this.telemetry.flush(env);
        const rt = env.runtime.proc;
        if (budget === 0) {
            this.kill(rt, 'SIGKILL');
        } else if (rt && !rt.exited) {
            this.kill(rt, 'SIGTERM');
            const graceMs = budget * 0.3;
            await Promise.race([rt.exitPromise, sleep(graceMs)]);
            this.kill(rt, 'SIGKILL');
        }
        for (const res of env.runtime.pendingNext.splice(0)) res.destroy();
        if (env.runtime.restoreNext) env.runtime.restoreNext.destroy();
        const shutdownEvent = { eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs };
        for (const x of env.exts.values()) {
            if (x.events.has('SHUTDOWN')) this.deliverExt(x, shutdownEvent);
        }
        for (const l of env.launched.values()) {
            const x = [...env.exts.values()].find((e) => e.name === l.name);
            if (!x || !x.events.has('SHUTDOWN')) this.kill(l.proc, 'SIGKILL');
        }
        const extProcs = [...env.launched.values()].map((l) => l.proc).filter(Boolean);
        const left = deadlineMs - Date.now();
        await Promise.race([Promise.all(extProcs.map((p) => p.exitPromise)), sleep(Math.max(0, left))]);
        for (const p of this.allProcs(env)) this.kill(p, 'SIGKILL');
        await Promise.race([Promise.all(this.allProcs(env).map((p) => p.exitPromise)), sleep(1000)]);
        for (const x of env.exts.values()) if (x.pending) x.pending.destroy();
        env.state = 'dead';
        this.telemetry.detach(env);
        if (this.env === env) this.env = null;
        const summary = {
            generation: env.gen,
            reason,
            budgetMs: budget,
            durationMs: Math.round((performance.now() - start) * 1000) / 1000,
            runtime: rt ? { code: rt.code, signal: rt.signal, killed: !!rt.killed } : null,
            extensions: [...env.launched.values()].map((l) => ({
                name: l.name, registered: l.registered, code: l.proc?.code ?? null, signal: l.proc?.signal ?? null,
                killed: !!l.proc?.killed, exitMs: l.proc?.exitedAt ? Math.round((l.proc.exitedAt - start) * 1000) / 1000 : null,
            })),
        };
        this.log('shutdown-done', summary);
        setImmediate(() => this.pump());
        return summary;
    }

    // ---- invoke (used by the control API and the feeders) -------------------------------------

    invoke({ payload, clientContext = null, trace = null, stream = null, source = 'invoke', tenantId = null, nextStallMs = 0 }) {
        const inv = {
            id: randomUUID(), payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), clientContext,
            trace, stream, source, tenantId, state: 'queued', done: deferred(), result: null, nextStallMs,
        };
        this.log('queued', { requestId: inv.id, source });
        this.queue.push(inv);
        this.pump();
        return inv.done.promise;
    }

    // ---- Runtime API + Extensions API ------------------------------------------------------------

    async handleApi(req, res) {
        const url = new URL(req.url, 'http://x');
        const p = url.pathname;
        const env = this.env;
        const rec = { method: req.method, path: p, headers: req.rawHeaders, peer: req.socket.remotePort, httpVersion: req.httpVersion };
        try {
            if (p.startsWith(RUNTIME_API + '/runtime/')) return await this.handleRuntime(env, req, res, p.slice(RUNTIME_API.length + 9), rec);
            if (p === RUNTIME_API + '/ping') return reply(res, 200, 'pong', { 'Content-Type': 'text/plain' });
            if (p.startsWith(EXT_API + '/extension/')) return await this.handleExtension(env, req, res, p.slice(EXT_API.length + 11));
            if (p === '/2022-07-01/telemetry' || p === '/2020-08-15/logs') return this.handleSubscribe(env, req, res, p);
            await readBody(req);
            this.log('rapi', { ...rec, status: 404 });
            return replyError(res, 404, 'NotFound', `unknown path ${p}`);
        } catch (err) {
            this.log('api-error', { path: p, error: String(err && err.stack || err) });
            return replyError(res, 500, 'ServiceException', String(err));
        }
    }

    async handleRuntime(env, req, res, sub, rec) {
        if (req.method === 'GET' && sub === 'invocation/next') return this.onNext(env, req, res, rec);
        if (req.method === 'POST' && sub === 'init/error') return this.onInitError(env, req, res, rec);
        if (this.o.snapstart && req.method === 'GET' && sub === 'restore/next') return this.onRestoreNext(env, req, res, rec);
        if (this.o.snapstart && req.method === 'POST' && sub === 'restore/error') return this.onRestoreError(env, req, res, rec);
        const m = /^invocation\/([^/]+)\/(response|error)$/.exec(sub);
        if (req.method === 'POST' && m) return m[2] === 'response' ? this.onResponse(env, req, res, m[1], rec) : this.onError(env, req, res, m[1], rec);
        await readBody(req);
        this.log('rapi', { ...rec, status: 404 });
        return replyError(res, 404, 'NotFound', `unknown runtime path ${sub}`);
    }

    onNext(env, req, res, rec) {
        this.log('rapi', rec);
        req.resume();
        if (!env || env.state === 'resetting' || env.state === 'dead') return; // the sandbox is going away: never answered
        const rt = env.runtime;
        if (!this.o.mi) {
            const cur = env.current;
            if ((cur && cur.deliveredToRuntime && (cur.state === 'running' || cur.state === 'streaming')) || rt.pendingNext.length > 0) {
                return replyError(res, 403, 'InvalidStateTransition', 'State transition from Invoke to Next is not allowed');
            }
            if (cur && !cur.deliveredToRuntime) return this.sendNext(res, cur);
        } else {
            const inv = env.runtimeQueue.shift();
            if (inv) return this.sendNext(res, inv);
            if (rt.pendingNext.length >= this.o.maxConcurrency) return replyError(res, 403, 'InvalidStateTransition', 'too many concurrent /next');
        }
        // The runtime is done with the invocation it answered: platform.runtimeDone.
        const done = env.current;
        if (!this.o.mi && done && done.state === 'responded' && done.result) {
            const r = done.result;
            this.tmRuntimeDone(done, r.outcome === 'error' ? 'error' : 'success', r.outcome === 'error' ? r.errorType : null);
        }
        rt.pendingNext.push(res);
        res.on('close', () => {
            const i = rt.pendingNext.indexOf(res);
            if (i >= 0 && !res.writableEnded) rt.pendingNext.splice(i, 1);
        });
        this.checkInitDone(env);
        this.checkRestoreDone(env);
        this.checkInvokeDone(env);
    }

    // SnapStart only (RAPID registers these routes only for init caching, lambda-apis.md §1.2).
    onRestoreNext(env, req, res, rec) {
        this.log('rapi', rec);
        req.resume();
        if (!env || env.state !== 'init' || env.runtime.restoreNext || env.runtime.pendingNext.length > 0) {
            return replyError(res, 403, 'InvalidStateTransition', 'State transition to RestoreNext is not allowed');
        }
        env.runtime.restoreNext = res;
        res.on('close', () => {
            if (env.runtime.restoreNext === res && !res.writableEnded) env.runtime.restoreNext = null;
        });
        this.checkInitDone(env);
    }

    async onRestoreError(env, req, res, rec) {
        const b = await readBody(req, MAX_RESPONSE);
        this.log('rapi', { ...rec, bodyLen: b.len });
        if (!env || env.state !== 'restoring') return replyError(res, 403, 'InvalidStateTransition', 'State transition to RestoreError is not allowed');
        reply(res, 202, '{"status":"OK"}');
        this.restoreFailed(env, req.headers['lambda-runtime-function-error-type'] ?? 'Runtime.Unknown', 'restore error');
    }

    findInvocation(env, id) {
        return env ? env.inflight.get(id) : undefined;
    }

    // Managed Instances: the answer of an invocation past its deadline (not enforced there).
    async lateAnswer(env, req, res, inv, rec) {
        const b = await readBody(req, MAX_RESPONSE);
        this.log('rapi', { ...rec, bodyLen: b.len, late: true });
        inv.lateOk = false;
        inv.producedBytes = b.len;
        env.inflight.delete(inv.id);
        this.tmReport(inv, 'timeout', 'Sandbox.Timedout');
        reply(res, 202, '{"status":"OK"}');
        setImmediate(() => this.pump());
    }

    async onResponse(env, req, res, id, rec) {
        const inv = this.findInvocation(env, id);
        const mode = req.headers['lambda-runtime-function-response-mode'];
        if (inv && inv.lateOk) return this.lateAnswer(env, req, res, inv, rec);
        if (inv) inv.responseStartAt = performance.now();
        if (!inv) {
            const b = await readBody(req);
            this.log('rapi', { ...rec, bodyLen: b.len, status: 400 });
            return replyError(res, 400, 'InvalidRequestID', 'Invalid request ID');
        }
        if (inv.state !== 'running') {
            const b = await readBody(req);
            this.log('rapi', { ...rec, bodyLen: b.len, status: 403 });
            return replyError(res, 403, 'InvalidStateTransition', 'State transition from Ready to InvocationResponse is not allowed');
        }
        if (mode !== undefined && mode !== 'streaming') {
            const b = await readBody(req);
            this.log('rapi', { ...rec, bodyLen: b.len, status: 400 });
            this.responded(inv);
            this.finishResult(inv, { outcome: 'error', functionError: 'Unhandled', errorType: 'Runtime.InvalidResponseModeHeader', body: Buffer.from(errorBody('Runtime.InvalidResponseModeHeader', `Invalid response mode header: ${mode}`)) });
            return replyError(res, 400, 'InvalidFunctionResponseMode', `Invalid function response mode: ${mode}`);
        }
        if (mode === 'streaming') return this.onStreamingResponse(env, req, res, inv, rec);
        const b = await readBody(req, MAX_RESPONSE);
        this.log('rapi', { ...rec, bodyLen: b.len, bodySha256: b.over ? null : sha256(b.body), trailers: b.trailers });
        if (inv.state !== 'running') return replyError(res, 403, 'InvalidStateTransition', 'invocation already finished');
        this.responded(inv);
        if (b.over) {
            this.finishResult(inv, { outcome: 'error', functionError: 'Unhandled', errorType: 'Function.ResponseSizeTooLarge', body: Buffer.from(errorBody('Function.ResponseSizeTooLarge', `Response payload size (${b.len} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE} bytes).`)) });
            return replyError(res, 413, 'RequestEntityTooLarge', 'Exceeded maximum allowed payload size');
        }
        inv.producedBytes = b.len;
        this.finishResult(inv, { outcome: 'success', body: b.body, contentType: req.headers['content-type'] });
        reply(res, 202, '{"status":"OK"}');
        this.checkInvokeDone(env);
    }

    responded(inv) {
        inv.respondedAt = performance.now();
        if (inv.state === 'running' || inv.state === 'streaming') inv.state = 'responded';
    }

    // Streaming: relay each chunk to the caller as it arrives; trailers carry a mid-stream error.
    onStreamingResponse(env, req, res, inv, rec) {
        inv.state = 'streaming';
        const hash = createHash('sha256');
        let len = 0;
        const collected = [];
        const s = inv.stream;
        if (s) {
            s.started = true;
            s.start({ 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
        }
        req.on('data', (c) => {
            hash.update(c);
            len += c.length;
            if (len <= 16 * 1024 * 1024) collected.push(c);
            if (s && !s.ended) s.chunk(c);
        });
        req.on('end', () => {
            const tr = req.trailers || {};
            this.log('rapi', { ...rec, bodyLen: len, bodySha256: hash.digest('hex'), trailers: tr, streaming: true });
            if (inv.state !== 'streaming') return replyError(res, 403, 'InvalidStateTransition', 'invocation already finished');
            const errType = tr['lambda-runtime-function-error-type'];
            const errBody = tr['lambda-runtime-function-error-body'];
            this.responded(inv);
            if (s && !s.ended) {
                s.ended = true;
                const t = {};
                if (errType) t['Lambda-Runtime-Function-Error-Type'] = errType;
                if (errBody) t['Lambda-Runtime-Function-Error-Body'] = errBody;
                s.end(t);
            }
            inv.producedBytes = len;
            const r = { outcome: errType ? 'error' : 'success', streamed: true, bytes: len, body: Buffer.concat(collected), contentType: req.headers['content-type'] };
            if (errType) {
                r.functionError = 'Unhandled';
                r.errorType = errType;
                r.errorBody = errBody ? Buffer.from(errBody, 'base64').toString('utf8') : null;
            }
            this.finishResult(inv, r);
            reply(res, 202, '{"status":"OK"}');
            this.checkInvokeDone(env);
        });
    }

    async onError(env, req, res, id, rec) {
        const pre = this.findInvocation(env, id);
        if (pre && pre.lateOk) return this.lateAnswer(env, req, res, pre, rec);
        if (pre) pre.responseStartAt = performance.now();
        const b = await readBody(req, MAX_RESPONSE);
        this.log('rapi', { ...rec, bodyLen: b.len, bodySha256: sha256(b.body) });
        const inv = this.findInvocation(env, id);
        if (!inv) return replyError(res, 400, 'InvalidRequestID', 'Invalid request ID');
        if (inv.state !== 'running') return replyError(res, 403, 'InvalidStateTransition', 'State transition to InvocationErrorResponse is not allowed');
        this.responded(inv);
        const errorType = req.headers['lambda-runtime-function-error-type'] ?? 'Runtime.Unknown';
        const cause = req.headers['lambda-runtime-function-xray-error-cause'];
        if (cause) this.log('xray-error-cause', { requestId: id, ...describeXrayCause(cause) });
        this.finishResult(inv, { outcome: 'error', functionError: 'Unhandled', errorType, body: b.body, xrayErrorCause: req.headers['lambda-runtime-function-xray-error-cause'] ? true : undefined });
        reply(res, 202, '{"status":"OK"}');
        this.checkInvokeDone(env);
    }

    async onInitError(env, req, res, rec) {
        const b = await readBody(req, MAX_RESPONSE);
        this.log('rapi', { ...rec, bodyLen: b.len, bodySha256: sha256(b.body) });
        if (!env || env.state !== 'init' || env.runtime.initErrored) return replyError(res, 403, 'InvalidStateTransition', 'State transition from Ready to InitError is not allowed');
        env.runtime.initErrored = true;
        env.runtime.initErrorType = req.headers['lambda-runtime-function-error-type'] ?? 'Runtime.Unknown';
        env.runtime.initErrorBody = b.body;
        reply(res, 202, '{"status":"OK"}');
        // The runtime is expected to exit now; if it does not, fail init anyway shortly after.
        setTimeout(() => this.initFailed(env, env.runtime.initErrorType, 'init error', b.body), 200);
    }

    extFromRequest(env, req, res) {
        const id = req.headers['lambda-extension-identifier'];
        if (!id) {
            replyError(res, 403, 'Extension.MissingExtensionIdentifier', 'Missing Lambda-Extension-Identifier header');
            return null;
        }
        const x = env && env.exts.get(id);
        if (!x) {
            replyError(res, 403, 'Extension.InvalidExtensionIdentifier', 'Invalid Lambda-Extension-Identifier');
            return null;
        }
        return x;
    }

    async handleExtension(env, req, res, sub) {
        if (req.method === 'POST' && sub === 'register') return this.onRegister(env, req, res);
        if (req.method === 'GET' && sub === 'event/next') {
            req.resume();
            const x = this.extFromRequest(env, req, res);
            if (!x) return;
            return this.onEventNext(env, x, res);
        }
        if (req.method === 'POST' && (sub === 'init/error' || sub === 'exit/error')) {
            const b = await readBody(req, 1024 * 1024);
            const x = this.extFromRequest(env, req, res);
            if (!x) return;
            const errorType = req.headers['lambda-extension-function-error-type'] ?? 'Extension.Unknown';
            this.log(sub === 'init/error' ? 'ext-init-error' : 'ext-exit-error', { name: x.name, errorType, body: b.body.toString('utf8').slice(0, 2000) });
            x.errored = true;
            reply(res, 202, '{"status":"OK"}');
            if (sub === 'init/error' && env.state === 'init') this.initFailed(env, errorType, `extension ${x.name} init error`);
            return;
        }
        await readBody(req);
        return replyError(res, 404, 'NotFound', `unknown extension path ${sub}`);
    }

    async onRegister(env, req, res) {
        const b = await readBody(req, 64 * 1024);
        const name = req.headers['lambda-extension-name'];
        const features = String(req.headers['lambda-extension-accept-feature'] ?? '').split(',').map((s) => s.trim());
        const fail = (type, msg) => {
            this.log('ext-register-error', { name, errorType: type, msg });
            return replyError(res, 403, type, msg);
        };
        if (!env || env.state !== 'init' || !env.registrationOpen) return fail('Extension.RegistrationClosed', 'Extension registration closed already');
        if (!name) return fail('Extension.InvalidExtensionName', 'Empty extension name');
        let body;
        try {
            body = JSON.parse(b.body.toString('utf8') || '{}');
        } catch {
            return fail('InvalidRequestFormat', 'Invalid request format');
        }
        if (!body || typeof body !== 'object' || 'configurationKeys' in body) return fail('InvalidRequestFormat', 'Invalid request format');
        const events = Array.isArray(body.events) ? body.events : [];
        for (const e of events) if (e !== 'INVOKE' && e !== 'SHUTDOWN') return fail('Extension.InvalidEventType', `Invalid event type ${e}`);
        const launched = env.launched.get(name);
        const internal = !launched;
        if (internal && events.includes('SHUTDOWN')) return fail('Extension.InvalidEventType', 'Internal extensions cannot subscribe to SHUTDOWN');
        if (this.o.mi && events.includes('INVOKE')) return fail('Extension.InvalidEventType', 'INVOKE is not available on Lambda Managed Instances');
        if (launched && launched.registered) return fail('Extension.InvalidExtensionState', `Extension ${name} already registered`);
        if (env.exts.size >= MAX_EXTENSIONS) return fail('Extension.TooManyExtensions', 'Too many extensions');
        const id = randomUUID();
        const x = { id, name, events: new Set(events), internal, pending: null, queue: [], errored: false };
        env.exts.set(id, x);
        if (launched) launched.registered = true;
        const out = { functionName: this.o.functionName, functionVersion: '$LATEST', handler: this.o.handler };
        if (features.includes('accountId')) out.accountId = this.o.account;
        this.log('ext-register', { name, events, internal, features });
        this.telemetry.emit(env, 'platform.extension', { name, state: 'Ready', events });
        reply(res, 200, JSON.stringify(out), { 'Lambda-Extension-Identifier': id });
        this.maybeStartRuntime(env);
    }

    onEventNext(env, x, res) {
        this.log('ext-next', { name: x.name });
        if (x.queue.length) {
            const e = x.queue.shift();
            return reply(res, 200, JSON.stringify(e), { 'Lambda-Extension-Event-Identifier': randomUUID() });
        }
        if (x.pending && !x.pending.writableEnded) return replyError(res, 403, 'Extension.InvalidExtensionState', 'event/next already pending');
        x.pending = res;
        res.on('close', () => { if (x.pending === res && !res.writableEnded) x.pending = null; });
        this.checkInitDone(env);
        this.checkInvokeDone(env);
    }

    async handleSubscribe(env, req, res, p) {
        const b = await readBody(req, 64 * 1024);
        const x = this.extFromRequest(env, req, res);
        if (!x) return;
        if (req.method !== 'PUT') return replyError(res, 405, 'MethodNotAllowed', `${p} takes PUT`);
        if (env.state !== 'init') return replyError(res, 403, p === '/2020-08-15/logs' ? 'Logs.SubscriptionClosed' : 'Telemetry.SubscriptionClosed', 'subscriptions close at the end of init');
        this.log('subscribe', { name: x.name, api: p, mode: this.o.telemetryMode });
        if (p === '/2020-08-15/logs' || this.o.telemetryMode === 'silent') return reply(res, 200, '"OK"'); // accepted, nothing delivered
        if (this.o.telemetryMode === 'refuse') return replyError(res, 404, 'NotFound', `unknown path ${p}`);
        const [status, out] = this.telemetry.subscribe(env, x, b.body);
        return reply(res, status, JSON.stringify(out));
    }

    // ---- Telemetry API events (telemetry.mjs delivers them) ------------------------------------

    runtimeVersion() {
        const m = /^AWS_Lambda_([a-z]+)(\d+)/.exec(this.o.executionEnv);
        return m ? `${m[1]}:${m[2]}.v14` : 'provided:al2023.v1';
    }

    tmInitStart(env) {
        env.initStartEpoch = Date.now();
        this.telemetry.emit(env, 'platform.initStart', {
            initializationType: this.initType(), phase: 'init', runtimeVersion: this.runtimeVersion(),
            runtimeVersionArn: `arn:aws:lambda:${this.o.region}::runtime:${hex(32)}`, functionName: this.o.functionName,
            functionVersion: '$LATEST', instanceId: hex(16), instanceMaxMemory: this.o.memory * 1024 * 1024,
        }, env.initStartEpoch);
    }

    tmInitDone(env, status, errorType) {
        const base = { initializationType: this.initType(), phase: 'init' };
        this.telemetry.emit(env, 'platform.initRuntimeDone', { ...base, status, ...(errorType ? { errorType } : {}) });
        const report = { ...base, metrics: { durationMs: Math.round((Date.now() - env.initStartEpoch) * 1000) / 1000 } };
        if (this.o.mi) Object.assign(report, { status, ...(errorType ? { errorType } : {}) });
        this.telemetry.emit(env, 'platform.initReport', report);
        this.telemetry.closeSubscriptions(env);
    }

    // SnapStart: the environment comes from a snapshot at the first invoke.
    tmRestore(env, inv) {
        const ms = 80 + Math.round(Math.random() * 40);
        const end = Date.now();
        inv.restoreMs = ms;
        const rt = { runtimeVersion: this.runtimeVersion(), runtimeVersionArn: `arn:aws:lambda:${this.o.region}::runtime:${hex(32)}`, functionName: this.o.functionName, functionVersion: '$LATEST' };
        this.telemetry.emit(env, 'platform.restoreStart', rt, end - ms);
        this.telemetry.emit(env, 'platform.restoreRuntimeDone', { status: 'success' }, end);
        this.telemetry.emit(env, 'platform.restoreReport', { status: 'success', metrics: { durationMs: ms } }, end);
    }

    tracing(inv) {
        return { spanId: hex(8), type: 'X-Amzn-Trace-Id', value: inv.trace.ext };
    }

    tmStart(inv) {
        const rec = { requestId: inv.id, version: '$LATEST', tracing: this.tracing(inv) };
        if (inv.tenantId) rec.tenantId = inv.tenantId;
        if (this.o.mi) rec.functionArn = this.arn;
        this.telemetry.emit(inv.env, 'platform.start', rec);
    }

    tmRuntimeDone(inv, status, errorType) {
        if (this.o.mi || inv.tmDone) return; // Managed Instances send no runtimeDone
        inv.tmDone = true;
        const now = performance.now();
        const rec = { requestId: inv.id, status, metrics: { durationMs: Math.round((now - inv.dispatchedAt) * 1000) / 1000, producedBytes: inv.producedBytes ?? 0 }, tracing: this.tracing(inv) };
        if (inv.responseStartAt) {
            const iso = (t) => new Date(Date.now() - (now - t)).toISOString();
            rec.spans = [
                { name: 'responseLatency', start: iso(inv.dispatchedAt), durationMs: Math.round((inv.responseStartAt - inv.dispatchedAt) * 1000) / 1000 },
                { name: 'responseDuration', start: iso(inv.responseStartAt), durationMs: Math.round(((inv.respondedAt ?? now) - inv.responseStartAt) * 1000) / 1000 },
            ];
        }
        if (inv.tenantId) rec.tenantId = inv.tenantId;
        if (errorType) rec.errorType = errorType;
        this.telemetry.emit(inv.env, 'platform.runtimeDone', rec);
    }

    tmReport(inv, status, errorType) {
        if (inv.tmReported) return;
        inv.tmReported = true;
        const env = inv.env;
        const ms = Math.round((performance.now() - inv.dispatchedAt) * 1000) / 1000;
        const rec = { requestId: inv.id, status, tracing: this.tracing(inv) };
        if (this.o.mi) {
            rec.metrics = { durationMs: ms }; // Managed Instances: no billed duration, no memory
        } else {
            rec.metrics = { durationMs: ms, billedDurationMs: Math.ceil(ms), memorySizeMB: this.o.memory, maxMemoryUsedMB: this.maxMemoryUsedMb(env) };
            if (inv.coldStart && !this.o.restoreEvents) rec.metrics.initDurationMs = Math.round((env.initDurationMs ?? 0) * 1000) / 1000;
            if (inv.restoreMs) rec.metrics.restoreDurationMs = inv.restoreMs;
        }
        if (inv.tenantId) rec.tenantId = inv.tenantId;
        if (errorType) rec.errorType = errorType;
        this.telemetry.emit(env, 'platform.report', rec);
    }

    // ---- memory: the runtime's peak RSS, and --enforce-memory's out-of-memory kill --------------

    runtimeMemoryKb(env) {
        const pid = env.runtime.proc?.pid;
        if (!pid || env.runtime.proc.exited) return null;
        try {
            const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
            const rss = Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0);
            const hwm = Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0);
            env.hwmKb = Math.max(env.hwmKb ?? 0, hwm);
            return rss;
        } catch {
            return null;
        }
    }

    maxMemoryUsedMb(env) {
        if (env.oom) return this.o.memory;
        this.runtimeMemoryKb(env);
        return Math.min(this.o.memory, Math.ceil((env.hwmKb ?? 0) / 1024));
    }

    startMemoryWatch(env) {
        if (!this.o.enforceMemory) return;
        env.memTimer = setInterval(() => {
            if (env.state !== 'ready' || env.oom) return;
            const rss = this.runtimeMemoryKb(env);
            if (rss !== null && rss > this.o.memory * 1024) {
                env.oom = true;
                this.log('oom', { generation: env.gen, rssKb: rss, limitMb: this.o.memory });
                this.kill(env.runtime.proc, 'SIGKILL');
            }
        }, 10);
    }

    // ---- control API ----------------------------------------------------------------------------

    async handleControl(req, res) {
        const url = new URL(req.url, 'http://x');
        const p = url.pathname;
        try {
            if (req.method === 'POST' && (p === '/invoke' || /^\/2015-03-31\/functions\/[^/]+\/invocations$/.test(p))) return await this.ctlInvoke(req, res);
            if (req.method === 'GET' && p === '/state') return reply(res, 200, JSON.stringify(this.state()));
            if (req.method === 'GET' && p === '/log') return reply(res, 200, JSON.stringify(this.events));
            if (req.method === 'POST' && p === '/init') return reply(res, 200, JSON.stringify(await this.ctlInit()));
            if (req.method === 'POST' && p === '/shutdown') {
                await readBody(req);
                const s = this.env ? await this.reset(this.env, 'spindown') : null;
                return reply(res, 200, JSON.stringify(s));
            }
            if (req.method === 'POST' && p === '/exit') {
                await readBody(req);
                reply(res, 200, '{}');
                return this.exit();
            }
            const body = await readBody(req, 8 * 1024 * 1024);
            let j = {};
            if (body.body.length) j = JSON.parse(body.body.toString('utf8'));
            const wait = j.wait !== false;
            let out;
            if (req.method === 'POST' && p === '/sqs/send') out = await this.sqsSend(j.queue ?? 'orders', j.messages ?? [j], wait, j.traceId);
            else if (req.method === 'POST' && p === '/sns/publish') out = await this.feed(ev.snsEvent(this.o, { topic: 'orders-topic', ...j }), j, 'sns');
            else if (req.method === 'POST' && p === '/sns-sqs/publish') out = await this.snsToSqs(j, wait);
            else if (req.method === 'POST' && p === '/eventbridge/put') out = await this.feed(ev.eventBridgeEvent(this.o, j), j, 'eventbridge');
            else if (req.method === 'POST' && p === '/eventbridge-sqs/put') out = await this.sqsSend(j.queue ?? 'orders', [{ body: JSON.stringify(ev.eventBridgeEvent(this.o, j)) }], wait, j.traceId);
            else if (req.method === 'POST' && p === '/kafka/produce') out = await this.feed(ev.kafkaEvent(this.o, j), j, 'kafka');
            else if (req.method === 'POST' && p === '/kinesis/put') out = await this.feed(ev.kinesisEvent(this.o, j), j, 'kinesis');
            else if (req.method === 'POST' && p === '/dynamodb/write') out = await this.feed(ev.dynamodbEvent(this.o, j), j, 'dynamodb');
            else if (req.method === 'POST' && p === '/stepfunctions/task') out = await this.feed(ev.stepFunctionsPayload(this.o, j), j, 'stepfunctions');
            else if (req.method === 'POST' && p === '/durable/invoke') out = await this.feed(ev.durableEnvelope(this.o, j), j, 'durable');
            else if (req.method === 'POST' && p === '/apigw/v1') out = await this.feed(ev.apiGatewayV1Event(this.o, j), j, 'apigw-v1');
            else if (req.method === 'POST' && p === '/apigw/v2') out = await this.feed(ev.apiGatewayV2Event(this.o, j), j, 'apigw-v2');
            else return replyError(res, 404, 'NotFound', `unknown control path ${p}`);
            return reply(res, 200, JSON.stringify(out));
        } catch (err) {
            return replyError(res, 500, 'EmulatorError', String(err && err.stack || err));
        }
    }

    async ctlInit() {
        if (!this.env) this.startInit();
        const err = await this.env.initDone.promise;
        return err ? { ok: false, errorType: err.errorType, body: err.body.toString('utf8') } : { ok: true, generation: this.env?.gen };
    }

    state() {
        const env = this.env;
        return {
            generation: env?.gen ?? null,
            state: env?.state ?? 'none',
            extensions: env ? [...env.exts.values()].map((x) => ({ name: x.name, events: [...x.events], internal: x.internal, waiting: this.extWaiting(x) })) : [],
            runtimeStarted: !!env?.runtime.started,
            queued: this.queue.length,
            inflight: env ? env.inflight.size : 0,
            pendingNext: env ? env.runtime.pendingNext.length : 0, // runtime /next waiting for an event
            runtimeQueue: env ? env.runtimeQueue.length : 0, // Managed Instances: events waiting for a /next
            ...this.stats,
        };
    }

    // Direct invoke, like the Invoke API: X-Amz-Invocation-Type, X-Amz-Client-Context (base64);
    // X-Emu-Trace-Id overrides Lambda-Runtime-Trace-Id. A streamed response is relayed as it comes.
    async ctlInvoke(req, res) {
        const b = await readBody(req, 7 * 1024 * 1024);
        let clientContext = null;
        const cc = req.headers['x-amz-client-context'];
        if (cc) clientContext = Buffer.from(cc, 'base64').toString('utf8');
        if (req.headers['x-emu-client-context']) clientContext = req.headers['x-emu-client-context'];
        const trace = req.headers['x-emu-trace-id'] ?? null;
        const tenantId = req.headers['x-amz-tenant-id'] ?? null;
        const nextStallMs = Number(req.headers['x-emu-next-stall-ms'] ?? 0) || 0;
        const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
        if (type === 'Event') {
            this.invoke({ payload: b.body, clientContext, trace, tenantId, source: 'invoke-async' });
            return reply(res, 202, '');
        }
        let streamStarted = false;
        const stream = {
            start: (h) => {
                streamStarted = true;
                res.writeHead(200, { 'Content-Type': h['content-type'], 'Transfer-Encoding': 'chunked', Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body', 'X-Amz-Executed-Version': '$LATEST' });
                res.flushHeaders();
            },
            chunk: (c) => res.write(c),
            end: (trailers) => {
                if (Object.keys(trailers).length) res.addTrailers(trailers);
                res.end();
            },
        };
        const r = await this.invoke({ payload: b.body, clientContext, trace, stream, tenantId, source: 'invoke', nextStallMs });
        if (streamStarted) return;
        const h = { 'X-Amz-Executed-Version': '$LATEST', 'X-Amzn-RequestId': r.requestId, 'X-Emu-Outcome': r.outcome, 'X-Emu-Cold-Start': String(r.coldStart), 'X-Emu-Duration-Ms': String(r.durationMs) };
        if (r.functionError) h['X-Amz-Function-Error'] = r.functionError;
        if (r.errorType) h['X-Emu-Error-Type'] = r.errorType;
        if (r.contentType) h['Content-Type'] = r.contentType;
        return reply(res, 200, r.body ?? Buffer.alloc(0), h);
    }

    summarise(r) {
        let payload = r.body ? r.body.toString('utf8') : null;
        try { payload = JSON.parse(payload); } catch { /* keep as string */ }
        const out = { requestId: r.requestId, outcome: r.outcome, coldStart: r.coldStart, durationMs: r.durationMs, payload };
        if (r.functionError) out.functionError = r.functionError;
        if (r.errorType) out.errorType = r.errorType;
        return out;
    }

    async feed(event, j, source) {
        const r = await this.invoke({ payload: JSON.stringify(event), trace: j.traceId ?? null, source });
        return { event: j.returnEvent ? event : undefined, invocations: [this.summarise(r)] };
    }

    // SQS event source mapping: messages wait at most sqs-window-ms, then go out in batches of at
    // most sqs-batch-size, one invocation at a time per queue. traceId: the Lambda-Runtime-Trace-Id
    // of the batch that takes the first of these messages (default: a new Sampled=0 one).
    sqsSend(queue, messages, wait, traceId = null) {
        let q = this.sqs.get(queue);
        if (!q) {
            q = { pending: [], timer: null, busy: false };
            this.sqs.set(queue, q);
        }
        const entries = messages.map((m) => {
            const raw = m.body ?? m.MessageBody ?? '';
            const msg = { ...m, body: typeof raw === 'string' ? raw : JSON.stringify(raw), messageAttributes: m.messageAttributes ?? m.MessageAttributes, messageId: m.messageId ?? randomUUID(), sentTimestamp: m.sentTimestamp ?? Date.now() - 5 };
            return { msg, done: deferred(), trace: traceId, receiveCount: 1, attempts: [] };
        });
        q.pending.push(...entries);
        this.log('sqs-send', { queue, count: entries.length });
        this.sqsSchedule(queue, q);
        const ids = entries.map((e) => e.msg.messageId);
        if (!wait) return Promise.resolve({ messageIds: ids });
        return Promise.all(entries.map((e) => e.done.promise)).then((rs) => {
            const seen = new Map();
            for (const r of rs.flat()) seen.set(r.requestId, this.summarise(r));
            return { messageIds: ids, invocations: [...seen.values()] };
        });
    }

    sqsSchedule(queue, q) {
        if (q.busy || q.timer || q.pending.length === 0) return;
        const flush = () => {
            q.timer = null;
            q.busy = true;
            const batch = q.pending.splice(0, this.o.sqsBatchSize);
            const event = ev.sqsEvent(batch.map((e) => ev.sqsRecord(this.o, queue, { ...e.msg, receiveCount: e.receiveCount })));
            this.invoke({ payload: JSON.stringify(event), trace: batch[0].trace ?? null, source: 'sqs' }).then((r) => {
                const failed = sqsFailed(r, batch);
                for (const e of batch) {
                    e.attempts.push(r);
                    if (failed.has(e.msg.messageId) && e.receiveCount < (e.msg.maxReceiveCount ?? 1)) this.sqsRedeliver(queue, q, e);
                    else e.done.resolve(e.attempts);
                }
                q.busy = false;
                this.sqsSchedule(queue, q);
            });
        };
        if (q.pending.length >= this.o.sqsBatchSize) flush();
        else q.timer = setTimeout(flush, this.o.sqsWindowMs);
    }

    // A message that failed comes back when its visibility timeout ends, with the same id and
    // SentTimestamp and ApproximateReceiveCount one higher (messages carry maxReceiveCount,
    // default 1: no redrive, and visibilityMs, default 50).
    sqsRedeliver(queue, q, e) {
        e.receiveCount++;
        this.log('sqs-redeliver', { queue, messageId: e.msg.messageId, receiveCount: e.receiveCount });
        setTimeout(() => {
            q.pending.push(e);
            this.sqsSchedule(queue, q);
        }, e.msg.visibilityMs ?? 50);
    }

    snsToSqs(j, wait) {
        if (j.rawDelivery) {
            return this.sqsSend(j.queue ?? 'orders', [{ body: j.message, messageAttributes: j.messageAttributes }], wait, j.traceId);
        }
        const envelope = ev.snsEnvelope(this.o, { topic: 'orders-topic', ...j });
        return this.sqsSend(j.queue ?? 'orders', [{ body: JSON.stringify(envelope) }], wait, j.traceId);
    }

    // ---- start / stop -----------------------------------------------------------------------------

    async listen() {
        const opts = { maxHeaderSize: 2 * 1024 * 1024 + 64 * 1024, noDelay: true, keepAlive: true };
        this.api = http.createServer(opts, (req, res) => { this.handleApi(req, res); });
        this.ctl = http.createServer(opts, (req, res) => { this.handleControl(req, res); });
        for (const s of [this.api, this.ctl]) {
            s.keepAliveTimeout = 0; // never close idle runtime connections (the sandbox freezes)
            s.requestTimeout = 0;
            s.headersTimeout = 0;
            s.timeout = 0;
        }
        await new Promise((r, j) => this.api.once('error', j).listen(this.o.port, '127.0.0.1', r));
        await new Promise((r, j) => this.ctl.once('error', j).listen(this.o.controlPort, '127.0.0.1', r));
        this.apiPort = this.api.address().port;
        this.controlPort = this.ctl.address().port;
        this.log('listening', { apiPort: this.apiPort, controlPort: this.controlPort });
    }

    async exit() {
        if (this.stopping) return;
        this.stopping = true;
        if (this.env) await this.reset(this.env, 'spindown');
        this.api.closeAllConnections();
        this.ctl.closeAllConnections();
        if (this.logStream) await new Promise((r) => this.logStream.end(r));
        process.exit(0);
    }

    killEverything() {
        if (!this.env) return;
        for (const p of this.allProcs(this.env)) this.kill(p, 'SIGKILL');
    }
}

async function main() {
    let o;
    try {
        o = parseArgs(process.argv.slice(2));
    } catch (err) {
        console.error(String(err.message || err));
        process.exit(2);
    }
    const emu = new Emulator(o);
    await emu.listen();
    process.on('exit', () => emu.killEverything());
    process.on('SIGTERM', () => emu.exit());
    process.on('SIGINT', () => emu.exit());
    // Never outlive the test that started us.
    const ppid = process.ppid;
    setInterval(() => {
        if (process.ppid !== ppid) emu.exit();
    }, 500).unref();
    process.stdout.write(`READY ${emu.apiPort} ${emu.controlPort}\n`);
    if (!o.lazyInit) emu.startInit();
}

main();
