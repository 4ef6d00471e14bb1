/**
 * The test image's programs: the initramfs `/init` (busybox sh, PID 1), the DHCP client's hook
 * and the boot loader's configuration. They run inside the guest, never on the host; nothing of
 * a user's reaches them except through the config drive or the metadata service, read as data.
 *
 * What `/init` does, in order, each step printed on the serial console:
 *  1. mounts /proc, /sys, /dev; loads the virtio, iso9660 and network modules (`/etc/modules`);
 *  2. brings up `eth0` with DHCP (going on after half a second without a lease, DHCP still
 *     asking in the background);
 *  3. reads cloud data from the config drive (an iso9660 disk labelled `config-2` holding
 *     `openstack/latest/meta_data.json`), else, once DHCP gave an address (10 s at most), from
 *     http://169.254.169.254/openstack/latest/;
 *  4. sets the hostname, installs `public_keys` in /root/.ssh/authorized_keys, starts the SSH
 *     server (Dropbear, keys only) on port 22, runs `user_data` when it starts with `#!`, its
 *     output going to the console;
 *  5. prints the marker line (see `READY_MARKER`) and stays up; the ACPI power button (QEMU's
 *     `system_powerdown`) powers it off, so a stop is a clean shutdown rather than a timeout.
 *
 * From step 2 on, an interface plugged in while the guest runs is announced on the console
 * (`tstack-test: nic added eth1 <mac>`), brought up with DHCP, and announced again when it is
 * unplugged (`tstack-test: nic removed eth1`): busybox `uevent` runs `/etc/nic-event` for each
 * kernel event (the kernel has no uevent helper of its own).
 */

/** The start of the line the guest prints when it is up: `tstack-test: ready hostname=… …`. */
export const READY_MARKER = 'tstack-test: ready';

/** Kernel modules, in an order in which each one's dependencies come first. */
export const GUEST_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_legacy_dev',
  'virtio_pci_modern_dev',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
  'virtio_blk',
  'cdrom',
  'isofs',
  // The ACPI power button as an input device, which busybox acpid listens to.
  'evdev',
  'button',
] as const;

export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /sbin /usr/bin /usr/sbin /mnt/config
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
say() { echo "tstack-test: $*"; }
address() {
  a=$(ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')
  echo "\${a:-pending}"
}
say "init"
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
i=0
while [ $i -lt 30 ] && ! ls /dev/vd? >/dev/null 2>&1 && [ ! -e /sys/class/net/eth0 ]; do
  sleep 0.1; i=$((i + 1))
done
sleep 0.1
mkdir -p /var/log
acpid -c /etc/acpi -l /var/log/acpid.log
ip link set lo up
net=none
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  # Asks for a lease in the background for as long as the guest runs, and waits half a second
  # for one here: a DHCP server on the guest's network answers in milliseconds.
  udhcpc -i eth0 -s /etc/udhcpc.script -f -t 3 -T 1 -A 1 >/tmp/udhcpc.log 2>&1 &
  i=0
  while [ $i -lt 10 ] && [ "$(address)" = pending ]; do sleep 0.05; i=$((i + 1)); done
  net=$(address)
fi
say "network eth0 $net"
uevent /etc/nic-event >/dev/null 2>&1 &

source=none
data=/tmp/cloud
mkdir -p $data
for dev in /dev/vd? /dev/sr?; do
  [ -b "$dev" ] || continue
  if mount -t iso9660 -o ro "$dev" /mnt/config 2>/dev/null; then
    if [ -f /mnt/config/openstack/latest/meta_data.json ]; then
      cp /mnt/config/openstack/latest/meta_data.json $data/meta_data.json
      [ -f /mnt/config/openstack/latest/user_data ] && cp /mnt/config/openstack/latest/user_data $data/user_data
      source=config-drive
    fi
    umount /mnt/config
    [ $source = config-drive ] && break
  fi
done
if [ $source = none ] && [ -e /sys/class/net/eth0 ]; then
  # The metadata service is reached through the network: wait a while for a lease first.
  i=0
  while [ $i -lt 50 ] && [ "$(address)" = pending ]; do sleep 0.2; i=$((i + 1)); done
fi
if [ $source = none ] && [ "$(address)" != pending ]; then
  i=0
  while [ $i -lt 10 ]; do
    if wget -q -T 2 -O $data/meta_data.json http://169.254.169.254/openstack/latest/meta_data.json; then
      wget -q -T 2 -O $data/user_data http://169.254.169.254/openstack/latest/user_data || rm -f $data/user_data
      source=metadata
      break
    fi
    rm -f $data/meta_data.json
    sleep 1; i=$((i + 1))
  done
fi
say "cloud data from $source"

name=tstack-test
keys=0
if [ -f $data/meta_data.json ]; then
  meta=$(tr -d '\\n' < $data/meta_data.json)
  found=$(echo "$meta" | sed -n 's/.*"hostname": *"\\([^"]*\\)".*/\\1/p')
  [ -n "$found" ] && name=$found
  mkdir -p /root/.ssh
  chmod 700 /root/.ssh
  echo "$meta" | sed -n 's/.*"public_keys": *{\\([^}]*\\)}.*/\\1/p' \\
    | awk -F'"' '{ for (i = 4; i <= NF; i += 4) print $i }' \\
    | sed 's/\\\\n$//' > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  keys=$(grep -c . /root/.ssh/authorized_keys)
fi
hostname "$name"
say "hostname $name"
say "ssh keys installed: $keys"
mkdir -p /etc/dropbear /dev/pts
mount -t devpts devpts /dev/pts
# Keys only (-s); host keys are made at the first connection (-R).
if dropbear -R -s -p 22 2>/tmp/dropbear.log; then
  say "ssh server listening on port 22"
else
  say "ssh server did not start: $(cat /tmp/dropbear.log)"
fi

if [ -f $data/user_data ] && [ "$(head -c 2 $data/user_data)" = "#!" ]; then
  chmod +x $data/user_data
  say "running user-data"
  $data/user_data
  say "user-data exited $?"
fi

[ $net = none ] || net=$(address)
say "ready hostname=$name keys=$keys source=$source network=$net"
while :; do sleep 3600; done
`;

/** busybox udhcpc calls this with the lease in its environment. */
export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
`;

/** What `uevent` runs for each kernel event, the event in its environment. */
export const NIC_EVENT_SCRIPT = `#!/bin/sh
[ "$SUBSYSTEM" = net ] || exit 0
case "$INTERFACE" in eth*) ;; *) exit 0 ;; esac
pidfile=/run/udhcpc.$INTERFACE.pid
case "$ACTION" in
  add)
    echo "tstack-test: nic added $INTERFACE $(cat /sys/class/net/$INTERFACE/address)" > /dev/console
    ip link set "$INTERFACE" up
    udhcpc -i "$INTERFACE" -s /etc/udhcpc.script -f -t 3 -T 1 -A 1 -p $pidfile >/dev/null 2>&1 &
    ;;
  remove)
    [ -f $pidfile ] && kill "$(cat $pidfile)" 2>/dev/null
    rm -f $pidfile
    echo "tstack-test: nic removed $INTERFACE" > /dev/console
    ;;
esac
exit 0
`;

/** What busybox acpid runs when the power button is pressed (its `PWRF/00000080` event). */
export const POWER_BUTTON_SCRIPT = `#!/bin/sh
echo "tstack-test: power button: powering off" > /dev/console
sync
poweroff -f
`;

export const SYSLINUX_CFG = `DEFAULT linux
TIMEOUT 0
PROMPT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 quiet panic=-1
`;
