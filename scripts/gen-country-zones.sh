#!/usr/bin/env bash
# Regenerates shared/data/country-zones.txt (each country's IANA time zones, for send windows
# in the recipient's time zone) from tzdata's zone.tab, which is in the public domain.
#   scripts/gen-country-zones.sh [/usr/share/zoneinfo/zone.tab]
set -euo pipefail
cd "$(dirname "$0")/.."
zone_tab=${1:-/usr/share/zoneinfo/zone.tab}
awk -F'\t' '!/^#/ { zones[$1] = zones[$1] " " $3 } END { for (c in zones) print c zones[c] }' \
  "$zone_tab" | LC_ALL=C sort > shared/data/country-zones.txt
echo "shared/data/country-zones.txt: $(wc -l < shared/data/country-zones.txt) countries" >&2
