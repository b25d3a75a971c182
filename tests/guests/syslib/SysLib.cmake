# SysLib.cmake - builds multiboot guests on the system library in this
# directory (ring-0 kernel helpers: GDT/TSS/IDT, exception frames, PIC, PIT,
# paging, ring 3; see sys.h).  Include it after GuestBuild.cmake:
#
#   include(${CMAKE_SOURCE_DIR}/tests/guests/GuestBuild.cmake)
#   include(${CMAKE_SOURCE_DIR}/tests/guests/syslib/SysLib.cmake)
#   vmm_add_sys_guest(<target> OUTPUT <file.elf> SOURCES <src>...
#                     [DEFINES <d>...] [FPU])
#
# The guest is linked from the guest runtime (tests/guests/lib), the system
# library and SOURCES, with VMM_GUEST_CFLAGS plus -I<syslib>.  FPU drops
# -mgeneral-regs-only, for guests that use the x87/SSE registers from C.
include_guard(DIRECTORY)

set(VMM_SYSLIB_DIR ${CMAKE_CURRENT_LIST_DIR})
set(VMM_SYSLIB_SOURCES
    ${VMM_SYSLIB_DIR}/isr.S
    ${VMM_SYSLIB_DIR}/sys.c
    ${VMM_SYSLIB_DIR}/hw.c
    ${VMM_SYSLIB_DIR}/paging.c)
set(VMM_SYSLIB_DEPS ${VMM_SYSLIB_SOURCES} ${VMM_SYSLIB_DIR}/sys.h)

function(vmm_add_sys_guest target)
  cmake_parse_arguments(PARSE_ARGV 1 G "FPU" "OUTPUT" "SOURCES;DEFINES")
  list(TRANSFORM G_DEFINES PREPEND -D)
  set(cflags ${VMM_GUEST_CFLAGS})
  if(G_FPU)
    list(REMOVE_ITEM cflags -mgeneral-regs-only)
  endif()
  add_custom_command(
    OUTPUT ${G_OUTPUT}
    COMMAND ${VMM_GUEST_CC} ${cflags} -I${VMM_SYSLIB_DIR} ${G_DEFINES}
            ${VMM_GUEST_LDFLAGS} ${VMM_GUEST_RUNTIME} ${VMM_SYSLIB_SOURCES}
            ${G_SOURCES} -o ${G_OUTPUT}
    DEPENDS ${VMM_GUEST_RUNTIME_DEPS} ${VMM_SYSLIB_DEPS} ${G_SOURCES}
    COMMENT "Building system guest ${G_OUTPUT}"
    COMMAND_EXPAND_LISTS
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${G_OUTPUT})
endfunction()
