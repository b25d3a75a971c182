/* Runs a generated sequence on the real CPU, in a 32-bit Linux process
 * (built with -m32; CPL 3, flat segments with base 0 except FS/GS).
 *
 *   vmm_diff_native IN OUT
 *
 * IN:  uint32 gpr[8] (EAX..EDI), eflags, end_eip, then code (4 KiB at
 *      0x1000), data (0x20000 bytes at 0x8000), stack (0x10000 at 0x70000).
 * OUT: int32 vector (-1: none), uint32 gpr[8], eip, eflags, data, stack.
 *
 * The caller replaces FS/GS overrides by DS ones (their bases are not 0
 * here). The final HLT is overwritten by a JMP to exit_guest, which saves
 * the registers without touching guest memory. Exceptions arrive as signals
 * (on an alternate stack), whose context gives registers and trap number. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define CODE_BASE 0x1000u
#define CODE_SIZE 0x1000u
#define DATA_BASE 0x8000u
#define DATA_SIZE 0x20000u
#define STACK_BASE 0x70000u
#define STACK_SIZE 0x10000u

/* Guest entry context, in POPAL order (EDI ESI EBP ESP EBX EDX ECX EAX) then EFLAGS. */
uint32_t ctx_in[9];
uint32_t guest_esp, guest_eip, host_esp, out_esp;
/* Guest exit context, in PUSHAL order as stored (EDI .. EAX) then EFLAGS. */
uint32_t out_frame[9];

void enter_guest(void);
void exit_guest(void);
__asm__(
    ".text\n"
    ".globl enter_guest\n"
    "enter_guest:\n"
    "  pushal\n"
    "  movl %esp, host_esp\n"
    "  movl $ctx_in, %esp\n"
    "  popal\n"
    "  popfl\n"
    "  movl guest_esp, %esp\n"
    "  jmp *guest_eip\n"
    ".globl exit_guest\n"
    "exit_guest:\n"
    "  movl %esp, out_esp\n"
    "  movl $out_frame+36, %esp\n"
    "  pushfl\n"
    "  pushal\n"
    "  cld\n"
    "  movl host_esp, %esp\n"
    "  popal\n"
    "  ret\n");

static sigjmp_buf jb;
static int vector = -1;
static uint32_t sig_gpr[8], sig_eip, sig_efl;

static void on_signal(int sig, siginfo_t* si, void* uctx) {
  (void)si;
  ucontext_t* uc = (ucontext_t*)uctx;
  greg_t* g = uc->uc_mcontext.gregs;
  vector = (int)g[REG_TRAPNO];
  if (sig == SIGFPE && vector != 0 && vector != 16) vector = 0;
  sig_gpr[0] = g[REG_EAX];
  sig_gpr[1] = g[REG_ECX];
  sig_gpr[2] = g[REG_EDX];
  sig_gpr[3] = g[REG_EBX];
  sig_gpr[4] = g[REG_ESP];
  sig_gpr[5] = g[REG_EBP];
  sig_gpr[6] = g[REG_ESI];
  sig_gpr[7] = g[REG_EDI];
  sig_eip = g[REG_EIP];
  sig_efl = g[REG_EFL];
  siglongjmp(jb, 1);
}

static void* map_at(uint32_t addr, uint32_t size) {
  void* p = mmap((void*)(uintptr_t)addr, size, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (void*)(uintptr_t)addr) {
    fprintf(stderr, "vmm_diff_native: cannot map 0x%x\n", addr);
    exit(2);
  }
  return p;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: vmm_diff_native IN OUT\n");
    return 2;
  }
  FILE* in = fopen(argv[1], "rb");
  if (!in) return 2;
  uint32_t hdr[10];
  uint8_t* code = map_at(CODE_BASE, CODE_SIZE);
  uint8_t* data = map_at(DATA_BASE, DATA_SIZE);
  uint8_t* stack = map_at(STACK_BASE, STACK_SIZE);
  if (fread(hdr, 4, 10, in) != 10 || fread(code, 1, CODE_SIZE, in) != CODE_SIZE ||
      fread(data, 1, DATA_SIZE, in) != DATA_SIZE || fread(stack, 1, STACK_SIZE, in) != STACK_SIZE)
    return 2;
  fclose(in);
  const uint32_t end = hdr[9];
  const int32_t rel = (int32_t)((uint32_t)(uintptr_t)&exit_guest - (end + 5));
  code[end - CODE_BASE] = 0xE9;
  memcpy(code + end - CODE_BASE + 1, &rel, 4);

  static uint8_t altstack[65536];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGTRAP, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);

  /* POPAL order: EDI ESI EBP ESP EBX EDX ECX EAX. */
  ctx_in[0] = hdr[7];
  ctx_in[1] = hdr[6];
  ctx_in[2] = hdr[5];
  ctx_in[3] = hdr[4];
  ctx_in[4] = hdr[3];
  ctx_in[5] = hdr[2];
  ctx_in[6] = hdr[1];
  ctx_in[7] = hdr[0];
  ctx_in[8] = hdr[8];
  guest_esp = hdr[4];
  guest_eip = CODE_BASE;

  int32_t vec = -1;
  uint32_t gpr[8], eip, efl;
  if (sigsetjmp(jb, 1) == 0) {
    enter_guest();
    for (int i = 0; i < 8; ++i) gpr[i] = out_frame[7 - i];
    gpr[4] = out_esp;
    eip = end;
    efl = out_frame[8];
  } else {
    vec = vector;
    memcpy(gpr, sig_gpr, sizeof gpr);
    eip = sig_eip;
    efl = sig_efl;
  }
  FILE* out = fopen(argv[2], "wb");
  if (!out) return 2;
  fwrite(&vec, 4, 1, out);
  fwrite(gpr, 4, 8, out);
  fwrite(&eip, 4, 1, out);
  fwrite(&efl, 4, 1, out);
  fwrite(data, 1, DATA_SIZE, out);
  fwrite(stack, 1, STACK_SIZE, out);
  fclose(out);
  return 0;
}
