#!/bin/sh
# Slim a Debian root file system in place and check that it still works.
#
#   slim-rootfs.sh ROOT [PACKAGE...]
#
# ROOT is a debootstrap target (or / inside an image build). The PACKAGEs are purged
# without regard to what depends on them: they must be plugins or data that nothing the
# image runs links against (GPU drivers, keyboard maps and fonts pulled in by ffmpeg's
# display and filter libraries). Then apt lists and caches, documentation (copyright
# files stay), man pages, locales and logs go. SLIM_CHECK names programs whose shared
# libraries must all still resolve afterwards; any that does not fails the script.
set -eu

root=$1
shift

in_root() {
    if [ "$root" = / ]; then "$@"; else chroot "$root" "$@"; fi
}

drop=""
for pkg in "$@"; do
    if in_root dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        drop="$drop $pkg"
    fi
done
if [ -n "$drop" ]; then
    # shellcheck disable=SC2086 # one word per package
    in_root dpkg --purge --force-depends $drop >/dev/null 2>&1
fi

cd "$root"
# Settings of the bootstrap (debian-rootfs.sh) and of the host that must not ship.
rm -f ./etc/dpkg/dpkg.cfg.d/00-neural-hive-unsafe-io ./usr/sbin/policy-rc.d
if [ "$root" != / ]; then
    rm -f ./etc/resolv.conf ./etc/hostname
fi
rm -rf ./var/lib/apt/lists/* ./var/cache/apt/* ./var/cache/debconf/*-old \
    ./var/lib/dpkg/*-old ./var/log/* ./debootstrap ./tmp/* ./var/tmp/* \
    ./usr/share/man/* ./usr/share/info/* ./usr/share/lintian ./usr/share/linda
find ./usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find ./usr/share/doc -mindepth 1 -type d -empty -delete
find ./usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# Keep later package installs (a derived image) just as lean.
mkdir -p ./etc/dpkg/dpkg.cfg.d ./etc/apt/apt.conf.d
cat > ./etc/dpkg/dpkg.cfg.d/01-neural-hive-slim <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
CFG
cat > ./etc/apt/apt.conf.d/01-neural-hive-slim <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Binary::apt::APT::Keep-Downloaded-Packages "false";
CFG

status=0
for prog in ${SLIM_CHECK:-}; do
    path=$(in_root sh -c "command -v $prog") || { echo "missing program: $prog" >&2; status=1; continue; }
    if in_root ldd "$path" | grep 'not found' >&2; then
        echo "unresolved libraries in $path" >&2
        status=1
    fi
done
exit $status
