// SPDX-License-Identifier: Apache-2.0
// A runtime process that does nothing but say where it was pointed: it writes its
// AWS_LAMBDA_RUNTIME_API (after the wrapper) to $RUNTIME_ADDR_OUT and waits for SIGTERM. The
// test itself then plays the runtime over raw connections (runtimeNext in harness.mjs), so it
// decides exactly when a /next opens and closes.
import fs from 'node:fs';

fs.writeFileSync(process.env.RUNTIME_ADDR_OUT, `${process.env.AWS_LAMBDA_RUNTIME_API ?? ''}\n`);
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
