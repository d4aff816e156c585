# Writes OUTPUT from TEMPLATE with API_BROKER_VERSION and API_BROKER_GIT_REVISION: the short
# commit of SOURCE_DIR's checkout, or "unknown" when SOURCE_DIR is not the top of a git
# checkout (a tarball, even one unpacked inside another repository). Run at every build
# (cmake -P) so the revision stays current; configure_file rewrites OUTPUT only when it changes,
# so an unchanged revision recompiles nothing.
#   cmake -DSOURCE_DIR=... -DVERSION=... -DTEMPLATE=... -DOUTPUT=... -P git_revision.cmake
set(API_BROKER_VERSION "${VERSION}")
set(API_BROKER_GIT_REVISION "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse --show-toplevel --short HEAD
    OUTPUT_VARIABLE lines RESULT_VARIABLE failed ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT failed)
    string(REPLACE "\n" ";" lines "${lines}")
    list(GET lines 0 top)
    list(GET lines 1 revision)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" source)
    if(top STREQUAL source)
      set(API_BROKER_GIT_REVISION "${revision}")
    endif()
  endif()
endif()
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
