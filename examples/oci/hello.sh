#!/bin/busybox sh
# The example image's own program: greets, shows who it runs as and what the image holds.
set -eu
bb=/bin/busybox
$bb cat /etc/motd
echo "running as $($bb id -un) (uid $($bb id -u)) in $($bb pwd)"
echo "CA certificates shipped by ca-certificates: $($bb ls /usr/share/ca-certificates/mozilla | $bb wc -l)"
