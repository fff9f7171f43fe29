// SPDX-License-Identifier: Apache-2.0
// --import this file: installs OTel's ESM loader hook. aws-lambda-ric 4.x loads the handler with
// import(), which require-in-the-middle never sees: without this hook there are no handler spans.
import { register } from 'node:module';

register(new URL('../node/node_modules/@opentelemetry/instrumentation/hook.mjs', import.meta.url).href, import.meta.url);
