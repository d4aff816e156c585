#pragma once
// The SQLite store's file before SQLite opens it: what it must be (a file, a SQLite database
// or nothing yet), created with the owner's permissions only. Internal to the backend.

#include <string>
#include <string_view>

#include "api_broker/result.hpp"
#include "api_broker/store/sqlite_store.hpp"

namespace api_broker::store {

// Errc::corrupt: `path` is not an api-broker store (`why`), and was left as it is.
Error not_a_store(const std::string& path, std::string_view why);

// Checks that options.path can be opened as a store: an existing file must be a SQLite
// database (a reader also refuses an empty one); a writer creates a missing one (mode 0600),
// a reader refuses it. Errc::invalid_input for a directory, Errc::unavailable for a file that
// cannot be read (or written, by a writer).
Result<void> check_or_create_file(const SqliteOptions& options);

// A URI that opens `path` as immutable (a read-only filesystem, where no -shm can be made).
std::string immutable_uri(const std::string& path);

}  // namespace api_broker::store
