#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpora in tests/fuzz/corpus/<name>/.

The seeds are small synthetic inputs in each harness's input layout (see the
comment at the top of tests/fuzz/fuzz_<name>.cpp): valid multiboot kernels
(ELF and a.out kludge), bzImage headers (as tests/cli/bad_linux_kernel.sh
builds them; no real Linux kernel), device programs that initialise each
device the way a guest does, typical command lines and stats reports.

usage: make_seeds.py [CORPUS_DIR]   (default: corpus/ beside this script)
Rerunning it rewrites the same files; files it does not make are kept.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


# ---- loader_multiboot: [config][cmdline length][cmdline][flat load][flat entry][image] ----
# (config bit 3: flat addresses relative; the harness tries every RAM size)

MB_MAGIC = 0x1BADB002


def mb_header(flags, fields=b""):
    return u32(MB_MAGIC) + u32(flags) + u32(-(MB_MAGIC + flags)) + fields


def elf_kernel(segments, entry, mb_flags=0x3, phentsize=32):
    """ELF32 i386 ET_EXEC: header, program headers, multiboot header at 0x80,
    then each segment's bytes. segments: (paddr, bytes, memsz)."""
    phoff = 52
    data_off = 0x100
    phdrs = b""
    blobs = b""
    for paddr, blob, memsz in segments:
        off = data_off + len(blobs)
        phdrs += struct.pack("<IIIIIIII", 1, off, paddr, paddr, len(blob), memsz, 7, 0x1000)
        phdrs += b"\0" * (phentsize - 32)
        blobs += blob
    ident = b"\x7fELF" + bytes([1, 1, 1]) + b"\0" * 9
    ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, phoff, 0, 0, 52, phentsize, len(segments), 40, 0, 0)
    img = bytearray(ehdr + phdrs)
    img += b"\0" * (0x80 - len(img))
    img += mb_header(mb_flags)
    img += b"\0" * (data_off - len(img))
    return bytes(img + blobs)


def aout_kernel(load_addr, code, bss=0x1000):
    """a.out kludge: the multiboot header first, loaded at load_addr."""
    hdr_len = 32
    fields = u32(load_addr) + u32(load_addr) + u32(load_addr + hdr_len + len(code)) + \
        u32(load_addr + hdr_len + len(code) + bss) + u32(load_addr + hdr_len)
    return mb_header(0x10000, fields) + code


def multiboot_input(image, ram=5, cmdline=b"kernel.elf console=ttyS0", flat_load=0x100000, flat_entry=0x100000):
    # `ram` is the config byte; bits 0-2 are unused (were the RAM size).
    return u8(ram) + u8(len(cmdline)) + cmdline + u32(flat_load) + u32(flat_entry) + image


HLT_LOOP = b"\xfa\xf4\xeb\xfd"  # cli; hlt; jmp back


def seeds_loader_multiboot():
    return {
        "elf_one_segment": multiboot_input(elf_kernel([(0x100000, HLT_LOOP * 4, 0x2000)], 0x100000)),
        "elf_two_segments_low_and_high": multiboot_input(
            elf_kernel([(0x10000, HLT_LOOP, 0x100), (0x200000, b"\x90" * 32, 0x1000)], 0x10000), ram=6),
        "elf_higher_half": multiboot_input(
            elf_kernel([(0x100000, HLT_LOOP, 0x1000)], 0xC0100000), ram=5),
        "elf_video_flag_small_ram": multiboot_input(
            elf_kernel([(0x1000, HLT_LOOP, 0x1000)], 0x1000, mb_flags=0x7), ram=1, cmdline=b""),
        "aout_kludge": multiboot_input(aout_kernel(0x100000, HLT_LOOP * 8), ram=4),
        "aout_kludge_low": multiboot_input(aout_kernel(0x8000, HLT_LOOP), ram=2 | 8, flat_load=0x1234,
                                           flat_entry=2),
        "flat_only": multiboot_input(HLT_LOOP * 16, ram=3 | 8, flat_load=0x7c00, flat_entry=0),
    }


# ---- loader_linux: [config][cmdline length u16][initrd length u32][cmdline][initrd][kernel] ----
# (config bit 3: pass the initrd; the harness tries every RAM size)

def bzimage(version=0x020F, setup_sects=4, kernel_len=0x200, loadflags=1, code32=0x100000,
            initrd_addr_max=0x7FFFFFFF, cmdline_size=2047, relocatable=1, alignment=0x200000,
            pref_address=0x1000000, init_size=0x200000, jump=0x6A):
    kernel = b"\xf4" * kernel_len  # hlt
    img = bytearray((setup_sects + 1) * 512)
    struct.pack_into("<BHI", img, 0x1F1, setup_sects, 1, (kernel_len + 15) // 16)
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x206] = bytes([0xEB, jump]) + b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    struct.pack_into("<B", img, 0x211, loadflags)
    struct.pack_into("<I", img, 0x214, code32)
    struct.pack_into("<IIB", img, 0x22C, initrd_addr_max, alignment, relocatable)
    struct.pack_into("<I", img, 0x238, cmdline_size)
    struct.pack_into("<QI", img, 0x258, pref_address, init_size)
    return bytes(img) + kernel


def linux_input(kernel, ram=6, cmdline=b"console=ttyS0 earlyprintk=serial", initrd=None):
    config = ram | (8 if initrd is not None else 0)
    initrd = initrd or b""
    return u8(config) + u16(len(cmdline)) + u32(len(initrd)) + cmdline + initrd + kernel


def seeds_loader_linux():
    return {
        "bzimage_2_15": linux_input(bzimage()),
        "bzimage_2_15_initrd": linux_input(bzimage(), initrd=b"070701" + b"\0" * 250),
        "bzimage_2_04_small_ram": linux_input(
            bzimage(version=0x0204, jump=0x30, init_size=0, pref_address=0), ram=2, cmdline=b"root=/dev/ram0"),
        "bzimage_2_10_not_relocatable": linux_input(
            bzimage(version=0x020A, relocatable=0, pref_address=0x100000, init_size=0x10000), ram=5),
        "bzimage_initrd_addr_max_low": linux_input(
            bzimage(initrd_addr_max=0x12FFFFF, init_size=0x1000), ram=6, initrd=b"\x1f\x8b" + b"x" * 100),
        "bzimage_long_cmdline_small_limit": linux_input(bzimage(cmdline_size=16), cmdline=b"console=ttyS0,115200"),
        "boot_sector_only": linux_input(b"\0" * 0x1FE + b"\x55\xaa"),
    }


# ---- devices: [target][setup][op...] ----
# ops: kind | arg << 3. 0/1 read [range][offset]; 2/3 write [range][offset][value];
# 4/5 mmio; 6 time [u16] << arg; 7 event.

SIZE = {1: 0, 2: 1, 4: 2}


def rd(rng, off, size=1):
    return u8(0 | SIZE[size] << 3) + u8(rng) + u8(off)


def wr(rng, off, value, size=1):
    return u8(2 | SIZE[size] << 3) + u8(rng) + u8(off) + value.to_bytes(size, "little")


def mrd(rng, off, size=1):
    return u8(4 | SIZE[size] << 3) + u8(rng) + u8(off)


def mwr(rng, off, value, size=1):
    return u8(5 | SIZE[size] << 3) + u8(rng) + u8(off) + value.to_bytes(size, "little")


def tick(amount, shift=0):
    return u8(6 | shift << 3) + u16(amount)


def event(*bs):
    return u8(7) + bytes(bs)


def program(target, setup, *ops):
    return u8(target) + u8(setup) + b"".join(ops)


# The board's port ranges, in the order of BoardTarget's list.
BOARD = {0x20: 0, 0x40: 1, 0x60: 2, 0x61: 3, 0x64: 4, 0x70: 5, 0x80: 6, 0x92: 7, 0xA0: 8, 0xF0: 9,
         0xF4: 10, 0x3F8: 11, 0x4D0: 12, 0x600: 13, 0xCF8: 14}


def seeds_devices():
    pic_init = [wr(0, 0, 0x11), wr(0, 1, 0x20), wr(0, 1, 0x04), wr(0, 1, 0x01),
                wr(1, 0, 0x11), wr(1, 1, 0x28), wr(1, 1, 0x02), wr(1, 1, 0x01)]
    return {
        "pic_init_irq_ack_eoi": program(0, 0, *pic_init, wr(0, 1, 0xFA), event(0x20 | 0), event(0x80),
                                        wr(0, 0, 0x20), wr(0, 0, 0x0B), rd(0, 0), event(0x20 | 9), event(0x80),
                                        wr(2, 1, 0x0E), rd(2, 0, 2)),
        "pit_mode2_and_readback": program(1, 0, wr(0, 3, 0x34), wr(0, 0, 0x9C), wr(0, 0, 0x2E),
                                          tick(0xFFFF, 8), wr(0, 3, 0x00), rd(0, 0), rd(0, 0),
                                          wr(0, 3, 0xE2), rd(0, 0), event(0x06), wr(0, 3, 0xB6),
                                          wr(0, 2, 0x34, 2), tick(1000, 10), rd(0, 2, 4)),
        "uart_init_tx_loopback": program(2, 0, wr(0, 3, 0x80), wr(0, 0, 0x01), wr(0, 1, 0x00), wr(0, 3, 0x03),
                                         wr(0, 2, 0xC7), wr(0, 1, 0x0F), wr(0, 4, 0x1B), wr(0, 0, 0x41),
                                         rd(0, 2), rd(0, 5), rd(0, 0), wr(0, 4, 0x0B), event(0, 0x42),
                                         event(0, 0x43), rd(0, 6), rd(0, 0, 4)),
        "rtc_read_time_set_periodic": program(3, 32, wr(0, 0, 0x0A), rd(0, 1), wr(0, 0, 0x00), rd(0, 1),
                                              wr(0, 0, 0x0B), wr(0, 1, 0x82), wr(0, 0, 0x09), wr(0, 1, 0x99),
                                              wr(0, 0, 0x0B), wr(0, 1, 0x52), tick(0xFFFF, 20),
                                              wr(0, 0, 0x0C), rd(0, 1), wr(0, 0, 0x8F), rd(0, 1, 2)),
        "i8042_self_test_a20": program(4, 0, wr(1, 0, 0xAA), rd(1, 0), rd(0, 0), wr(1, 0, 0x20), rd(0, 0),
                                       wr(1, 0, 0x60), wr(0, 0, 0x47), wr(1, 0, 0xD1), wr(0, 0, 0xDF),
                                       wr(0, 0, 0xFF), rd(1, 0), rd(0, 0), wr(1, 0, 0xD4), wr(0, 0, 0xF4),
                                       rd(0, 0)),
        "acpi_timer_sci_poweroff": program(5, 0, rd(0, 8, 4), wr(0, 2, 0x0001, 2), tick(0xFFFF, 30),
                                           rd(0, 0, 2), wr(0, 0, 0x0001, 2), rd(0, 8, 4), wr(0, 4, 0x3400, 2)),
        "pci_probe_reset": program(6, 0, wr(0, 0, 0x80000000, 4), rd(0, 0, 4), rd(0, 4, 4), rd(0, 6, 2),
                                   wr(0, 1, 0x02), wr(0, 1, 0x06), rd(0, 1)),
        "system_ports": program(7, 0, rd(0, 0), wr(0, 0, 0x03), event(1), rd(0, 0), wr(1, 0, 0x55), rd(1, 0, 2),
                                rd(2, 0), wr(2, 0, 0x02), wr(3, 0, 0x00), wr(4, 0, 0x11, 4), mrd(0, 0), mwr(1, 0, 7)),
        "board_pit_irq0": program(8, 0x0A, wr(BOARD[0x20], 1, 0xFE), wr(BOARD[0x40], 3, 0x34),
                                  wr(BOARD[0x40], 0, 0x10), wr(BOARD[0x40], 0, 0x00), tick(2000), rd(BOARD[0x20], 0),
                                  wr(BOARD[0x20], 0, 0x20), tick(2000), rd(BOARD[0x3F8], 5),
                                  wr(BOARD[0x3F8], 0, 0x41), wr(BOARD[0x64], 0, 0xAA), rd(BOARD[0x60], 0)),
        "board_exception_storm": program(8, 0x6A, wr(BOARD[0x20], 1, 0xFE), wr(BOARD[0x40], 3, 0x34),
                                         wr(BOARD[0x40], 0, 0x10), wr(BOARD[0x40], 0, 0x00), tick(100), tick(100),
                                         rd(BOARD[0x20], 0)),
        "board_uart_rtc_reset": program(8, 0x04, wr(BOARD[0x3F8], 1, 0x02), wr(BOARD[0x20], 1, 0xEB),
                                        wr(BOARD[0xA0], 1, 0xFE), wr(BOARD[0x70], 0, 0x0B),
                                        wr(BOARD[0x70], 1, 0x42), tick(5000), wr(BOARD[0x92], 0, 0x01),
                                        tick(100), rd(BOARD[0x600], 8, 4), wr(BOARD[0xF4], 0, 0x10)),
    }


# ---- cli: arguments separated by NUL ----

def argv(*args):
    return b"\0".join(a.encode() for a in args)


def seeds_cli():
    return {
        "qemu_style": argv("-kernel", "k.elf", "-m", "64", "-serial", "stdio", "-nographic", "-no-reboot"),
        "linux": argv("-kernel", "bzImage", "-initrd", "initrd.img", "-append", "console=ttyS0 quiet", "-m", "1G",
                      "-display", "none", "-monitor", "none"),
        "double_dash": argv("--kernel=k.elf", "--engine=interp", "--stats=json=-", "--stats", "--icount",
                            "shift=3", "--tb-size", "64"),
        "logs": argv("-kernel", "k", "-d", "in_asm,int,unimp", "-dfilter", "0x100000+0x1000,0x2000..0x3000",
                     "-D", "log.txt"),
        "lockstep": argv("-kernel", "k", "--lockstep", "1000", "--host-mmu", "off", "--jit-threshold", "1",
                         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"),
        "help": argv("-h"),
        "bad_memory": argv("-kernel", "k", "-m", "0x10T"),
    }


# ---- stats_json: [mode][...] ----

def s(text):
    b = text.encode() if isinstance(text, str) else text
    return u8(len(b)) + b


def seeds_stats_json():
    direct = (u8(0) + u8(2)
              + s("run") + s("run") + u8(3)
              + s("engine") + s("engine") + u8(4) + u8(0) + s("interp")
              + s("guest_instructions") + s("guest instructions") + u8(0) + u8(0) + u64(123456789)
              + s("mips") + s("guest MIPS") + u8(2) + u8(0) + u64(0x4059000000000000) + u8(1)
              + u8(0)
              + s("events") + s("guest events") + u8(2)
              + s("hit_rate") + s("  hit rate") + u8(3) + u8(1) + u64(0) + u8(0)
              + s("seconds") + s("time") + u8(1) + u8(0) + u64(0x7FF8000000000000) + u8(3)
              + u8(1) + s("exceptions_by_vector") + s("exceptions by vector") + u8(2) + u8(2)
              + s("#PF") + u64(12) + s("0x80") + u64(3))
    odd = (u8(0) + u8(1) + s("quo\"te\\s\n\x01") + s("t") + u8(1)
           + s("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") + s("l") + u8(4) + u8(0) + s(b"bad \xff\xfe utf-8")
           + u8(0))
    built = (u8(1) + b"\x00\x07" * 25 + u64(0x3FF0000000000000) + u8(2) + u8(14) + u8(1) + u64(5) + u8(0x20)
             + u8(0) + u64(99) + u64(0x4000000000000000) + u64(3) + u64(4))
    return {"direct_report": direct, "escapes_and_utf8": odd, "built_report": built}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for name, seeds in [("loader_multiboot", seeds_loader_multiboot()), ("loader_linux", seeds_loader_linux()),
                        ("devices", seeds_devices()), ("cli", seeds_cli()), ("stats_json", seeds_stats_json())]:
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
