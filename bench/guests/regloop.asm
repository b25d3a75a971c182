; Register-only loop: 6 instructions per iteration, ITERS iterations.
; Measures the engine's speed on ALU instructions with no memory operands.
%ifndef ITERS
%define ITERS 50000000
%endif
org 0x100000
%include "multiboot_aout.inc"
mb_entry:
    mov ecx, ITERS
    xor eax, eax
    mov ebx, 0x12345
    xor edx, edx
    xor esi, esi
    xor edi, edi
.loop:
    add eax, ebx
    xor edx, eax
    sub esi, 3
    inc edi
    dec ecx
    jnz .loop
    EXIT 0
mb_load_end:
mb_bss_end:
