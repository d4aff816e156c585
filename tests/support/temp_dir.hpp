#pragma once
// A fresh directory under $TMPDIR, removed with everything in it when the object dies
// (unless keep() was called, to look at it after a failure).

#include <string>

namespace api_broker::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace api_broker::testing
