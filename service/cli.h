// The commands of the churnwatch binary as its help describes them: `churnwatch help` lists
// every command and every option; `churnwatch help COMMAND` (the same as
// `churnwatch COMMAND --help`) gives one command's usage lines, what it does and the options
// it reads.
#pragma once

#include <string>
#include <vector>

namespace churnwatch {

struct CommandSpec {
    const char* name;     // as typed: "serve", "config", "send-test"
    const char* label;    // in the command list: "config check", "help [COMMAND]"
    const char* summary;  // one line for the command list
    const char* usage;    // usage lines, '\n'-separated, each starting "churnwatch "
    const char* details;  // what it does, for its own help
    // The options it reads, in the order option_specs() lists them; every_option: all.
    std::vector<const char*> options;
    bool every_option = false;
    // Its first positional argument, when it takes any ("check" for config; "list",
    // "retry" for alerts). Commands without actions take no positional arguments, except
    // help (a command name).
    std::vector<const char*> actions;
};

const std::vector<CommandSpec>& command_specs();
const CommandSpec* find_command(const std::string& name);

std::string general_help();                         // `churnwatch help`
std::string command_help(const CommandSpec& spec);  // `churnwatch help COMMAND`
// The first usage line, e.g. "churnwatch serve [OPTIONS]", for error messages.
std::string first_usage(const CommandSpec& spec);

}  // namespace churnwatch
