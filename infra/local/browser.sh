#!/usr/bin/env bash
# Makes sure the headless browser of the chat-page test is installed: Debian's `chromium`,
# its matching `chromium-driver` (WebDriver), `fonts-noto-cjk` (Korean glyphs) and
# `fonts-noto-color-emoji` (emoji in answers).
# Installs only what is missing (apt-get, as root or through sudo). Idempotent; quick when
# everything is present. Prints the paths of the browser and the driver on success.
set -euo pipefail

log() { printf '[browser] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
for fonts in fonts-noto-cjk fonts-noto-color-emoji; do
  dpkg-query -W -f='${Status}' "$fonts" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$fonts")
done

if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt-get)"
  # A fresh machine has no package lists; an old list may name versions no longer served.
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

log "$(/usr/bin/chromium --version 2>/dev/null)"
log "$(/usr/bin/chromedriver --version)"
echo "/usr/bin/chromium"
echo "/usr/bin/chromedriver"
