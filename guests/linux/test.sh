#!/bin/sh
# The integration test's workload (run by /init when the kernel command line
# contains vmm.test=1). Every line between VMM-TEST-BEGIN and VMM-TEST-END is
# compared with guests/linux/test.expected by tests/linux/run_linux_test.sh,
# except the VMM-TIME lines (guest uptime at each step, for timing) and with
# the kernel's version masked in the uname line.

mark() { echo "VMM-TIME $1 $(cut -d' ' -f1 /proc/uptime)"; }

echo VMM-TEST-BEGIN
mark start

# The kernel and machine.
echo "uname: $(uname -a)"
echo "machine: $(uname -m), cpus: $(grep -c '^processor' /proc/cpuinfo)"
mark uname

# Hash of data generated in the guest.
echo "sha256: $(seq 1 200000 | sha256sum)"
mark sha256

# Fork and exec a few hundred processes.
i=0
while [ $i -lt 300 ]; do
  /bin/true || echo "exec $i failed"
  i=$((i + 1))
done
echo "forks ok: $i"
mark forks

# A pipeline of processes each doing a little work.
echo "pipeline: $(seq 1 5000 | sort -rn | head -n 3 | xargs)"
mark pipeline

# gzip of a multi-megabyte file, checked with md5sum after gunzip. The data
# is a 32-bit linear congruential sequence computed by awk in doubles (x87):
# every product stays below 2^53, so each value is exact.
awk 'BEGIN { x = 1; for (i = 0; i < 250000; i++) { x = (x * 69069 + 1) % 4294967296; printf "%.0f\n", x } }' >/tmp/data
echo "data: $(wc -c </tmp/data) bytes, md5 $(md5sum </tmp/data | cut -d' ' -f1)"
gzip -c </tmp/data >/tmp/data.gz
echo "gzip: $(wc -c </tmp/data.gz) bytes"
echo "gunzip: md5 $(gunzip -c /tmp/data.gz | md5sum | cut -d' ' -f1)"
rm -f /tmp/data /tmp/data.gz
mark gzip

# Floating point through awk: doubles (x87 in this busybox build; it has no
# math library functions, so only arithmetic).
echo "float: $(awk 'BEGIN { s = 0; p = 1; for (i = 1; i <= 200000; i++) { s += 1 / i; p = p * 1.0001 }; printf "%.12f %.9e %d\n", s, p, int(1e9 / 7) }')"
mark float

# Shell arithmetic.
i=0
s=0
while [ $i -lt 50000 ]; do
  s=$(( (s * 31 + i) % 1000003 ))
  i=$((i + 1))
done
echo "arith: $s"
mark arith

echo VMM-TEST-END

# The instruction test (guests/linux/insn), after the compared workload:
# tests/linux/run_insn_test.py requires the lines between these markers to
# equal the same binary's output run natively on the host.
if [ -x /bin/insn-test ]; then
  echo VMM-INSN-BEGIN
  /bin/insn-test
  echo "insn-test exit status: $?"
  echo VMM-INSN-END
fi
