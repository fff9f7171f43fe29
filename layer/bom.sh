# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Licences, notices and the bill of materials of a layer binary; sourced by layer/build-layer.sh.
#
# What is bundled is read from the linker's map of the binary (every archive that gave members
# and every object file loaded), not from a list kept by hand. Each input maps to the package it
# came from; for a package built from its Debian source package, the licences are those of the
# debian/copyright (DEP-5) paragraphs that cover the files it was compiled from (a superset of
# the linked members: conservative), mapped to SPDX ids and checked against ALLOWED.
#
# Functions use the build's variables: ROOT, SRC, A, P, ARCH, RELEASE, APT_DIR.

# Licences a bundled library may have (SPDX ids). "MIT-like": the MIT/X11 family, fdlibm's
# SunPro notice (keep the notice), and public domain (no conditions at all). Anything else, or any OR-alternative we cannot take, fails the
# build. The GCC runtime (crt*.o, libgcc.a) is allowed only under its runtime library exception.
ALLOWED_LICENCES="Apache-2.0 MIT BSD-2-Clause BSD-3-Clause ISC Zlib curl MIT-0 X11 MIT-CMU SunPro"
ALLOWED_LICENCES="$ALLOWED_LICENCES LicenseRef-public-domain"
GCC_RUNTIME_LICENCE="GPL-3.0-or-later WITH GCC-exception-3.1"

# ---- what the link used ---------------------------------------------------------------------

# Every input file of the link that contributed: archives with at least one member pulled in,
# and plain object files (not ld's own "linker stubs"). From `ld -Map`: the "Archive member included" section names
# archive(member) pairs; LOAD lines name every input.
linked_inputs() { # map-file
    awk '
        /^Archive member included/ { am = 1; next }
        /^(Discarded input sections|Memory Configuration|Allocating common symbols)/ { am = 0 }
        am && /^[^ (]+\.a\(/ { sub(/\(.*/, ""); used[$0] = 1 }
        /^LOAD \// { print $2 }
        END { for (a in used) print "ARCHIVE " a }
    ' "$1" | awk '
        $1 == "ARCHIVE" { keep[$2] = 1; next }
        { load[$1] = 1 }
        END { for (f in load) if (f !~ /\.a$/ || (f in keep)) print f }
    ' | LC_ALL=C sort -u
}

# The package an input of the link came from.
input_package() { # path
    local f=$1
    case $f in
    "$A"/tb/*) echo tracebridge ;;
    "$P"/lib/libcurl.a) echo curl ;;
    "$P"/lib/libmbedtls.a | "$P"/lib/libmbedx509.a | "$P"/lib/libmbedcrypto.a) echo mbedtls ;;
    "$P"/lib/libuv.a) echo libuv1 ;;
    "$P"/lib/libz.a) echo zlib ;;
    "$P"/lib/libcjson.a) echo cjson ;;
    "$P"/lib/libprotobuf-c.a) echo protobuf-c ;;
    "$P"/lib/libhttp_parser.a) echo http-parser ;;
    "$P"/lib/mimalloc.o) echo mimalloc ;;
    /usr/lib/*-linux-musl/*) echo musl ;;
    /usr/lib/gcc/* | /usr/lib/gcc-cross/*) echo gcc-runtime ;;
    *) return 1 ;;
    esac
}

# ---- DEP-5 (machine-readable debian/copyright) ----------------------------------------------

# The License expression (Debian short names) of the last Files paragraph that matches each
# path read on stdin (DEP-5: the last match wins; `*` matches across `/`), a tab, and the first
# words of its licence text (inline, else the stand-alone License paragraph's): unique, sorted.
dep5_licences() { # copyright-file < paths
    awk '
        function glob2re(g, i, c, r) {
            r = "^"
            for (i = 1; i <= length(g); i++) {
                c = substr(g, i, 1)
                if (c == "*") r = r ".*"
                else if (c == "?") r = r "."
                else if (index("\\^$.[]|()+{}", c)) r = r "\\" c
                else r = r c
            }
            return r "$"
        }
        function endpara() {
            if (nfiles && lic != "") { n++; np[n] = nfiles; pl[n] = lic; pt[n] = text
                for (k = 1; k <= nfiles; k++) pat[n, k] = glob2re(fl[k]) }
            else if (lic != "" && !(lic in lt)) lt[lic] = text
            nfiles = 0; lic = ""; field = ""; text = ""
        }
        FNR == NR {
            if ($0 ~ /^[ \t]*$/) { endpara(); next }
            if ($0 ~ /^[^ \t]/) {
                field = $0; sub(/:.*/, "", field); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                if (field == "Files") { nfiles = split(val, fl, /[ \t]+/); if (fl[1] == "") nfiles = 0 }
                else if (field == "License") lic = val
                next
            }
            if (field == "Files") { m = split($0, more, /[ \t]+/)
                for (k = 1; k <= m; k++) if (more[k] != "") fl[++nfiles] = more[k] }
            if (field == "License" && length(text) < 400) { t = $0; gsub(/^[ \t]+|[ \t]+$/, "", t)
                if (t != ".") text = text (text == "" ? "" : " ") t }
            next
        }
        FNR == 1 { endpara() }
        {
            for (i = n; i >= 1; i--) for (k = 1; k <= np[i]; k++) if ($0 ~ pat[i, k]) {
                seen[pl[i] "\t" (pt[i] != "" ? pt[i] : lt[pl[i]])] = 1; i = 0; break }
        }
        END { for (l in seen) print l }
    ' "$1" /dev/stdin | LC_ALL=C sort -u
}

# One Debian licence short name as an SPDX id (https://spdx.org/licenses/); names outside this
# table become LicenseRef-Debian-NAME, which no allow-list holds. A generic name ("permissive")
# is told by its text: fdlibm's SunPro notice (musl's math functions) is SPDX's SunPro.
spdx_id() { # debian-short-name licence-text
    local n
    n=$(tr '[:upper:]' '[:lower:]' <<<"$1")
    if [ "$n" = permissive ] && grep -q 'Developed at SunPro.*Permission to use, copy, modify, and distribute this software is freely granted, provided that this notice is preserved' <<<"${2:-}"; then
        echo SunPro
        return
    fi
    case $n in
    apache-2.0) echo Apache-2.0 ;;
    expat | mit | expat-nginx) echo MIT ;;
    bsd-2-clause) echo BSD-2-Clause ;;
    bsd-3-clause) echo BSD-3-Clause ;;
    isc) echo ISC ;;
    zlib) echo Zlib ;;
    curl) echo curl ;;
    mit-0) echo MIT-0 ;;
    x11) echo X11 ;;
    public-domain) echo LicenseRef-public-domain ;;
    gpl-2+) echo GPL-2.0-or-later ;;
    gpl-2) echo GPL-2.0-only ;;
    gpl-3+) echo GPL-3.0-or-later ;;
    lgpl-2.1+) echo LGPL-2.1-or-later ;;
    *) echo "LicenseRef-Debian-$(tr -c 'A-Za-z0-9.\n-' '-' <<<"$1")" ;;
    esac
}

licence_allowed() { # spdx-id
    local a
    for a in $ALLOWED_LICENCES; do [ "$a" = "$1" ] && return 0; done
    return 1
}

# A Debian licence expression ("A or B", "A and B", "A, and B") in SPDX terms, as two lines:
# the declared expression, and the one we use it under (the first allowed alternative of each
# "or"); status 1 when some conjunct has no allowed alternative.
spdx_expr() { # debian-expression licence-text
    local e conj alt id declared="" used="" ok=0 d u pick
    e=$(sed -E 's/,? and /\n/g' <<<"$1")
    while IFS= read -r conj; do
        [ -n "$conj" ] || continue
        d="" pick=""
        while IFS= read -r alt; do
            alt=$(sed -E 's/^[ (]+|[ )]+$//g' <<<"$alt")
            [ -n "$alt" ] || continue
            id=$(spdx_id "$alt" "${2:-}")
            d="${d:+$d OR }$id"
            [ -z "$pick" ] && licence_allowed "$id" && pick=$id
        done < <(sed -E 's/ or /\n/g' <<<"$conj")
        [[ $d == *" OR "* ]] && d="($d)"
        declared="${declared:+$declared AND }$d"
        if [ -n "$pick" ]; then u=$pick; else u=$d ok=1; fi
        used="${used:+$used AND }$u"
    done <<<"$e"
    printf '%s\n%s\n' "$declared" "$used"
    return $ok
}

# Joins SPDX expressions with AND, each distinct id once (sorted for a stable output).
spdx_and() { # expressions...
    local out=""
    while IFS= read -r x; do out="${out:+$out AND }$x"; done < <(printf '%s\n' "$@" |
        sed 's/ AND /\n/g' | awk 'NF && !seen[$0]++' | LC_ALL=C sort)
    echo "$out"
}

# Licences of a source tree's files (paths relative to it, on stdin) from its debian/copyright.
# Prints "declared<TAB>used"; fails, naming the offending expression, if one is not allowed.
tree_licence() { # source-dir < paths
    local dir=$1 expr text lines dec=() use=() bad=""
    [ -f "$dir/debian/copyright" ] || {
        echo "no debian/copyright in $dir" >&2
        return 1
    }
    head -1 "$dir/debian/copyright" | grep -q '^Format: .*copyright-format' || {
        echo "$dir/debian/copyright is not machine-readable (DEP-5)" >&2
        return 1
    }
    while IFS=$'\t' read -r expr text; do
        if lines=$(spdx_expr "$expr" "$text"); then :; else bad="$bad; '$expr'"; fi
        dec+=("$(sed -n 1p <<<"$lines")")
        use+=("$(sed -n 2p <<<"$lines")")
    done < <(dep5_licences "$dir/debian/copyright")
    [ ${#dec[@]} -gt 0 ] || {
        echo "no debian/copyright paragraph covers the files compiled from $dir" >&2
        return 1
    }
    if [ -n "$bad" ]; then
        echo "licence not on the allowed list ($ALLOWED_LICENCES):${bad#;}" >&2
        return 1
    fi
    printf '%s\t%s\n' "$(spdx_and "${dec[@]}")" "$(spdx_and "${use[@]}")"
}

# ---- per-package facts ----------------------------------------------------------------------

# The files each dependency is compiled from (relative to its source tree): the licence scope.
# A superset of what the link pulls in, never less.
licence_scope() { # pkg
    local d=$SRC/$1
    (
        cd "$d" || exit 1
        case $1 in
        zlib) find . -maxdepth 1 -name '*.[ch]' ;;
        mbedtls) find library include -name '*.[ch]' ;;
        curl) find lib include -name '*.[ch]' ;;
        libuv1) find src include -name '*.[ch]' -not -path 'src/win/*' ;;
        cjson) printf '%s\n' cJSON.c cJSON.h ;;
        protobuf-c) printf '%s\n' protobuf-c/protobuf-c.c protobuf-c/protobuf-c.h ;;
        http-parser) printf '%s\n' http_parser.c http_parser.h ;;
        mimalloc) find src include -name '*.[ch]' ;;
        # libc.a: everything but the dynamic linker and the other architectures.
        musl) find src crt include "arch/$MUSL_ARCH" arch/generic -type f -not -path 'src/ldso/*' |
            grep -vE "/($(musl_other_arches))/" ;;
        *) exit 1 ;;
        esac
    ) | sed 's|^\./||' | LC_ALL=C sort
}

musl_other_arches() {
    find "$SRC/musl/arch" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort |
        grep -vx -e "$MUSL_ARCH" -e generic | paste -sd'|' 
}

src_field() { sed -n "s/^$2=//p" "$SRC/$1/.source"; }

upstream_version() { # debian-version: without epoch and Debian revision
    local v=${1#*:}
    echo "${v%-*}"
}

purl() { # name debian-version
    printf 'pkg:deb/debian/%s@%s?arch=source&distro=%s' "$1" "$(sed 's/:/%3A/g; s/+/%2B/g' <<<"$2")" "$RELEASE"
}

json_str() { # text: as a JSON string
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    s=${s//$'\n'/\\n}
    printf '"%s"' "$s"
}

# Collects, for every bundled package, what the notices and the SBOM say; sets BOM_* arrays.
bom_collect() { # map-file
    local f pkg lic
    BOM_PKGS=()
    declare -gA BOM_DEC BOM_USE BOM_DEBVER BOM_SUITE BOM_URL BOM_SHA BOM_COPYRIGHT BOM_UPSTREAM
    declare -gA BOM_SCOPE
    while IFS= read -r f; do
        pkg=$(input_package "$f") || die "licence check: the link used $f, which no known package provides"
        [[ " ${BOM_PKGS[*]} " == *" $pkg "* ]] || BOM_PKGS+=("$pkg")
    done < <(linked_inputs "$1")
    [[ " ${BOM_PKGS[*]} " == *" tracebridge "* ]] || die "licence check: no tracebridge objects in the link map"
    # A fixed order (not the paths', which depend on where the checkout is): reproducible files.
    mapfile -t BOM_PKGS < <(printf '%s\n' "${BOM_PKGS[@]}" | grep -vx tracebridge | LC_ALL=C sort)
    BOM_PKGS=(tracebridge "${BOM_PKGS[@]}")
    for pkg in "${BOM_PKGS[@]}"; do
        case $pkg in
        tracebridge) continue ;;
        gcc-runtime) bom_gcc_runtime ;;
        *)
            lic=$(licence_scope "$pkg" | tree_licence "$SRC/$pkg") ||
                die "licence check: $pkg ($(src_field "$pkg" version)): see above"
            BOM_DEC[$pkg]=${lic%%$'\t'*}
            BOM_USE[$pkg]=${lic#*$'\t'}
            BOM_DEBVER[$pkg]=$(src_field "$pkg" version)
            BOM_SUITE[$pkg]=$(src_field "$pkg" suite)
            BOM_URL[$pkg]=$(src_field "$pkg" url)
            BOM_SHA[$pkg]=$(src_field "$pkg" sha256)
            BOM_COPYRIGHT[$pkg]=$SRC/$pkg/debian/copyright
            BOM_UPSTREAM[$pkg]=$(cd "$SRC/$pkg" && find . -maxdepth 1 -type f \( -iname 'COPYING*' \
                -o -iname 'LICEN[CS]E*' -o -iname 'COPYRIGHT*' -o -iname 'NOTICE*' \) | sed 's|^\./||' |
                LC_ALL=C sort | paste -sd' ')
            BOM_SCOPE[$pkg]=$(bom_scope_text "$pkg")
            ;;
        esac
    done
}

bom_scope_text() {
    case $1 in
    zlib) echo "*.c *.h (top level)" ;;
    mbedtls) echo "library/ include/" ;;
    curl) echo "lib/ include/" ;;
    libuv1) echo "src/ (not src/win/) include/" ;;
    musl) echo "src/ crt/ include/ arch/$MUSL_ARCH/ arch/generic/ (libc.a)" ;;
    mimalloc) echo "src/ include/" ;;
    *) licence_scope "$1" | paste -sd' ' ;;
    esac
}

# crt*.o and libgcc.a come with the compiler, not from a source package we fetch (gcc's is
# ~90 MB): the installed binary package's name, version and copyright file, whose text must
# grant the runtime library exception.
bom_gcc_runtime() {
    local f owner cr
    f=$(linked_inputs "$MAP" | grep -m1 -E '^/usr/lib/gcc(-cross)?/')
    owner=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$owner" ] || die "licence check: no installed package owns $f"
    cr=/usr/share/doc/$owner/copyright
    grep -q 'GCC RUNTIME LIBRARY EXCEPTION' "$cr" ||
        die "licence check: $cr does not grant the GCC runtime library exception"
    BOM_DEC[gcc-runtime]=$GCC_RUNTIME_LICENCE
    BOM_USE[gcc-runtime]=$GCC_RUNTIME_LICENCE
    BOM_DEBVER[gcc-runtime]=$(dpkg-query -W -f='${Version}' "$owner")
    BOM_SUITE[gcc-runtime]="installed package $owner"
    BOM_URL[gcc-runtime]=NOASSERTION
    BOM_SHA[gcc-runtime]=""
    BOM_COPYRIGHT[gcc-runtime]=$cr
    BOM_UPSTREAM[gcc-runtime]=""
    BOM_SCOPE[gcc-runtime]="$(linked_inputs "$MAP" | grep -E '^/usr/lib/gcc(-cross)?/' | xargs -n1 basename | paste -sd' ')"
    BOM_GCC_PKG=$owner
}

bom_name() { # pkg: the name in notices and SBOM
    case $1 in
    gcc-runtime) echo "gcc runtime (${BOM_GCC_PKG:-gcc})" ;;
    *) echo "$1" ;;
    esac
}

tb_version() {
    grep -rh '#define TRACEBRIDGE_VERSION' "$ROOT/extension" | head -1 | sed -E 's/.*"(.*)".*/\1/'
}

# ---- THIRD-PARTY-NOTICES --------------------------------------------------------------------

write_notices() { # out-file
    local out=$1 pkg f rule
    rule=$(printf '%.0s=' {1..78})
    {
        echo "THIRD-PARTY NOTICES: tracebridge $(tb_version), Lambda layer for $ARCH"
        echo
        echo "extensions/tracebridge is one statically linked program. tracebridge itself is"
        echo "licensed under the Apache License 2.0 (tracebridge/LICENSE). The program also"
        echo "contains the software below, each built from its Debian source package (the C"
        echo "library and the compiler runtime from the installed Debian packages). For each:"
        echo "the licences of the files it was compiled from (SPDX), the licence under which it"
        echo "is used here (where a choice is offered), then its upstream licence file(s) and"
        echo "its Debian copyright file, verbatim."
        for pkg in "${BOM_PKGS[@]}"; do
            [ "$pkg" = tracebridge ] && continue
            echo
            echo "$rule"
            echo "$(bom_name "$pkg") $(upstream_version "${BOM_DEBVER[$pkg]}")"
            echo "  Debian source: ${BOM_DEBVER[$pkg]} (${BOM_SUITE[$pkg]})"
            [ "${BOM_URL[$pkg]}" != NOASSERTION ] && echo "  Download: ${BOM_URL[$pkg]}"
            echo "  Compiled from: ${BOM_SCOPE[$pkg]}"
            echo "  Licence: ${BOM_DEC[$pkg]}"
            echo "  Used here under: ${BOM_USE[$pkg]}"
            if [ "$pkg" = mbedtls ]; then
                echo "  (Debian's copyright file gives its packaging files, debian/*, as \"Apache-2.0"
                echo "  or GPL-2+\" and notes that Mbed TLS was also offered under GPL-2+ until 2.26;"
                echo "  the library files compiled here are Apache-2.0, and Mbed TLS is used here"
                echo "  under the Apache License 2.0 only.)"
            fi
            echo "$rule"
            for f in ${BOM_UPSTREAM[$pkg]}; do
                echo
                echo "---- $f ----"
                cat "$SRC/$pkg/$f"
            done
            echo
            echo "---- debian/copyright ----"
            cat "${BOM_COPYRIGHT[$pkg]}"
        done
    } >"$out"
}

# ---- SPDX 2.3 JSON --------------------------------------------------------------------------

# Fixed creation time (SOURCE_DATE_EPOCH when set, else the zip entries' time) so that the same
# inputs give the same document, byte for byte.
spdx_created() {
    if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
        date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ
    else
        echo 2020-01-01T00:00:00Z
    fi
}

spdx_ref() { echo "SPDXRef-Package-$(tr -c 'A-Za-z0-9.\n-' '-' <<<"$1")"; }

spdx_file() { # stage-dir relative-path
    local id
    id="SPDXRef-File-$(tr -c 'A-Za-z0-9.\n-' '-' <<<"$2")"
    printf '    {\n      "fileName": %s,\n      "SPDXID": "%s",\n' "$(json_str "./$2")" "$id"
    printf '      "checksums": [\n        { "algorithm": "SHA1", "checksumValue": "%s" },\n' \
        "$(sha1sum "$1/$2" | cut -d' ' -f1)"
    printf '        { "algorithm": "SHA256", "checksumValue": "%s" }\n      ],\n' \
        "$(sha256sum "$1/$2" | cut -d' ' -f1)"
    printf '      "licenseConcluded": "%s",\n      "copyrightText": "NOASSERTION"\n    }' "$3"
}

# SPDX requires every LicenseRef- used to be defined in the document.
spdx_extracted() {
    local refs r sep=""
    refs=$(printf '%s\n' "${BOM_DEC[@]}" "${BOM_USE[@]}" | grep -o 'LicenseRef-[A-Za-z0-9.-]*' | LC_ALL=C sort -u)
    [ -n "$refs" ] || return 0
    printf '  "hasExtractedLicensingInfos": [\n'
    for r in $refs; do
        printf '%s    { "licenseId": "%s", "name": %s, "extractedText": %s }' "$sep" "$r" \
            "$(json_str "${r#LicenseRef-}")" "$(json_str "$(spdx_extracted_text "$r")")"
        sep=$',\n'
    done
    printf '\n  ],\n'
}

spdx_extracted_text() { # licence-ref
    case $1 in
    LicenseRef-public-domain) echo "Public domain: files that the package's debian/copyright marks \"License: public-domain\" carry no licence conditions (their notices are in THIRD-PARTY-NOTICES)." ;;
    *) echo "See the package's debian/copyright in THIRD-PARTY-NOTICES." ;;
    esac
}

write_sbom() { # out-file stage-dir (with the other files already in place)
    local out=$1 stage=$2 pkg sep f files=() binsha
    binsha=$(sha256sum "$stage/extensions/tracebridge" | cut -d' ' -f1)
    (cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$A/stage.files"
    mapfile -t files <"$A/stage.files"
    {
        printf '{\n  "spdxVersion": "SPDX-2.3",\n  "dataLicense": "CC0-1.0",\n'
        printf '  "SPDXID": "SPDXRef-DOCUMENT",\n  "name": "tracebridge-layer-%s",\n' "$ARCH"
        printf '  "documentNamespace": "https://spdx.org/spdxdocs/tracebridge-layer-%s-%s-%s",\n' \
            "$ARCH" "$(tb_version)" "${binsha:0:32}"
        printf '  "creationInfo": {\n    "created": "%s",\n' "$(spdx_created)"
        printf '    "creators": [ "Tool: tracebridge layer/build-layer.sh", "Organization: tracebridge" ]\n  },\n'
        printf '  "documentDescribes": [ "%s" ],\n' "$(spdx_ref tracebridge)"
        printf '  "packages": [\n'
        printf '    {\n      "name": "tracebridge",\n      "SPDXID": "%s",\n' "$(spdx_ref tracebridge)"
        printf '      "versionInfo": %s,\n      "downloadLocation": "NOASSERTION",\n' "$(json_str "$(tb_version)")"
        # SPDX 2.3 7.9: SHA-1 of the sorted, concatenated SHA-1s of the package's files.
        printf '      "filesAnalyzed": true,\n      "packageVerificationCode": { "packageVerificationCodeValue": "%s" },\n' \
            "$(for f in "${files[@]}"; do sha1sum "$stage/$f" | cut -d' ' -f1; done | LC_ALL=C sort | tr -d '\n' | sha1sum | cut -d' ' -f1)"
        printf '      "licenseConcluded": "Apache-2.0",\n'
        printf '      "licenseDeclared": "Apache-2.0",\n      "copyrightText": "NOASSERTION",\n'
        printf '      "primaryPackagePurpose": "APPLICATION"\n    }'
        for pkg in "${BOM_PKGS[@]}"; do
            [ "$pkg" = tracebridge ] && continue
            printf ',\n    {\n      "name": %s,\n      "SPDXID": "%s",\n' "$(json_str "$(bom_name "$pkg")")" "$(spdx_ref "$pkg")"
            printf '      "versionInfo": %s,\n' "$(json_str "$(upstream_version "${BOM_DEBVER[$pkg]}")")"
            printf '      "supplier": "Organization: Debian",\n'
            printf '      "downloadLocation": %s,\n' "$(json_str "${BOM_URL[$pkg]}")"
            printf '      "filesAnalyzed": false,\n'
            if [ -n "${BOM_SHA[$pkg]}" ]; then
                printf '      "checksums": [ { "algorithm": "SHA256", "checksumValue": "%s" } ],\n' "${BOM_SHA[$pkg]}"
            fi
            printf '      "sourceInfo": %s,\n' "$(json_str "Debian source package $pkg ${BOM_DEBVER[$pkg]} (${BOM_SUITE[$pkg]}); compiled from ${BOM_SCOPE[$pkg]}")"
            printf '      "licenseConcluded": %s,\n' "$(json_str "${BOM_USE[$pkg]}")"
            printf '      "licenseDeclared": %s,\n' "$(json_str "${BOM_DEC[$pkg]}")"
            printf '      "copyrightText": "NOASSERTION",\n'
            if [ "$pkg" != gcc-runtime ]; then
                printf '      "externalRefs": [ { "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": %s } ],\n' \
                    "$(json_str "$(purl "$pkg" "${BOM_DEBVER[$pkg]}")")"
            fi
            printf '      "primaryPackagePurpose": "LIBRARY"\n    }'
        done
        printf '\n  ],\n'
        spdx_extracted
        printf '  "files": [\n'
        sep=""
        for f in "${files[@]}"; do
            printf '%s' "$sep"
            spdx_file "$stage" "$f" NOASSERTION
            sep=$',\n'
        done
        printf '\n  ],\n  "relationships": [\n'
        printf '    { "spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "%s" }' "$(spdx_ref tracebridge)"
        for f in "${files[@]}"; do
            printf ',\n    { "spdxElementId": "%s", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-File-%s" }' \
                "$(spdx_ref tracebridge)" "$(tr -c 'A-Za-z0-9.\n-' '-' <<<"$f")"
        done
        for pkg in "${BOM_PKGS[@]}"; do
            [ "$pkg" = tracebridge ] && continue
            printf ',\n    { "spdxElementId": "SPDXRef-File-extensions-tracebridge", "relationshipType": "STATIC_LINK", "relatedSpdxElement": "%s" }' "$(spdx_ref "$pkg")"
        done
        printf '\n  ]\n}\n'
    } >"$out"
}
