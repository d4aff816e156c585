# Run by `cmake --install` (and cpack): installs the systemd unit, naming the installed binary
# and configuration file, and the configuration under etc/ (/etc for the prefix /usr), unless a
# configuration is already there: an install never overwrites what an administrator edited.
# In: API_BROKER_SOURCE_DIR, API_BROKER_STAGING_DIR (a build directory), API_BROKER_BINDIR,
# API_BROKER_SYSTEMD_UNIT_DIR, and the install's CMAKE_INSTALL_PREFIX (file(INSTALL) adds DESTDIR).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(API_BROKER_BINARY "${CMAKE_INSTALL_PREFIX}/${API_BROKER_BINDIR}/api-broker")
set(API_BROKER_CONFIG_FILE "${etc}/api-broker/api-broker.toml")

# Staged per destination: cpack and an install into a prefix may run at once (the tests do).
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(staged "${API_BROKER_STAGING_DIR}/system-files/${destination}")
configure_file("${API_BROKER_SOURCE_DIR}/api-broker.service.in" "${staged}/api-broker.service"
               @ONLY)
file(INSTALL "${staged}/api-broker.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/${API_BROKER_SYSTEMD_UNIT_DIR}")

if(EXISTS "$ENV{DESTDIR}${API_BROKER_CONFIG_FILE}")
  message(STATUS "Kept: $ENV{DESTDIR}${API_BROKER_CONFIG_FILE} (already there)")
else()
  file(INSTALL "${API_BROKER_SOURCE_DIR}/api-broker.toml" DESTINATION "${etc}/api-broker"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
