#include "secrets.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "api_broker/broker/destination.hpp"

namespace api_broker::broker {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};

Result<std::string> read_secret_file(const std::string& path, std::string_view header) {
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    return fail(Errc::invalid_input,
                fmt::format("header {}: cannot read secret file {}: {}", header, path,
                            std::generic_category().message(errno)));
  }
  std::string content(secret_file_bytes_max + 1, '\0');
  const std::size_t got = std::fread(content.data(), 1, content.size(), file.get());
  if (std::ferror(file.get()) != 0) {
    return fail(Errc::invalid_input,
                fmt::format("header {}: cannot read secret file {}", header, path));
  }
  if (got > secret_file_bytes_max) {
    return fail(Errc::invalid_input,
                fmt::format("header {}: secret file {} is larger than {} bytes", header, path,
                            secret_file_bytes_max));
  }
  content.resize(got);
  // Files written by editors and `echo` end with a newline that is not part of the secret.
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  return content;
}

Result<std::string> resolve(const events::HeaderField& header) {
  const std::string_view value = header.value;
  if (!is_secret_reference(value)) return header.value;
  std::string secret;
  std::string where;
  if (value.rfind("env:", 0) == 0) {
    const std::string name(value.substr(4));
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the processor never writes its environment
    const char* found = std::getenv(name.c_str());
    if (found == nullptr) {
      return fail(Errc::invalid_input,
                  fmt::format("header {}: environment variable {} is not set", header.name, name));
    }
    secret = found;
    where = "environment variable " + name;
  } else {
    const std::string path(value.substr(5));
    auto read = read_secret_file(path, header.name);
    if (!read) return fail(std::move(read).error());
    secret = std::move(*read);
    where = "secret file " + path;
  }
  if (secret.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return fail(Errc::invalid_input,
                fmt::format("header {}: the value of {} has a CR, LF or NUL", header.name, where));
  }
  return secret;
}

}  // namespace

Result<std::vector<http::Header>> resolve_headers(std::span<const events::HeaderField> headers) {
  std::vector<http::Header> resolved;
  resolved.reserve(headers.size());
  for (const events::HeaderField& header : headers) {
    auto value = resolve(header);
    if (!value) return fail(std::move(value).error());
    resolved.emplace_back(header.name, std::move(*value));
  }
  return resolved;
}

}  // namespace api_broker::broker
