#!/bin/sh
# The counter API: counts a visit in the key-value store, if the caller has the token.
# ?peek=1 reads the count without changing it (the health check).
echo "Content-Type: text/plain"
echo
case "$QUERY_STRING" in
  *peek=1*) timeout 3 wget -qO- "http://kv/cgi-bin/kv?key=visits" || echo "kv unreachable"; exit 0 ;;
esac
if [ "$HTTP_X_TOKEN" != "$(cat /run/secrets/token)" ]; then echo "forbidden"; exit 0; fi
n=$(timeout 3 wget -qO- "http://kv/cgi-bin/kv?incr=visits") || { echo "kv unreachable"; exit 0; }
echo "$n (api $(hostname))"
