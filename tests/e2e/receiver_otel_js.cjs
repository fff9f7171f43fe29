// SPDX-License-Identifier: Apache-2.0
// The real OpenTelemetry JS SDK exporting to tracebridge's OTLP receiver, driven by
// receiver_otel_js.sh.
//   node receiver_otel_js.cjs export EXPECT.json   (OTEL_EXPORTER_OTLP_ENDPOINT names receiverd)
//     exports spans with the proto and the http(JSON) exporters, plain and gzip, and writes what
//     the SDK made (ids, names, attributes) to EXPECT.json; exits 1 if any export failed.
//   node receiver_otel_js.cjs check EXPECT.json BUFFERED.bin FIRST_TAP_NUMBER
//     decodes the receiver's buffered bytes with the real OTLP decoder (protobufjs, from
//     @opentelemetry/otlp-transformer) and prints TAP lines comparing them with EXPECT.json.
'use strict';
const fs = require('fs');
const path = require('path');

const nm = path.resolve(__dirname, '../node/node_modules');
const need = (m) => require(path.join(nm, m));

const MODES = [
  { name: 'proto', pkg: '@opentelemetry/exporter-trace-otlp-proto', opts: {} },
  { name: 'proto-gzip', pkg: '@opentelemetry/exporter-trace-otlp-proto', opts: { compression: 'gzip' } },
  { name: 'json', pkg: '@opentelemetry/exporter-trace-otlp-http', opts: {} },
  { name: 'json-gzip', pkg: '@opentelemetry/exporter-trace-otlp-http', opts: { compression: 'gzip' } },
];

const ATTRS = { 'k.int': 42, 'k.str': 'v\u00e9"q', 'k.bool': true, 'k.double': 1.5 };

function spanRecord(s) {
  const ctx = s.spanContext();
  const parent = s.parentSpanContext || (s.parentSpanId ? { spanId: s.parentSpanId } : undefined);
  return {
    name: s.name,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: parent ? parent.spanId : '',
    kind: s.kind,
    attributes: s.attributes,
    status: s.status.code,
    events: s.events.map((e) => e.name),
  };
}

async function exportMode(mode, expect) {
  const { NodeTracerProvider } = need('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = need('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = need('@opentelemetry/resources');
  const { SpanKind } = need('@opentelemetry/api');
  const { OTLPTraceExporter } = need(mode.pkg);
  const exporter = new OTLPTraceExporter(mode.opts);
  const results = [];
  const sent = [];
  const origExport = exporter.export.bind(exporter);
  exporter.export = (spans, done) => {
    sent.push(...spans.map(spanRecord));
    origExport(spans, (res) => {
      results.push(res);
      done(res);
    });
  };
  const service = `e2e-${mode.name}`;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'e2e' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer(`scope-${mode.name}`, '0.1.0');
  tracer.startActiveSpan(`${mode.name}-root`, { kind: SpanKind.SERVER, attributes: ATTRS }, (root) => {
    for (const i of [1, 2]) {
      const c = tracer.startSpan(`${mode.name}-child-${i}`);
      c.addEvent('step', { i });
      c.end();
    }
    root.setStatus({ code: 2, message: 'boom' });
    root.end();
  });
  await provider.forceFlush();
  await provider.shutdown();
  expect.push({ mode: mode.name, service, scope: `scope-${mode.name}`, spans: sent });
  const bad = results.filter((r) => r.code !== 0);
  if (results.length === 0 || bad.length > 0) {
    console.error(`${mode.name}: export failed: ${bad.map((r) => String(r.error)).join('; ')}`);
    return false;
  }
  return true;
}

async function doExport(expectFile) {
  const expect = [];
  let good = true;
  for (const m of MODES) good = (await exportMode(m, expect)) && good;
  fs.writeFileSync(expectFile, JSON.stringify(expect, null, 1));
  console.log(`exported ${expect.reduce((n, e) => n + e.spans.length, 0)} spans in ${MODES.length} modes`);
  process.exit(good ? 0 : 1);
}

// Decodes the buffered bytes to OTLP/JSON form (ids as hex, 64-bit ints as strings) with the
// project's decoder tool when it is there, else with the same protobufjs root directly.
function decodeToObject(binFile) {
  const tool = path.resolve(__dirname, '../tools/otlp-decode.cjs');
  if (fs.existsSync(tool)) {
    const { execFileSync } = require('child_process');
    return JSON.parse(execFileSync(process.execPath, [tool, binFile], { encoding: 'utf8' }));
  }
  const root = need('otlp-decoder/build/src/generated/root');
  const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
  const obj = Req.toObject(Req.decode(fs.readFileSync(binFile)), { longs: String, enums: Number, bytes: String });
  const ids = new Set(['traceId', 'spanId', 'parentSpanId']);
  const fix = (v) => {
    if (Array.isArray(v)) return v.map(fix);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) =>
      [k, ids.has(k) && typeof x === 'string' ? Buffer.from(x, 'base64').toString('hex') : fix(x)]));
  };
  return fix(obj);
}

function anyValue(v) {
  if (!v) return undefined;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  return undefined;
}

const attrMap = (list) => Object.fromEntries((list || []).map((kv) => [kv.key, anyValue(kv.value)]));

function doCheck(expectFile, binFile, first) {
  const expect = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
  let n = first;
  let failed = 0;
  const tap = (cond, msg) => {
    console.log(`${cond ? 'ok' : 'not ok'} ${n++} - ${msg}`);
    if (!cond) failed++;
  };
  let req;
  try {
    req = decodeToObject(binFile);
    tap(true, 'buffered bytes decode as one ExportTraceServiceRequest (real decoder)');
  } catch (e) {
    tap(false, `buffered bytes decode: ${e.message}`);
    return failed;
  }
  const rsAll = req.resourceSpans || [];
  const spansOf = (ss) => ss.spans || [];
  const total = rsAll.reduce((n2, rs) => n2 + (rs.scopeSpans || []).reduce((m, ss) => m + spansOf(ss).length, 0), 0);
  const want = expect.reduce((n2, e) => n2 + e.spans.length, 0);
  tap(total === want, `every exported span buffered once (${total} of ${want})`);
  for (const e of expect) {
    const rss = rsAll.filter((rs) => attrMap(rs.resource && rs.resource.attributes)['service.name'] === e.service);
    const ra = rss.length ? attrMap(rss[0].resource.attributes) : {};
    tap(rss.length > 0 && ra['deployment.environment'] === 'e2e',
      `${e.mode}: resource preserved (service.name ${e.service}, deployment.environment)`);
    const sss = rss.flatMap((rs) => rs.scopeSpans || []);
    tap(sss.length > 0 && sss.every((ss) => ss.scope && ss.scope.name === e.scope && ss.scope.version === '0.1.0'),
      `${e.mode}: instrumentation scope ${e.scope}@0.1.0 preserved`);
    const got = new Map(sss.flatMap(spansOf).map((s) => [s.spanId, s]));
    const same = e.spans.length === got.size && e.spans.every((w) => {
      const s = got.get(w.spanId);
      return s && s.name === w.name && s.traceId === w.traceId &&
        (s.parentSpanId || '') === w.parentSpanId && s.kind === w.kind + 1 &&
        ((s.status && s.status.code) || 0) === w.status &&
        JSON.stringify((s.events || []).map((ev) => ev.name)) === JSON.stringify(w.events) &&
        JSON.stringify(attrMap(s.attributes)) === JSON.stringify(w.attributes);
    });
    tap(same, `${e.mode}: ${e.spans.length} spans exact (names, ids, parents, kind, status, events, attributes)`);
  }
  return failed;
}

const [cmd, a1, a2, a3] = process.argv.slice(2);
if (cmd === 'export') {
  doExport(a1).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (cmd === 'check') {
  process.exit(doCheck(a1, a2, Number(a3) || 1) ? 1 : 0);
} else {
  console.error('usage: receiver_otel_js.cjs export EXPECT | check EXPECT BIN FIRST');
  process.exit(2);
}
