#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tracebridge's OTLP bytes read by real decoders: the protobufjs decoder that ships with
# @opentelemetry/otlp-transformer@0.57.2 (tests/tools/otlp-decode.cjs) and Google's protoc.
# Checks every span field of the sample invocation span, that two concatenated requests are one
# request with two resource_spans, and that tracebridge's own JSON conversion (both ways)
# agrees with the decoder's.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${TB_BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$B/tools/otlp-encode-sample" >"$tmp/one.pb" ||
    ! "$B/tools/otlp-encode-sample" --json >"$tmp/one.tb.json"; then
    echo "not ok 1 - otlp-encode-sample runs"
    echo "1..1"
    exit 1
fi
cat "$tmp/one.pb" "$tmp/one.pb" >"$tmp/two.pb"
head -c $(($(wc -c <"$tmp/one.pb") - 3)) "$tmp/one.pb" >"$tmp/cut.pb"
# protobufjs 0.57.2's generated root predates Span.flags/Link.flags (proto v1.1.0): protoc
# with the spec's protos (extension/otlp/proto) checks those.
protoc -Iextension/otlp/proto --decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest \
    opentelemetry/proto/collector/trace/v1/trace_service.proto <"$tmp/one.pb" >"$tmp/one.txt" 2>&1

TMP=$tmp B=$B node - <<'JS'
'use strict';
const fs = require('fs');
const { execFileSync } = require('child_process');
const assert = require('assert');
const T = process.env.TMP, B = process.env.B;
let n = 0, failed = 0;
function check(name, fn) {
    n++;
    try { fn(); console.log(`ok ${n} - ${name}`); }
    catch (e) { failed++; console.log(`not ok ${n} - ${name}`); console.log(`# ${String(e.message).split('\n').join('\n# ')}`); }
}
const decode = (file) => JSON.parse(execFileSync('node', ['tests/tools/otlp-decode.cjs', file]));
const convert = (mode, input) => execFileSync(`${B}/tools/otlp-convert`, [mode], { input });
const attr = (list, key) => (list.find((a) => a.key === key) || {}).value;
let one, span;
check('protobufjs decodes the sample request', () => {
    one = decode(`${T}/one.pb`);
    span = one.resourceSpans[0].scopeSpans[0].spans[0];
});
check('one resource, one scope, one span', () => {
    assert.strictEqual(one.resourceSpans.length, 1);
    assert.strictEqual(one.resourceSpans[0].scopeSpans.length, 1);
    assert.strictEqual(one.resourceSpans[0].scopeSpans[0].spans.length, 1);
});
check('resource attributes and scope', () => {
    const rs = one.resourceSpans[0];
    assert.deepStrictEqual(attr(rs.resource.attributes, 'service.name'), { stringValue: 'orders' });
    assert.deepStrictEqual(attr(rs.resource.attributes, 'faas.max_memory'), { intValue: '536870912' });
    assert.deepStrictEqual(rs.scopeSpans[0].scope, { name: 'tracebridge', version: '0.1.0' });
});
check('ids in hex', () => {
    assert.strictEqual(span.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.strictEqual(span.spanId, 'b7ad6b7169203331');
    assert.strictEqual(span.parentSpanId, '00f067aa0ba902b7');
});
check('trace_state, name, kind, times', () => {
    assert.strictEqual(span.traceState, 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    assert.strictEqual(span.name, 'orders process');
    assert.strictEqual(span.kind, 5);
    assert.strictEqual(span.startTimeUnixNano, '1700000000123456789');
    assert.strictEqual(span.endTimeUnixNano, '1700000000223456789');
});
check('attributes of every type', () => {
    assert.strictEqual(span.attributes.length, 12);
    assert.deepStrictEqual(attr(span.attributes, 'faas.trigger'), { stringValue: 'pubsub' });
    assert.deepStrictEqual(attr(span.attributes, 'tracebridge.carrier.depth'), { intValue: '-2' });
    assert.deepStrictEqual(attr(span.attributes, 'tracebridge.overhead_ms'), { doubleValue: 0.042 });
    assert.deepStrictEqual(attr(span.attributes, 'faas.coldstart'), { boolValue: true });
});
check('events with attributes', () => {
    assert.strictEqual(span.events.length, 2);
    assert.strictEqual(span.events[0].name, 'exception');
    assert.strictEqual(span.events[0].timeUnixNano, '1700000000123457789');
    assert.deepStrictEqual(attr(span.events[0].attributes, 'exception.message'),
        { stringValue: 'boom "quoted"\n' });
    assert.strictEqual(span.events[1].name, 'flush');
});
check('links with trace_state and attributes', () => {
    assert.strictEqual(span.links.length, 3);
    assert.deepStrictEqual(span.links.map((l) => l.spanId),
        ['0000000000000001', '0000000000000002', '0000000000000003']);
    assert.ok(span.links.every((l) => l.traceId === '4bf92f3577b34da6a3ce929d0e0e4736'));
    assert.strictEqual(span.links[0].traceState, 'congo=t61rcWkgMzE');
    assert.strictEqual(span.links[1].traceState, undefined);
    assert.deepStrictEqual(attr(span.links[2].attributes, 'batch.index'), { intValue: '2' });
});
check('status code and message', () => {
    assert.deepStrictEqual(span.status, { message: 'handler threw', code: 2 });
});
check('protoc: span and link flags = 0x301 (sampled, has-is-remote, is-remote)', () => {
    const txt = fs.readFileSync(`${T}/one.txt`, 'utf8');
    assert.match(txt, /name: "orders process"/, txt.slice(0, 300));
    assert.strictEqual((txt.match(/^ *flags: 769$/mg) || []).length, 4, txt);
});
check('two concatenated requests decode as one request with two resource_spans', () => {
    const two = decode(`${T}/two.pb`);
    assert.strictEqual(two.resourceSpans.length, 2);
    assert.deepStrictEqual(two.resourceSpans[1], one.resourceSpans[0]);
    assert.strictEqual(String(convert('count', fs.readFileSync(`${T}/two.pb`))).trim(), '2');
});
check('a truncated request: both protobufjs and otlp_count_spans reject it', () => {
    assert.throws(() => execFileSync('node', ['tests/tools/otlp-decode.cjs', `${T}/cut.pb`],
        { stdio: 'pipe' }));
    assert.throws(() => convert('count', fs.readFileSync(`${T}/cut.pb`)));
});
const withoutFlags = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'flags' ? undefined : v)));
check('tracebridge JSON equals the decoder output (flags aside)', () => {
    const mine = JSON.parse(fs.readFileSync(`${T}/one.tb.json`, 'utf8'));
    assert.strictEqual(mine.resourceSpans[0].scopeSpans[0].spans[0].flags, 769);
    assert.deepStrictEqual(withoutFlags(mine), one);
});
check("the decoder's JSON, read by otlp_json_to_protobuf, decodes to the same request", () => {
    const pb = convert('json2pb', JSON.stringify(one));
    fs.writeFileSync(`${T}/back.pb`, pb);
    assert.deepStrictEqual(decode(`${T}/back.pb`), one);
});
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
JS
