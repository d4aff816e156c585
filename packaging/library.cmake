# The C++ libraries for other projects: find_package(api_broker) gives the api_broker::
# targets (the same names as the build's ALIASes), with the headers of include/. The libraries
# are static, so the package also exports what they link privately (api_broker::http_internal,
# api_broker::brittle_api_text) and its config finds their dependencies (find_dependency).
include(CMakePackageConfigHelpers)

set(api_broker_libraries
  base events core store store_sqlite store_postgresql store_mongodb store_open http
  http_internal brittle_api brittle_api_text broker processor view service)
list(TRANSFORM api_broker_libraries PREPEND api_broker_ OUTPUT_VARIABLE api_broker_targets)
foreach(name IN LISTS api_broker_libraries)
  set_target_properties(api_broker_${name} PROPERTIES EXPORT_NAME ${name})
endforeach()

set(api_broker_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/api_broker)
install(TARGETS ${api_broker_targets} EXPORT api_broker_targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/api_broker
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)
install(EXPORT api_broker_targets NAMESPACE api_broker:: FILE api_broker-targets.cmake
        DESTINATION ${api_broker_cmake_dir} COMPONENT development)

configure_package_config_file(api_broker-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/api_broker-config.cmake INSTALL_DESTINATION ${api_broker_cmake_dir})
# 0.x: a minor version may change the interface.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/api_broker-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/api_broker-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/api_broker-config-version.cmake
        DESTINATION ${api_broker_cmake_dir} COMPONENT development)
