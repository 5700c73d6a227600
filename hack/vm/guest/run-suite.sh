#!/bin/sh
# run-suite.sh runs one boot's part of the VM suite and writes its raw test
# output to the results disk (/dev/vdb), then reboots (after boot 1) or
# powers off (after boot 2). The host turns the output into test results.
set -u
dir=/usr/local/lib/berth-vm
state=/var/lib/berth-vm
mkdir -p "$state" /results
mount /dev/vdb /results
mkdir -p /results/out
out=/results/out
boot=$(( $(cat "$state/boot" 2>/dev/null || echo 0) + 1 ))
echo "$boot" > "$state/boot"
sync
systemctl is-system-running --wait >/dev/null
systemd-analyze time > "$out/boot$boot.time" 2>&1
cd /root/berth
echo "berth VM suite: boot $boot"
# tee: the console (the host's console.log) shows progress while it runs.
"$dir/guest.test" -test.v=test2json -test.run "^TestBoot$boot\$" -test.timeout 20m 2>&1 | tee "$out/boot$boot.out"
journalctl -b --no-pager -o short-monotonic > "$out/boot$boot.journal" 2>&1
sync
umount /results
if [ "$boot" -lt 2 ]; then
	systemctl reboot
else
	systemctl poweroff
fi
