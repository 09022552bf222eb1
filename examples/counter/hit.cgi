#!/bin/sh
# The front end: asks the counter API (by its service name, through the VIP) to count this
# visit, with the shared token from the stack's secret.
echo "Content-Type: text/plain"
echo
token=$(cat /run/secrets/token)
n=$(timeout 3 wget -qO- --header "X-Token: $token" http://api/cgi-bin/count) || { echo "the counter API did not answer"; exit 0; }
echo "visits: $n (web $(hostname))"
