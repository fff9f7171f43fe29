// SPDX-License-Identifier: Apache-2.0
// What the ADOT Node Lambda layer's /opt/wrapper.js does for a CommonJS start: load the distro's
// register entry point (SDK, instrumentations, the Lambda event context extractor).
require('@aws/aws-distro-opentelemetry-node-autoinstrumentation/register');
