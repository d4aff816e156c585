#pragma once
// The dashboard's static files (src/service/dashboard/), compiled into the binary by
// dashboard/embed.cmake: the service serves them itself, with no file to install and nothing
// fetched from elsewhere.

#include <span>
#include <string_view>

namespace api_broker::service {

struct DashboardAsset {
  std::string_view path;          // "/index.html", "/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;  // quoted, from the file's SHA-256
};

// Every file, in a fixed order.
std::span<const DashboardAsset> dashboard_assets();

}  // namespace api_broker::service
