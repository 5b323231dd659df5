#!/bin/sh
# Build Debian root file systems for the base images from a Debian mirror.
#
#   debian-rootfs.sh bare ROOT SUITE MIRROR CACHE
#       debootstrap --variant=minbase into ROOT, keeping downloaded packages in CACHE.
#   debian-rootfs.sh derive BARE ROOT CACHE PACKAGE...
#       copy the bare ROOT BARE to ROOT and install PACKAGEs (no recommends) with apt,
#       from CACHE where it has them.
#
# dpkg runs with --force-unsafe-io (no fsync per file: three times faster here, and a
# half-written root file system is thrown away anyway) and services are never started.
# slim-rootfs.sh undoes both settings.
set -eu

unsafe_io() {
    mkdir -p "$1/etc/dpkg/dpkg.cfg.d" "$1/usr/sbin"
    echo force-unsafe-io > "$1/etc/dpkg/dpkg.cfg.d/00-neural-hive-unsafe-io"
    printf '#!/bin/sh\nexit 101\n' > "$1/usr/sbin/policy-rc.d"
    chmod 0755 "$1/usr/sbin/policy-rc.d"
}

case "${1:-}" in
bare)
    root=$2 suite=$3 mirror=$4 cache=$5
    rm -rf "$root"
    mkdir -p "$cache"
    unsafe_io "$root"
    debootstrap --variant=minbase --cache-dir="$cache" "$suite" "$root" "$mirror"
    ;;
derive)
    bare=$2 root=$3 cache=$4
    shift 4
    rm -rf "$root"
    cp -a "$bare" "$root"
    archives="$root/var/cache/apt/archives"
    mkdir -p "$archives/partial"
    cp -alf "$cache/." "$archives/"
    chroot "$root" env DEBIAN_FRONTEND=noninteractive \
        apt-get install --yes --quiet --no-install-recommends "$@"
    find "$archives" -maxdepth 1 -name '*.deb' -exec cp -alf {} "$cache/" \;
    ;;
*)
    echo "usage: $0 bare ROOT SUITE MIRROR CACHE | derive BARE ROOT CACHE PACKAGE..." >&2
    exit 2
    ;;
esac
