#!/bin/sh
# The key-value store: ?key=K reads K, ?incr=K adds one to K (under a lock, so concurrent
# visits each count), keys are letters, digits and _. Values live in /data (a volume).
# The lock is a directory (mkdir is atomic): busybox has no flock applet.
echo "Content-Type: text/plain"
echo
q="$QUERY_STRING"
key=$(echo "$q" | sed -n 's/^.*key=\([A-Za-z0-9_]*\).*$/\1/p')
incr=$(echo "$q" | sed -n 's/^.*incr=\([A-Za-z0-9_]*\).*$/\1/p')
if [ -n "$incr" ]; then
  tries=0
  until mkdir /data/.lock 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -gt 200 ] && { echo "busy"; exit 0; }
    usleep 10000
  done
  trap 'rmdir /data/.lock' EXIT
  n=$(cat "/data/$incr" 2>/dev/null || echo 0)
  n=$((n + 1))
  echo "$n" > "/data/$incr"
  echo "$n"
elif [ -n "$key" ]; then
  cat "/data/$key" 2>/dev/null || echo 0
else
  echo "ask ?key=K or ?incr=K"
fi
