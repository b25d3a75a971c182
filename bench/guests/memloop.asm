; Memory-heavy loop: per iteration a load, a read-modify-write and a store
; into two 64 KiB arrays, 7 instructions, ITERS iterations in total.
%ifndef ITERS
%define ITERS 8000000
%endif
org 0x100000
%include "multiboot_aout.inc"
mb_entry:
    mov edx, ITERS / 16384
.outer:
    mov ecx, 16384
    mov esi, src
    mov edi, dst
.loop:
    mov eax, [esi + ecx*4 - 4]
    add [edi + ecx*4 - 4], eax
    mov [esi + ecx*4 - 4], ebx
    add ebx, eax
    lea ebx, [ebx + 1]
    dec ecx
    jnz .loop
    dec edx
    jnz .outer
    EXIT 0
mb_load_end:
align 4096
src: resb 65536
dst: resb 65536
mb_bss_end:
