"""The full benchmark run's sizes, shared by bench/run and bench/tc_study
(both configure build-bench with them): -DVMM_GUEST_ITERS for the compute
programs of tests/guests/progs, chosen so that each native run takes a few
tenths of a second or, for the slowest engines, the whole run stays within
half an hour on a 2-core machine."""
FULL_ITERS = ("regloop=32,hash=120,sieve=10,recursion=5,fntable=8,strings=100,intops=20,floatloop=50,"
              "nbody=30,bigcode=128,smc=2000")
