// SPDX-License-Identifier: Apache-2.0
// The real handler stacks of tests/stacks/ as the e2e suites and benchmarks start them: the
// runtime command Lambda's managed runtime would exec, the start-up wrapper each layer puts in
// AWS_LAMBDA_EXEC_WRAPPER (chained after tracebridge's as TRACEBRIDGE_NEXT_WRAPPER), the
// AWS_EXECUTION_ENV, and the instrumentation scope of the handler's invocation span.
import fs from 'node:fs';
import path from 'node:path';
import { REPO, ricCommand } from '../../e2e/lib/harness.mjs';

const STK = path.join(REPO, 'tests/stacks');
export const NODE_SCOPE = '@opentelemetry/instrumentation-aws-lambda';
export const PY_SCOPE = 'opentelemetry.instrumentation.aws_lambda';

const python = (name) => ({
    name, scope: PY_SCOPE, next: path.join(STK, name, 'otel-instrument'), execEnv: 'AWS_Lambda_python3.11',
    runtime: [path.join(STK, name, '.venv/bin/python'), path.join(STK, 'lib/python_bootstrap.py')],
    missing: () => !fs.existsSync(path.join(STK, name, '.venv/bin/python')) && `tests/stacks/${name}/install.sh has not run`,
});

export const STACKS = [
    python('python-otel'),
    python('python-adot'),
    // The existing Node stack: tests/node (lock file) + tests/handlers (OTel SDK setup, ESM hook).
    { name: 'node-otel', scope: NODE_SCOPE, next: null, execEnv: 'AWS_Lambda_nodejs24.x', runtime: ricCommand(), missing: () => false },
    {
        name: 'node-adot', scope: NODE_SCOPE, next: path.join(STK, 'node-adot/otel-instrument'), execEnv: 'AWS_Lambda_nodejs24.x', runtime: ricCommand({ otel: false }),
        missing: () => !fs.existsSync(path.join(STK, 'node-adot/node_modules/@aws/aws-distro-opentelemetry-node-autoinstrumentation')) && 'tests/stacks/node-adot/install.sh has not run',
    },
];

// The same runtime without any instrumentation (for the benchmarks' baselines).
export function bare(stack) {
    if (stack.name.startsWith('node')) return { ...stack, name: `${stack.name}-bare`, next: null, runtime: ricCommand({ otel: false }) };
    return { ...stack, name: `${stack.name}-bare`, next: null };
}
