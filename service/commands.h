// The subcommands of the churnwatch binary. Each returns the process exit code:
// 0 success, 1 runtime failure, 2 bad usage or configuration.
#pragma once

#include <string>
#include <vector>

#include "config.h"

namespace churnwatch {

int serve_command(const Config& config);    // serve_command.cpp
int rebuild_command(const Config& config);  // rebuild_command.cpp
int report_command(const Config& config);   // report_command.cpp
int alerts_command(const Config& config);   // alerts_command.cpp
int config_command(const std::vector<std::string>& args);  // config_command.cpp
int send_test_command(const Config& config);   // send_test_command.cpp
int quarantine_command(const Config& config);  // quarantine_command.cpp

}  // namespace churnwatch
