// SPDX-License-Identifier: Apache-2.0
// The Telemetry API (2022-07-01) of the emulator: subscriptions, the platform events of each
// phase, and their delivery in batches, as Lambda does it (shared reference lambda-apis.md §2.5,
// the schema reference of 2025-01-29, and RIE's telemetry relay for Managed Instances).
//
//   subscribe   PUT /2022-07-01/telemetry with Lambda-Extension-Identifier, during init only
//               (403 Telemetry.SubscriptionClosed after), body validated as RAPID's schema does:
//               schemaVersion one of 2022-07-01 | 2022-12-13 | 2025-01-29; types non-empty, of
//               platform | function | extension; destination {protocol HTTP, URI on
//               sandbox.localdomain (or sandbox) with a port other than 9001}; buffering maxItems
//               1000-10000 (10000), maxBytes 262144-1048576 (262144), timeoutMs 25-30000 (1000).
//               400 ValidationError otherwise; a second subscription of one extension replaces
//               its first. platform.telemetrySubscription follows, and the events of init so far
//               are replayed to the new subscriber (RIE's init buffer).
//   batches     per subscriber: sent when maxItems or maxBytes is reached, else timeoutMs after
//               the first waiting event; POST of a JSON array to 127.0.0.1:<port><path> (the
//               sandbox's own address for sandbox.localdomain), one request at a time; a failed
//               one is retried 3 times, then its events are counted as dropped and a
//               platform.logsDropped follows.
//   freeze      with `freeze`, nothing is delivered while the sandbox would be frozen (between an
//               invocation's end and the next INVOKE, on-demand only): a batch whose timeout
//               lapsed meanwhile goes out at the thaw (next invoke or shutdown), as in Lambda,
//               where the report of an invocation arrives during the next one.
//   order       Managed Instances batches are shuffled: concurrent invocations' events come in
//               any order, and only their requestId ties them together.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const SCHEMAS = ['2022-07-01', '2022-12-13', '2025-01-29'];
const TYPES = ['platform', 'function', 'extension'];
const RETRIES = 3;

function validate(body) {
    const bad = (msg) => ({ error: msg });
    if (!body || typeof body !== 'object' || Array.isArray(body)) return bad('request body must be a JSON object');
    if (!SCHEMAS.includes(body.schemaVersion)) return bad(`schemaVersion must be one of ${SCHEMAS.join(', ')}`);
    if (!Array.isArray(body.types) || body.types.length === 0 || !body.types.every((x) => TYPES.includes(x))) return bad('types must be a non-empty array of platform, function, extension');
    const d = body.destination;
    if (!d || typeof d !== 'object' || d.protocol !== 'HTTP' || typeof d.URI !== 'string') return bad('destination must be {"protocol":"HTTP","URI":...} (TCP is not emulated)');
    let u;
    try {
        u = new URL(d.URI);
    } catch {
        return bad('destination.URI is not a URL');
    }
    if (u.protocol !== 'http:' || (u.hostname !== 'sandbox.localdomain' && u.hostname !== 'sandbox')) return bad('destination.URI host must be sandbox.localdomain');
    const port = Number(u.port);
    if (!port || port === 9001) return bad('destination.URI needs a port other than 9001');
    const b = body.buffering ?? {};
    if (typeof b !== 'object') return bad('buffering must be an object');
    const range = (k, lo, hi, def) => {
        if (b[k] === undefined) return def;
        if (!Number.isInteger(b[k]) || b[k] < lo || b[k] > hi) throw new Error(`buffering.${k} must be an integer in ${lo}..${hi}`);
        return b[k];
    };
    try {
        return {
            types: new Set(body.types), port, path: u.pathname + u.search,
            maxItems: range('maxItems', 1000, 10000, 10000), maxBytes: range('maxBytes', 262144, 1048576, 262144), timeoutMs: range('timeoutMs', 25, 30000, 1000),
        };
    } catch (e) {
        return bad(e.message);
    }
}

// A seeded shuffle, so a failing run can be replayed.
function shuffle(a, rnd) {
    for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
}

function prng(seed) {
    let s = seed >>> 0 || 1;
    return () => {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        return (s >>> 0) / 4294967296;
    };
}

export class TelemetryApi {
    // o: {log(type, fields), mi, freeze, seed}
    constructor(o) {
        this.o = o;
        this.rnd = prng(o.seed ?? 7);
        this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        this.stats = { subscriptions: 0, batches: 0, events: 0, dropped: 0 };
    }

    // A new execution environment: no subscriber, an empty init buffer, not frozen.
    attach(env) {
        env.telemetry = { subs: new Map(), initBuffer: [], closed: false, frozen: false };
    }

    // The PUT; x is the registered extension. Returns [status, body].
    subscribe(env, x, raw) {
        let body;
        try {
            body = JSON.parse(raw.toString('utf8'));
        } catch {
            return [400, { errorType: 'ValidationError', errorMessage: 'request body is not JSON' }];
        }
        const v = validate(body);
        if (v.error) {
            this.o.log('telemetry-subscribe-error', { name: x.name, error: v.error });
            return [400, { errorType: 'ValidationError', errorMessage: v.error }];
        }
        const tm = env.telemetry;
        if (tm.closed) return [403, { errorType: 'Telemetry.SubscriptionClosed', errorMessage: 'Telemetry API subscription is closed' }];
        const prev = tm.subs.get(x.id);
        if (prev) clearTimeout(prev.timer);
        const sub = { name: x.name, ...v, queue: [], bytes: 0, timer: null, sending: false, schemaVersion: body.schemaVersion };
        tm.subs.set(x.id, sub);
        this.stats.subscriptions++;
        this.o.log('telemetry-subscribe', { name: x.name, port: v.port, path: v.path, types: [...v.types], maxItems: v.maxItems, maxBytes: v.maxBytes, timeoutMs: v.timeoutMs, schemaVersion: body.schemaVersion });
        for (const ev of tm.initBuffer) this.enqueue(env, sub, ev);
        this.emit(env, 'platform.telemetrySubscription', { name: x.name, state: 'Subscribed', types: [...v.types] });
        return [200, 'OK'];
    }

    // Init is over: no more subscriptions, no more replay.
    closeSubscriptions(env) {
        env.telemetry.closed = true;
        env.telemetry.initBuffer = [];
    }

    // One platform event, now (or at `at`, epoch ms), to every subscriber of `platform`.
    emit(env, type, record, at = Date.now()) {
        const tm = env?.telemetry;
        if (!tm) return;
        const ev = { time: new Date(at).toISOString(), type, record };
        this.o.log('telemetry-event', { event: type, requestId: record.requestId, status: record.status });
        if (!tm.closed) tm.initBuffer.push(ev);
        for (const sub of tm.subs.values()) this.enqueue(env, sub, ev);
    }

    enqueue(env, sub, ev) {
        if (!sub.types.has('platform')) return;
        const text = JSON.stringify(ev);
        if (sub.queue.length === 0) sub.firstAt = Date.now();
        sub.queue.push(text);
        sub.bytes += Buffer.byteLength(text);
        if (sub.queue.length >= sub.maxItems || sub.bytes >= sub.maxBytes) this.send(env, sub);
        else if (!sub.timer) sub.timer = setTimeout(() => this.send(env, sub), sub.timeoutMs);
    }

    // The sandbox freezes (on-demand, with `freeze`) / thaws; a thaw sends what waited.
    freeze(env) {
        if (this.o.freeze && !this.o.mi && env?.telemetry) env.telemetry.frozen = true;
    }

    thaw(env) {
        const tm = env?.telemetry;
        if (!tm || !tm.frozen) return;
        tm.frozen = false;
        // A batch whose timeout lapsed during the freeze goes out at the thaw; others when due.
        for (const sub of tm.subs.values()) {
            if (!sub.queue.length) continue;
            clearTimeout(sub.timer);
            sub.timer = setTimeout(() => this.send(env, sub), Math.max(0, sub.firstAt + sub.timeoutMs - Date.now()));
        }
    }

    // Everything waiting goes out at once (shutdown).
    flush(env) {
        const tm = env?.telemetry;
        if (!tm) return Promise.resolve();
        tm.frozen = false;
        return Promise.all([...tm.subs.values()].map((sub) => this.send(env, sub)));
    }

    send(env, sub) {
        clearTimeout(sub.timer);
        sub.timer = null;
        if (env.telemetry.frozen || sub.sending || sub.queue.length === 0) return sub.inflight ?? Promise.resolve();
        const events = sub.queue.splice(0, sub.maxItems);
        sub.bytes = sub.queue.reduce((n, t) => n + Buffer.byteLength(t), 0);
        if (this.o.mi) shuffle(events, this.rnd);
        const body = Buffer.from(`[${events.join(',')}]`);
        // Logged when the POST starts (telemetry-batch is logged when it was answered).
        this.o.log('telemetry-send', { name: sub.name, events: events.length });
        sub.sending = true;
        sub.inflight = this.post(sub, body, 0).then((ok) => {
            sub.sending = false;
            sub.inflight = null;
            this.stats.batches++;
            if (ok) this.stats.events += events.length;
            else this.dropped(env, events.length, body.length);
            this.o.log('telemetry-batch', { name: sub.name, events: events.length, bytes: body.length, ok, shuffled: !!this.o.mi });
            if (sub.queue.length && !sub.timer) sub.timer = setTimeout(() => this.send(env, sub), sub.queue.length >= sub.maxItems ? 0 : sub.timeoutMs);
            return ok;
        });
        return sub.inflight;
    }

    dropped(env, records, bytes) {
        this.stats.dropped += records;
        this.emit(env, 'platform.logsDropped', { droppedRecords: records, droppedBytes: bytes, reason: 'the subscriber did not accept the batch' });
    }

    post(sub, body, attempt) {
        return new Promise((resolve) => {
            const req = http.request({ host: '127.0.0.1', port: sub.port, method: 'POST', path: sub.path, agent: this.agent,
                headers: { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Sequence-Id': randomUUID() } }, (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode >= 200 && res.statusCode < 300));
            });
            req.setTimeout(5000, () => req.destroy(new Error('timeout')));
            req.on('error', () => resolve(false));
            req.end(body);
        }).then((ok) => (ok || attempt >= RETRIES ? ok : new Promise((r) => setTimeout(r, 50 * (attempt + 1))).then(() => this.post(sub, body, attempt + 1))));
    }

    detach(env) {
        for (const sub of env?.telemetry?.subs.values() ?? []) clearTimeout(sub.timer);
    }
}
