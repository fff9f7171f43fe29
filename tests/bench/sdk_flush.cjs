// SPDX-License-Identifier: Apache-2.0
// Handler-side cost of one OTLP export, as the OTel Lambda instrumentations pay it (they call
// forceFlush before returning the response): the real OTel JS SDK with the proto exporter,
// 10 spans per flush, exporting to ENDPOINT. Prints "<median_us> <p99_us>" for N flushes.
//   node sdk_flush.cjs ENDPOINT N
'use strict';
const path = require('path');
const nm = path.resolve(__dirname, '../node/node_modules');
const need = (m) => require(path.join(nm, m));

async function main() {
  const [url, nArg] = process.argv.slice(2);
  const n = Number(nArg || 50);
  const { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor } = need('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = need('@opentelemetry/exporter-trace-otlp-proto');
  const exporter = new OTLPTraceExporter({ url });
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000, maxExportBatchSize: 512 })],
  });
  const tracer = provider.getTracer('bench');
  const times = [];
  for (let i = 0; i < n + 5; i++) {
    for (let j = 0; j < 10; j++) tracer.startSpan(`span-${j}`, { attributes: { 'k.i': i, 'k.s': 'value' } }).end();
    const t0 = process.hrtime.bigint();
    await provider.forceFlush();
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (i >= 5) times.push(us); // the first flushes load the encoder and open the connection
  }
  await provider.shutdown();
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  console.log(`${q(0.5).toFixed(0)} ${q(0.99).toFixed(0)}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
