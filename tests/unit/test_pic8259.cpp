// The 8259A pair driven through its ports as Linux's init_8259A and its IRQ
// handlers do. Command values are written out from the Intel 8259A datasheet
// here, independently of the implementation's constants.
#include <gtest/gtest.h>

#include <vector>

#include "devices/bus.h"
#include "devices/pic8259.h"

namespace vmm {
namespace {

constexpr uint16_t kMasterCmd = 0x20, kMasterData = 0x21;
constexpr uint16_t kSlaveCmd = 0xa0, kSlaveData = 0xa1;
constexpr uint16_t kElcr1 = 0x4d0, kElcr2 = 0x4d1;

// OCW2 / OCW3 commands.
constexpr uint8_t kNonSpecificEoi = 0x20;
constexpr uint8_t kSpecificEoi = 0x60;          // | level
constexpr uint8_t kRotateNonSpecificEoi = 0xa0;
constexpr uint8_t kSetPriority = 0xc0;          // | lowest level
constexpr uint8_t kReadIrr = 0x0a;
constexpr uint8_t kReadIsr = 0x0b;
constexpr uint8_t kPoll = 0x0c;
constexpr uint8_t kSetSpecialMask = 0x68;
constexpr uint8_t kClearSpecialMask = 0x48;

class PicTest : public ::testing::Test {
 protected:
  PicTest() {
    pic.intr = [this](bool level) { intr_changes.push_back(level); };
    pic.attach(bus);
  }

  void out(uint16_t port, uint8_t v) { bus.pio_write(port, 1, v); }
  uint8_t in(uint16_t port) { return static_cast<uint8_t>(bus.pio_read(port, 1)); }

  // arch/x86/kernel/i8259.c init_8259A(0).
  void linux_init(uint8_t icw4 = 0x01) {
    out(kMasterData, 0xff);
    out(kSlaveData, 0xff);
    out(kMasterCmd, 0x11);  // ICW1: edge, cascade, ICW4.
    out(kMasterData, 0x20); // ICW2: vectors 0x20-0x27.
    out(kMasterData, 0x04); // ICW3: slave on IR2.
    out(kMasterData, icw4); // ICW4: 8086 mode (+AEOI if 0x03).
    out(kSlaveCmd, 0x11);
    out(kSlaveData, 0x28);
    out(kSlaveData, 0x02);  // Slave ID 2.
    out(kSlaveData, icw4);
    out(kMasterData, 0x00);  // Unmask everything.
    out(kSlaveData, 0x00);
  }

  uint8_t master_isr() {
    out(kMasterCmd, kReadIsr);
    return in(kMasterCmd);
  }
  uint8_t master_irr() {
    out(kMasterCmd, kReadIrr);
    return in(kMasterCmd);
  }
  uint8_t slave_isr() {
    out(kSlaveCmd, kReadIsr);
    return in(kSlaveCmd);
  }
  void pulse(unsigned irq) {
    pic.set_irq(irq, true);
    pic.set_irq(irq, false);
  }

  Bus bus;
  Pic8259Pair pic;
  std::vector<bool> intr_changes;
};

TEST_F(PicTest, ResetStateIsBiosLikeAndMasked) {
  EXPECT_EQ(in(kMasterData), 0xfb);  // Everything masked but the cascade.
  EXPECT_EQ(in(kSlaveData), 0xff);
  pic.set_irq(0, true);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(in(kElcr1), 0x00);
  EXPECT_EQ(in(kElcr2), 0x00);
}

TEST_F(PicTest, InitSequenceAndMaskRegister) {
  linux_init();
  EXPECT_EQ(in(kMasterData), 0x00);
  out(kMasterData, 0xa5);
  EXPECT_EQ(in(kMasterData), 0xa5);
  out(kSlaveData, 0x5a);
  EXPECT_EQ(in(kSlaveData), 0x5a);
  // ICW1 clears the IMR.
  out(kMasterCmd, 0x11);
  EXPECT_EQ(in(kMasterData), 0x00);
  EXPECT_EQ(bus.unhandled_reads(), 0u);
}

TEST_F(PicTest, EdgeRequestIsAcknowledgedAndEnded) {
  linux_init();
  pic.set_irq(0, true);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(intr_changes, (std::vector<bool>{true}));
  EXPECT_EQ(master_irr(), 0x01);
  EXPECT_EQ(pic.acknowledge(), 0x20);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(master_irr(), 0x00);
  EXPECT_EQ(master_isr(), 0x01);
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(master_isr(), 0x00);
  // The line is still high: no new edge, no new request.
  EXPECT_FALSE(pic.interrupt_pending());
  pic.set_irq(0, false);
  pic.set_irq(0, true);
  EXPECT_TRUE(pic.interrupt_pending());
}

TEST_F(PicTest, EdgeIsLatchedEvenIfTheLineFalls) {
  linux_init();
  pulse(1);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x21);
}

TEST_F(PicTest, MaskedRequestWaitsInIrr) {
  linux_init();
  out(kMasterData, 0x02);
  pulse(1);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(master_irr(), 0x02);
  out(kMasterData, 0x00);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x21);
}

TEST_F(PicTest, FixedPriorityAndNesting) {
  linux_init();
  pulse(3);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);  // IR1 beats IR3.
  // IR3 has lower priority than IR1 in service: held back.
  EXPECT_FALSE(pic.interrupt_pending());
  // IR0 has higher priority: nests.
  pulse(0);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x20);
  EXPECT_EQ(master_isr(), 0x03);
  // Non-specific EOI ends the highest in service (IR0).
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(master_isr(), 0x02);
  EXPECT_FALSE(pic.interrupt_pending());
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(master_isr(), 0x00);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x23);
}

TEST_F(PicTest, SpecificEoiEndsTheNamedLevel) {
  linux_init();
  pulse(4);
  EXPECT_EQ(pic.acknowledge(), 0x24);
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(master_isr(), 0x12);
  out(kMasterCmd, kSpecificEoi | 4);
  EXPECT_EQ(master_isr(), 0x02);
  out(kMasterCmd, kSpecificEoi | 1);
  EXPECT_EQ(master_isr(), 0x00);
}

TEST_F(PicTest, CascadeThroughIr2) {
  linux_init();
  pulse(10);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x2a);
  EXPECT_EQ(master_isr(), 0x04);
  EXPECT_EQ(slave_isr(), 0x04);
  EXPECT_FALSE(pic.interrupt_pending());
  // Linux's mask_and_ack_8259A: EOI the slave, then the master.
  out(kSlaveCmd, kSpecificEoi | 2);
  out(kMasterCmd, kSpecificEoi | 2);
  EXPECT_EQ(master_isr(), 0x00);
  EXPECT_EQ(slave_isr(), 0x00);
  EXPECT_FALSE(pic.interrupt_pending());
}

TEST_F(PicTest, SlaveRequestsQueueBehindTheCascade) {
  linux_init();
  pulse(8);
  pulse(12);
  EXPECT_EQ(pic.acknowledge(), 0x28);
  EXPECT_FALSE(pic.interrupt_pending());
  out(kSlaveCmd, kNonSpecificEoi);
  // The slave now presents IRQ 12, but the master still has IR2 in service.
  EXPECT_FALSE(pic.interrupt_pending());
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x2c);
}

TEST_F(PicTest, MasterMaskOfIr2BlocksTheSlave) {
  linux_init();
  out(kMasterData, 0x04);
  pulse(9);
  EXPECT_FALSE(pic.interrupt_pending());
  out(kMasterData, 0x00);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x29);
}

TEST_F(PicTest, AcknowledgeWithoutRequestIsSpuriousIrq7) {
  linux_init();
  EXPECT_EQ(pic.acknowledge(), 0x27);
  EXPECT_EQ(master_isr(), 0x00);
  // A request masked between INTR and INTA.
  pulse(3);
  EXPECT_TRUE(pic.interrupt_pending());
  out(kMasterData, 0x08);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x27);
  EXPECT_EQ(master_isr(), 0x00);
}

TEST_F(PicTest, LevelRequestGoneBeforeAckIsSpurious) {
  linux_init();
  out(kElcr1, 0x20);  // IRQ 5 level-triggered.
  pic.set_irq(5, true);
  EXPECT_TRUE(pic.interrupt_pending());
  pic.set_irq(5, false);
  EXPECT_FALSE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x27);
  EXPECT_EQ(master_isr(), 0x00);
}

TEST_F(PicTest, SlaveSpuriousIrq15SetsMasterIsr2) {
  linux_init();
  out(kElcr2, 0x04);  // IRQ 10 level-triggered.
  pic.set_irq(10, true);
  EXPECT_TRUE(pic.interrupt_pending());
  // The slave's request goes away; the master has latched the IR2 edge.
  pic.set_irq(10, false);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x2f);
  EXPECT_EQ(slave_isr(), 0x00);
  EXPECT_EQ(master_isr(), 0x04);
}

TEST_F(PicTest, ReadRegisterSelectSticks) {
  linux_init();
  out(kMasterData, 0x80);
  pulse(7);
  out(kMasterCmd, kReadIsr);
  EXPECT_EQ(in(kMasterCmd), 0x00);
  EXPECT_EQ(in(kMasterCmd), 0x00);
  out(kMasterCmd, kReadIrr);
  EXPECT_EQ(in(kMasterCmd), 0x80);
  EXPECT_EQ(in(kMasterCmd), 0x80);
  // OCW3 without RR leaves the selection alone.
  out(kMasterCmd, 0x08);
  EXPECT_EQ(in(kMasterCmd), 0x80);
}

TEST_F(PicTest, PollCommandActsAsAcknowledge) {
  linux_init();
  pulse(6);
  out(kMasterCmd, kPoll);
  EXPECT_EQ(in(kMasterCmd), 0x86);
  EXPECT_EQ(master_isr(), 0x40);
  out(kMasterCmd, kNonSpecificEoi);
  out(kMasterCmd, kPoll);
  EXPECT_EQ(in(kMasterCmd), 0x00);  // No request: I = 0.
}

TEST_F(PicTest, ElcrMasksAndLevelTriggering) {
  linux_init();
  out(kElcr1, 0xff);
  out(kElcr2, 0xff);
  EXPECT_EQ(in(kElcr1), 0xf8);  // IRQ 0-2 stay edge.
  EXPECT_EQ(in(kElcr2), 0xde);  // IRQ 8 and 13 stay edge.
  EXPECT_EQ(bus.pio_read(kElcr1, 2), 0xdef8u);
  // A level-triggered line requests again after EOI while it is still high.
  pic.set_irq(11, true);
  EXPECT_EQ(pic.acknowledge(), 0x2b);
  out(kSlaveCmd, kNonSpecificEoi);
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x2b);
  // The handler services the device (the line falls), then sends the EOIs.
  pic.set_irq(11, false);
  out(kSlaveCmd, kNonSpecificEoi);
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_FALSE(pic.interrupt_pending());
}

TEST_F(PicTest, SetPriorityRotates) {
  linux_init();
  out(kMasterCmd, kSetPriority | 3);  // IR3 lowest, IR4 highest.
  pulse(0);
  pulse(5);
  EXPECT_EQ(pic.acknowledge(), 0x25);
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(pic.acknowledge(), 0x20);
}

TEST_F(PicTest, RotateOnEoiMakesServedLevelLowest) {
  linux_init();
  pulse(1);
  pulse(2 + 1);  // IRQ 3.
  EXPECT_EQ(pic.acknowledge(), 0x21);
  out(kMasterCmd, kRotateNonSpecificEoi);  // IR1 becomes lowest.
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x23);  // IR3 now outranks IR1.
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(pic.acknowledge(), 0x21);
}

TEST_F(PicTest, AutoEoiLeavesIsrClear) {
  linux_init(0x03);
  pulse(4);
  EXPECT_EQ(pic.acknowledge(), 0x24);
  EXPECT_EQ(master_isr(), 0x00);
  pulse(5);
  EXPECT_TRUE(pic.interrupt_pending());  // Nothing in service blocks it.
}

TEST_F(PicTest, SpecialMaskModeLetsLowerLevelsIn) {
  linux_init();
  pulse(1);
  EXPECT_EQ(pic.acknowledge(), 0x21);
  pulse(5);
  EXPECT_FALSE(pic.interrupt_pending());
  out(kMasterData, 0x02);           // Mask the level in service...
  out(kMasterCmd, kSetSpecialMask);  // ...and enable special mask mode.
  EXPECT_TRUE(pic.interrupt_pending());
  EXPECT_EQ(pic.acknowledge(), 0x25);
  out(kMasterCmd, kClearSpecialMask);
  EXPECT_EQ(master_isr(), 0x22);
}

TEST_F(PicTest, IntrCallbackFollowsTheOutput) {
  linux_init();
  intr_changes.clear();
  pulse(0);
  pic.acknowledge();
  out(kMasterCmd, kNonSpecificEoi);
  EXPECT_EQ(intr_changes, (std::vector<bool>{true, false}));
}

TEST_F(PicTest, ReinitialisationNeedsAFreshEdge) {
  linux_init();
  pic.set_irq(4, true);
  EXPECT_TRUE(pic.interrupt_pending());
  linux_init();  // ICW1 resets the edge sense circuit.
  EXPECT_FALSE(pic.interrupt_pending());
  pic.set_irq(4, false);
  pic.set_irq(4, true);
  EXPECT_TRUE(pic.interrupt_pending());
}

TEST_F(PicTest, CascadeLineIsNotADeviceLine) {
  linux_init();
  pic.set_irq(2, true);
  pic.set_irq(16, true);
  EXPECT_FALSE(pic.interrupt_pending());
}

}  // namespace
}  // namespace vmm
