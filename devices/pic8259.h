// The two Intel 8259A programmable interrupt controllers of a PC/AT (Intel
// 8259A datasheet, order no. 231468), plus the edge/level control registers
// (ELCR) that PIIX-era chipsets add at 0x4d0/0x4d1.
//
// Wiring, as on the PC/AT: the master at ports 0x20-0x21 serves IRQ 0-7 and
// drives the CPU's INTR; the slave at 0xa0-0xa1 serves IRQ 8-15 and its INT
// output is the master's IR2 input (cascade); ELCR1 (0x4d0) and ELCR2 (0x4d1)
// select edge or level triggering per IRQ.
//
// Bus registration: the bus hands a device offsets relative to the range it
// was registered with, so the three port ranges are three IoDevice objects:
// master() at kMasterBase, slave() at kSlaveBase (kChipPortCount ports each)
// and elcr() at kElcrBase (kElcrPortCount ports). attach() does exactly that.
//
// Requests are latched, as in QEMU: a rising edge on an edge-triggered line
// sets IRR and IRR stays set until the request is acknowledged, even if the
// line falls first. (The datasheet requires the line to stay high until the
// first INTA and answers IR7 otherwise; devices here pulse their lines
// instantly, so latching is what keeps their requests.) A level-triggered line
// keeps its IRR bit equal to the line level.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.h"

namespace vmm {

class Bus;
class Pic8259Pair;

// One 8259A. It is an IoDevice for its two ports (A0 = 0 and A0 = 1); the
// pair routes the cascade and the INTA cycle between the two chips.
class Pic8259 : public IoDevice {
 public:
  static constexpr unsigned kLines = 8;

  const char* name() const override { return master_ ? "pic8259-master" : "pic8259-slave"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // State, for diagnostics and the machine's -d int log.
  uint8_t irr() const { return irr_; }
  uint8_t isr() const { return isr_; }
  uint8_t imr() const { return imr_; }
  uint8_t vector_base() const { return vector_base_; }

 private:
  friend class Pic8259Pair;
  Pic8259(Pic8259Pair& pair, bool master);

  void reset();  // Power-on state, before any ICW.
  uint8_t read_port(uint32_t a0);
  void write_port(uint32_t a0, uint8_t value);
  void write_icw1(uint8_t value);
  void write_ocw2(uint8_t value);
  void write_ocw3(uint8_t value);
  uint8_t poll();

  // Drives input IRn to `level`; returns nothing, the pair re-evaluates.
  void set_line(unsigned line, bool level);
  // Triggering of each line: LTIM makes them all level, else ELCR decides.
  uint8_t level_triggered() const;
  // Priority rank (0 = highest) of the first bit set in `mask` under the
  // current rotation, or kLines when `mask` is empty.
  unsigned priority_of(uint8_t mask) const;
  unsigned line_at_priority(unsigned priority) const { return (priority + lowest_priority_ + 1) % kLines; }
  // The line the chip would present to the CPU now, or -1.
  int highest_request() const;
  // The INTA cycle on this chip for `line`: IRR to ISR (or auto-EOI).
  void acknowledge_line(unsigned line);
  // Clears the in-service bit of `line` and, if rotating, makes it lowest.
  void end_of_interrupt(unsigned line, bool rotate);

  Pic8259Pair& pair_;
  const bool master_;

  uint8_t irr_ = 0;     // Interrupt request register.
  uint8_t isr_ = 0;     // In-service register.
  uint8_t imr_ = 0;     // Interrupt mask register (OCW1).
  uint8_t lines_ = 0;   // Current input levels, for edge detection.
  uint8_t elcr_ = 0;    // Level-triggered lines from the ELCR (chipset, not 8259A).
  uint8_t lowest_priority_ = 7;  // The line with the lowest priority (rotation).
  uint8_t vector_base_ = 0;      // ICW2 T7-T3.
  uint8_t icw3_ = 0;             // Master: lines with a slave. Slave: its ID.
  uint8_t init_step_ = 0;        // Next ICW expected, 0 when initialised.
  bool icw4_needed_ = false;     // ICW1 IC4.
  bool single_ = false;          // ICW1 SNGL.
  bool level_mode_ = false;      // ICW1 LTIM.
  bool x86_mode_ = false;        // ICW4 uPM (recorded; vectors are always 8086-style).
  bool auto_eoi_ = false;        // ICW4 AEOI.
  bool buffered_ = false;        // ICW4 BUF and M/S (recorded only).
  uint8_t buffered_master_ = 0;
  bool special_fully_nested_ = false;  // ICW4 SFNM.
  bool rotate_on_auto_eoi_ = false;    // OCW2 R=1 SL=0 EOI=0.
  bool read_isr_ = false;              // OCW3 RR/RIS: which register a read of A0=0 returns.
  bool poll_pending_ = false;          // OCW3 P: the next read of A0=0 is a poll.
  bool special_mask_ = false;          // OCW3 ESMM/SMM.
};

class Pic8259Pair {
 public:
  static constexpr uint16_t kMasterBase = 0x20;
  static constexpr uint16_t kSlaveBase = 0xa0;
  static constexpr uint16_t kChipPortCount = 2;
  static constexpr uint16_t kElcrBase = 0x4d0;
  static constexpr uint16_t kElcrPortCount = 2;
  static constexpr unsigned kLines = 16;
  // The master input the slave's INT drives (PC/AT: IR2; ICW3 0x04 / ID 2).
  static constexpr unsigned kCascadeLine = 2;

  // The state a PC BIOS leaves (SeaBIOS pic_reset: ICW1 0x11, vectors 0x08
  // and 0x70, ICW3 0x04/0x02, ICW4 0x01), with every line masked except the
  // cascade: the vmm has no BIOS handlers to serve requests, and a guest that
  // enables interrupts before programming the PIC then gets none rather than
  // IRQ 0 on the double-fault vector.
  Pic8259Pair();
  Pic8259Pair(const Pic8259Pair&) = delete;
  Pic8259Pair& operator=(const Pic8259Pair&) = delete;

  Pic8259& master() { return master_; }
  Pic8259& slave() { return slave_; }
  IoDevice& elcr() { return elcr_device_; }
  // Registers the three port ranges at their PC/AT addresses.
  void attach(Bus& bus);

  // Drives ISA IRQ `line` (0-15) to `level`. Line 2 is the cascade input and
  // is not available to devices (on the AT, bus IRQ 2 is wired to IRQ 9):
  // setting it is ignored, as are lines >= 16.
  void set_irq(unsigned line, bool level);

  // The INTR output to the CPU.
  bool interrupt_pending() const { return intr_level_; }
  // The INTA cycle: returns the vector of the highest-priority request and
  // moves it from IRR to ISR (or ends it at once under auto-EOI). With no
  // request it returns the spurious vector, base + 7 of the chip that had
  // none, and sets no ISR bit on that chip (a slave spurious IRQ 15 still
  // sets the master's ISR bit 2, as the master did see a request on IR2).
  uint8_t acknowledge();

  // Called with the new INTR level each time it changes. Set it before the
  // guest runs; assigning it later does not replay the current level.
  std::function<void(bool level)> intr;

 private:
  friend class Pic8259;

  // The ELCR pair: port 0 is ELCR1 (IRQ 0-7), port 1 ELCR2 (IRQ 8-15).
  class Elcr : public IoDevice {
   public:
    explicit Elcr(Pic8259Pair& pair) : pair_(pair) {}
    const char* name() const override { return "elcr"; }
    uint32_t read(uint32_t offset, unsigned size) override;
    void write(uint32_t offset, unsigned size, uint32_t value) override;

   private:
    Pic8259Pair& pair_;
  };

  // Re-evaluates the slave's INT (the master's IR2) and then INTR.
  void update();

  Pic8259 master_;
  Pic8259 slave_;
  Elcr elcr_device_;
  bool intr_level_ = false;
};

}  // namespace vmm
