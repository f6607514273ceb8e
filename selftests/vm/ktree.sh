#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel tree plumbing for kernel/kernel.mk.  Run from the repository root.
#
#   ktree.sh prepare SRC ORIG
#	Lay kernel/ (minus kernel/kernel.mk) over the source tree SRC and apply
#	patches/series with --fuzz=0, starting every touched file from the
#	pristine tree ORIG.  Only files whose content changed are rewritten, so
#	kbuild rebuilds incrementally; files no longer overlaid or patched are
#	restored from ORIG (or removed when ORIG lacks them).
#   ktree.sh config SRC BUILD FRAGMENT...
#	Configure BUILD (an O= build dir of SRC) from tinyconfig plus the
#	fragments; redone only when a fragment or an overlaid/patched Kconfig
#	changed.  Prints every requested option that did not stick.
#   ktree.sh export ORIG OUTDIR
#	Write the whole change as one git-format patch series into OUTDIR and
#	check that it applies, in order, to the pristine tree.
set -euo pipefail

die() { echo "ktree: $*" >&2; exit 1; }

[ -d kernel ] || die "run from the repository root"

# Overlay files, relative to the kernel tree, one a line.
overlay_files() {
	(cd kernel && find . -type f ! -path ./kernel.mk ! -name '*~' \
		! -name '.*.swp' -printf '%P\n') | LC_ALL=C sort
}

# Patches of patches/series in order (quilt format: name [-pN]; # comments).
series_patches() {
	[ -f patches/series ] || return 0
	sed -e 's/#.*//' patches/series | awk 'NF { print $1 }' | while read -r p; do
		[ -f "patches/$p" ] || die "patches/series names missing patch $p"
		echo "patches/$p"
	done
}

# Files a -p1 patch touches (old and new names).
patch_files() {
	awk '/^(\+\+\+|---) / && $2 != "/dev/null" {
		f = $2; sub(/^[^\/]*\//, "", f); print f }' "$@" | LC_ALL=C sort -u
}

# Apply the overlay and the series onto a copy of the touched files in $1.
build_stage() {
	local stage=$1 orig=$2 p f
	rm -rf "$stage"
	mkdir -p "$stage"
	mapfile -t PATCHES < <(series_patches)
	if [ ${#PATCHES[@]} -gt 0 ]; then
		patch_files "${PATCHES[@]}" >"$stage.patched"
	else
		: >"$stage.patched"
	fi
	while read -r f; do
		[ -f "$orig/$f" ] || continue
		mkdir -p "$stage/$(dirname "$f")"
		cp "$orig/$f" "$stage/$f"
	done <"$stage.patched"
	overlay_files >"$stage.overlay"
	while read -r f; do
		mkdir -p "$stage/$(dirname "$f")"
		cp "kernel/$f" "$stage/$f"
	done <"$stage.overlay"
	for p in "${PATCHES[@]+"${PATCHES[@]}"}"; do
		echo "  PATCH   $p"
		if ! patch -p1 --fuzz=0 --no-backup-if-mismatch --forward --batch \
			-r - -s -d "$stage" -i "$PWD/$p" </dev/null; then
			die "$p does not apply cleanly (fuzz or reject) on top of" \
				"kernel/ and the patches before it"
		fi
	done
	LC_ALL=C sort -u "$stage.patched" "$stage.overlay" >"$stage.manifest"
}

# Make $dst/$f hold $src's content; rewrite only on change, break hardlinks.
sync_file() {
	local src=$1 dst=$2
	if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
		return 0
	fi
	mkdir -p "$(dirname "$dst")"
	cp "$src" "$dst.tcpcp-new"
	mv -f "$dst.tcpcp-new" "$dst"
	echo "  UPDATE  ${dst#"$SRC"/}"
}

cmd_prepare() {
	SRC=$1
	local orig=$2 stage=$1.stage f
	[ -d "$orig" ] && [ -d "$SRC" ] || die "prepare: missing $SRC or $orig"
	build_stage "$stage" "$orig"
	while read -r f; do
		if [ -f "$stage/$f" ]; then
			sync_file "$stage/$f" "$SRC/$f"
		elif [ -e "$SRC/$f" ]; then	# deleted by a patch
			rm -f "$SRC/$f"
			echo "  DELETE  $f"
		fi
	done <"$stage.manifest"
	# files we placed last time but no longer do: back to pristine
	if [ -f "$SRC/.tcpcp-manifest" ]; then
		LC_ALL=C comm -23 "$SRC/.tcpcp-manifest" "$stage.manifest" |
		while read -r f; do
			if [ -f "$orig/$f" ]; then
				sync_file "$orig/$f" "$SRC/$f"
			elif [ -e "$SRC/$f" ]; then
				rm -f "$SRC/$f"
				echo "  DELETE  $f"
			fi
		done
	fi
	cp "$stage.manifest" "$SRC/.tcpcp-manifest"
	rm -rf "$stage" "$stage".*
}

cmd_config() {
	local src=$1 build=$2 f hash want got name val bad=0
	shift 2
	[ -f "$src/Makefile" ] || die "config: no kernel tree at $src"
	hash=$( {
		cat "$@"
		{ grep -E '(^|/)Kconfig[^/]*$' "$src/.tcpcp-manifest" 2>/dev/null || true; } |
		while read -r f; do cat "$src/$f"; done
	} | sha256sum | cut -d' ' -f1)
	if [ -f "$build/.config" ] && [ -f "$build/.tcpcp-config-hash" ] &&
	   [ "$(cat "$build/.tcpcp-config-hash")" = "$hash" ]; then
		return 0
	fi
	mkdir -p "$build"
	echo "  CONFIG  $build/.config from tinyconfig + $*"
	local abuild asrc frags=()
	abuild=$(realpath "$build")
	asrc=$(realpath "$src")
	for f in "$@"; do frags+=("$(realpath "$f")"); done
	make -s -C "$asrc" O="$abuild" tinyconfig >/dev/null
	(cd "$abuild" && "$asrc/scripts/kconfig/merge_config.sh" \
		-m -O . .config "${frags[@]}" >/dev/null)
	make -s -C "$asrc" O="$abuild" olddefconfig >/dev/null
	# report every requested option that did not stick
	for f in "$@"; do
		grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' "$f"
	done | while read -r want; do
		case $want in
		"# "*) name=${want#\# }; name=${name%% *}; val=n ;;
		*) name=${want%%=*}; val=${want#*=} ;;
		esac
		got=$(grep -E "^$name=" "$build/.config" | cut -d= -f2- || true)
		[ -n "$got" ] || got=n
		if [ "$got" != "$val" ]; then
			echo "  WARNING $name=$val requested, got $got" \
				"(missing dependency or symbol not defined yet)"
		fi
	done
	echo "$hash" >"$build/.tcpcp-config-hash"
}

# Subject and body of a series patch: its "Subject:" header or its first
# description line; the rest of the description is the body.
patch_message() {
	awk '
		/^(diff |Index: |--- |\+\+\+ )/ || /^---$/ { exit }
		/^From [0-9a-f]+ / || /^(From|Date|Message-Id|Message-ID): / { next }
		/^Subject: / { sub(/^Subject: (\[[^]]*\] *)?/, ""); subj = $0; next }
		/^Signed-off-by: / { next }
		{ lines[n++] = $0 }
		END {
			i = 0
			if (subj == "") {
				while (i < n && lines[i] ~ /^[ \t]*$/) i++
				subj = lines[i++]
			}
			print subj
			print ""
			while (i < n && lines[i] ~ /^[ \t]*$/) i++
			last = n - 1
			while (last >= i && lines[last] ~ /^[ \t]*$/) last--
			for (; i <= last; i++) print lines[i]
		}' "$1"
}

cmd_export() {
	local orig=$1 out work msg p f n=0 author email
	out=$(realpath -m "$2")
	[ -d "$orig" ] || die "export: no pristine tree $orig"
	work=$(realpath -m "$out.git")
	rm -rf "$work" "$out"
	mkdir -p "$work" "$out"
	mapfile -t PATCHES < <(series_patches)
	{ overlay_files
	  [ -f patches/MAINTAINERS.patch ] && echo MAINTAINERS
	  [ ${#PATCHES[@]} -eq 0 ] || patch_files "${PATCHES[@]}"; } |
		LC_ALL=C sort -u >"$work.files"
	while read -r f; do
		[ -f "$orig/$f" ] || continue
		mkdir -p "$work/$(dirname "$f")"
		cp "$orig/$f" "$work/$f"
	done <"$work.files"

	author=$(git config user.name 2>/dev/null || echo "tcpcp developers")
	email=$(git config user.email 2>/dev/null || echo "tcpcp@localhost")
	export GIT_AUTHOR_NAME=$author GIT_AUTHOR_EMAIL=$email
	export GIT_COMMITTER_NAME=$author GIT_COMMITTER_EMAIL=$email
	export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z"
	export GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
	local g=(git -C "$work" -c core.autocrlf=false -c commit.gpgsign=false)
	"${g[@]}" init -q
	"${g[@]}" add -A
	"${g[@]}" commit -q --allow-empty -m "base: $KERNEL_PKG (pristine)"

	# 1: the new files under kernel/
	while read -r f; do
		mkdir -p "$work/$(dirname "$f")"
		cp "kernel/$f" "$work/$f"
	done < <(overlay_files)
	# the new files' MAINTAINERS entry goes with them (not needed to build)
	if [ -f patches/MAINTAINERS.patch ]; then
		patch -p1 --fuzz=0 --no-backup-if-mismatch --batch -s -d "$work" \
			-i "$PWD/patches/MAINTAINERS.patch" </dev/null ||
			die "patches/MAINTAINERS.patch does not apply"
	fi
	"${g[@]}" add -A
	if ! "${g[@]}" diff --cached --quiet; then
		msg=patches/new-files.msg
		if [ -f "$msg" ]; then
			"${g[@]}" commit -q -s -F "$PWD/$msg"
		else
			"${g[@]}" commit -q -s -m "net: tcp: add tcpcp connection passing" \
				-m "New files of tcpcp: the uapi contract and the implementation."
		fi
		n=$((n + 1))
	fi
	# 2..: one commit per patch of the series
	for p in "${PATCHES[@]+"${PATCHES[@]}"}"; do
		patch -p1 --fuzz=0 --no-backup-if-mismatch --forward --batch -r - -s \
			-d "$work" -i "$PWD/$p" </dev/null || die "$p does not apply"
		"${g[@]}" add -A
		patch_message "$p" >"$work.msg"
		[ -n "$(head -n 1 "$work.msg")" ] ||
			echo "tcpcp: $(basename "$p" .patch)" >"$work.msg"
		"${g[@]}" commit -q -s -F "$work.msg"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || die "export: nothing to export (kernel/ and patches/ empty)"
	"${g[@]}" format-patch -q --no-signature -o "$(realpath "$out")" "HEAD~$n"
	rm -rf "$work" "$work.files" "$work.msg"

	# check that the series applies in order to a pristine copy
	local chk
	chk=$(mktemp -d)
	while read -r f; do
		[ -f "$orig/$f" ] || continue
		mkdir -p "$chk/$(dirname "$f")"
		cp "$orig/$f" "$chk/$f"
	done < <(cd "$out" && cat ./*.patch | patch_files /dev/stdin)
	for p in "$out"/*.patch; do
		if ! (cd "$chk" && git apply --check "$p" && git apply "$p"); then
			rm -rf "$chk"
			die "exported $(basename "$p") does not apply to pristine $KERNEL_PKG"
		fi
	done
	rm -rf "$chk"
	echo "export: $n patch(es) in $out, applied in order to pristine $KERNEL_PKG"
	ls "$out"
}

KERNEL_PKG=${KERNEL_PKG:-linux-source-6.12}
cmd=${1:-}
shift || true
case $cmd in
prepare) [ $# -eq 2 ] || die "usage: prepare SRC ORIG"; cmd_prepare "$@" ;;
config)	[ $# -ge 3 ] || die "usage: config SRC BUILD FRAGMENT..."; cmd_config "$@" ;;
export)	[ $# -eq 2 ] || die "usage: export ORIG OUTDIR"; cmd_export "$@" ;;
*)	die "usage: ktree.sh prepare|config|export ..." ;;
esac
