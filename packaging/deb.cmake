# The Debian package api-broker (cpack -G DEB in the build directory): the program, its man
# page and bash completion, the systemd unit and /etc/api-broker/api-broker.toml (a conffile),
# installed under /usr. Its dependencies are the shared libraries the program links, found by
# dpkg-shlibdeps. The libraries and headers (component "development") stay out of it: they
# come with `cmake --install`.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME api-broker)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "api-broker maintainers <api-broker@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "reliable calls to unreliable HTTP APIs, every step recorded as an event")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "An application records a request event; the processor calls the API under a retry policy "
  "and records every attempt, answer, failure and timeout, then one outcome. Event stores: "
  "SQLite, PostgreSQL, MongoDB. Runs as the systemd service api-broker.service.")
# The install runs with CMAKE_INSTALL_PREFIX=/usr and DESTDIR set to cpack's staging directory,
# so that packaging/system-files.cmake puts the configuration in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL program)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Without the debugging information of a RelWithDebInfo build: a tenth of the size.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/debian/conffiles ${CMAKE_CURRENT_SOURCE_DIR}/debian/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/debian/prerm ${CMAKE_CURRENT_SOURCE_DIR}/debian/postrm)
include(CPack)
