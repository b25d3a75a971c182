# GuestBuild.cmake - helpers that build guest programs (multiboot kernels)
# and their native 32-bit Linux reference builds.
#
# Guests are compiled by invoking the C compiler directly with -m32 from
# add_custom_command rather than through add_executable: the rest of the
# project targets the host (x86-64, -Wall -Wextra, optionally sanitizers), and
# none of those target-wide settings may leak into a freestanding i386 kernel.
#
# Included from tests/guests and guests/ (and usable from bench/):
#
#   vmm_add_guest(<target> OUTPUT <file.elf> SOURCES <src>... [DEFINES <d>...]
#                 [FPU])
#       builds <file.elf> from the given C/asm sources plus the runtime in
#       tests/guests/lib; <target> is an ALL target that produces it.  FPU:
#       the program uses the x87 from C, so it is built without
#       -mgeneral-regs-only and with GUEST_FPU defined, which makes crt0.S
#       set up CR0 and FNINIT before guest_main.
#   vmm_add_guest_native(<target> OUTPUT <file> SOURCES <src>... [DEFINES ...])
#       builds the same program sources as a hosted 32-bit Linux program.
# Variables are directory-scoped, so every including directory runs this file.
include_guard(DIRECTORY)

set(VMM_GUEST_LIB_DIR ${CMAKE_CURRENT_LIST_DIR}/lib)
set(VMM_GUEST_CC ${CMAKE_C_COMPILER} CACHE FILEPATH
    "C compiler used (with -m32) for guest programs and their native references")

# Code generation shared by guests and native references, so that both run
# the same algorithms compiled the same way.  i686 is the baseline the VMM
# models (CMOV, no SSE needed).
set(VMM_GUEST_COMMON_FLAGS -m32 -march=i686 -O2 -g -Wall -Wextra
    -fno-asynchronous-unwind-tables -fno-unwind-tables)

# Guest-only: no libc, no PIC, no stack protector (no TLS canary in a bare
# machine), and no x87/SSE/MMX registers at all: the guests are integer-only
# so that they depend on nothing but the integer ISA.
set(VMM_GUEST_CFLAGS ${VMM_GUEST_COMMON_FLAGS}
    -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mgeneral-regs-only
    -I${VMM_GUEST_LIB_DIR})
set(VMM_GUEST_LDFLAGS -nostdlib -static -no-pie
    -Wl,-T,${VMM_GUEST_LIB_DIR}/guest.ld -Wl,--build-id=none
    -Wl,-z,max-page-size=4096)

set(VMM_GUEST_RUNTIME
    ${VMM_GUEST_LIB_DIR}/crt0.S
    ${VMM_GUEST_LIB_DIR}/io.c
    ${VMM_GUEST_LIB_DIR}/string.c
    ${VMM_GUEST_LIB_DIR}/libgcc.c)
# Everything a guest build depends on besides its own sources.
set(VMM_GUEST_RUNTIME_DEPS ${VMM_GUEST_RUNTIME}
    ${VMM_GUEST_LIB_DIR}/io.h
    ${VMM_GUEST_LIB_DIR}/guest.ld)

# Fail at configure time, with a clear message, when the compiler cannot
# produce 32-bit code: every guest test would fail later otherwise.
function(_vmm_guest_check_toolchain)
  if(DEFINED CACHE{VMM_GUEST_TOOLCHAIN_OK})
    return()
  endif()
  set(dir ${CMAKE_BINARY_DIR}/CMakeFiles/vmm_guest_check)
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/free.c "int guest_main(void) { return 0; }\n")
  file(WRITE ${dir}/hosted.c
       "#include <stdio.h>\nint main(void) { printf(\"ok\\n\"); return 0; }\n")

  execute_process(
    COMMAND ${VMM_GUEST_CC} ${VMM_GUEST_CFLAGS} ${VMM_GUEST_LDFLAGS}
            ${VMM_GUEST_RUNTIME} ${dir}/free.c -o ${dir}/free.elf
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR
      "Guest programs: '${VMM_GUEST_CC} -m32' cannot build a freestanding "
      "i386 kernel:\n${out}\n"
      "Install a compiler with 32-bit x86 support (Debian: gcc-multilib, "
      "see scripts/setup.sh) or point VMM_GUEST_CC at one.")
  endif()

  execute_process(
    COMMAND ${VMM_GUEST_CC} ${VMM_GUEST_COMMON_FLAGS} ${dir}/hosted.c
            -o ${dir}/hosted
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR
      "Guest programs: '${VMM_GUEST_CC} -m32' cannot build a hosted 32-bit "
      "Linux program (needed for the native reference outputs):\n${out}\n"
      "Install the 32-bit C library (Debian: gcc-multilib, see "
      "scripts/setup.sh).")
  endif()
  set(VMM_GUEST_TOOLCHAIN_OK TRUE CACHE INTERNAL "gcc -m32 works")
endfunction()

# How 32-bit Linux programs (the native references) run on this host, in the
# cache as VMM_I386_EXEC:
#   cpu        directly: the host kernel runs i386 programs (IA-32 emulation);
#   qemu-user  the kernel cannot (built without IA32_EMULATION, or booted
#              with ia32_emulation=0), so they run under qemu-i386 (Debian
#              qemu-user), VMM_I386_RUNNER, an oracle we did not write either;
#   none       neither: the tests that need a native reference are skipped.
# Tests about the real CPU itself (diff.native) need "cpu".
function(_vmm_check_i386_exec)
  if(DEFINED CACHE{VMM_I386_EXEC})
    return()
  endif()
  set(dir ${CMAKE_BINARY_DIR}/CMakeFiles/vmm_guest_check)
  set(kind none)
  set(runner "")
  execute_process(COMMAND ${dir}/hosted RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 AND out STREQUAL "ok\n")
    set(kind cpu)
  else()
    find_program(VMM_QEMU_I386 NAMES qemu-i386 qemu-i386-static)
    if(VMM_QEMU_I386)
      execute_process(COMMAND ${VMM_QEMU_I386} ${dir}/hosted RESULT_VARIABLE rc
                      OUTPUT_VARIABLE out ERROR_VARIABLE err)
      if(rc EQUAL 0 AND out STREQUAL "ok\n")
        set(kind qemu-user)
        set(runner ${VMM_QEMU_I386})
      endif()
    endif()
  endif()
  if(kind STREQUAL "cpu")
    message(STATUS "32-bit programs: run directly by the host CPU")
  elseif(kind STREQUAL "qemu-user")
    message(STATUS "32-bit programs: the host kernel cannot run them; "
                   "native references run under ${runner}; diff.native is skipped")
  else()
    message(WARNING "32-bit programs: the host kernel cannot run them and "
                    "qemu-i386 (Debian: qemu-user) is missing; the tests that "
                    "compare with a native reference are skipped")
  endif()
  set(VMM_I386_EXEC ${kind} CACHE INTERNAL "how 32-bit programs run: cpu, qemu-user or none")
  set(VMM_I386_RUNNER "${runner}" CACHE INTERNAL "the program that runs 32-bit programs, if not the CPU")
endfunction()
_vmm_guest_check_toolchain()
_vmm_check_i386_exec()

function(vmm_add_guest target)
  cmake_parse_arguments(PARSE_ARGV 1 G "FPU" "OUTPUT" "SOURCES;DEFINES")
  list(TRANSFORM G_DEFINES PREPEND -D)
  set(cflags ${VMM_GUEST_CFLAGS})
  if(G_FPU)
    # Still no SSE: -march=i686 has none, and -m32 computes on the x87.
    list(REMOVE_ITEM cflags -mgeneral-regs-only)
    list(APPEND cflags -DGUEST_FPU)
  endif()
  add_custom_command(
    OUTPUT ${G_OUTPUT}
    COMMAND ${VMM_GUEST_CC} ${cflags} ${G_DEFINES} ${VMM_GUEST_LDFLAGS}
            ${VMM_GUEST_RUNTIME} ${G_SOURCES} -o ${G_OUTPUT}
    DEPENDS ${VMM_GUEST_RUNTIME_DEPS} ${G_SOURCES}
    COMMENT "Building guest ${G_OUTPUT}"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${G_OUTPUT})
endfunction()

function(vmm_add_guest_native target)
  cmake_parse_arguments(PARSE_ARGV 1 G "" "OUTPUT" "SOURCES;DEFINES")
  list(TRANSFORM G_DEFINES PREPEND -D)
  add_custom_command(
    OUTPUT ${G_OUTPUT}
    COMMAND ${VMM_GUEST_CC} ${VMM_GUEST_COMMON_FLAGS} -DGUEST_NATIVE ${G_DEFINES}
            -I${VMM_GUEST_LIB_DIR} ${VMM_GUEST_LIB_DIR}/native_main.c ${G_SOURCES}
            -o ${G_OUTPUT}
    DEPENDS ${VMM_GUEST_LIB_DIR}/native_main.c ${VMM_GUEST_LIB_DIR}/io.h ${G_SOURCES}
    COMMENT "Building native reference ${G_OUTPUT}"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${G_OUTPUT})
endfunction()
