#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make layers: checks the allowed include directions between the rooms of the tree (README,
# "Layout"). A file may include its own room's headers and the public header of any room below
# it; internal.h only from its own folder. Prints each violation; exits 1 if there is one.
#   base <- net <- proxy, proxy/promote <- spans <- otlp <- export <- receiver, lifecycle,
#   telemetry
#   <- extension/ (daemon, conf, flushgate, cli_rewrite) <- main.c
set -u
cd "$(dirname "$0")/../.." || exit 1
level() { # path -> level of its room
    case $1 in
    extension/base/*) echo 0 ;;
    extension/net/*) echo 1 ;;
    proxy/promote/*) echo 2 ;;
    proxy/*) echo 2 ;;
    extension/spans/*) echo 3 ;;
    extension/otlp/*) echo 4 ;;
    extension/export/*) echo 5 ;;
    extension/receiver/* | extension/lifecycle/* | extension/telemetry/*) echo 6 ;;
    extension/main.c) echo 8 ;;
    extension/*) echo 7 ;;
    *) echo 99 ;;
    esac
}
bad=0
n=0
for f in $(git ls-files 'extension/*.[ch]' 'proxy/*.[ch]'); do
    lf=$(level "$f")
    room=$(dirname "$f")
    for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
        case $inc in extension/* | proxy/*) ;; *) continue ;; esac
        n=$((n + 1))
        iroom=$(dirname "$inc")
        [ "$iroom" = "$room" ] && continue
        if [ "$(basename "$inc")" = internal.h ]; then
            echo "layers: $f includes $inc (internal.h is private to $iroom/)"
            bad=1
            continue
        fi
        li=$(level "$inc")
        if [ "$li" -ge "$lf" ]; then
            echo "layers: $f ($room, level $lf) includes $inc ($iroom, level $li): only lower rooms may be included"
            bad=1
        fi
    done
done
[ "$bad" -eq 0 ] && echo "layers: $n includes checked, every one points down the tree"
exit "$bad"
