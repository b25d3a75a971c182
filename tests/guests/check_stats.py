#!/usr/bin/env python3
"""check_stats.py - runs a guest under vmm with --stats=json=FILE and checks the JSON.

usage: check_stats.py [--expect-status N] [--positive SECTION.KEY ...] VMM KERNEL [VMM-ARGS...]

The file must be one JSON object in the documented schema (README, "Statistics"):
every section and key present (the jit_* sections exactly when --engine=jit),
counts non-negative integers, rates in [0, 1] or null, and the counters
consistent with each other (hits <= lookups, totals equal the sums of their
parts). Each --positive key must be greater than zero for this guest.
Also checks that a malformed --stats value is a usage error (status 2).
Exits 0 on success, 1 with the reasons on stderr.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# The schema: section -> keys. Tools read these names; renaming one is a
# schema change (bump "version").
SCHEMA = {
    "run": ["engine", "guest_instructions", "seconds", "mips", "translate_seconds", "translate_share",
            "execute_seconds"],
    "block_cache": ["blocks_decoded", "instructions_decoded", "superblock_jccs", "decode_seconds", "jump_cache_lookups",
                    "jump_cache_hits", "jump_cache_misses", "jump_cache_hit_rate", "block_map_lookups",
                    "block_map_hits", "block_map_misses", "block_map_stale", "block_map_hit_rate"],
    "invalidation": ["smc_writes", "smc_blocks", "smc_interpreted_blocks", "invlpg", "cr3_loads", "paging_changes", "full_flushes",
                     "full_flushes_at_limit", "full_flush_blocks"],
    "events": ["exceptions", "interrupts", "unhandled_io_reads", "unhandled_io_writes", "exceptions_by_vector",
               "interrupts_by_vector"],
    "tlb": ["page_walks", "page_faults", "full_flushes", "page_flushes", "mmio_accesses"],
}
JIT_SCHEMA = {
    "jit_translation": ["blocks_translated", "guest_instructions", "native_instructions", "native_share",
                        "helper_sites", "high_byte_fallbacks", "x87_native", "view_accesses", "memory_probes", "live_flag_restores",
                        "indirect_sites", "host_bytes", "host_bytes_per_guest_instruction", "translate_seconds",
                        "code_buffer_bytes", "code_buffer_used", "code_buffer_flushes",
                        "fallback_sites_by_mnemonic"],
    "jit_execution": ["block_entries", "budget_exits", "chains_made", "chains_undone", "indirect_lookups",
                      "indirect_misses", "indirect_hit_rate", "exceptions", "host_traps", "helper_calls",
                      "mem_slow_calls", "mem_slow_refills", "mem_slow_crossing", "mem_slow_special",
                      "mem_slow_faults", "demoted_accesses", "probed_accesses", "fpu_loads", "fpu_spills",
                      "helper_calls_by_mnemonic"],
    "jit_host_mmu": ["host_mmu", "pages_mapped", "pages_ahead", "maps", "faults", "stale_entries",
                     "host_mappings", "host_mappings_peak", "host_mapping_limit", "regions_in_use",
                     "regions_in_use_peak", "region_limit", "region_evictions", "spaces",
                     "space_switches", "space_hits", "space_evictions", "verifications", "tables_changed",
                     "pages_dropped", "regions_dropped", "flushes", "kernel_flushes", "kernel_unmaps", "kernel_pages_kept",
                     "write_protects"],
}
REAL_SUFFIXES = ("_seconds", "seconds", "mips", "_per_guest_instruction")
RATE_SUFFIXES = ("_rate", "_share")

errors = []


def check(cond, what):
    if not cond:
        errors.append(what)


def check_types(section, values):
    for key, v in values.items():
        where = f"{section}.{key}"
        if key == "engine":
            check(v in ("interp", "jit"), f"{where}: {v!r} is not an engine")
        elif key == "host_mmu":
            check(v in ("on", "off"), f"{where}: {v!r} is not on/off")
        elif key.endswith(RATE_SUFFIXES):
            check(v is None or (isinstance(v, (int, float)) and 0 <= v <= 1), f"{where}: {v!r} is not a rate")
        elif key.endswith(REAL_SUFFIXES):
            check(v is None or (isinstance(v, (int, float)) and v >= 0), f"{where}: {v!r} is not a quantity")
        elif isinstance(v, dict):  # A distribution: name -> count, largest first.
            counts = list(v.values())
            check(all(isinstance(n, int) and n > 0 for n in counts), f"{where}: counts must be positive integers")
            check(counts == sorted(counts, reverse=True), f"{where}: not sorted by count")
        else:
            check(isinstance(v, int) and not isinstance(v, bool) and v >= 0, f"{where}: {v!r} is not a count")


def check_consistency(d, jit):
    run, bc, ev = d["run"], d["block_cache"], d["events"]
    check(run["guest_instructions"] > 0, "no guest instructions counted")
    check(bc["jump_cache_hits"] + bc["jump_cache_misses"] == bc["jump_cache_lookups"], "jump cache: hits + misses != lookups")
    check(bc["block_map_hits"] + bc["block_map_misses"] == bc["block_map_lookups"], "block map: hits + misses != lookups")
    # A jump-cache miss probes the block map unless fetching EIP faults.
    check(bc["block_map_lookups"] <= bc["jump_cache_misses"], "more block-map lookups than jump-cache misses")
    check(bc["blocks_decoded"] <= bc["block_map_misses"], "more blocks decoded than block-map misses")
    check(bc["block_map_stale"] <= bc["block_map_misses"], "more stale blocks than block-map misses")
    check(bc["blocks_decoded"] <= bc["instructions_decoded"], "blocks without instructions")
    check(bc["superblock_jccs"] <= bc["instructions_decoded"] - bc["blocks_decoded"], "Jccs inside blocks miscounted")
    check(run["translate_seconds"] <= run["seconds"], "translating took longer than the run")
    check(ev["exceptions"] == sum(ev["exceptions_by_vector"].values()), "exceptions != sum by vector")
    check(ev["interrupts"] == sum(ev["interrupts_by_vector"].values()), "interrupts != sum by vector")
    check(d["invalidation"]["full_flushes_at_limit"] <= d["invalidation"]["full_flushes"], "flushes at limit > flushes")
    if not jit:
        return
    tr, ex = d["jit_translation"], d["jit_execution"]
    check(tr["blocks_translated"] > 0, "no blocks translated")
    check(tr["native_instructions"] + tr["helper_sites"] <= tr["guest_instructions"], "native + helper sites > translated")
    check(tr["code_buffer_used"] <= tr["code_buffer_bytes"], "code buffer over-full")
    check(tr["translate_seconds"] <= run["translate_seconds"], "host-code time > translation time")
    check(ex["block_entries"] <= bc["jump_cache_lookups"], "entries without a block lookup")
    check(ex["budget_exits"] <= ex["block_entries"], "more budget exits than entries")
    check(ex["chains_undone"] <= ex["chains_made"], "more chains undone than made")
    check(ex["indirect_misses"] <= ex["indirect_lookups"], "more indirect misses than lookups")
    check(ex["host_traps"] <= ex["exceptions"], "host traps not counted as exceptions")
    check(ex["exceptions"] <= ev["exceptions"], "more exceptions in translated code than delivered")
    check(ex["helper_calls"] == sum(ex["helper_calls_by_mnemonic"].values()), "helper calls != sum by mnemonic")
    check(tr["helper_sites"] == sum(tr["fallback_sites_by_mnemonic"].values()), "helper sites != sum by mnemonic")
    check(ex["mem_slow_calls"] == ex["mem_slow_refills"] + ex["mem_slow_crossing"] + ex["mem_slow_special"]
          + ex["mem_slow_faults"], "memory slow path: calls != sum of outcomes")
    hm = d["jit_host_mmu"]
    # Every host fault in a view is a slow-path call; the slow path also serves REP probes.
    check(hm["faults"] <= ex["mem_slow_calls"], "more view faults than memory slow-path calls")
    check(hm["pages_ahead"] <= hm["pages_mapped"], "more pages mapped ahead than mapped")
    check(hm["maps"] <= hm["pages_mapped"], "more mmap calls than pages mapped")
    check(hm["host_mappings"] <= hm["host_mappings_peak"], "host mappings above their peak")
    check(hm["regions_in_use"] <= hm["regions_in_use_peak"] <= hm["region_limit"], "regions in use above their limit")
    check(hm["space_hits"] <= hm["space_switches"], "more address-space hits than switches")
    check(hm["spaces"] <= 64, "more address spaces than kept")
    if hm["host_mmu"] == "off":
        check(hm["pages_mapped"] == 0 and hm["faults"] == 0 and tr["view_accesses"] == 0,
              "guest views used with the host-MMU path off")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expect-status", type=int)
    ap.add_argument("--positive", action="append", default=[])
    ap.add_argument("vmm")
    ap.add_argument("kernel")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    jit = "--engine=jit" in a.args

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "stats.json")
        cmd = [a.vmm, "-kernel", a.kernel, "-serial", "none", *a.args, f"--stats=json={path}"]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if a.expect_status is not None and r.returncode != a.expect_status:
            errors.append(f"exit status {r.returncode}, expected {a.expect_status}: {r.stderr.strip()}")
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            print(f"check_stats: {' '.join(cmd)}: no valid JSON: {e}", file=sys.stderr)
            return 1

    check(d.get("format") == "vmm-stats" and d.get("version") == 1, "format/version missing")
    schema = dict(SCHEMA, **(JIT_SCHEMA if jit else {}))
    check(set(d) == {"format", "version", *schema}, f"sections {sorted(d)} != {sorted(schema)}")
    for section, keys in schema.items():
        values = d.get(section, {})
        check(list(values) == keys, f"{section}: keys {list(values)} != {keys}")
    if not errors:
        for section in schema:
            check_types(section, d[section])
        check(d["run"]["engine"] == ("jit" if jit else "interp"), "wrong engine")
    if not errors:
        check_consistency(d, jit)
        for name in a.positive:
            section, key = name.split(".")
            check(d[section][key] > 0, f"{name} is {d[section][key]}, expected > 0")

    # Malformed values are usage errors, before anything runs.
    for bad in ("--stats=xml", "--stats=json="):
        r = subprocess.run([a.vmm, "-kernel", a.kernel, bad], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        check(r.returncode == 2 and r.stderr.count("\n") == 1, f"{bad}: status {r.returncode}, stderr {r.stderr!r}")

    for e in errors:
        print(f"check_stats: {e}", file=sys.stderr)
    if errors:
        print(json.dumps(d, indent=2), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
