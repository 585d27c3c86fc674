#!/bin/sh
# Copies the mounted spoofguard configs into /etc/asterisk, putting the ARI password from the environment
# (ASTERISK_ARI_PASSWORD, the same value as spoofguard's SPOOFGUARD_ARI_PASSWORD) in place of the
# placeholder, so no secret lives in a file of the repository. Then runs Asterisk in the foreground.
set -eu
: "${ASTERISK_ARI_PASSWORD:?set ASTERISK_ARI_PASSWORD (see .env.example)}"
# ARI listens on ASTERISK_HTTP_BIND (the compose network's interface here; loopback in the shipped http.conf)
for file in /spoofguard/asterisk/*.conf; do
  sed -e "s/change-me/${ASTERISK_ARI_PASSWORD}/" -e "s/^bindaddr = 127.0.0.1/bindaddr = ${ASTERISK_HTTP_BIND:-127.0.0.1}/" \
    "$file" > "/etc/asterisk/$(basename "$file")"
done
mkdir -p /var/lib/asterisk/sounds/en /var/lib/asterisk/sounds/de
cp -r /spoofguard/sounds/en/spoofguard /var/lib/asterisk/sounds/en/
cp -r /spoofguard/sounds/de/spoofguard /var/lib/asterisk/sounds/de/
chown -R asterisk:asterisk /var/lib/asterisk/sounds /etc/asterisk
exec asterisk -f -U asterisk -G asterisk
