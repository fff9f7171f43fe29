// SPDX-License-Identifier: Apache-2.0
// The Java and Go stacks of tests/stacks/ as tests/e2e/stacks_jvmgo.test.mjs and the benchmarks
// start them (the entries have the fields of STACKS in stacks.mjs, plus handler, args, env and
// tbRuntime: the runtime command when tracebridge is on, for the Go bootstrap recipe).
import fs from 'node:fs';
import path from 'node:path';
import { REPO, WRAPPER } from '../../e2e/lib/harness.mjs';

export const SB = path.join(REPO, 'build/stacks');
export const JAVA_SCOPE = 'io.opentelemetry.aws-lambda-events-2.2';
export const GO_SCOPE = 'go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda';
export const OTEL_HANDLER = path.join(REPO, 'tests/stacks/java17-otel/otel-handler');
export const readText = (f) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return null; } };

// The command Lambda's java runtime bootstrap execs (flags as the managed runtime uses them).
export function javaCommand(home, handler) {
    const cp = [path.join(SB, 'java17-otel/target/classes'), readText(path.join(SB, 'java17-otel/classpath.txt'))].join(':');
    return [path.join(home, 'bin/java'), '-XX:+TieredCompilation', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto',
        '-Djava.net.preferIPv4Stack=true', '-cp', cp, 'com.amazonaws.services.lambda.runtime.api.client.AWSLambda', handler];
}

// What the Java stacks need besides the command: the agent's wrapper and no metrics/logs export.
export const JAVA_ENV = { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };

// The bootstrap recipe for provided.* runtimes (layer/README-layer.md), written into dir.
export function bootstrapRecipe(dir, bin) {
    const f = path.join(dir, 'bootstrap');
    fs.writeFileSync(f, `#!/bin/sh\nexec ${WRAPPER} ${bin} "$@"\n`, { mode: 0o755 });
    return f;
}

// java17-otel and the newest LTS one (java25-otel here), from what install.sh recorded.
export function javaStacks() {
    const out = [];
    for (const dir of ['java17-otel', 'java25-otel']) {
        const home = readText(path.join(SB, dir, 'java_home'));
        const major = readText(path.join(SB, dir, 'java_major'));
        out.push({ dir, name: major ? `java${major}-otel` : dir, home, major });
    }
    return out;
}

// Entries for the benchmarks (the generic Map handler, direct invokes).
export function benchStacks() {
    const handler = 'orders.OrdersHandler::handleRequest';
    const java = javaStacks().map((j) => ({
        name: j.name, scope: JAVA_SCOPE, next: OTEL_HANDLER, execEnv: `AWS_Lambda_java${j.major}`, handler,
        runtime: j.home && j.home !== 'none' ? javaCommand(j.home, handler) : [], env: JAVA_ENV,
        args: ['--execution-env', `AWS_Lambda_java${j.major}`, '--memory', '512'],
        missing: () => (!j.home || j.home === 'none' || !fs.existsSync(path.join(SB, 'java17-otel/opentelemetry-javaagent.jar'))) && `tests/stacks/${j.dir}/install.sh has not run (or no such JDK)`,
    }));
    const go = ['go-otellambda', 'go-xrayconfig'].map((name) => {
        const bin = path.join(SB, name, 'bootstrap');
        return {
            name, scope: GO_SCOPE, next: null, execEnv: '', handler: 'bootstrap', runtime: [bin], env: {}, args: ['--provided'],
            tbRuntime: (dir) => [bootstrapRecipe(dir, bin)],
            missing: () => (readText(path.join(SB, name, 'unavailable')) || (!fs.existsSync(bin) && `tests/stacks/${name}/install.sh has not run`)),
        };
    });
    return [...java, ...go];
}
