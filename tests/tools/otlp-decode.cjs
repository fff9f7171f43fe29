#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// otlp-decode.cjs: decodes a serialized ExportTraceServiceRequest with a real, independent
// decoder -- the protobufjs static root shipped by @opentelemetry/otlp-transformer@0.57.2
// (installed as the npm alias "otlp-decoder" in tests/node) -- and prints it as OTLP/JSON:
// lowerCamelCase keys, 64-bit integers as strings, enums as numbers, trace/span ids as hex,
// other bytes as base64, defaults left out.
//   usage: node tests/tools/otlp-decode.cjs [file]      (stdin when no file is given)
'use strict';
const fs = require('fs');
const path = require('path');

const root = require(path.join(__dirname, '..', 'node', 'node_modules', 'otlp-decoder',
    'build', 'src', 'generated', 'root'));
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

// Byte fields that OTLP/JSON writes as hex rather than base64.
const HEX_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

function idsToHex(v) {
    if (Array.isArray(v)) return v.map(idsToHex);
    if (v === null || typeof v !== 'object') return v;
    const out = {};
    for (const [k, x] of Object.entries(v)) {
        out[k] = HEX_FIELDS.has(k) && typeof x === 'string'
            ? Buffer.from(x, 'base64').toString('hex') : idsToHex(x);
    }
    return out;
}

function main() {
    const file = process.argv[2];
    const bytes = fs.readFileSync(file && file !== '-' ? file : 0);
    let msg;
    try {
        msg = Request.decode(bytes);
    } catch (e) {
        process.stderr.write(`otlp-decode: not a valid ExportTraceServiceRequest: ${e.message}\n`);
        process.exit(1);
    }
    const obj = Request.toObject(msg, { longs: String, enums: Number, bytes: String });
    process.stdout.write(JSON.stringify(idsToHex(obj)) + '\n');
}

main();
