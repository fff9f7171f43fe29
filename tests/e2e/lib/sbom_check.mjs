// SPDX-License-Identifier: Apache-2.0
// Checks an unzipped layer's bill of materials and notices (run by tests/e2e/layer.sh):
//   node tests/e2e/lib/sbom_check.mjs OPT_DIR ARCH
// tracebridge/sbom.spdx.json must be SPDX 2.3 JSON with the fields the layer promises, every
// bundled package's concluded licence must be on the allow-list below (kept here, apart from
// the build's own list in layer/bom.sh, so that a change there does not pass by itself), the
// file checksums must match the unzipped files, and THIRD-PARTY-NOTICES must carry every
// package's licence text. Prints TAP lines (no plan: the caller numbers them).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const [opt, arch] = process.argv.slice(2);
const ALLOWED = new Set(['Apache-2.0', 'MIT', 'BSD-2-Clause', 'BSD-3-Clause', 'ISC', 'Zlib', 'curl',
    'MIT-0', 'X11', 'MIT-CMU', 'SunPro', 'LicenseRef-public-domain']);
// The compiler's runtime (crt*.o, libgcc.a: e.g. __udivti3 for mbedTLS's bignums) is GPL with
// the GCC Runtime Library Exception, which lets any program that gcc compiled ship it.
const GCC_RUNTIME = 'GPL-3.0-or-later WITH GCC-exception-3.1';
const MUST = ['tracebridge', 'curl', 'mbedtls', 'zlib', 'libuv1', 'cjson', 'protobuf-c', 'http-parser', 'musl'];

let failed = 0;
function ok(cond, desc, diag) {
    console.log(`${cond ? 'ok' : 'not ok'} - ${arch}: ${desc}`);
    if (!cond) {
        failed++;
        if (diag !== undefined) for (const l of JSON.stringify(diag, null, 1).split('\n').slice(0, 20)) console.log(`# ${l}`);
    }
    return cond;
}
const sha = (alg, f) => crypto.createHash(alg).update(fs.readFileSync(f)).digest('hex');

const dir = path.join(opt, 'tracebridge');
let doc;
try {
    doc = JSON.parse(fs.readFileSync(path.join(dir, 'sbom.spdx.json'), 'utf8'));
} catch (e) {
    ok(false, `tracebridge/sbom.spdx.json parses as JSON (${e.message})`);
    process.exit(1);
}
ok(doc.spdxVersion === 'SPDX-2.3' && doc.dataLicense === 'CC0-1.0' && doc.SPDXID === 'SPDXRef-DOCUMENT' &&
    /^https:\/\/\S+$/.test(doc.documentNamespace) && doc.creationInfo?.creators?.length > 0 &&
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(doc.creationInfo?.created ?? ''),
'SBOM: SPDX-2.3 document header (version, data licence, namespace, creation info)', doc.creationInfo);

const pkgs = doc.packages ?? [];
const byName = new Map(pkgs.map((p) => [p.name, p]));
const ids = new Set([...pkgs.map((p) => p.SPDXID), ...(doc.files ?? []).map((f) => f.SPDXID)]);
ok(MUST.every((n) => byName.has(n)), `SBOM lists ${MUST.join(', ')}`, [...byName.keys()]);
ok(!pkgs.some((p) => /wolfssl|openssl|gnutls/i.test(p.name)), 'SBOM: no wolfSSL (nor another TLS library than mbedTLS)');
ok(pkgs.every((p) => p.name && p.SPDXID?.startsWith('SPDXRef-') && p.versionInfo && p.downloadLocation &&
    p.licenseConcluded && p.licenseDeclared && p.copyrightText && p.filesAnalyzed === (p.name === 'tracebridge')),
'SBOM: every package has name, SPDXID, versionInfo, downloadLocation, licences, copyrightText');
const tb = byName.get('tracebridge');
ok(tb?.licenseConcluded === 'Apache-2.0' && tb?.licenseDeclared === 'Apache-2.0' &&
    doc.documentDescribes?.includes(tb.SPDXID), 'SBOM: the document describes tracebridge, Apache-2.0');

for (const p of pkgs) {
    if (p.name === 'tracebridge') continue;
    const terms = p.licenseConcluded.replace(/[()]/g, '').split(' AND ');
    const good = p.name.startsWith('gcc runtime') ? p.licenseConcluded === GCC_RUNTIME
        : terms.every((t) => ALLOWED.has(t));
    ok(good, `licence of ${p.name} ${p.versionInfo} is allowed: ${p.licenseConcluded}`, p);
    if (p.name.startsWith('gcc runtime')) continue;
    const purl = p.externalRefs?.find((r) => r.referenceType === 'purl')?.referenceLocator ?? '';
    const debver = decodeURIComponent(purl.replace(/^pkg:deb\/debian\/[^@]+@/, '').replace(/\?.*/, ''));
    ok(/\.dsc$/.test(p.downloadLocation) && purl.startsWith(`pkg:deb/debian/${p.name}@`) &&
        debver.includes(p.versionInfo) && p.sourceInfo?.includes(debver) &&
        /^[0-9a-f]{64}$/.test(p.checksums?.[0]?.checksumValue ?? ''),
    `${p.name}: Debian source ${debver}, .dsc download location and checksum`, p);
}
ok(byName.get('mbedtls')?.licenseConcluded === 'Apache-2.0', 'mbedTLS is used under Apache-2.0');

const files = doc.files ?? [];
const want = ['./extensions/tracebridge', './tracebridge/LICENSE', './tracebridge/THIRD-PARTY-NOTICES'];
ok(want.every((w) => files.some((f) => f.fileName === w)), 'SBOM lists the binary, LICENSE and the notices', files.map((f) => f.fileName));
ok(files.every((f) => {
    const p = path.join(opt, f.fileName);
    const c = Object.fromEntries(f.checksums.map((x) => [x.algorithm, x.checksumValue]));
    return fs.existsSync(p) && c.SHA1 === sha('sha1', p) && c.SHA256 === sha('sha256', p);
}), 'SBOM: SHA1 and SHA256 of every listed file match the unzipped layer');
const code = crypto.createHash('sha1').update(files.map((f) => sha('sha1', path.join(opt, f.fileName))).sort().join('')).digest('hex');
ok(tb?.packageVerificationCode?.packageVerificationCodeValue === code, `SBOM: tracebridge's package verification code is that of the listed files (${code.slice(0, 12)})`);
const rels = doc.relationships ?? [];
ok(rels.every((r) => (r.spdxElementId === 'SPDXRef-DOCUMENT' || ids.has(r.spdxElementId)) && ids.has(r.relatedSpdxElement)),
    'SBOM: every relationship names elements of the document');
const linked = new Set(rels.filter((r) => r.relationshipType === 'STATIC_LINK' && r.spdxElementId === 'SPDXRef-File-extensions-tracebridge').map((r) => r.relatedSpdxElement));
ok(pkgs.filter((p) => p.name !== 'tracebridge').every((p) => linked.has(p.SPDXID)), 'SBOM: the binary STATIC_LINKs every bundled package');

const notices = fs.readFileSync(path.join(dir, 'THIRD-PARTY-NOTICES'), 'utf8');
// Layout: preamble, then per package a title block and a body, each after a rule of '='.
const parts = notices.split(/\n={78}\n/);
const section = (name, v) => {
    const i = parts.findIndex((t) => t.startsWith(`${name} ${v}\n`));
    return i < 0 ? null : { title: parts[i], body: parts[i + 1] ?? '' };
};
for (const p of pkgs) {
    if (p.name === 'tracebridge') continue;
    const s = section(p.name, p.versionInfo);
    ok(s && s.title.includes(`Licence: ${p.licenseDeclared}`) &&
        (p.name.startsWith('gcc runtime') ? /GCC RUNTIME LIBRARY EXCEPTION/.test(s.body) : s.body.includes('---- debian/copyright ----\nFormat: ')),
    `THIRD-PARTY-NOTICES: ${p.name} ${p.versionInfo} with its licence and licence text`);
}
const mb = section('mbedtls', byName.get('mbedtls')?.versionInfo);
ok(mb && /Apache License\s+Version 2\.0, January 2004/.test(mb.body), 'THIRD-PARTY-NOTICES: mbedTLS with the full Apache-2.0 text (its LICENSE)');
ok(mb && /\n {2}Used here under: Apache-2\.0\n/.test(mb.title), 'THIRD-PARTY-NOTICES says mbedTLS is used under Apache-2.0');
const lic = fs.readFileSync(path.join(dir, 'LICENSE'), 'utf8');
ok(/Apache License\s+Version 2\.0, January 2004/.test(lic) && /END OF TERMS AND CONDITIONS/.test(lic), 'tracebridge/LICENSE is the full Apache-2.0 text');
process.exit(failed ? 1 : 0);
