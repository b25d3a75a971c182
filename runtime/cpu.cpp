#include "runtime/cpu.h"
#include "runtime/profiler.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "devices/bus.h"
#include "jit/jit_engine.h"
#include "runtime/interp/interp.h"
#include "runtime/fpu.h"
#include "runtime/interrupts.h"
#include "runtime/log.h"

namespace vmm {

namespace {
// Bounds on cached decoded blocks and their instructions; the cache is
// dropped whole beyond either. With them the decoded code costs at most
// about 80 MiB of host memory (a block is about 112 bytes, an instruction
// 68: its record and its host-code offset), whatever the guest decodes.
constexpr size_t kMaxCachedBlocks = 1u << 16;
constexpr size_t kMaxCachedInstrs = 1u << 20;
}  // namespace

const char* vector_name(uint8_t v) {
  static const char* const kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MP",
                                       "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM"};
  return v < sizeof(kNames) / sizeof(kNames[0]) ? kNames[v] : "INT";
}

Cpu::Cpu(GuestRam& r, Bus& b) : mmu(s, r, b), bus(b), ram(r) {
  mmu.on_code_write = [this](uint32_t phys, unsigned size) { note_code_write(phys, size); };
  reset_power_on();
}

Cpu::~Cpu() = default;

void Cpu::set_single_block(bool on) {
  single_block_ = on;
  if (jit_) jit_->set_chaining(!on && tuning_.chaining);
}

void Cpu::set_tuning(const EngineTuning& t) {
  tuning_ = t;
  if (jit_) {
    jit_->set_chaining(t.chaining && !single_block_);
    jit_->set_inline_lookup(t.inline_lookup && t.chaining);  // -d nochain: no lookups either, as in QEMU.
    jit_->set_x87_native(t.x87_native);
  }
}

void Cpu::enable_jit(size_t buffer_bytes, bool host_mmu, unsigned threshold) {
  jit_ = std::make_unique<jit::JitEngine>(*this, buffer_bytes, host_mmu);
  jit_threshold_ = threshold;
}

void Cpu::request_stop(StopReason why, int status) {
  if (!stopped_) {
    stop_reason_ = why;
    exit_status_ = status;
  }
  stopped_ = true;
  exit_block_ = true;
}

void Cpu::reset_power_on() {
  // SDM Vol. 3A, Table 9-1: real mode at F000:FFF0 with CS base FFFF0000.
  s = CpuState{};
  fpu::reset(s.fpu);
  for (auto& sc : s.seg) {
    sc.selector = 0;
    sc.base = 0;
    sc.limit = 0xFFFF;
    sc.attr = SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kWritable | SegmentCache::kAccessed;
  }
  s.seg[CS].selector = 0xF000;
  s.seg[CS].base = 0xFFFF0000u;
  s.seg[CS].attr = SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kCode | SegmentCache::kReadable |
                   SegmentCache::kAccessed;
  s.eip = 0xFFF0;
  s.gpr[EDX] = 0x00000633;  // Processor signature, as CPUID.01H:EAX.
  s.cr0 = cr0::ET | cr0::CD | cr0::NW;
  s.dr[6] = kDr6Reset;
  s.dr[7] = kDr7Reset;
  s.idtr.limit = 0xFFFF;
  s.gdtr.limit = 0xFFFF;
  s.ldtr.limit = 0xFFFF;
  s.ldtr.attr = SegmentCache::kPresent | 2;
  s.tr.limit = 0xFFFF;
  s.tr.attr = SegmentCache::kPresent | 11;
  for (auto& sc : s.seg) sc.refresh();
  halted_ = false;
  intr_ = false;
  inhibit_eip_ = ~0u;
  paging_changed();
}

void Cpu::reset_flat_protected(uint32_t eip) {
  // Multiboot 0.6.96, 3.2: CS a 32-bit read/execute code segment with offset 0
  // and limit 0xFFFFFFFF; DS, ES, FS, GS, SS 32-bit read/write data segments
  // likewise; A20 enabled; CR0 PG=0, PE=1; EFLAGS VM=0, IF=0.
  s = CpuState{};
  fpu::reset(s.fpu);
  const uint16_t data_attr = SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kWritable |
                             SegmentCache::kAccessed | SegmentCache::kDb | SegmentCache::kGranularity;
  for (int i = 0; i < kSegCount; ++i) {
    s.seg[i] = SegmentCache{0x10, data_attr, 0, 0xFFFFFFFFu};
  }
  s.seg[CS] = SegmentCache{0x08,
                           static_cast<uint16_t>(SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kCode |
                                                 SegmentCache::kReadable | SegmentCache::kAccessed |
                                                 SegmentCache::kDb | SegmentCache::kGranularity),
                           0, 0xFFFFFFFFu};
  s.ldtr.attr = SegmentCache::kPresent | 2;
  s.tr.attr = SegmentCache::kPresent | 11;  // Busy 32-bit TSS type; base 0 limit 0 until LTR.
  for (auto& sc : s.seg) sc.refresh();
  s.cr0 = cr0::PE | cr0::ET;
  s.dr[6] = kDr6Reset;
  s.dr[7] = kDr7Reset;
  update_watchpoints();
  mmu.set_alignment_check(false);
  update_watchpoints();
  mmu.set_alignment_check(false);
  s.eflags = flag::kFixed1;
  s.eip = eip;
  s.cpl = 0;
  halted_ = false;
  inhibit_eip_ = ~0u;
  paging_changed();
}

void Cpu::reset_protected_with_gdt(uint32_t eip, uint32_t gdt_base, uint16_t gdt_limit, uint16_t code_selector,
                                   uint16_t data_selector) {
  reset_flat_protected(eip);
  s.gdtr.base = gdt_base;
  s.gdtr.limit = gdt_limit;
  set_segment_cache(s.seg[CS], code_selector, read_descriptor(*this, code_selector));
  const Descriptor data = read_descriptor(*this, data_selector);
  for (int i = 0; i < kSegCount; ++i) {
    if (i != CS) set_segment_cache(s.seg[i], data_selector, data);
  }
  paging_changed();
}

void Cpu::triple_fault() {
  char msg[96];
  std::snprintf(msg, sizeof msg, "triple fault at eip=0x%08x", s.eip);
  stop_message_ = msg;
  request_stop(StopReason::kTripleFault, 0);
}

void Cpu::paging_changed(bool keep_global) {
  ++(keep_global ? stats_.cr3_flushes : stats_.paging_flushes);
  mmu.flush_all(keep_global);
  if (jit_) jit_->clear_jump_table(keep_global);
  if (keep_global) {
    // A CR3 load keeps global translations (SDM Vol. 3A, 4.10.4.1), and
    // with them the jump-cache entries of blocks whose code came through
    // them: an OS kernel's code stays found across context switches.
    jump_cache_.drop_if([](const Block& b) { return !b.global_code; });
  } else {
    jump_cache_.clear();
    global_code_pages_.clear();
  }
  cached_code_pages_.clear();
  exit_block_ = true;
}

bool Cpu::fetched_through_global(uint32_t lin) const {
  const TlbEntry& e = mmu.tlb_entry(mmu_idx(), lin);
  return e.global && !(e.tag_fetch & tlbflag::kInvalid) && (e.tag_fetch & kPageMask) == (lin & kPageMask);
}

// Puts `b` in the jump cache and notes the linear pages of its code (just
// translated for fetch: their TLB entries say whether they are global).
void Cpu::cache_block(uint32_t eip, Block* b) {
  if (tuning_.jump_cache) jump_cache_.set(eip, b);
  const uint32_t first = b->cs_base + eip, last = first + b->byte_length - 1;
  const bool two = b->phys_page2 != ~0u;
  b->global_code = fetched_through_global(first) && (!two || fetched_through_global(last));
  PageSet& pages = b->global_code ? global_code_pages_ : cached_code_pages_;
  pages.insert(first >> 12);
  if (two) pages.insert(last >> 12);
}

void Cpu::tlb_flush_page(uint32_t lin) {
  ++stats_.invlpg_flushes;
  mmu.flush_page(lin);
  // Blocks reached through this page's old mapping must be looked up again;
  // a page that holds no cached block's code (a data page, the usual INVLPG)
  // costs nothing more.
  const uint32_t p = lin >> 12;
  if (!cached_code_pages_.contains(p) && !global_code_pages_.contains(p)) return;
  cached_code_pages_.erase(p);
  global_code_pages_.erase(p);
  const uint32_t page = lin & kPageMask;
  jump_cache_.drop_if([page](const Block& b) {
    const uint32_t first = b.cs_base + b.virt_pc;
    const uint32_t last = first + b.byte_length - 1;
    return (first & kPageMask) == page || (last & kPageMask) == page;
  });
  if (jit_) jit_->drop_jump_table_page(page);
}

// Code is fetched at CS base + EIP (SDM Vol. 3A, 3.4: logical to linear).
uint32_t Cpu::translate(uint32_t eip) { return mmu.translate_fetch(s.seg[CS].base + eip, mmu_idx()); }

const uint8_t* Cpu::bytes(uint32_t phys) {
  if (!ram.contains(phys, kPageSize - (phys & ~kPageMask))) return nullptr;  // The rest of the page.
  return ram.ptr(phys);
}

void Cpu::drop_block(Block* b) {
  if (!b->valid) return;
  b->valid = false;
  ++stats_.blocks_invalidated;
  auto bi = blocks_.find(block_key(*b));
  if (bi != blocks_.end() && bi->second.get() == b) retire_block(bi);
}

// Epochs of the SMC counts: a page rewritten this often within one epoch is hot.
namespace {
constexpr uint64_t kSmcEpochBuilds = 1u << 14;
constexpr uint32_t kSmcHotWrites = 16;
}  // namespace

bool Cpu::smc_hot(uint32_t phys_page) const {
  auto it = smc_counts_.find(phys_page);
  return it != smc_counts_.end() && it->second.epoch == stats_.blocks_built / kSmcEpochBuilds &&
         it->second.writes >= kSmcHotWrites;
}

// A guest write of `size` bytes at `phys`, on a page holding decoded code
// (SoftMmu::on_code_write, before the write is done).
void Cpu::note_code_write(uint32_t phys, unsigned size) {
  const uint32_t page = phys & kPageMask;
  auto it = page_blocks_.find(page);
  if (it == page_blocks_.end()) {
    mmu.clear_code_page(page);
    return;
  }
  // Writes that may spill into the next page are split by the softmmu.
  const uint32_t off = phys & ~kPageMask;
  const uint32_t end = std::min<uint32_t>(off + size, kPageSize);
  CodePage& cp = it->second;
  bool hits = false;
  for (uint32_t i = off; i < end && !hits; ++i) hits = cp.bytes[i];
  if (!hits) return;  // Data next to code: nothing decoded changes.

  ++stats_.smc_invalidations;
  SmcCount& c = smc_counts_[page];
  const uint32_t epoch = static_cast<uint32_t>(stats_.blocks_built / kSmcEpochBuilds);
  if (c.epoch != epoch) c = SmcCount{epoch, 0};
  ++c.writes;
  // Drop the blocks whose bytes the write overlaps; the others stay, and
  // the page's byte map is rebuilt from them.
  std::vector<Block*> keep, victims;
  for (Block* b : cp.blocks) {
    uint32_t first, last;
    block_bytes_on(*b, page, first, last);
    (first < end && off < last ? victims : keep).push_back(b);
  }
  cp.blocks = std::move(keep);
  cp.bytes.reset();
  for (Block* b : cp.blocks) {
    uint32_t first, last;
    block_bytes_on(*b, page, first, last);
    for (uint32_t i = first; i < last; ++i) cp.bytes.set(i);
  }
  if (cp.blocks.empty()) {
    page_blocks_.erase(it);
    mmu.clear_code_page(page);
  }
  for (Block* b : victims) drop_block(b);
  // The write may hit the block being executed: finish the current
  // instruction, then leave the block (SMC in the same block).
  exit_block_ = true;
}

// The byte range [first, last) of page `page` that block `b` covers.
void Cpu::block_bytes_on(const Block& b, uint32_t page, uint32_t& first, uint32_t& last) {
  const uint32_t off = b.phys_pc & ~kPageMask;
  const uint32_t on_first = std::min<uint32_t>(b.byte_length, kPageSize - off);
  if ((b.phys_pc & kPageMask) == page) {
    first = off;
    last = off + on_first;
  } else {
    first = 0;
    last = b.byte_length - on_first;  // The part on the second page.
  }
}

void Cpu::flush_code_cache() {
  ++stats_.code_cache_flushes;
  stats_.blocks_flushed += blocks_.size();
  if (jit_) jit_->flush();
  for (auto& [key, b] : blocks_) {
    b->valid = false;
    mmu.clear_code_page(b->phys_pc & kPageMask);
    if (b->phys_page2 != ~0u) mmu.clear_code_page(b->phys_page2);
    retired_.push_back(std::move(b));
  }
  blocks_.clear();
  cached_instrs_ = 0;
  page_blocks_.clear();
  jump_cache_.clear();
  exit_block_ = true;
}

Block* Cpu::build_block(uint32_t eip, uint32_t phys, uint32_t mode) {
  if (blocks_.size() >= kMaxCachedBlocks || cached_instrs_ + kMaxBlockInstrs > kMaxCachedInstrs) {
    ++stats_.code_cache_full;
    flush_code_cache();
  }
  // Decoding is rare next to running what was decoded; the clock reads cost
  // little against it.
  const auto t0 = std::chrono::steady_clock::now();
  auto b = std::make_unique<Block>();
  (s.code32() ? builder32_ : builder16_)
      .build(*this, eip, s.seg[CS].limit, *b, tuning_.max_block_instrs, tuning_.superblocks);
  b->mode = mode;
  b->cs_base = s.seg[CS].base;
  for (InstrRecord& in : b->instrs) interp::bind(in);
  stats_.decode_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++stats_.blocks_built;
  stats_.instrs_decoded += b->instrs.size();
  for (size_t i = 0; i + 1 < b->instrs.size(); ++i)
    if (b->instrs[i].cls & iclass::kJcc) ++stats_.superblock_jccs;
  Block* raw = b.get();
  const uint32_t page1 = phys & kPageMask;
  const bool smc = smc_hot(page1) || (raw->phys_page2 != ~0u && smc_hot(raw->phys_page2));
  if (smc) ++stats_.smc_interpreted_blocks;
  // Under a CS limit below 4 GiB, near branches must check their targets
  // against it (SDM Vol. 2A/2B JMP, Jcc, CALL, RET, LOOP: "IF tempEIP is not
  // within code segment limit THEN #GP(0)", at the branch), which the
  // interpreter's handlers do and translated code does not: such code (real
  // mode, segmented code) is interpreted by both engines. Under a 4 GiB limit
  // every EIP is within it, and translated code runs it with no check.
  raw->interp_only = smc || raw->cs_limit != 0xFFFFFFFFu;
  for (uint32_t page : {page1, raw->phys_page2}) {
    if (page == ~0u) continue;
    CodePage& cp = page_blocks_[page];
    cp.blocks.push_back(raw);
    uint32_t first, last;
    block_bytes_on(*raw, page, first, last);
    for (uint32_t i = first; i < last; ++i) cp.bytes.set(i);
    mmu.mark_code_page(page);
  }
  if (log && log->enabled_at(LogMask::kInAsm, eip)) {
    FILE* f = log->stream();
    std::fprintf(f, "----------------\nIN: \n");
    uint32_t pc = eip;
    for (const InstrRecord& in : raw->instrs) {
      uint8_t buf[16] = {};
      for (unsigned i = 0; i < in.length && i < 15; ++i) {
        try {
          buf[i] = mmu.read<uint8_t>(s.seg[CS].base + pc + i, mmu_idx());
        } catch (const GuestException&) {
        }
      }
      std::fprintf(f, "0x%08x:  %s\n", pc, decoder().disassemble(buf, in.length, pc).c_str());
      pc += in.length;
    }
    std::fprintf(f, "\n");
  }
  cached_instrs_ += raw->instrs.size();
  blocks_.emplace(block_key(*raw), std::move(b));
  return raw;
}

Block* Cpu::lookup_block(uint32_t eip) {
  const uint32_t mode = block_mode();
  const uint32_t cs_base = s.seg[CS].base;
  const uint32_t cs_limit = s.seg[CS].limit;
  if (tuning_.jump_cache) {
    ++stats_.block_lookups;
    Block* slot = jump_cache_.at(eip);
    // A block is used under the CS base and limit it was decoded under only:
    // its extent depends on the limit (BlockBuilder::build).
    if (slot && slot->valid && slot->virt_pc == eip && slot->mode == mode && slot->cs_base == cs_base &&
        slot->cs_limit == cs_limit) {
      ++stats_.jump_cache_hits;
      return slot;
    }
  }
  // Code fetch at an EIP beyond the CS limit: #GP(0) with EIP at it, before
  // any byte is fetched through paging (SDM Vol. 3A, 5.3 "Limit Checking").
  // No cached block starts there, so the jump-cache hit above costs nothing more.
  if (eip > cs_limit) raise_exception(kGP, 0);
  const uint32_t phys = translate(eip);
  const uint64_t key = block_key(phys, mode, cs_base + eip);
  ++stats_.block_map_lookups;
  auto it = blocks_.find(key);
  if (it != blocks_.end()) {
    Block* b = it->second.get();
    // Relative branches are resolved from EIP at run time, but a block found
    // under another EIP, CS base or CS limit for the same linear address, or whose
    // second page is now mapped elsewhere, is decoded again rather than reused.
    bool reusable = b->virt_pc == eip && b->cs_base == cs_base && b->cs_limit == cs_limit;
    if (reusable && b->phys_page2 != ~0u) {
      try {
        reusable = (translate(eip + b->byte_length - 1) & kPageMask) == b->phys_page2;
      } catch (const GuestException&) {
        reusable = false;  // The rebuilt block ends before the unmapped page.
      }
    }
    if (reusable) {
      ++stats_.block_map_hits;
      cache_block(eip, b);
      return b;
    }
    ++stats_.blocks_stale;
    retire_block(it);
  }
  Block* b = build_block(eip, phys, mode);
  cache_block(eip, b);
  return b;
}

void Cpu::retire_block(std::unordered_map<uint64_t, std::unique_ptr<Block>>::iterator it) {
  Block* b = it->second.get();
  b->valid = false;
  if (profiler) profiler->retiring(*b, jit_ && b->host_code && b->jit_generation == jit_->generation());
  if (jit_) jit_->block_retired(b);
  // The jump cache must not keep a pointer to a block that will be freed.
  jump_cache_.forget(b);
  for (uint32_t page : {b->phys_pc & kPageMask, b->phys_page2}) {
    if (page == ~0u) continue;
    auto pi = page_blocks_.find(page);
    if (pi == page_blocks_.end()) continue;
    auto& v = pi->second.blocks;
    v.erase(std::remove(v.begin(), v.end(), b), v.end());
  }
  // The block may be executing right now: keep it alive until the run loop
  // is back at a block boundary.
  cached_instrs_ -= b->instrs.size();
  retired_.push_back(std::move(it->second));
  blocks_.erase(it);
}

void Cpu::handle_exception(const GuestException& e) {
  ++stats_.exceptions;
  if (stop_after_exception_ || stats_.exceptions >= exception_limit_) end_slice_ = true;
  ++stats_.exceptions_by_vector[e.vector];
  if (log && log->enabled(LogMask::kInt)) {
    log->printf(LogMask::kInt, "exception %s (vector %u) error=0x%x eip=0x%08x cr2=0x%08x\n", vector_name(e.vector),
                e.vector, e.error, s.eip, s.cr2);
  }
  if (on_exception) {
    on_exception(*this, e);
    return;
  }
  char msg[160];
  std::snprintf(msg, sizeof msg, "unhandled guest exception %s (vector %u, error code 0x%x) at eip=0x%08x",
                vector_name(e.vector), e.vector, e.error, s.eip);
  stop_message_ = msg;
  request_stop(StopReason::kFatal, 1);
}

void Cpu::update_watchpoints() {
  // DR7 (SDM Vol. 3B, 18.2.4): R/W 01 = data writes, 11 = data reads and
  // writes; LEN 00/01/11/10 = 1/2/4/8 bytes, the address aligned to it.
  SoftMmu::Watchpoint w[4];
  uint32_t mask = 0;
  const uint32_t dr7 = s.dr[7];
  for (unsigned i = 0; i < 4; ++i) {
    const unsigned rw = (dr7 >> (16 + 4 * i)) & 3;
    const unsigned len_bits = (dr7 >> (18 + 4 * i)) & 3;
    const uint32_t len = len_bits == 0 ? 1 : len_bits == 1 ? 2 : len_bits == 3 ? 4 : 8;
    w[i] = SoftMmu::Watchpoint{s.dr[i] & ~(len - 1), len, rw == 3};
    if (((dr7 >> (2 * i)) & 3) && (rw == 1 || rw == 3)) mask |= 1u << i;
  }
  mmu.set_watchpoints(w, 4, mask);
}

void Cpu::check_instruction_breakpoints() {
  // DR7: L/G enable bits 2i/2i+1, R/W bits 16+4i (00 = instruction execution).
  if (s.eflags & flag::RF) return;
  const uint32_t dr7 = s.dr[7];
  const uint32_t lin = linear(CS, s.eip);
  uint32_t hits = 0;
  for (unsigned i = 0; i < 4; ++i) {
    const bool enabled = (dr7 >> (2 * i)) & 3;
    const unsigned rw = (dr7 >> (16 + 4 * i)) & 3;
    if (enabled && rw == 0 && s.dr[i] == lin) hits |= 1u << i;
  }
  if (hits) {
    s.dr[6] = (s.dr[6] & ~0xFu) | hits;
    raise_exception(kDB);  // A fault: EIP stays at the instruction.
  }
}

void Cpu::deliver_external(uint8_t vector) {
  try {
    deliver_interrupt(*this, vector, EventSource::kExternal);
  } catch (const GuestException& e) {
    // A fault while delivering a hardware interrupt is handled serially (an
    // external interrupt is a benign first event, SDM Vol. 3A Table 6-5).
    handle_exception(e);
  }
}

uint64_t Cpu::retired_instructions() const {
  if (first_) return stats_.instructions + static_cast<uint64_t>(cur_ - first_);
  if (jit_) return stats_.instructions + jit_->in_flight();
  return stats_.instructions;
}

StopReason Cpu::run(uint64_t max_instructions) {
  uint64_t budget = max_instructions;
  // An exception storm ends the run (see run() in cpu.h): handle_exception
  // ends the slice at this count.
  exception_limit_ = stats_.exceptions + kMaxExceptionsPerRun;
  if (profiler) profiler->drain();
  const bool trace = log && (log->enabled(LogMask::kExec) || log->enabled(LogMask::kCpu));
  while (!stopped_) {
    if (end_slice_) {
      end_slice_ = false;
      return StopReason::kInstructionLimit;
    }
    if (budget == 0) {
      const bool wakes = intr_ && (s.eflags & flag::IF);
      return halted_ && !wakes ? StopReason::kHalted : StopReason::kInstructionLimit;
    }
    retired_.clear();
    first_ = nullptr;
    try {
      while (!stopped_ && budget != 0 && !end_slice_) {
        // External interrupts are taken at block boundaries (SDM Vol. 3A, 6.8.1).
        if (intr_ && (s.eflags & flag::IF) && s.eip != inhibit_eip_ && acknowledge_interrupt) {
          halted_ = false;
          const uint8_t vector = acknowledge_interrupt();
          if (log) log->printf(LogMask::kInt, "interrupt vector 0x%02x at eip=0x%08x\n", vector, s.eip);
          ++stats_.interrupts;
          ++stats_.interrupts_by_vector[vector];
          deliver_external(vector);
        }
        if (halted_) return StopReason::kHalted;
        const bool shadowed = intr_ && (s.eflags & flag::IF) && s.eip == inhibit_eip_;
        inhibit_eip_ = ~0u;
        // #AC checking (CR0.AM, EFLAGS.AC, CPL 3) runs every access through
        // the softmmu's slow path, and the interpreter.
        const bool align = (s.cr0 & cr0::AM) && (s.eflags & flag::AC) && s.cpl == 3;
        if (align != mmu.alignment_check()) mmu.set_alignment_check(align);
        Block* b = lookup_block(s.eip);
        if (single_block_) budget = std::min<uint64_t>(budget, b->instrs.size());
        if (trace && log->in_filter(s.eip)) {
          log->printf(LogMask::kExec, "Trace: [%08x] %08x\n", b->phys_pc, s.eip);
          if (log->enabled(LogMask::kCpu)) {
            log->printf(LogMask::kCpu,
                        "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\nESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
                        "EIP=%08x EFL=%08x CPL=%u CR0=%08x CR3=%08x\n",
                        s.gpr[EAX], s.gpr[EBX], s.gpr[ECX], s.gpr[EDX], s.gpr[ESI], s.gpr[EDI], s.gpr[EBP],
                        s.gpr[ESP], s.eip, s.eflags, s.cpl, s.cr0, s.cr3);
          }
        }
        exit_block_ = false;
        // Single-step and instruction breakpoints: one instruction at a time.
        // So is the instruction after STI / MOV SS when an interrupt is
        // waiting: it is taken right after that one instruction (SDM Vol. 2B, STI).
        const bool debug = (s.eflags & flag::TF) || (s.dr[7] & 0xFF) || shadowed || align;
        bool single_step = false;
        if (debug) {
          check_instruction_breakpoints();
          single_step = s.eflags & flag::TF;
          event_delivered_ = false;
        }
        if (jit_ && !debug && !b->interp_only && b->instrs.size() <= budget &&
            (b->host_code || ++b->executions >= jit_threshold_)) {
          // Translated code runs this block and the ones chained to it.
          bool faulted = false;
          const uint64_t done = jit_->execute(*b, budget, faulted);
          stats_.instructions += done;
          budget -= std::min(budget, done);
          if (!retired_.empty()) retired_.clear();
          // The exception was caught where it was raised (a helper or slow
          // path): delivered from here, not thrown a second time (unwinding
          // is most of the cost of an exception).
          if (faulted) handle_exception(pending_exception_);
          continue;
        }
        first_ = b->instrs.data();
        if (profiler) {
          profiler->interpreting(b);
          ++b->profile_interp_entries;
        }
        const size_t n = debug ? 1 : std::min<uint64_t>(b->instrs.size(), budget);
        const InstrRecord* in = first_;
        const InstrRecord* const end = first_ + n;
        // The interpreter's inner loop: one indirect call per instruction.
        while (in != end) {
          cur_ = in;
          if (in->handler(*this, *in)) {
            ++in;
            break;
          }
          s.eip += in->length;
          ++in;
          if (exit_block_) break;
        }
        const uint64_t done = static_cast<uint64_t>(in - first_);
        stats_.instructions += done;
        budget -= done;
        first_ = nullptr;
        if (profiler) profiler->interpreting(nullptr);
        if (!retired_.empty()) retired_.clear();
        if (debug) {
          s.eflags &= ~flag::RF;  // RF is cleared once an instruction completes (SDM Vol. 3A, 18.3.1.1).
          // Data breakpoints trap after the instruction that hit them (SDM Vol. 3B, 18.2.4).
          if (const uint32_t hits = mmu.take_watch_hits()) {
            s.dr[6] = (s.dr[6] & ~0xFu) | hits | (single_step && !event_delivered_ ? kDr6SingleStep : 0);
            raise_exception(kDB);
          }
          // TF at the start of an instruction traps after it, unless the
          // instruction delivered an interrupt or exception itself (SDM Vol. 3A, 18.3.1.4).
          if (single_step && !event_delivered_ && s.eip != inhibit_eip_) {
            s.dr[6] |= kDr6SingleStep;
            raise_exception(kDB);
          }
        }
      }
    } catch (const GuestException& e) {
      // The faulting instruction did not complete; the ones before it did.
      if (first_) {
        const uint64_t done = static_cast<uint64_t>(cur_ - first_);
        first_ = nullptr;
        stats_.instructions += done;
        budget -= std::min(budget, done);
      }
      handle_exception(e);
    }
  }
  return stop_reason_;
}


}  // namespace vmm
