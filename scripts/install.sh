#!/usr/bin/env bash
# Installs Postern under PREFIX: the binary, one symlink per Postfix command name,
# and the manual pages.
#
#   scripts/install.sh PREFIX            (e.g. /usr/local, or $HOME/postern)
#   BINARY=path/to/postern scripts/install.sh PREFIX   (skip the cargo build)
#
# Layout as Postfix's: daemon-side commands in PREFIX/sbin, mailq and newaliases
# in PREFIX/bin, sendmail in PREFIX/sbin, pages in PREFIX/share/man.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 64
fi
prefix=$1
top="$(cd "$(dirname "$0")/.." && pwd)"

binary=${BINARY:-}
if [ -z "$binary" ]; then
    (cd "$top" && cargo build --release)
    binary="$top/target/release/postern"
fi
[ -x "$binary" ] || { echo "$0: no binary at $binary" >&2; exit 1; }

install -d "$prefix/sbin" "$prefix/bin"
install -m 0755 "$binary" "$prefix/sbin/postern"

for name in postfix postconf postmap postalias postqueue postsuper postcat sendmail posttls-finger; do
    ln -sfn postern "$prefix/sbin/$name"
done
for name in mailq newaliases; do
    ln -sfn ../sbin/postern "$prefix/bin/$name"
done

for section in 1 5 8; do
    if compgen -G "$top/man/man$section/*.$section" >/dev/null; then
        install -d "$prefix/share/man/man$section"
        install -m 0644 "$top"/man/man$section/*.$section "$prefix/share/man/man$section/"
    fi
done

echo "installed postern in $prefix/sbin with links for the Postfix command names"
