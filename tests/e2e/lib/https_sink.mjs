// SPDX-License-Identifier: Apache-2.0
// A local OTLP/HTTP sink over TLS, for HTTPS export checks and the footprint bench:
//   node tests/e2e/lib/https_sink.mjs KEY CERT PORT_FILE
// Listens on 127.0.0.1 (ephemeral port, written to PORT_FILE), answers every request 200, and
// on SIGTERM prints one line per fact and exits: posts (to /v1/traces), bytes, the TLS version
// and cipher of the last request, tls_sessions (handshakes completed) and tls_errors (broken
// off): a client that refuses the certificate shows up in one of the two, with no post.
import fs from 'node:fs';
import https from 'node:https';

const [key, cert, portFile] = process.argv.slice(2);
let posts = 0;
let bytes = 0;
let tlsErrors = 0;
let sessions = 0;
let proto = '-';
let cipher = '-';
const srv = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') {
            posts++;
            bytes += n;
            proto = req.socket.getProtocol();
            cipher = req.socket.getCipher().name;
        }
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf', 'Content-Length': 0 });
        res.end();
    });
});
srv.on('tlsClientError', () => { tlsErrors++; });
srv.on('secureConnection', () => { sessions++; });
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(srv.address().port)));
process.on('SIGTERM', () => {
    console.log(`posts ${posts}\nbytes ${bytes}\ntls ${proto} ${cipher}\ntls_sessions ${sessions}\ntls_errors ${tlsErrors}`);
    process.exit(0);
});
