#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `tracebridge rewrite` shows the Lambda-Runtime-Trace-Id the handler would get
# (trace_id_header in its report): rewritten with X-Ray PassThrough (Sampled=0), kept with active
# tracing (Sampled=1) unless --xray-header rewrite, never with keep or a target list without xray
# (rewrite and keep force the target either way, like the extension's settings).
set -u
cd "$(dirname "$0")/../.." || exit 1
bin="${TB_BUILD:-build}/tracebridge"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
ev='{"__traceparent__":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","a":1}'
root='Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8'
new='"trace_id_header":"Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=1111111111111111;Sampled=1'

case_() { # description expected-substring args...
    local d=$1 want=$2
    shift 2
    n=$((n + 1))
    # the environment must not decide for the test
    if printf '%s' "$ev" | env -u TRACEBRIDGE_XRAY_HEADER -u TRACEBRIDGE_TARGETS "$bin" rewrite \
        --span-id 1111111111111111 "$@" >"$T/out" 2>"$T/err" && grep -qF -- "$want" "$T/err"; then
        echo "ok $n - $d"
    else
        echo "not ok $n - $d"
        sed 's/^/# /' "$T/err"
    fi
}

case_ "Sampled=0 (PassThrough): the X-Ray form of the written context, Lineage kept" \
    "$new;Lineage=1:8a3f2b1c:0\"" --trace-id-header "$root;Sampled=0;Lineage=1:8a3f2b1c:0"
case_ "no Lambda header: one is created" "$new\"" --targets headers,xray
case_ "Sampled=1 (active tracing): kept" '"trace_id_header":null' \
    --trace-id-header "$root;Sampled=1;Lineage=1:8a3f2b1c:0"
case_ "Sampled=1 with --xray-header rewrite: rewritten" "$new;Lineage=1:8a3f2b1c:0\"" \
    --xray-header rewrite --trace-id-header "$root;Sampled=1;Lineage=1:8a3f2b1c:0"
case_ "--xray-header keep: kept" '"trace_id_header":null' --xray-header keep \
    --trace-id-header "$root;Sampled=0"
case_ "--targets without xray: kept" '"trace_id_header":null' --targets headers,client-context \
    --trace-id-header "$root;Sampled=0"
case_ "--xray-header rewrite forces the xray target, as TRACEBRIDGE_XRAY_HEADER does" "$new\"" \
    --targets headers --xray-header rewrite --trace-id-header "$root;Sampled=0"
n=$((n + 1))
if TRACEBRIDGE_XRAY_HEADER=keep "$bin" rewrite --span-id 1111111111111111 \
    --trace-id-header "$root;Sampled=0" <<<"$ev" 2>&1 >/dev/null | grep -qF '"trace_id_header":null'; then
    echo "ok $n - TRACEBRIDGE_XRAY_HEADER from the environment applies like in the extension"
else
    echo "not ok $n - TRACEBRIDGE_XRAY_HEADER from the environment applies like in the extension"
fi
echo "1..$n"
