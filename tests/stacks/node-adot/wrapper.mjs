// SPDX-License-Identifier: Apache-2.0
// What the ADOT Node Lambda layer's /opt/wrapper.mjs does for an ESM start (an .mjs handler, or
// Node 24+): install import-in-the-middle's loader hook through module.register() in the mode
// that intercepts only the modules an instrumentation asked for, wait until the hook thread has
// them, then load the CommonJS wrapper (the distro's register).
import { register } from 'node:module';
import { createRequire } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';

const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
await waitForAllMessagesAcknowledged();
createRequire(import.meta.url)('./wrapper.cjs');
