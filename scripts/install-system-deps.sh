#!/usr/bin/env bash
# Install the Debian packages ShellWatch's tests and demo need, only those missing.
# redis-server: the Celery broker the tests start; chromium + chromium-driver: browser tests;
# fonts-wqy-zenhei + libharfbuzz-subset0: Chinese glyphs in charts and PDF digests (and fast
# font subsetting in WeasyPrint); poppler-utils: pdftotext/pdftoppm to read PDFs back in tests;
# docker-compose: validates docker-compose.yml without an engine.
set -euo pipefail

packages=(redis-server chromium chromium-driver fonts-wqy-zenhei libharfbuzz-subset0 poppler-utils docker-compose)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
