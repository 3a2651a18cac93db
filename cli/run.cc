// `tern run --config tern.toml`: the Kafka daemon, not written yet (issue #4).
// Tested by nothing yet.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"

namespace tern::cli {

int RunCommand(std::span<const std::string>) {
  std::fputs("tern run: not implemented yet: see issue #4\n", stderr);
  return kExitUsage;
}

}  // namespace tern::cli
