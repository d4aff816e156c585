// The dashboard's files are compiled in, each with its content type and ETag.

#include "dashboard_assets.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace api_broker::service::test {
namespace {

const DashboardAsset* find(std::string_view path) {
  for (const auto& asset : dashboard_assets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

TEST(DashboardAssets, PageScriptAndStyleAreCompiledIn) {
  const auto* page = find("/index.html");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(page->body.starts_with("<!doctype html>"));
  ASSERT_NE(find("/app.js"), nullptr);
  EXPECT_EQ(find("/app.js")->content_type, "text/javascript; charset=utf-8");
  ASSERT_NE(find("/style.css"), nullptr);
  EXPECT_EQ(find("/style.css")->content_type, "text/css; charset=utf-8");
}

TEST(DashboardAssets, NothingIsFetchedFromElsewhere) {
  // The only absolute URL is SVG's namespace name, which is never fetched.
  for (const auto& asset : dashboard_assets()) {
    std::string body(asset.body);
    for (auto at = body.find("http://www.w3.org/2000/svg"); at != std::string::npos;
         at = body.find("http://www.w3.org/2000/svg")) {
      body.erase(at, 4);
    }
    EXPECT_EQ(body.find("http://"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("https://"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("//cdn"), std::string::npos) << asset.path;
  }
}

TEST(DashboardAssets, EveryFileHasItsOwnQuotedEtag) {
  std::set<std::string_view> etags;
  for (const auto& asset : dashboard_assets()) {
    EXPECT_TRUE(asset.etag.starts_with('"') && asset.etag.ends_with('"')) << asset.etag;
    EXPECT_TRUE(etags.insert(asset.etag).second) << asset.path;
  }
}

}  // namespace
}  // namespace api_broker::service::test
