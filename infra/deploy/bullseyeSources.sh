# Sourced by bootstrap.sh: the apt source and pin through which PostgreSQL 13 comes from Debian
# bullseye, with bullseye's security updates, on a bookworm machine.
#
# The mirrors are the ones the system already uses for bookworm (deb822 files under
# /etc/apt/sources.list.d, or a one-line /etc/apt/sources.list): never a hard-coded host.
# ensure_bullseye_sources writes the files only when their content differs from what they should
# hold; it returns 0 when it changed something (apt-get update is then due), 1 when all was in
# place; it exits 2 when the system has no bookworm (security) mirror to follow.

PGFLEET_BULLSEYE_SOURCES=${PGFLEET_BULLSEYE_SOURCES:-/etc/apt/sources.list.d/pgfleet-bullseye.sources}
PGFLEET_BULLSEYE_PIN=${PGFLEET_BULLSEYE_PIN:-/etc/apt/preferences.d/pgfleet-bullseye}
PGFLEET_APT_SOURCES_DIR=${PGFLEET_APT_SOURCES_DIR:-/etc/apt/sources.list.d}
PGFLEET_APT_SOURCES_LIST=${PGFLEET_APT_SOURCES_LIST:-/etc/apt/sources.list}

# PostgreSQL 13 and what it needs that bookworm no longer has: the only packages taken from bullseye.
PGFLEET_BULLSEYE_PACKAGES="postgresql-13 postgresql-client-13 libllvm11 libicu67 libssl1.1 libldap-2.4-2 libffi7"

# The first URI of the system's own bookworm source of that kind: `security` (its suite ends in
# -security) or `main` (any other bookworm suite). Our own files are not read.
bookworm_uri() {
  local kind=$1 uri="" f
  for f in "$PGFLEET_APT_SOURCES_DIR"/*.sources; do
    [ -f "$f" ] && [ "$f" != "$PGFLEET_BULLSEYE_SOURCES" ] || continue
    uri=$(awk -v kind="$kind" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uris = a[2] }
          if ($i ~ /^Suites:/) suites = $i
          if ($i ~ /^Enabled:[ \t]*no/) enabled = "no"
        }
        if (enabled == "no" || uris == "" || suites !~ /bookworm/) next
        sec = (suites ~ /bookworm-security/)
        if ((kind == "security" && sec) || (kind == "main" && suites ~ /bookworm([ \t]|$)/)) { print uris; exit }
      }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f "$PGFLEET_APT_SOURCES_LIST" ]; then
    uri=$(awk -v kind="$kind" '
      $1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if (kind == "security" && $(i + 1) == "bookworm-security") { print $i; exit }
        if (kind == "main" && $(i + 1) == "bookworm") { print $i; exit }
      }' "$PGFLEET_APT_SOURCES_LIST")
  fi
  printf %s "$uri"
}

bullseye_sources_content() {
  local main security
  main=$(bookworm_uri main)
  security=$(bookworm_uri security)
  [ -n "$main" ] || { echo "bootstrap: cannot find the Debian bookworm mirror in apt sources" >&2; return 1; }
  [ -n "$security" ] || { echo "bootstrap: cannot find the Debian bookworm security mirror in apt sources" >&2; return 1; }
  cat <<SRC
# Written by pgfleet's bootstrap: PostgreSQL 13 from bullseye, with its security updates.
Types: deb
URIs: $main
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

bullseye_pin_content() {
  cat <<PREF
# Written by pgfleet's bootstrap: from bullseye (and bullseye-security), PostgreSQL 13 and the
# libraries it needs that bookworm lacks; nothing else, and never over a bookworm version.
Package: *
Pin: release n=bullseye
Pin-Priority: -1

Package: *
Pin: release n=bullseye-security
Pin-Priority: -1

Package: $PGFLEET_BULLSEYE_PACKAGES
Pin: release n=bullseye
Pin-Priority: 100

Package: $PGFLEET_BULLSEYE_PACKAGES
Pin: release n=bullseye-security
Pin-Priority: 100
PREF
}

# Write $2 into file $1 (as root) unless it already holds exactly that; 0 when written.
write_if_changed() {
  local file=$1 content=$2
  if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ]; then return 1; fi
  printf '%s\n' "$content" | as_root tee "$file" >/dev/null
}

ensure_bullseye_sources() {
  local sources pin changed=1
  sources=$(bullseye_sources_content) || exit 2
  pin=$(bullseye_pin_content)
  # The pin first: a source must never be active without it.
  write_if_changed "$PGFLEET_BULLSEYE_PIN" "$pin" && changed=0
  write_if_changed "$PGFLEET_BULLSEYE_SOURCES" "$sources" && changed=0
  return $changed
}
