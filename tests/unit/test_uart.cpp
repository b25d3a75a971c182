// Uart16550 at COM1, driven through the Bus the way a guest driver does.
// Register and bit values are written out from the PC16550D datasheet here,
// independently of the implementation's own constants.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "devices/bus.h"
#include "devices/uart16550.h"

namespace vmm {
namespace {

constexpr uint16_t kCom1 = 0x3f8;

// Register offsets (Table II).
constexpr uint16_t kRbr = 0, kThr = 0, kDll = 0;
constexpr uint16_t kIer = 1, kDlm = 1;
constexpr uint16_t kIir = 2, kFcr = 2;
constexpr uint16_t kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

// IER.
constexpr uint8_t kIerRda = 0x01, kIerThre = 0x02, kIerRls = 0x04, kIerMs = 0x08;
// IIR (without the FIFO bits 7:6).
constexpr uint8_t kIirNone = 0x01, kIirRls = 0x06, kIirRda = 0x04, kIirTimeout = 0x0c, kIirThre = 0x02,
                  kIirMs = 0x00;
constexpr uint8_t kIirFifo = 0xc0;
// FCR.
constexpr uint8_t kFcrEnable = 0x01, kFcrRxReset = 0x02, kFcrTxReset = 0x04, kFcrTrigger4 = 0x40,
                  kFcrTrigger14 = 0xc0;
// LCR.
constexpr uint8_t kLcr8N1 = 0x03, kLcrDlab = 0x80;
// MCR.
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
// LSR.
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
// MSR.
constexpr uint8_t kMsrDcts = 0x01, kMsrDdsr = 0x02, kMsrTeri = 0x04, kMsrDdcd = 0x08, kMsrCts = 0x10,
                  kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

class UartTest : public ::testing::Test {
 protected:
  UartTest() : uart([this](uint8_t b) { output.push_back(static_cast<char>(b)); }) {
    uart.irq = [this](bool level) { irq_changes.push_back(level); };
    bus.register_pio(kCom1, Uart16550::kPortCount, &uart);
  }

  uint8_t in(uint16_t reg) { return static_cast<uint8_t>(bus.pio_read(kCom1 + reg, 1)); }
  void out(uint16_t reg, uint8_t value) { bus.pio_write(kCom1 + reg, 1, value); }
  void send(const std::string& s) {
    for (char c : s) uart.receive(static_cast<uint8_t>(c));
  }

  Bus bus;
  Uart16550 uart;
  std::string output;
  std::vector<bool> irq_changes;
};

TEST_F(UartTest, ResetState) {
  EXPECT_EQ(in(kIer), 0x00);
  EXPECT_EQ(in(kIir), kIirNone);
  EXPECT_EQ(in(kLcr), 0x00);
  EXPECT_EQ(in(kMcr), 0x00);
  EXPECT_EQ(in(kLsr), kLsrThre | kLsrTemt);
  // The host side looks like a connected terminal: CTS, DSR, DCD asserted.
  EXPECT_EQ(in(kMsr), kMsrCts | kMsrDsr | kMsrDcd);
  EXPECT_FALSE(uart.irq_level());
  EXPECT_TRUE(irq_changes.empty());
  EXPECT_EQ(bus.unhandled_reads(), 0u);
}

TEST_F(UartTest, DivisorLatchIsBehindDlab) {
  out(kLcr, kLcrDlab | kLcr8N1);
  out(kDll, 0x01);  // 115200 baud.
  out(kDlm, 0x00);
  EXPECT_EQ(in(kDll), 0x01);
  EXPECT_EQ(in(kDlm), 0x00);
  out(kDll, 0x80);
  out(kDlm, 0x01);
  EXPECT_EQ(in(kDll), 0x80);
  EXPECT_EQ(in(kDlm), 0x01);
  EXPECT_EQ(in(kLcr), kLcrDlab | kLcr8N1);

  // With DLAB set, offset 0 and 1 writes touch only the latch.
  EXPECT_TRUE(output.empty());
  out(kLcr, kLcr8N1);
  EXPECT_EQ(in(kIer), 0x00);
  EXPECT_EQ(in(kLcr), kLcr8N1);

  // And with DLAB clear, IER writes leave the latch alone.
  out(kIer, kIerRda);
  out(kLcr, kLcrDlab | kLcr8N1);
  EXPECT_EQ(in(kDll), 0x80);
  EXPECT_EQ(in(kDlm), 0x01);
  out(kLcr, kLcr8N1);
  EXPECT_EQ(in(kIer), kIerRda);
}

TEST_F(UartTest, WordAccessReadsConsecutiveRegisters) {
  out(kLcr, kLcrDlab);
  out(kDll, 0x34);
  out(kDlm, 0x12);
  EXPECT_EQ(bus.pio_read(kCom1 + kDll, 2), 0x1234u);
  bus.pio_write(kCom1 + kDll, 2, 0x0c00);
  EXPECT_EQ(in(kDll), 0x00);
  EXPECT_EQ(in(kDlm), 0x0c);
}

TEST_F(UartTest, AccessPastLastRegisterFloatsHigh) {
  out(kScr, 0x5a);
  EXPECT_EQ(bus.pio_read(kCom1 + kScr, 2), 0xff5au);
}

TEST_F(UartTest, ThrBytesGoToTheOutputSink) {
  out(kLcr, kLcr8N1);
  for (char c : std::string("Hello\n")) out(kThr, static_cast<uint8_t>(c));
  EXPECT_EQ(output, "Hello\n");
  // Transmission is instant: the transmitter is empty again at once.
  EXPECT_EQ(in(kLsr) & (kLsrThre | kLsrTemt), kLsrThre | kLsrTemt);
}

TEST_F(UartTest, ReservedBitsReadAsZero) {
  out(kIer, 0xff);
  EXPECT_EQ(in(kIer), 0x0f);
  out(kMcr, 0xff);
  EXPECT_EQ(in(kMcr), 0x1f);
}

TEST_F(UartTest, ScratchRegisterHoldsAnyValue) {
  for (int v : {0x00, 0x55, 0xaa, 0xff}) {
    out(kScr, static_cast<uint8_t>(v));
    EXPECT_EQ(in(kScr), v);
  }
  // The scratch register survives a master reset (it is not in the
  // datasheet's reset table).
  out(kScr, 0x42);
  uart.reset();
  EXPECT_EQ(in(kScr), 0x42);
}

TEST_F(UartTest, ReceivedBytesAreReadFromRbrInOrder) {
  out(kFcr, kFcrEnable);
  EXPECT_TRUE(uart.can_receive());
  send("abc");
  EXPECT_EQ(in(kLsr) & kLsrDr, kLsrDr);
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_EQ(in(kRbr), 'b');
  EXPECT_EQ(in(kLsr) & kLsrDr, kLsrDr);
  EXPECT_EQ(in(kRbr), 'c');
  EXPECT_EQ(in(kLsr) & kLsrDr, 0);
}

TEST_F(UartTest, ReceiveFifoHolds16BytesThenOverruns) {
  out(kFcr, kFcrEnable | kFcrRxReset | kFcrTxReset);
  for (int i = 0; i < 16; ++i) uart.receive(static_cast<uint8_t>('A' + i));
  EXPECT_FALSE(uart.can_receive());
  EXPECT_EQ(in(kLsr) & kLsrOe, 0);
  uart.receive('!');  // Lost: the FIFO keeps its contents.
  uint8_t lsr = in(kLsr);
  EXPECT_EQ(lsr & kLsrOe, kLsrOe);
  EXPECT_EQ(lsr & kLsrDr, kLsrDr);
  EXPECT_EQ(in(kLsr) & kLsrOe, 0) << "reading LSR clears OE";
  for (int i = 0; i < 16; ++i) EXPECT_EQ(in(kRbr), 'A' + i);
  EXPECT_EQ(in(kLsr) & kLsrDr, 0);
  EXPECT_TRUE(uart.can_receive());
}

TEST_F(UartTest, CharacterModeHoldsOneByteAndOverwritesOnOverrun) {
  // 16450 mode (FIFO disabled): RBR holds a single character.
  uart.receive('x');
  EXPECT_FALSE(uart.can_receive());
  uart.receive('y');
  uint8_t lsr = in(kLsr);
  EXPECT_EQ(lsr & (kLsrOe | kLsrDr), kLsrOe | kLsrDr);
  EXPECT_EQ(in(kRbr), 'y');
  EXPECT_EQ(in(kLsr) & kLsrDr, 0);
}

TEST_F(UartTest, FifoResetDiscardsReceivedData) {
  out(kFcr, kFcrEnable);
  send("xyz");
  out(kFcr, kFcrEnable | kFcrRxReset);
  EXPECT_EQ(in(kLsr) & kLsrDr, 0);
  send("q");
  EXPECT_EQ(in(kRbr), 'q');
}

TEST_F(UartTest, LeavingFifoModeClearsTheFifo) {
  out(kFcr, kFcrEnable);
  send("xyz");
  out(kFcr, 0);
  EXPECT_EQ(in(kLsr) & kLsrDr, 0);
}

TEST_F(UartTest, IirFifoBitsFollowFcrEnable) {
  EXPECT_EQ(in(kIir) & kIirFifo, 0);
  out(kFcr, kFcrEnable);
  EXPECT_EQ(in(kIir), kIirFifo | kIirNone);
  out(kFcr, 0);
  EXPECT_EQ(in(kIir), kIirNone);
  // Other bits are only programmed together with the enable bit.
  out(kFcr, kFcrTrigger14);
  EXPECT_EQ(in(kIir) & kIirFifo, 0);
}

TEST_F(UartTest, LoopbackSendsTransmittedBytesToTheReceiver) {
  out(kFcr, kFcrEnable);
  out(kMcr, kMcrLoop);
  out(kThr, 0x5a);
  out(kThr, 0xa5);
  EXPECT_TRUE(output.empty()) << "serial output is held marking in loopback";
  EXPECT_EQ(in(kLsr) & kLsrDr, kLsrDr);
  EXPECT_EQ(in(kRbr), 0x5a);
  EXPECT_EQ(in(kRbr), 0xa5);

  // The serial input is disconnected meanwhile.
  EXPECT_FALSE(uart.can_receive());
  uart.receive('z');
  EXPECT_EQ(in(kLsr) & kLsrDr, 0);

  out(kMcr, 0);
  out(kThr, 'k');
  EXPECT_EQ(output, "k");
  EXPECT_TRUE(uart.can_receive());
}

TEST_F(UartTest, LoopbackDrivesModemStatusFromMcr) {
  // The Linux 8250 driver's probe: loopback with OUT2 and RTS must read back
  // as DCD and CTS.
  out(kMcr, kMcrLoop | kMcrOut2 | kMcrRts);
  EXPECT_EQ(in(kMsr) & 0xf0, kMsrDcd | kMsrCts);
  out(kMcr, kMcrLoop | kMcrDtr | kMcrRts | kMcrOut1 | kMcrOut2);
  EXPECT_EQ(in(kMsr) & 0xf0, kMsrCts | kMsrDsr | kMsrRi | kMsrDcd);
  out(kMcr, kMcrLoop);
  EXPECT_EQ(in(kMsr) & 0xf0, 0);
  out(kMcr, 0);
  EXPECT_EQ(in(kMsr) & 0xf0, kMsrCts | kMsrDsr | kMsrDcd);
}

TEST_F(UartTest, ModemStatusDeltasAreSetOnChangeAndClearedByRead) {
  out(kMcr, kMcrLoop);  // CTS, DSR, DCD drop.
  EXPECT_EQ(in(kMsr), kMsrDcts | kMsrDdsr | kMsrDdcd);
  EXPECT_EQ(in(kMsr), 0x00);
  out(kMcr, kMcrLoop | kMcrOut1);  // RI rises: no delta (only its trailing edge counts).
  EXPECT_EQ(in(kMsr), kMsrRi);
  out(kMcr, kMcrLoop);  // RI falls.
  EXPECT_EQ(in(kMsr), kMsrTeri);
  out(kMcr, kMcrLoop | kMcrRts);
  EXPECT_EQ(in(kMsr), kMsrDcts | kMsrCts);
}

TEST_F(UartTest, ThreInterruptRaisedWhenEnabledWithEmptyThr) {
  out(kIer, kIerThre);
  EXPECT_TRUE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirThre);
  // Reading IIR while THRE is the reported source clears it.
  EXPECT_FALSE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirNone);
  EXPECT_EQ(irq_changes, (std::vector<bool>{true, false}));
}

TEST_F(UartTest, WritingThrRearmsThreInterruptWithAnEdge) {
  out(kIer, kIerThre);
  EXPECT_EQ(in(kIir), kIirThre);
  irq_changes.clear();
  out(kThr, 'x');
  // The byte leaves at once, THR is empty again and THRE is pending anew.
  EXPECT_EQ(irq_changes, (std::vector<bool>{true}));
  // Writing THR while the interrupt is still pending resets it and the
  // transmission sets it again: a low-high pulse, so an edge-triggered PIC
  // sees a new request.
  out(kThr, 'y');
  EXPECT_EQ(irq_changes, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(in(kIir), kIirThre);
  EXPECT_EQ(output, "xy");
}

TEST_F(UartTest, ReenablingThreInterruptRaisesItAgain) {
  out(kIer, kIerThre);
  EXPECT_EQ(in(kIir), kIirThre);
  EXPECT_EQ(in(kIir), kIirNone);
  out(kIer, 0);
  out(kIer, kIerThre);
  EXPECT_EQ(in(kIir), kIirThre);
}

TEST_F(UartTest, DisablingThreInterruptLowersTheLine) {
  out(kIer, kIerThre);
  EXPECT_TRUE(uart.irq_level());
  out(kIer, 0);
  EXPECT_FALSE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirNone);
}

TEST_F(UartTest, NoThreInterruptWhileDisabled) {
  out(kThr, 'a');
  EXPECT_EQ(in(kIir), kIirNone);
  EXPECT_TRUE(irq_changes.empty());
}

TEST_F(UartTest, ReceivedDataInterruptFollowsDataReady) {
  out(kIer, kIerRda);
  EXPECT_FALSE(uart.irq_level());
  uart.receive('a');
  EXPECT_TRUE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirRda);
  EXPECT_TRUE(uart.irq_level()) << "reading IIR does not clear received data";
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_FALSE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirNone);
  EXPECT_EQ(irq_changes, (std::vector<bool>{true, false}));
}

TEST_F(UartTest, IrqCallbackFiresOnlyOnLevelChanges) {
  out(kFcr, kFcrEnable);
  out(kIer, kIerRda);
  send("abcd");
  EXPECT_EQ(irq_changes, (std::vector<bool>{true}));
  in(kRbr);
  in(kRbr);
  in(kRbr);
  EXPECT_EQ(irq_changes, (std::vector<bool>{true}));
  in(kRbr);
  EXPECT_EQ(irq_changes, (std::vector<bool>{true, false}));
}

TEST_F(UartTest, FifoTriggerLevelAndCharacterTimeout) {
  out(kFcr, kFcrEnable | kFcrTrigger4);
  out(kIer, kIerRda);
  uart.receive('1');
  // Below the trigger level the data is reported as a character timeout.
  EXPECT_EQ(in(kIir), kIirFifo | kIirTimeout);
  send("234");
  EXPECT_EQ(in(kIir), kIirFifo | kIirRda);
  EXPECT_EQ(in(kRbr), '1');
  EXPECT_EQ(in(kIir), kIirFifo | kIirTimeout);
  in(kRbr);
  in(kRbr);
  EXPECT_TRUE(uart.irq_level());
  in(kRbr);
  EXPECT_EQ(in(kIir), kIirFifo | kIirNone);
  EXPECT_FALSE(uart.irq_level());
}

TEST_F(UartTest, OverrunRaisesLineStatusInterruptClearedByLsrRead) {
  out(kIer, kIerRls);
  uart.receive('a');
  EXPECT_FALSE(uart.irq_level());
  uart.receive('b');
  EXPECT_TRUE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirRls);
  EXPECT_EQ(in(kLsr) & kLsrOe, kLsrOe);
  EXPECT_FALSE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirNone);
}

TEST_F(UartTest, InterruptPriorities) {
  out(kFcr, kFcrEnable);
  out(kIer, kIerRda | kIerThre | kIerRls | kIerMs);
  // THR empty is pending from the enable.
  EXPECT_TRUE(uart.irq_level());

  // Modem status (lowest) plus THRE: THRE wins, but don't read IIR yet.
  out(kMcr, kMcrLoop);
  // Received data outranks THRE; overrun (line status) outranks both.
  for (int i = 0; i < 17; ++i) uart.receive(static_cast<uint8_t>(i));  // Dropped: loopback.
  out(kThr, 1);  // Loopback: goes to the receiver.
  for (int i = 0; i < 16; ++i) out(kThr, static_cast<uint8_t>(i));  // The 17th overruns.

  EXPECT_EQ(in(kIir), kIirFifo | kIirRls);
  EXPECT_EQ(in(kIir), kIirFifo | kIirRls) << "IIR reads do not clear line status";
  in(kLsr);
  EXPECT_EQ(in(kIir), kIirFifo | kIirRda);
  for (int i = 0; i < 16; ++i) in(kRbr);
  // THR was written since IIR last reported THRE, so THRE is pending.
  EXPECT_EQ(in(kIir), kIirFifo | kIirThre);
  // That read cleared THRE; modem status is what remains.
  EXPECT_EQ(in(kIir), kIirFifo | kIirMs);
  EXPECT_TRUE(uart.irq_level());
  in(kMsr);
  EXPECT_EQ(in(kIir), kIirFifo | kIirNone);
  EXPECT_FALSE(uart.irq_level());
}

TEST_F(UartTest, IirReadDoesNotClearThreWhenHigherPriorityIsReported) {
  out(kIer, kIerRda | kIerThre);
  uart.receive('a');
  EXPECT_EQ(in(kIir), kIirRda);
  EXPECT_EQ(in(kRbr), 'a');
  EXPECT_EQ(in(kIir), kIirThre);
  EXPECT_EQ(in(kIir), kIirNone);
}

TEST_F(UartTest, ModemStatusInterruptNeedsEnable) {
  out(kMcr, kMcrLoop | kMcrRts);
  EXPECT_FALSE(uart.irq_level());
  out(kIer, kIerMs);
  EXPECT_TRUE(uart.irq_level());
  EXPECT_EQ(in(kIir), kIirMs);
  in(kMsr);
  EXPECT_FALSE(uart.irq_level());
}

TEST_F(UartTest, ResetLowersInterruptAndRestoresRegisters) {
  out(kLcr, kLcr8N1);
  out(kMcr, kMcrDtr | kMcrRts | kMcrOut2);
  out(kFcr, kFcrEnable);
  out(kIer, kIerThre);
  send("abc");
  EXPECT_TRUE(uart.irq_level());
  uart.reset();
  EXPECT_FALSE(uart.irq_level());
  EXPECT_EQ(in(kIer), 0);
  EXPECT_EQ(in(kIir), kIirNone);
  EXPECT_EQ(in(kLcr), 0);
  EXPECT_EQ(in(kMcr), 0);
  EXPECT_EQ(in(kLsr), kLsrThre | kLsrTemt);
}

}  // namespace
}  // namespace vmm
