#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// otlp-sink: an OTLP/HTTP trace receiver for tests. Decodes protobuf with a REAL decoder (the
// protobufjs module shipped in @opentelemetry/otlp-transformer@0.57.2, npm alias otlp-decoder)
// and JSON per the OTLP/JSON mapping, gzip or not, and appends one JSON line per span to --out.
//
//   otlp-sink.mjs [--port N] [--control-port N] --out spans.jsonl [--requests req.jsonl]
//                 [--fault ok|down|slow:MS|500|429:SECONDS] [--idle-reset-ms N]
// Prints "READY <port> <control-port>". Faults can be changed at run time:
//   POST http://127.0.0.1:<control-port>/fault  body: ok | down | slow:2000 | 500 | 429:1
//   GET  /stats  → {"requests":N,"spans":N,"byStatus":{...}}
// "down" closes the listening socket (connection refused) until the fault is cleared.
// --idle-reset-ms N: a request on a keep-alive connection idle for longer than N ms is answered
// with a TCP RST, as from a peer (or a NAT, a load balancer) that dropped the connection while
// the client's sandbox was frozen and never saw the FIN. Each request logs its connection
// number ("conn") so tests can tell new connections from reused ones.
import http from 'node:http';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../node/package.json', import.meta.url));
const root = require('otlp-decoder/build/src/generated/root');
const ExportReq = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const ExportResp = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;

const b64hex = (s) => (s ? Buffer.from(s, 'base64').toString('hex') : '');

// AnyValue (protobuf toObject or OTLP JSON) → plain JS value.
function anyValue(v) {
    if (!v) return null;
    if ('stringValue' in v) return v.stringValue;
    if ('boolValue' in v) return v.boolValue;
    if ('intValue' in v) return Number(v.intValue);
    if ('doubleValue' in v) return Number(v.doubleValue);
    if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
    if ('kvlistValue' in v) return attrs(v.kvlistValue.values);
    if ('bytesValue' in v) return v.bytesValue;
    return null;
}

function attrs(list) {
    const o = {};
    for (const kv of list || []) o[kv.key] = anyValue(kv.value);
    return o;
}

const KIND = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const kindName = (k) => (typeof k === 'number' ? KIND[k] : String(k).replace(/^SPAN_KIND_/, ''));
const statusName = (c) => (typeof c === 'number' ? ['UNSET', 'OK', 'ERROR'][c] : String(c ?? 'UNSET').replace(/^STATUS_CODE_/, ''));

// Flattens an ExportTraceServiceRequest (as a plain object) into one record per span. `id`
// turns the wire form of ids into hex (base64 from protobuf toObject, hex already in OTLP/JSON).
export function flatten(req, id) {
    const out = [];
    for (const rs of req.resourceSpans || []) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans || []) {
            for (const s of ss.spans || []) {
                const start = BigInt(s.startTimeUnixNano ?? 0);
                const end = BigInt(s.endTimeUnixNano ?? 0);
                out.push({
                    traceId: id(s.traceId),
                    spanId: id(s.spanId),
                    parentSpanId: id(s.parentSpanId) || null,
                    traceState: s.traceState || null,
                    flags: s.flags ?? null,
                    name: s.name,
                    kind: kindName(s.kind ?? 0),
                    startTimeUnixNano: start.toString(),
                    endTimeUnixNano: end.toString(),
                    durationMs: Number(end - start) / 1e6,
                    attributes: attrs(s.attributes),
                    events: (s.events || []).map((e) => ({ name: e.name, timeUnixNano: String(e.timeUnixNano ?? 0), attributes: attrs(e.attributes) })),
                    links: (s.links || []).map((l) => ({ traceId: id(l.traceId), spanId: id(l.spanId), traceState: l.traceState || null, attributes: attrs(l.attributes) })),
                    status: { code: statusName(s.status?.code ?? 0), message: s.status?.message || '' },
                    droppedAttributesCount: s.droppedAttributesCount ?? 0,
                    service: resource['service.name'] ?? null,
                    resource,
                    scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
                });
            }
        }
    }
    return out;
}

export function decodeProtobuf(buf) {
    const m = ExportReq.decode(buf);
    return flatten(ExportReq.toObject(m, { bytes: String, longs: String, enums: Number, defaults: false }), b64hex);
}

export function decodeJson(buf) {
    return flatten(JSON.parse(buf.toString('utf8')), (x) => (x ? String(x).toLowerCase() : ''));
}

function parseArgs(argv) {
    const o = { port: 0, controlPort: 0, out: null, requests: null, fault: 'ok', idleResetMs: 0 };
    for (let i = 0; i < argv.length; i++) {
        const v = () => argv[++i];
        switch (argv[i]) {
            case '--port': o.port = Number(v()); break;
            case '--control-port': o.controlPort = Number(v()); break;
            case '--out': o.out = v(); break;
            case '--requests': o.requests = v(); break;
            case '--fault': o.fault = v(); break;
            case '--idle-reset-ms': o.idleResetMs = Number(v()); break;
            default: throw new Error(`unknown option ${argv[i]}`);
        }
    }
    if (!o.out) throw new Error('--out FILE is required');
    return o;
}

function readAll(req) {
    return new Promise((resolve, reject) => {
        const parts = [];
        req.on('data', (c) => parts.push(c));
        req.on('end', () => resolve(Buffer.concat(parts)));
        req.on('error', reject);
    });
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    let fault = o.fault;
    const stats = { requests: 0, spans: 0, byStatus: {}, decodeErrors: 0, connections: 0, idleResets: 0 };
    const out = fs.openSync(o.out, 'a');
    const reqLog = o.requests ? fs.openSync(o.requests, 'a') : null;

    const handle = async (req, res) => {
        const t = Date.now();
        const sock = req.socket;
        if (o.idleResetMs > 0 && sock.tbLastUsed && t - sock.tbLastUsed > o.idleResetMs) {
            stats.idleResets++;
            if (reqLog) fs.writeSync(reqLog, JSON.stringify({ t, method: req.method, url: req.url, conn: sock.tbId, status: 'reset', idleMs: t - sock.tbLastUsed }) + '\n');
            sock.resetAndDestroy();
            return;
        }
        const body = await readAll(req);
        stats.requests++;
        const finish = (status, payload, headers = {}) => {
            stats.byStatus[status] = (stats.byStatus[status] || 0) + 1;
            res.writeHead(status, headers);
            res.end(payload);
            sock.tbLastUsed = Date.now();
        };
        const ct = String(req.headers['content-type'] || '').split(';')[0].trim();
        const enc = String(req.headers['content-encoding'] || '').trim();
        const logReq = (extra) => {
            if (!reqLog) return;
            // Header names only for anything that might carry credentials.
            const headers = {};
            for (const [k, v] of Object.entries(req.headers)) headers[k] = /auth|key|token|secret/i.test(k) ? '<redacted>' : v;
            fs.writeSync(reqLog, JSON.stringify({ t, method: req.method, url: req.url, conn: sock.tbId, headers, bytes: body.length, ...extra }) + '\n');
        };
        if (fault.startsWith('slow:')) await new Promise((r) => setTimeout(r, Number(fault.slice(5))));
        if (fault === '500') {
            logReq({ status: 500 });
            return finish(500, 'injected failure', { 'Content-Type': 'text/plain' });
        }
        if (fault.startsWith('429:')) {
            logReq({ status: 429 });
            return finish(429, 'slow down', { 'Content-Type': 'text/plain', 'Retry-After': fault.slice(4) });
        }
        if (req.method !== 'POST' || req.url.split('?')[0] !== '/v1/traces') {
            logReq({ status: 404 });
            return finish(404, 'not found', { 'Content-Type': 'text/plain' });
        }
        let raw = body;
        try {
            if (enc === 'gzip') raw = zlib.gunzipSync(body);
            else if (enc && enc !== 'identity') throw new Error(`unsupported encoding ${enc}`);
            let spans;
            if (ct === 'application/x-protobuf') spans = decodeProtobuf(raw);
            else if (ct === 'application/json') spans = decodeJson(raw);
            else {
                logReq({ status: 415 });
                return finish(415, 'unsupported content type', { 'Content-Type': 'text/plain' });
            }
            const meta = { receivedAt: t, contentType: ct, encoding: enc || 'identity', userAgent: req.headers['user-agent'] || '' };
            for (const s of spans) fs.writeSync(out, JSON.stringify({ ...s, ...meta }) + '\n');
            stats.spans += spans.length;
            logReq({ status: 200, spans: spans.length, contentType: ct, encoding: enc || 'identity', decodedBytes: raw.length });
            if (ct === 'application/json') return finish(200, '{}', { 'Content-Type': 'application/json' });
            return finish(200, Buffer.from(ExportResp.encode(ExportResp.create({})).finish()), { 'Content-Type': 'application/x-protobuf' });
        } catch (err) {
            stats.decodeErrors++;
            logReq({ status: 400, error: String(err.message || err) });
            return finish(400, String(err.message || err), { 'Content-Type': 'text/plain' });
        }
    };

    const server = http.createServer((req, res) => { handle(req, res); });
    let connSeq = 0;
    server.on('connection', (sock) => {
        sock.tbId = ++connSeq;
        stats.connections++;
    });
    // With --idle-reset-ms the sink never closes idle connections itself (a FIN would tell the
    // client); the RST on the next request is the only sign, as after a freeze.
    server.keepAliveTimeout = o.idleResetMs > 0 ? 600000 : 5000;
    const listen = (port) => new Promise((r, j) => server.once('error', j).listen(port, '127.0.0.1', r));
    await listen(o.port);
    const port = server.address().port;
    let down = false;
    const applyFault = async (f) => {
        fault = f;
        if (f === 'down' && !down) {
            down = true;
            server.closeAllConnections();
            await new Promise((r) => server.close(r));
        } else if (f !== 'down' && down) {
            down = false;
            await listen(port);
        }
    };

    const ctl = http.createServer(async (req, res) => {
        const b = (await readAll(req)).toString('utf8').trim();
        if (req.method === 'POST' && req.url === '/fault') {
            await applyFault(b || 'ok');
            res.end(JSON.stringify({ fault }));
        } else if (req.url === '/stats') {
            res.end(JSON.stringify({ ...stats, fault }));
        } else {
            res.writeHead(404);
            res.end();
        }
    });
    await new Promise((r) => ctl.listen(o.controlPort, '127.0.0.1', r));
    if (fault === 'down') await applyFault('down');
    const ppid = process.ppid;
    setInterval(() => { if (process.ppid !== ppid) process.exit(0); }, 500).unref();
    process.on('SIGTERM', () => process.exit(0));
    process.stdout.write(`READY ${port} ${ctl.address().port}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) main().catch((e) => { console.error(e); process.exit(1); });
