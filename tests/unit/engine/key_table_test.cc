// KeyTable against std::unordered_map under random inserts and erases.
#include "engine/key_table.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace tern::engine {
namespace {

TEST_CASE("KeyTable agrees with unordered_map under churn") {
  KeyTable table;
  std::unordered_map<std::string, uint32_t> model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200000; ++step) {
    std::string key = "k" + std::to_string(rng() % 5000);
    uint64_t h = KeyTable::Hash(key);
    uint32_t found = table.Find(h, key);
    auto it = model.find(key);
    REQUIRE((found == KeyTable::kNone) == (it == model.end()));
    if (it == model.end()) {
      model[key] = table.Insert(h, key);
    } else {
      REQUIRE(found == it->second);
      CHECK(table.entry(found).key_bytes == key);
      if (rng() % 2 == 0) {
        table.Erase(found);
        model.erase(it);
      }
    }
    REQUIRE(table.size() == model.size());
  }
  for (auto& [key, index] : model) CHECK(table.Find(KeyTable::Hash(key), key) == index);
}

TEST_CASE("erased slots are reused") {
  KeyTable table;
  uint32_t a = table.Insert(KeyTable::Hash("a"), "a");
  table.Erase(a);
  uint32_t b = table.Insert(KeyTable::Hash("b"), "b");
  CHECK(a == b);
  CHECK(table.Find(KeyTable::Hash("a"), "a") == KeyTable::kNone);
  CHECK(table.entries().size() == 1);
}

}  // namespace
}  // namespace tern::engine
