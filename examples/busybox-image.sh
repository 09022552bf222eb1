#!/bin/sh
# Builds the image busybox:latest from this machine's static busybox (Debian: busybox-static)
# and imports it on every node of the `shoal up` cluster in ./.shoal (or the cluster dir given),
# for the examples: no registry is needed. The same rootfs the tests use: /bin/busybox with a
# link per applet, /etc/passwd and /etc/group, /tmp.
set -eu
dir=${1:-.shoal}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-image.sh: $busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
ls "$dir"/*/data >/dev/null 2>&1 || { echo "busybox-image.sh: no shoal up cluster in $dir (run npx shoal up first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/root" "$root/var/tmp" "$root/home"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/rootfs.tar" .
here=$(cd "$(dirname "$0")/.." && pwd)
for data in "$dir"/*/data; do
  node "$here/dist/bin/shoal.js" image import busybox:latest "$work/rootfs.tar" --data-dir "$data"
done
