# guest.cmake - ebb-guest, the freestanding x86-64 test guest (vmm/guest/).
#
# include()d from the top-level CMakeLists.txt.  The guest is compiled by
# invoking the C compiler directly from custom commands, not as a normal
# target, so that none of the project's flags (-fsanitize with
# EBB_SANITIZE=ON, _GNU_SOURCE, hosted libc, PIE) reach a kernel.  Ring-0
# objects are named *.ring0.o and ring-3 ones (user/) *.ring3.o: guest.ld
# places them in supervisor and user pages by that name.
#
# Output: ${CMAKE_BINARY_DIR}/ebb-guest, built by target `guest` (in ALL).

if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  message(STATUS "ebb-guest: not built (the host compiler must target x86-64)")
  return()
endif()

set(EBB_GUEST_DIR ${CMAKE_CURRENT_LIST_DIR})
set(EBB_GUEST_OBJ ${CMAKE_BINARY_DIR}/ebb-guest.dir)
set(EBB_GUEST ${CMAKE_BINARY_DIR}/ebb-guest)

set(EBB_GUEST_CFLAGS
  -std=c11 -O2 -ffreestanding -fno-pic -fno-pie -mcmodel=small
  # A kernel: no red zone (interrupts nest on ring 0's stack), no SSE/x87
  # (nobody saves those registers), no stack protector or unwind tables
  # (no runtime to back them), no CET notes.
  -mno-red-zone -mgeneral-regs-only -fno-stack-protector
  -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none
  -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow
  -Wcast-qual -Wsign-compare -Wpointer-arith
  "-DEBB_VERSION=\"${PROJECT_VERSION}\"")
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  # Or GCC turns memset()'s own loop into a call to memset().
  list(APPEND EBB_GUEST_CFLAGS -fno-tree-loop-distribute-patterns)
endif()

set(EBB_GUEST_LDFLAGS -nostdlib -static
  -Wl,-T,${EBB_GUEST_DIR}/guest.ld -Wl,-z,max-page-size=0x1000
  -Wl,--build-id=none)
# One RWX segment is deliberate (guest.ld); binutils >= 2.39 would warn.
include(CheckLinkerFlag)
check_linker_flag(C "-Wl,--no-warn-rwx-segments" EBB_GUEST_LD_NO_RWX_WARN)
if(EBB_GUEST_LD_NO_RWX_WARN)
  list(APPEND EBB_GUEST_LDFLAGS -Wl,--no-warn-rwx-segments)
endif()

file(GLOB EBB_GUEST_RING0_SRC CONFIGURE_DEPENDS
  ${EBB_GUEST_DIR}/*.c ${EBB_GUEST_DIR}/*.S)
file(GLOB EBB_GUEST_RING3_SRC CONFIGURE_DEPENDS ${EBB_GUEST_DIR}/user/*.c)
file(MAKE_DIRECTORY ${EBB_GUEST_OBJ})

set(EBB_GUEST_OBJS)
foreach(ring ring0 ring3)
  string(TOUPPER ${ring} RING)
  foreach(src ${EBB_GUEST_${RING}_SRC})
    get_filename_component(name ${src} NAME)
    set(obj ${EBB_GUEST_OBJ}/${name}.${ring}.o)
    add_custom_command(OUTPUT ${obj}
      COMMAND ${CMAKE_C_COMPILER} ${EBB_GUEST_CFLAGS} -MD -MF ${obj}.d
              -c ${src} -o ${obj}
      DEPENDS ${src} ${EBB_GUEST_DIR}/guest.cmake
      DEPFILE ${obj}.d
      COMMENT "Building guest object ${name}.${ring}.o"
      VERBATIM)
    list(APPEND EBB_GUEST_OBJS ${obj})
  endforeach()
endforeach()

add_custom_command(OUTPUT ${EBB_GUEST}
  COMMAND ${CMAKE_C_COMPILER} ${EBB_GUEST_LDFLAGS} -o ${EBB_GUEST}
          ${EBB_GUEST_OBJS}
  DEPENDS ${EBB_GUEST_OBJS} ${EBB_GUEST_DIR}/guest.ld
  COMMENT "Linking ebb-guest"
  VERBATIM)
# The target is not called ebb-guest: a target named like its output file
# is a cycle for make and a duplicate rule for ninja.
add_custom_target(guest ALL DEPENDS ${EBB_GUEST})

install(FILES ${EBB_GUEST} DESTINATION share/ebb)
