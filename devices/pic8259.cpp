#include "devices/pic8259.h"

#include "devices/bus.h"

namespace vmm {

namespace {

// Port selected by the A0 address line (datasheet, "Pin Description").
constexpr uint32_t kA0Low = 0;   // ICW1, OCW2, OCW3; reads IRR/ISR/poll word.
constexpr uint32_t kA0High = 1;  // ICW2-ICW4, OCW1; reads IMR.

// ICW1 (datasheet, Figure 7 "Initialization Command Word Format").
constexpr uint8_t kIcw1Ic4 = 1u << 0;   // ICW4 needed.
constexpr uint8_t kIcw1Sngl = 1u << 1;  // Single (no ICW3) vs cascade mode.
// Bit 2 (ADI, call address interval) and bits 7:5 (A7-A5) only matter in
// MCS-80/85 mode, which a PC never uses.
constexpr uint8_t kIcw1Ltim = 1u << 3;  // Level triggered mode.
constexpr uint8_t kIcw1Select = 1u << 4;  // D4 = 1 with A0 = 0 marks ICW1.

// ICW2: T7-T3 of the interrupt vector in 8086 mode; the chip supplies the
// low three bits (the line number).
constexpr uint8_t kIcw2VectorMask = 0xf8;

// ICW4 (Figure 7).
constexpr uint8_t kIcw4Upm = 1u << 0;   // 8086/8088 mode (else MCS-80/85).
constexpr uint8_t kIcw4Aeoi = 1u << 1;  // Automatic end of interrupt.
constexpr uint8_t kIcw4Ms = 1u << 2;    // Buffered mode: master (1) or slave (0).
constexpr uint8_t kIcw4Buf = 1u << 3;   // Buffered mode.
constexpr uint8_t kIcw4Sfnm = 1u << 4;  // Special fully nested mode.

// OCW2 (Figure 8 "Operation Command Word Format"): R, SL, EOI in bits 7:5,
// the level L2-L0 in bits 2:0. Bits 4:3 are 00.
constexpr unsigned kOcw2CommandShift = 5;
constexpr uint8_t kOcw2LevelMask = 0x07;
constexpr unsigned kOcw2RotateAeoiClear = 0b000;    // Clear rotate in automatic EOI mode.
constexpr unsigned kOcw2NonSpecificEoi = 0b001;
constexpr unsigned kOcw2Nop = 0b010;
constexpr unsigned kOcw2SpecificEoi = 0b011;
constexpr unsigned kOcw2RotateAeoiSet = 0b100;      // Set rotate in automatic EOI mode.
constexpr unsigned kOcw2RotateNonSpecificEoi = 0b101;
constexpr unsigned kOcw2SetPriority = 0b110;        // L becomes the lowest priority.
constexpr unsigned kOcw2RotateSpecificEoi = 0b111;

// OCW3 (Figure 8): D4 = 0, D3 = 1 tell it from OCW2.
constexpr uint8_t kOcw3Select = 1u << 3;
constexpr uint8_t kOcw3Ris = 1u << 0;   // Read ISR (1) or IRR (0)...
constexpr uint8_t kOcw3Rr = 1u << 1;    // ...if RR = 1.
constexpr uint8_t kOcw3Poll = 1u << 2;  // Poll command.
constexpr uint8_t kOcw3Smm = 1u << 5;   // Special mask mode on (1) or off (0)...
constexpr uint8_t kOcw3Esmm = 1u << 6;  // ...if ESMM = 1.

// Poll word ("Poll Command"): I in bit 7 when a request is being served,
// W2-W0 the highest-priority level.
constexpr uint8_t kPollInterrupt = 0x80;

// The initialisation sequence: which ICW a write with A0 = 1 is.
constexpr uint8_t kReady = 0;
constexpr uint8_t kExpectIcw2 = 2;
constexpr uint8_t kExpectIcw3 = 3;
constexpr uint8_t kExpectIcw4 = 4;

// "Edge and Level Triggered Modes": the spurious (default) vector is IR7's.
constexpr unsigned kSpuriousLine = 7;

// ICW3 after ICW1: "the slave mode address is set to 7".
constexpr uint8_t kResetSlaveId = 7;

// ELCR writable bits (Intel 82371AB PIIX4 datasheet, "ELCR1/ELCR2 - Edge/Level
// Control Registers"):
// IRQ 0 (timer), 1 (keyboard) and 2 (cascade) must stay edge triggered, as
// must IRQ 8 (RTC) and IRQ 13 (FPU error). QEMU applies the same masks.
constexpr uint8_t kElcr1Writable = 0xf8;
constexpr uint8_t kElcr2Writable = 0xde;

// Vector bases a PC BIOS programs: IRQ 0-7 at 0x08, IRQ 8-15 at 0x70.
constexpr uint8_t kBiosMasterVectorBase = 0x08;
constexpr uint8_t kBiosSlaveVectorBase = 0x70;

constexpr uint8_t bit(unsigned line) { return static_cast<uint8_t>(1u << line); }

}  // namespace

// ---------------------------------------------------------------------------
// One chip.

Pic8259::Pic8259(Pic8259Pair& pair, bool master) : pair_(pair), master_(master) { reset(); }

void Pic8259::reset() {
  irr_ = isr_ = imr_ = lines_ = elcr_ = 0;
  lowest_priority_ = 7;
  vector_base_ = 0;
  icw3_ = 0;
  init_step_ = kReady;
  icw4_needed_ = single_ = level_mode_ = x86_mode_ = auto_eoi_ = buffered_ = false;
  buffered_master_ = 0;
  special_fully_nested_ = rotate_on_auto_eoi_ = read_isr_ = poll_pending_ = special_mask_ = false;
}

// The 8259A has an 8-bit data bus; a wider access is split into byte accesses
// at consecutive ports, as the ISA bus does. Bytes beyond A0 = 1 float high.
uint32_t Pic8259::read(uint32_t offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint32_t a0 = offset + i;
    uint32_t byte = a0 <= kA0High ? read_port(a0) : 0xffu;
    value |= byte << (8 * i);
  }
  return value;
}

void Pic8259::write(uint32_t offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    uint32_t a0 = offset + i;
    if (a0 <= kA0High) write_port(a0, static_cast<uint8_t>(value >> (8 * i)));
  }
}

uint8_t Pic8259::read_port(uint32_t a0) {
  // "Poll Command": after OCW3 with P = 1 the next read pulse, at either
  // address, is treated as an interrupt acknowledge and returns the poll word.
  if (poll_pending_) return poll();
  if (a0 == kA0High) return imr_;
  // "Reading the 8259A Status": OCW3 RR/RIS selects IRR or ISR; the choice
  // sticks until changed.
  return read_isr_ ? isr_ : irr_;
}

void Pic8259::write_port(uint32_t a0, uint8_t value) {
  if (a0 == kA0Low) {
    if (value & kIcw1Select) {
      write_icw1(value);
    } else if (value & kOcw3Select) {
      write_ocw3(value);
    } else {
      write_ocw2(value);
    }
  } else {
    switch (init_step_) {
      case kExpectIcw2:
        vector_base_ = value & kIcw2VectorMask;
        init_step_ = !single_ ? kExpectIcw3 : icw4_needed_ ? kExpectIcw4 : kReady;
        break;
      case kExpectIcw3:
        // Master: a 1 for each IR line with a slave. Slave: its ID (bits 2:0).
        icw3_ = value;
        init_step_ = icw4_needed_ ? kExpectIcw4 : kReady;
        break;
      case kExpectIcw4:
        x86_mode_ = (value & kIcw4Upm) != 0;
        auto_eoi_ = (value & kIcw4Aeoi) != 0;
        buffered_ = (value & kIcw4Buf) != 0;
        buffered_master_ = value & kIcw4Ms;
        special_fully_nested_ = (value & kIcw4Sfnm) != 0;
        init_step_ = kReady;
        break;
      default:
        imr_ = value;  // OCW1.
        break;
    }
  }
  pair_.update();
}

void Pic8259::write_icw1(uint8_t value) {
  // "Initialization Command Words": ICW1 starts the sequence and
  //  a) resets the edge sense circuit: a line must go low then high again to
  //     request (lines_ keeps the real levels, so a line held high does not
  //     count until it falls and rises);
  //  b) clears the IMR; c) makes IR7 the lowest priority; d) sets the slave
  //     address to 7; e) clears special mask mode and selects IRR for status
  //     reads; f) without IC4, zeroes the ICW4 functions.
  // Like QEMU, the ISR is cleared too: re-initialising abandons the
  // interrupts in service.
  icw4_needed_ = (value & kIcw1Ic4) != 0;
  single_ = (value & kIcw1Sngl) != 0;
  level_mode_ = (value & kIcw1Ltim) != 0;
  imr_ = 0;
  isr_ = 0;
  irr_ = lines_ & level_triggered();
  lowest_priority_ = 7;
  icw3_ = master_ ? 0 : kResetSlaveId;
  special_mask_ = false;
  read_isr_ = false;
  poll_pending_ = false;
  rotate_on_auto_eoi_ = false;
  if (!icw4_needed_) {
    x86_mode_ = auto_eoi_ = buffered_ = special_fully_nested_ = false;
    buffered_master_ = 0;
  }
  init_step_ = kExpectIcw2;
}

void Pic8259::write_ocw2(uint8_t value) {
  unsigned level = value & kOcw2LevelMask;
  switch (value >> kOcw2CommandShift) {
    case kOcw2NonSpecificEoi:
    case kOcw2RotateNonSpecificEoi: {
      // Ends the highest-priority interrupt in service. "Special Mask Mode":
      // ISR bits masked by the IMR are not reset by a non-specific EOI.
      uint8_t in_service = isr_;
      if (special_mask_) in_service &= static_cast<uint8_t>(~imr_);
      unsigned priority = priority_of(in_service);
      if (priority < kLines) {
        end_of_interrupt(line_at_priority(priority), (value >> kOcw2CommandShift) == kOcw2RotateNonSpecificEoi);
      }
      break;
    }
    case kOcw2SpecificEoi:
      end_of_interrupt(level, false);
      break;
    case kOcw2RotateSpecificEoi:
      end_of_interrupt(level, true);
      break;
    case kOcw2RotateAeoiSet:
      rotate_on_auto_eoi_ = true;
      break;
    case kOcw2RotateAeoiClear:
      rotate_on_auto_eoi_ = false;
      break;
    case kOcw2SetPriority:
      lowest_priority_ = static_cast<uint8_t>(level);
      break;
    case kOcw2Nop:
    default:
      break;
  }
}

void Pic8259::write_ocw3(uint8_t value) {
  if (value & kOcw3Poll) poll_pending_ = true;
  if (value & kOcw3Rr) read_isr_ = (value & kOcw3Ris) != 0;
  if (value & kOcw3Esmm) special_mask_ = (value & kOcw3Smm) != 0;
}

uint8_t Pic8259::poll() {
  // "Poll Command": the read acts as INTA for this chip alone (no cascade):
  // the highest request goes in service and its level is returned with I = 1;
  // with no request, I = 0.
  poll_pending_ = false;
  int line = highest_request();
  if (line < 0) return 0;
  acknowledge_line(static_cast<unsigned>(line));
  pair_.update();
  return static_cast<uint8_t>(kPollInterrupt | line);
}

void Pic8259::set_line(unsigned line, bool level) {
  uint8_t b = bit(line);
  bool was_high = (lines_ & b) != 0;
  if (level) {
    lines_ |= b;
  } else {
    lines_ &= static_cast<uint8_t>(~b);
  }
  if (level_triggered() & b) {
    // "Level Triggered Mode": the request is the line level.
    if (level) {
      irr_ |= b;
    } else {
      irr_ &= static_cast<uint8_t>(~b);
    }
  } else if (level && !was_high) {
    // "Edge Triggered Mode": a low-to-high transition latches the request.
    irr_ |= b;
  }
}

uint8_t Pic8259::level_triggered() const { return level_mode_ ? 0xff : elcr_; }

unsigned Pic8259::priority_of(uint8_t mask) const {
  for (unsigned priority = 0; priority < kLines; ++priority) {
    if (mask & bit(line_at_priority(priority))) return priority;
  }
  return kLines;
}

int Pic8259::highest_request() const {
  uint8_t requests = irr_ & static_cast<uint8_t>(~imr_);
  if (special_mask_) {
    // "Special Mask Mode": every unmasked level may interrupt, lower as well
    // as higher than those in service; only a level already in service
    // cannot interrupt itself.
    requests &= static_cast<uint8_t>(~isr_);
    unsigned priority = priority_of(requests);
    return priority < kLines ? static_cast<int>(line_at_priority(priority)) : -1;
  }
  unsigned priority = priority_of(requests);
  if (priority == kLines) return -1;
  // "Fully Nested Mode": only a request of higher priority than every level
  // in service is passed to the CPU.
  unsigned in_service = priority_of(isr_);
  // "Special Fully Nested Mode" (master only): a request from a slave is
  // passed even while that slave's line is in service, so a higher-priority
  // slave input can interrupt a lower one.
  if (master_ && special_fully_nested_ && in_service < kLines &&
      (icw3_ & bit(line_at_priority(in_service))) && priority <= in_service) {
    return static_cast<int>(line_at_priority(priority));
  }
  return priority < in_service ? static_cast<int>(line_at_priority(priority)) : -1;
}

void Pic8259::acknowledge_line(unsigned line) {
  uint8_t b = bit(line);
  // "Interrupt Sequence": INTA sets the ISR bit and resets the IRR bit. A
  // level-triggered request stays as long as the line is high.
  if (!(level_triggered() & b)) irr_ &= static_cast<uint8_t>(~b);
  if (auto_eoi_) {
    // "Automatic End of Interrupt Mode": the ISR bit is reset at the end of
    // the INTA sequence, i.e. never seen set; with rotation the served level
    // becomes the lowest priority.
    if (rotate_on_auto_eoi_) lowest_priority_ = static_cast<uint8_t>(line);
  } else {
    isr_ |= b;
  }
}

void Pic8259::end_of_interrupt(unsigned line, bool rotate) {
  isr_ &= static_cast<uint8_t>(~bit(line));
  // "Automatic Rotation": the level just served gets the lowest priority.
  if (rotate) lowest_priority_ = static_cast<uint8_t>(line);
}

// ---------------------------------------------------------------------------
// The pair.

Pic8259Pair::Pic8259Pair() : master_(*this, true), slave_(*this, false), elcr_device_(*this) {
  // SeaBIOS pic_reset(0x08, 0x70), masking everything but the cascade.
  auto initialise = [](Pic8259& chip, uint8_t vector_base, uint8_t icw3, uint8_t mask) {
    chip.write_port(kA0Low, kIcw1Select | kIcw1Ic4);  // ICW1: edge, cascade, ICW4 follows.
    chip.write_port(kA0High, vector_base);            // ICW2.
    chip.write_port(kA0High, icw3);                   // ICW3.
    chip.write_port(kA0High, kIcw4Upm);               // ICW4: 8086 mode, normal EOI.
    chip.write_port(kA0High, mask);                   // OCW1.
  };
  initialise(master_, kBiosMasterVectorBase, bit(kCascadeLine), static_cast<uint8_t>(~bit(kCascadeLine)));
  initialise(slave_, kBiosSlaveVectorBase, kCascadeLine, 0xff);
}

void Pic8259Pair::attach(Bus& bus) {
  bus.register_pio(kMasterBase, kChipPortCount, &master_);
  bus.register_pio(kSlaveBase, kChipPortCount, &slave_);
  bus.register_pio(kElcrBase, kElcrPortCount, &elcr_device_);
}

void Pic8259Pair::set_irq(unsigned line, bool level) {
  if (line >= kLines || line == kCascadeLine) return;
  if (line < Pic8259::kLines) {
    master_.set_line(line, level);
  } else {
    slave_.set_line(line - Pic8259::kLines, level);
  }
  update();
}

void Pic8259Pair::update() {
  // The slave's INT is the master's IR2 input.
  master_.set_line(kCascadeLine, slave_.highest_request() >= 0);
  bool level = master_.highest_request() >= 0;
  if (level == intr_level_) return;
  intr_level_ = level;
  if (intr) intr(level);
}

uint8_t Pic8259Pair::acknowledge() {
  uint8_t vector;
  int line = master_.highest_request();
  if (line < 0) {
    // "Edge and Level Triggered Modes": an INTA with no request gets the
    // IR7 vector and no ISR bit is set (a spurious interrupt).
    vector = static_cast<uint8_t>(master_.vector_base_ + kSpuriousLine);
  } else {
    unsigned l = static_cast<unsigned>(line);
    master_.acknowledge_line(l);
    bool cascaded = l == kCascadeLine && !master_.single_ && (master_.icw3_ & bit(kCascadeLine));
    if (cascaded) {
      // "Cascading": the master puts IR2 in service and the slave supplies
      // the vector; if its request went away meanwhile, the slave answers
      // with its own IR7 (IRQ 15) and no slave ISR bit.
      int slave_line = slave_.highest_request();
      if (slave_line < 0) {
        vector = static_cast<uint8_t>(slave_.vector_base_ + kSpuriousLine);
      } else {
        slave_.acknowledge_line(static_cast<unsigned>(slave_line));
        vector = static_cast<uint8_t>(slave_.vector_base_ + slave_line);
      }
      // The slave's INT drops during the INTA sequence; update() raises it
      // again if the slave still has a request to present, which gives the
      // edge-triggered IR2 a fresh edge (this matters with slave auto-EOI).
      master_.set_line(kCascadeLine, false);
    } else {
      vector = static_cast<uint8_t>(master_.vector_base_ + l);
    }
  }
  update();
  return vector;
}

uint32_t Pic8259Pair::Elcr::read(uint32_t offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint32_t port = offset + i;
    uint32_t byte = port == 0 ? pair_.master_.elcr_ : port == 1 ? pair_.slave_.elcr_ : 0xffu;
    value |= byte << (8 * i);
  }
  return value;
}

void Pic8259Pair::Elcr::write(uint32_t offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    uint32_t port = offset + i;
    if (port > 1) continue;
    Pic8259& chip = port == 0 ? pair_.master_ : pair_.slave_;
    uint8_t writable = port == 0 ? kElcr1Writable : kElcr2Writable;
    chip.elcr_ = static_cast<uint8_t>(value >> (8 * i)) & writable;
    // A line that becomes level-triggered requests exactly while it is high.
    uint8_t level = chip.level_triggered();
    chip.irr_ = static_cast<uint8_t>((chip.irr_ & ~level) | (chip.lines_ & level));
  }
  pair_.update();
}

}  // namespace vmm
