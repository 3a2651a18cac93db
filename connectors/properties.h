// Properties: librdkafka client settings as ordered key/value pairs.
// Tested through tests/unit/connectors/producer_test.cc (bad property cases).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tern::connectors {

// Client properties in librdkafka's names ("linger.ms", "fetch.wait.max.ms"),
// applied in order, so a later pair overrides an earlier one.
using Properties = std::vector<std::pair<std::string, std::string>>;

}  // namespace tern::connectors
