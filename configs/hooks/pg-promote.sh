#!/bin/sh
# gslbd failover hook: promote the PostgreSQL standby of the region a
# write name has moved to, so it accepts the writes gslbd now sends there.
#
#   hooks:
#     - name: promote-db
#       on: [write_primary]
#       names: [db.gslb.example.com]
#       command:
#         argv: [/etc/gslbd/pg-promote.sh]
#         env:
#           # one libpq connection string per region: PG_DSN_<REGION>, the
#           # region upper-cased with '-' and '.' as '_'
#           PG_DSN_US_EAST: "host=10.0.0.21 port=5432 user=gslbd_promote dbname=postgres"
#           PG_DSN_EU_WEST: "host=10.0.1.21 port=5432 user=gslbd_promote dbname=postgres"
#       timeout: 90s
#       retries: 5
#
# gslbd runs it with the event in GSLBD_* variables (GSLBD_NAME,
# GSLBD_FROM, GSLBD_TO, GSLBD_TERM, GSLBD_REASON, GSLBD_LAG_SECONDS,
# GSLBD_EVENT_ID, ...) and as JSON on stdin. Delivery is at least once,
# so the script is idempotent: a server that is already primary is left
# alone. The role needs pg_promote() (a superuser, or GRANT EXECUTE ON
# FUNCTION pg_promote TO gslbd_promote). Fencing the old primary (so it
# cannot take writes if it comes back) is up to you: gslbd will not send
# writes to it again before an operator moves the name back.
set -eu

: "${GSLBD_TO:?GSLBD_TO not set: run this from a gslbd write_primary hook}"
var="PG_DSN_$(printf '%s' "$GSLBD_TO" | tr 'a-z.-' 'A-Z__')"
eval "dsn=\${$var:-}"
if [ -z "$dsn" ]; then
	echo "pg-promote: no $var for region $GSLBD_TO" >&2
	exit 2
fi

in_recovery=$(psql "$dsn" -XAtqc "SELECT pg_is_in_recovery()")
if [ "$in_recovery" != "t" ]; then
	echo "pg-promote: $GSLBD_TO is already a primary ($GSLBD_NAME, event $GSLBD_EVENT_ID)"
	exit 0
fi
# wait => true returns once the server accepts writes (or fails).
promoted=$(psql "$dsn" -XAtqc "SELECT pg_promote(wait => true, wait_seconds => 60)")
if [ "$promoted" != "t" ]; then
	echo "pg-promote: pg_promote() on $GSLBD_TO did not finish within 60s" >&2
	exit 1
fi
echo "pg-promote: promoted the standby of $GSLBD_TO for $GSLBD_NAME (from $GSLBD_FROM, event $GSLBD_EVENT_ID)"
