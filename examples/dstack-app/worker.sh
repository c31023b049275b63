#!/bin/busybox sh
# The example worker: greets with $GREETING (an allowed env of the app) once a minute.
set -eu
bb=/bin/busybox
while :; do
  echo "${GREETING:-hello} from the worker, $($bb date -u +%Y-%m-%dT%H:%M:%SZ)"
  $bb sleep 60
done
