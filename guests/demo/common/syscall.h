/*
 * syscall.h - the system call interface of the demo kernel, shared by the
 * kernel (kernel/) and the user programs (user/).
 *
 * A ring-3 task enters the kernel with INT 0x80 (an interrupt gate with
 * DPL 3): EAX = call number, EBX/ECX/EDX = arguments; the result comes back
 * in EAX.  Negative results are errors.
 */
#ifndef DEMO_SYSCALL_H
#define DEMO_SYSCALL_H

#define SYSCALL_VECTOR 0x80

#define SYS_WRITE  1    /* write(buf, len): to the task's console; returns len  */
#define SYS_YIELD  2    /* yield(): go to the back of the ready queue           */
#define SYS_EXIT   3    /* exit(code): does not return                          */
#define SYS_SLEEP  4    /* sleep(ticks): block until the tick count reaches now + ticks */
#define SYS_GETPID 5    /* getpid(): the task number (1..)                       */
#define SYS_TICKS  6    /* ticks(): timer ticks since boot                       */

#define E_FAULT   (-14) /* a bad user pointer */
#define E_NOSYS   (-38) /* no such call */

/* The user address space (identical layout in every task; the kernel
 * occupies 0 .. 16 MiB, supervisor-only). */
#define USER_BASE        0x40000000u  /* programs are linked here */
#define USER_HEAP_BASE   0x50000000u  /* demand-paged heap ...    */
#define USER_HEAP_END    0x50100000u  /* ... 1 MiB               */
#define USER_STACK_TOP   0xc0000000u  /* one page mapped at start */
#define USER_STACK_LIMIT 0xbfff0000u  /* stack grows on demand down to here (64 KiB) */

#endif /* DEMO_SYSCALL_H */
