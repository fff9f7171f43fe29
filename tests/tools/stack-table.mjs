// SPDX-License-Identifier: Apache-2.0
// Prints the README's "what you get in each language" table from the stack suites' results
// (tests/out/stack-results/<stack>.jsonl: one row per trigger, X-Ray mode and way of running),
// so the README says what the suites measured:   node tests/tools/stack-table.mjs [results-dir]
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] || 'tests/out/stack-results';
const groups = new Map();
const sampled = (r) => {
    const x = String(r.xray ?? r.xray_sampled ?? '');
    return x === '1' || x.endsWith('=1') ? 'active' : x === 'null' || x === '' ? 'none' : 'passthrough';
};
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
    if (!f.endsWith('.jsonl')) continue;
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
        if (!line.trim()) continue;
        const r = JSON.parse(line);
        const how = r.control_plane === 'rie' ? 'AWS RIE' : r.mode || 'emulator';
        const key = `${r.stack}\t${how}`;
        if (!groups.has(key)) groups.set(key, { passthrough: [], active: [], none: [] });
        groups.get(key)[sampled(r)].push(r);
    }
}
const cell = (rs) => {
    if (rs.length === 0) return '–';
    const j = rs.filter((r) => r.joined).length;
    const parents = [...new Set(rs.map((r) => r.handler_parent))].join('/');
    return `${j === rs.length ? '✔' : j === 0 ? '✘' : '◐'} ${j}/${rs.length} (${parents})`;
};
console.log('| stack | how it runs | no X-Ray header | X-Ray PassThrough (`Sampled=0`) | active X-Ray tracing (`Sampled=1`) |');
console.log('|---|---|---|---|---|');
for (const [key, g] of groups) {
    const [stack, how] = key.split('\t');
    console.log(`| ${stack} | ${how} | ${cell(g.none)} | ${cell(g.passthrough)} | ${cell(g.active)} |`);
}
