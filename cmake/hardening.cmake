# VD_HARDENING: the hardening a Debian build gets from dpkg-buildflags, for
# a plain CMake build whose caller set none.  Each flag is added only when
# the caller's flags (CFLAGS/LDFLAGS, CMAKE_C_FLAGS[_<CONFIG>],
# CMAKE_EXE_LINKER_FLAGS) do not already choose it, and _FORTIFY_SOURCE only
# when the compiler does not predefine it (some toolchains predefine
# _FORTIFY_SOURCE=3; defining it again is a redefinition warning, an error
# under VD_WERROR).
include(CheckCSourceCompiles)

string(TOUPPER "${CMAKE_BUILD_TYPE}" _vd_bt)
set(_vd_cflags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_vd_bt}}")
set(_vd_ldflags "${CMAKE_EXE_LINKER_FLAGS} ${CMAKE_EXE_LINKER_FLAGS_${_vd_bt}}")

if(NOT _vd_cflags MATCHES "-f(no-)?stack-protector")
	add_compile_options(-fstack-protector-strong)
endif()
if(NOT _vd_cflags MATCHES "_FORTIFY_SOURCE")
	set(CMAKE_REQUIRED_FLAGS "${_vd_cflags} -O2")
	set(CMAKE_REQUIRED_QUIET ON)
	check_c_source_compiles("
#include <stdio.h>
#ifdef _FORTIFY_SOURCE
#error predefined
#endif
int main(void) { return 0; }" VD_FORTIFY_NOT_PREDEFINED)
	unset(CMAKE_REQUIRED_FLAGS)
	unset(CMAKE_REQUIRED_QUIET)
	if(VD_FORTIFY_NOT_PREDEFINED)
		add_compile_definitions(_FORTIFY_SOURCE=2)
	endif()
endif()
if(NOT _vd_ldflags MATCHES "-z,?relro")
	add_link_options(LINKER:-z,relro)
endif()
if(NOT _vd_ldflags MATCHES "-z,?now")
	add_link_options(LINKER:-z,now)
endif()
unset(_vd_bt)
unset(_vd_cflags)
unset(_vd_ldflags)
