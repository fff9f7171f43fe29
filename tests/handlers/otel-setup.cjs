// SPDX-License-Identifier: Apache-2.0
// --require this file: the OTel SDK set up the way users set it up in Lambda, with the REAL
// @opentelemetry/instrumentation-aws-lambda and an OTLP/HTTP exporter. The exporter reads the
// standard OTEL_EXPORTER_OTLP_* variables; with none set it sends protobuf to
// http://localhost:4318/v1/traces, i.e. to tracebridge's local receiver.
//   OTEL_EXPORTER_OTLP_PROTOCOL=http/json → @opentelemetry/exporter-trace-otlp-http instead.
const path = require('node:path');
const nm = path.join(__dirname, '..', 'node', 'node_modules');
const req = (m) => require(path.join(nm, m));

const { NodeTracerProvider } = req('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = req('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = req('@opentelemetry/resources');
const { registerInstrumentations } = req('@opentelemetry/instrumentation');
const { AwsLambdaInstrumentation } = req('@opentelemetry/instrumentation-aws-lambda');

const json = (process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || process.env.OTEL_EXPORTER_OTLP_PROTOCOL) === 'http/json';
const { OTLPTraceExporter } = req(json ? '@opentelemetry/exporter-trace-otlp-http' : '@opentelemetry/exporter-trace-otlp-proto');

const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
        'service.name': process.env.OTEL_SERVICE_NAME || process.env.AWS_LAMBDA_FUNCTION_NAME || 'handler',
        'cloud.provider': 'aws',
        'cloud.platform': 'aws_lambda',
        'faas.name': process.env.AWS_LAMBDA_FUNCTION_NAME,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 50 })],
});
provider.register();
registerInstrumentations({ instrumentations: [new AwsLambdaInstrumentation()] });
