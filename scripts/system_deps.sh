#!/usr/bin/env bash
# System packages some tests need, from Debian: headless Chromium (map rendering and the review
# app are tested in a real browser) and PostgreSQL + PostGIS (the PostGIS defect store is tested
# against a real server on loopback), and exiftool (the R-JPEGs we write are checked against the
# reference tool). Installs what is missing when run as root with apt-get; otherwise says what is
# missing, and those tests skip with that reason.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgis)
command -v exiftool >/dev/null 2>&1 || need+=(exiftool)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system_deps: installing ${need[*]} from Debian (once)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      chromium postgresql postgresql-postgis libimage-exiftool-perl >/tmp/system_deps.log 2>&1; then
    exit 0
  fi
  echo "system_deps: apt-get failed (see /tmp/system_deps.log); browser/PostGIS/exiftool tests will skip"
else
  echo "system_deps: missing ${need[*]} (needs root + apt-get); browser/PostGIS/exiftool tests will skip"
fi
exit 0
